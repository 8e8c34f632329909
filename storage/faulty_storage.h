// A Storage decorator that fails its writes on demand, for testing that every change is stored
// first and applied after: a failed write must leave the caller's state as it was.
#ifndef HPO_STORAGE_FAULTY_STORAGE_H_
#define HPO_STORAGE_FAULTY_STORAGE_H_

#include <atomic>
#include <map>
#include <string>
#include <vector>

#include "storage/storage.h"

namespace hpo::storage {

// Reads always pass through to `base` (not owned). While writes fail, every write answers
// UNAVAILABLE "injected write failure" and changes nothing. Thread-safe as `base` is.
class FaultyStorage final : public Storage {
 public:
  explicit FaultyStorage(Storage* base) : base_(base) {}

  void set_fail_writes(bool fail) { fail_writes_ = fail; }
  // Writes refused since construction.
  int failed_writes() const { return failed_writes_; }

  absl::StatusOr<hpo::v1::Study> CreateStudy(const hpo::v1::StudySpec& spec, int64_t now_ms,
                                             int32_t optimizer_revision) override;
  absl::StatusOr<hpo::v1::Study> GetStudy(absl::string_view name) override {
    return base_->GetStudy(name);
  }
  absl::StatusOr<hpo::v1::Study> GetStudyById(int64_t study_id) override {
    return base_->GetStudyById(study_id);
  }
  absl::StatusOr<std::vector<hpo::v1::Study>> ListStudies() override {
    return base_->ListStudies();
  }
  absl::Status UpdateStudyState(int64_t study_id, hpo::v1::StudyState state,
                                int64_t end_time_ms) override;
  absl::Status EndStudy(int64_t study_id, hpo::v1::StudyState state, int64_t end_time_ms,
                        const std::vector<hpo::v1::Trial>& trials) override;
  absl::Status UpdateStudy(int64_t study_id, const hpo::v1::StudySpec& spec,
                           hpo::v1::StudyState state, int64_t end_time_ms) override;
  absl::StatusOr<int> DeleteStudy(int64_t study_id) override;
  absl::StatusOr<hpo::v1::Trial> InsertTrial(const hpo::v1::Trial& trial) override;
  absl::Status UpdateTrial(const hpo::v1::Trial& trial) override;
  absl::Status UpdateAndInsertTrial(const hpo::v1::Trial& updated,
                                    hpo::v1::Trial* inserted) override;
  absl::Status ResetTrial(const hpo::v1::Trial& trial) override;
  absl::StatusOr<hpo::v1::Trial> GetTrial(int64_t trial_id, bool with_measurements) override {
    return base_->GetTrial(trial_id, with_measurements);
  }
  absl::StatusOr<std::vector<hpo::v1::Trial>> ListTrials(int64_t study_id,
                                                         hpo::v1::TrialState state,
                                                         int64_t after_id, int limit) override {
    return base_->ListTrials(study_id, state, after_id, limit);
  }
  absl::Status AppendMeasurements(int64_t trial_id,
                                  const std::vector<hpo::v1::Measurement>& measurements) override;
  absl::StatusOr<std::map<int64_t, std::vector<hpo::v1::Measurement>>> ListStudyMeasurements(
      int64_t study_id) override {
    return base_->ListStudyMeasurements(study_id);
  }
  absl::Status UpsertWorker(const WorkerRecord& worker) override;
  absl::StatusOr<std::vector<WorkerRecord>> ListWorkers() override { return base_->ListWorkers(); }

 private:
  // UNAVAILABLE while writes fail (counting it), OK otherwise.
  absl::Status Gate();

  Storage* const base_;
  std::atomic<bool> fail_writes_{false};
  std::atomic<int> failed_writes_{0};
};

}  // namespace hpo::storage

#endif  // HPO_STORAGE_FAULTY_STORAGE_H_
