#include "harness/results_db.h"

#include <limits>

#include "absl/memory/memory.h"
#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "storage/sqlite_util.h"

namespace hpo::harness {

using storage::ExecSql;
using storage::SqliteStatus;
using storage::Statement;
using storage::Transaction;

namespace {

constexpr int kSchemaVersion = 2;

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS runs(
  optimizer TEXT NOT NULL,
  task TEXT NOT NULL,
  seed INTEGER NOT NULL,
  trials INTEGER NOT NULL,
  status TEXT NOT NULL,
  wall_s REAL,
  optimum REAL,
  message TEXT NOT NULL DEFAULT '',
  fingerprint TEXT NOT NULL DEFAULT '',
  PRIMARY KEY(optimizer, task, seed, trials));
CREATE TABLE IF NOT EXISTS evals(
  optimizer TEXT NOT NULL,
  task TEXT NOT NULL,
  seed INTEGER NOT NULL,
  trials INTEGER NOT NULL,
  i INTEGER NOT NULL,
  value REAL,
  best_so_far REAL,
  params_json TEXT NOT NULL,
  PRIMARY KEY(optimizer, task, seed, trials, i));
PRAGMA user_version = 2;
)sql";

// Version 1 files: runs without a fingerprint (they keep an empty one).
constexpr char kMigrate1To2[] = R"sql(
ALTER TABLE runs ADD COLUMN fingerprint TEXT NOT NULL DEFAULT '';
PRAGMA user_version = 2;
)sql";

void BindKey(Statement& stmt, const RunSpec& spec) {
  stmt.BindText(1, spec.optimizer);
  stmt.BindText(2, spec.task);
  stmt.BindInt64(3, spec.seed);
  stmt.BindInt64(4, spec.trials);
}

double ColumnDoubleOrNan(const Statement& stmt, int column) {
  return stmt.ColumnIsNull(column) ? std::numeric_limits<double>::quiet_NaN()
                                   : stmt.ColumnDouble(column);
}

}  // namespace

absl::StatusOr<std::unique_ptr<ResultsDb>> ResultsDb::Open(const std::string& path) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    absl::Status status = SqliteStatus(rc, db, absl::StrCat("open \"", path, "\""));
    sqlite3_close(db);
    return status;
  }
  auto results = absl::WrapUnique(new ResultsDb(db));
  absl::MutexLock lock(&results->mu_);
  sqlite3_extended_result_codes(db, 1);
  HPO_RETURN_IF_ERROR(SqliteStatus(sqlite3_busy_timeout(db, 10000), db, "busy_timeout"));
  HPO_RETURN_IF_ERROR(ExecSql(db, "PRAGMA journal_mode=WAL"));
  HPO_RETURN_IF_ERROR(ExecSql(db, "PRAGMA synchronous=NORMAL"));
  HPO_RETURN_IF_ERROR(results->Migrate());
  return results;
}

ResultsDb::~ResultsDb() {
  absl::MutexLock lock(&mu_);
  sqlite3_close(db_);
}

absl::Status ResultsDb::Migrate() {
  // In one write transaction, with the version read inside it: two benches opening one old
  // file migrate it once, and a crash leaves it at one version or the other.
  HPO_ASSIGN_OR_RETURN(auto txn, Transaction::Begin(db_, nullptr));
  HPO_ASSIGN_OR_RETURN(auto stmt, Statement::Prepare(db_, "PRAGMA user_version"));
  HPO_ASSIGN_OR_RETURN(bool row, stmt->Step());
  const int64_t version = row ? stmt->ColumnInt64(0) : 0;
  stmt.reset();
  if (version > kSchemaVersion) {
    return absl::FailedPreconditionError(absl::StrCat("results file has schema version ", version,
                                                      "; this hpo knows up to ", kSchemaVersion));
  }
  if (version == kSchemaVersion) return txn->Commit();
  HPO_RETURN_IF_ERROR(ExecSql(db_, version == 1 ? kMigrate1To2 : kSchema));
  return txn->Commit();
}

absl::StatusOr<std::optional<RunRecord>> ResultsDb::FindDone(const RunSpec& spec,
                                                             const std::string& fingerprint) {
  absl::MutexLock lock(&mu_);
  HPO_ASSIGN_OR_RETURN(auto run, Statement::Prepare(db_,
                                                    "SELECT wall_s, optimum FROM runs WHERE "
                                                    "optimizer=? AND task=? AND seed=? AND "
                                                    "trials=? AND status='done' AND "
                                                    "fingerprint=?"));
  BindKey(*run, spec);
  run->BindText(5, fingerprint);
  HPO_ASSIGN_OR_RETURN(bool found, run->Step());
  if (!found) return std::optional<RunRecord>();
  RunRecord record;
  record.spec = spec;
  record.wall_s = ColumnDoubleOrNan(*run, 0);
  record.optimum = ColumnDoubleOrNan(*run, 1);
  HPO_ASSIGN_OR_RETURN(auto evals, Statement::Prepare(db_,
                                                      "SELECT value, best_so_far, params_json "
                                                      "FROM evals WHERE optimizer=? AND task=? "
                                                      "AND seed=? AND trials=? ORDER BY i"));
  BindKey(*evals, spec);
  while (true) {
    HPO_ASSIGN_OR_RETURN(bool row, evals->Step());
    if (!row) break;
    record.evals.push_back(
        Eval{ColumnDoubleOrNan(*evals, 0), ColumnDoubleOrNan(*evals, 1), evals->ColumnText(2)});
  }
  return std::optional<RunRecord>(std::move(record));
}

absl::Status ResultsDb::DeleteEvals(const RunSpec& spec) {
  HPO_ASSIGN_OR_RETURN(auto del, Statement::Prepare(db_,
                                                    "DELETE FROM evals WHERE optimizer=? AND "
                                                    "task=? AND seed=? AND trials=?"));
  BindKey(*del, spec);
  return del->StepDone();
}

absl::Status ResultsDb::PutRun(const RunSpec& spec, const std::string& status, double wall_s,
                               double optimum, const std::string& message,
                               const std::string& fingerprint) {
  HPO_ASSIGN_OR_RETURN(
      auto put,
      Statement::Prepare(db_,
                         "INSERT OR REPLACE INTO runs(optimizer, task, seed, trials, status, "
                         "wall_s, optimum, message, fingerprint) VALUES(?,?,?,?,?,?,?,?,?)"));
  BindKey(*put, spec);
  put->BindText(5, status);
  put->BindDouble(6, wall_s);
  put->BindDouble(7, optimum);
  put->BindText(8, message);
  put->BindText(9, fingerprint);
  return put->StepDone();
}

absl::Status ResultsDb::InsertEvals(const RunRecord& record) {
  HPO_ASSIGN_OR_RETURN(auto ins, Statement::Prepare(db_,
                                                    "INSERT INTO evals(optimizer, task, seed, "
                                                    "trials, i, value, best_so_far, params_json) "
                                                    "VALUES(?,?,?,?,?,?,?,?)"));
  for (size_t i = 0; i < record.evals.size(); ++i) {
    const Eval& e = record.evals[i];
    BindKey(*ins, record.spec);
    ins->BindInt64(5, static_cast<int64_t>(i));
    ins->BindDouble(6, e.value);
    ins->BindDouble(7, e.best_so_far);
    ins->BindText(8, e.params_json);
    HPO_RETURN_IF_ERROR(ins->StepDone());
    ins->Reset();
  }
  return absl::OkStatus();
}

absl::Status ResultsDb::SaveDone(const RunRecord& record, const std::string& fingerprint) {
  absl::MutexLock lock(&mu_);
  HPO_ASSIGN_OR_RETURN(auto txn, Transaction::Begin(db_, nullptr));
  HPO_RETURN_IF_ERROR(DeleteEvals(record.spec));
  HPO_RETURN_IF_ERROR(PutRun(record.spec, "done", record.wall_s, record.optimum, "", fingerprint));
  HPO_RETURN_IF_ERROR(InsertEvals(record));
  return txn->Commit();
}

absl::StatusOr<bool> ResultsDb::SaveFailed(const RunRecord& partial, const std::string& message,
                                           const std::string& fingerprint) {
  absl::MutexLock lock(&mu_);
  HPO_ASSIGN_OR_RETURN(auto txn, Transaction::Begin(db_, nullptr));
  HPO_ASSIGN_OR_RETURN(auto done, Statement::Prepare(db_,
                                                     "SELECT 1 FROM runs WHERE optimizer=? AND "
                                                     "task=? AND seed=? AND trials=? AND "
                                                     "status='done'"));
  BindKey(*done, partial.spec);
  HPO_ASSIGN_OR_RETURN(const bool finished_before, done->Step());
  done.reset();
  if (finished_before) return true;  // the transaction rolls back: nothing changes
  HPO_RETURN_IF_ERROR(DeleteEvals(partial.spec));
  HPO_RETURN_IF_ERROR(
      PutRun(partial.spec, "failed", partial.wall_s, partial.optimum, message, fingerprint));
  HPO_RETURN_IF_ERROR(InsertEvals(partial));
  HPO_RETURN_IF_ERROR(txn->Commit());
  return false;
}

absl::StatusOr<int64_t> ResultsDb::CountRuns(const std::string& status) {
  absl::MutexLock lock(&mu_);
  HPO_ASSIGN_OR_RETURN(auto stmt,
                       Statement::Prepare(db_, "SELECT COUNT(*) FROM runs WHERE status=?"));
  stmt->BindText(1, status);
  HPO_ASSIGN_OR_RETURN(bool row, stmt->Step());
  return row ? stmt->ColumnInt64(0) : 0;
}

absl::StatusOr<int64_t> ResultsDb::CountEvals() {
  absl::MutexLock lock(&mu_);
  HPO_ASSIGN_OR_RETURN(auto stmt, Statement::Prepare(db_, "SELECT COUNT(*) FROM evals"));
  HPO_ASSIGN_OR_RETURN(bool row, stmt->Step());
  return row ? stmt->ColumnInt64(0) : 0;
}

}  // namespace hpo::harness
