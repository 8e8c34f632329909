#include "server/stoppers/asha_stopper.h"

#include <cmath>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/stoppers/hyperband_stopper.h"
#include "server/stoppers/stopper_testing.h"

namespace hpo::server {
namespace {

using ::testing::ElementsAre;
using testing::MakeStopper;
using testing::StopperError;
using testing::StudyFixture;
using testing::WithCurve;

TEST(AshaLadderTest, RungsAreMinStepTimesPowersOfEtaBelowMaxStep) {
  AshaLadder ladder{3, 1, 0};
  EXPECT_THAT(ladder.RungsUpTo(100), ElementsAre(1, 3, 9, 27, 81));
  EXPECT_THAT(ladder.RungsUpTo(0), ElementsAre());
  ladder.max_step = 27;  // a trial at 27 has ended: no rung there
  EXPECT_THAT(ladder.RungsUpTo(100), ElementsAre(1, 3, 9));
  AshaLadder four{4, 2, 52};
  EXPECT_THAT(four.RungsUpTo(1000), ElementsAre(2, 8, 32));
  AshaLadder huge{2, int64_t{1} << 61, 0};  // no overflow
  EXPECT_THAT(huge.RungsUpTo(std::numeric_limits<int64_t>::max()),
              ElementsAre(int64_t{1} << 61, int64_t{1} << 62));
}

TEST(AshaStopperTest, KeepsTheTopThirdAtEachRung) {
  StudyFixture study;
  // Values at rung 1 (step 1): 1, 2, 3, 4, 5 from five other trials, in any state.
  study.trials() = {WithCurve(1, hpo::v1::COMPLETED, {1}),
                    WithCurve(2, hpo::v1::PRUNED, {2}),
                    WithCurve(3, hpo::v1::RUNNING, {3}),
                    WithCurve(4, hpo::v1::FAILED, {4}),
                    WithCurve(5, hpo::v1::COMPLETED, {5}),
                    WithCurve(6, hpo::v1::LOST, {0})};  // a lost attempt does not count
  auto asha = MakeStopper("asha", {});
  // n = 6 with the judged trial: the top ceil(6/3) = 2 continue.
  hpo::v1::StopJudgement j = study.Judge(*asha, WithCurve(9, hpo::v1::RUNNING, {2.5}));
  EXPECT_EQ(j.decision(), hpo::v1::STOP);
  EXPECT_EQ(j.rule(), "asha");
  EXPECT_EQ(j.rung(), 1);
  EXPECT_EQ(j.step(), 1);
  EXPECT_EQ(j.value(), 2.5);
  EXPECT_EQ(j.rank(), 3);
  EXPECT_EQ(j.compared(), 6);
  EXPECT_EQ(j.keep(), 2);
  EXPECT_EQ(j.cutoff(), 2);
  EXPECT_EQ(j.summary(),
            "asha: at rung 1 (step 1) value 2.5 ranks 3 of 6; the top 2 (cutoff 2) continue");
  hpo::v1::StopJudgement kept = study.Judge(*asha, WithCurve(9, hpo::v1::RUNNING, {1.5}));
  EXPECT_EQ(kept.decision(), hpo::v1::CONTINUE);
  EXPECT_EQ(kept.rank(), 2);
  // Ties continue: rank counts strictly better values only.
  EXPECT_EQ(study.Judge(*asha, WithCurve(9, hpo::v1::RUNNING, {2})).decision(), hpo::v1::CONTINUE);
  // Between rungs nothing is judged.
  hpo::v1::StopJudgement between =
      study.Judge(*asha, WithCurve(9, hpo::v1::RUNNING, {1.5, 100}, {1, 2}));
  EXPECT_EQ(between.decision(), hpo::v1::CONTINUE);
  EXPECT_EQ(between.rule(), "");
}

TEST(AshaStopperTest, MaximizeRanksTheOtherWay) {
  StudyFixture study(hpo::v1::MAXIMIZE);
  study.trials() = {WithCurve(1, hpo::v1::COMPLETED, {1}), WithCurve(2, hpo::v1::COMPLETED, {2}),
                    WithCurve(3, hpo::v1::COMPLETED, {3})};
  auto asha = MakeStopper("asha", {});
  // 3 > 2.5 > 2 > 1: rank 2 of 4, and the top ceil(4/3) = 2 continue.
  hpo::v1::StopJudgement j = study.Judge(*asha, WithCurve(9, hpo::v1::RUNNING, {2.5}));
  EXPECT_EQ(j.decision(), hpo::v1::CONTINUE);
  EXPECT_EQ(j.rank(), 2);
  EXPECT_EQ(j.keep(), 2);
  EXPECT_EQ(j.cutoff(), 2.5);
  j = study.Judge(*asha, WithCurve(9, hpo::v1::RUNNING, {1.5}));
  EXPECT_EQ(j.decision(), hpo::v1::STOP);
  EXPECT_EQ(j.rank(), 3);
  EXPECT_EQ(j.cutoff(), 2);
}

TEST(AshaStopperTest, FewerThanEtaValuesContinue) {
  StudyFixture study;
  study.trials() = {WithCurve(1, hpo::v1::COMPLETED, {1})};
  auto asha = MakeStopper("asha", {});
  hpo::v1::StopJudgement j = study.Judge(*asha, WithCurve(9, hpo::v1::RUNNING, {100}));
  EXPECT_EQ(j.decision(), hpo::v1::CONTINUE);
  EXPECT_EQ(j.compared(), 2);
  EXPECT_EQ(j.summary(),
            "asha: at rung 1 (step 1) value 100; 2 values at the rung, fewer than eta = 3: "
            "continues");
}

TEST(AshaStopperTest, NaNIsTheWorstValue) {
  StudyFixture study;
  study.trials() = {WithCurve(1, hpo::v1::COMPLETED, {NAN}),
                    WithCurve(2, hpo::v1::COMPLETED, {1e9}),
                    WithCurve(3, hpo::v1::COMPLETED, {1e10})};
  auto asha = MakeStopper("asha", {});
  EXPECT_EQ(study.Judge(*asha, WithCurve(9, hpo::v1::RUNNING, {NAN})).decision(), hpo::v1::STOP);
  // A NaN peer ranks below everything: 1e10 is second of four.
  EXPECT_EQ(study.Judge(*asha, WithCurve(9, hpo::v1::RUNNING, {1e10})).rank(), 2);
}

// A trial that skips a rung is judged there with its first value past it; peers too.
TEST(AshaStopperTest, ASkippedRungIsJudgedWithTheFirstValuePastIt) {
  StudyFixture study;
  study.trials() = {WithCurve(1, hpo::v1::COMPLETED, {9, 1, 1}, {1, 3, 9}),
                    WithCurve(2, hpo::v1::COMPLETED, {9, 2, 2}, {1, 4, 9}),  // 3 skipped
                    WithCurve(3, hpo::v1::COMPLETED, {9, 3, 3}, {1, 3, 9})};
  auto asha = MakeStopper("asha", {});
  // Steps 1 then 5: rung 3 is judged at step 5.
  hpo::v1::StopJudgement j = study.Judge(*asha, WithCurve(9, hpo::v1::RUNNING, {9, 2.5}, {1, 5}));
  EXPECT_EQ(j.rung(), 3);
  EXPECT_EQ(j.step(), 5);
  EXPECT_EQ(j.rank(), 3);  // 1, 2 (trial 2's step 4) are better
  EXPECT_EQ(j.keep(), 2);
  EXPECT_EQ(j.decision(), hpo::v1::STOP);
  // Jumping from step 1 to step 20 crosses rungs 3 and 9 in one report: judged at both, the
  // first that stops it decides.
  j = study.Judge(*asha, WithCurve(9, hpo::v1::RUNNING, {9, 1.5}, {1, 20}));
  EXPECT_EQ(j.decision(), hpo::v1::CONTINUE);
  EXPECT_EQ(j.rung(), 9);
}

// Only rungs first reached by the measurements of this report are judged; a rung judged at an
// earlier report is not judged again (the study's values there may have grown stricter since).
TEST(AshaStopperTest, EachRungIsJudgedOnceAtTheReportThatReachesIt) {
  StudyFixture study;
  study.trials() = {WithCurve(1, hpo::v1::COMPLETED, {1, 1}, {1, 3}),
                    WithCurve(2, hpo::v1::COMPLETED, {2, 2}, {1, 3}),
                    WithCurve(3, hpo::v1::COMPLETED, {3, 3}, {1, 3})};
  auto asha = MakeStopper("asha", {});
  const hpo::v1::Trial bad = WithCurve(9, hpo::v1::RUNNING, {5, 5, 5}, {1, 2, 3});
  // Reported one by one: rung 1 stops it at the first report...
  EXPECT_EQ(study.Judge(*asha, bad, 0).rung(), 1);
  EXPECT_EQ(study.Judge(*asha, bad, 0).decision(), hpo::v1::STOP);
  // ...a report of step 2 alone judges nothing, and one of step 3 judges rung 3 only.
  EXPECT_EQ(study.Judge(*asha, WithCurve(9, hpo::v1::RUNNING, {5, 5}, {1, 2}), 1).rule(), "");
  EXPECT_EQ(study.Judge(*asha, bad, 2).rung(), 3);
  // Steps 2 and 3 in one report: rung 3 too.
  EXPECT_EQ(study.Judge(*asha, bad, 1).rung(), 3);
  // Out of order: a step-2 report after step 3 reaches no new rung.
  const hpo::v1::Trial back = WithCurve(9, hpo::v1::RUNNING, {0.5, 0.5, 9}, {1, 3, 2});
  EXPECT_EQ(study.Judge(*asha, back, 2).rule(), "");
}

TEST(AshaStopperTest, OptionsAreChecked) {
  auto s = MakeStopper("asha", {{"eta", "2"}, {"min_step", "4"}, {"max_step", "64"}});
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(StopperError("asha", {{"eta", "1"}}),
            "early_stopping.options.eta: '1' is not an integer >= 2");
  EXPECT_EQ(StopperError("asha", {{"min_step", "0"}}),
            "early_stopping.options.min_step: '0' is not an integer >= 1");
  EXPECT_EQ(StopperError("asha", {{"min_step", "9"}, {"max_step", "9"}}),
            "early_stopping.options.max_step: must be 0 (no end) or above min_step (9), got 9");
  EXPECT_EQ(StopperError("asha", {{"rate", "9"}}),
            "early_stopping.options.rate: unknown option for stopper 'asha' (known: eta, max_step, "
            "min_step)");
}

TEST(HyperbandStopperTest, BracketsAndTheirShares) {
  auto s = MakeStopper("hyperband", {{"max_step", "27"}});
  auto* hb = dynamic_cast<HyperbandStopper*>(s.get());
  ASSERT_NE(hb, nullptr);
  // B = 4 (first rungs 1, 3, 9, 27); Hyperband's n_s = ceil(B·3^s / (s+1)) for s = 3..0.
  EXPECT_EQ(hb->brackets(), 4);
  EXPECT_THAT(hb->shares(), ElementsAre(27, 12, 6, 4));
  // Assignment is a fixed function of the trial number, and follows the shares.
  std::vector<int> counts(4, 0);
  for (int number = 0; number < 49000; ++number) {
    const int b = hb->BracketOf(number);
    ASSERT_EQ(b, hb->BracketOf(number));
    ++counts[b];
  }
  EXPECT_NEAR(counts[0], 27000, 600);
  EXPECT_NEAR(counts[1], 12000, 500);
  EXPECT_NEAR(counts[2], 6000, 400);
  EXPECT_NEAR(counts[3], 4000, 300);
  EXPECT_EQ(StopperError("hyperband", {}),
            "early_stopping.options.max_step: hyperband needs it: the step at which a trial ends "
            "(its rungs and brackets are fractions of it)");
}

TEST(HyperbandStopperTest, TrialsAreJudgedWithinTheirBracketOnly) {
  auto s = MakeStopper("hyperband", {{"max_step", "27"}});
  auto* hb = dynamic_cast<HyperbandStopper*>(s.get());
  ASSERT_NE(hb, nullptr);
  // Numbers in bracket 0 (first rung 1) and in bracket 1 (first rung 3).
  std::vector<int> zero, one;
  for (int n = 0; n < 1000 && (zero.size() < 4 || one.size() < 4); ++n) {
    if (hb->BracketOf(n) == 0 && zero.size() < 4) zero.push_back(n);
    if (hb->BracketOf(n) == 1 && one.size() < 4) one.push_back(n);
  }
  ASSERT_EQ(zero.size(), 4u);
  ASSERT_EQ(one.size(), 4u);
  StudyFixture study;
  auto trial = [](int number, std::vector<double> values) {
    hpo::v1::Trial t = WithCurve(number + 100, hpo::v1::COMPLETED, values, {1, 3});
    t.set_number(number);
    return t;
  };
  // Bracket 1's trials are all better than anything; bracket 0's values at step 1 are 1, 2, 3.
  study.trials() = {trial(zero[0], {1, 1}), trial(zero[1], {2, 2}), trial(zero[2], {3, 3}),
                    trial(one[0], {0, 0}),  trial(one[1], {0, 0}),  trial(one[2], {0, 0})};
  hpo::v1::Trial judged = trial(zero[3], {1.5});
  judged.set_state(hpo::v1::RUNNING);
  hpo::v1::StopJudgement j = study.Judge(*s, judged);
  EXPECT_EQ(j.rule(), "hyperband");
  EXPECT_EQ(j.bracket(), 0);
  EXPECT_EQ(j.rung(), 1);
  EXPECT_EQ(j.compared(), 4);
  EXPECT_EQ(j.rank(), 2);
  EXPECT_EQ(j.decision(), hpo::v1::CONTINUE);
  EXPECT_THAT(j.summary(), ::testing::StartsWith("hyperband (bracket 0 of 4): at rung 1 (step 1)"));
  // In bracket 1 nothing is judged before step 3, and there it ranks against bracket 1 only.
  hpo::v1::Trial early = trial(one[3], {0.5});
  early.set_state(hpo::v1::RUNNING);
  EXPECT_EQ(study.Judge(*s, early).rule(), "");
  hpo::v1::Trial late = trial(one[3], {0.5, 0.5});
  late.set_state(hpo::v1::RUNNING);
  j = study.Judge(*s, late);
  EXPECT_EQ(j.rung(), 3);
  EXPECT_EQ(j.compared(), 4);
  EXPECT_EQ(j.rank(), 4);
  EXPECT_EQ(j.decision(), hpo::v1::STOP);
}

}  // namespace
}  // namespace hpo::server
