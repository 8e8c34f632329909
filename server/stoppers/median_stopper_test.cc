#include "server/stoppers/median_stopper.h"

#include <cmath>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/stoppers/stopper_testing.h"

namespace hpo::server {
namespace {

using testing::MakeStopper;
using testing::StopperError;
using testing::StudyFixture;
using testing::WithCurve;

class MedianStopperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    study_.trials() = {WithCurve(1, hpo::v1::COMPLETED, {5, 4, 3}),
                       WithCurve(2, hpo::v1::PRUNED, {6, 5}),
                       WithCurve(3, hpo::v1::RUNNING, {7, 6, 5}),
                       WithCurve(4, hpo::v1::LOST, {0.1, 0.1})};  // lost attempts do not count
  }
  hpo::v1::Decision Decide(EarlyStopper& s, const hpo::v1::Trial& t) {
    return study_.Judge(s, t).decision();
  }
  StudyFixture study_;
};

TEST_F(MedianStopperTest, StopsOnlyWhenBestSoFarIsWorseThanTheMedianOfEveryTrial) {
  auto s = MakeStopper("median", {{"min_trials", "3"}});
  // At step 2 the completed, pruned and running trials reported 4, 5, 6: the median is 5.
  hpo::v1::StopJudgement j = study_.Judge(*s, WithCurve(9, hpo::v1::RUNNING, {9, 5.5}));
  EXPECT_EQ(j.decision(), hpo::v1::STOP);
  EXPECT_EQ(j.rule(), "median");
  EXPECT_EQ(j.step(), 2);
  EXPECT_EQ(j.value(), 5.5);
  EXPECT_EQ(j.cutoff(), 5);
  EXPECT_EQ(j.compared(), 3);
  EXPECT_EQ(j.summary(),
            "median: at step 2 the best value so far 5.5 is worse than the median 5 of 3 other "
            "trials at that step");
  EXPECT_EQ(Decide(*s, WithCurve(9, hpo::v1::RUNNING, {9, 4.5})), hpo::v1::CONTINUE);
  // Best so far (4.9 at step 1) counts, not just the latest value.
  EXPECT_EQ(Decide(*s, WithCurve(9, hpo::v1::RUNNING, {4.9, 5.5})), hpo::v1::CONTINUE);
  // At step 3 only two trials reported: too few to judge.
  hpo::v1::StopJudgement few = study_.Judge(*s, WithCurve(9, hpo::v1::RUNNING, {9, 9, 9}));
  EXPECT_EQ(few.decision(), hpo::v1::CONTINUE);
  EXPECT_EQ(few.rule(), "");
}

TEST_F(MedianStopperTest, MaximizeFlipsTheComparison) {
  study_.spec().mutable_objective()->set_direction(hpo::v1::MAXIMIZE);
  auto s = MakeStopper("median", {{"min_trials", "3"}});
  hpo::v1::StopJudgement j = study_.Judge(*s, WithCurve(9, hpo::v1::RUNNING, {1, 4.5}));
  EXPECT_EQ(j.decision(), hpo::v1::STOP);
  EXPECT_EQ(j.value(), 4.5);
  EXPECT_EQ(j.cutoff(), 5);
  EXPECT_EQ(Decide(*s, WithCurve(9, hpo::v1::RUNNING, {1, 5.5})), hpo::v1::CONTINUE);
}

TEST_F(MedianStopperTest, WarmupAndMinTrialsHoldBack) {
  EXPECT_EQ(
      Decide(*MakeStopper("median", {{"min_trials", "4"}}), WithCurve(9, hpo::v1::RUNNING, {9, 9})),
      hpo::v1::CONTINUE);
  auto warm = MakeStopper("median", {{"min_trials", "2"}, {"warmup_steps", "3"}});
  EXPECT_EQ(Decide(*warm, WithCurve(9, hpo::v1::RUNNING, {9, 9})), hpo::v1::CONTINUE);
  EXPECT_EQ(Decide(*warm, WithCurve(9, hpo::v1::RUNNING, {9, 9, 9})), hpo::v1::STOP);
}

TEST_F(MedianStopperTest, NaNIsTheWorstValue) {
  auto s = MakeStopper("median", {{"min_trials", "3"}});
  EXPECT_EQ(Decide(*s, WithCurve(9, hpo::v1::RUNNING, {NAN, NAN})), hpo::v1::STOP);
}

TEST_F(MedianStopperTest, BadOptionsNameTheField) {
  EXPECT_EQ(StopperError("median", {{"min_trials", "-1"}}),
            "early_stopping.options.min_trials: '-1' is not an integer >= 1");
  EXPECT_EQ(StopperError("median", {{"patience", "3"}}),
            "early_stopping.options.patience: unknown option for stopper 'median' (known: "
            "min_trials, warmup_steps)");
  EXPECT_EQ(StopperError("none", {{"x", "3"}}),
            "early_stopping.options.x: stopper 'none' takes no options");
}

}  // namespace
}  // namespace hpo::server
