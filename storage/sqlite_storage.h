// Storage on one SQLite database (a file in WAL mode, or ":memory:").
#ifndef HPO_STORAGE_SQLITE_STORAGE_H_
#define HPO_STORAGE_SQLITE_STORAGE_H_

#include <sqlite3.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "storage/sqlite_util.h"
#include "storage/storage.h"

namespace hpo::storage {

// The schema version this code writes; Create() migrates older databases up to it and refuses
// newer ones.
inline constexpr int kSqliteSchemaVersion = 5;

// Storage on SQLite.
//
// Thread-safe: one connection, guarded by one absl::Mutex held for the whole of each call (the
// lock is held across the database I/O on purpose: SQLite serializes writers anyway, and with a
// single connection the statement cache and the connection state must not be shared). Several
// processes may open the same file; they then contend through SQLite's own locking, waiting up
// to `busy_timeout_ms` before a call fails with UNAVAILABLE.
//
// Storage conventions beyond the interface:
// - `Trial.study_name` is filled on reads from the study; it is ignored on writes.
// - `Trial.last_step` and `Trial.measurements` are owned by AppendMeasurements: InsertTrial stores
//   last_step = -1 and UpdateTrial leaves both alone. `Trial.study_id` is fixed at insert.
// - NaN objective values round-trip (SQLite stores NaN as NULL; it is read back as NaN).
// - UpsertWorker overwrites every field of an existing worker; a GPU name may not contain ','.
class SqliteStorage final : public Storage {
 public:
  struct Options {
    std::string path;  // a file name, or ":memory:" for a private in-memory database
    int busy_timeout_ms = 5000;
    bool synchronous_full = false;  // PRAGMA synchronous=FULL instead of NORMAL
  };

  // Opens (creating if needed) the database and migrates its schema to kSqliteSchemaVersion.
  // FAILED_PRECONDITION if the database was written by a newer schema version.
  static absl::StatusOr<std::unique_ptr<SqliteStorage>> Create(const Options& options);

  ~SqliteStorage() override;
  SqliteStorage(const SqliteStorage&) = delete;
  SqliteStorage& operator=(const SqliteStorage&) = delete;

  // ---- Storage
  absl::StatusOr<hpo::v1::Study> CreateStudy(const hpo::v1::StudySpec& spec, int64_t now_ms,
                                             int32_t optimizer_revision) override;
  absl::StatusOr<hpo::v1::Study> GetStudy(absl::string_view name) override;
  absl::StatusOr<hpo::v1::Study> GetStudyById(int64_t study_id) override;
  absl::StatusOr<std::vector<hpo::v1::Study>> ListStudies() override;
  absl::Status UpdateStudyState(int64_t study_id, hpo::v1::StudyState state,
                                int64_t end_time_ms) override;

  absl::StatusOr<hpo::v1::Trial> InsertTrial(const hpo::v1::Trial& trial) override;
  absl::Status UpdateTrial(const hpo::v1::Trial& trial) override;
  absl::Status EndStudy(int64_t study_id, hpo::v1::StudyState state, int64_t end_time_ms,
                        const std::vector<hpo::v1::Trial>& trials) override;
  absl::Status UpdateStudy(int64_t study_id, const hpo::v1::StudySpec& spec,
                           hpo::v1::StudyState state, int64_t end_time_ms) override;
  absl::StatusOr<int> DeleteStudy(int64_t study_id) override;
  absl::Status ResetTrial(const hpo::v1::Trial& trial) override;
  absl::Status UpdateAndInsertTrial(const hpo::v1::Trial& updated,
                                    hpo::v1::Trial* inserted) override;
  absl::StatusOr<hpo::v1::Trial> GetTrial(int64_t trial_id, bool with_measurements) override;
  absl::StatusOr<std::vector<hpo::v1::Trial>> ListTrials(int64_t study_id,
                                                         hpo::v1::TrialState state,
                                                         int64_t after_id, int limit) override;

  absl::Status AppendMeasurements(int64_t trial_id,
                                  const std::vector<hpo::v1::Measurement>& measurements) override;
  absl::StatusOr<std::map<int64_t, std::vector<hpo::v1::Measurement>>> ListStudyMeasurements(
      int64_t study_id) override;

  absl::Status UpsertWorker(const WorkerRecord& worker) override;
  absl::StatusOr<std::vector<WorkerRecord>> ListWorkers() override;

  // The schema version recorded in the database.
  absl::StatusOr<int> SchemaVersion();

 private:
  explicit SqliteStorage(sqlite3* db, std::string path);

  absl::Status Configure(const Options& options) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Migrate() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<int> SchemaVersionLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::StatusOr<hpo::v1::Trial> InsertTrialLocked(const hpo::v1::Trial& trial)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status UpdateTrialLocked(const hpo::v1::Trial& trial) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status UpdateStudyStateLocked(int64_t study_id, hpo::v1::StudyState state,
                                      int64_t end_time_ms) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::vector<hpo::v1::Measurement>> ListMeasurementsLocked(int64_t trial_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  sqlite3* const db_;  // the connection; used only with mu_ held
  const std::string path_;
  StatementCache cache_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hpo::storage

#endif  // HPO_STORAGE_SQLITE_STORAGE_H_
