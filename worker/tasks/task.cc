#include "worker/tasks/task.h"

#include <cmath>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/search_space.h"
#include "core/status_macros.h"
#include "worker/tasks/synthetic_tasks.h"

namespace hpo::worker::tasks {

absl::StatusOr<double> SyntheticTask::Evaluate(const hpo::v1::ParamMap& params,
                                               const TaskOptions& options,
                                               Reporter& reporter) const {
  if (options.steps < 1) {
    return absl::InvalidArgumentError(absl::StrCat("steps must be >= 1, got ", options.steps));
  }
  if (options.step_ms < 0) {
    return absl::InvalidArgumentError(absl::StrCat("step_ms must be >= 0, got ", options.step_ms));
  }
  const hpo::v1::SearchSpace space = this->space();
  HPO_RETURN_IF_ERROR(core::ValidateParams(space, params));
  const double f = Value(core::NormalizeParams(space, params));

  const double steps = options.steps;
  for (int t = 1; t <= options.steps; ++t) {
    if (t > 1 && options.step_ms > 0) absl::SleepFor(absl::Milliseconds(options.step_ms));
    core::MetricLine line;
    line.step = t;
    line.final = (t == options.steps);
    line.metrics[std::string(kValueMetric)] =
        t == options.steps ? f : f + (std::fabs(f) + 1.0) * (steps - t) / (steps * t);
    if (!reporter.Report(line)) {
      return absl::CancelledError(absl::StrCat(name(), ": stopped at step ", t));
    }
  }
  return f;
}

namespace {

struct Entry {
  const char* name;
  std::unique_ptr<SyntheticTask> (*make)();
};

// Sorted by name.
constexpr Entry kTasks[] = {
    {"branin", &MakeBranin},
    {"hartmann6", &MakeHartmann6},
    {"mixed", &MakeMixed},
    {"rosenbrock", &MakeRosenbrock},
};

}  // namespace

std::vector<std::string> TaskNames() {
  std::vector<std::string> names;
  for (const Entry& e : kTasks) names.emplace_back(e.name);
  return names;
}

absl::StatusOr<std::unique_ptr<Task>> MakeTask(absl::string_view name) {
  for (const Entry& e : kTasks) {
    if (name == e.name) return std::unique_ptr<Task>(e.make());
  }
  return absl::NotFoundError(
      absl::StrCat("unknown task '", name, "'; known tasks: ", absl::StrJoin(TaskNames(), ", ")));
}

}  // namespace hpo::worker::tasks
