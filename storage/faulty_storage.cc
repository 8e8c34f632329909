#include "storage/faulty_storage.h"

#include "core/status_macros.h"

namespace hpo::storage {

absl::Status FaultyStorage::Gate() {
  if (!fail_writes_) return absl::OkStatus();
  ++failed_writes_;
  return absl::UnavailableError("injected write failure");
}

absl::StatusOr<hpo::v1::Study> FaultyStorage::CreateStudy(const hpo::v1::StudySpec& spec,
                                                          int64_t now_ms,
                                                          int32_t optimizer_revision) {
  HPO_RETURN_IF_ERROR(Gate());
  return base_->CreateStudy(spec, now_ms, optimizer_revision);
}

absl::Status FaultyStorage::UpdateStudyState(int64_t study_id, hpo::v1::StudyState state,
                                             int64_t end_time_ms) {
  HPO_RETURN_IF_ERROR(Gate());
  return base_->UpdateStudyState(study_id, state, end_time_ms);
}

absl::Status FaultyStorage::EndStudy(int64_t study_id, hpo::v1::StudyState state,
                                     int64_t end_time_ms,
                                     const std::vector<hpo::v1::Trial>& trials) {
  HPO_RETURN_IF_ERROR(Gate());
  return base_->EndStudy(study_id, state, end_time_ms, trials);
}

absl::Status FaultyStorage::UpdateStudy(int64_t study_id, const hpo::v1::StudySpec& spec,
                                        hpo::v1::StudyState state, int64_t end_time_ms) {
  HPO_RETURN_IF_ERROR(Gate());
  return base_->UpdateStudy(study_id, spec, state, end_time_ms);
}

absl::StatusOr<int> FaultyStorage::DeleteStudy(int64_t study_id) {
  HPO_RETURN_IF_ERROR(Gate());
  return base_->DeleteStudy(study_id);
}

absl::StatusOr<hpo::v1::Trial> FaultyStorage::InsertTrial(const hpo::v1::Trial& trial) {
  HPO_RETURN_IF_ERROR(Gate());
  return base_->InsertTrial(trial);
}

absl::Status FaultyStorage::UpdateTrial(const hpo::v1::Trial& trial) {
  HPO_RETURN_IF_ERROR(Gate());
  return base_->UpdateTrial(trial);
}

absl::Status FaultyStorage::UpdateAndInsertTrial(const hpo::v1::Trial& updated,
                                                 hpo::v1::Trial* inserted) {
  HPO_RETURN_IF_ERROR(Gate());
  return base_->UpdateAndInsertTrial(updated, inserted);
}

absl::Status FaultyStorage::ResetTrial(const hpo::v1::Trial& trial) {
  HPO_RETURN_IF_ERROR(Gate());
  return base_->ResetTrial(trial);
}

absl::Status FaultyStorage::AppendMeasurements(
    int64_t trial_id, const std::vector<hpo::v1::Measurement>& measurements) {
  HPO_RETURN_IF_ERROR(Gate());
  return base_->AppendMeasurements(trial_id, measurements);
}

absl::Status FaultyStorage::UpsertWorker(const WorkerRecord& worker) {
  HPO_RETURN_IF_ERROR(Gate());
  return base_->UpsertWorker(worker);
}

}  // namespace hpo::storage
