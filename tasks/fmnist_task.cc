// The only LibTorch translation unit of the Fashion-MNIST trainers. HPO_TORCH_CUDA (set by CMake
// when the LibTorch found has CUDA) adds the CUDA-graph and autocast code.
#include "tasks/fmnist_task.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "core/search_space.h"
#include "core/status_macros.h"
#include "tasks/device_optimizer.h"

#if HPO_TORCH_CUDA
#include <ATen/autocast_mode.h>
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/version.h>
#endif

namespace hpo::tasks {
namespace {

using hpo::v1::ParamMap;
using hpo::v1::ParamValue;
using hpo::v1::SearchSpace;

constexpr int64_t kTrainSize = 50000;
constexpr int64_t kValSize = 10000;
constexpr double kPixelMean = 0.2860;
constexpr double kPixelStd = 0.3530;
constexpr int64_t kEvalBatch = 2000;
constexpr int kWarmupSteps = 3;  // eager steps before a CUDA graph is captured

struct Hyper {
  OptimizerRule optimizer;
  int64_t batch_size = 0;
  int64_t width = 0;
  int64_t depth = 1;
  double dropout = 0;
};

double Num(const ParamMap& params, const std::string& name) {
  const ParamValue& v = params.values().at(name);
  return v.kind_case() == ParamValue::kIntValue ? static_cast<double>(v.int_value())
                                                : v.float_value();
}

// Reads params that ValidateParams and NormalizeParams accepted.
Hyper ReadHyper(const ParamMap& p, bool cnn) {
  Hyper h;
  h.optimizer.adam = p.values().at("optimizer").string_value() == "adam";
  h.optimizer.lr = Num(p, "lr");
  if (!h.optimizer.adam) h.optimizer.momentum = Num(p, "momentum");
  h.optimizer.weight_decay = Num(p, "weight_decay");
  h.batch_size = static_cast<int64_t>(Num(p, "batch_size"));
  h.width = static_cast<int64_t>(Num(p, "width"));
  if (!cnn) h.depth = static_cast<int64_t>(Num(p, "depth"));
  h.dropout = Num(p, "dropout");
  return h;
}

torch::nn::Sequential BuildModel(bool cnn, const Hyper& h) {
  namespace nn = torch::nn;
  nn::Sequential m;
  int64_t in = 784;
  if (cnn) {
    m->push_back(nn::Conv2d(nn::Conv2dOptions(1, 32, 3).padding(1)));
    m->push_back(nn::ReLU());
    m->push_back(nn::MaxPool2d(nn::MaxPool2dOptions(2)));
    m->push_back(nn::Conv2d(nn::Conv2dOptions(32, 64, 3).padding(1)));
    m->push_back(nn::ReLU());
    m->push_back(nn::MaxPool2d(nn::MaxPool2dOptions(2)));
    in = 64 * 7 * 7;
  }
  m->push_back(nn::Flatten());
  for (int64_t d = 0; d < h.depth; ++d) {
    m->push_back(nn::Linear(in, h.width));
    m->push_back(nn::ReLU());
    m->push_back(nn::Dropout(nn::DropoutOptions(h.dropout)));
    in = h.width;
  }
  m->push_back(nn::Linear(in, 10));
  return m;
}

// Images as standardized N x 1 x 28 x 28 floats and labels as int64, on `device`.
struct DeviceData {
  torch::Tensor train_x, train_y, val_x, val_y;
};

DeviceData ToDevice(const FmnistSplit& split, int64_t max_train, torch::Device device) {
  const int64_t n = split.images.dims[0];
  torch::Tensor images = torch::from_blob(const_cast<uint8_t*>(split.images.data.data()),
                                          {n, 1, 28, 28}, torch::kUInt8);
  torch::Tensor labels =
      torch::from_blob(const_cast<uint8_t*>(split.labels.data.data()), {n}, torch::kUInt8);
  const int64_t train = std::min<int64_t>(kTrainSize, n - kValSize);
  const int64_t train_n = max_train > 0 ? std::min(train, max_train) : train;
  const int64_t val_n = max_train > 0 ? std::min(kValSize, max_train) : kValSize;
  auto floats = [&](const torch::Tensor& x) {
    return x.to(device).to(torch::kFloat32).div_(255).sub_(kPixelMean).div_(kPixelStd);
  };
  DeviceData d;
  d.train_x = floats(images.narrow(0, 0, train_n));
  d.train_y = labels.narrow(0, 0, train_n).to(device).to(torch::kLong);
  d.val_x = floats(images.narrow(0, n - kValSize, val_n));
  d.val_y = labels.narrow(0, n - kValSize, val_n).to(device).to(torch::kLong);
  return d;
}

// bf16 autocast on CUDA while alive (a no-op when disabled or without CUDA support).
// Thread-compatible: LibTorch's autocast state is the calling thread's.
class AutocastScope {
 public:
  explicit AutocastScope(bool enabled) : enabled_(enabled) {
#if HPO_TORCH_CUDA
    if (enabled_) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
      at::autocast::set_autocast_enabled(at::kCUDA, true);
      at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
#else
      at::autocast::set_enabled(true);
      at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
#endif
      at::autocast::set_autocast_cache_enabled(false);  // graph capture needs fresh casts
    }
#endif
  }
  ~AutocastScope() {
#if HPO_TORCH_CUDA
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    if (enabled_) at::autocast::set_autocast_enabled(at::kCUDA, false);
#else
    if (enabled_) at::autocast::set_enabled(false);
#endif
#endif
  }
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool enabled_;
};

// The decoded "train" split of `dir`, read once per process. Thread-safe.
absl::StatusOr<std::shared_ptr<const FmnistSplit>> TrainSplit(const std::string& dir) {
  static absl::Mutex mu(absl::kConstInit);
  static auto* cache = new std::map<std::string, std::shared_ptr<const FmnistSplit>>;
  absl::MutexLock lock(&mu);
  auto it = cache->find(dir);
  if (it != cache->end()) return it->second;
  HPO_ASSIGN_OR_RETURN(FmnistSplit split, ReadFmnistSplit("train", dir));
  if (split.images.dims[0] <= kValSize) {
    return absl::FailedPreconditionError(absl::StrCat("Fashion-MNIST in '", dir, "' has ",
                                                      split.images.dims[0],
                                                      " training images; more than 10,000 needed"));
  }
  auto shared = std::make_shared<const FmnistSplit>(std::move(split));
  (*cache)[dir] = shared;
  return shared;
}

// Evaluate's calls, one at a time (torch::manual_seed is process-wide).
absl::Mutex& EvaluateMutex() {
  static absl::Mutex mu(absl::kConstInit);
  return mu;
}

// Thread-safe: immutable; Evaluate holds EvaluateMutex().
class FmnistTask final : public Task {
 public:
  FmnistTask(std::string name, SearchSpace space, std::string dir)
      : name_(std::move(name)), space_(std::move(space)), dir_(std::move(dir)) {}

  std::string name() const override { return name_; }
  SearchSpace space() const override { return space_; }
  double optimum() const override { return std::nan(""); }
  ParamMap optimum_params() const override { return ParamMap(); }

  absl::StatusOr<double> Evaluate(const ParamMap& params, const TaskOptions& options,
                                  Reporter& reporter) const override {
    HPO_RETURN_IF_ERROR(core::ValidateParams(space_, params));
    if (options.steps < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("epochs (steps) must be >= 1, got ", options.steps));
    }
    if (options.max_train_samples < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("max_train_samples must be >= 0, got ", options.max_train_samples));
    }
    const Hyper hyper = ReadHyper(core::NormalizeParams(space_, params), name_ == kFmnistCnn);
    HPO_ASSIGN_OR_RETURN(std::shared_ptr<const FmnistSplit> split, TrainSplit(dir_));
    absl::MutexLock lock(&EvaluateMutex());
    try {
      return Train(*split, hyper, options, reporter);
    } catch (const std::exception& e) {  // c10::Error is one
      return TorchError(e.what());
    }
  }

 private:
  static absl::Status TorchError(const std::string& what) {
    const std::string first_line = what.substr(0, what.find('\n'));
    if (absl::StrContains(what, "out of memory")) {
      return absl::ResourceExhaustedError(absl::StrCat("GPU out of memory: ", first_line));
    }
    return absl::InternalError(absl::StrCat("LibTorch: ", first_line));
  }

  absl::StatusOr<double> Train(const FmnistSplit& split, const Hyper& h, const TaskOptions& options,
                               Reporter& reporter) const {
    const bool cuda = torch::cuda::is_available();
    const torch::Device device = cuda ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
    torch::manual_seed(static_cast<uint64_t>(options.seed));
    const DeviceData data = ToDevice(split, options.max_train_samples, device);
    torch::nn::Sequential model = BuildModel(name_ == kFmnistCnn, h);
    model->to(device);
    model->train();
    std::vector<torch::Tensor> parameters = model->parameters();
    int64_t parameter_count = 0;
    for (const torch::Tensor& p : parameters) parameter_count += p.numel();
    DeviceOptimizer optimizer(parameters, h.optimizer);

    const int64_t n = data.train_x.size(0);
    const int64_t batch = std::min(h.batch_size, n);
    const int64_t batches = n / batch;
    const bool bf16 = cuda && options.bf16;
    torch::Tensor loss_sum = torch::zeros({}, data.train_x.options());
    // One training step on the rows `index` of the training set; adds its loss to loss_sum.
    auto step = [&](const torch::Tensor& index) {
      torch::Tensor loss;
      {
        AutocastScope autocast(bf16);
        const torch::Tensor logits = model->forward(data.train_x.index_select(0, index));
        loss = torch::nn::functional::cross_entropy(logits.to(torch::kFloat32),
                                                    data.train_y.index_select(0, index));
      }
      loss.backward();
      optimizer.Step();
      loss_sum.add_(loss.detach());
    };
    GraphStep graph(cuda && options.cuda_graph, batch, device);

    double value = 0;
    for (int epoch = 1; epoch <= options.steps; ++epoch) {
      const auto start = std::chrono::steady_clock::now();
      loss_sum.zero_();
      const torch::Tensor order =
          torch::randperm(n, torch::TensorOptions().dtype(torch::kLong).device(device));
      for (int64_t b = 0; b < batches; ++b) {
        const torch::Tensor index = order.narrow(0, b * batch, batch);
        if (!graph.Run(index, step, optimizer)) {
          optimizer.ZeroGrad();
          step(index);
        }
      }
      const double train_loss = loss_sum.item<double>() / static_cast<double>(batches);
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      const auto [val_accuracy, val_loss] = Validate(model, data, bf16);
      value = 1 - val_accuracy;
      core::MetricLine line;
      line.step = epoch;
      line.final = epoch == options.steps;
      line.metrics[std::string(kValueMetric)] = value;
      line.metrics["val_accuracy"] = val_accuracy;
      line.metrics["val_loss"] = val_loss;
      line.metrics["train_loss"] = train_loss;
      line.metrics["samples_per_s"] = static_cast<double>(batches * batch) / seconds;
      line.metrics["params"] = static_cast<double>(parameter_count);
      if (!reporter.Report(line)) {
        return absl::CancelledError(absl::StrCat(name_, ": stopped after epoch ", epoch));
      }
    }
    return value;
  }

  // Accuracy and mean cross-entropy on the validation set; one host synchronisation.
  static std::pair<double, double> Validate(torch::nn::Sequential& model, const DeviceData& data,
                                            bool bf16) {
    torch::NoGradGuard no_grad;
    model->eval();
    const int64_t n = data.val_x.size(0);
    torch::Tensor correct = torch::zeros({}, data.val_y.options());
    torch::Tensor loss = torch::zeros({}, data.val_x.options());
    for (int64_t i = 0; i < n; i += kEvalBatch) {
      const int64_t len = std::min(kEvalBatch, n - i);
      torch::Tensor logits;
      {
        AutocastScope autocast(bf16);
        logits = model->forward(data.val_x.narrow(0, i, len)).to(torch::kFloat32);
      }
      const torch::Tensor y = data.val_y.narrow(0, i, len);
      loss.add_(torch::nn::functional::cross_entropy(
          logits, y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum)));
      correct.add_(logits.argmax(1).eq(y).sum());
    }
    model->train();
    const double count = static_cast<double>(n);
    return {static_cast<double>(correct.item<int64_t>()) / count, loss.item<double>() / count};
  }

  // Replays the training step as a CUDA graph: after kWarmupSteps eager steps (on a side
  // stream, as capture requires), the next step is captured with its batch indices in a static
  // device tensor, and every later step copies its indices there and replays. Without CUDA (or
  // when disabled) Run always returns false and the caller steps eagerly. Thread-compatible.
  class GraphStep {
   public:
    GraphStep(bool enabled, int64_t batch, torch::Device device) : enabled_(enabled) {
#if HPO_TORCH_CUDA
      if (enabled_) {
        index_ = torch::zeros({batch}, torch::TensorOptions().dtype(torch::kLong).device(device));
      }
#else
      (void)batch;
      (void)device;
#endif
    }

    // Runs one step on `index` through the graph; false when the caller must step eagerly.
    template <typename StepFn>
    bool Run(const torch::Tensor& index, StepFn& step, DeviceOptimizer& optimizer) {
#if HPO_TORCH_CUDA
      if (!enabled_) return false;
      if (captured_) {
        index_.copy_(index);
        graph_.replay();
        return true;
      }
      const c10::cuda::CUDAStream main = c10::cuda::getCurrentCUDAStream();
      const c10::cuda::CUDAStream side = c10::cuda::getStreamFromPool();
      at::cuda::CUDAEvent main_done;  // the side stream starts after the main one's work
      main_done.record(main);
      main_done.block(side);
      {
        c10::cuda::CUDAStreamGuard guard(side);
        if (warmed_ < kWarmupSteps) {
          optimizer.ZeroGrad();
          step(index);
          ++warmed_;
        } else {
          index_.copy_(index);
          optimizer.ZeroGrad();
          graph_.capture_begin();
          step(index_);
          graph_.capture_end();
          captured_ = true;
        }
      }
      at::cuda::CUDAEvent side_done;  // and the main stream goes on after the side one's
      side_done.record(side);
      side_done.block(main);
      if (captured_) graph_.replay();  // capture records the step without running it
      return true;
#else
      (void)index;
      (void)step;
      (void)optimizer;
      return false;
#endif
    }

   private:
    bool enabled_;
#if HPO_TORCH_CUDA
    torch::Tensor index_;
    at::cuda::CUDAGraph graph_;
    int warmed_ = 0;
    bool captured_ = false;
#endif
  };

  std::string name_;
  SearchSpace space_;
  std::string dir_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Task>> MakeFmnistTask(absl::string_view name,
                                                     const std::string& data_dir) {
  HPO_ASSIGN_OR_RETURN(SearchSpace space, FmnistSpace(name));
  return std::unique_ptr<Task>(
      std::make_unique<FmnistTask>(std::string(name), std::move(space), data_dir));
}

void RegisterFmnistTasks() {
  TaskFamily family;
  family.prefix = std::string(kFmnistPrefix);
  family.make = [](absl::string_view name) { return MakeFmnistTask(name); };
  family.names = [] { return FmnistTaskNames(); };
  RegisterTaskFamily(std::move(family));
}

namespace {
[[maybe_unused]] const bool kRegistered = (RegisterFmnistTasks(), true);
}  // namespace

}  // namespace hpo::tasks
