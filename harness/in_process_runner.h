// Runs one of our optimizers against a task in this process, trial after trial.
#ifndef HPO_HARNESS_IN_PROCESS_RUNNER_H_
#define HPO_HARNESS_IN_PROCESS_RUNNER_H_

#include <memory>

#include "absl/status/statusor.h"
#include "harness/runner.h"
#include "harness/task_source.h"
#include "hpo/v1/hpo.pb.h"
#include "server/optimizers/optimizer.h"

namespace hpo::harness {

// The study a run stands for: space = task.space(), objective "value" minimized, optimizer
// {name, options, seed} from spec.optimizer read by ParseOptimizerVariant (a malformed one is
// kept whole as the name, so the optimizer factory rejects it), budget spec.trials trials one at a
// time, task builtin spec.task.
hpo::v1::StudySpec BenchStudySpec(const RunSpec& spec, const hpo::v1::SearchSpace& space);

// For each trial number 0..trials-1: Suggest(view of the history so far, {number}), evaluate
// the task (SyntheticTask::Value, else Evaluate with steps 1 and a reporter that ignores the
// curve), append the COMPLETED trial to the history. Deterministic for a spec whenever the
// optimizer is deterministic for its seed.
//
// Thread-safe: each Run builds its own task and optimizer (the factories must be thread-safe).
class InProcessRunner final : public Runner {
 public:
  struct Options {
    TaskFactory task_factory = BuiltinTaskFactory();
    server::OptimizerFactory optimizer_factory = &server::MakeOptimizer;
  };
  static absl::StatusOr<std::unique_ptr<InProcessRunner>> Create(Options options);

  // Errors: the task factory's (NOT_FOUND), the optimizer's (INVALID_ARGUMENT), a suggestion
  // that does not fit the space (INTERNAL naming the trial), an evaluation error; each prefixed
  // with spec.Label().
  using Runner::Run;
  absl::StatusOr<RunRecord> Run(const RunSpec& spec, RunRecord* partial) override;

 private:
  explicit InProcessRunner(Options options) : options_(std::move(options)) {}
  const Options options_;
};

}  // namespace hpo::harness

#endif  // HPO_HARNESS_IN_PROCESS_RUNNER_H_
