// Where the bench gets its tasks: a factory by name (built-in tasks by default; LCBench and
// others can be added by wrapping it) and the expansion of `--tasks` into names.
#ifndef HPO_HARNESS_TASK_SOURCE_H_
#define HPO_HARNESS_TASK_SOURCE_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "worker/tasks/task.h"

namespace hpo::harness {

// Makes a task by name; NOT_FOUND for an unknown one. Must be thread-safe.
using TaskFactory =
    std::function<absl::StatusOr<std::unique_ptr<worker::tasks::Task>>(absl::string_view)>;

// worker::tasks::MakeTask.
TaskFactory BuiltinTaskFactory();

// Names of the built-in tasks that are closed-form functions (SyntheticTask), sorted.
std::vector<std::string> SyntheticSuite();

// Expands a comma list of suite and task names into task names, in order, without repeats:
// "synthetic" = SyntheticSuite(), "builtin" = every worker::tasks::TaskNames(), anything else a
// task name that `factory` must know. INVALID_ARGUMENT for an empty list; the factory's NOT_FOUND
// (prefixed "--tasks: ") for an unknown name.
absl::StatusOr<std::vector<std::string>> ExpandTasks(absl::string_view list,
                                                     const TaskFactory& factory);

}  // namespace hpo::harness

#endif  // HPO_HARNESS_TASK_SOURCE_H_
