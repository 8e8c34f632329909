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
#include "tasks/task.h"

namespace hpo::harness {

// Makes a task by name; NOT_FOUND for an unknown one. Must be thread-safe.
using TaskFactory = std::function<absl::StatusOr<std::unique_ptr<tasks::Task>>(absl::string_view)>;

// tasks::MakeTask, and LcbenchTaskFactory() (served_task.h) for "lcbench-<id>" names.
// The name "lcbench" (the suite, see ExpandTasks) gives the reason the LCBench files cannot be
// read (FAILED_PRECONDITION), or NOT_FOUND when they can (it is not a task).
// Each call makes a new factory (with its own LCBench helper processes; copies share them).
TaskFactory BuiltinTaskFactory();

// True for the suite names ExpandTasks knows: synthetic, builtin, lcbench.
bool IsTaskSuite(absl::string_view name);

// Names of the built-in tasks that are closed-form functions (SyntheticTask), sorted.
std::vector<std::string> SyntheticSuite();

// Expands a comma list of suite and task names into task names, in order, without repeats:
// "synthetic" = SyntheticSuite(), "builtin" = every tasks::TaskNames(), "lcbench" = the
// 34 LCBench tasks "lcbench-<id>" (tasks::LcbenchTaskIds), anything else a task name that
// `factory` must know. A task the factory cannot make for want of data (FAILED_PRECONDITION,
// e.g. the LCBench model is absent) is kept, and so is "lcbench" itself when the LCBench files
// are absent: RunBench skips such names with the reason. INVALID_ARGUMENT for an empty list; the
// factory's other errors (prefixed "--tasks: "), e.g. NOT_FOUND for an unknown name.
absl::StatusOr<std::vector<std::string>> ExpandTasks(absl::string_view list,
                                                     const TaskFactory& factory);

}  // namespace hpo::harness

#endif  // HPO_HARNESS_TASK_SOURCE_H_
