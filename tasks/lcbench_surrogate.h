// The YAHPO Gym LCBench surrogate, a TorchScript module, behind a header that
// includes no LibTorch header: lcbench_surrogate.cc is the only translation unit
// of the project's tasks that includes LibTorch (and catches its c10::Error).
// The model files are described in ../shared/benchmarks/lcbench/README.md.
#ifndef HPO_TASKS_LCBENCH_SURROGATE_H_
#define HPO_TASKS_LCBENCH_SURROGATE_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace hpo::tasks {

// A loaded surrogate. Immutable after Load; Predict may be called from several
// threads at once (TorchScript inference does not mutate the module):
// thread-safe.
class LcbenchSurrogate {
 public:
  // Inputs, raw values in this order: epoch (1-52), batch_size, learning_rate,
  // momentum, weight_decay, num_layers, max_units, max_dropout.
  static constexpr int kNumInputs = 8;
  using Input = std::array<float, kNumInputs>;
  // Outputs in this order.
  enum Column {
    kTime = 0,             // seconds, cumulative to that epoch
    kValAccuracy = 1,      // 0-100
    kValCrossEntropy = 2,  //
    kValBalancedAccuracy = 3,
    kTestCrossEntropy = 4,
    kTestBalancedAccuracy = 5,
  };
  static constexpr int kNumOutputs = 6;
  using Output = std::array<float, kNumOutputs>;

  // The module in the file `path` (lcbench.pt), loaded once per process: later
  // calls with the same path return the same object. Sets LibTorch to one
  // intra-op thread (process-wide) on the first load. FAILED_PRECONDITION when
  // the file is absent or LibTorch cannot load it (with LibTorch's reason).
  static absl::StatusOr<std::shared_ptr<const LcbenchSurrogate>> Load(const std::string& path);

  ~LcbenchSurrogate();
  LcbenchSurrogate(const LcbenchSurrogate&) = delete;
  LcbenchSurrogate& operator=(const LcbenchSurrogate&) = delete;

  // Evaluates `rows` as one batch for the OpenML task whose encoded id (from
  // encoding.json) is `task_code`. INVALID_ARGUMENT for an empty batch;
  // INTERNAL when LibTorch fails or the output does not have the expected shape.
  absl::StatusOr<std::vector<Output>> Predict(int64_t task_code,
                                              const std::vector<Input>& rows) const;

 private:
  struct Module;  // holds the torch::jit::Module
  explicit LcbenchSurrogate(std::unique_ptr<Module> module);

  std::unique_ptr<Module> module_;
};

}  // namespace hpo::tasks

#endif  // HPO_TASKS_LCBENCH_SURROGATE_H_
