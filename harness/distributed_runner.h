// Runs each bench run as a study on a coordinator, so the cluster's workers evaluate it.
#ifndef HPO_HARNESS_DISTRIBUTED_RUNNER_H_
#define HPO_HARNESS_DISTRIBUTED_RUNNER_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "backend/backend.h"
#include "harness/runner.h"
#include "harness/task_source.h"

namespace hpo::harness {

// Uses only the abstract backend::Backend (the caller connects it, e.g. backend::ConnectGrpc), so
// this file and the harness stay free of gRPC. For each run: CreateStudy(BenchStudySpec with
// task {builtin: NAME}, max_parallel 1) named "<prefix>bench-OPT-TASK-sSEED-nTRIALS" (when that
// name is taken by a study that cannot serve, "-r1", "-r2", ... is added), polls GetStudy until
// the study is no longer RUNNING, then reads all trials and records the COMPLETED ones in
// trial-number order. A study with the same optimizer, options, seed, task and budget is joined
// when it is RUNNING, and reused when it is COMPLETED with every trial completed by the
// optimizer revision the coordinator runs now (Study.optimizer_revision against GetServerInfo),
// so a bench that was interrupted, or lost its results.sqlite, does not run it again.
//
// Thread-safe if the backend is (ConnectGrpc's and OpenLocal's are).
class DistributedRunner final : public Runner {
 public:
  struct Options {
    backend::Backend* backend = nullptr;              // not owned; must outlive the runner
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
  // Whether `existing`, a study with the name `spec` asked for, can serve as its run.
  bool CanServe(const hpo::v1::Study& existing, const hpo::v1::StudySpec& spec);
  // The coordinator's current revision of `optimizer` (GetServerInfo, asked once); 0 when unknown.
  int CurrentRevision(const std::string& optimizer);

  const Options options_;
  absl::Mutex mu_;
  std::optional<hpo::v1::ServerInfo> server_info_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hpo::harness

#endif  // HPO_HARNESS_DISTRIBUTED_RUNNER_H_
