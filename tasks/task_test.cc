#include "tasks/task.h"

#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/search_space.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tasks/lcbench_data.h"
#include "tasks/synthetic_tasks.h"
#include "tasks/task_testing.h"

namespace hpo::tasks {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

hpo::v1::ParamMap Floats(const std::vector<std::pair<std::string, double>>& values) {
  hpo::v1::ParamMap p;
  for (const auto& [name, v] : values) (*p.mutable_values())[name].set_float_value(v);
  return p;
}

TaskOptions Options(int steps, int step_ms) {
  TaskOptions o;
  o.steps = steps;
  o.step_ms = step_ms;
  return o;
}

double EvalOnce(const Task& task, const hpo::v1::ParamMap& params) {
  task_testing::RecordingReporter reporter;
  absl::StatusOr<double> v = task.Evaluate(params, TaskOptions{}, reporter);
  EXPECT_TRUE(v.ok()) << v.status();
  return v.ok() ? *v : NAN;
}

TEST(TaskRegistryTest, NamesAreSortedAndEachMakes) {
  EXPECT_THAT(TaskNames(), ElementsAre("ackley5", "branin", "hartmann3", "hartmann6", "levy5",
                                       "michalewicz5", "mixed", "mixed2", "rosenbrock", "shekel4",
                                       "six_hump_camel", "styblinski_tang4"));
  for (const std::string& name : TaskNames()) {
    absl::StatusOr<std::unique_ptr<Task>> task = MakeTask(name);
    ASSERT_TRUE(task.ok()) << task.status();
    EXPECT_EQ((*task)->name(), name);
  }
}

TEST(TaskRegistryTest, UnknownNameListsKnownNames) {
  absl::StatusOr<std::unique_ptr<Task>> task = MakeTask("nope");
  EXPECT_EQ(task.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(task.status().message(),
              HasSubstr("unknown task 'nope'; known tasks: ackley5, branin, hartmann3, "
                        "hartmann6, levy5, michalewicz5, mixed, mixed2, rosenbrock, shekel4, "
                        "six_hump_camel, styblinski_tang4"));
}

// A task of a registered family: f(x) = x on [0, 1].
class IdentityTask final : public SyntheticTask {
 public:
  explicit IdentityTask(std::string name) : name_(std::move(name)) {}
  std::string name() const override { return name_; }
  hpo::v1::SearchSpace space() const override {
    hpo::v1::SearchSpace s;
    hpo::v1::ParamSpec* p = s.add_params();
    p->set_name("x");
    p->mutable_float_domain()->set_low(0);
    p->mutable_float_domain()->set_high(1);
    return s;
  }
  double optimum() const override { return 0; }
  hpo::v1::ParamMap optimum_params() const override { return Floats({{"x", 0}}); }
  double Value(const hpo::v1::ParamMap& params) const override {
    return params.values().at("x").float_value();
  }

 private:
  std::string name_;
};

TEST(TaskRegistryTest, RegisteredFamilyIsFoundByPrefix) {
  TaskFamily family;
  family.prefix = "testfam-";
  family.make = [](absl::string_view name) -> absl::StatusOr<std::unique_ptr<Task>> {
    if (name != "testfam-a" && name != "testfam-b") {
      return absl::NotFoundError(absl::StrCat("no member '", name, "'"));
    }
    return std::unique_ptr<Task>(std::make_unique<IdentityTask>(std::string(name)));
  };
  family.names = [] { return std::vector<std::string>{"testfam-a", "testfam-b"}; };
  RegisterTaskFamily(family);

  absl::StatusOr<std::unique_ptr<Task>> task = MakeTask("testfam-b");
  ASSERT_TRUE(task.ok()) << task.status();
  EXPECT_EQ((*task)->name(), "testfam-b");
  EXPECT_EQ(EvalOnce(**task, Floats({{"x", 0.25}})), 0.25);

  task = MakeTask("testfam-zz");
  EXPECT_EQ(task.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(task.status().message(), "no member 'testfam-zz'");

  task = MakeTask("nope");
  EXPECT_EQ(task.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(task.status().message(), HasSubstr(", styblinski_tang4, testfam-*"));

  std::vector<std::string> all = AllTaskNames();
  ASSERT_EQ(all.size(), TaskNames().size() + 2);
  EXPECT_EQ(all[all.size() - 2], "testfam-a");
  EXPECT_EQ(all.back(), "testfam-b");
  // TaskNames() stays the built-in list.
  EXPECT_EQ(TaskNames().size(), 12u);

  // Registering the prefix again replaces the family.
  family.names = [] { return std::vector<std::string>{"testfam-a"}; };
  RegisterTaskFamily(family);
  EXPECT_EQ(AllTaskNames().size(), TaskNames().size() + 1);
}

TEST(TaskRegistryTest, CheckBuiltinStudy) {
  for (const std::string& name : TaskNames()) {
    auto task = MakeTask(name);
    ASSERT_TRUE(task.ok());
    EXPECT_TRUE(CheckBuiltinStudy(name, (*task)->space()).ok()) << name;
  }
  auto branin = MakeTask("branin");
  ASSERT_TRUE(branin.ok());
  absl::Status s = CheckBuiltinStudy("brannin", (*branin)->space());
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.message(), ::testing::HasSubstr("unknown task 'brannin'; known tasks: ackley5"));
  EXPECT_THAT(s.message(), ::testing::HasSubstr("lcbench-<OpenML task id>"));
  // The space must be the task's (or fit inside it).
  s = CheckBuiltinStudy("hartmann6", (*branin)->space());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "space.x1: float [-5, 10] does not fit task 'hartmann6', which takes float [0, 1]");
  // LCBench names: a numeric id with the LCBench space; an id the surrogate does not serve is
  // refused where its files say so.
  EXPECT_TRUE(CheckBuiltinStudy("lcbench-3945", LcbenchSpace()).ok());
  EXPECT_EQ(CheckBuiltinStudy("lcbench-x1", LcbenchSpace()).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(CheckBuiltinStudy("lcbench-3945", (*branin)->space()).code(),
            absl::StatusCode::kInvalidArgument);
  if (LcbenchTaskIds().ok()) {
    s = CheckBuiltinStudy("lcbench-1", LcbenchSpace());
    EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
    EXPECT_THAT(s.message(), ::testing::HasSubstr("'lcbench-1' is not one of the 34 LCBench"));
  }
}

// A synthetic task's curve depends on how many steps it is asked for: it has no fixed epochs.
TEST(TaskTest, SyntheticTasksHaveNoFixedLengthCurve) {
  auto task = MakeTask("branin");
  ASSERT_TRUE(task.ok());
  auto values = (*task)->ValuesAt((*task)->optimum_params(), {1});
  EXPECT_EQ(values.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(values.status().message(), "branin: no fixed-length learning curve");
  EXPECT_EQ((*task)->ValuesAtMany({{(*task)->optimum_params(), {1}}}).status().code(),
            absl::StatusCode::kUnimplemented);
}

TEST(TaskTest, OptimumParamsReachTheOptimum) {
  for (const std::string& name : TaskNames()) {
    SCOPED_TRACE(name);
    std::unique_ptr<Task> task = *MakeTask(name);
    EXPECT_NEAR(EvalOnce(*task, task->optimum_params()), task->optimum(), 1e-4);
  }
}

TEST(TaskTest, BraninHasThreeMinima) {
  std::unique_ptr<Task> task = MakeBranin();
  EXPECT_NEAR(EvalOnce(*task, Floats({{"x1", -M_PI}, {"x2", 12.275}})), 0.397887, 1e-5);
  EXPECT_NEAR(EvalOnce(*task, Floats({{"x1", M_PI}, {"x2", 2.275}})), 0.397887, 1e-5);
  EXPECT_NEAR(EvalOnce(*task, Floats({{"x1", 9.42478}, {"x2", 2.475}})), 0.397887, 1e-5);
}

TEST(TaskTest, HandCheckedValues) {
  // Branin(0, 0) = 36 + 10 (1 - 1/(8 pi)) + 10.
  EXPECT_NEAR(EvalOnce(*MakeBranin(), Floats({{"x1", 0}, {"x2", 0}})),
              36 + 10 * (1 - 1 / (8 * M_PI)) + 10, 1e-9);
  EXPECT_NEAR(EvalOnce(*MakeRosenbrock(), Floats({{"x1", 0}, {"x2", 0}, {"x3", 0}, {"x4", 0}})),
              3.0, 1e-12);
  EXPECT_NEAR(EvalOnce(*MakeRosenbrock(), Floats({{"x1", 2}, {"x2", 2}, {"x3", 2}, {"x4", 2}})),
              1203.0, 1e-9);
  // Reference values computed independently in Python.
  EXPECT_NEAR(EvalOnce(*MakeHartmann6(),
                       Floats({{"x1", 0}, {"x2", 0}, {"x3", 0}, {"x4", 0}, {"x5", 0}, {"x6", 0}})),
              -0.00508911288366444, 1e-12);
  EXPECT_NEAR(
      EvalOnce(
          *MakeHartmann6(),
          Floats({{"x1", 0.5}, {"x2", 0.5}, {"x3", 0.5}, {"x4", 0.5}, {"x5", 0.5}, {"x6", 0.5}})),
      -0.5053149917022333, 1e-12);
}

TEST(TaskTest, MixedValues) {
  std::unique_ptr<Task> task = MakeMixed();
  hpo::v1::ParamMap p = Floats({{"x", 0}});
  (*p.mutable_values())["n"].set_int_value(1);
  (*p.mutable_values())["kind"].set_string_value("a");
  EXPECT_NEAR(EvalOnce(*task, p), 1 + 0.4 + 1.0, 1e-12);

  p = Floats({{"x", 3}});
  (*p.mutable_values())["n"].set_int_value(5);
  (*p.mutable_values())["kind"].set_string_value("c");
  EXPECT_NEAR(EvalOnce(*task, p), 4 + 0.4 + 0.5, 1e-12);

  // An int parameter given as an integral float is accepted.
  p = Floats({{"x", 1}, {"n", 3}, {"y", 0.8}});
  (*p.mutable_values())["kind"].set_string_value("b");
  EXPECT_NEAR(EvalOnce(*task, p), 4 * 0.25, 1e-12);
}

TEST(TaskTest, LearningCurveEndsAtTheValue) {
  std::unique_ptr<Task> task = MakeBranin();
  const hpo::v1::ParamMap p = Floats({{"x1", 0}, {"x2", 0}});
  const double f = EvalOnce(*task, p);
  task_testing::RecordingReporter reporter;
  absl::StatusOr<double> v = task->Evaluate(p, Options(4, 0), reporter);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(*v, f);
  ASSERT_EQ(reporter.lines.size(), 4u);
  for (int t = 1; t <= 4; ++t) {
    const core::MetricLine& line = reporter.lines[t - 1];
    EXPECT_EQ(line.step, t);
    EXPECT_EQ(line.final, t == 4);
    EXPECT_NEAR(line.metrics.at("value"), f + (std::fabs(f) + 1) * (4.0 - t) / (4.0 * t), 1e-9);
  }
  EXPECT_EQ(reporter.lines.back().metrics.at("value"), f);
  // The curve decreases towards f.
  EXPECT_GT(reporter.lines[0].metrics.at("value"), reporter.lines[1].metrics.at("value"));
}

TEST(TaskTest, StepMsSleepsBetweenSteps) {
  task_testing::RecordingReporter reporter;
  const absl::Time start = absl::Now();
  ASSERT_TRUE(
      MakeBranin()->Evaluate(Floats({{"x1", 0}, {"x2", 0}}), Options(3, 20), reporter).ok());
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(40));
}

TEST(TaskTest, ReporterFalseStops) {
  task_testing::RecordingReporter reporter(/*stop_after=*/2);
  absl::StatusOr<double> v =
      MakeBranin()->Evaluate(Floats({{"x1", 0}, {"x2", 0}}), Options(10, 0), reporter);
  EXPECT_EQ(v.status().code(), absl::StatusCode::kCancelled);
  EXPECT_THAT(v.status().message(), HasSubstr("stopped at step 2"));
  EXPECT_EQ(reporter.lines.size(), 2u);
}

TEST(TaskTest, BadParamsAreRejected) {
  task_testing::RecordingReporter reporter;
  std::unique_ptr<Task> task = MakeBranin();
  absl::StatusOr<double> v = task->Evaluate(Floats({{"x1", 11}, {"x2", 0}}), {}, reporter);
  EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(v.status().message(), HasSubstr("x1"));

  v = task->Evaluate(Floats({{"x1", 0}}), {}, reporter);
  EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(v.status().message(), HasSubstr("x2"));

  v = task->Evaluate(Floats({{"x1", 0}, {"x2", 0}, {"zz", 1}}), {}, reporter);
  EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(v.status().message(), HasSubstr("zz"));

  // y is inactive unless kind == b.
  hpo::v1::ParamMap p = Floats({{"x", 1}, {"y", 0.3}});
  (*p.mutable_values())["n"].set_int_value(3);
  (*p.mutable_values())["kind"].set_string_value("a");
  v = MakeMixed()->Evaluate(p, {}, reporter);
  EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(v.status().message(), HasSubstr("y"));

  v = task->Evaluate(Floats({{"x1", 0}, {"x2", 0}}), Options(0, 0), reporter);
  EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(v.status().message(), "steps must be >= 1, got 0");
  EXPECT_TRUE(reporter.lines.empty());
}

TEST(TaskTest, SpacesAreValid) {
  for (const std::string& name : TaskNames()) {
    SCOPED_TRACE(name);
    EXPECT_TRUE(core::ValidateSearchSpace((*MakeTask(name))->space()).ok());
  }
}

}  // namespace
}  // namespace hpo::tasks
