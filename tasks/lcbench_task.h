// LCBench (Zimmer et al.) through the YAHPO Gym surrogate: one task per OpenML
// task id, named "lcbench-<id>" (e.g. lcbench-3945). Library hpo_lcbench, built
// only where LibTorch is found; this header includes no LibTorch header.
//
// The model files (lcbench.pt, encoding.json, config_space.json) stay outside
// the repository, in a model directory: the one given, else DefaultLcbenchDir().
#ifndef HPO_TASKS_LCBENCH_TASK_H_
#define HPO_TASKS_LCBENCH_TASK_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "hpo/v1/hpo.pb.h"
#include "tasks/lcbench_data.h"
#include "tasks/task.h"

namespace hpo::tasks {

// kLcbenchEpochs, kLcbenchPrefix, DefaultLcbenchDir(), LcbenchSpace() and
// LcbenchTaskIds() are in lcbench_data.h (LibTorch-free, in hpo_tasks).

// The task "lcbench-<openml_task_id>". Its objective "value" is
// 100 - val_accuracy at epoch 52 (minimized). optimum() is NaN and
// optimum_params() empty: the surrogate's minimum is not known.
//
// Evaluate(params, options, reporter) predicts the epochs
//   e_t = ceil(52 t / steps), t = 1..steps
// as one batch and reports, at step t, "value" (100 - val_accuracy at e_t) with
// "epoch", "val_accuracy" and "time" (the surrogate's training seconds up to
// e_t); the last step is epoch 52 and is marked final. steps = 1 is the
// blackbox, steps = 52 the curve epoch by epoch. Returns the value at epoch 52;
// INVALID_ARGUMENT for steps outside [1, 52], step_ms < 0 or bad params;
// CANCELLED when the reporter asks to stop; INTERNAL when LibTorch fails.
//
// Errors: FAILED_PRECONDITION "LCBench surrogate not found at <dir>/lcbench.pt:
// set HPO_LCBENCH_DIR" when the model is absent (or its other files are);
// NOT_FOUND for an id the surrogate does not serve. The model is loaded once per
// process and shared by all tasks. The task is thread-safe.
absl::StatusOr<std::unique_ptr<Task>> MakeLcbenchTask(const std::string& openml_task_id,
                                                      const std::string& model_dir = "");

// Registers the "lcbench-" task family with MakeTask (model from
// DefaultLcbenchDir(), names from LcbenchTaskIds()). Linking lcbench_task.cc
// already does this from a static initializer; calling it again is harmless.
void RegisterLcbenchTasks();

}  // namespace hpo::tasks

#endif  // HPO_TASKS_LCBENCH_TASK_H_
