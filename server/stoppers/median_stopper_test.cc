#include "server/stoppers/median_stopper.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hpo::server {
namespace {

hpo::v1::Trial WithCurve(int64_t id, hpo::v1::TrialState state, std::vector<double> values) {
  hpo::v1::Trial t;
  t.set_id(id);
  t.set_state(state);
  for (size_t i = 0; i < values.size(); ++i) {
    auto* m = t.add_measurements();
    m->set_step(static_cast<int64_t>(i + 1));
    (*m->mutable_metrics())["value"] = values[i];
  }
  return t;
}

class MedianStopperTest : public ::testing::Test {
 protected:
  std::unique_ptr<EarlyStopper> Make(std::map<std::string, std::string> options) {
    hpo::v1::EarlyStoppingSpec spec;
    spec.set_name("median");
    for (auto& [k, v] : options) (*spec.mutable_options())[k] = v;
    auto s = MakeEarlyStopper(spec);
    EXPECT_TRUE(s.ok()) << s.status();
    return std::move(s).value();
  }
  hpo::v1::Decision Decide(EarlyStopper& s, const hpo::v1::Trial& t) {
    StudyView view{&spec_, &trials_};
    return s.Decide(view, t);
  }
  void SetUp() override {
    spec_.mutable_objective()->set_metric("value");
    spec_.mutable_objective()->set_direction(hpo::v1::MINIMIZE);
    trials_ = {WithCurve(1, hpo::v1::COMPLETED, {5, 4, 3}),
               WithCurve(2, hpo::v1::COMPLETED, {6, 5, 4}),
               WithCurve(3, hpo::v1::COMPLETED, {7, 6, 5}),
               WithCurve(4, hpo::v1::RUNNING, {0.1, 0.1})};  // running trials do not count
  }
  hpo::v1::StudySpec spec_;
  std::vector<hpo::v1::Trial> trials_;
};

TEST_F(MedianStopperTest, StopsOnlyWhenBestSoFarIsWorseThanMedian) {
  auto s = Make({{"min_trials", "3"}});
  // Median at step 2 is 5.
  EXPECT_EQ(Decide(*s, WithCurve(9, hpo::v1::RUNNING, {9, 5.5})), hpo::v1::STOP);
  EXPECT_EQ(Decide(*s, WithCurve(9, hpo::v1::RUNNING, {9, 4.5})), hpo::v1::CONTINUE);
  // Best so far (4.9 at step 1) counts, not just the latest value.
  EXPECT_EQ(Decide(*s, WithCurve(9, hpo::v1::RUNNING, {4.9, 5.5})), hpo::v1::CONTINUE);
}

TEST_F(MedianStopperTest, MaximizeFlipsTheComparison) {
  spec_.mutable_objective()->set_direction(hpo::v1::MAXIMIZE);
  auto s = Make({{"min_trials", "3"}});
  EXPECT_EQ(Decide(*s, WithCurve(9, hpo::v1::RUNNING, {1, 4.5})), hpo::v1::STOP);
  EXPECT_EQ(Decide(*s, WithCurve(9, hpo::v1::RUNNING, {1, 5.5})), hpo::v1::CONTINUE);
}

TEST_F(MedianStopperTest, WarmupAndMinTrialsHoldBack) {
  EXPECT_EQ(Decide(*Make({{"min_trials", "4"}}), WithCurve(9, hpo::v1::RUNNING, {9, 9})),
            hpo::v1::CONTINUE);
  EXPECT_EQ(Decide(*Make({{"min_trials", "3"}, {"warmup_steps", "3"}}),
                   WithCurve(9, hpo::v1::RUNNING, {9, 9})),
            hpo::v1::CONTINUE);
  EXPECT_EQ(Decide(*Make({{"min_trials", "3"}, {"warmup_steps", "3"}}),
                   WithCurve(9, hpo::v1::RUNNING, {9, 9, 9})),
            hpo::v1::STOP);
}

TEST_F(MedianStopperTest, BadOptionsNameTheField) {
  hpo::v1::EarlyStoppingSpec spec;
  spec.set_name("median");
  (*spec.mutable_options())["min_trials"] = "-1";
  EXPECT_EQ(MakeEarlyStopper(spec).status().message(),
            "early_stopping.options.min_trials: must be a non-negative integer, got '-1'");
  spec.clear_options();
  (*spec.mutable_options())["patience"] = "3";
  EXPECT_EQ(MakeEarlyStopper(spec).status().message(),
            "early_stopping.options.patience: unknown option (known: min_trials, warmup_steps)");
}

}  // namespace
}  // namespace hpo::server
