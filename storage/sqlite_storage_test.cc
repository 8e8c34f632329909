// SQLite-specific behaviour: files, WAL, schema versions, error mapping, the SQLite veneer.
#include "storage/sqlite_storage.h"

#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/sqlite_util.h"

namespace hpo::storage {
namespace {

using hpo::v1::Trial;
using ::testing::HasSubstr;

// A raw second connection to the same file, for looking behind the Storage interface.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    EXPECT_EQ(sqlite3_open(path.c_str(), &db_), SQLITE_OK);
  }
  ~RawDb() { sqlite3_close(db_); }
  sqlite3* get() { return db_; }

  // The first column of the first row of `sql`, as text ("" when no row).
  std::string Query(const char* sql) {
    auto stmt = Statement::Prepare(db_, sql);
    EXPECT_TRUE(stmt.ok()) << stmt.status();
    if (!stmt.ok()) return "";
    auto row = (*stmt)->Step();
    EXPECT_TRUE(row.ok()) << row.status();
    return row.ok() && *row ? (*stmt)->ColumnText(0) : "";
  }
  void Exec(const char* sql) {
    absl::Status status = ExecSql(db_, sql);
    EXPECT_TRUE(status.ok()) << status;
  }

 private:
  sqlite3* db_ = nullptr;
};

class SqliteStorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = testing::TempDir() + "/sqlite_storage_XXXXXX";
    ASSERT_NE(mkdtemp(templ.data()), nullptr);
    dir_ = templ;
    path_ = dir_ + "/hpo.sqlite";
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::unique_ptr<SqliteStorage> Open(int busy_timeout_ms = 5000) {
    SqliteStorage::Options options;
    options.path = path_;
    options.busy_timeout_ms = busy_timeout_ms;
    auto storage = SqliteStorage::Create(options);
    EXPECT_TRUE(storage.ok()) << storage.status();
    return storage.ok() ? *std::move(storage) : nullptr;
  }

  // A study "old" with one trial in `state`, written and closed: the trial's id (0 on failure).
  int64_t OneTrialInAStudy(hpo::v1::TrialState state) {
    auto storage = Open();
    if (storage == nullptr) return 0;
    auto study = storage->CreateStudy(Spec("old"), 5, 9);
    EXPECT_TRUE(study.ok()) << study.status();
    if (!study.ok()) return 0;
    Trial t;
    t.set_study_id(study->id());
    t.set_state(state);
    auto inserted = storage->InsertTrial(t);
    EXPECT_TRUE(inserted.ok()) << inserted.status();
    return inserted.ok() ? inserted->id() : 0;
  }

  static hpo::v1::StudySpec Spec(const std::string& name) {
    hpo::v1::StudySpec spec;
    spec.set_name(name);
    spec.mutable_objective()->set_metric("loss");
    return spec;
  }

  std::string dir_;
  std::string path_;
};

TEST_F(SqliteStorageTest, FileUsesWalJournal) {
  auto storage = Open();
  ASSERT_NE(storage, nullptr);
  RawDb raw(path_);
  EXPECT_EQ(raw.Query("PRAGMA journal_mode"), "wal");
}

TEST_F(SqliteStorageTest, DataSurvivesReopenAndMigrationsRunOnce) {
  int64_t trial_id = 0;
  {
    auto storage = Open();
    ASSERT_NE(storage, nullptr);
    auto study = storage->CreateStudy(Spec("kept"), 42, 3);
    ASSERT_TRUE(study.ok()) << study.status();
    hpo::v1::Trial t;
    t.set_study_id(study->id());
    t.set_state(hpo::v1::RUNNING);
    (*t.mutable_params()->mutable_values())["x"].set_int_value(3);
    auto trial = storage->InsertTrial(t);
    ASSERT_TRUE(trial.ok()) << trial.status();
    trial_id = trial->id();
    hpo::v1::Measurement m;
    m.set_step(7);
    (*m.mutable_metrics())["loss"] = 0.5;
    ASSERT_TRUE(storage->AppendMeasurement(trial_id, m).ok());
    ASSERT_TRUE(storage->UpsertWorker({"w", "h", 1, {"0"}, 1, 2}).ok());
  }
  auto storage = Open();
  ASSERT_NE(storage, nullptr);
  auto version = storage->SchemaVersion();
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(*version, kSqliteSchemaVersion);
  auto study = storage->GetStudy("kept");
  ASSERT_TRUE(study.ok()) << study.status();
  EXPECT_EQ(study->create_time_ms(), 42);
  EXPECT_EQ(study->optimizer_revision(), 3);
  auto trial = storage->GetTrial(trial_id, true);
  ASSERT_TRUE(trial.ok()) << trial.status();
  EXPECT_EQ(trial->state(), hpo::v1::RUNNING);
  EXPECT_EQ(trial->params().values().at("x").int_value(), 3);
  EXPECT_EQ(trial->last_step(), 7);
  ASSERT_EQ(trial->measurements_size(), 1);
  EXPECT_EQ(trial->measurements(0).metrics().at("loss"), 0.5);
  auto workers = storage->ListWorkers();
  ASSERT_TRUE(workers.ok());
  ASSERT_EQ(workers->size(), 1u);
  EXPECT_EQ((*workers)[0].gpus, std::vector<std::string>({"0"}));

  RawDb raw(path_);
  EXPECT_EQ(raw.Query("SELECT COUNT(*) FROM schema_version"), std::to_string(kSqliteSchemaVersion));
  EXPECT_EQ(raw.Query("SELECT MAX(version) FROM schema_version"),
            std::to_string(kSqliteSchemaVersion));
}

TEST_F(SqliteStorageTest, Version1DatabaseGainsOptimizerRevisions) {
  {
    auto storage = Open();
    ASSERT_NE(storage, nullptr);
    ASSERT_TRUE(storage->CreateStudy(Spec("old"), 5, 9).ok());
  }
  {
    // Back to what version 1 wrote: no optimizer_revision column, one migration on record.
    RawDb raw(path_);
    raw.Exec("ALTER TABLE studies DROP COLUMN optimizer_revision");
    raw.Exec("ALTER TABLE trials DROP COLUMN stop");
    raw.Exec("ALTER TABLE trials DROP COLUMN prediction");
    raw.Exec("ALTER TABLE trials DROP COLUMN log_path");
    raw.Exec("DELETE FROM schema_version WHERE version > 1");
    raw.Exec("ALTER TABLE trials DROP COLUMN gpu_usage");  // version 5's
  }
  auto storage = Open();
  ASSERT_NE(storage, nullptr);
  EXPECT_EQ(*storage->SchemaVersion(), kSqliteSchemaVersion);
  auto old = storage->GetStudy("old");
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_EQ(old->optimizer_revision(), 0);
  EXPECT_EQ(old->create_time_ms(), 5);
  auto fresh = storage->CreateStudy(Spec("new"), 6, 4);
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(storage->GetStudy("new")->optimizer_revision(), 4);
}

TEST_F(SqliteStorageTest, Version2DatabaseGainsStopJudgements) {
  const int64_t trial_id = OneTrialInAStudy(hpo::v1::PRUNED);
  ASSERT_GT(trial_id, 0);
  {
    // Back to what version 2 wrote: no stop, prediction or log_path columns.
    RawDb raw(path_);
    raw.Exec("ALTER TABLE trials DROP COLUMN stop");
    raw.Exec("ALTER TABLE trials DROP COLUMN prediction");
    raw.Exec("ALTER TABLE trials DROP COLUMN log_path");
    raw.Exec("DELETE FROM schema_version WHERE version > 2");
    raw.Exec("ALTER TABLE trials DROP COLUMN gpu_usage");  // version 5's
  }
  auto storage = Open();
  ASSERT_NE(storage, nullptr);
  EXPECT_EQ(*storage->SchemaVersion(), kSqliteSchemaVersion);
  auto old = storage->GetTrial(trial_id, false);
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_EQ(old->state(), hpo::v1::PRUNED);
  EXPECT_FALSE(old->has_stop());
  EXPECT_FALSE(old->has_prediction());
  Trial judged = *old;
  judged.mutable_stop()->set_rule("median");
  ASSERT_TRUE(storage->UpdateTrial(judged).ok());
  EXPECT_EQ(storage->GetTrial(trial_id, false)->stop().rule(), "median");
}

TEST_F(SqliteStorageTest, Version3DatabaseGainsLogPaths) {
  const int64_t trial_id = OneTrialInAStudy(hpo::v1::COMPLETED);
  ASSERT_GT(trial_id, 0);
  {
    RawDb raw(path_);  // what version 3 wrote: no log_path column
    raw.Exec("ALTER TABLE trials DROP COLUMN log_path");
    raw.Exec("DELETE FROM schema_version WHERE version > 3");
    raw.Exec("ALTER TABLE trials DROP COLUMN gpu_usage");  // version 5's
  }
  auto storage = Open();
  ASSERT_NE(storage, nullptr);
  EXPECT_EQ(*storage->SchemaVersion(), kSqliteSchemaVersion);
  auto old = storage->GetTrial(trial_id, false);
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_EQ(old->log_path(), "");
  Trial logged = *old;
  logged.set_log_path("gpu-7:/var/log/hpo/old-0-0-1.log");
  ASSERT_TRUE(storage->UpdateTrial(logged).ok());
  EXPECT_EQ(storage->GetTrial(trial_id, false)->log_path(), "gpu-7:/var/log/hpo/old-0-0-1.log");
}

TEST_F(SqliteStorageTest, Version4DatabaseGainsGpuUsage) {
  const int64_t trial_id = OneTrialInAStudy(hpo::v1::COMPLETED);
  ASSERT_GT(trial_id, 0);
  {
    RawDb raw(path_);  // what version 4 wrote: no gpu_usage column
    raw.Exec("ALTER TABLE trials DROP COLUMN gpu_usage");
    raw.Exec("DELETE FROM schema_version WHERE version > 4");
  }
  auto storage = Open();
  ASSERT_NE(storage, nullptr);
  EXPECT_EQ(*storage->SchemaVersion(), 5);
  auto old = storage->GetTrial(trial_id, false);
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_FALSE(old->has_gpu_usage());
  Trial measured = *old;
  measured.mutable_gpu_usage()->add_devices("0");
  measured.mutable_gpu_usage()->set_peak_memory_mib(2048);
  measured.mutable_gpu_usage()->set_polls(3);
  ASSERT_TRUE(storage->UpdateTrial(measured).ok());
  EXPECT_EQ(storage->GetTrial(trial_id, false)->gpu_usage().peak_memory_mib(), 2048);
}

TEST_F(SqliteStorageTest, NewerSchemaVersionIsRefused) {
  ASSERT_NE(Open(), nullptr);
  {
    RawDb raw(path_);
    raw.Exec("INSERT INTO schema_version (version, applied_ms) VALUES (99, 0)");
  }
  SqliteStorage::Options options;
  options.path = path_;
  auto storage = SqliteStorage::Create(options);
  ASSERT_FALSE(storage.ok());
  EXPECT_EQ(storage.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(storage.status().message(), HasSubstr("schema version 99"));
  EXPECT_THAT(storage.status().message(),
              HasSubstr("version " + std::to_string(kSqliteSchemaVersion) + " known"));
}

TEST_F(SqliteStorageTest, MemoryDatabaseHasCurrentSchema) {
  SqliteStorage::Options options;
  options.path = ":memory:";
  auto storage = SqliteStorage::Create(options);
  ASSERT_TRUE(storage.ok()) << storage.status();
  auto version = (*storage)->SchemaVersion();
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(*version, kSqliteSchemaVersion);
}

TEST_F(SqliteStorageTest, UnopenablePathIsInternal) {
  SqliteStorage::Options options;
  options.path = dir_ + "/no/such/dir/hpo.sqlite";
  auto storage = SqliteStorage::Create(options);
  ASSERT_FALSE(storage.ok());
  EXPECT_EQ(storage.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(storage.status().message(), HasSubstr("no/such/dir"));
}

TEST_F(SqliteStorageTest, BusyDatabaseIsUnavailable) {
  auto storage = Open(/*busy_timeout_ms=*/0);
  ASSERT_NE(storage, nullptr);
  RawDb raw(path_);
  raw.Exec("BEGIN IMMEDIATE");  // another writer holds the write lock
  auto study = storage->CreateStudy(Spec("blocked"), 1, 0);
  EXPECT_EQ(study.status().code(), absl::StatusCode::kUnavailable);
  hpo::v1::Measurement m;
  EXPECT_EQ(storage->AppendMeasurement(1, m).code(), absl::StatusCode::kUnavailable);
  raw.Exec("ROLLBACK");
  EXPECT_TRUE(storage->CreateStudy(Spec("blocked"), 1, 0).ok());
}

TEST_F(SqliteStorageTest, ParamsJsonColumnIsReadable) {
  auto storage = Open();
  ASSERT_NE(storage, nullptr);
  auto study = storage->CreateStudy(Spec("json"), 1, 0);
  ASSERT_TRUE(study.ok());
  hpo::v1::Trial t;
  t.set_study_id(study->id());
  auto& values = *t.mutable_params()->mutable_values();
  values["x"].set_float_value(1.5);
  values["n"].set_int_value(3);
  values["kind"].set_string_value("b");
  values["on"].set_bool_value(false);
  ASSERT_TRUE(storage->InsertTrial(t).ok());
  RawDb raw(path_);
  EXPECT_EQ(raw.Query("SELECT params_json FROM trials"),
            R"({"kind":"b","n":3,"on":false,"x":1.5})");
}

// ---------------------------------------------------------------- the veneer

TEST(SqliteStatusTest, MapsCodesByWhatTheCallerShouldDo) {
  EXPECT_TRUE(SqliteStatus(SQLITE_OK, nullptr, "x").ok());
  EXPECT_TRUE(SqliteStatus(SQLITE_DONE, nullptr, "x").ok());
  EXPECT_EQ(SqliteStatus(SQLITE_BUSY, nullptr, "x").code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(SqliteStatus(SQLITE_BUSY_SNAPSHOT, nullptr, "x").code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(SqliteStatus(SQLITE_LOCKED, nullptr, "x").code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(SqliteStatus(SQLITE_CONSTRAINT_UNIQUE, nullptr, "x").code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(SqliteStatus(SQLITE_CONSTRAINT_PRIMARYKEY, nullptr, "x").code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(SqliteStatus(SQLITE_CONSTRAINT_FOREIGNKEY, nullptr, "x").code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(SqliteStatus(SQLITE_CONSTRAINT_NOTNULL, nullptr, "x").code(),
            absl::StatusCode::kInternal);
  absl::Status corrupt = SqliteStatus(SQLITE_CORRUPT, nullptr, "reading trials");
  EXPECT_EQ(corrupt.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(corrupt.message(), HasSubstr("reading trials: "));
  EXPECT_THAT(corrupt.message(), HasSubstr("malformed"));
}

class TransactionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(sqlite3_open(":memory:", &db_), SQLITE_OK);
    sqlite3_extended_result_codes(db_, 1);
    ASSERT_TRUE(ExecSql(db_, "CREATE TABLE t (v INTEGER UNIQUE)").ok());
  }
  void TearDown() override {
    cache_.reset();
    sqlite3_close(db_);
  }
  std::string Count() {
    auto stmt = Statement::Prepare(db_, "SELECT COUNT(*) FROM t");
    EXPECT_TRUE(stmt.ok());
    EXPECT_TRUE(*(*stmt)->Step());
    return (*stmt)->ColumnText(0);
  }
  absl::Status Insert(int v) {
    auto stmt = cache_->Get("INSERT INTO t (v) VALUES (?)");
    if (!stmt.ok()) return stmt.status();
    (*stmt)->BindInt64(1, v);
    return (*stmt)->StepDone();
  }

  sqlite3* db_ = nullptr;
  std::unique_ptr<StatementCache> cache_ = nullptr;
};

TEST_F(TransactionTest, RollsBackUnlessCommitted) {
  cache_ = std::make_unique<StatementCache>(db_);
  {
    auto txn = Transaction::Begin(db_, cache_.get());
    ASSERT_TRUE(txn.ok()) << txn.status();
    ASSERT_TRUE(Insert(1).ok());
  }
  EXPECT_EQ(Count(), "0");
  {
    auto txn = Transaction::Begin(db_, nullptr);
    ASSERT_TRUE(txn.ok()) << txn.status();
    ASSERT_TRUE(Insert(1).ok());
    ASSERT_TRUE(Insert(2).ok());
    ASSERT_TRUE((*txn)->Commit().ok());
    EXPECT_EQ((*txn)->Commit().code(), absl::StatusCode::kFailedPrecondition);
  }
  EXPECT_EQ(Count(), "2");
  absl::Status dup = Insert(2);
  EXPECT_EQ(dup.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(dup.message(), HasSubstr("UNIQUE constraint failed: t.v"));
}

TEST_F(TransactionTest, StatementReportsBindErrorsAtStep) {
  cache_ = std::make_unique<StatementCache>(db_);
  auto stmt = cache_->Get("INSERT INTO t (v) VALUES (?)");
  ASSERT_TRUE(stmt.ok());
  (*stmt)->BindInt64(2, 5);  // there is no parameter 2
  absl::Status status = (*stmt)->StepDone();
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(status.message(), HasSubstr("bind parameter 2"));
}

TEST_F(TransactionTest, PrepareErrorNamesTheSql) {
  auto stmt = Statement::Prepare(db_, "SELEKT 1");
  ASSERT_FALSE(stmt.ok());
  EXPECT_EQ(stmt.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(stmt.status().message(), HasSubstr("SELEKT 1"));
  EXPECT_THAT(stmt.status().message(), HasSubstr("syntax error"));
}

}  // namespace
}  // namespace hpo::storage
