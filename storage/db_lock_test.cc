#include "storage/db_lock.h"

#include <sys/wait.h>
#include <unistd.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hpo::storage {
namespace {

TEST(DbLockTest, SecondHolderIsRefusedUntilTheFirstLetsGo) {
  char dir[] = "/tmp/hpo-lock-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  const std::string db = std::string(dir) + "/x.db";
  auto first = DbLock::Acquire(db);
  ASSERT_TRUE(first.ok()) << first.status();
  // flock is per open file description: a second open in this process conflicts too.
  auto second = DbLock::Acquire(db);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(second.status().message(),
            db + " is in use by another coordinator (pid " + std::to_string(::getpid()) + ")");
  first->reset();
  EXPECT_TRUE(DbLock::Acquire(db).ok());
  EXPECT_TRUE(DbLock::Acquire(":memory:").ok());
  EXPECT_TRUE(DbLock::Acquire(":memory:").ok());
  EXPECT_EQ(DbLock::Acquire("/nonexistent-dir/x.db").status().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace hpo::storage
