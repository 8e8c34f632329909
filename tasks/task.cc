#include "tasks/task.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/search_space.h"
#include "core/status_macros.h"
#include "tasks/fmnist_data.h"
#include "tasks/lcbench_data.h"
#include "tasks/synthetic_tasks.h"

namespace hpo::tasks {

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
    {"ackley5", &MakeAckley5},
    {"branin", &MakeBranin},
    {"hartmann3", &MakeHartmann3},
    {"hartmann6", &MakeHartmann6},
    {"levy5", &MakeLevy5},
    {"michalewicz5", &MakeMichalewicz5},
    {"mixed", &MakeMixed},
    {"mixed2", &MakeMixed2},
    {"rosenbrock", &MakeRosenbrock},
    {"shekel4", &MakeShekel4},
    {"six_hump_camel", &MakeSixHumpCamel},
    {"styblinski_tang4", &MakeStyblinskiTang4},
};

// The registered families, by prefix.
struct Families {
  absl::Mutex mu;
  std::map<std::string, TaskFamily> by_prefix ABSL_GUARDED_BY(mu);
};

Families& GetFamilies() {
  static Families* families = new Families;
  return *families;
}

std::vector<TaskFamily> FamiliesSnapshot() {
  Families& families = GetFamilies();
  absl::MutexLock lock(&families.mu);
  std::vector<TaskFamily> out;
  for (const auto& [prefix, family] : families.by_prefix) out.push_back(family);
  return out;
}

}  // namespace

std::vector<std::string> TaskNames() {
  std::vector<std::string> names;
  for (const Entry& e : kTasks) names.emplace_back(e.name);
  return names;
}

std::vector<std::string> SuiteTaskNames() {
  return {"branin",           "hartmann3",    "hartmann6", "rosenbrock",     "levy5", "ackley5",
          "styblinski_tang4", "michalewicz5", "shekel4",   "six_hump_camel", "mixed", "mixed2"};
}

void RegisterTaskFamily(TaskFamily family) {
  Families& families = GetFamilies();
  absl::MutexLock lock(&families.mu);
  std::string prefix = family.prefix;
  families.by_prefix[prefix] = std::move(family);
}

std::vector<std::string> AllTaskNames() {
  std::vector<std::string> names = TaskNames();
  // Called outside the lock: a family's names() may read files.
  for (const TaskFamily& family : FamiliesSnapshot()) {
    if (!family.names) continue;
    for (std::string& name : family.names()) names.push_back(std::move(name));
  }
  return names;
}

absl::StatusOr<std::unique_ptr<Task>> MakeTask(absl::string_view name) {
  for (const Entry& e : kTasks) {
    if (name == e.name) return std::unique_ptr<Task>(e.make());
  }
  const std::vector<TaskFamily> families = FamiliesSnapshot();
  for (const TaskFamily& family : families) {
    if (absl::StartsWith(name, family.prefix)) return family.make(name);
  }
  std::string known = absl::StrJoin(TaskNames(), ", ");
  for (const TaskFamily& family : families) absl::StrAppend(&known, ", ", family.prefix, "*");
  return absl::NotFoundError(absl::StrCat("unknown task '", name, "'; known tasks: ", known));
}

absl::Status CheckBuiltinStudy(absl::string_view name, const hpo::v1::SearchSpace& space) {
  const std::string label = absl::StrCat("task '", name, "'");
  if (absl::StartsWith(name, kLcbenchPrefix)) {
    const absl::string_view id = name.substr(kLcbenchPrefix.size());
    HPO_RETURN_IF_ERROR(CheckLcbenchTaskIdFormat(id));
    if (absl::StatusOr<std::vector<std::string>> ids = LcbenchTaskIds(); ids.ok()) {
      if (std::find(ids->begin(), ids->end(), id) == ids->end()) {
        return absl::NotFoundError(absl::StrCat("'", name, "' is not one of the ", ids->size(),
                                                " LCBench tasks (hpo-task --list names them)"));
      }
    }
    return core::CheckSpaceWithin(space, LcbenchSpace(), label);
  }
  if (absl::StartsWith(name, kFmnistPrefix)) {
    HPO_ASSIGN_OR_RETURN(const hpo::v1::SearchSpace trainer, FmnistSpace(name));
    return core::CheckSpaceWithin(space, trainer, label);
  }
  for (const Entry& e : kTasks) {
    if (name == e.name) return core::CheckSpaceWithin(space, e.make()->space(), label);
  }
  return absl::NotFoundError(absl::StrCat(
      "unknown task '", name, "'; known tasks: ", absl::StrJoin(TaskNames(), ", "), ", ",
      absl::StrJoin(FmnistTaskNames(), ", "), ", ", kLcbenchPrefix, "<OpenML task id>"));
}

}  // namespace hpo::tasks
