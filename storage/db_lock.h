// Marks a database file as owned by one coordinator: exclusive flock(2)s on the database file
// (which every name of it shares: symlinks, hard links) and on "<real path of db>.lock", which
// holds the owner's pid for the message.
#ifndef HPO_STORAGE_DB_LOCK_H_
#define HPO_STORAGE_DB_LOCK_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace hpo::storage {

// Held until destroyed; the kernel drops it when the process dies, so a crash never leaves a
// stale lock. Thread-compatible.
class DbLock {
 public:
  // FAILED_PRECONDITION "<db> is in use by another coordinator (pid N)" when another process
  // holds it ("(by another name)" when it holds the file through a hard link), or when the file
  // cannot be opened or created. ":memory:" databases need no lock and always succeed.
  static absl::StatusOr<std::unique_ptr<DbLock>> Acquire(const std::string& db_path);
  ~DbLock();

  DbLock(const DbLock&) = delete;
  DbLock& operator=(const DbLock&) = delete;

 private:
  DbLock(int fd, int db_fd) : fd_(fd), db_fd_(db_fd) {}
  const int fd_;     // the .lock file
  const int db_fd_;  // the database file
};

}  // namespace hpo::storage

#endif  // HPO_STORAGE_DB_LOCK_H_
