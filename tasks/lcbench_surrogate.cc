// The only translation unit of the tasks that includes LibTorch: every c10::Error
// (and any other exception LibTorch throws) is caught here and becomes a Status.
#include "tasks/lcbench_surrogate.h"

#include <ATen/Parallel.h>
#include <torch/script.h>

#include <exception>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace hpo::tasks {

struct LcbenchSurrogate::Module {
  torch::jit::Module module;
};

namespace {

// One loaded surrogate per path. `mu` guards only the map; each slot has its
// own mutex so that loading one file (I/O) does not block lookups of others.
struct Slot {
  absl::Mutex mu;
  std::shared_ptr<const LcbenchSurrogate> surrogate ABSL_GUARDED_BY(mu);
};

struct Cache {
  absl::Mutex mu;
  std::map<std::string, std::shared_ptr<Slot>> slots ABSL_GUARDED_BY(mu);
};

Cache& GetCache() {
  static Cache* cache = new Cache;
  return *cache;
}

// LibTorch's messages carry a C++ backtrace after the first line; keep the first.
std::string FirstLine(const char* what) {
  std::string text = what == nullptr ? "" : what;
  if (size_t nl = text.find('\n'); nl != std::string::npos) text.resize(nl);
  return text;
}

}  // namespace

LcbenchSurrogate::LcbenchSurrogate(std::unique_ptr<Module> module) : module_(std::move(module)) {}

LcbenchSurrogate::~LcbenchSurrogate() = default;

absl::StatusOr<std::shared_ptr<const LcbenchSurrogate>> LcbenchSurrogate::Load(
    const std::string& path) {
  std::shared_ptr<Slot> slot;
  {
    Cache& cache = GetCache();
    absl::MutexLock lock(&cache.mu);
    std::shared_ptr<Slot>& s = cache.slots[path];
    if (s == nullptr) s = std::make_shared<Slot>();
    slot = s;
  }
  // Held while loading, so that concurrent first calls load the file once.
  absl::MutexLock lock(&slot->mu);
  if (slot->surrogate != nullptr) return slot->surrogate;

  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return absl::FailedPreconditionError(absl::StrCat("LCBench surrogate not found at ", path));
  }
  auto module = std::make_unique<Module>();
  try {
    at::set_num_threads(1);
    module->module = torch::jit::load(path, torch::kCPU);
    module->module.eval();
  } catch (const c10::Error& e) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot load LCBench surrogate ", path, ": ", FirstLine(e.what())));
  } catch (const std::exception& e) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot load LCBench surrogate ", path, ": ", FirstLine(e.what())));
  }
  slot->surrogate =
      std::shared_ptr<const LcbenchSurrogate>(new LcbenchSurrogate(std::move(module)));
  return slot->surrogate;
}

absl::StatusOr<std::vector<LcbenchSurrogate::Output>> LcbenchSurrogate::Predict(
    int64_t task_code, const std::vector<Input>& rows) const {
  if (rows.empty()) return absl::InvalidArgumentError("LCBench surrogate: empty batch");
  const int64_t n = static_cast<int64_t>(rows.size());
  try {
    c10::InferenceMode inference;
    torch::Tensor x_cat = torch::full({n, 1}, task_code, torch::kLong);
    torch::Tensor x_cont = torch::empty({n, kNumInputs}, torch::kFloat);
    float* in = x_cont.data_ptr<float>();
    for (int64_t i = 0; i < n; ++i) {
      for (int j = 0; j < kNumInputs; ++j) in[i * kNumInputs + j] = rows[i][j];
    }
    // forward() takes a non-const module; running it does not change it.
    torch::jit::Module& module = module_->module;
    const torch::Tensor out =
        module.forward({x_cat, x_cont}).toTensor().to(torch::kCPU, torch::kFloat).contiguous();
    if (out.dim() != 2 || out.size(0) != n || out.size(1) != kNumOutputs) {
      return absl::InternalError(absl::StrCat("LCBench surrogate: expected output [", n, ", ",
                                              kNumOutputs, "], got ", out.dim(), " dims"));
    }
    std::vector<Output> result(rows.size());
    const float* o = out.data_ptr<float>();
    for (int64_t i = 0; i < n; ++i) {
      for (int j = 0; j < kNumOutputs; ++j) result[i][j] = o[i * kNumOutputs + j];
    }
    return result;
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("LCBench surrogate: ", FirstLine(e.what())));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("LCBench surrogate: ", FirstLine(e.what())));
  }
}

}  // namespace hpo::tasks
