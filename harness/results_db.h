// The bench's record of every run and trial: DIR/results.sqlite.
#ifndef HPO_HARNESS_RESULTS_DB_H_
#define HPO_HARNESS_RESULTS_DB_H_

#include <sqlite3.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "harness/run_spec.h"

namespace hpo::harness {

// Schema (version 2, in PRAGMA user_version):
//   runs(optimizer, task, seed, trials, status 'done'|'failed', wall_s, optimum, message,
//        fingerprint, PRIMARY KEY(optimizer, task, seed, trials))
//   evals(optimizer, task, seed, trials, i, value, best_so_far, params_json,
//         PRIMARY KEY(optimizer, task, seed, trials, i))
// A run is written in one transaction with all its evals, so a 'done' row always has them all;
// a 'failed' row has the evals made before its error.
// `fingerprint` says what produced the run (see Route::fingerprint); files of version 1 are
// migrated with an empty one, so their runs are made again rather than trusted.
//
// Thread-safe: one connection behind a mutex.
class ResultsDb {
 public:
  // Opens or creates the file (WAL). INTERNAL / UNAVAILABLE from SQLite;
  // FAILED_PRECONDITION for a file whose schema version is newer than this code knows.
  static absl::StatusOr<std::unique_ptr<ResultsDb>> Open(const std::string& path);
  ~ResultsDb();
  ResultsDb(const ResultsDb&) = delete;
  ResultsDb& operator=(const ResultsDb&) = delete;

  // The finished run with exactly this key and fingerprint, with its evals in order; nullopt
  // when there is none, it failed, or another fingerprint made it.
  absl::StatusOr<std::optional<RunRecord>> FindDone(const RunSpec& spec,
                                                    const std::string& fingerprint);

  // Stores a finished run (status 'done'), replacing any earlier row and evals with its key.
  absl::Status SaveDone(const RunRecord& record, const std::string& fingerprint);

  // Stores a failed attempt (status 'failed') with the reason and the evals it made, replacing
  // an earlier failed one; but never a finished run of the same key (made by another
  // fingerprint, else it would have been reused): then nothing is written and the answer is
  // true (the earlier run is kept), else false.
  absl::StatusOr<bool> SaveFailed(const RunRecord& partial, const std::string& message,
                                  const std::string& fingerprint);

  // Counts, for tests and messages.
  absl::StatusOr<int64_t> CountRuns(const std::string& status);
  absl::StatusOr<int64_t> CountEvals();

 private:
  explicit ResultsDb(sqlite3* db) : db_(db) {}
  absl::Status Migrate() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status DeleteEvals(const RunSpec& spec) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status InsertEvals(const RunRecord& record) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status PutRun(const RunSpec& spec, const std::string& status, double wall_s, double optimum,
                      const std::string& message, const std::string& fingerprint)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  sqlite3* const db_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hpo::harness

#endif  // HPO_HARNESS_RESULTS_DB_H_
