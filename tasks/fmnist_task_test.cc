#include "tasks/fmnist_task.h"

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/metric_line.h"
#include "core/search_space.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tasks/device_optimizer.h"
#include "tasks/task.h"

namespace hpo::tasks {
namespace {

using ::testing::HasSubstr;

namespace fs = std::filesystem;

// Decoded copies of the data go to the test's temporary folder, not the user's ~/.cache.
[[maybe_unused]] const bool kCacheInTemp =
    ::setenv("HPO_FMNIST_CACHE", (fs::path(::testing::TempDir()) / "fmnist-cache").c_str(), 1) ==
    0;

bool HaveData() {
  const fs::path dir = DefaultFmnistDir();
  return fs::exists(dir / "train-images-idx3-ubyte.gz") ||
         fs::exists(dir / "train-images-idx3-ubyte");
}

#define SKIP_WITHOUT_DATA()                                                  \
  if (!HaveData()) {                                                         \
    GTEST_SKIP() << "Fashion-MNIST not found in " << DefaultFmnistDir()      \
                 << ": install dataset-fashion-mnist or set HPO_FMNIST_DIR"; \
  }

// A trainer's parameters: adam at 1e-3, batches of 64, one hidden layer of `width`.
hpo::v1::ParamMap Params(const std::string& task, int64_t width = 128,
                         const std::string& optimizer = "adam") {
  hpo::v1::ParamMap p;
  auto& v = *p.mutable_values();
  v["lr"].set_float_value(1e-3);
  v["batch_size"].set_int_value(64);
  v["width"].set_int_value(width);
  if (task == "fmnist-mlp") v["depth"].set_int_value(1);
  v["dropout"].set_float_value(0);
  v["weight_decay"].set_float_value(1e-6);
  v["optimizer"].set_string_value(optimizer);
  if (optimizer == "sgd") v["momentum"].set_float_value(0.9);
  return p;
}

struct TrainRun {
  absl::StatusOr<double> value;
  std::vector<core::MetricLine> lines;
};

TrainRun Train(const std::string& name, const hpo::v1::ParamMap& params, TaskOptions options,
               int stop_after = 0) {
  TrainRun run{absl::UnknownError("not run"), {}};
  absl::StatusOr<std::unique_ptr<Task>> task = MakeTask(name);
  if (!task.ok()) {
    run.value = task.status();
    return run;
  }
  CallbackReporter reporter([&](const core::MetricLine& line) {
    run.lines.push_back(line);
    return stop_after == 0 || static_cast<int>(run.lines.size()) < stop_after;
  });
  run.value = (*task)->Evaluate(params, options, reporter);
  return run;
}

TaskOptions Short(int epochs, int samples) {
  TaskOptions o;
  o.steps = epochs;
  o.max_train_samples = samples;
  return o;
}

// Chance is 0.1 on ten balanced classes; one epoch on 2,000 images reaches about 0.7.
constexpr double kBeatsChance = 0.55;

TEST(FmnistTaskTest, OneCpuEpochOnASubsetBeatsChanceByAWideMargin) {
  SKIP_WITHOUT_DATA();
  for (const std::string name : {"fmnist-mlp", "fmnist-cnn"}) {
    TrainRun run = Train(name, Params(name), Short(1, 2000));
    ASSERT_TRUE(run.value.ok()) << name << ": " << run.value.status();
    ASSERT_EQ(run.lines.size(), 1u) << name;
    const core::MetricLine& line = run.lines[0];
    EXPECT_EQ(line.step, 1);
    EXPECT_TRUE(line.final);
    const double accuracy = line.metrics.at("val_accuracy");
    EXPECT_GT(accuracy, kBeatsChance) << name;
    EXPECT_DOUBLE_EQ(line.metrics.at("value"), 1 - accuracy);
    EXPECT_DOUBLE_EQ(*run.value, 1 - accuracy);
    EXPECT_GT(line.metrics.at("val_loss"), 0);
    EXPECT_LT(line.metrics.at("val_loss"), 2.0) << name;  // ln 10 = 2.30 is a uniform guess
    EXPECT_GT(line.metrics.at("samples_per_s"), 0);
  }
}

TEST(FmnistTaskTest, ParametersReachTheModel) {
  SKIP_WITHOUT_DATA();
  // The parameter count follows width and depth.
  hpo::v1::ParamMap mlp = Params("fmnist-mlp", 64);
  (*mlp.mutable_values())["depth"].set_int_value(2);
  TrainRun run = Train("fmnist-mlp", mlp, Short(1, 256));
  ASSERT_TRUE(run.value.ok()) << run.value.status();
  EXPECT_EQ(run.lines[0].metrics.at("params"), (784 * 64 + 64) + (64 * 64 + 64) + (64 * 10 + 10));
  run = Train("fmnist-cnn", Params("fmnist-cnn", 32), Short(1, 256));
  ASSERT_TRUE(run.value.ok()) << run.value.status();
  EXPECT_EQ(run.lines[0].metrics.at("params"),
            (9 * 32 + 32) + (32 * 9 * 64 + 64) + (3136 * 32 + 32) + (32 * 10 + 10));

  // The learning rate and the optimizer change the outcome; the seed alone reproduces it.
  const TrainRun a = Train("fmnist-mlp", Params("fmnist-mlp"), Short(1, 1000));
  const TrainRun again = Train("fmnist-mlp", Params("fmnist-mlp"), Short(1, 1000));
  hpo::v1::ParamMap slow = Params("fmnist-mlp");
  (*slow.mutable_values())["lr"].set_float_value(1e-4);
  const TrainRun b = Train("fmnist-mlp", slow, Short(1, 1000));
  const TrainRun sgd = Train("fmnist-mlp", Params("fmnist-mlp", 128, "sgd"), Short(1, 1000));
  TaskOptions other_seed = Short(1, 1000);
  other_seed.seed = 7;
  const TrainRun c = Train("fmnist-mlp", Params("fmnist-mlp"), other_seed);
  ASSERT_TRUE(a.value.ok() && again.value.ok() && b.value.ok() && sgd.value.ok() && c.value.ok());
  EXPECT_EQ(a.lines[0].metrics.at("val_loss"), again.lines[0].metrics.at("val_loss"));
  EXPECT_NE(a.lines[0].metrics.at("val_loss"), c.lines[0].metrics.at("val_loss"));
  EXPECT_NE(a.lines[0].metrics.at("val_loss"), sgd.lines[0].metrics.at("val_loss"));
  // Ten times smaller steps learn less in one epoch.
  EXPECT_GT(b.lines[0].metrics.at("train_loss"), a.lines[0].metrics.at("train_loss") + 0.1);
}

TEST(FmnistTaskTest, BadParametersAreRefusedByName) {
  absl::StatusOr<std::unique_ptr<Task>> task = MakeTask("fmnist-cnn");
  ASSERT_TRUE(task.ok()) << task.status();
  CallbackReporter ignore([](const core::MetricLine&) { return true; });
  hpo::v1::ParamMap p = Params("fmnist-cnn");
  (*p.mutable_values())["optimizer"].set_string_value("rmsprop");
  absl::StatusOr<double> v = (*task)->Evaluate(p, Short(1, 64), ignore);
  EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(v.status().message(), HasSubstr("optimizer"));
  EXPECT_THAT(v.status().message(), HasSubstr("rmsprop"));
  // momentum is sgd's: the space's condition refuses it with adam.
  p = Params("fmnist-cnn");
  (*p.mutable_values())["momentum"].set_float_value(0.9);
  v = (*task)->Evaluate(p, Short(1, 64), ignore);
  EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(v.status().message(), HasSubstr("momentum"));
  // depth is the MLP's alone.
  p = Params("fmnist-cnn");
  (*p.mutable_values())["depth"].set_int_value(2);
  EXPECT_EQ((*task)->Evaluate(p, Short(1, 64), ignore).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*task)->Evaluate(Params("fmnist-cnn"), Short(0, 64), ignore).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(FmnistTaskTest, MissingDataNamesThePath) {
  absl::StatusOr<std::unique_ptr<Task>> task = MakeFmnistTask("fmnist-mlp", "/nonexistent/fm");
  ASSERT_TRUE(task.ok());
  CallbackReporter ignore([](const core::MetricLine&) { return true; });
  absl::StatusOr<double> v = (*task)->Evaluate(Params("fmnist-mlp"), Short(1, 64), ignore);
  EXPECT_EQ(v.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(v.status().message(),
              HasSubstr("Fashion-MNIST not found at /nonexistent/fm/train-images-idx3-ubyte"));
  EXPECT_EQ(MakeFmnistTask("fmnist-vit").status().code(), absl::StatusCode::kNotFound);
}

TEST(FmnistTaskTest, OneLinePerEpochAndAStopIsHonoured) {
  SKIP_WITHOUT_DATA();
  TrainRun run = Train("fmnist-mlp", Params("fmnist-mlp"), Short(3, 500));
  ASSERT_TRUE(run.value.ok()) << run.value.status();
  ASSERT_EQ(run.lines.size(), 3u);
  for (int e = 0; e < 3; ++e) {
    EXPECT_EQ(run.lines[e].step, e + 1);
    EXPECT_EQ(run.lines[e].final, e == 2);
  }
  // More epochs on the same images fit them better.
  EXPECT_LT(run.lines[2].metrics.at("train_loss"), run.lines[0].metrics.at("train_loss"));
  run = Train("fmnist-mlp", Params("fmnist-mlp"), Short(3, 500), /*stop_after=*/1);
  EXPECT_EQ(run.value.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(run.lines.size(), 1u);
}

// DeviceOptimizer against LibTorch's own optimizers, step by step.
TEST(DeviceOptimizerTest, MatchesTorchOptimOnTheSameGradients) {
  for (const OptimizerRule rule :
       {OptimizerRule{true, 0.01, 0, 0.001}, OptimizerRule{false, 0.05, 0.9, 0.001},
        OptimizerRule{false, 0.05, 0, 0}}) {
    torch::manual_seed(1);
    // In double precision, so that a difference is the rule's, not float rounding's.
    torch::Tensor ours = torch::randn({5, 3}, torch::kFloat64).requires_grad_(true);
    torch::Tensor theirs = ours.detach().clone().requires_grad_(true);
    DeviceOptimizer device({ours}, rule);
    std::unique_ptr<torch::optim::Optimizer> reference;
    if (rule.adam) {
      reference = std::make_unique<torch::optim::Adam>(
          std::vector<torch::Tensor>{theirs},
          torch::optim::AdamOptions(rule.lr).weight_decay(rule.weight_decay));
    } else {
      reference = std::make_unique<torch::optim::SGD>(std::vector<torch::Tensor>{theirs},
                                                      torch::optim::SGDOptions(rule.lr)
                                                          .momentum(rule.momentum)
                                                          .weight_decay(rule.weight_decay));
    }
    const torch::Tensor target = torch::randn({5, 3}, torch::kFloat64);
    for (int step = 0; step < 20; ++step) {
      device.ZeroGrad();
      (ours - target).pow(2).sum().backward();
      device.Step();
      reference->zero_grad();
      (theirs - target).pow(2).sum().backward();
      reference->step();
      ASSERT_TRUE(torch::allclose(ours, theirs, /*rtol=*/1e-10, /*atol=*/1e-12))
          << "adam " << rule.adam << " momentum " << rule.momentum << " step " << step;
    }
  }
}

// hpo-task hands fmnist-* to hpo-task-train, which prints one metric line per epoch.
TEST(FmnistTaskTest, HpoTaskRunsATrainerAsAProcess) {
  SKIP_WITHOUT_DATA();
  const std::string command = absl::StrCat(
      HPO_TASK_PATH,
      " fmnist-mlp --lr=0.001 --batch_size=64 --width=64 --depth=1 --dropout=0.1"
      " --weight_decay=0.000001 --optimizer=adam --epochs=2 --max-train-samples=1000 2>&1");
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string out;
  std::array<char, 4096> buffer;
  while (size_t n = fread(buffer.data(), 1, buffer.size(), pipe)) out.append(buffer.data(), n);
  const int status = pclose(pipe);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << out;
  std::vector<core::MetricLine> lines;
  size_t start = 0;
  while (start < out.size()) {
    const size_t end = out.find('\n', start);
    const std::string line = out.substr(start, end - start);
    if (core::IsMetricLine(line)) {
      absl::StatusOr<core::MetricLine> parsed = core::ParseMetricLine(line);
      ASSERT_TRUE(parsed.ok()) << line;
      lines.push_back(*parsed);
    }
    if (end == std::string::npos) break;
    start = end + 1;
  }
  ASSERT_EQ(lines.size(), 2u) << out;
  EXPECT_TRUE(lines[1].final);
  EXPECT_GT(lines[1].metrics.at("val_accuracy"), kBeatsChance) << out;

  // A bad optimizer name is refused before any training, with exit status 2.
  const std::string bad = absl::StrCat(HPO_TASK_PATH,
                                       " fmnist-cnn --lr=0.001 --batch_size=64 --width=64"
                                       " --dropout=0 --weight_decay=0.000001 --optimizer=rmsprop"
                                       " 2>&1");
  pipe = popen(bad.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  out.clear();
  while (size_t n = fread(buffer.data(), 1, buffer.size(), pipe)) out.append(buffer.data(), n);
  const int bad_status = pclose(pipe);
  EXPECT_TRUE(WIFEXITED(bad_status) && WEXITSTATUS(bad_status) == 2) << out;
  EXPECT_THAT(out, HasSubstr("optimizer"));
}

}  // namespace
}  // namespace hpo::tasks
