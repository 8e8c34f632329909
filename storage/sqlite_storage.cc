#include "storage/sqlite_storage.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/memory/memory.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/logging.h"
#include "core/search_space.h"
#include "core/status_macros.h"

namespace hpo::storage {
namespace {

using hpo::v1::Measurement;
using hpo::v1::Study;
using hpo::v1::StudySpec;
using hpo::v1::Trial;

// ---------------------------------------------------------------- schema

// Migration N takes a database at version N-1 to version N. Append only; never edit a migration
// that has shipped.
struct Migration {
  int version;
  const char* sql;
};

constexpr char kMigration1[] = R"sql(
CREATE TABLE studies (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  spec BLOB NOT NULL,                 -- serialized hpo.v1.StudySpec
  state INTEGER NOT NULL,             -- hpo.v1.StudyState
  create_time_ms INTEGER NOT NULL,
  end_time_ms INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE trials (
  id INTEGER PRIMARY KEY,
  study_id INTEGER NOT NULL REFERENCES studies(id),
  number INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  state INTEGER NOT NULL,             -- hpo.v1.TrialState
  params BLOB NOT NULL,               -- serialized hpo.v1.ParamMap
  params_json TEXT NOT NULL,          -- the same, for people reading the database
  has_value INTEGER NOT NULL,
  value REAL,                         -- NULL when the value is NaN
  final_metrics BLOB NOT NULL,        -- serialized hpo.v1.Measurement (metrics only)
  worker_id TEXT NOT NULL,
  lease_expire_ms INTEGER NOT NULL,
  failure_reason TEXT NOT NULL,
  create_time_ms INTEGER NOT NULL,
  start_time_ms INTEGER NOT NULL,
  end_time_ms INTEGER NOT NULL,
  enqueued INTEGER NOT NULL,
  complete_request_id TEXT NOT NULL,
  last_step INTEGER NOT NULL DEFAULT -1,
  UNIQUE (study_id, number, attempt)
);
CREATE INDEX trials_by_study ON trials(study_id, id);
CREATE INDEX trials_by_study_state ON trials(study_id, state, id);

CREATE TABLE measurements (
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  seq INTEGER NOT NULL,               -- 0, 1, ... in append order per trial
  step INTEGER NOT NULL,
  time_ms INTEGER NOT NULL,
  metrics BLOB NOT NULL,              -- serialized hpo.v1.Measurement (metrics only)
  PRIMARY KEY (trial_id, seq)
) WITHOUT ROWID;

CREATE TABLE workers (
  id TEXT PRIMARY KEY,
  hostname TEXT NOT NULL,
  slots INTEGER NOT NULL,
  gpus TEXT NOT NULL,                 -- comma-separated
  registered_ms INTEGER NOT NULL,
  last_seen_ms INTEGER NOT NULL
);
)sql";

// The optimizer revision that created each study (0 for studies created before).
constexpr char kMigration2[] = R"sql(
ALTER TABLE studies ADD COLUMN optimizer_revision INTEGER NOT NULL DEFAULT 0;
)sql";

// Why an early stopper stopped a trial, and the latest forecast of its final value.
constexpr char kMigration3[] = R"sql(
ALTER TABLE trials ADD COLUMN stop BLOB NOT NULL DEFAULT x'';        -- hpo.v1.StopJudgement
ALTER TABLE trials ADD COLUMN prediction BLOB NOT NULL DEFAULT x'';  -- hpo.v1.Prediction
)sql";

// Where the worker wrote the trial's output (Trial.log_path).
constexpr char kMigration4[] = R"sql(
ALTER TABLE trials ADD COLUMN log_path TEXT NOT NULL DEFAULT '';
)sql";

// What a trial used of its GPUs (Trial.gpu_usage).
constexpr char kMigration5[] = R"sql(
ALTER TABLE trials ADD COLUMN gpu_usage BLOB NOT NULL DEFAULT x'';  -- hpo.v1.GpuUsage
)sql";

constexpr Migration kMigrations[] = {
    {1, kMigration1}, {2, kMigration2}, {3, kMigration3}, {4, kMigration4}, {5, kMigration5},
};
static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) == kSqliteSchemaVersion,
              "kSqliteSchemaVersion must be the last migration's version");

// ---------------------------------------------------------------- SQL

constexpr char kStudyColumns[] = "id, spec, state, create_time_ms, end_time_ms, optimizer_revision";

// Columns read by ReadTrial, in its order.
#define HPO_TRIAL_COLUMNS                                                                    \
  "t.id, t.study_id, t.number, t.attempt, t.state, t.params, t.has_value, t.value, "         \
  "t.final_metrics, t.worker_id, t.lease_expire_ms, t.failure_reason, t.create_time_ms, "    \
  "t.start_time_ms, t.end_time_ms, t.enqueued, t.complete_request_id, t.last_step, t.stop, " \
  "t.prediction, t.log_path, t.gpu_usage"
constexpr int kTrialColumnCount = 22;

constexpr char kInsertTrial[] =
    "INSERT INTO trials (study_id, number, attempt, state, params, params_json, has_value, value, "
    "final_metrics, worker_id, lease_expire_ms, failure_reason, create_time_ms, start_time_ms, "
    "end_time_ms, enqueued, complete_request_id, stop, prediction, log_path, gpu_usage, "
    "last_step) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, "
    "?20, ?21, -1)";
constexpr char kUpdateTrial[] =
    "UPDATE trials SET number = ?2, attempt = ?3, state = ?4, params = ?5, params_json = ?6, "
    "has_value = ?7, value = ?8, final_metrics = ?9, worker_id = ?10, lease_expire_ms = ?11, "
    "failure_reason = ?12, create_time_ms = ?13, start_time_ms = ?14, end_time_ms = ?15, "
    "enqueued = ?16, complete_request_id = ?17, stop = ?18, prediction = ?19, log_path = ?20, "
    "gpu_usage = ?21 WHERE id = ?1";

// ---------------------------------------------------------------- encoding

std::string MetricsBlob(const google::protobuf::Map<std::string, double>& metrics) {
  if (metrics.empty()) return std::string();
  Measurement m;
  *m.mutable_metrics() = metrics;
  return m.SerializeAsString();
}

absl::Status ParseMetricsBlob(const std::string& blob, absl::string_view what,
                              google::protobuf::Map<std::string, double>* metrics) {
  Measurement m;
  if (!m.ParseFromString(blob)) return absl::InternalError(absl::StrCat("corrupt ", what));
  metrics->swap(*m.mutable_metrics());
  return absl::OkStatus();
}

// Binds ?1..?21 of kInsertTrial / kUpdateTrial (?1 is study_id for inserts, id for updates).
void BindTrial(const Trial& trial, int64_t first, Statement& stmt) {
  stmt.BindInt64(1, first);
  stmt.BindInt64(2, trial.number());
  stmt.BindInt64(3, trial.attempt());
  stmt.BindInt64(4, trial.state());
  stmt.BindBlob(5, trial.params().SerializeAsString());
  stmt.BindText(6, core::ParamsToJson(trial.params()));  // for people reading the db
  stmt.BindBool(7, trial.has_value());
  stmt.BindDouble(8, trial.value());
  stmt.BindBlob(9, MetricsBlob(trial.final_metrics()));
  stmt.BindText(10, trial.worker_id());
  stmt.BindInt64(11, trial.lease_expire_ms());
  stmt.BindText(12, trial.failure_reason());
  stmt.BindInt64(13, trial.create_time_ms());
  stmt.BindInt64(14, trial.start_time_ms());
  stmt.BindInt64(15, trial.end_time_ms());
  stmt.BindBool(16, trial.enqueued());
  stmt.BindText(17, trial.complete_request_id());
  stmt.BindBlob(18, trial.has_stop() ? trial.stop().SerializeAsString() : std::string());
  stmt.BindBlob(19,
                trial.has_prediction() ? trial.prediction().SerializeAsString() : std::string());
  stmt.BindText(20, trial.log_path());
  stmt.BindBlob(21, trial.has_gpu_usage() ? trial.gpu_usage().SerializeAsString() : std::string());
}

// Reads the HPO_TRIAL_COLUMNS of the current row (study_name and measurements are not set).
absl::StatusOr<Trial> ReadTrial(const Statement& stmt) {
  Trial trial;
  trial.set_id(stmt.ColumnInt64(0));
  trial.set_study_id(stmt.ColumnInt64(1));
  trial.set_number(static_cast<int32_t>(stmt.ColumnInt64(2)));
  trial.set_attempt(static_cast<int32_t>(stmt.ColumnInt64(3)));
  trial.set_state(static_cast<hpo::v1::TrialState>(stmt.ColumnInt64(4)));
  if (!trial.mutable_params()->ParseFromString(stmt.ColumnBlob(5))) {
    return absl::InternalError(absl::StrCat("corrupt params of trial ", trial.id()));
  }
  trial.set_has_value(stmt.ColumnBool(6));
  trial.set_value(stmt.ColumnIsNull(7) ? std::numeric_limits<double>::quiet_NaN()
                                       : stmt.ColumnDouble(7));
  HPO_RETURN_IF_ERROR(ParseMetricsBlob(stmt.ColumnBlob(8),
                                       absl::StrCat("final metrics of trial ", trial.id()),
                                       trial.mutable_final_metrics()));
  trial.set_worker_id(stmt.ColumnText(9));
  trial.set_lease_expire_ms(stmt.ColumnInt64(10));
  trial.set_failure_reason(stmt.ColumnText(11));
  trial.set_create_time_ms(stmt.ColumnInt64(12));
  trial.set_start_time_ms(stmt.ColumnInt64(13));
  trial.set_end_time_ms(stmt.ColumnInt64(14));
  trial.set_enqueued(stmt.ColumnBool(15));
  trial.set_complete_request_id(stmt.ColumnText(16));
  trial.set_last_step(stmt.ColumnInt64(17));
  if (const std::string stop = stmt.ColumnBlob(18); !stop.empty()) {
    if (!trial.mutable_stop()->ParseFromString(stop)) {
      return absl::InternalError(absl::StrCat("corrupt stop judgement of trial ", trial.id()));
    }
  }
  if (const std::string prediction = stmt.ColumnBlob(19); !prediction.empty()) {
    if (!trial.mutable_prediction()->ParseFromString(prediction)) {
      return absl::InternalError(absl::StrCat("corrupt prediction of trial ", trial.id()));
    }
  }
  trial.set_log_path(stmt.ColumnText(20));
  if (const std::string gpu = stmt.ColumnBlob(21); !gpu.empty()) {
    if (!trial.mutable_gpu_usage()->ParseFromString(gpu)) {
      return absl::InternalError(absl::StrCat("corrupt GPU usage of trial ", trial.id()));
    }
  }
  return trial;
}

// Reads kStudyColumns of the current row.
absl::StatusOr<Study> ReadStudy(const Statement& stmt) {
  Study study;
  study.set_id(stmt.ColumnInt64(0));
  if (!study.mutable_spec()->ParseFromString(stmt.ColumnBlob(1))) {
    return absl::InternalError(absl::StrCat("corrupt spec of study ", study.id()));
  }
  study.set_state(static_cast<hpo::v1::StudyState>(stmt.ColumnInt64(2)));
  study.set_create_time_ms(stmt.ColumnInt64(3));
  study.set_end_time_ms(stmt.ColumnInt64(4));
  study.set_optimizer_revision(static_cast<int32_t>(stmt.ColumnInt64(5)));
  return study;
}

// Reads step, time_ms, metrics of the current row, starting at `first`.
absl::StatusOr<Measurement> ReadMeasurement(const Statement& stmt, int first, int64_t trial_id) {
  Measurement m;
  if (!m.ParseFromString(stmt.ColumnBlob(first + 2))) {
    return absl::InternalError(absl::StrCat("corrupt measurement of trial ", trial_id));
  }
  m.set_step(stmt.ColumnInt64(first));
  m.set_time_ms(stmt.ColumnInt64(first + 1));
  return m;
}

bool IsMemoryPath(const std::string& path) { return path.empty() || path == ":memory:"; }

}  // namespace

// ---------------------------------------------------------------- lifecycle

SqliteStorage::SqliteStorage(sqlite3* db, std::string path)
    : db_(db), path_(std::move(path)), cache_(db) {}

SqliteStorage::~SqliteStorage() {
  {
    absl::MutexLock lock(&mu_);
    cache_.Clear();  // statements must be finalized before the connection closes
  }
  int rc = sqlite3_close(db_);
  if (rc != SQLITE_OK) {
    HPO_LOG(ERROR) << SqliteStatus(rc, db_, "close " + path_);
  }
}

absl::StatusOr<std::unique_ptr<SqliteStorage>> SqliteStorage::Create(const Options& options) {
  sqlite3* db = nullptr;
  // NOMUTEX: the connection is serialized by mu_, so SQLite's own per-connection mutex is waste.
  int rc =
      sqlite3_open_v2(options.path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    absl::Status status = SqliteStatus(rc, db, absl::StrCat("open \"", options.path, "\""));
    sqlite3_close(db);
    return status;
  }
  auto storage = absl::WrapUnique(new SqliteStorage(db, options.path));
  {
    absl::MutexLock lock(&storage->mu_);
    HPO_RETURN_IF_ERROR(storage->Configure(options));
    HPO_RETURN_IF_ERROR(storage->Migrate());
  }
  return storage;
}

absl::Status SqliteStorage::Configure(const Options& options) {
  sqlite3_extended_result_codes(db_, 1);
  HPO_RETURN_IF_ERROR(SqliteStatus(sqlite3_busy_timeout(db_, std::max(0, options.busy_timeout_ms)),
                                   db_, "busy_timeout"));
  if (!IsMemoryPath(path_)) {
    HPO_ASSIGN_OR_RETURN(auto stmt, Statement::Prepare(db_, "PRAGMA journal_mode=WAL"));
    HPO_ASSIGN_OR_RETURN(bool row, stmt->Step());
    std::string mode = row ? stmt->ColumnText(0) : std::string();
    if (mode != "wal") {
      return absl::InternalError(
          absl::StrCat("cannot put \"", path_, "\" in WAL mode; journal_mode is \"", mode, "\""));
    }
  }
  HPO_RETURN_IF_ERROR(ExecSql(
      db_, options.synchronous_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL"));
  HPO_RETURN_IF_ERROR(ExecSql(db_, "PRAGMA foreign_keys=ON"));
  return absl::OkStatus();
}

absl::StatusOr<int> SqliteStorage::SchemaVersionLocked() {
  HPO_ASSIGN_OR_RETURN(auto stmt, Statement::Prepare(db_,
                                                     "SELECT COALESCE(MAX(version), 0) FROM "
                                                     "schema_version"));
  HPO_ASSIGN_OR_RETURN(bool row, stmt->Step());
  if (!row) return absl::InternalError("schema_version: no result");
  return static_cast<int>(stmt->ColumnInt64(0));
}

absl::StatusOr<int> SqliteStorage::SchemaVersion() {
  absl::MutexLock lock(&mu_);
  return SchemaVersionLocked();
}

absl::Status SqliteStorage::Migrate() {
  HPO_RETURN_IF_ERROR(ExecSql(db_,
                              "CREATE TABLE IF NOT EXISTS schema_version ("
                              "version INTEGER PRIMARY KEY, applied_ms INTEGER NOT NULL)"));
  auto newer_error = [&](int found) {
    return absl::FailedPreconditionError(
        absl::StrCat("database \"", path_, "\" has schema version ", found, ", newer than version ",
                     kSqliteSchemaVersion, " known to this build; upgrade hpo"));
  };
  HPO_ASSIGN_OR_RETURN(int version, SchemaVersionLocked());
  if (version > kSqliteSchemaVersion) return newer_error(version);
  for (const Migration& migration : kMigrations) {
    if (migration.version <= version) continue;
    HPO_ASSIGN_OR_RETURN(auto txn, Transaction::Begin(db_, nullptr));
    // Another process may have migrated between our read and our write lock: read again.
    HPO_ASSIGN_OR_RETURN(version, SchemaVersionLocked());
    if (version > kSqliteSchemaVersion) return newer_error(version);
    if (migration.version <= version) continue;
    HPO_RETURN_IF_ERROR(
        core::Annotate(ExecSql(db_, migration.sql), absl::StrCat("migration ", migration.version)));
    HPO_ASSIGN_OR_RETURN(
        auto insert,
        Statement::Prepare(db_, "INSERT INTO schema_version (version, applied_ms) VALUES (?, ?)"));
    insert->BindInt64(1, migration.version);
    insert->BindInt64(2, absl::ToUnixMillis(absl::Now()));
    HPO_RETURN_IF_ERROR(insert->StepDone());
    insert.reset();
    HPO_RETURN_IF_ERROR(txn->Commit());
    version = migration.version;
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------- studies

absl::StatusOr<Study> SqliteStorage::CreateStudy(const StudySpec& spec, int64_t now_ms,
                                                 int32_t optimizer_revision) {
  absl::MutexLock lock(&mu_);
  HPO_ASSIGN_OR_RETURN(auto stmt,
                       cache_.Get("INSERT INTO studies (name, spec, state, create_time_ms, "
                                  "end_time_ms, optimizer_revision) VALUES (?, ?, ?, ?, 0, ?)"));
  stmt->BindText(1, spec.name());
  stmt->BindBlob(2, spec.SerializeAsString());
  stmt->BindInt64(3, hpo::v1::STUDY_RUNNING);
  stmt->BindInt64(4, now_ms);
  stmt->BindInt64(5, optimizer_revision);
  absl::Status status = stmt->StepDone();
  if (absl::IsAlreadyExists(status)) {
    return absl::AlreadyExistsError(absl::StrCat("study \"", spec.name(), "\" already exists"));
  }
  HPO_RETURN_IF_ERROR(status);
  Study study;
  study.set_id(sqlite3_last_insert_rowid(db_));
  *study.mutable_spec() = spec;
  study.set_state(hpo::v1::STUDY_RUNNING);
  study.set_create_time_ms(now_ms);
  study.set_optimizer_revision(optimizer_revision);
  return study;
}

absl::StatusOr<Study> SqliteStorage::GetStudy(absl::string_view name) {
  absl::MutexLock lock(&mu_);
  HPO_ASSIGN_OR_RETURN(auto stmt, cache_.Get(absl::StrCat("SELECT ", kStudyColumns,
                                                          " FROM studies WHERE name = ?")));
  stmt->BindText(1, name);
  HPO_ASSIGN_OR_RETURN(bool row, stmt->Step());
  if (!row) return absl::NotFoundError(absl::StrCat("study \"", name, "\" not found"));
  return ReadStudy(*stmt);
}

absl::StatusOr<Study> SqliteStorage::GetStudyById(int64_t study_id) {
  absl::MutexLock lock(&mu_);
  HPO_ASSIGN_OR_RETURN(
      auto stmt, cache_.Get(absl::StrCat("SELECT ", kStudyColumns, " FROM studies WHERE id = ?")));
  stmt->BindInt64(1, study_id);
  HPO_ASSIGN_OR_RETURN(bool row, stmt->Step());
  if (!row) return absl::NotFoundError(absl::StrCat("study ", study_id, " not found"));
  return ReadStudy(*stmt);
}

absl::StatusOr<std::vector<Study>> SqliteStorage::ListStudies() {
  absl::MutexLock lock(&mu_);
  HPO_ASSIGN_OR_RETURN(
      auto stmt, cache_.Get(absl::StrCat("SELECT ", kStudyColumns, " FROM studies ORDER BY id")));
  std::vector<Study> studies;
  while (true) {
    HPO_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) break;
    HPO_ASSIGN_OR_RETURN(Study study, ReadStudy(*stmt));
    studies.push_back(std::move(study));
  }
  return studies;
}

absl::Status SqliteStorage::UpdateStudyState(int64_t study_id, hpo::v1::StudyState state,
                                             int64_t end_time_ms) {
  absl::MutexLock lock(&mu_);
  return UpdateStudyStateLocked(study_id, state, end_time_ms);  // one statement
}

absl::Status SqliteStorage::EndStudy(int64_t study_id, hpo::v1::StudyState state,
                                     int64_t end_time_ms, const std::vector<Trial>& trials) {
  absl::MutexLock lock(&mu_);
  HPO_ASSIGN_OR_RETURN(auto txn, Transaction::Begin(db_, &cache_));
  for (const Trial& t : trials) HPO_RETURN_IF_ERROR(UpdateTrialLocked(t));
  HPO_RETURN_IF_ERROR(UpdateStudyStateLocked(study_id, state, end_time_ms));
  return txn->Commit();
}

absl::Status SqliteStorage::UpdateStudy(int64_t study_id, const hpo::v1::StudySpec& spec,
                                        hpo::v1::StudyState state, int64_t end_time_ms) {
  absl::MutexLock lock(&mu_);
  HPO_ASSIGN_OR_RETURN(
      auto stmt,
      cache_.Get("UPDATE studies SET spec = ?, state = ?, end_time_ms = ? WHERE id = ?"));
  stmt->BindBlob(1, spec.SerializeAsString());
  stmt->BindInt64(2, state);
  stmt->BindInt64(3, end_time_ms);
  stmt->BindInt64(4, study_id);
  HPO_RETURN_IF_ERROR(stmt->StepDone());
  if (stmt->Changes() == 0) {
    return absl::NotFoundError(absl::StrCat("study ", study_id, " not found"));
  }
  return absl::OkStatus();
}

absl::StatusOr<int> SqliteStorage::DeleteStudy(int64_t study_id) {
  absl::MutexLock lock(&mu_);
  HPO_ASSIGN_OR_RETURN(auto txn, Transaction::Begin(db_, &cache_));
  HPO_ASSIGN_OR_RETURN(auto curves, cache_.Get("DELETE FROM measurements WHERE trial_id IN "
                                               "(SELECT id FROM trials WHERE study_id = ?)"));
  curves->BindInt64(1, study_id);
  HPO_RETURN_IF_ERROR(curves->StepDone());
  HPO_ASSIGN_OR_RETURN(auto trials, cache_.Get("DELETE FROM trials WHERE study_id = ?"));
  trials->BindInt64(1, study_id);
  HPO_RETURN_IF_ERROR(trials->StepDone());
  const int deleted = trials->Changes();
  HPO_ASSIGN_OR_RETURN(auto study, cache_.Get("DELETE FROM studies WHERE id = ?"));
  study->BindInt64(1, study_id);
  HPO_RETURN_IF_ERROR(study->StepDone());
  if (study->Changes() == 0) {
    return absl::NotFoundError(absl::StrCat("study ", study_id, " not found"));
  }
  HPO_RETURN_IF_ERROR(txn->Commit());
  return deleted;
}

absl::Status SqliteStorage::UpdateStudyStateLocked(int64_t study_id, hpo::v1::StudyState state,
                                                   int64_t end_time_ms) {
  HPO_ASSIGN_OR_RETURN(auto stmt,
                       cache_.Get("UPDATE studies SET state = ?, end_time_ms = ? WHERE id = ?"));
  stmt->BindInt64(1, state);
  stmt->BindInt64(2, end_time_ms);
  stmt->BindInt64(3, study_id);
  HPO_RETURN_IF_ERROR(stmt->StepDone());
  if (stmt->Changes() == 0) {
    return absl::NotFoundError(absl::StrCat("study ", study_id, " not found"));
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------- trials

absl::StatusOr<Trial> SqliteStorage::InsertTrialLocked(const Trial& trial) {
  HPO_ASSIGN_OR_RETURN(auto stmt, cache_.Get(kInsertTrial));
  BindTrial(trial, trial.study_id(), *stmt);
  absl::Status status = stmt->StepDone();
  if (absl::IsAlreadyExists(status)) {
    return absl::AlreadyExistsError(absl::StrCat("trial ", trial.number(), " attempt ",
                                                 trial.attempt(), " of study ", trial.study_id(),
                                                 " already exists"));
  }
  if (absl::IsNotFound(status)) {  // the foreign key on study_id
    return absl::NotFoundError(absl::StrCat("study ", trial.study_id(), " not found"));
  }
  HPO_RETURN_IF_ERROR(status);
  Trial inserted = trial;
  inserted.set_id(sqlite3_last_insert_rowid(db_));
  inserted.clear_measurements();
  inserted.set_last_step(-1);
  return inserted;
}

absl::Status SqliteStorage::UpdateTrialLocked(const Trial& trial) {
  HPO_ASSIGN_OR_RETURN(auto stmt, cache_.Get(kUpdateTrial));
  BindTrial(trial, trial.id(), *stmt);
  absl::Status status = stmt->StepDone();
  if (absl::IsAlreadyExists(status)) {
    return absl::AlreadyExistsError(absl::StrCat("trial ", trial.number(), " attempt ",
                                                 trial.attempt(), " of study ", trial.study_id(),
                                                 " already exists"));
  }
  HPO_RETURN_IF_ERROR(status);
  if (stmt->Changes() == 0) {
    return absl::NotFoundError(absl::StrCat("trial ", trial.id(), " not found"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Trial> SqliteStorage::InsertTrial(const Trial& trial) {
  absl::MutexLock lock(&mu_);
  return InsertTrialLocked(trial);  // one statement: its own transaction
}

absl::Status SqliteStorage::UpdateTrial(const Trial& trial) {
  absl::MutexLock lock(&mu_);
  return UpdateTrialLocked(trial);  // one statement: its own transaction
}

absl::Status SqliteStorage::ResetTrial(const Trial& trial) {
  absl::MutexLock lock(&mu_);
  HPO_ASSIGN_OR_RETURN(auto txn, Transaction::Begin(db_, &cache_));
  HPO_RETURN_IF_ERROR(UpdateTrialLocked(trial));
  HPO_ASSIGN_OR_RETURN(auto del, cache_.Get("DELETE FROM measurements WHERE trial_id = ?"));
  del->BindInt64(1, trial.id());
  HPO_RETURN_IF_ERROR(del->StepDone());
  HPO_ASSIGN_OR_RETURN(auto step, cache_.Get("UPDATE trials SET last_step = -1 WHERE id = ?"));
  step->BindInt64(1, trial.id());
  HPO_RETURN_IF_ERROR(step->StepDone());
  return txn->Commit();
}

absl::Status SqliteStorage::UpdateAndInsertTrial(const Trial& updated, Trial* inserted) {
  absl::MutexLock lock(&mu_);
  HPO_ASSIGN_OR_RETURN(auto txn, Transaction::Begin(db_, &cache_));
  HPO_RETURN_IF_ERROR(UpdateTrialLocked(updated));
  HPO_ASSIGN_OR_RETURN(Trial stored, InsertTrialLocked(*inserted));
  HPO_RETURN_IF_ERROR(txn->Commit());
  *inserted = std::move(stored);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Measurement>> SqliteStorage::ListMeasurementsLocked(int64_t trial_id) {
  HPO_ASSIGN_OR_RETURN(auto stmt, cache_.Get("SELECT step, time_ms, metrics FROM measurements "
                                             "WHERE trial_id = ? ORDER BY seq"));
  stmt->BindInt64(1, trial_id);
  std::vector<Measurement> measurements;
  while (true) {
    HPO_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) break;
    HPO_ASSIGN_OR_RETURN(Measurement m, ReadMeasurement(*stmt, 0, trial_id));
    measurements.push_back(std::move(m));
  }
  return measurements;
}

absl::StatusOr<Trial> SqliteStorage::GetTrial(int64_t trial_id, bool with_measurements) {
  absl::MutexLock lock(&mu_);
  Trial trial;
  {
    HPO_ASSIGN_OR_RETURN(auto stmt, cache_.Get("SELECT " HPO_TRIAL_COLUMNS ", s.name FROM trials t "
                                               "JOIN studies s ON s.id = t.study_id "
                                               "WHERE t.id = ?"));
    stmt->BindInt64(1, trial_id);
    HPO_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) return absl::NotFoundError(absl::StrCat("trial ", trial_id, " not found"));
    HPO_ASSIGN_OR_RETURN(trial, ReadTrial(*stmt));
    trial.set_study_name(stmt->ColumnText(kTrialColumnCount));
  }
  if (with_measurements) {
    HPO_ASSIGN_OR_RETURN(std::vector<Measurement> measurements, ListMeasurementsLocked(trial_id));
    for (Measurement& m : measurements) *trial.add_measurements() = std::move(m);
  }
  return trial;
}

absl::StatusOr<std::vector<Trial>> SqliteStorage::ListTrials(int64_t study_id,
                                                             hpo::v1::TrialState state,
                                                             int64_t after_id, int limit) {
  absl::MutexLock lock(&mu_);
  std::string study_name;
  {
    HPO_ASSIGN_OR_RETURN(auto stmt, cache_.Get("SELECT name FROM studies WHERE id = ?"));
    stmt->BindInt64(1, study_id);
    HPO_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) return absl::NotFoundError(absl::StrCat("study ", study_id, " not found"));
    study_name = stmt->ColumnText(0);
  }
  const bool any_state = state == hpo::v1::TRIAL_STATE_UNSPECIFIED;
  HPO_ASSIGN_OR_RETURN(
      auto stmt, cache_.Get(any_state ? "SELECT " HPO_TRIAL_COLUMNS " FROM trials t "
                                        "WHERE t.study_id = ?1 AND t.id > ?2 ORDER BY t.id LIMIT ?3"
                                      : "SELECT " HPO_TRIAL_COLUMNS " FROM trials t "
                                        "WHERE t.study_id = ?1 AND t.state = ?4 AND t.id > ?2 "
                                        "ORDER BY t.id LIMIT ?3"));
  stmt->BindInt64(1, study_id);
  stmt->BindInt64(2, after_id);
  stmt->BindInt64(3, limit > 0 ? limit : -1);  // a negative LIMIT means no limit
  if (!any_state) stmt->BindInt64(4, state);
  std::vector<Trial> trials;
  while (true) {
    HPO_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) break;
    HPO_ASSIGN_OR_RETURN(Trial trial, ReadTrial(*stmt));
    trial.set_study_name(study_name);
    trials.push_back(std::move(trial));
  }
  return trials;
}

#undef HPO_TRIAL_COLUMNS

// ---------------------------------------------------------------- measurements

absl::Status SqliteStorage::AppendMeasurements(int64_t trial_id,
                                               const std::vector<Measurement>& measurements) {
  if (measurements.empty()) return absl::OkStatus();
  absl::MutexLock lock(&mu_);
  HPO_ASSIGN_OR_RETURN(auto txn, Transaction::Begin(db_, &cache_));
  {
    HPO_ASSIGN_OR_RETURN(auto stmt, cache_.Get("UPDATE trials SET last_step = ? WHERE id = ?"));
    stmt->BindInt64(1, measurements.back().step());
    stmt->BindInt64(2, trial_id);
    HPO_RETURN_IF_ERROR(stmt->StepDone());
    if (stmt->Changes() == 0) {
      return absl::NotFoundError(absl::StrCat("trial ", trial_id, " not found"));
    }
  }
  int64_t seq = 0;
  {
    HPO_ASSIGN_OR_RETURN(
        auto stmt,
        cache_.Get("SELECT COALESCE(MAX(seq), -1) + 1 FROM measurements WHERE trial_id = ?"));
    stmt->BindInt64(1, trial_id);
    HPO_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (row) seq = stmt->ColumnInt64(0);
  }
  HPO_ASSIGN_OR_RETURN(auto stmt, cache_.Get("INSERT INTO measurements (trial_id, seq, step, "
                                             "time_ms, metrics) VALUES (?, ?, ?, ?, ?)"));
  for (const Measurement& measurement : measurements) {
    stmt->BindInt64(1, trial_id);
    stmt->BindInt64(2, seq++);
    stmt->BindInt64(3, measurement.step());
    stmt->BindInt64(4, measurement.time_ms());
    stmt->BindBlob(5, MetricsBlob(measurement.metrics()));
    HPO_RETURN_IF_ERROR(stmt->StepDone());
    stmt->Reset();
  }
  return txn->Commit();
}

absl::StatusOr<std::map<int64_t, std::vector<Measurement>>> SqliteStorage::ListStudyMeasurements(
    int64_t study_id) {
  absl::MutexLock lock(&mu_);
  {
    HPO_ASSIGN_OR_RETURN(auto stmt, cache_.Get("SELECT name FROM studies WHERE id = ?"));
    stmt->BindInt64(1, study_id);
    HPO_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) return absl::NotFoundError(absl::StrCat("study ", study_id, " not found"));
  }
  HPO_ASSIGN_OR_RETURN(auto stmt,
                       cache_.Get("SELECT m.trial_id, m.step, m.time_ms, m.metrics "
                                  "FROM trials t JOIN measurements m ON m.trial_id = t.id "
                                  "WHERE t.study_id = ? ORDER BY m.trial_id, m.seq"));
  stmt->BindInt64(1, study_id);
  std::map<int64_t, std::vector<Measurement>> result;
  while (true) {
    HPO_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) break;
    const int64_t trial_id = stmt->ColumnInt64(0);
    HPO_ASSIGN_OR_RETURN(Measurement m, ReadMeasurement(*stmt, 1, trial_id));
    result[trial_id].push_back(std::move(m));
  }
  return result;
}

// ---------------------------------------------------------------- workers

absl::Status SqliteStorage::UpsertWorker(const WorkerRecord& worker) {
  for (const std::string& gpu : worker.gpus) {
    if (gpu.empty() || gpu.find(',') != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("worker \"", worker.id, "\": GPU name \"", gpu,
                                                     "\" is empty or contains ','"));
    }
  }
  absl::MutexLock lock(&mu_);
  HPO_ASSIGN_OR_RETURN(
      auto stmt,
      cache_.Get("INSERT INTO workers (id, hostname, slots, gpus, registered_ms, last_seen_ms) "
                 "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                 "hostname = excluded.hostname, slots = excluded.slots, gpus = excluded.gpus, "
                 "registered_ms = excluded.registered_ms, last_seen_ms = excluded.last_seen_ms"));
  stmt->BindText(1, worker.id);
  stmt->BindText(2, worker.hostname);
  stmt->BindInt64(3, worker.slots);
  stmt->BindText(4, absl::StrJoin(worker.gpus, ","));
  stmt->BindInt64(5, worker.registered_ms);
  stmt->BindInt64(6, worker.last_seen_ms);
  return stmt->StepDone();
}

absl::StatusOr<std::vector<WorkerRecord>> SqliteStorage::ListWorkers() {
  absl::MutexLock lock(&mu_);
  HPO_ASSIGN_OR_RETURN(auto stmt, cache_.Get("SELECT id, hostname, slots, gpus, registered_ms, "
                                             "last_seen_ms FROM workers ORDER BY id"));
  std::vector<WorkerRecord> workers;
  while (true) {
    HPO_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) break;
    WorkerRecord w;
    w.id = stmt->ColumnText(0);
    w.hostname = stmt->ColumnText(1);
    w.slots = static_cast<int32_t>(stmt->ColumnInt64(2));
    std::string gpus = stmt->ColumnText(3);
    if (!gpus.empty()) {
      std::vector<std::string> parts = absl::StrSplit(gpus, ',');
      w.gpus = std::move(parts);
    }
    w.registered_ms = stmt->ColumnInt64(4);
    w.last_seen_ms = stmt->ColumnInt64(5);
    workers.push_back(std::move(w));
  }
  return workers;
}

}  // namespace hpo::storage
