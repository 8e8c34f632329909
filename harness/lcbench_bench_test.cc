// The LCBench tasks in the bench harness: served by hpo-task-lcbench (the harness links no
// LibTorch), skipped with a clear message when the model is absent.
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "harness/bench.h"
#include "harness/in_process_runner.h"
#include "harness/pipe_process.h"
#include "harness/served_task.h"
#include "harness/task_source.h"
#include "nlohmann/json.hpp"
#include "tasks/lcbench_data.h"
#include "tasks/task_testing.h"
#include "worker/test_util.h"

namespace hpo::harness {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using worker::test_util::ReadFile;
namespace fs = std::filesystem;

bool HaveModel() { return tasks::CheckLcbenchModel().ok(); }

bool HaveHelper() { return ::access(HPO_TASK_LCBENCH_PATH, X_OK) == 0; }

#define SKIP_WITHOUT_LCBENCH()                                \
  if (!HaveModel()) {                                         \
    GTEST_SKIP() << tasks::CheckLcbenchModel().message()      \
                 << " (to the folder that holds lcbench.pt)"; \
  }                                                           \
  if (!HaveHelper()) GTEST_SKIP() << HPO_TASK_LCBENCH_PATH << " not built (LibTorch not found)"

// A new empty directory for one test.
std::string TempDir(const std::string& name) {
  return worker::test_util::MakeTempDir("hpo_lcbench_bench_" + name);
}

// Sets an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_.has_value()) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// The README's example configuration for task 3945: val_accuracy 93.3497 at epoch 52.
constexpr char kReadmeParams[] =
    R"({"batch_size": 64, "learning_rate": 0.003, "momentum": 0.9, "weight_decay": 0.0001, )"
    R"("num_layers": 3, "max_units": 256, "max_dropout": 0.1})";
constexpr double kReadmeValue = 100.0 - 93.3497;

nlohmann::json Ask(PipeProcess& p, const std::string& line) {
  EXPECT_TRUE(p.WriteLine(line).ok());
  auto answer = p.ReadLine(absl::Now() + absl::Seconds(120));
  EXPECT_TRUE(answer.ok()) << answer.status();
  if (!answer.ok() || !answer->has_value()) return nullptr;
  return nlohmann::json::parse(**answer);
}

// ------------------------------------------------------------------ the serve protocol

TEST(LcbenchServeTest, AnswersRequestsUntilEndOfInput) {
  SKIP_WITHOUT_LCBENCH();
  // Through hpo-task, which hands lcbench names (and --serve) over to hpo-task-lcbench.
  for (const char* program : {HPO_TASK_LCBENCH_PATH, HPO_TASK_PATH}) {
    SCOPED_TRACE(program);
    auto p = PipeProcess::Spawn({{program, "--serve", "lcbench-3945"}, ""});
    ASSERT_TRUE(p.ok()) << p.status();

    nlohmann::json a = Ask(**p, absl::StrCat(R"({"params": )", kReadmeParams, "}"));
    ASSERT_TRUE(a.contains("value")) << a.dump();
    EXPECT_NEAR(a["value"].get<double>(), kReadmeValue, 0.01);

    ASSERT_TRUE((*p)->WriteLine("").ok());  // blank lines are ignored
    nlohmann::json bad = Ask(**p, R"({"params": {"batch_size": 64}})");
    EXPECT_EQ(bad.value("code", 0), static_cast<int>(absl::StatusCode::kInvalidArgument));
    EXPECT_THAT(bad.value("error", ""), HasSubstr("learning_rate"));
    nlohmann::json unknown = Ask(**p, R"({"params": {"lr": 0.1}})");
    EXPECT_THAT(unknown.value("error", ""), HasSubstr("unknown parameter 'lr'"));
    nlohmann::json garbage = Ask(**p, "not json");
    EXPECT_THAT(garbage.value("error", ""), HasSubstr("expected a JSON object"));
    // With "steps", the curve too.
    nlohmann::json curve = Ask(**p, absl::StrCat(R"({"steps": 4, "params": )", kReadmeParams, "}"));
    ASSERT_TRUE(curve.contains("curve")) << curve.dump();
    ASSERT_EQ(curve["curve"].size(), 4u);
    EXPECT_EQ(curve["curve"][3].get<double>(), curve["value"].get<double>());
    nlohmann::json zero = Ask(**p, absl::StrCat(R"({"steps": 0, "params": )", kReadmeParams, "}"));
    EXPECT_THAT(zero.value("error", ""), HasSubstr("steps: expected an integer in [1, 100000]"));

    // Still serving after errors, and the same answer again.
    nlohmann::json again = Ask(**p, absl::StrCat(R"({"params": )", kReadmeParams, "}"));
    EXPECT_EQ(again, a);

    auto code = (*p)->Close(absl::Seconds(30));
    ASSERT_TRUE(code.ok()) << code.status();
    EXPECT_EQ(*code, 0);
  }
}

TEST(LcbenchServeTest, ServedTaskEvaluatesThroughTheHelper) {
  SKIP_WITHOUT_LCBENCH();
  TaskFactory factory = LcbenchTaskFactory({HPO_TASK_LCBENCH_PATH});
  auto task = factory("lcbench-3945");
  ASSERT_TRUE(task.ok()) << task.status();
  EXPECT_EQ((*task)->name(), "lcbench-3945");
  EXPECT_EQ((*task)->space().SerializeAsString(), tasks::LcbenchSpace().SerializeAsString());
  EXPECT_TRUE(std::isnan((*task)->optimum()));

  std::vector<double> seen;
  tasks::CallbackReporter reporter([&seen](const core::MetricLine& line) {
    seen.push_back(line.metrics.at("value"));
    return true;
  });
  auto value = (*task)->Evaluate(tasks::task_testing::LcbenchReadmeParams(), {}, reporter);
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_NEAR(*value, kReadmeValue, 0.01);
  EXPECT_THAT(seen, ElementsAre(*value));

  // Another task of the same factory; the helper of the first is reused.
  auto other = factory("lcbench-7593");
  ASSERT_TRUE(other.ok()) << other.status();
  auto other_value = (*other)->Evaluate(tasks::task_testing::LcbenchReadmeParams(), {}, reporter);
  ASSERT_TRUE(other_value.ok()) << other_value.status();
  EXPECT_NE(*other_value, *value);
  auto repeat = (*task)->Evaluate(tasks::task_testing::LcbenchReadmeParams(), {}, reporter);
  ASSERT_TRUE(repeat.ok()) << repeat.status();
  EXPECT_EQ(*repeat, *value);

  hpo::v1::ParamMap bad = tasks::task_testing::LcbenchReadmeParams();
  (*bad.mutable_values())["batch_size"].set_int_value(4096);
  auto out_of_range = (*task)->Evaluate(bad, {}, reporter);
  EXPECT_EQ(out_of_range.status().code(), absl::StatusCode::kInvalidArgument);
  // The learning curve, epoch by epoch, ends where the blackbox does.
  seen.clear();
  auto curve =
      (*task)->Evaluate(tasks::task_testing::LcbenchReadmeParams(), {/*steps=*/52, 0}, reporter);
  ASSERT_TRUE(curve.ok()) << curve.status();
  EXPECT_NEAR(*curve, *value, 1e-3);
  ASSERT_EQ(seen.size(), 52u);
  EXPECT_EQ(seen.back(), *curve);
  EXPECT_GT(seen.front(), seen.back());  // 100 - accuracy falls as it trains
  auto no_steps =
      (*task)->Evaluate(tasks::task_testing::LcbenchReadmeParams(), {/*steps=*/0, 0}, reporter);
  EXPECT_EQ(no_steps.status().code(), absl::StatusCode::kInvalidArgument);

  // Epochs of several configurations in one round trip agree with the curve.
  hpo::v1::ParamMap other_params = tasks::task_testing::LcbenchReadmeParams();
  (*other_params.mutable_values())["num_layers"].set_int_value(2);
  auto many = (*task)->ValuesAtMany(
      {{tasks::task_testing::LcbenchReadmeParams(), {1, 52, 3}}, {other_params, {52}}});
  ASSERT_TRUE(many.ok()) << many.status();
  ASSERT_EQ(many->size(), 2u);
  ASSERT_EQ((*many)[0].size(), 3u);
  EXPECT_NEAR((*many)[0][0], seen[0], 1e-3);
  EXPECT_NEAR((*many)[0][1], seen[51], 1e-3);
  EXPECT_NEAR((*many)[0][2], seen[2], 1e-3);
  ASSERT_EQ((*many)[1].size(), 1u);
  EXPECT_NE((*many)[1][0], (*many)[0][1]);
  auto bad_epoch = (*task)->ValuesAt(tasks::task_testing::LcbenchReadmeParams(), {53});
  EXPECT_EQ(bad_epoch.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad_epoch.status().message(), HasSubstr("epochs must be in [1, 52], got 53"));

  auto unknown = factory("lcbench-1");
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(unknown.status().message(), HasSubstr("3945"));
}

// Live (not reaped) child processes of this one.
int Children() {
  int n = 0;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string stat = ReadFile((entry.path() / "stat").string());
    const size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::vector<std::string> f = absl::StrSplit(stat.substr(close + 2), ' ');
    if (f.size() > 1 && f[1] == std::to_string(::getpid())) ++n;
  }
  return n;
}

TEST(LcbenchServeTest, IdleHelpersBeyondTheCapAreClosed) {
  SKIP_WITHOUT_LCBENCH();
  const int before = Children();
  {
    LcbenchFactoryOptions options;
    options.executable = HPO_TASK_LCBENCH_PATH;
    options.max_idle = 1;
    TaskFactory factory = LcbenchTaskFactory(options);
    tasks::CallbackReporter ignore([](const core::MetricLine&) { return true; });
    std::vector<double> values;
    for (const char* name : {"lcbench-3945", "lcbench-7593", "lcbench-3945"}) {
      auto task = factory(name);
      ASSERT_TRUE(task.ok()) << task.status();
      auto value = (*task)->Evaluate(tasks::task_testing::LcbenchReadmeParams(), {}, ignore);
      ASSERT_TRUE(value.ok()) << value.status();
      values.push_back(*value);
      EXPECT_EQ(Children(), before + 1) << name;  // the other task's helper was closed
    }
    EXPECT_EQ(values[0], values[2]);
  }
  EXPECT_EQ(Children(), before);  // the factory's last copy closed its helpers
}

TEST(LcbenchServeTest, MissingHelperIsAFailedPrecondition) {
  SKIP_WITHOUT_LCBENCH();
  auto task = LcbenchTaskFactory({"/nonexistent/hpo-task-lcbench"})("lcbench-3945");
  EXPECT_EQ(task.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(task.status().message(), HasSubstr("/nonexistent/hpo-task-lcbench"));
}

TEST(LcbenchServeTest, AMistypedTaskIsNotFoundWithOrWithoutTheModel) {
  for (const char* name : {"lcbench-39x5", "lcbench-"}) {
    auto task = LcbenchTaskFactory({"/nonexistent/hpo-task-lcbench"})(name);
    EXPECT_EQ(task.status().code(), absl::StatusCode::kNotFound) << name;
    EXPECT_EQ(task.status().message(),
              absl::StrCat("'", name, "' is not an LCBench task (lcbench-<OpenML task id>)"));
  }
}

TEST(LcbenchSuiteTest, ExpandsToTheSurrogatesTasks) {
  SKIP_WITHOUT_LCBENCH();
  auto names = ExpandTasks("lcbench", BuiltinTaskFactory());
  ASSERT_TRUE(names.ok()) << names.status();
  EXPECT_EQ(names->size(), 34u);
  EXPECT_EQ(names->front(), "lcbench-3945");
  auto unknown = ExpandTasks("lcbench-1", BuiltinTaskFactory());
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
}

// ------------------------------------------------------------------ the bench

// final.csv rows (optimizer, task, seed, best, regret, score) of `task`.
std::vector<std::vector<std::string>> FinalRows(const std::string& dir, const std::string& task) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(ReadFile(dir + "/final.csv"));
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> f = absl::StrSplit(line, ',');
    if (f.size() == 6 && f[1] == task) rows.push_back(f);
  }
  return rows;
}

TEST(LcbenchBenchTest, RandomAndTpeOnLcbench3945) {
  SKIP_WITHOUT_LCBENCH();
  const std::string dir = TempDir("bench");
  TaskFactory tasks = BuiltinTaskFactory();
  auto names = ExpandTasks("lcbench-3945", tasks);
  ASSERT_TRUE(names.ok()) << names.status();
  auto runner = InProcessRunner::Create({tasks, &server::MakeOptimizer});
  ASSERT_TRUE(runner.ok()) << runner.status();
  Router router = [&](const std::string&) -> absl::StatusOr<Route> {
    return Route{runner->get(), "", "fp"};
  };
  BenchOptions options;
  options.optimizers = {"random", "tpe"};
  options.tasks = *names;
  options.seeds = 2;
  options.trials = 10;
  options.out_dir = dir;
  options.jobs = 2;
  options.task_factory = tasks;
  auto summary = RunBench(options, router);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->ran, 4);
  EXPECT_EQ(summary->failed, 0) << (summary->notes.empty() ? "" : summary->notes[0]);

  const auto rows = FinalRows(dir, "lcbench-3945");
  ASSERT_EQ(rows.size(), 4u);
  for (const auto& row : rows) {
    SCOPED_TRACE(absl::StrJoin(row, ","));
    const double best = std::stod(row[3]);
    EXPECT_TRUE(std::isfinite(best));
    EXPECT_GT(best, 0);
    EXPECT_LT(best, 100);
    EXPECT_EQ(row[4], "nan");  // regret: the optimum is unknown
    const double score = std::stod(row[5]);
    EXPECT_GE(score, 0);
    EXPECT_LE(score, 1);
  }
  const std::string report = ReadFile(dir + "/report.md");
  EXPECT_THAT(report, HasSubstr("| lcbench-3945 | random | 2 | 10 |"));
  EXPECT_THAT(report, HasSubstr(" | n/a | "));
  EXPECT_THAT(report, ::testing::Not(HasSubstr("nan")));
}

TEST(LcbenchBenchTest, AbsentModelSkipsTheTasksWithOneMessage) {
  const std::string empty = TempDir("empty");
  ScopedEnv env("HPO_LCBENCH_DIR", empty);
  const std::string model = (fs::path(empty) / "lcbench.pt").string();
  const std::string reason =
      absl::StrCat("LCBench surrogate not found at ", model, ": set HPO_LCBENCH_DIR");

  TaskFactory tasks = BuiltinTaskFactory();
  auto direct = tasks("lcbench-3945");
  EXPECT_EQ(direct.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(direct.status().message(), reason);

  auto names = ExpandTasks("lcbench-3945,lcbench-7593,branin,lcbench", tasks);
  ASSERT_TRUE(names.ok()) << names.status();
  EXPECT_THAT(*names, ElementsAre("lcbench-3945", "lcbench-7593", "branin", "lcbench"));

  auto runner = InProcessRunner::Create({tasks, &server::MakeOptimizer});
  ASSERT_TRUE(runner.ok()) << runner.status();
  Router router = [&](const std::string&) -> absl::StatusOr<Route> {
    return Route{runner->get(), "", "fp"};
  };
  BenchOptions options;
  options.optimizers = {"random"};
  options.tasks = *names;
  options.seeds = 1;
  options.trials = 5;
  options.out_dir = TempDir("absent");
  options.task_factory = tasks;
  auto summary = RunBench(options, router);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->ran, 1);
  // The two tasks' runs are skipped; the suite, whose tasks cannot be listed, counts none.
  EXPECT_EQ(summary->skipped, 2);
  EXPECT_EQ(summary->total, 3);
  EXPECT_THAT(
      summary->notes,
      ElementsAre(absl::StrCat("lcbench-3945, lcbench-7593, lcbench (suite): skipped: ", reason)));
  const std::string report = ReadFile(options.out_dir + "/report.md");
  EXPECT_THAT(report, HasSubstr("| branin | random | 1 | 5 |"));
  EXPECT_THAT(report, HasSubstr(absl::StrCat(
                          "- lcbench-3945, lcbench-7593, lcbench (suite): skipped: ", reason)));
}

}  // namespace
}  // namespace hpo::harness
