#include "harness/task_source.h"

#include <algorithm>

#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/status_macros.h"

namespace hpo::harness {

TaskFactory BuiltinTaskFactory() {
  return [](absl::string_view name) { return worker::tasks::MakeTask(name); };
}

std::vector<std::string> SyntheticSuite() {
  std::vector<std::string> names;
  for (const std::string& name : worker::tasks::TaskNames()) {
    auto task = worker::tasks::MakeTask(name);
    if (task.ok() && dynamic_cast<const worker::tasks::SyntheticTask*>(task->get()) != nullptr) {
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
      for (const std::string& n : worker::tasks::TaskNames()) add(n);
    } else {
      auto task = factory(name);
      if (!task.ok()) return core::Annotate(task.status(), "--tasks");
      add(name);
    }
  }
  if (out.empty()) return absl::InvalidArgumentError("--tasks: no task named");
  return out;
}

}  // namespace hpo::harness
