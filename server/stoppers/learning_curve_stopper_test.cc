#include "server/stoppers/learning_curve_stopper.h"

#include <cmath>
#include <random>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/stoppers/stopper_testing.h"
#include "server/stoppers/svr_ensemble.h"

namespace hpo::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::StopperError;
using testing::StudyFixture;

TEST(SvrEnsembleTest, PredictsASmoothFunctionWithACalibratedSpread) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(0, 1);
  std::normal_distribution<double> noise(0, 0.05);
  auto f = [](double a, double b) { return std::sin(3 * a) + b * b; };
  std::vector<std::vector<double>> x;
  std::vector<double> y;
  for (int i = 0; i < 150; ++i) {
    const double a = u(rng), b = u(rng);
    x.push_back({a, b});
    y.push_back(f(a, b) + noise(rng));
  }
  SvrEnsembleOptions options;
  options.seed = 3;
  auto model = SvrEnsemble::Fit(x, y, options);
  ASSERT_TRUE(model.ok()) << model.status();
  double sse = 0;
  int covered = 0;
  const int kHeldOut = 200;
  for (int i = 0; i < kHeldOut; ++i) {
    const double a = u(rng), b = u(rng);
    const double truth = f(a, b) + noise(rng);
    const SvrEnsemble::Forecast p = (*model)->Predict({a, b});
    sse += (p.mean - truth) * (p.mean - truth);
    covered += std::abs(p.mean - truth) <= 1.96 * p.spread ? 1 : 0;
  }
  EXPECT_LT(std::sqrt(sse / kHeldOut), 0.15);  // the targets span about 1.9
  // Roughly calibrated: most 95% intervals hold the truth, and they are not absurdly wide.
  EXPECT_GE(covered, 0.8 * kHeldOut);
  EXPECT_LT((*model)->Predict({0.5, 0.5}).spread, 0.5);
  // Fitting is deterministic for a seed.
  auto again = SvrEnsemble::Fit(x, y, options);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->Predict({0.2, 0.9}).mean, (*model)->Predict({0.2, 0.9}).mean);
}

TEST(SvrEnsembleTest, SpreadFollowsTheErrorWhereThePredictionLies) {
  // Noise grows with the target: sd 0.01 near y = 0, 0.3 near y = 1. One global error term
  // would be far too wide for the good (low) predictions and too narrow for the bad ones.
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> u(0, 1);
  std::normal_distribution<double> unit_noise(0, 1);
  auto noisy = [&](double a) { return a + (0.01 + 0.3 * a) * unit_noise(rng); };
  std::vector<std::vector<double>> x;
  std::vector<double> y;
  for (int i = 0; i < 300; ++i) {
    const double a = u(rng);
    x.push_back({a});
    y.push_back(noisy(a));
  }
  SvrEnsembleOptions options;
  options.seed = 5;
  auto model = SvrEnsemble::Fit(x, y, options);
  ASSERT_TRUE(model.ok()) << model.status();
  const double low = (*model)->Predict({0.05}).spread;
  const double high = (*model)->Predict({0.95}).spread;
  EXPECT_LT(low, 0.5 * (*model)->cv_rmse());
  EXPECT_GT(high, 3 * low);
  // Still calibrated at both ends.
  int covered_low = 0, covered_high = 0;
  const int kHeldOut = 200;
  for (int i = 0; i < kHeldOut; ++i) {
    const double a = 0.2 * u(rng), b = 0.8 + 0.2 * u(rng);
    const SvrEnsemble::Forecast pa = (*model)->Predict({a});
    const SvrEnsemble::Forecast pb = (*model)->Predict({b});
    covered_low += std::abs(pa.mean - noisy(a)) <= 1.96 * pa.spread ? 1 : 0;
    covered_high += std::abs(pb.mean - noisy(b)) <= 1.96 * pb.spread ? 1 : 0;
  }
  EXPECT_GE(covered_low, 0.85 * kHeldOut);
  EXPECT_GE(covered_high, 0.85 * kHeldOut);
}

TEST(SvrEnsembleTest, RefusesTooFewOrBadRows) {
  SvrEnsembleOptions options;
  EXPECT_EQ(SvrEnsemble::Fit({{1}, {2}}, {1, 2}, options).status().code(),
            absl::StatusCode::kInvalidArgument);
  std::vector<std::vector<double>> x(10, {1.0});
  std::vector<double> y(10, 1.0);
  x[3] = {NAN};
  EXPECT_EQ(SvrEnsemble::Fit(x, y, options).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(CurveFeaturesTest, HyperparametersThenTheCurveOnAGridAndItsDifferences) {
  // Steps out of order and a gap: each grid step takes the last value reported at or before it.
  EXPECT_THAT(CurveFeatures({0.5}, {{1, 4}, {3, 2}, {2, 3}}, 4),
              ElementsAre(0.5, 4, 3, 2, 2, -1, -1, 0, 0, 1));
  // Before the first report, the first value.
  EXPECT_THAT(CurveFeatures({}, {{3, 7}}, 3), ElementsAre(7, 7, 7, 0, 0, 0));
  // A long prefix is sampled at 16 steps from 1 to tau: 16 values, 15 and 14 differences.
  std::vector<std::pair<int64_t, double>> curve;
  for (int t = 1; t <= 52; ++t) curve.emplace_back(t, 100.0 / t);
  const std::vector<double> f = CurveFeatures({0.1, 0.2}, curve, 46);
  ASSERT_EQ(f.size(), 2u + 16 + 15 + 14);
  EXPECT_EQ(f[2], 100.0);        // step 1
  EXPECT_EQ(f[17], 100.0 / 46);  // step 46
}

// A curve family with a known truth: a hyperparameter x in [0, 1] sets the final loss
// (x - 0.3)^2 + 0.1 and the height of the curve above it, (0.5 + x) e^(-t/6).
double FinalLoss(double x) { return (x - 0.3) * (x - 0.3) + 0.1; }
double LossAt(double x, int64_t t) { return FinalLoss(x) + (0.5 + x) * std::exp(-t / 6.0); }

hpo::v1::Trial CurveTrial(int64_t id, double x, int64_t steps, hpo::v1::TrialState state) {
  std::vector<double> values;
  for (int64_t t = 1; t <= steps; ++t) values.push_back(LossAt(x, t));
  hpo::v1::Trial trial = testing::WithCurve(id, state, values);
  (*trial.mutable_params()->mutable_values())["x"].set_float_value(x);
  if (state == hpo::v1::COMPLETED) {
    trial.set_has_value(true);
    trial.set_value(values.back());
  }
  return trial;
}

class LearningCurveStopperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto* x = study_.spec().mutable_space()->add_params();
    x->set_name("x");
    x->mutable_float_domain()->set_low(0);
    x->mutable_float_domain()->set_high(1);
  }
  // `n` complete 27-step curves at x spread over [0, 1].
  void Complete(int n) {
    std::mt19937_64 rng(11);
    std::uniform_real_distribution<double> u(0, 1);
    for (int i = 0; i < n; ++i) {
      study_.trials().push_back(CurveTrial(static_cast<int64_t>(study_.trials().size()) + 1, u(rng),
                                           27, hpo::v1::COMPLETED));
    }
  }
  std::unique_ptr<LearningCurveStopper> Make(int min_curves = 20, int64_t warmup = 0,
                                             const std::string& fallback = "median") {
    LearningCurveStopper::Options options;
    options.fallback = fallback;
    options.min_curves = min_curves;
    options.warmup_steps = warmup;
    options.wait_for_fits = true;
    return std::make_unique<LearningCurveStopper>(options);
  }
  StudyFixture study_;
};

TEST_F(LearningCurveStopperTest, PredictsHeldOutFinalValuesWithinTolerance) {
  Complete(60);
  auto stopper = Make();
  int close = 0;
  const int kHeldOut = 40;
  for (int i = 0; i < kHeldOut; ++i) {
    const double x = (i + 0.5) / kHeldOut;
    const hpo::v1::Trial trial = CurveTrial(1000 + i, x, 9, hpo::v1::RUNNING);
    const hpo::v1::StopJudgement j = study_.Judge(*stopper, trial);
    ASSERT_EQ(j.rule(), "learning_curve") << j.summary();
    ASSERT_TRUE(j.has_prediction());
    EXPECT_EQ(j.prediction().step(), 9);
    EXPECT_EQ(j.prediction().curves(), 60);
    // The finals span 0.1 .. 0.59: within 0.05 counts as close.
    close += std::abs(j.prediction().mean() - LossAt(x, 27)) <= 0.05 ? 1 : 0;
  }
  EXPECT_GE(close, 0.9 * kHeldOut);
}

TEST_F(LearningCurveStopperTest, StopsATrialUnlikelyToBeatTheBestAndSaysWhy) {
  Complete(40);
  auto stopper = Make();
  const hpo::v1::StopJudgement bad =
      study_.Judge(*stopper, CurveTrial(500, 0.97, 3, hpo::v1::RUNNING));
  EXPECT_EQ(bad.decision(), hpo::v1::STOP) << bad.summary();
  EXPECT_EQ(bad.rule(), "learning_curve");
  EXPECT_EQ(bad.step(), 3);
  EXPECT_LT(bad.prediction().p_better(), 0.05);
  EXPECT_NEAR(bad.prediction().mean(), FinalLoss(0.97), 0.1);
  EXPECT_GT(bad.prediction().spread(), 0);
  EXPECT_THAT(bad.summary(), HasSubstr("learning_curve: at step 3 (value "));
  EXPECT_THAT(bad.summary(), HasSubstr("(a model of 40 curves); P(beats the best "));
  // A promising one continues, and its forecast is kept all the same.
  const hpo::v1::StopJudgement good =
      study_.Judge(*stopper, CurveTrial(501, 0.3, 3, hpo::v1::RUNNING));
  EXPECT_EQ(good.decision(), hpo::v1::CONTINUE) << good.summary();
  EXPECT_TRUE(good.has_prediction());
  EXPECT_GE(good.prediction().p_better(), 0.05);
  // Between rungs nothing is judged.
  EXPECT_EQ(study_.Judge(*stopper, CurveTrial(502, 0.97, 4, hpo::v1::RUNNING)).rule(), "");
}

TEST_F(LearningCurveStopperTest, FallsBackToTheMedianRuleUntilItHasEnoughCurves) {
  Complete(5);
  auto stopper = Make(/*min_curves=*/20);
  const hpo::v1::StopJudgement j =
      study_.Judge(*stopper, CurveTrial(500, 0.97, 1, hpo::v1::RUNNING));
  EXPECT_EQ(j.rule(), "learning_curve/median");
  EXPECT_EQ(j.decision(), hpo::v1::STOP);  // worse than the median of 5 at step 1
  EXPECT_THAT(j.summary(),
              ::testing::StartsWith("learning_curve (no model yet), median: at step 1"));
  EXPECT_FALSE(j.has_prediction());
  EXPECT_EQ(stopper->fit_stats().fits, 0);
  // Or to ASHA, or to nothing.
  const hpo::v1::StopJudgement asha =
      study_.Judge(*Make(20, 0, "asha"), CurveTrial(500, 0.97, 1, hpo::v1::RUNNING));
  EXPECT_EQ(asha.rule(), "learning_curve/asha");
  EXPECT_EQ(asha.decision(), hpo::v1::STOP);  // the worst of 6 at rung 1
  EXPECT_EQ(study_.Judge(*Make(20, 0, "none"), CurveTrial(500, 0.97, 1, hpo::v1::RUNNING)).rule(),
            "");
  EXPECT_EQ(StopperError("learning_curve", {{"fallback", "hyperband"}}),
            "early_stopping.options.fallback: 'hyperband' is not one of median, asha, none");
}

TEST_F(LearningCurveStopperTest, NeverStopsBeforeWarmup) {
  Complete(40);
  auto stopper = Make(20, /*warmup=*/5);
  const hpo::v1::Trial bad = CurveTrial(500, 0.97, 9, hpo::v1::RUNNING);
  EXPECT_EQ(study_.Judge(*stopper, bad, 0).decision(), hpo::v1::STOP);  // at rung 9
  EXPECT_EQ(study_.Judge(*stopper, bad, 0).step(), 9);
  const hpo::v1::Trial early = CurveTrial(500, 0.97, 3, hpo::v1::RUNNING);
  EXPECT_EQ(study_.Judge(*stopper, early, 0).rule(), "");  // rungs 1 and 3: before warm-up
}

TEST_F(LearningCurveStopperTest, RefitsOnlyWhenEnoughNewCurvesCame) {
  Complete(20);
  auto stopper = Make();
  const hpo::v1::Trial t = CurveTrial(500, 0.5, 1, hpo::v1::RUNNING);
  study_.Judge(*stopper, t);
  EXPECT_EQ(stopper->fit_stats().fits, 1);
  EXPECT_EQ(stopper->fit_stats().curves, 20);
  Complete(2);
  study_.Judge(*stopper, t);
  EXPECT_EQ(stopper->fit_stats().fits, 1);  // 22 < 20 + max(3, 2)
  Complete(1);
  study_.Judge(*stopper, t);
  EXPECT_EQ(stopper->fit_stats().fits, 2);
  EXPECT_EQ(stopper->fit_stats().curves, 23);
}

TEST_F(LearningCurveStopperTest, WarmStartCurvesCountFromTheFirstTrial) {
  StudyFixture earlier;
  earlier.spec() = study_.spec();
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> u(0, 1);
  for (int i = 0; i < 30; ++i) {
    earlier.trials().push_back(CurveTrial(i + 1, u(rng), 27, hpo::v1::COMPLETED));
  }
  earlier.trials().push_back(CurveTrial(99, 0.5, 9, hpo::v1::PRUNED));  // not a complete curve
  auto stopper = Make();
  EXPECT_EQ(stopper->WarmStart(study_.spec(), {&earlier.trials()}), 30);
  // One trial of its own completed (the incumbent); the model already has 31 curves.
  study_.trials().push_back(CurveTrial(1, 0.3, 27, hpo::v1::COMPLETED));
  const hpo::v1::StopJudgement j = study_.Judge(*stopper, CurveTrial(2, 0.97, 3, hpo::v1::RUNNING));
  EXPECT_EQ(j.rule(), "learning_curve");
  EXPECT_EQ(j.prediction().curves(), 31);
  EXPECT_EQ(j.decision(), hpo::v1::STOP) << j.summary();
  EXPECT_NEAR(j.prediction().incumbent(), LossAt(0.3, 27), 1e-12);
}

// Warm start learns only from studies of the same task, space and objective; their names,
// budgets, optimizers and stoppers may differ.
TEST(SameTaskAndSpaceTest, ComparesTaskSpaceAndObjectiveOnly) {
  hpo::v1::StudySpec a;
  a.set_name("a");
  a.mutable_objective()->set_metric("loss");
  a.mutable_task()->set_builtin("branin");
  (*a.mutable_task()->mutable_builtin_args())["steps"] = "10";
  (*a.mutable_task()->mutable_builtin_args())["step_ms"] = "0";
  auto* x = a.mutable_space()->add_params();
  x->set_name("x");
  x->mutable_float_domain()->set_low(0);
  x->mutable_float_domain()->set_high(1);
  hpo::v1::StudySpec b = a;
  b.set_name("b");
  b.mutable_budget()->set_max_trials(7);
  b.mutable_optimizer()->set_name("tpe");
  b.mutable_early_stopping()->set_name("asha");
  EXPECT_TRUE(SameTaskAndSpace(a, b));
  hpo::v1::StudySpec other_space = a;
  other_space.mutable_space()->mutable_params(0)->mutable_float_domain()->set_high(2);
  EXPECT_FALSE(SameTaskAndSpace(a, other_space));
  hpo::v1::StudySpec other_task = a;
  (*other_task.mutable_task()->mutable_builtin_args())["steps"] = "20";
  EXPECT_FALSE(SameTaskAndSpace(a, other_task));
  hpo::v1::StudySpec other_objective = a;
  other_objective.mutable_objective()->set_direction(hpo::v1::MAXIMIZE);
  EXPECT_FALSE(SameTaskAndSpace(a, other_objective));
  hpo::v1::StudySpec command = a;
  command.mutable_task()->mutable_command()->add_argv("train.py");
  EXPECT_FALSE(SameTaskAndSpace(a, command));
}

TEST(LearningCurveOptionsTest, AreChecked) {
  EXPECT_EQ(StopperError("learning_curve", {{"threshold", "0"}}),
            "early_stopping.options.threshold: '0' is not a number in (0, 1]");
  EXPECT_EQ(StopperError("learning_curve", {{"min_curves", "3"}}),
            "early_stopping.options.min_curves: '3' is not an integer >= 6");
  EXPECT_EQ(StopperError("learning_curve", {{"warm_start", "a,,b"}}),
            "early_stopping.options.warm_start: empty study name in 'a,,b'");
  EXPECT_THAT(StopperError("learning_curve", {{"tau", "3"}}),
              HasSubstr("unknown option for stopper 'learning_curve' (known: eta, fallback, "
                        "max_step, min_curves, min_step, threshold, warm_start, warmup_steps)"));
  EXPECT_NE(testing::MakeStopper("learning_curve", {{"warm_start", "none"}, {"eta", "2"}}),
            nullptr);
}

}  // namespace
}  // namespace hpo::server
