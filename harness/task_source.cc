#include "harness/task_source.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/status_macros.h"
#include "harness/served_task.h"
#include "tasks/lcbench_data.h"

namespace hpo::harness {

namespace {

constexpr absl::string_view kLcbenchSuite = "lcbench";

// The LCBench task names, or why they cannot be listed (FAILED_PRECONDITION naming the model
// file when it is absent, else the JSON file that is).
absl::StatusOr<std::vector<std::string>> LcbenchSuite() {
  HPO_RETURN_IF_ERROR(tasks::CheckLcbenchModel());
  HPO_ASSIGN_OR_RETURN(const std::vector<std::string> ids, tasks::LcbenchTaskIds());
  std::vector<std::string> names;
  for (const std::string& id : ids) names.push_back(absl::StrCat(tasks::kLcbenchPrefix, id));
  return names;
}

}  // namespace

TaskFactory BuiltinTaskFactory() {
  TaskFactory lcbench = LcbenchTaskFactory();
  return [lcbench](absl::string_view name) -> absl::StatusOr<std::unique_ptr<tasks::Task>> {
    if (absl::StartsWith(name, tasks::kLcbenchPrefix)) return lcbench(name);
    if (name == kLcbenchSuite) {
      HPO_RETURN_IF_ERROR(LcbenchSuite().status());
      return absl::NotFoundError("'lcbench' is a suite of tasks (lcbench-<id>), not a task");
    }
    return tasks::MakeTask(name);
  };
}

bool IsTaskSuite(absl::string_view name) {
  return name == "synthetic" || name == "builtin" || name == kLcbenchSuite;
}

std::vector<std::string> SyntheticSuite() {
  std::vector<std::string> names;
  for (const std::string& name : tasks::TaskNames()) {
    auto task = tasks::MakeTask(name);
    if (task.ok() && dynamic_cast<const tasks::SyntheticTask*>(task->get()) != nullptr) {
      names.push_back(name);
    }
  }
  return names;
}

absl::StatusOr<std::vector<std::string>> ExpandTasks(absl::string_view list,
                                                     const TaskFactory& factory) {
  std::vector<std::string> out;
  auto add = [&out](const std::string& name) {
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
  };
  for (absl::string_view item : absl::StrSplit(list, ',', absl::SkipWhitespace())) {
    const std::string name(absl::StripAsciiWhitespace(item));
    if (name == "synthetic") {
      for (const std::string& n : SyntheticSuite()) add(n);
    } else if (name == "builtin") {
      for (const std::string& n : tasks::TaskNames()) add(n);
    } else if (name == kLcbenchSuite) {
      absl::StatusOr<std::vector<std::string>> names = LcbenchSuite();
      if (names.ok()) {
        for (const std::string& n : *names) add(n);
      } else if (absl::IsFailedPrecondition(names.status())) {
        add(name);  // RunBench skips it, saying why
      } else {
        return core::Annotate(names.status(), "--tasks");
      }
    } else {
      auto task = factory(name);
      if (!task.ok() && !absl::IsFailedPrecondition(task.status())) {
        return core::Annotate(task.status(), "--tasks");
      }
      add(name);
    }
  }
  if (out.empty()) return absl::InvalidArgumentError("--tasks: no task named");
  return out;
}

}  // namespace hpo::harness
