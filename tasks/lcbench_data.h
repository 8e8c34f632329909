// The LibTorch-free half of the LCBench tasks (lcbench_task.h): where the model
// files are, the fixed search space and the OpenML task ids. It lives in
// hpo_tasks, so programs that must not link LibTorch (the `hpo` CLI, the bench
// harness) can name, list and describe the lcbench-<id> tasks; evaluating one
// needs hpo_lcbench (or the hpo-task-lcbench process, see `hpo-task --serve`).
#ifndef HPO_TASKS_LCBENCH_DATA_H_
#define HPO_TASKS_LCBENCH_DATA_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "hpo/v1/hpo.pb.h"

namespace hpo::tasks {

// Epochs of every LCBench learning curve; the blackbox value is at the last.
inline constexpr int kLcbenchEpochs = 52;
inline constexpr absl::string_view kLcbenchPrefix = "lcbench-";

// $HPO_LCBENCH_DIR when set (even if it does not exist, so that errors name
// it); else ../shared/benchmarks/lcbench relative to the current directory
// when that directory exists; else /work/shared/benchmarks/lcbench.
std::string DefaultLcbenchDir();

// <dir>/lcbench.pt, the TorchScript model (an empty dir means DefaultLcbenchDir()).
std::string LcbenchModelPath(const std::string& model_dir = "");

// FAILED_PRECONDITION "LCBench surrogate not found at <path>: set HPO_LCBENCH_DIR".
absl::Status LcbenchNotFound(const std::string& path);

// OK when `id` can be an OpenML task id (decimal digits), else NOT_FOUND "'lcbench-ID' is not an
// LCBench task (lcbench-<OpenML task id>)". Checked before the model files, so a mistyped name is
// an error even where the model is absent (whether the id is one of the 34 needs the files).
absl::Status CheckLcbenchTaskIdFormat(absl::string_view id);

// OK when <dir>/lcbench.pt is a regular file, else LcbenchNotFound naming it.
// Does not load it. An empty model_dir means DefaultLcbenchDir().
absl::Status CheckLcbenchModel(const std::string& model_dir = "");

// The search space, config_space.json without OpenML_task_id (and without
// epoch, the fidelity), in the surrogate's input order:
//   batch_size    int   [16, 512]     log
//   learning_rate float [1e-4, 0.1]   log
//   momentum      float [0.1, 0.99]
//   weight_decay  float [1e-5, 0.1]
//   num_layers    int   [1, 5]
//   max_units     int   [64, 1024]    log
//   max_dropout   float [0, 1]
hpo::v1::SearchSpace LcbenchSpace();

// The OpenML task ids the surrogate serves, in config_space.json's order: the
// ids of encoding.json (without "#na#") that config_space.json also lists for
// OpenML_task_id. (encoding.json has 35 ids; 167083 is not in the config space,
// so this gives 34.) An empty model_dir means DefaultLcbenchDir().
// FAILED_PRECONDITION naming the file when one is absent or malformed.
absl::StatusOr<std::vector<std::string>> LcbenchTaskIds(const std::string& model_dir = "");

// OpenML task id -> the surrogate's code for it (encoding.json, without
// "#na#"). FAILED_PRECONDITION naming the file when absent or malformed.
absl::StatusOr<std::map<std::string, int64_t>> LcbenchTaskCodes(const std::string& model_dir = "");

}  // namespace hpo::tasks

#endif  // HPO_TASKS_LCBENCH_DATA_H_
