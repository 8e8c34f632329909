#include "tasks/lcbench_task.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/search_space.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tasks/lcbench_surrogate.h"
#include "tasks/task.h"
#include "tasks/task_testing.h"

namespace hpo::tasks {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

namespace fs = std::filesystem;

std::string ModelDir() { return DefaultLcbenchDir(); }

bool HaveModel() { return fs::is_regular_file(fs::path(ModelDir()) / "lcbench.pt"); }

#define SKIP_WITHOUT_MODEL()                                                                \
  if (!HaveModel()) {                                                                       \
    GTEST_SKIP() << "LCBench surrogate not found at " << ModelDir()                         \
                 << "/lcbench.pt: set HPO_LCBENCH_DIR to the folder that holds lcbench.pt"; \
  }

TaskOptions Steps(int steps) {
  TaskOptions o;
  o.steps = steps;
  return o;
}

std::unique_ptr<Task> Make3945() {
  absl::StatusOr<std::unique_ptr<Task>> task = MakeLcbenchTask("3945", ModelDir());
  EXPECT_TRUE(task.ok()) << task.status();
  return task.ok() ? std::move(*task) : nullptr;
}

TEST(LcbenchTest, ReproducesTheReadmeExample) {
  SKIP_WITHOUT_MODEL();
  std::unique_ptr<Task> task = Make3945();
  ASSERT_NE(task, nullptr);
  EXPECT_EQ(task->name(), "lcbench-3945");
  task_testing::RecordingReporter reporter;
  absl::StatusOr<double> value =
      task->Evaluate(task_testing::LcbenchReadmeParams(), Steps(52), reporter);
  ASSERT_TRUE(value.ok()) << value.status();
  ASSERT_EQ(reporter.lines.size(), 52u);
  for (int epoch = 1; epoch <= 52; ++epoch) {
    const core::MetricLine& line = reporter.lines[epoch - 1];
    EXPECT_EQ(line.step, epoch);
    EXPECT_EQ(line.final, epoch == 52);
    EXPECT_EQ(line.metrics.at("epoch"), epoch);
    EXPECT_DOUBLE_EQ(line.metrics.at("value"), 100 - line.metrics.at("val_accuracy"));
  }
  // val_accuracy by epoch 1/5/10/26/52 = 50.35 / 91.58 / 92.34 / 92.60 / 93.35.
  const std::vector<std::pair<int, double>> expected = {
      {1, 50.35}, {5, 91.58}, {10, 92.34}, {26, 92.60}, {52, 93.35}};
  for (const auto& [epoch, accuracy] : expected) {
    EXPECT_NEAR(reporter.lines[epoch - 1].metrics.at("val_accuracy"), accuracy, 0.01)
        << "epoch " << epoch;
  }
  EXPECT_NEAR(reporter.lines.back().metrics.at("time"), 138.8, 0.05);
  EXPECT_NEAR(*value, 100 - 93.35, 0.01);
  EXPECT_EQ(*value, reporter.lines.back().metrics.at("value"));
}

TEST(LcbenchTest, BlackboxIsEpoch52) {
  SKIP_WITHOUT_MODEL();
  std::unique_ptr<Task> task = Make3945();
  ASSERT_NE(task, nullptr);
  task_testing::RecordingReporter one;
  absl::StatusOr<double> value =
      task->Evaluate(task_testing::LcbenchReadmeParams(), TaskOptions{}, one);
  ASSERT_TRUE(value.ok()) << value.status();
  ASSERT_EQ(one.lines.size(), 1u);
  EXPECT_EQ(one.lines[0].metrics.at("epoch"), 52);
  EXPECT_TRUE(one.lines[0].final);
  task_testing::RecordingReporter curve;
  absl::StatusOr<double> last =
      task->Evaluate(task_testing::LcbenchReadmeParams(), Steps(52), curve);
  ASSERT_TRUE(last.ok()) << last.status();
  // Batch size 1 and 52 may round differently in the last float digits.
  EXPECT_NEAR(*value, *last, 1e-4);
}

TEST(LcbenchTest, StepsSpreadOverTheEpochs) {
  SKIP_WITHOUT_MODEL();
  std::unique_ptr<Task> task = Make3945();
  ASSERT_NE(task, nullptr);
  task_testing::RecordingReporter reporter;
  ASSERT_TRUE(task->Evaluate(task_testing::LcbenchReadmeParams(), Steps(5), reporter).ok());
  std::vector<double> epochs;
  for (const core::MetricLine& line : reporter.lines) epochs.push_back(line.metrics.at("epoch"));
  // ceil(52 t / 5).
  EXPECT_THAT(epochs, ::testing::ElementsAre(11, 21, 32, 42, 52));
  // The surrogate's training time grows with the epochs.
  for (size_t i = 1; i < reporter.lines.size(); ++i) {
    EXPECT_GT(reporter.lines[i].metrics.at("time"), reporter.lines[i - 1].metrics.at("time"));
  }
}

// ValuesAt reads the epochs of the curve Evaluate reports, any subset in any order, and
// ValuesAtMany several configurations in one call.
TEST(LcbenchTest, ValuesAtReadsEpochsOfTheCurve) {
  SKIP_WITHOUT_MODEL();
  std::unique_ptr<Task> task = Make3945();
  ASSERT_NE(task, nullptr);
  task_testing::RecordingReporter reporter;
  ASSERT_TRUE(task->Evaluate(task_testing::LcbenchReadmeParams(), Steps(52), reporter).ok());
  auto values = task->ValuesAt(task_testing::LcbenchReadmeParams(), {52, 1, 9});
  ASSERT_TRUE(values.ok()) << values.status();
  ASSERT_EQ(values->size(), 3u);
  EXPECT_NEAR((*values)[0], reporter.lines[51].metrics.at("value"), 1e-4);
  EXPECT_NEAR((*values)[1], reporter.lines[0].metrics.at("value"), 1e-4);
  EXPECT_NEAR((*values)[2], reporter.lines[8].metrics.at("value"), 1e-4);
  auto many = task->ValuesAtMany({{task_testing::LcbenchReadmeParams(), {9}},
                                  {task_testing::LcbenchReadmeParams(), {}},
                                  {task_testing::LcbenchReadmeParams(), {1, 52}}});
  ASSERT_TRUE(many.ok()) << many.status();
  ASSERT_EQ(many->size(), 3u);
  EXPECT_NEAR((*many)[0][0], (*values)[2], 1e-4);
  EXPECT_TRUE((*many)[1].empty());
  EXPECT_NEAR((*many)[2][1], (*values)[0], 1e-4);
  EXPECT_EQ(task->ValuesAt(task_testing::LcbenchReadmeParams(), {0}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(LcbenchTest, BadOptionsAndParams) {
  SKIP_WITHOUT_MODEL();
  std::unique_ptr<Task> task = Make3945();
  ASSERT_NE(task, nullptr);
  task_testing::RecordingReporter reporter;
  absl::StatusOr<double> v =
      task->Evaluate(task_testing::LcbenchReadmeParams(), Steps(53), reporter);
  EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(v.status().message(), "lcbench-3945: steps must be in [1, 52], got 53");
  v = task->Evaluate(task_testing::LcbenchReadmeParams(), Steps(0), reporter);
  EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);

  hpo::v1::ParamMap p = task_testing::LcbenchReadmeParams();
  (*p.mutable_values())["batch_size"].set_int_value(1024);
  v = task->Evaluate(p, TaskOptions{}, reporter);
  EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(v.status().message(), HasSubstr("batch_size"));

  p = task_testing::LcbenchReadmeParams();
  p.mutable_values()->erase("momentum");
  v = task->Evaluate(p, TaskOptions{}, reporter);
  EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(v.status().message(), HasSubstr("momentum"));
  EXPECT_TRUE(reporter.lines.empty());
}

TEST(LcbenchTest, ReporterFalseStops) {
  SKIP_WITHOUT_MODEL();
  std::unique_ptr<Task> task = Make3945();
  ASSERT_NE(task, nullptr);
  task_testing::RecordingReporter reporter(/*stop_after=*/3);
  absl::StatusOr<double> v =
      task->Evaluate(task_testing::LcbenchReadmeParams(), Steps(52), reporter);
  EXPECT_EQ(v.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(v.status().message(), "lcbench-3945: stopped at step 3");
  EXPECT_EQ(reporter.lines.size(), 3u);
}

TEST(LcbenchTest, OptimumIsUnknown) {
  SKIP_WITHOUT_MODEL();
  std::unique_ptr<Task> task = Make3945();
  ASSERT_NE(task, nullptr);
  EXPECT_TRUE(std::isnan(task->optimum()));
  EXPECT_TRUE(task->optimum_params().values().empty());
  EXPECT_EQ(task->dimension(), 7);
}

TEST(LcbenchTest, TasksDifferAndTheModelIsLoadedOnce) {
  SKIP_WITHOUT_MODEL();
  absl::StatusOr<std::unique_ptr<Task>> a = MakeLcbenchTask("3945", ModelDir());
  absl::StatusOr<std::unique_ptr<Task>> b = MakeLcbenchTask("7593", ModelDir());
  ASSERT_TRUE(a.ok() && b.ok());
  task_testing::RecordingReporter ra, rb;
  absl::StatusOr<double> va =
      (*a)->Evaluate(task_testing::LcbenchReadmeParams(), TaskOptions{}, ra);
  absl::StatusOr<double> vb =
      (*b)->Evaluate(task_testing::LcbenchReadmeParams(), TaskOptions{}, rb);
  ASSERT_TRUE(va.ok() && vb.ok());
  EXPECT_GT(std::fabs(*va - *vb), 0.1);

  const std::string path = (fs::path(ModelDir()) / "lcbench.pt").string();
  absl::StatusOr<std::shared_ptr<const LcbenchSurrogate>> s1 = LcbenchSurrogate::Load(path);
  absl::StatusOr<std::shared_ptr<const LcbenchSurrogate>> s2 = LcbenchSurrogate::Load(path);
  ASSERT_TRUE(s1.ok() && s2.ok());
  EXPECT_EQ(s1->get(), s2->get());
  EXPECT_EQ((*s1)->Predict(34, {}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(LcbenchTest, ConcurrentEvaluationsAgreeWithSerialOnes) {
  SKIP_WITHOUT_MODEL();
  std::unique_ptr<Task> task = Make3945();
  ASSERT_NE(task, nullptr);
  const hpo::v1::SearchSpace space = task->space();
  core::Rng rng(11);
  std::vector<hpo::v1::ParamMap> points;
  for (int i = 0; i < 8; ++i) points.push_back(core::SampleUniform(space, rng));
  std::vector<double> serial(points.size()), parallel(points.size());
  for (size_t i = 0; i < points.size(); ++i) {
    task_testing::RecordingReporter r;
    serial[i] = *task->Evaluate(points[i], Steps(52), r);
  }
  std::vector<std::thread> threads;
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&, k] {
      for (size_t i = k; i < points.size(); i += 4) {
        task_testing::RecordingReporter r;
        absl::StatusOr<double> v = task->Evaluate(points[i], Steps(52), r);
        parallel[i] = v.ok() ? *v : NAN;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (size_t i = 0; i < points.size(); ++i) EXPECT_EQ(parallel[i], serial[i]) << i;
  // Values are error rates in [0, 100].
  for (double v : serial) {
    EXPECT_GE(v, 0);
    EXPECT_LE(v, 100);
  }
}

TEST(LcbenchTest, MissingModelIsAFailedPrecondition) {
  absl::StatusOr<std::unique_ptr<Task>> task = MakeLcbenchTask("3945", "/nonexistent/lcbench");
  EXPECT_EQ(task.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(task.status().message(),
            "LCBench surrogate not found at /nonexistent/lcbench/lcbench.pt: set HPO_LCBENCH_DIR");
  absl::StatusOr<std::vector<std::string>> ids = LcbenchTaskIds("/nonexistent/lcbench");
  EXPECT_EQ(ids.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(ids.status().message(), HasSubstr("/nonexistent/lcbench/encoding.json"));
  // A name that cannot be an OpenML task id is an error even without the model.
  task = MakeLcbenchTask("39x5", "/nonexistent/lcbench");
  EXPECT_EQ(task.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(task.status().message(),
            "'lcbench-39x5' is not an LCBench task (lcbench-<OpenML task id>)");
}

TEST(LcbenchTest, EnvironmentVariableChoosesTheDirectory) {
  const char* old = std::getenv("HPO_LCBENCH_DIR");
  const std::string saved = old == nullptr ? "" : old;
  ASSERT_EQ(setenv("HPO_LCBENCH_DIR", "/nonexistent/env-lcbench", 1), 0);
  EXPECT_EQ(DefaultLcbenchDir(), "/nonexistent/env-lcbench");
  // Through MakeTask: linking hpo_lcbench registered the family.
  absl::StatusOr<std::unique_ptr<Task>> task = MakeTask("lcbench-3945");
  EXPECT_EQ(task.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(task.status().message(),
            "LCBench surrogate not found at /nonexistent/env-lcbench/lcbench.pt: set "
            "HPO_LCBENCH_DIR");
  if (old == nullptr) {
    unsetenv("HPO_LCBENCH_DIR");
  } else {
    setenv("HPO_LCBENCH_DIR", saved.c_str(), 1);
  }
}

TEST(LcbenchTest, CorruptModelIsAFailedPrecondition) {
  const fs::path dir = fs::path(::testing::TempDir()) / "lcbench_corrupt";
  fs::create_directories(dir);
  std::ofstream(dir / "lcbench.pt") << "not a TorchScript archive";
  std::ofstream(dir / "encoding.json") << R"({"OpenML_task_id": {"#na#": 0, "3945": 1, "9": 2}})";
  std::ofstream(dir / "config_space.json")
      << R"({"hyperparameters": [{"name": "OpenML_task_id", "type": "categorical",
            "choices": ["3945", "77"]}]})";
  absl::StatusOr<std::vector<std::string>> ids = LcbenchTaskIds(dir.string());
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_THAT(*ids, ::testing::ElementsAre("3945"));  // 9 is not declared, 77 not encoded

  absl::StatusOr<std::unique_ptr<Task>> task = MakeLcbenchTask("77", dir.string());
  EXPECT_EQ(task.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(task.status().message(), "unknown LCBench task '77'; OpenML task ids: 3945");

  task = MakeLcbenchTask("3945", dir.string());
  EXPECT_EQ(task.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(task.status().message()),
              StartsWith(absl::StrCat("cannot load LCBench surrogate ",
                                      (dir / "lcbench.pt").string(), ": ")));
  // Only LibTorch's first line, not its backtrace.
  EXPECT_THAT(task.status().message(), Not(HasSubstr("\n")));

  std::ofstream(dir / "encoding.json") << "{broken";
  ids = LcbenchTaskIds(dir.string());
  EXPECT_EQ(ids.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ids.status().message(), (dir / "encoding.json").string() + ": not valid JSON");
}

TEST(LcbenchTest, TaskIds) {
  SKIP_WITHOUT_MODEL();
  absl::StatusOr<std::vector<std::string>> ids = LcbenchTaskIds(ModelDir());
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_EQ(ids->size(), 34u);
  EXPECT_EQ(ids->front(), "3945");
  EXPECT_EQ(ids->back(), "189909");
  EXPECT_THAT(*ids, Contains("168330"));
  // encoding.json also encodes 167083, which config_space.json does not offer.
  EXPECT_THAT(*ids, Not(Contains("167083")));
  EXPECT_EQ(std::set<std::string>(ids->begin(), ids->end()).size(), 34u);

  // Every one of them makes a task, through MakeTask too.
  for (const std::string& id : *ids) {
    absl::StatusOr<std::unique_ptr<Task>> task = MakeTask("lcbench-" + id);
    ASSERT_TRUE(task.ok()) << task.status();
    EXPECT_EQ((*task)->name(), "lcbench-" + id);
  }
  std::vector<std::string> all = AllTaskNames();
  EXPECT_THAT(all, Contains("lcbench-3945"));
  EXPECT_EQ(all.size(), TaskNames().size() + 34);

  absl::StatusOr<std::unique_ptr<Task>> task = MakeLcbenchTask("167083", ModelDir());
  EXPECT_EQ(task.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(task.status().message()),
              StartsWith("unknown LCBench task '167083'; OpenML task ids: 3945, 7593, 34539,"));
}

// The space matches config_space.json (less OpenML_task_id and the fidelity, epoch).
TEST(LcbenchTest, SpaceMatchesConfigSpaceJson) {
  SKIP_WITHOUT_MODEL();
  std::ifstream in(fs::path(ModelDir()) / "config_space.json");
  ASSERT_TRUE(in);
  const nlohmann::json json = nlohmann::json::parse(in);
  const hpo::v1::SearchSpace space = LcbenchSpace();
  EXPECT_TRUE(core::ValidateSearchSpace(space).ok());
  int matched = 0;
  for (const nlohmann::json& hp : json["hyperparameters"]) {
    const std::string name = hp["name"];
    if (name == "OpenML_task_id" || name == "epoch") continue;
    SCOPED_TRACE(name);
    const hpo::v1::ParamSpec* spec = core::FindParam(space, name);
    ASSERT_NE(spec, nullptr);
    ++matched;
    const double low = hp["lower"], high = hp["upper"];
    const bool log = hp["log"];
    if (hp["type"] == "uniform_int") {
      ASSERT_TRUE(spec->has_int_domain());
      EXPECT_EQ(spec->int_domain().low(), low);
      EXPECT_EQ(spec->int_domain().high(), high);
      EXPECT_EQ(spec->int_domain().log(), log);
    } else {
      ASSERT_EQ(hp["type"], "uniform_float");
      ASSERT_TRUE(spec->has_float_domain());
      // The JSON writes 1e-4 as 0.00010000000000000009.
      EXPECT_NEAR(spec->float_domain().low(), low, 1e-12 * std::fabs(low));
      EXPECT_NEAR(spec->float_domain().high(), high, 1e-12 * std::fabs(high));
      EXPECT_EQ(spec->float_domain().log(), log);
    }
  }
  EXPECT_EQ(matched, space.params_size());
  EXPECT_EQ(matched, 7);
}

#ifdef HPO_TASK_PATH
// hpo-task runs the surrogate as a process.
TEST(LcbenchTest, HpoTaskRunsIt) {
  SKIP_WITHOUT_MODEL();
  const std::string command = absl::StrCat(
      "HPO_LCBENCH_DIR='", ModelDir(), "' ", HPO_TASK_PATH,
      " lcbench-3945 --batch_size=64 --learning_rate=3e-3 --momentum=0.9 --weight_decay=1e-4"
      " --num_layers=3 --max_units=256 --max_dropout=0.1 --steps=2");
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof(buf), pipe)) out.append(buf, n);
  EXPECT_EQ(pclose(pipe), 0) << out;
  std::vector<std::string> lines;
  for (size_t start = 0, end; (end = out.find('\n', start)) != std::string::npos; start = end + 1) {
    lines.push_back(out.substr(start, end - start));
  }
  ASSERT_EQ(lines.size(), 2u) << out;
  absl::StatusOr<core::MetricLine> last = core::ParseMetricLine(lines[1]);
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_TRUE(last->final);
  EXPECT_EQ(last->metrics.at("epoch"), 52);
  EXPECT_NEAR(last->metrics.at("value"), 100 - 93.35, 0.01);
}
#endif

}  // namespace
}  // namespace hpo::tasks
