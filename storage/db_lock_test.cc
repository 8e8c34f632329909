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

TEST(DbLockTest, OtherNamesOfTheSameFileAreRefusedToo) {
  char dir[] = "/tmp/hpo-lock-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  const std::string db = std::string(dir) + "/x.db";
  const std::string symlink = std::string(dir) + "/link.db";
  const std::string hardlink = std::string(dir) + "/hard.db";
  auto first = DbLock::Acquire(db);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(::symlink("x.db", symlink.c_str()), 0);
  ASSERT_EQ(::link(db.c_str(), hardlink.c_str()), 0);
  auto via_symlink = DbLock::Acquire(symlink);
  EXPECT_EQ(via_symlink.status().message(),
            symlink + " is in use by another coordinator (pid " + std::to_string(::getpid()) + ")");
  auto via_hardlink = DbLock::Acquire(hardlink);
  EXPECT_EQ(via_hardlink.status().message(),
            hardlink + " is in use by another coordinator (by another name)");
  first->reset();
  EXPECT_TRUE(DbLock::Acquire(hardlink).ok());
}

}  // namespace
}  // namespace hpo::storage
