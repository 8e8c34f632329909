// Runs each bench run as a study on a coordinator, so the cluster's workers evaluate it.
#ifndef HPO_HARNESS_DISTRIBUTED_RUNNER_H_
#define HPO_HARNESS_DISTRIBUTED_RUNNER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/backend.h"
#include "harness/runner.h"
#include "harness/task_source.h"

namespace hpo::harness {

// Uses only the abstract client::Backend (the caller connects it, e.g. client::ConnectGrpc), so
// this file and the harness stay free of gRPC. For each run: CreateStudy(BenchStudySpec with
// task {builtin: NAME}, max_parallel 1) named "<prefix>bench-OPT-TASK-sSEED-nTRIALS" (when that
// name is taken by a study that has ended, "-r1", "-r2", ... is added; a RUNNING one with the same
// optimizer, seed and budget is joined), polls GetStudy until the study is no longer RUNNING,
// then reads all trials and records the COMPLETED ones in trial-number order.
//
// Thread-safe if the backend is (client backends are).
class DistributedRunner final : public Runner {
 public:
  struct Options {
    client::Backend* backend = nullptr;               // not owned; must outlive the runner
    TaskFactory task_factory = BuiltinTaskFactory();  // for the space and the optimum
    std::string study_prefix;
    absl::Duration poll_interval = absl::Milliseconds(500);
    absl::Duration timeout = absl::Hours(24);  // per run
  };
  static absl::StatusOr<std::unique_ptr<DistributedRunner>> Create(Options options);

  // Errors: the backend's; DEADLINE_EXCEEDED after `timeout`; ABORTED when the study ended
  // (stopped, or trials failed) with fewer than spec.trials completed trials, saying how many.
  using Runner::Run;
  absl::StatusOr<RunRecord> Run(const RunSpec& spec, RunRecord* partial) override;

 private:
  explicit DistributedRunner(Options options) : options_(std::move(options)) {}
  absl::StatusOr<hpo::v1::Study> CreateOrJoin(const hpo::v1::StudySpec& spec);
  const Options options_;
};

}  // namespace hpo::harness

#endif  // HPO_HARNESS_DISTRIBUTED_RUNNER_H_
