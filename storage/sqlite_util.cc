#include "storage/sqlite_util.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "core/logging.h"

namespace hpo::storage {

absl::Status SqliteStatus(int rc, sqlite3* db, absl::string_view context) {
  if (rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE) return absl::OkStatus();
  // The connection's message is more specific ("UNIQUE constraint failed: studies.name"), but only
  // if it still describes this error.
  const char* detail = (db != nullptr && sqlite3_extended_errcode(db) == rc) ? sqlite3_errmsg(db)
                                                                             : sqlite3_errstr(rc);
  std::string message = absl::StrCat(context, ": ", detail, " (sqlite code ", rc, ")");
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::UnavailableError(message);
    case SQLITE_CONSTRAINT:
      if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
        return absl::AlreadyExistsError(message);
      }
      if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) return absl::NotFoundError(message);
      return absl::InternalError(message);
    default:
      return absl::InternalError(message);
  }
}

// ---------------------------------------------------------------- Statement

absl::StatusOr<std::unique_ptr<Statement>> Statement::Prepare(sqlite3* db, absl::string_view sql,
                                                              bool persistent) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                              persistent ? SQLITE_PREPARE_PERSISTENT : 0, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return SqliteStatus(rc, db, absl::StrCat("prepare \"", sql, "\""));
  }
  if (stmt == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("prepare \"", sql, "\": no statement in SQL"));
  }
  return std::unique_ptr<Statement>(new Statement(db, stmt));
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

void Statement::NoteBind(int rc, int index) {
  if (rc != SQLITE_OK && bind_status_.ok()) {
    bind_status_ = SqliteStatus(
        rc, db_, absl::StrCat("bind parameter ", index, " of \"", sqlite3_sql(stmt_), "\""));
  }
}

void Statement::BindInt64(int index, int64_t value) {
  NoteBind(sqlite3_bind_int64(stmt_, index, value), index);
}

void Statement::BindDouble(int index, double value) {
  NoteBind(sqlite3_bind_double(stmt_, index, value), index);
}

void Statement::BindText(int index, absl::string_view value) {
  NoteBind(
      sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8),
      index);
}

void Statement::BindBlob(int index, absl::string_view value) {
  // A null data pointer would bind NULL; an empty blob must stay an empty blob.
  static const char kEmpty = 0;
  NoteBind(sqlite3_bind_blob64(stmt_, index, value.empty() ? &kEmpty : value.data(), value.size(),
                               SQLITE_TRANSIENT),
           index);
}

void Statement::BindNull(int index) { NoteBind(sqlite3_bind_null(stmt_, index), index); }

absl::StatusOr<bool> Statement::Step() {
  if (!bind_status_.ok()) return bind_status_;
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteStatus(rc, db_, sqlite3_sql(stmt_));
}

absl::Status Statement::StepDone() {
  absl::StatusOr<bool> row = Step();
  if (!row.ok()) return row.status();
  if (*row) {
    return absl::InternalError(
        absl::StrCat(sqlite3_sql(stmt_), ": returned a row where none was expected"));
  }
  return absl::OkStatus();
}

bool Statement::ColumnIsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

int64_t Statement::ColumnInt64(int column) const { return sqlite3_column_int64(stmt_, column); }

double Statement::ColumnDouble(int column) const { return sqlite3_column_double(stmt_, column); }

std::string Statement::ColumnText(int column) const {
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  int size = sqlite3_column_bytes(stmt_, column);
  if (text == nullptr) return std::string();
  return std::string(reinterpret_cast<const char*>(text), static_cast<size_t>(size));
}

std::string Statement::ColumnBlob(int column) const {
  const void* blob = sqlite3_column_blob(stmt_, column);
  int size = sqlite3_column_bytes(stmt_, column);
  if (blob == nullptr) return std::string();
  return std::string(static_cast<const char*>(blob), static_cast<size_t>(size));
}

void Statement::Reset() {
  // sqlite3_reset repeats the last step's error code, which was already reported by Step().
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  bind_status_ = absl::OkStatus();
}

int Statement::Changes() const { return sqlite3_changes(db_); }

// ---------------------------------------------------------------- StatementCache

absl::StatusOr<ScopedStatement> StatementCache::Get(absl::string_view sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    absl::StatusOr<std::unique_ptr<Statement>> stmt =
        Statement::Prepare(db_, sql, /*persistent=*/true);
    if (!stmt.ok()) return stmt.status();
    it = cache_.emplace(std::string(sql), *std::move(stmt)).first;
  }
  return ScopedStatement(it->second.get());
}

absl::Status ExecSql(sqlite3* db, const char* sql) {
  char* error = nullptr;
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, &error);
  absl::Status status;
  if (rc != SQLITE_OK) {
    // sqlite3_exec's own message names the failing statement's problem; the connection's error
    // code is still rc.
    status = SqliteStatus(rc, db, sql);
  }
  sqlite3_free(error);
  return status;
}

// ---------------------------------------------------------------- Transaction

absl::StatusOr<std::unique_ptr<Transaction>> Transaction::Begin(sqlite3* db,
                                                                StatementCache* cache) {
  std::unique_ptr<Transaction> txn(new Transaction(db, cache));
  absl::Status status = txn->Run("BEGIN IMMEDIATE");
  if (!status.ok()) {
    txn->open_ = false;  // nothing to roll back
    return status;
  }
  return txn;
}

absl::Status Transaction::Run(const char* sql) {
  if (cache_ == nullptr) return ExecSql(db_, sql);
  absl::StatusOr<ScopedStatement> stmt = cache_->Get(sql);
  if (!stmt.ok()) return stmt.status();
  return (*stmt)->StepDone();
}

absl::Status Transaction::Commit() {
  if (!open_) return absl::FailedPreconditionError("transaction is not open");
  absl::Status status = Run("COMMIT");
  // A failed COMMIT (e.g. SQLITE_BUSY) leaves the transaction open; the destructor rolls it back.
  if (status.ok()) open_ = false;
  return status;
}

Transaction::~Transaction() {
  if (!open_) return;
  // Only roll back if SQLite still has the transaction open: some errors (e.g. SQLITE_FULL)
  // roll it back automatically.
  if (sqlite3_get_autocommit(db_) != 0) return;
  absl::Status status = Run("ROLLBACK");
  if (!status.ok()) {
    HPO_LOG(ERROR) << "rollback failed: " << status;
  }
}

}  // namespace hpo::storage
