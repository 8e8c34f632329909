#include "core/trial_states.h"

#include <cmath>
#include <limits>

#include "gtest/gtest.h"

namespace hpo::core {
namespace {

using hpo::v1::TrialState;

TEST(TrialStatesTest, NamesRoundTrip) {
  const TrialState states[] = {hpo::v1::PENDING, hpo::v1::RUNNING, hpo::v1::COMPLETED,
                               hpo::v1::PRUNED,  hpo::v1::FAILED,  hpo::v1::LOST};
  const char* names[] = {"PENDING", "RUNNING", "COMPLETED", "PRUNED", "FAILED", "LOST"};
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(TrialStateName(states[i]), names[i]);
    auto parsed = ParseTrialState(names[i]);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, states[i]);
  }
}

TEST(TrialStatesTest, ParseIsCaseInsensitive) {
  auto parsed = ParseTrialState("completed");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, hpo::v1::COMPLETED);
  parsed = ParseTrialState("Pruned");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, hpo::v1::PRUNED);
}

TEST(TrialStatesTest, ParseRejectsUnknownAndListsNames) {
  auto parsed = ParseTrialState("done");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(parsed.status().message(),
            "unknown trial state 'done' (expected one of PENDING, RUNNING, COMPLETED, PRUNED, "
            "FAILED, LOST)");
  EXPECT_EQ(ParseTrialState("UNSPECIFIED").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseTrialState("").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(TrialStatesTest, IsTerminal) {
  EXPECT_FALSE(IsTerminal(hpo::v1::TRIAL_STATE_UNSPECIFIED));
  EXPECT_FALSE(IsTerminal(hpo::v1::PENDING));
  EXPECT_FALSE(IsTerminal(hpo::v1::RUNNING));
  EXPECT_TRUE(IsTerminal(hpo::v1::COMPLETED));
  EXPECT_TRUE(IsTerminal(hpo::v1::PRUNED));
  EXPECT_TRUE(IsTerminal(hpo::v1::FAILED));
  EXPECT_TRUE(IsTerminal(hpo::v1::LOST));
}

TEST(TrialStatesTest, StudyStateNames) {
  EXPECT_EQ(StudyStateName(hpo::v1::STUDY_RUNNING), "RUNNING");
  EXPECT_EQ(StudyStateName(hpo::v1::STUDY_COMPLETED), "COMPLETED");
  EXPECT_EQ(StudyStateName(hpo::v1::STUDY_STOPPED), "STOPPED");
}

TEST(TrialStatesTest, IsBetter) {
  EXPECT_TRUE(IsBetter(hpo::v1::MINIMIZE, 1.0, 2.0));
  EXPECT_FALSE(IsBetter(hpo::v1::MINIMIZE, 2.0, 1.0));
  EXPECT_FALSE(IsBetter(hpo::v1::MINIMIZE, 1.0, 1.0));
  EXPECT_TRUE(IsBetter(hpo::v1::MAXIMIZE, 2.0, 1.0));
  EXPECT_FALSE(IsBetter(hpo::v1::MAXIMIZE, 1.0, 2.0));
  EXPECT_TRUE(IsBetter(hpo::v1::DIRECTION_UNSPECIFIED, 1.0, 2.0));  // like minimize
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_FALSE(IsBetter(hpo::v1::MINIMIZE, nan, 1.0));
  EXPECT_TRUE(IsBetter(hpo::v1::MINIMIZE, 1.0, nan));
  EXPECT_TRUE(IsBetter(hpo::v1::MAXIMIZE, -1e300, nan));
  EXPECT_FALSE(IsBetter(hpo::v1::MAXIMIZE, nan, nan));
  EXPECT_TRUE(IsBetter(hpo::v1::MINIMIZE, -std::numeric_limits<double>::infinity(), 0.0));
}

}  // namespace
}  // namespace hpo::core
