// `hpo run FILE`: an embedded coordinator plus local workers, run to the study's budget.
#ifndef HPO_CLIENT_RUN_COMMAND_H_
#define HPO_CLIENT_RUN_COMMAND_H_

#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "hpo/v1/hpo.pb.h"

namespace hpo::client {

struct RunOptions {
  std::string study_file;
  int workers = 4;
  std::string db_path = "hpo.db";
  double lease_timeout_s = 30;
  // hpo-task for builtin tasks; empty = next to this executable, else on PATH.
  std::string hpo_task_path;
};

// core::LoadStudyFile, then, for a builtin task, tasks::CheckBuiltinStudy: a study that
// names an unknown task, or whose space the task does not take, is refused before it exists.
// What `hpo study create` and `hpo run` read a study file with.
absl::StatusOr<hpo::v1::StudySpec> LoadCheckedStudyFile(const std::string& path);

// Starts a coordinator on a free loopback port over `db_path`, creates the study (or resumes it
// when the db holds it unfinished), runs `workers` local workers until the study ends while
// printing progress, then prints the best trial. Returns the exit code.
int RunStudy(const RunOptions& options, std::ostream& out, std::ostream& err);

}  // namespace hpo::client

#endif  // HPO_CLIENT_RUN_COMMAND_H_
