#include "tasks/synthetic_tasks.h"

#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/search_space.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tasks/task.h"

namespace hpo::tasks {
namespace {

using ::testing::ElementsAre;
using ::testing::UnorderedElementsAreArray;

std::unique_ptr<SyntheticTask> MakeSynthetic(const std::string& name) {
  absl::StatusOr<std::unique_ptr<Task>> task = MakeTask(name);
  EXPECT_TRUE(task.ok()) << task.status();
  if (!task.ok()) return nullptr;
  auto* synthetic = dynamic_cast<SyntheticTask*>(task->get());
  EXPECT_NE(synthetic, nullptr) << name;
  if (synthetic == nullptr) return nullptr;
  task->release();
  return std::unique_ptr<SyntheticTask>(synthetic);
}

hpo::v1::ParamMap Point(const std::vector<double>& x) {
  hpo::v1::ParamMap p;
  for (size_t i = 0; i < x.size(); ++i) {
    (*p.mutable_values())["x" + std::to_string(i + 1)].set_float_value(x[i]);
  }
  return p;
}

// Value at params, after the same validation Evaluate does.
double ValueAt(const SyntheticTask& task, const hpo::v1::ParamMap& params) {
  const hpo::v1::SearchSpace space = task.space();
  const absl::Status valid = core::ValidateParams(space, params);
  EXPECT_TRUE(valid.ok()) << valid;
  return task.Value(core::NormalizeParams(space, params));
}

TEST(SuiteTest, SuiteOrderAndMembers) {
  EXPECT_THAT(SuiteTaskNames(), ElementsAre("branin", "hartmann3", "hartmann6", "rosenbrock",
                                            "levy5", "ackley5", "styblinski_tang4", "michalewicz5",
                                            "shekel4", "six_hump_camel", "mixed", "mixed2"));
  EXPECT_THAT(SuiteTaskNames(), UnorderedElementsAreArray(TaskNames()));
}

TEST(SuiteTest, Dimensions) {
  const std::vector<std::pair<std::string, int>> expected = {
      {"branin", 2},           {"hartmann3", 3},    {"hartmann6", 6},
      {"rosenbrock", 4},       {"levy5", 5},        {"ackley5", 5},
      {"styblinski_tang4", 4}, {"michalewicz5", 5}, {"shekel4", 4},
      {"six_hump_camel", 2},   {"mixed", 4},        {"mixed2", 6}};
  for (const auto& [name, dim] : expected) {
    EXPECT_EQ((*MakeTask(name))->dimension(), dim) << name;
  }
}

// The optimum each task reports agrees with the published value to the published digits, and
// the task's own argmin reaches it.
TEST(SuiteTest, OptimaMatchPublishedValues) {
  struct Published {
    const char* name;
    double value;
    double tolerance;  // half a unit in the last published digit
  };
  const Published kPublished[] = {
      {"branin", 0.397887, 5e-7},
      {"hartmann3", -3.86278, 5e-6},
      {"hartmann6", -3.32237, 5e-6},
      {"rosenbrock", 0, 0},
      {"levy5", 0, 0},
      {"ackley5", 0, 0},
      {"styblinski_tang4", -39.16617 * 4, 4 * 5e-6},
      {"michalewicz5", -4.687658, 5e-7},
      {"shekel4", -10.5364, 5e-5},
      {"six_hump_camel", -1.0316, 5e-5},
      {"mixed", 0, 0},
      {"mixed2", 0, 0},
  };
  for (const Published& p : kPublished) {
    SCOPED_TRACE(p.name);
    std::unique_ptr<SyntheticTask> task = MakeSynthetic(p.name);
    ASSERT_NE(task, nullptr);
    EXPECT_NEAR(task->optimum(), p.value, p.tolerance);
    // The argmin gives the optimum to (nearly) double precision.
    EXPECT_NEAR(ValueAt(*task, task->optimum_params()), task->optimum(),
                1e-13 * (1 + std::fabs(task->optimum())));
  }
}

// Around the argmin of each continuous function, every coordinate step of +-1e-4 (kept inside
// the box) gives a larger value: the argmin is a local minimum, not just a good point.
TEST(SuiteTest, ArgminIsALocalMinimum) {
  for (const std::string& name : SuiteTaskNames()) {
    if (name == "mixed" || name == "mixed2") continue;
    SCOPED_TRACE(name);
    std::unique_ptr<SyntheticTask> task = MakeSynthetic(name);
    ASSERT_NE(task, nullptr);
    const hpo::v1::SearchSpace space = task->space();
    const hpo::v1::ParamMap best = task->optimum_params();
    for (const hpo::v1::ParamSpec& spec : space.params()) {
      for (double delta : {-1e-4, 1e-4}) {
        hpo::v1::ParamMap p = best;
        const double v = best.values().at(spec.name()).float_value() + delta;
        if (v < spec.float_domain().low() || v > spec.float_domain().high()) continue;
        (*p.mutable_values())[spec.name()].set_float_value(v);
        EXPECT_GT(ValueAt(*task, p), task->optimum()) << spec.name() << " " << delta;
      }
    }
  }
}

// No uniformly drawn point of the space beats the optimum.
TEST(SuiteTest, NoRandomPointBeatsTheOptimum) {
  for (const std::string& name : SuiteTaskNames()) {
    SCOPED_TRACE(name);
    std::unique_ptr<SyntheticTask> task = MakeSynthetic(name);
    ASSERT_NE(task, nullptr);
    const hpo::v1::SearchSpace space = task->space();
    core::Rng rng(20240601);
    double best = INFINITY;
    for (int i = 0; i < 10000; ++i) {
      const hpo::v1::ParamMap p = core::SampleUniform(space, rng);
      ASSERT_TRUE(core::ValidateParams(space, p).ok());
      best = std::min(best, task->Value(p));
    }
    EXPECT_GE(best, task->optimum());
    EXPECT_TRUE(std::isfinite(best));
  }
}

TEST(SuiteTest, HandCheckedValues) {
  // Reference values from an independent implementation in 40-digit arithmetic (mpmath), or by
  // hand where noted.
  EXPECT_NEAR(ValueAt(*MakeHartmann3(), Point({0, 0, 0})), -0.067974116590134672, 1e-13);
  EXPECT_NEAR(ValueAt(*MakeHartmann3(), Point({0.5, 0.5, 0.5})), -0.6280220150705942, 1e-13);

  EXPECT_NEAR(ValueAt(*MakeLevy5(), Point({0, 0, 0, 0, 0})), 0.98837821646789788, 1e-13);
  EXPECT_NEAR(ValueAt(*MakeLevy5(), Point({2, -3, 0.5, 7, -10})), 33.249744738828065, 1e-11);

  // By hand: cos(2 pi) = 1, so f(1, ..., 1) = 20 (1 - exp(-0.2)).
  EXPECT_NEAR(ValueAt(*MakeAckley5(), Point({1, 1, 1, 1, 1})), 20 * (1 - std::exp(-0.2)), 1e-13);
  EXPECT_NEAR(ValueAt(*MakeAckley5(), Point({0.5, -2, 3, 10, -32.768})), 20.274637998615287, 1e-12);

  // By hand: 4 (1 - 16 + 5) / 2 and (200 + 250 - 1.4375 - 73.4375) / 2.
  EXPECT_DOUBLE_EQ(ValueAt(*MakeStyblinskiTang4(), Point({1, 1, 1, 1})), -20);
  EXPECT_DOUBLE_EQ(ValueAt(*MakeStyblinskiTang4(), Point({-5, 5, 0.5, -2.5})), 187.5625);

  // By hand: at pi/2, sin(i pi / 4)^20 is 2^-10, 1, 2^-10, 0, 2^-10.
  EXPECT_NEAR(ValueAt(*MakeMichalewicz5(), Point(std::vector<double>(5, M_PI / 2))),
              -(1 + 3.0 / 1024), 1e-13);
  EXPECT_NEAR(ValueAt(*MakeMichalewicz5(), Point({1, 2, 3, 0.5, 2.5})), -0.00033506032490317745,
              1e-15);

  EXPECT_NEAR(ValueAt(*MakeShekel4(), Point({4, 4, 4, 4})), -10.536283726219604, 1e-12);
  EXPECT_NEAR(ValueAt(*MakeShekel4(), Point({0, 0, 0, 0})), -0.32172905163821668, 1e-14);
  EXPECT_NEAR(ValueAt(*MakeShekel4(), Point({1, 8, 1, 8})), -0.40538412310668714, 1e-14);

  // By hand: (4 - 2.1 + 1/3) + 1 + 0, and the second minimum, the mirror image of the first.
  EXPECT_NEAR(ValueAt(*MakeSixHumpCamel(), Point({1, 1})), 4 - 2.1 + 1.0 / 3 + 1, 1e-13);
  EXPECT_NEAR(ValueAt(*MakeSixHumpCamel(), Point({-1.5, 0.75})), 0.05625, 1e-13);
  EXPECT_NEAR(ValueAt(*MakeSixHumpCamel(), Point({-0.089842013100318062, 0.71265640302073963})),
              -1.0316284534898774, 1e-15);
}

hpo::v1::ParamMap Mixed2Point(double lr, int64_t units, int64_t layers, const std::string& opt) {
  hpo::v1::ParamMap p;
  (*p.mutable_values())["lr"].set_float_value(lr);
  (*p.mutable_values())["units"].set_int_value(units);
  (*p.mutable_values())["layers"].set_int_value(layers);
  (*p.mutable_values())["optimizer"].set_string_value(opt);
  return p;
}

TEST(SuiteTest, Mixed2Values) {
  std::unique_ptr<SyntheticTask> task = MakeMixed2();
  ASSERT_TRUE(core::ValidateSearchSpace(task->space()).ok());
  // (-3 + 2 + 0.5)^2 + (4 - 7)^2 / 4 + 0.1 (2 - 4)^2 + 0.05 + 0.5 (no dropout below 3 layers).
  EXPECT_NEAR(ValueAt(*task, Mixed2Point(1e-3, 16, 2, "adam")), 0.25 + 2.25 + 0.4 + 0.05 + 0.5,
              1e-12);
  // 1 + 9 / 4 + 0.4 + 0.3 + 4 (0.7 - 0.2)^2.
  hpo::v1::ParamMap p = Mixed2Point(0.1, 1024, 6, "rmsprop");
  (*p.mutable_values())["dropout"].set_float_value(0.7);
  EXPECT_NEAR(ValueAt(*task, p), 1 + 2.25 + 0.4 + 0.3 + 1, 1e-12);
  // 0.1 (3 - 4)^2 + 2 (0.4 - 0.9)^2.
  p = Mixed2Point(0.01, 128, 3, "sgd");
  (*p.mutable_values())["momentum"].set_float_value(0.4);
  (*p.mutable_values())["dropout"].set_float_value(0.2);
  EXPECT_NEAR(ValueAt(*task, p), 0.1 + 0.5, 1e-12);
  // adam's best is 0.05, at lr = 10^-2.5.
  p = Mixed2Point(std::pow(10, -2.5), 128, 4, "adam");
  (*p.mutable_values())["dropout"].set_float_value(0.2);
  EXPECT_NEAR(ValueAt(*task, p), 0.05, 1e-12);
}

TEST(SuiteTest, Mixed2ConditionsFollowTheirParents) {
  std::unique_ptr<SyntheticTask> task = MakeMixed2();
  const hpo::v1::SearchSpace space = task->space();
  // dropout (int parent) is inactive at 2 layers; momentum (categorical parent) with adam.
  hpo::v1::ParamMap p = Mixed2Point(0.01, 128, 2, "adam");
  (*p.mutable_values())["dropout"].set_float_value(0.2);
  absl::Status s = core::ValidateParams(space, p);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("dropout"));

  p = Mixed2Point(0.01, 128, 2, "adam");
  (*p.mutable_values())["momentum"].set_float_value(0.9);
  s = core::ValidateParams(space, p);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("momentum"));

  // Both are required when active.
  p = Mixed2Point(0.01, 128, 5, "sgd");
  s = core::ValidateParams(space, p);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);

  // Uniform samples carry dropout exactly when layers >= 3 and momentum exactly with sgd.
  core::Rng rng(7);
  int with_dropout = 0, with_momentum = 0;
  for (int i = 0; i < 1000; ++i) {
    const hpo::v1::ParamMap q = core::SampleUniform(space, rng);
    const bool deep = q.values().at("layers").int_value() >= 3;
    const bool sgd = q.values().at("optimizer").string_value() == "sgd";
    EXPECT_EQ(q.values().count("dropout") == 1, deep);
    EXPECT_EQ(q.values().count("momentum") == 1, sgd);
    with_dropout += deep;
    with_momentum += sgd;
  }
  EXPECT_GT(with_dropout, 0);
  EXPECT_LT(with_dropout, 1000);
  EXPECT_GT(with_momentum, 0);
  EXPECT_LT(with_momentum, 1000);
}

}  // namespace
}  // namespace hpo::tasks
