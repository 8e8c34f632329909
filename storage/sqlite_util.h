// A thin veneer over the SQLite C API: the one SQLite -> absl::Status conversion, an RAII
// prepared `Statement`, a cache of persistent statements and a scoped `Transaction`.
#ifndef HPO_STORAGE_SQLITE_UTIL_H_
#define HPO_STORAGE_SQLITE_UTIL_H_

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace hpo::storage {

// Converts the SQLite result code `rc` (extended codes understood) to a Status whose message is
// "`context`: <sqlite message> (<code name>)". SQLITE_OK, SQLITE_ROW and SQLITE_DONE give OK.
// `db` may be null; when given, its last error message is used if it belongs to `rc`.
//   SQLITE_BUSY, SQLITE_LOCKED               -> UNAVAILABLE (retry the call)
//   SQLITE_CONSTRAINT_UNIQUE / _PRIMARYKEY   -> ALREADY_EXISTS
//   SQLITE_CONSTRAINT_FOREIGNKEY             -> NOT_FOUND (in hpo's schema a foreign key always
//                                               names a parent row that must exist)
//   anything else                            -> INTERNAL
absl::Status SqliteStatus(int rc, sqlite3* db, absl::string_view context);

// Owns one prepared statement and finalizes it on destruction.
//
// Bind errors are remembered and reported by the next Step(), so binding reads as plain calls.
// Bind indices are 1-based, column indices 0-based (as in SQLite).
//
// Thread-compatible: a Statement belongs to its connection; callers serialize access to both.
class Statement {
 public:
  // Prepares the first statement of `sql`. `persistent` passes SQLITE_PREPARE_PERSISTENT (for
  // statements that are cached and reused many times).
  static absl::StatusOr<std::unique_ptr<Statement>> Prepare(sqlite3* db, absl::string_view sql,
                                                            bool persistent = false);

  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  void BindInt64(int index, int64_t value);
  void BindDouble(int index, double value);  // NaN is stored as NULL by SQLite.
  void BindBool(int index, bool value) { BindInt64(index, value ? 1 : 0); }
  void BindText(int index, absl::string_view value);  // copied (SQLITE_TRANSIENT)
  void BindBlob(int index, absl::string_view value);  // copied (SQLITE_TRANSIENT)
  void BindNull(int index);

  // Runs one step: true when a row is available, false when the statement is done.
  absl::StatusOr<bool> Step();
  // Steps a statement that returns no rows (INSERT/UPDATE/DDL); a returned row is INTERNAL.
  absl::Status StepDone();

  bool ColumnIsNull(int column) const;
  int64_t ColumnInt64(int column) const;
  double ColumnDouble(int column) const;
  bool ColumnBool(int column) const { return ColumnInt64(column) != 0; }
  std::string ColumnText(int column) const;
  std::string ColumnBlob(int column) const;

  // Resets the statement so it can run again and clears its bindings and remembered bind error.
  void Reset();

  // The number of rows changed by the last INSERT/UPDATE/DELETE on this connection.
  int Changes() const;

  sqlite3_stmt* get() const { return stmt_; }

 private:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  void NoteBind(int rc, int index);

  sqlite3* db_;
  sqlite3_stmt* stmt_;
  absl::Status bind_status_;
};

// A cached statement on loan: dereferences to the Statement and resets it (clearing bindings)
// when it goes out of scope, so that no read snapshot or implicit transaction stays open.
class ScopedStatement {
 public:
  explicit ScopedStatement(Statement* stmt) : stmt_(stmt) {}
  ScopedStatement(ScopedStatement&& other) noexcept : stmt_(other.stmt_) { other.stmt_ = nullptr; }
  ScopedStatement(const ScopedStatement&) = delete;
  ScopedStatement& operator=(const ScopedStatement&) = delete;
  ScopedStatement& operator=(ScopedStatement&&) = delete;
  ~ScopedStatement() {
    if (stmt_ != nullptr) stmt_->Reset();
  }

  Statement* operator->() const { return stmt_; }
  Statement& operator*() const { return *stmt_; }

 private:
  Statement* stmt_;
};

// Persistent prepared statements of one connection, keyed by their SQL text. Must be destroyed
// before the connection is closed.
//
// Thread-compatible: callers serialize access together with the connection.
class StatementCache {
 public:
  explicit StatementCache(sqlite3* db) : db_(db) {}
  StatementCache(const StatementCache&) = delete;
  StatementCache& operator=(const StatementCache&) = delete;

  // The statement for `sql`, prepared on first use. At most one loan per SQL text may be live.
  absl::StatusOr<ScopedStatement> Get(absl::string_view sql);

  // Finalizes every cached statement.
  void Clear() { cache_.clear(); }

 private:
  sqlite3* db_;
  absl::flat_hash_map<std::string, std::unique_ptr<Statement>> cache_;
};

// Runs `sql` (possibly several statements, no parameters) with sqlite3_exec. For fixed SQL only:
// schema and pragmas, never values.
absl::Status ExecSql(sqlite3* db, const char* sql);

// A write transaction: BEGIN IMMEDIATE on Begin(), ROLLBACK on destruction unless Commit()
// succeeded. BEGIN IMMEDIATE takes the write lock up front, so a busy database shows up at Begin()
// as UNAVAILABLE instead of as a deadlock half way through.
//
// Thread-compatible: callers serialize access together with the connection.
class Transaction {
 public:
  // `cache` may be null, in which case BEGIN/COMMIT/ROLLBACK are prepared each time.
  static absl::StatusOr<std::unique_ptr<Transaction>> Begin(sqlite3* db, StatementCache* cache);

  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();

  absl::Status Commit();

 private:
  Transaction(sqlite3* db, StatementCache* cache) : db_(db), cache_(cache) {}
  absl::Status Run(const char* sql);

  sqlite3* db_;
  StatementCache* cache_;
  bool open_ = true;
};

}  // namespace hpo::storage

#endif  // HPO_STORAGE_SQLITE_UTIL_H_
