#include "core/clock.h"

#include <climits>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace hpo::core {
namespace {

TEST(PollTimeoutMsTest, InfinitePassedAndRoundedUp) {
  EXPECT_EQ(PollTimeoutMs(absl::InfiniteFuture()), -1);
  EXPECT_EQ(PollTimeoutMs(absl::Now() - absl::Seconds(1)), 0);
  EXPECT_EQ(PollTimeoutMs(absl::InfinitePast()), 0);
  // Rounded up: a deadline 10 s ahead is at most 10,000 ms away and, read a moment later, more
  // than 9,000.
  const int ms = PollTimeoutMs(absl::Now() + absl::Seconds(10));
  EXPECT_LE(ms, 10000);
  EXPECT_GT(ms, 9000);
  EXPECT_EQ(PollTimeoutMs(absl::Now() + absl::Hours(24 * 365 * 100)), INT_MAX);
}

TEST(FakeClockTest, MovesOnlyWhenAdvanced) {
  FakeClock clock(absl::FromUnixSeconds(100));
  EXPECT_EQ(clock.NowMs(), 100000);
  clock.Advance(absl::Milliseconds(250));
  EXPECT_EQ(clock.NowMs(), 100250);
}

}  // namespace
}  // namespace hpo::core
