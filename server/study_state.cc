#include "server/study_state.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/limits.h"
#include "core/logging.h"
#include "core/search_space.h"
#include "core/status_macros.h"
#include "core/study_spec.h"
#include "core/trial_states.h"

namespace hpo::server {
namespace {

using hpo::v1::Study;
using hpo::v1::StudyEvent;
using hpo::v1::Trial;
using hpo::v1::TrialState;

void AddToCounts(hpo::v1::TrialCounts& c, TrialState state, int delta) {
  switch (state) {
    case hpo::v1::PENDING:
      c.set_pending(c.pending() + delta);
      break;
    case hpo::v1::RUNNING:
      c.set_running(c.running() + delta);
      break;
    case hpo::v1::COMPLETED:
      c.set_completed(c.completed() + delta);
      break;
    case hpo::v1::PRUNED:
      c.set_pruned(c.pruned() + delta);
      break;
    case hpo::v1::FAILED:
      c.set_failed(c.failed() + delta);
      break;
    case hpo::v1::LOST:
      c.set_lost(c.lost() + delta);
      break;
    default:
      break;
  }
}

// True when this attempt ends its trial number for good.
bool IsFinalAttempt(const Trial& t, int max_retries) {
  switch (t.state()) {
    case hpo::v1::COMPLETED:
    case hpo::v1::PRUNED:
    case hpo::v1::FAILED:
      return true;
    case hpo::v1::LOST:
      return t.attempt() >= max_retries;
    default:
      return false;
  }
}

// The last finite objective value the trial reported, if any.
bool LastObjective(const Trial& t, const std::string& metric, double* value) {
  for (auto it = t.measurements().rbegin(); it != t.measurements().rend(); ++it) {
    auto m = it->metrics().find(metric);
    if (m != it->metrics().end() && std::isfinite(m->second)) {
      *value = m->second;
      return true;
    }
  }
  return false;
}

absl::Status CheckMeasurements(const std::vector<hpo::v1::Measurement>& batch) {
  if (batch.empty()) {
    return absl::InvalidArgumentError("measurements: a progress report needs at least one");
  }
  for (const hpo::v1::Measurement& m : batch) {
    if (m.metrics_size() > core::kMaxMetricsPerMeasurement) {
      return absl::InvalidArgumentError(
          absl::StrCat("a measurement has ", m.metrics_size(), " metrics; at most ",
                       core::kMaxMetricsPerMeasurement, " are allowed"));
    }
    for (const auto& [name, value] : m.metrics()) {
      if (name.size() > core::kMaxNameLength) {
        return absl::InvalidArgumentError(absl::StrCat("metric name '", name.substr(0, 32),
                                                       "...' is longer than ", core::kMaxNameLength,
                                                       " characters"));
      }
    }
  }
  return absl::OkStatus();
}

// A worker's measure of a trial's GPU use: a few short device names, figures in range.
absl::Status CheckGpuUsage(const hpo::v1::GpuUsage& usage) {
  if (usage.devices_size() > core::kMaxGpuDevices) {
    return absl::InvalidArgumentError(absl::StrCat("gpu_usage.devices: ", usage.devices_size(),
                                                   " devices; at most ", core::kMaxGpuDevices));
  }
  for (const std::string& d : usage.devices()) {
    if (d.empty() || d.size() > core::kMaxNameLength) {
      return absl::InvalidArgumentError(absl::StrCat(
          "gpu_usage.devices: a device name must have 1 to ", core::kMaxNameLength, " bytes"));
    }
  }
  if (!std::isfinite(usage.peak_memory_mib()) || usage.peak_memory_mib() < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "gpu_usage.peak_memory_mib: expected a finite value >= 0, got ", usage.peak_memory_mib()));
  }
  const double u = usage.mean_utilization_pct();
  if (!std::isnan(u) && (u < 0 || u > 100)) {
    return absl::InvalidArgumentError(
        absl::StrCat("gpu_usage.mean_utilization_pct: expected NaN or [0, 100], got ", u));
  }
  if (usage.polls() < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("gpu_usage.polls: expected >= 1, got ", usage.polls()));
  }
  return absl::OkStatus();
}

absl::Status CheckLogPath(const std::string& log_path) {
  if (log_path.size() > core::kMaxPathBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("log_path: longer than ", core::kMaxPathBytes, " bytes"));
  }
  return absl::OkStatus();
}

}  // namespace

StudyState::StudyState(const Study& study, std::unique_ptr<Optimizer> optimizer,
                       std::unique_ptr<EarlyStopper> stopper, const StudyContext* context)
    : id_(study.id()), spec_(study.spec()), context_(context) {
  absl::MutexLock lock(&mu_);
  study_ = study;
  max_trials_ = study.spec().budget().max_trials();
  optimizer_ = std::move(optimizer);
  stopper_ = std::move(stopper);
  PublishLocked();
}

Trial StudyState::Summary(Trial& trial) {
  // Swap the measurements out for the copy and back: copying them only to clear them is what
  // made listing a study of long curves slow.
  google::protobuf::RepeatedPtrField<hpo::v1::Measurement> measurements;
  measurements.Swap(trial.mutable_measurements());
  Trial copy = trial;
  measurements.Swap(trial.mutable_measurements());
  return copy;
}

// ------------------------------------------------------------------ building

void StudyState::Load(std::vector<Trial> trials,
                      std::map<int64_t, std::vector<hpo::v1::Measurement>> measurements,
                      int64_t fresh_lease_ms) {
  absl::MutexLock lock(&mu_);
  trials_.reserve(trials.size());
  for (Trial& t : trials) {
    auto m = measurements.find(t.id());
    if (m != measurements.end() && CurveInMemoryLocked(t)) {
      t.mutable_measurements()->Reserve(static_cast<int>(m->second.size()));
      for (auto& one : m->second) *t.add_measurements() = std::move(one);
    }
    if (t.state() == hpo::v1::RUNNING) {
      t.set_lease_expire_ms(std::max(t.lease_expire_ms(), fresh_lease_ms));
    }
    AddLocked(std::move(t));
  }
  PublishLocked();
}

bool StudyState::NeedsCurvesAtLoad(const Study& study, const std::vector<Trial>& trials,
                                   bool keep_curves) {
  if (!keep_curves) return false;
  if (study.state() == hpo::v1::STUDY_RUNNING) return true;
  return std::any_of(trials.begin(), trials.end(),
                     [](const Trial& t) { return !core::IsTerminal(t.state()); });
}

bool StudyState::CurveInMemoryLocked(const Trial& trial) const {
  if (!context_->keep_curves) return false;
  return study_.state() == hpo::v1::STUDY_RUNNING || !core::IsTerminal(trial.state());
}

void StudyState::DropEndedCurvesLocked() {
  for (Trial& t : trials_) {
    if (t.measurements_size() > 0 && !CurveInMemoryLocked(t)) {
      // Swapped into a temporary that frees them: clear() would keep them for reuse.
      google::protobuf::RepeatedPtrField<hpo::v1::Measurement>().Swap(t.mutable_measurements());
    }
  }
}

absl::StatusOr<Trial> StudyState::WithCurveLocked(Trial& trial) {
  if (CurveInMemoryLocked(trial)) return trial;
  HPO_ASSIGN_OR_RETURN(Trial stored,
                       context_->storage->GetTrial(trial.id(), /*with_measurements=*/true));
  Trial out = Summary(trial);
  out.mutable_measurements()->Swap(stored.mutable_measurements());
  return out;
}

std::string StudyState::WarmStartRequest() {
  absl::MutexLock lock(&mu_);
  return stopper_->warm_start();
}

void StudyState::WarmStart(const std::vector<std::pair<std::string, std::vector<Trial>>>& sources) {
  absl::MutexLock lock(&mu_);
  std::vector<const std::vector<Trial>*> trials;
  warm_start_studies_.clear();
  for (const auto& [name, source] : sources) {
    trials.push_back(&source);
    warm_start_studies_.push_back(name);
  }
  warm_start_curves_ = trials.empty() ? 0 : stopper_->WarmStart(spec_, trials);
  if (!sources.empty()) {
    HPO_LOG(INFO) << "study " << name() << ": its stopper learns from "
                  << absl::StrJoin(warm_start_studies_, ", ") << " (" << warm_start_curves_
                  << " complete curves)";
  }
}

std::vector<Trial> StudyState::EndedTrials() {
  absl::MutexLock lock(&mu_);
  std::vector<Trial> out;
  std::map<int64_t, std::vector<hpo::v1::Measurement>> stored;
  if (study_.state() != hpo::v1::STUDY_RUNNING || !context_->keep_curves) {
    // Ended: the curves are on disk only (a failed read leaves the stopper fewer curves).
    auto read = context_->storage->ListStudyMeasurements(id_);
    if (read.ok()) {
      stored = std::move(read).value();
    } else {
      HPO_LOG(ERROR) << "reading the curves of study " << name() << ": " << read.status();
    }
  }
  for (const Trial& t : trials_) {
    if (!core::IsTerminal(t.state())) continue;
    out.push_back(t);
    if (auto m = stored.find(t.id()); m != stored.end() && out.back().measurements().empty()) {
      for (auto& one : m->second) *out.back().add_measurements() = std::move(one);
    }
  }
  return out;
}

std::vector<Trial> StudyState::CompletedTrials() {
  absl::MutexLock lock(&mu_);
  std::vector<Trial> out;
  for (Trial& t : trials_) {
    if (t.state() == hpo::v1::COMPLETED && t.has_value() && std::isfinite(t.value())) {
      out.push_back(Summary(t));
    }
  }
  return out;
}

void StudyState::SetStored(const Study& stored) {
  absl::MutexLock lock(&mu_);
  id_ = stored.id();
  study_ = stored;
  PublishLocked();
}

// ------------------------------------------------------------------ bookkeeping

void StudyState::AddLocked(Trial trial) {
  const int max_retries = spec_.budget().max_retries();
  trial.set_study_name(spec_.name());
  next_number_ = std::max(next_number_, trial.number() + 1);
  AddToCounts(counts_, trial.state(), 1);
  if (trial.state() == hpo::v1::RUNNING) {
    running_.insert(trial.id());
    busy_.fetch_add(1, std::memory_order_acq_rel);
  }
  if (trial.state() == hpo::v1::PENDING) pending_.push_back(trial.id());
  if (IsFinalAttempt(trial, max_retries)) finished_numbers_++;
  const size_t pos = trials_.size();
  if (trial.state() == hpo::v1::COMPLETED && trial.has_value() &&
      (best_ < 0 ||
       core::IsBetter(spec_.objective().direction(), trial.value(), trials_[best_].value()))) {
    best_ = static_cast<int>(pos);
  }
  index_[trial.id()] = pos;
  if (context_->trial_added) context_->trial_added(trial.id(), id_);
  trials_.push_back(std::move(trial));
}

void StudyState::TransitionLocked(Trial& trial, TrialState from) {
  const int max_retries = spec_.budget().max_retries();
  AddToCounts(counts_, from, -1);
  AddToCounts(counts_, trial.state(), 1);
  if (from == hpo::v1::RUNNING) {
    running_.erase(trial.id());
    busy_.fetch_sub(1, std::memory_order_acq_rel);
  }
  if (trial.state() == hpo::v1::RUNNING) {
    running_.insert(trial.id());
    busy_.fetch_add(1, std::memory_order_acq_rel);
  }
  if (from == hpo::v1::PENDING) {
    auto it = std::find(pending_.begin(), pending_.end(), trial.id());
    if (it != pending_.end()) pending_.erase(it);
  }
  if (IsFinalAttempt(trial, max_retries)) finished_numbers_++;
  if (trial.state() == hpo::v1::COMPLETED && trial.has_value()) {
    const size_t pos = index_[trial.id()];
    if (best_ < 0 ||
        core::IsBetter(spec_.objective().direction(), trial.value(), trials_[best_].value())) {
      best_ = static_cast<int>(pos);
    }
  }
  PublishLocked();
  if (from == hpo::v1::RUNNING && context_->work_available) context_->work_available();
  EmitLocked(StudyEvent::TRIAL_UPDATED, &trial);
  if (!CurveInMemoryLocked(trial) && trial.measurements_size() > 0) {
    google::protobuf::RepeatedPtrField<hpo::v1::Measurement>().Swap(trial.mutable_measurements());
  }
}

bool StudyState::HasWorkLocked() const { return !pending_.empty() || next_number_ < max_trials_; }

void StudyState::PublishLocked() {
  runnable_.store(study_.state() == hpo::v1::STUDY_RUNNING && HasWorkLocked(),
                  std::memory_order_release);
}

void StudyState::EmitLocked(StudyEvent::Kind kind, const Trial* trial) {
  if (watches_.empty()) return;
  StudyEvent event;
  event.set_kind(kind);
  *event.mutable_study() = SnapshotLocked();
  if (trial != nullptr) {
    *event.mutable_trial() = *trial;
    event.mutable_trial()->clear_measurements();
  }
  for (auto& w : watches_) w->Push(event);
  if (kind == StudyEvent::STUDY_ENDED) {
    for (auto& w : watches_) w->Close();
    watches_.clear();
  }
}

void StudyState::MaybeFinishLocked() {
  if (study_.state() != hpo::v1::STUDY_RUNNING) return;
  if (finished_numbers_ < max_trials_) return;
  const int64_t now = context_->clock->NowMs();
  absl::Status s = context_->storage->UpdateStudyState(id_, hpo::v1::STUDY_COMPLETED, now);
  if (!s.ok()) {
    // The study stays RUNNING in memory and on disk; the next transition tries again.
    HPO_LOG(ERROR) << "cannot mark study " << name() << " completed: " << s;
    return;
  }
  study_.set_state(hpo::v1::STUDY_COMPLETED);
  study_.set_end_time_ms(now);
  DropEndedCurvesLocked();
  PublishLocked();
  HPO_LOG(INFO) << "study " << name() << " completed";
  EmitLocked(StudyEvent::STUDY_ENDED, nullptr);
}

Study StudyState::SnapshotLocked() {
  Study s = study_;
  *s.mutable_counts() = counts_;
  for (const std::string& n : warm_start_studies_) s.add_warm_start_studies(n);
  s.set_warm_start_curves(warm_start_curves_);
  s.set_finished_trials(finished_numbers_);
  s.set_warm_start_trials(static_cast<int>(prior_.size()));
  s.set_optimizer_plan(optimizer_->Describe(ViewLocked()));
  if (context_->describe_workers) context_->describe_workers(&s);
  if (best_ >= 0) *s.mutable_best_trial() = Summary(trials_[best_]);
  return s;
}

StudyView StudyState::ViewLocked() const {
  StudyView view;
  // study_'s spec, not spec_: it carries the budget as extended since creation (auto reads it).
  view.spec = &study_.spec();
  view.trials = &trials_;
  view.counts = &counts_;
  if (!prior_.empty()) view.prior = &prior_;
  view.ended =
      study_.state() == hpo::v1::STUDY_COMPLETED || study_.state() == hpo::v1::STUDY_STOPPED;
  return view;
}

Trial* StudyState::FindLocked(int64_t trial_id) {
  auto it = index_.find(trial_id);
  return it == index_.end() ? nullptr : &trials_[it->second];
}

absl::StatusOr<Trial*> StudyState::LeasedLocked(int64_t trial_id, const std::string& worker_id) {
  Trial* trial = FindLocked(trial_id);
  if (trial == nullptr) return absl::NotFoundError(absl::StrCat("no trial with id ", trial_id));
  if (trial->state() != hpo::v1::RUNNING || trial->worker_id() != worker_id) {
    return absl::FailedPreconditionError(absl::StrCat(
        "trial ", trial_id, " is not leased to worker '", worker_id, "' (it is ",
        core::TrialStateName(trial->state()),
        trial->worker_id().empty() ? "" : absl::StrCat(" on '", trial->worker_id(), "'"), ")"));
  }
  return trial;
}

// ------------------------------------------------------------------ StudyService

Study StudyState::Snapshot() {
  absl::MutexLock lock(&mu_);
  return SnapshotLocked();
}

absl::StatusOr<Study> StudyState::Stop() {
  absl::MutexLock lock(&mu_);
  if (study_.state() != hpo::v1::STUDY_RUNNING) {
    return absl::FailedPreconditionError(absl::StrCat("study '", name(), "' has already ended (",
                                                      core::StudyStateName(study_.state()), ")"));
  }
  const int64_t now = context_->clock->NowMs();
  // Pending trials will never run now; they fail in the same transaction that stops the study.
  std::vector<Trial> failed;
  for (int64_t id : pending_) {
    Trial t = trials_[index_[id]];
    t.set_state(hpo::v1::FAILED);
    t.set_failure_reason("study stopped before the trial ran");
    t.set_end_time_ms(now);
    failed.push_back(std::move(t));
  }
  HPO_RETURN_IF_ERROR(context_->storage->EndStudy(id_, hpo::v1::STUDY_STOPPED, now, failed));
  for (Trial& t : failed) {
    Trial& cached = trials_[index_[t.id()]];
    cached = std::move(t);
    TransitionLocked(cached, hpo::v1::PENDING);
  }
  study_.set_state(hpo::v1::STUDY_STOPPED);
  study_.set_end_time_ms(now);
  DropEndedCurvesLocked();
  PublishLocked();
  HPO_LOG(INFO) << "study " << name() << " stopped";
  EmitLocked(StudyEvent::STUDY_ENDED, nullptr);
  return SnapshotLocked();
}

TrialPage StudyState::ListTrials(TrialState state, int page_size, int64_t after_id) {
  absl::MutexLock lock(&mu_);
  auto it = std::upper_bound(trials_.begin(), trials_.end(), after_id,
                             [](int64_t id, const Trial& t) { return id < t.id(); });
  TrialPage page;
  for (; it != trials_.end(); ++it) {
    if (state != hpo::v1::TRIAL_STATE_UNSPECIFIED && it->state() != state) continue;
    if (static_cast<int>(page.trials.size()) == page_size) {
      page.next_page_token = absl::StrCat(page.trials.back().id());
      break;
    }
    page.trials.push_back(Summary(*it));
  }
  return page;
}

absl::StatusOr<Trial> StudyState::GetTrial(int64_t trial_id) {
  absl::MutexLock lock(&mu_);
  Trial* t = FindLocked(trial_id);
  if (t == nullptr) return absl::NotFoundError(absl::StrCat("no trial with id ", trial_id));
  return WithCurveLocked(*t);
}

absl::StatusOr<Trial> StudyState::Enqueue(const hpo::v1::ParamMap& params) {
  HPO_RETURN_IF_ERROR(core::ValidateParams(spec_.space(), params));
  absl::MutexLock lock(&mu_);
  HPO_RETURN_IF_ERROR(CheckBudgetLeftLocked());
  Trial t = NewTrialLocked(next_number_, core::NormalizeParams(spec_.space(), params),
                           hpo::v1::PENDING, context_->clock->NowMs());
  t.set_enqueued(true);
  HPO_ASSIGN_OR_RETURN(Trial * queued, InsertLocked(t));
  if (context_->work_available) context_->work_available();
  return *queued;
}

absl::Status StudyState::CheckBudgetLeftLocked() {
  if (study_.state() != hpo::v1::STUDY_RUNNING) {
    return absl::FailedPreconditionError(
        absl::StrCat("study '", name(), "' has ended: extend it first (hpo study extend ", name(),
                     " --max-trials N)"));
  }
  if (next_number_ >= max_trials_) {
    return absl::FailedPreconditionError(absl::StrCat("study '", name(), "' has handed out all ",
                                                      max_trials_, " trials of its budget"));
  }
  return absl::OkStatus();
}

Trial StudyState::NewTrialLocked(int number, hpo::v1::ParamMap params, TrialState state,
                                 int64_t now) {
  Trial t;
  t.set_study_id(id_);
  t.set_number(number);
  t.set_attempt(0);
  *t.mutable_params() = std::move(params);
  t.set_state(state);
  t.set_create_time_ms(now);
  t.set_last_step(-1);
  return t;
}

absl::StatusOr<Trial*> StudyState::InsertLocked(const Trial& trial) {
  HPO_ASSIGN_OR_RETURN(Trial stored, context_->storage->InsertTrial(trial));
  AddLocked(std::move(stored));
  PublishLocked();
  EmitLocked(StudyEvent::TRIAL_UPDATED, &trials_.back());
  return &trials_.back();
}

absl::StatusOr<Trial> StudyState::Best() {
  absl::MutexLock lock(&mu_);
  if (best_ < 0) {
    return absl::NotFoundError(absl::StrCat("study '", name(), "' has no completed trial yet"));
  }
  return WithCurveLocked(trials_[best_]);
}

absl::StatusOr<Study> StudyState::Extend(int max_trials) {
  absl::MutexLock lock(&mu_);
  if (deleted_) return absl::NotFoundError(absl::StrCat("study '", name(), "' was deleted"));
  if (max_trials <= max_trials_) {
    return absl::InvalidArgumentError(absl::StrCat("max_trials: study '", name(), "' has ",
                                                   max_trials_, " already; extend it to more"));
  }
  hpo::v1::StudySpec spec = study_.spec();
  spec.mutable_budget()->set_max_trials(max_trials);
  HPO_RETURN_IF_ERROR(core::ValidateStudySpec(spec));
  const bool reopen = study_.state() != hpo::v1::STUDY_RUNNING;
  // A reopened study's stopper compares against curves again: read them back first, so that a
  // failed read changes nothing.
  std::map<int64_t, std::vector<hpo::v1::Measurement>> curves;
  if (reopen && context_->keep_curves) {
    HPO_ASSIGN_OR_RETURN(curves, context_->storage->ListStudyMeasurements(id_));
  }
  HPO_RETURN_IF_ERROR(
      context_->storage->UpdateStudy(id_, spec, hpo::v1::STUDY_RUNNING, /*end_time_ms=*/0));
  const int before = max_trials_;
  max_trials_ = max_trials;
  *study_.mutable_spec() = std::move(spec);
  if (reopen) {
    study_.set_state(hpo::v1::STUDY_RUNNING);
    study_.set_end_time_ms(0);
    for (Trial& t : trials_) {
      auto m = curves.find(t.id());
      if (m == curves.end() || t.measurements_size() > 0) continue;
      for (auto& one : m->second) *t.add_measurements() = std::move(one);
    }
  }
  PublishLocked();
  HPO_LOG(INFO) << "study " << name() << " extended from " << before << " to " << max_trials
                << " trials" << (reopen ? "; it runs again" : "");
  EmitLocked(StudyEvent::STUDY_UPDATED, nullptr);
  if (context_->work_available) context_->work_available();
  return SnapshotLocked();
}

absl::StatusOr<Trial> StudyState::AddCompleted(
    const hpo::v1::ParamMap& params,
    const google::protobuf::Map<std::string, double>& final_metrics) {
  HPO_RETURN_IF_ERROR(core::ValidateParams(spec_.space(), params));
  const std::string& metric = spec_.objective().metric();
  auto objective = final_metrics.find(metric);
  if (objective == final_metrics.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("final_metrics: the objective '", metric, "' is missing"));
  }
  for (const auto& [name, value] : final_metrics) {
    if (!std::isfinite(value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("final_metrics: '", name, "' is ", std::isnan(value) ? "NaN" : "infinite"));
    }
  }
  absl::MutexLock lock(&mu_);
  HPO_RETURN_IF_ERROR(CheckBudgetLeftLocked());
  const int64_t now = context_->clock->NowMs();
  Trial t = NewTrialLocked(next_number_, core::NormalizeParams(spec_.space(), params),
                           hpo::v1::COMPLETED, now);
  t.mutable_final_metrics()->insert(final_metrics.begin(), final_metrics.end());
  t.set_has_value(true);
  t.set_value(objective->second);
  t.set_start_time_ms(now);
  t.set_end_time_ms(now);
  t.set_enqueued(true);
  HPO_ASSIGN_OR_RETURN(Trial * added, InsertLocked(t));
  const Trial out = *added;  // MaybeFinishLocked may drop curves, never the trial
  MaybeFinishLocked();
  return out;
}

absl::StatusOr<std::vector<int64_t>> StudyState::Delete() {
  absl::MutexLock lock(&mu_);
  if (deleted_) return absl::NotFoundError(absl::StrCat("study '", name(), "' was deleted"));
  if (study_.state() == hpo::v1::STUDY_RUNNING) {
    return absl::FailedPreconditionError(absl::StrCat(
        "study '", name(), "' is running: stop it first (hpo study stop ", name(), ")"));
  }
  if (!running_.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("study '", name(), "' still has ", running_.size(),
                     " trial(s) running; they end within the lease timeout"));
  }
  HPO_ASSIGN_OR_RETURN(int deleted, context_->storage->DeleteStudy(id_));
  deleted_ = true;
  std::vector<int64_t> ids;
  ids.reserve(trials_.size());
  for (const Trial& t : trials_) ids.push_back(t.id());
  HPO_LOG(INFO) << "study " << name() << " deleted with " << deleted << " trials";
  for (auto& w : watches_) w->Close();
  watches_.clear();
  return ids;
}

int StudyState::SetOptimizerWarmStart(std::vector<Trial> prior) {
  absl::MutexLock lock(&mu_);
  prior_.clear();
  for (Trial& t : prior) {
    if (t.state() != hpo::v1::COMPLETED || !t.has_value() || !std::isfinite(t.value())) continue;
    if (!core::ValidateParams(spec_.space(), t.params()).ok()) continue;
    t.clear_measurements();
    prior_.push_back(std::move(t));
  }
  return static_cast<int>(prior_.size());
}

std::shared_ptr<StudyWatch> StudyState::Watch() {
  absl::MutexLock lock(&mu_);
  auto watch = std::make_shared<StudyWatch>();
  StudyEvent snapshot;
  snapshot.set_kind(StudyEvent::SNAPSHOT);
  *snapshot.mutable_study() = SnapshotLocked();
  watch->Push(snapshot);
  if (study_.state() != hpo::v1::STUDY_RUNNING) {
    StudyEvent ended;
    ended.set_kind(StudyEvent::STUDY_ENDED);
    *ended.mutable_study() = snapshot.study();
    watch->Push(ended);
    watch->Close();
  } else {
    watches_.push_back(watch);
  }
  return watch;
}

void StudyState::CloseWatches() {
  absl::MutexLock lock(&mu_);
  for (auto& w : watches_) w->Close();
  watches_.clear();
}

// ------------------------------------------------------------------ scheduling

bool StudyState::TryClaim(uint64_t serve) {
  const int max_parallel = spec_.budget().max_parallel();
  int busy = busy_.load(std::memory_order_acquire);
  while (true) {
    if (!runnable() || busy >= max_parallel) return false;
    if (busy_.compare_exchange_weak(busy, busy + 1, std::memory_order_acq_rel)) break;
  }
  last_served_.store(serve, std::memory_order_relaxed);
  return true;
}

absl::StatusOr<std::optional<hpo::v1::AcquireTrialResponse>> StudyState::LeaseClaimed(
    const std::string& worker_id, std::optional<absl::Duration> lease_for) {
  absl::MutexLock lock(&mu_);
  // The claim is given back on the way out, once the leased trial counts as busy by being
  // RUNNING: given back earlier, a long suggestion would look like a free slot, and another
  // acquire would claim it only to wait for this one and find the study full.
  struct GiveBack {
    std::atomic<int>& busy;
    ~GiveBack() { busy.fetch_sub(1, std::memory_order_acq_rel); }
  } give_back{busy_};
  if (study_.state() != hpo::v1::STUDY_RUNNING || !HasWorkLocked() ||
      static_cast<int>(running_.size()) >= spec_.budget().max_parallel()) {
    return std::nullopt;
  }
  const int64_t now = context_->clock->NowMs();
  const int64_t lease =
      now + absl::ToInt64Milliseconds(lease_for.value_or(context_->lease_timeout));
  Trial* leased = nullptr;
  if (!pending_.empty()) {
    Trial& t = trials_[index_[pending_.front()]];
    Trial updated = t;
    updated.set_state(hpo::v1::RUNNING);
    updated.set_worker_id(worker_id);
    updated.set_lease_expire_ms(lease);
    updated.set_start_time_ms(now);
    HPO_RETURN_IF_ERROR(context_->storage->UpdateTrial(updated));
    t = std::move(updated);
    TransitionLocked(t, hpo::v1::PENDING);
    leased = &t;
  } else {
    const int number = next_number_;
    absl::StatusOr<std::vector<hpo::v1::ParamMap>> suggested;
    Optimizer* optimizer = optimizer_.get();
    const StudyView view = ViewLocked();
    auto suggest = [&] { suggested = optimizer->Suggest(view, {number}); };
    if (context_->suggest_pool != nullptr && !optimizer->cheap()) {
      context_->suggest_pool->Run(suggest);  // this study's lock stays held: nothing changes
    } else {
      suggest();
    }
    HPO_ASSIGN_OR_RETURN(std::vector<hpo::v1::ParamMap> proposals, std::move(suggested));
    if (proposals.size() != 1) {
      return absl::InternalError(absl::StrCat("optimizer '", spec_.optimizer().name(),
                                              "' returned ", proposals.size(),
                                              " proposals for 1 trial"));
    }
    Trial t = NewTrialLocked(number, std::move(proposals[0]), hpo::v1::RUNNING, now);
    t.set_worker_id(worker_id);
    t.set_lease_expire_ms(lease);
    t.set_start_time_ms(now);
    HPO_ASSIGN_OR_RETURN(leased, InsertLocked(t));
  }
  hpo::v1::AcquireTrialResponse response;
  response.set_found(true);
  *response.mutable_trial() = Summary(*leased);
  *response.mutable_spec() = spec_;
  return response;
}

// ------------------------------------------------------------------ WorkerService

absl::StatusOr<hpo::v1::ReportProgressResponse> StudyState::Report(
    const hpo::v1::ReportProgressRequest& request) {
  std::vector<hpo::v1::Measurement> batch;
  batch.reserve(request.measurements_size() + 1);
  if (request.has_measurement()) batch.push_back(request.measurement());
  batch.insert(batch.end(), request.measurements().begin(), request.measurements().end());
  absl::MutexLock lock(&mu_);
  HPO_ASSIGN_OR_RETURN(Trial * trial, LeasedLocked(request.trial_id(), request.worker_id()));
  HPO_RETURN_IF_ERROR(CheckMeasurements(batch));
  HPO_RETURN_IF_ERROR(CheckLogPath(request.log_path()));
  if (!request.log_path().empty() && request.log_path() != trial->log_path()) {
    Trial updated = Summary(*trial);
    updated.set_log_path(request.log_path());
    HPO_RETURN_IF_ERROR(context_->storage->UpdateTrial(updated));
    trial->set_log_path(request.log_path());
  }
  if (trial->measurements_size() + static_cast<int>(batch.size()) >
      core::kMaxMeasurementsPerTrial) {
    return absl::ResourceExhaustedError(
        absl::StrCat("trial ", trial->id(), " has reported ", trial->measurements_size(),
                     " measurements; at most ", core::kMaxMeasurementsPerTrial,
                     " are kept per trial, and later ones are refused (its "
                     "final result is still taken)"));
  }
  const int64_t now = context_->clock->NowMs();
  for (hpo::v1::Measurement& m : batch) {
    if (m.time_ms() == 0) m.set_time_ms(now);
  }
  HPO_RETURN_IF_ERROR(context_->storage->AppendMeasurements(trial->id(), batch));
  const int first_new = trial->measurements_size();
  trial->set_last_step(batch.back().step());
  for (hpo::v1::Measurement& m : batch) *trial->add_measurements() = std::move(m);
  trial->set_lease_expire_ms(now + absl::ToInt64Milliseconds(context_->lease_timeout));

  hpo::v1::ReportProgressResponse response;
  response.set_lease_expire_ms(trial->lease_expire_ms());
  if (study_.state() != hpo::v1::STUDY_RUNNING || trial->has_stop()) {
    response.set_decision(hpo::v1::STOP);  // a stop stands until the trial ends
    return response;
  }
  hpo::v1::StopJudgement judgement = stopper_->Decide(ViewLocked(), *trial, first_new);
  // The latest forecast stays with the trial (written with its next transition); a stop and its
  // evidence are stored before the worker hears of them, so no PRUNED trial lacks its reason.
  if (judgement.has_prediction()) *trial->mutable_prediction() = judgement.prediction();
  const bool stop = judgement.decision() == hpo::v1::STOP;
  if (stop) {
    Trial updated = Summary(*trial);
    *updated.mutable_stop() = judgement;
    HPO_RETURN_IF_ERROR(context_->storage->UpdateTrial(updated));
    *trial->mutable_stop() = std::move(judgement);
    HPO_LOG(INFO) << "trial " << trial->id() << " of study " << name()
                  << " stopped: " << trial->stop().summary();
  }
  response.set_decision(stop ? hpo::v1::STOP : hpo::v1::CONTINUE);
  return response;
}

absl::StatusOr<Trial> StudyState::Complete(const hpo::v1::CompleteTrialRequest& request) {
  const TrialState to = request.state();
  absl::MutexLock lock(&mu_);
  // A repeat of a completion already applied is answered with the stored result.
  if (const Trial* t = FindLocked(request.trial_id());
      t != nullptr && !request.request_id().empty() && core::IsTerminal(t->state()) &&
      t->complete_request_id() == request.request_id()) {
    return *t;
  }
  HPO_ASSIGN_OR_RETURN(Trial * trial, LeasedLocked(request.trial_id(), request.worker_id()));
  HPO_RETURN_IF_ERROR(CheckLogPath(request.log_path()));
  if (request.has_gpu_usage()) HPO_RETURN_IF_ERROR(CheckGpuUsage(request.gpu_usage()));
  const std::string& metric = spec_.objective().metric();
  const int64_t now = context_->clock->NowMs();

  Trial updated = Summary(*trial);
  updated.set_state(to);
  if (!request.log_path().empty()) updated.set_log_path(request.log_path());
  if (request.has_gpu_usage()) *updated.mutable_gpu_usage() = request.gpu_usage();
  updated.mutable_final_metrics()->insert(request.final_metrics().begin(),
                                          request.final_metrics().end());
  updated.set_failure_reason(request.failure_reason());
  updated.set_complete_request_id(request.request_id());
  updated.set_end_time_ms(now);
  updated.set_lease_expire_ms(0);
  if (to == hpo::v1::COMPLETED) {
    auto it = request.final_metrics().find(metric);
    if (it == request.final_metrics().end()) {
      updated.set_state(hpo::v1::FAILED);
      updated.set_failure_reason(absl::StrCat("no metric '", metric, "' in the final metrics"));
    } else if (!std::isfinite(it->second)) {
      updated.set_state(hpo::v1::FAILED);
      updated.set_failure_reason(absl::StrCat("objective '", metric, "' is ",
                                              std::isnan(it->second) ? "NaN" : "infinite"));
    } else {
      updated.set_has_value(true);
      updated.set_value(it->second);
    }
    updated.clear_stop();  // it ended before the stop reached it: the stop did not happen
  } else if (to == hpo::v1::PRUNED) {
    if (updated.failure_reason().empty()) {
      if (updated.has_stop()) {
        updated.set_failure_reason(updated.stop().summary());
      } else if (study_.state() == hpo::v1::STUDY_STOPPED) {
        updated.set_failure_reason("stopped with its study");
      }
    }
    double last = 0;
    if (LastObjective(*trial, metric, &last)) {
      updated.set_has_value(true);
      updated.set_value(last);
    }
  }
  // Measurements are stored apart; UpdateTrial ignores them.
  HPO_RETURN_IF_ERROR(context_->storage->UpdateTrial(updated));
  updated.mutable_measurements()->Swap(trial->mutable_measurements());
  *trial = std::move(updated);
  TransitionLocked(*trial, hpo::v1::RUNNING);
  MaybeFinishLocked();
  return *trial;
}

absl::Status StudyState::ReleaseLocked(Trial& trial, absl::string_view reason) {
  Trial updated = trial;
  updated.set_state(hpo::v1::PENDING);
  updated.set_worker_id("");
  updated.set_lease_expire_ms(0);
  updated.set_start_time_ms(0);
  updated.set_last_step(-1);
  updated.clear_measurements();
  updated.clear_stop();
  updated.clear_prediction();
  HPO_RETURN_IF_ERROR(context_->storage->ResetTrial(updated));
  HPO_LOG(INFO) << "trial " << trial.id() << " of study " << name() << " released by worker "
                << trial.worker_id() << ": " << reason;
  trial = std::move(updated);
  // It was leased before anything now pending, so it goes first.
  pending_.push_front(trial.id());
  TransitionLocked(trial, hpo::v1::RUNNING);
  return absl::OkStatus();
}

absl::StatusOr<Trial> StudyState::Release(int64_t trial_id, const std::string& worker_id,
                                          const std::string& reason) {
  absl::MutexLock lock(&mu_);
  HPO_ASSIGN_OR_RETURN(Trial * trial, LeasedLocked(trial_id, worker_id));
  if (study_.state() != hpo::v1::STUDY_RUNNING) {
    return absl::FailedPreconditionError(
        absl::StrCat("study '", name(), "' has ended: complete the trial instead"));
  }
  HPO_RETURN_IF_ERROR(ReleaseLocked(*trial, reason));
  return Summary(*trial);
}

bool StudyState::ExtendLease(int64_t trial_id, const std::string& worker_id,
                             int64_t lease_expire_ms) {
  absl::MutexLock lock(&mu_);
  auto trial = LeasedLocked(trial_id, worker_id);
  if (!trial.ok()) return false;  // lost, finished, or unknown: the worker should let go
  (*trial)->set_lease_expire_ms(lease_expire_ms);
  return study_.state() == hpo::v1::STUDY_RUNNING;
}

absl::StatusOr<int> StudyState::ReleaseForgotten(const std::string& worker_id,
                                                 const absl::flat_hash_set<int64_t>& listed,
                                                 bool wait) {
  if (wait) {
    absl::MutexLock lock(&mu_);
    return ReleaseForgottenLocked(worker_id, listed);
  }
  if (!mu_.TryLock()) return 0;
  absl::StatusOr<int> released = ReleaseForgottenLocked(worker_id, listed);
  mu_.Unlock();
  return released;
}

absl::StatusOr<int> StudyState::ReleaseForgottenLocked(const std::string& worker_id,
                                                       const absl::flat_hash_set<int64_t>& listed) {
  if (study_.state() != hpo::v1::STUDY_RUNNING) return 0;
  const int64_t now = context_->clock->NowMs();
  const int64_t grace = 2 * absl::ToInt64Milliseconds(context_->heartbeat_interval);
  std::vector<int64_t> forgotten;
  for (int64_t id : running_) {
    const Trial& t = trials_[index_[id]];
    if (t.worker_id() == worker_id && !listed.contains(id) && t.start_time_ms() + grace < now) {
      forgotten.push_back(id);
    }
  }
  std::sort(forgotten.begin(), forgotten.end());
  for (int64_t id : forgotten) {
    HPO_RETURN_IF_ERROR(ReleaseLocked(trials_[index_[id]], "not in the worker's heartbeat"));
  }
  return static_cast<int>(forgotten.size());
}

absl::StatusOr<int> StudyState::ExpireLeases(bool wait) {
  if (wait) {
    absl::MutexLock lock(&mu_);
    return ExpireLeasesLocked();
  }
  if (!mu_.TryLock()) return 0;
  absl::StatusOr<int> lost = ExpireLeasesLocked();
  mu_.Unlock();
  return lost;
}

absl::StatusOr<int> StudyState::ExpireLeasesLocked() {
  const int64_t now = context_->clock->NowMs();
  std::vector<int64_t> expired;
  for (int64_t id : running_) {
    if (trials_[index_[id]].lease_expire_ms() < now) expired.push_back(id);
  }
  std::sort(expired.begin(), expired.end());
  for (int64_t id : expired) {
    Trial updated = Summary(trials_[index_[id]]);
    const std::string worker = updated.worker_id();
    updated.set_state(hpo::v1::LOST);
    updated.set_failure_reason(
        absl::StrCat("lease expired: worker '", worker, "' stopped reporting"));
    updated.set_end_time_ms(now);
    const bool retry = study_.state() == hpo::v1::STUDY_RUNNING &&
                       updated.attempt() < spec_.budget().max_retries();
    if (retry) {
      Trial next;
      next.set_study_id(id_);
      next.set_number(updated.number());
      next.set_attempt(updated.attempt() + 1);
      *next.mutable_params() = updated.params();
      next.set_state(hpo::v1::PENDING);
      next.set_create_time_ms(now);
      next.set_enqueued(updated.enqueued());
      next.set_last_step(-1);
      HPO_RETURN_IF_ERROR(context_->storage->UpdateAndInsertTrial(updated, &next));
      Trial& t = trials_[index_[id]];
      updated.mutable_measurements()->Swap(t.mutable_measurements());
      t = std::move(updated);
      TransitionLocked(t, hpo::v1::RUNNING);
      AddLocked(std::move(next));
      PublishLocked();
      EmitLocked(StudyEvent::TRIAL_UPDATED, &trials_.back());
      if (context_->work_available) context_->work_available();
    } else {
      HPO_RETURN_IF_ERROR(context_->storage->UpdateTrial(updated));
      Trial& t = trials_[index_[id]];
      updated.mutable_measurements()->Swap(t.mutable_measurements());
      t = std::move(updated);
      TransitionLocked(t, hpo::v1::RUNNING);
    }
    HPO_LOG(WARNING) << "trial " << id << " of study " << name() << " lost (worker " << worker
                     << ")" << (retry ? ", retrying" : ", no retries left");
  }
  MaybeFinishLocked();
  return static_cast<int>(expired.size());
}

}  // namespace hpo::server
