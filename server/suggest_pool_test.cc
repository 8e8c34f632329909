#include "server/suggest_pool.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace hpo::server {
namespace {

int ThreadNice() { return ::getpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid))); }

TEST(SuggestPoolTest, RunsOnAPoolThreadAtTheLowerPriorityAndWaitsForIt) {
  SuggestPool pool(2, /*nice=*/10);
  const std::thread::id caller = std::this_thread::get_id();
  const int caller_nice = ThreadNice();
  std::thread::id ran_on;
  int ran_nice = 0;
  pool.Run([&] {
    ran_on = std::this_thread::get_id();
    ran_nice = ThreadNice();
  });
  // Run has returned, so both were written.
  EXPECT_NE(ran_on, caller);
  EXPECT_EQ(ran_nice, std::min(caller_nice + 10, 19));
  EXPECT_EQ(ThreadNice(), caller_nice);  // the caller's own priority is untouched
}

TEST(SuggestPoolTest, ManyCallersEachGetTheirOwnWorkDone) {
  SuggestPool pool(2, /*nice=*/10);
  std::vector<int> results(16, 0);
  std::vector<std::thread> callers;
  for (int i = 0; i < 16; ++i) {
    callers.emplace_back([&, i] {
      for (int n = 0; n < 50; ++n) pool.Run([&] { results[i] += 1; });
    });
  }
  for (auto& t : callers) t.join();
  for (int r : results) EXPECT_EQ(r, 50);
}

}  // namespace
}  // namespace hpo::server
