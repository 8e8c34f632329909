#include "storage/db_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace hpo::storage {

absl::StatusOr<std::unique_ptr<DbLock>> DbLock::Acquire(const std::string& db_path) {
  if (db_path == ":memory:" || db_path.empty()) return std::unique_ptr<DbLock>(new DbLock(-1));
  const std::string path = db_path + ".lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot open lock file ", path, ": ", std::strerror(errno)));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char buf[32] = {0};
    const ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
    ::close(fd);
    if (err != EWOULDBLOCK) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot lock ", path, ": ", std::strerror(err)));
    }
    int64_t pid = 0;
    const bool has_pid =
        n > 0 && absl::SimpleAtoi(absl::StripAsciiWhitespace(absl::string_view(buf, n)), &pid);
    return absl::FailedPreconditionError(
        absl::StrCat(db_path, " is in use by another coordinator",
                     has_pid ? absl::StrCat(" (pid ", pid, ")") : std::string()));
  }
  const std::string pid = absl::StrCat(::getpid(), "\n");
  if (::ftruncate(fd, 0) == 0) {
    ssize_t ignored = ::pwrite(fd, pid.data(), pid.size(), 0);
    (void)ignored;
  }
  return std::unique_ptr<DbLock>(new DbLock(fd));
}

DbLock::~DbLock() {
  if (fd_ >= 0) ::close(fd_);  // closing drops the flock
}

}  // namespace hpo::storage
