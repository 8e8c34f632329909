// Tasks: functions to optimize, each with its natural search space and a known
// optimum. The same code runs in-process (hpo bench) and as the `hpo-task`
// executable under a worker.
#ifndef HPO_TASKS_TASK_H_
#define HPO_TASKS_TASK_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/metric_line.h"
#include "hpo/v1/hpo.pb.h"

namespace hpo::tasks {

// Receives a task's intermediate results. Implementations state their own
// thread-safety; a task calls Report from the thread that runs Evaluate.
class Reporter {
 public:
  virtual ~Reporter() = default;
  // Returns false when the caller wants the task to stop now.
  virtual bool Report(const core::MetricLine& line) = 0;
};

// A Reporter that forwards to a function. Thread-safe if the function is.
class CallbackReporter final : public Reporter {
 public:
  explicit CallbackReporter(std::function<bool(const core::MetricLine&)> fn) : fn_(std::move(fn)) {}
  bool Report(const core::MetricLine& line) override { return fn_(line); }

 private:
  std::function<bool(const core::MetricLine&)> fn_;
};

struct TaskOptions {
  int steps = 1;    // length of the learning curve (fidelity), >= 1; a trainer's epochs
  int step_ms = 0;  // sleep between steps, to imitate training time
  // For the trainers (fmnist_task.h); other tasks ignore them.
  int64_t seed = 0;           // weights, dropout and batch order
  int max_train_samples = 0;  // > 0: train on the first N training images only (short CPU runs)
  bool bf16 = false;          // bf16 autocast on a GPU (ignored on the CPU)
  bool cuda_graph = true;     // replay each training step as a captured CUDA graph on a GPU
};

// A function to minimize. Implementations are immutable after construction:
// thread-safe.
class Task {
 public:
  virtual ~Task() = default;

  virtual std::string name() const = 0;
  // The task's natural search space.
  virtual hpo::v1::SearchSpace space() const = 0;
  // The known optimal (minimal) value, and one assignment that reaches it.
  // Tasks whose optimum is not known (e.g. surrogates) return NaN and an empty
  // ParamMap.
  virtual double optimum() const = 0;
  virtual hpo::v1::ParamMap optimum_params() const = 0;
  // The number of parameters in space(), conditional ones included.
  virtual int dimension() const { return space().params_size(); }

  // Evaluates `params` (checked against space(): INVALID_ARGUMENT from
  // core::ValidateParams), reporting a learning curve of `steps` metric lines
  // to `reporter`, each with the metric "value"; the last step is marked final
  // and its value is f(x), which is returned. Sleeps options.step_ms between
  // steps. CANCELLED when the reporter asks to stop; INVALID_ARGUMENT for
  // steps < 1 or step_ms < 0. SyntheticTask draws the curve
  //   f(x) + (|f(x)| + 1) * (steps - t) / (steps * t),  t = 1..steps;
  // surrogate tasks (lcbench_task.h) report their predicted curve.
  virtual absl::StatusOr<double> Evaluate(const hpo::v1::ParamMap& params,
                                          const TaskOptions& options, Reporter& reporter) const = 0;

  // The objective at the given epochs of the task's own full-length curve (each in [1, N] for a
  // task of N epochs), without reporting: what a benchmark that simulates training reads, a few
  // epochs at a time. Several configurations at once, in order: LCBench answers them with one
  // surrogate call (a call has a fixed cost that one or two rows do not amortize).
  // UNIMPLEMENTED for tasks without a fixed-length curve (SyntheticTask's curve depends on how
  // many steps are asked for); LCBench implements it (N = 52).
  struct EpochQuery {
    hpo::v1::ParamMap params;
    std::vector<int> epochs;
  };
  virtual absl::StatusOr<std::vector<std::vector<double>>> ValuesAtMany(
      const std::vector<EpochQuery>& queries) const {
    (void)queries;
    return absl::UnimplementedError(name() + ": no fixed-length learning curve");
  }
  // ValuesAtMany of one configuration.
  absl::StatusOr<std::vector<double>> ValuesAt(const hpo::v1::ParamMap& params,
                                               const std::vector<int>& epochs) const {
    absl::StatusOr<std::vector<std::vector<double>>> values = ValuesAtMany({{params, epochs}});
    if (!values.ok()) return values.status();
    return std::move((*values)[0]);
  }
};

// A task defined by a closed-form function; Evaluate draws the synthetic
// learning curve. Thread-safe.
class SyntheticTask : public Task {
 public:
  absl::StatusOr<double> Evaluate(const hpo::v1::ParamMap& params, const TaskOptions& options,
                                  Reporter& reporter) const final;

  // f(x) for params that passed core::ValidateParams and core::NormalizeParams.
  virtual double Value(const hpo::v1::ParamMap& params) const = 0;
};

// The metric every built-in task reports.
inline constexpr absl::string_view kValueMetric = "value";

// Names of the built-in tasks (the closed-form functions of synthetic_tasks.h),
// sorted. Registered families (below) are not included.
std::vector<std::string> TaskNames();

// The synthetic benchmark suite in its canonical order: branin, hartmann3,
// hartmann6, rosenbrock, levy5, ackley5, styblinski_tang4, michalewicz5,
// shekel4, six_hump_camel, mixed, mixed2. The same names as TaskNames().
std::vector<std::string> SuiteTaskNames();

// A family of tasks that lives in a library hpo_tasks cannot depend on (e.g.
// the LCBench surrogate in hpo_lcbench, which needs LibTorch): every name that
// starts with `prefix` is made by `make`.
struct TaskFamily {
  std::string prefix;  // e.g. "lcbench-"
  // Makes the task `name` (which starts with prefix); NOT_FOUND for an unknown
  // member, other codes when the family cannot load. Must be thread-safe.
  std::function<absl::StatusOr<std::unique_ptr<Task>>(absl::string_view name)> make;
  // The family's task names, for listings; may be empty when its data is absent.
  std::function<std::vector<std::string>()> names;
};

// Makes MakeTask find the family's tasks. A second registration with the same
// prefix replaces the first. Thread-safe.
void RegisterTaskFamily(TaskFamily family);

// TaskNames() followed by the names of each registered family (in prefix
// order). Thread-safe.
std::vector<std::string> AllTaskNames();

// A built-in task, or one of a registered family, by name; NOT_FOUND listing
// the known names otherwise. Thread-safe.
absl::StatusOr<std::unique_ptr<Task>> MakeTask(absl::string_view name);

// A study's `task: {builtin: name}` with its `space`, checked without running anything (the `hpo`
// CLI has no LibTorch): NOT_FOUND for an unknown name, listing the known ones; an lcbench-<id>
// needs a numeric id, and one the surrogate serves where its files are here to say so;
// INVALID_ARGUMENT (core::CheckSpaceWithin) when the space can propose an assignment the task
// would refuse, so that the mistake is reported once, not by every trial. Thread-safe.
absl::Status CheckBuiltinStudy(absl::string_view name, const hpo::v1::SearchSpace& space);

}  // namespace hpo::tasks

#endif  // HPO_TASKS_TASK_H_
