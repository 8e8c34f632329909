// Marks a database file as owned by one coordinator: an exclusive flock(2) on "<db>.lock".
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
  // holds it. ":memory:" databases need no lock and always succeed.
  static absl::StatusOr<std::unique_ptr<DbLock>> Acquire(const std::string& db_path);
  ~DbLock();

  DbLock(const DbLock&) = delete;
  DbLock& operator=(const DbLock&) = delete;

 private:
  explicit DbLock(int fd) : fd_(fd) {}
  const int fd_;
};

}  // namespace hpo::storage

#endif  // HPO_STORAGE_DB_LOCK_H_
