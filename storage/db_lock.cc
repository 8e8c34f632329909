#include "storage/db_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace hpo::storage {

absl::StatusOr<std::unique_ptr<DbLock>> DbLock::Acquire(const std::string& db_path) {
  if (db_path == ":memory:" || db_path.empty()) return std::unique_ptr<DbLock>(new DbLock(-1, -1));
  // The database file itself, created empty when missing (SQLite takes an empty file for a new
  // database): a flock on it holds through every name of the file, hard links included.
  const int db_fd = ::open(db_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (db_fd < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot open ", db_path, ": ", std::strerror(errno)));
  }
  // The pid file sits next to the file's real name, so a symlink finds the owner's pid too.
  std::error_code ec;
  const std::filesystem::path real = std::filesystem::canonical(db_path, ec);
  const std::string path = (ec ? db_path : real.string()) + ".lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int err = errno;
    ::close(db_fd);
    return absl::FailedPreconditionError(
        absl::StrCat("cannot open lock file ", path, ": ", std::strerror(err)));
  }
  auto in_use = [&](int err) -> absl::Status {
    if (err != EWOULDBLOCK) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot lock ", path, ": ", std::strerror(err)));
    }
    char buf[32] = {0};
    const ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
    int64_t pid = 0;
    const bool has_pid =
        n > 0 && absl::SimpleAtoi(absl::StripAsciiWhitespace(absl::string_view(buf, n)), &pid);
    return absl::FailedPreconditionError(absl::StrCat(
        db_path, " is in use by another coordinator",
        has_pid ? absl::StrCat(" (pid ", pid, ")") : std::string(" (by another name)")));
  };
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0 || ::flock(db_fd, LOCK_EX | LOCK_NB) != 0) {
    const absl::Status status = in_use(errno);
    ::close(fd);
    ::close(db_fd);
    return status;
  }
  const std::string pid = absl::StrCat(::getpid(), "\n");
  if (::ftruncate(fd, 0) == 0) {
    ssize_t ignored = ::pwrite(fd, pid.data(), pid.size(), 0);
    (void)ignored;
  }
  return std::unique_ptr<DbLock>(new DbLock(fd, db_fd));
}

DbLock::~DbLock() {
  // Closing drops the flocks.
  if (fd_ >= 0) ::close(fd_);
  if (db_fd_ >= 0) ::close(db_fd_);
}

}  // namespace hpo::storage
