// The persistence seam: studies, trials, intermediate measurements and workers.
#ifndef HPO_STORAGE_STORAGE_H_
#define HPO_STORAGE_STORAGE_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "hpo/v1/hpo.pb.h"

namespace hpo::storage {

struct WorkerRecord {
  std::string id;
  std::string hostname;
  int32_t slots = 0;
  std::vector<std::string> gpus;
  int64_t registered_ms = 0;
  int64_t last_seen_ms = 0;
};

// Implementations are thread-safe: every method may be called from any thread, and every method
// that writes does so in one transaction (all or nothing).
//
// Error codes: NOT_FOUND for a missing study/trial, ALREADY_EXISTS for a duplicate study name or
// (study, number, attempt), UNAVAILABLE when the database is busy past its timeout, INTERNAL for
// anything else the database reports.
class Storage {
 public:
  virtual ~Storage() = default;

  // ---- studies
  // Stores a new study in state STUDY_RUNNING, with the optimizer revision that creates it, and
  // returns it with its id. `counts` and `best_trial` of returned studies are never filled by
  // storage.
  virtual absl::StatusOr<hpo::v1::Study> CreateStudy(const hpo::v1::StudySpec& spec, int64_t now_ms,
                                                     int32_t optimizer_revision) = 0;
  virtual absl::StatusOr<hpo::v1::Study> GetStudy(absl::string_view name) = 0;
  virtual absl::StatusOr<hpo::v1::Study> GetStudyById(int64_t study_id) = 0;
  // All studies in id order.
  virtual absl::StatusOr<std::vector<hpo::v1::Study>> ListStudies() = 0;
  virtual absl::Status UpdateStudyState(int64_t study_id, hpo::v1::StudyState state,
                                        int64_t end_time_ms) = 0;
  // One transaction: UpdateTrial for each of `trials`, then UpdateStudyState. Used when a user
  // stops a study and its pending trials fail with it.
  virtual absl::Status EndStudy(int64_t study_id, hpo::v1::StudyState state, int64_t end_time_ms,
                                const std::vector<hpo::v1::Trial>& trials) = 0;
  // Rewrites the study's spec, state and end time (one statement). Used to extend a study.
  virtual absl::Status UpdateStudy(int64_t study_id, const hpo::v1::StudySpec& spec,
                                   hpo::v1::StudyState state, int64_t end_time_ms) = 0;
  // Deletes the study with its trials and their measurements, in one transaction; returns how
  // many trials (attempts) went with it.
  virtual absl::StatusOr<int> DeleteStudy(int64_t study_id) = 0;

  // ---- trials
  // Inserts `trial` (its id is ignored) and returns it with the id assigned. Measurements in the
  // message are not stored here; use AppendMeasurement.
  virtual absl::StatusOr<hpo::v1::Trial> InsertTrial(const hpo::v1::Trial& trial) = 0;
  // Rewrites every stored column of the trial with id `trial.id()`.
  virtual absl::Status UpdateTrial(const hpo::v1::Trial& trial) = 0;
  // One transaction: UpdateTrial(updated), then InsertTrial(*inserted), writing the new id into
  // `inserted`. Used for LOST + its retry.
  virtual absl::Status UpdateAndInsertTrial(const hpo::v1::Trial& updated,
                                            hpo::v1::Trial* inserted) = 0;
  // One transaction: rewrites the trial as UpdateTrial does, deletes its measurements and sets
  // last_step to -1. Used when a leased trial is given back to run again from the start.
  virtual absl::Status ResetTrial(const hpo::v1::Trial& trial) = 0;
  // The trial, with its measurements when `with_measurements`.
  virtual absl::StatusOr<hpo::v1::Trial> GetTrial(int64_t trial_id, bool with_measurements) = 0;
  // Trials of a study with id > after_id, in id order, at most `limit` of them (0 = no limit);
  // `state` TRIAL_STATE_UNSPECIFIED means any state. Measurements are not filled.
  virtual absl::StatusOr<std::vector<hpo::v1::Trial>> ListTrials(int64_t study_id,
                                                                 hpo::v1::TrialState state,
                                                                 int64_t after_id, int limit) = 0;

  // ---- intermediate measurements
  // Appends the measurements to the trial, in order, and sets the trial's last_step to the step
  // of the last one; all in one transaction. An empty list changes nothing.
  virtual absl::Status AppendMeasurements(
      int64_t trial_id, const std::vector<hpo::v1::Measurement>& measurements) = 0;
  // AppendMeasurements of one.
  absl::Status AppendMeasurement(int64_t trial_id, const hpo::v1::Measurement& measurement) {
    return AppendMeasurements(trial_id, {measurement});
  }
  // All measurements of every trial of the study, keyed by trial id, each list in append order.
  virtual absl::StatusOr<std::map<int64_t, std::vector<hpo::v1::Measurement>>>
  ListStudyMeasurements(int64_t study_id) = 0;

  // ---- workers
  virtual absl::Status UpsertWorker(const WorkerRecord& worker) = 0;
  virtual absl::StatusOr<std::vector<WorkerRecord>> ListWorkers() = 0;
};

}  // namespace hpo::storage

#endif  // HPO_STORAGE_STORAGE_H_
