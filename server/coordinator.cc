#include "server/coordinator.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/limits.h"
#include "core/logging.h"
#include "core/search_space.h"
#include "core/status_macros.h"
#include "core/study_spec.h"
#include "core/trial_states.h"
#include "core/worker_policy.h"

namespace hpo::server {
namespace {

using hpo::v1::Study;
using hpo::v1::StudyEvent;
using hpo::v1::Trial;
using hpo::v1::TrialState;

constexpr int kDefaultPageSize = 1000;

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

absl::Status Unavailable() { return absl::UnavailableError("coordinator is shutting down"); }

}  // namespace

// ------------------------------------------------------------------ StudyWatch

bool StudyWatch::Next(StudyEvent* event, absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return !queue_.empty() || closed_; };
  mu_.AwaitWithDeadline(absl::Condition(&ready), deadline);
  if (queue_.empty()) return false;
  *event = std::move(queue_.front());
  queue_.pop_front();
  return true;
}

bool StudyWatch::closed() const {
  absl::MutexLock lock(&mu_);
  return closed_ && queue_.empty();
}

void StudyWatch::Push(StudyEvent event) {
  absl::MutexLock lock(&mu_);
  if (closed_) return;
  if (queue_.size() >= kMaxQueued) queue_.pop_front();
  queue_.push_back(std::move(event));
}

void StudyWatch::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
}

// ------------------------------------------------------------------ loading

absl::StatusOr<std::unique_ptr<Coordinator>> Coordinator::Create(
    storage::Storage* storage, const CoordinatorOptions& options) {
  if (storage == nullptr) return absl::InvalidArgumentError("coordinator needs a storage");
  if (options.clock == nullptr) return absl::InvalidArgumentError("coordinator needs a clock");
  std::unique_ptr<Coordinator> c(new Coordinator(storage, options));
  HPO_RETURN_IF_ERROR(c->Load());
  return c;
}

Coordinator::~Coordinator() { Shutdown(); }

absl::StatusOr<std::unique_ptr<Coordinator::StudyEntry>> Coordinator::MakeEntry(
    const Study& study) {
  auto entry = std::make_unique<StudyEntry>();
  entry->study = study;
  HPO_ASSIGN_OR_RETURN(
      entry->optimizer,
      options_.optimizer_factory
          ? options_.optimizer_factory(study.spec().optimizer(), study.spec().space())
          : MakeOptimizer(study.spec().optimizer(), study.spec().space()));
  HPO_ASSIGN_OR_RETURN(entry->stopper, options_.stopper_factory
                                           ? options_.stopper_factory(study.spec().early_stopping())
                                           : MakeEarlyStopper(study.spec().early_stopping()));
  return entry;
}

absl::Status Coordinator::Load() {
  HPO_ASSIGN_OR_RETURN(std::vector<Study> studies, storage_->ListStudies());
  const int64_t fresh_lease =
      options_.clock->NowMs() +
      absl::ToInt64Milliseconds(std::max(options_.lease_timeout, options_.restart_grace));
  absl::MutexLock lock(&mu_);
  for (const Study& study : studies) {
    auto entry_or = MakeEntry(study);
    if (!entry_or.ok()) {
      return core::Annotate(entry_or.status(),
                            absl::StrCat("loading study '", study.spec().name(), "'"));
    }
    std::unique_ptr<StudyEntry> entry = std::move(entry_or).value();
    HPO_ASSIGN_OR_RETURN(std::vector<Trial> trials,
                         storage_->ListTrials(study.id(), hpo::v1::TRIAL_STATE_UNSPECIFIED, 0, 0));
    HPO_ASSIGN_OR_RETURN(auto measurements, storage_->ListStudyMeasurements(study.id()));
    for (Trial& t : trials) {
      auto m = measurements.find(t.id());
      if (m != measurements.end()) {
        for (auto& one : m->second) *t.add_measurements() = std::move(one);
      }
      if (t.state() == hpo::v1::RUNNING) {
        t.set_lease_expire_ms(std::max(t.lease_expire_ms(), fresh_lease));
      }
      AddTrialLocked(*entry, std::move(t));
    }
    HPO_RETURN_IF_ERROR(WarmStartLocked(*entry, /*strict=*/false));
    study_by_name_[study.spec().name()] = study.id();
    studies_[study.id()] = std::move(entry);
  }
  return absl::OkStatus();
}

absl::Status Coordinator::WarmStartLocked(StudyEntry& entry, bool strict) {
  const hpo::v1::StudySpec& spec = entry.study.spec();
  const std::string request = entry.stopper->warm_start();
  if (request == "none") return absl::OkStatus();
  std::vector<const StudyEntry*> sources;
  if (request == "auto") {
    for (const auto& [id, other] : studies_) {
      if (SameTaskAndSpace(other->study.spec(), spec)) sources.push_back(other.get());
    }
  } else {
    for (absl::string_view raw : absl::StrSplit(request, ',')) {
      const std::string name(absl::StripAsciiWhitespace(raw));
      const StudyEntry* other = FindStudyLocked(name);
      std::string problem;
      if (other == nullptr) {
        problem = absl::StrCat("no earlier study named '", name, "'");
      } else if (!SameTaskAndSpace(other->study.spec(), spec)) {
        problem = absl::StrCat("study '", name,
                               "' ran another task, space or objective: its curves do not apply");
      }
      if (problem.empty()) {
        sources.push_back(other);
      } else if (strict) {
        return absl::InvalidArgumentError(
            absl::StrCat("early_stopping.options.warm_start: ", problem));
      } else {
        HPO_LOG(WARNING) << "study " << spec.name() << ": warm start skips " << name << ": "
                         << problem;
      }
    }
  }
  std::vector<const std::vector<Trial>*> trials;
  entry.warm_start_studies.clear();
  for (const StudyEntry* source : sources) {
    trials.push_back(&source->trials);
    entry.warm_start_studies.push_back(source->study.spec().name());
  }
  entry.warm_start_curves = trials.empty() ? 0 : entry.stopper->WarmStart(spec, trials);
  if (!sources.empty()) {
    HPO_LOG(INFO) << "study " << spec.name() << ": its stopper learns from "
                  << absl::StrJoin(entry.warm_start_studies, ", ") << " ("
                  << entry.warm_start_curves << " complete curves)";
  }
  return absl::OkStatus();
}

// ------------------------------------------------------------------ bookkeeping

void Coordinator::AddTrialLocked(StudyEntry& entry, Trial trial) {
  const int max_retries = entry.study.spec().budget().max_retries();
  trial.set_study_name(entry.study.spec().name());
  entry.next_number = std::max(entry.next_number, trial.number() + 1);
  AddToCounts(entry.counts, trial.state(), 1);
  if (trial.state() == hpo::v1::RUNNING) entry.running.insert(trial.id());
  if (trial.state() == hpo::v1::PENDING) entry.pending.push_back(trial.id());
  if (IsFinalAttempt(trial, max_retries)) entry.finished_numbers++;
  const size_t pos = entry.trials.size();
  if (trial.state() == hpo::v1::COMPLETED && trial.has_value() &&
      (entry.best < 0 || core::IsBetter(entry.study.spec().objective().direction(), trial.value(),
                                        entry.trials[entry.best].value()))) {
    entry.best = static_cast<int>(pos);
  }
  entry.index[trial.id()] = pos;
  study_of_trial_[trial.id()] = entry.study.id();
  entry.trials.push_back(std::move(trial));
}

void Coordinator::OnTransitionLocked(StudyEntry& entry, Trial& trial, TrialState from) {
  const int max_retries = entry.study.spec().budget().max_retries();
  AddToCounts(entry.counts, from, -1);
  AddToCounts(entry.counts, trial.state(), 1);
  if (from == hpo::v1::RUNNING) entry.running.erase(trial.id());
  if (trial.state() == hpo::v1::RUNNING) entry.running.insert(trial.id());
  if (from == hpo::v1::PENDING) {
    auto it = std::find(entry.pending.begin(), entry.pending.end(), trial.id());
    if (it != entry.pending.end()) entry.pending.erase(it);
  }
  if (IsFinalAttempt(trial, max_retries)) entry.finished_numbers++;
  if (trial.state() == hpo::v1::COMPLETED && trial.has_value()) {
    const size_t pos = entry.index[trial.id()];
    if (entry.best < 0 || core::IsBetter(entry.study.spec().objective().direction(), trial.value(),
                                         entry.trials[entry.best].value())) {
      entry.best = static_cast<int>(pos);
    }
  }
  if (from == hpo::v1::RUNNING) work_available_.SignalAll();  // a parallel slot freed up
  EmitLocked(entry, StudyEvent::TRIAL_UPDATED, &trial);
}

void Coordinator::EmitLocked(StudyEntry& entry, StudyEvent::Kind kind, const Trial* trial) {
  if (entry.watches.empty()) return;
  StudyEvent event;
  event.set_kind(kind);
  *event.mutable_study() = StudySnapshotLocked(entry);
  if (trial != nullptr) {
    *event.mutable_trial() = *trial;
    event.mutable_trial()->clear_measurements();
  }
  for (auto& w : entry.watches) w->Push(event);
  if (kind == StudyEvent::STUDY_ENDED) {
    for (auto& w : entry.watches) w->Close();
    entry.watches.clear();
  }
}

void Coordinator::MaybeFinishStudyLocked(StudyEntry& entry) {
  if (entry.study.state() != hpo::v1::STUDY_RUNNING) return;
  if (entry.finished_numbers < entry.study.spec().budget().max_trials()) return;
  const int64_t now = options_.clock->NowMs();
  absl::Status s = storage_->UpdateStudyState(entry.study.id(), hpo::v1::STUDY_COMPLETED, now);
  if (!s.ok()) {
    // The study stays RUNNING in memory and on disk; the next transition tries again.
    HPO_LOG(ERROR) << "cannot mark study " << entry.study.spec().name() << " completed: " << s;
    return;
  }
  entry.study.set_state(hpo::v1::STUDY_COMPLETED);
  entry.study.set_end_time_ms(now);
  HPO_LOG(INFO) << "study " << entry.study.spec().name() << " completed";
  EmitLocked(entry, StudyEvent::STUDY_ENDED, nullptr);
}

Study Coordinator::StudySnapshotLocked(const StudyEntry& entry) const {
  Study s = entry.study;
  *s.mutable_counts() = entry.counts;
  for (const std::string& name : entry.warm_start_studies) s.add_warm_start_studies(name);
  s.set_warm_start_curves(entry.warm_start_curves);
  s.set_finished_trials(entry.finished_numbers);
  // Who could run it: the workers heard from within a lease, and which of them accept it.
  const int64_t live_since =
      options_.clock->NowMs() - absl::ToInt64Milliseconds(options_.lease_timeout);
  std::vector<std::string> reasons;
  for (const auto& [id, worker] : workers_) {
    if (worker.last_seen_ms < live_since) continue;
    s.set_live_workers(s.live_workers() + 1);
    std::string why = WhyNotAcceptedLocked(worker, entry);
    if (why.empty()) {
      s.set_accepting_workers(s.accepting_workers() + 1);
    } else if (reasons.size() < 3 &&
               std::find(reasons.begin(), reasons.end(), why) == reasons.end()) {
      reasons.push_back(std::move(why));
    }
  }
  if (s.live_workers() > 0 && s.accepting_workers() == 0) {
    std::sort(reasons.begin(), reasons.end());
    s.set_not_accepted(
        absl::StrCat("no live worker accepts this study's trials: ", absl::StrJoin(reasons, "; ")));
  }
  if (entry.best >= 0) {
    *s.mutable_best_trial() = entry.trials[entry.best];
    s.mutable_best_trial()->clear_measurements();
  }
  return s;
}

StudyView Coordinator::ViewOf(const StudyEntry& entry) {
  StudyView view;
  view.spec = &entry.study.spec();
  view.trials = &entry.trials;
  return view;
}

Coordinator::StudyEntry* Coordinator::FindStudyLocked(absl::string_view name) {
  auto it = study_by_name_.find(name);
  if (it == study_by_name_.end()) return nullptr;
  return studies_[it->second].get();
}

absl::StatusOr<Coordinator::StudyEntry*> Coordinator::StudyOrError(absl::string_view name) {
  if (shutdown_) return Unavailable();
  StudyEntry* entry = FindStudyLocked(name);
  if (entry == nullptr) return absl::NotFoundError(absl::StrCat("no study named '", name, "'"));
  return entry;
}

// ------------------------------------------------------------------ StudyService

absl::StatusOr<Study> Coordinator::CreateStudy(const hpo::v1::StudySpec& spec) {
  HPO_RETURN_IF_ERROR(core::ValidateStudySpec(spec));
  Study draft;
  *draft.mutable_spec() = spec;
  HPO_ASSIGN_OR_RETURN(std::unique_ptr<StudyEntry> entry, MakeEntry(draft));
  absl::MutexLock lock(&mu_);
  if (shutdown_) return Unavailable();
  if (FindStudyLocked(spec.name()) != nullptr) {
    return absl::AlreadyExistsError(absl::StrCat("a study named '", spec.name(), "' exists"));
  }
  HPO_RETURN_IF_ERROR(WarmStartLocked(*entry, /*strict=*/true));
  HPO_ASSIGN_OR_RETURN(Study stored,
                       storage_->CreateStudy(spec, options_.clock->NowMs(),
                                             OptimizerRevision(spec.optimizer().name())));
  entry->study = stored;
  const int64_t id = stored.id();
  study_by_name_[spec.name()] = id;
  studies_[id] = std::move(entry);
  work_available_.SignalAll();
  HPO_LOG(INFO) << "study " << spec.name() << " created (id " << id << ")";
  return StudySnapshotLocked(*studies_[id]);
}

absl::StatusOr<Study> Coordinator::GetStudy(absl::string_view name) {
  absl::MutexLock lock(&mu_);
  HPO_ASSIGN_OR_RETURN(StudyEntry * entry, StudyOrError(name));
  return StudySnapshotLocked(*entry);
}

std::vector<Study> Coordinator::ListStudies() {
  absl::MutexLock lock(&mu_);
  std::vector<Study> out;
  out.reserve(studies_.size());
  for (const auto& [id, entry] : studies_) out.push_back(StudySnapshotLocked(*entry));
  return out;
}

absl::StatusOr<Study> Coordinator::StopStudy(absl::string_view name) {
  absl::MutexLock lock(&mu_);
  HPO_ASSIGN_OR_RETURN(StudyEntry * entry, StudyOrError(name));
  if (entry->study.state() != hpo::v1::STUDY_RUNNING) {
    return absl::FailedPreconditionError(absl::StrCat(
        "study '", name, "' has already ended (", core::StudyStateName(entry->study.state()), ")"));
  }
  const int64_t now = options_.clock->NowMs();
  // Pending trials will never run now; they fail in the same transaction that stops the study.
  std::vector<Trial> failed;
  for (int64_t id : entry->pending) {
    Trial t = entry->trials[entry->index[id]];
    t.set_state(hpo::v1::FAILED);
    t.set_failure_reason("study stopped before the trial ran");
    t.set_end_time_ms(now);
    failed.push_back(std::move(t));
  }
  HPO_RETURN_IF_ERROR(storage_->EndStudy(entry->study.id(), hpo::v1::STUDY_STOPPED, now, failed));
  for (Trial& t : failed) {
    Trial& cached = entry->trials[entry->index[t.id()]];
    cached = std::move(t);
    OnTransitionLocked(*entry, cached, hpo::v1::PENDING);
  }
  entry->study.set_state(hpo::v1::STUDY_STOPPED);
  entry->study.set_end_time_ms(now);
  HPO_LOG(INFO) << "study " << name << " stopped";
  EmitLocked(*entry, StudyEvent::STUDY_ENDED, nullptr);
  return StudySnapshotLocked(*entry);
}

absl::StatusOr<Coordinator::TrialPage> Coordinator::ListTrials(absl::string_view study,
                                                               TrialState state, int page_size,
                                                               absl::string_view page_token) {
  if (page_size < 0) return absl::InvalidArgumentError("page_size: must be >= 0");
  if (page_size == 0) page_size = kDefaultPageSize;
  int64_t after_id = 0;
  if (!page_token.empty() && !absl::SimpleAtoi(page_token, &after_id)) {
    return absl::InvalidArgumentError(absl::StrCat("page_token: malformed '", page_token, "'"));
  }
  absl::MutexLock lock(&mu_);
  HPO_ASSIGN_OR_RETURN(StudyEntry * entry, StudyOrError(study));
  auto it = std::upper_bound(entry->trials.begin(), entry->trials.end(), after_id,
                             [](int64_t id, const Trial& t) { return id < t.id(); });
  TrialPage page;
  for (; it != entry->trials.end(); ++it) {
    if (state != hpo::v1::TRIAL_STATE_UNSPECIFIED && it->state() != state) continue;
    if (static_cast<int>(page.trials.size()) == page_size) {
      page.next_page_token = absl::StrCat(page.trials.back().id());
      break;
    }
    page.trials.push_back(*it);
    page.trials.back().clear_measurements();
  }
  return page;
}

absl::StatusOr<Trial> Coordinator::GetTrial(int64_t trial_id) {
  absl::MutexLock lock(&mu_);
  if (shutdown_) return Unavailable();
  auto it = study_of_trial_.find(trial_id);
  if (it == study_of_trial_.end()) {
    return absl::NotFoundError(absl::StrCat("no trial with id ", trial_id));
  }
  StudyEntry& entry = *studies_[it->second];
  return entry.trials[entry.index[trial_id]];
}

absl::StatusOr<Trial> Coordinator::EnqueueTrial(absl::string_view study,
                                                const hpo::v1::ParamMap& params) {
  absl::MutexLock lock(&mu_);
  HPO_ASSIGN_OR_RETURN(StudyEntry * entry, StudyOrError(study));
  if (entry->study.state() != hpo::v1::STUDY_RUNNING) {
    return absl::FailedPreconditionError(absl::StrCat("study '", study, "' has ended"));
  }
  const auto& space = entry->study.spec().space();
  HPO_RETURN_IF_ERROR(core::ValidateParams(space, params));
  if (entry->next_number >= entry->study.spec().budget().max_trials()) {
    return absl::FailedPreconditionError(absl::StrCat("study '", study, "' has handed out all ",
                                                      entry->study.spec().budget().max_trials(),
                                                      " trials of its budget"));
  }
  Trial t;
  t.set_study_id(entry->study.id());
  t.set_number(entry->next_number);
  t.set_attempt(0);
  *t.mutable_params() = core::NormalizeParams(space, params);
  t.set_state(hpo::v1::PENDING);
  t.set_create_time_ms(options_.clock->NowMs());
  t.set_enqueued(true);
  t.set_last_step(-1);
  HPO_ASSIGN_OR_RETURN(Trial stored, storage_->InsertTrial(t));
  AddTrialLocked(*entry, stored);
  EmitLocked(*entry, StudyEvent::TRIAL_UPDATED, &entry->trials.back());
  work_available_.SignalAll();
  return entry->trials.back();
}

absl::StatusOr<Trial> Coordinator::GetBestTrial(absl::string_view study) {
  absl::MutexLock lock(&mu_);
  HPO_ASSIGN_OR_RETURN(StudyEntry * entry, StudyOrError(study));
  if (entry->best < 0) {
    return absl::NotFoundError(absl::StrCat("study '", study, "' has no completed trial yet"));
  }
  return entry->trials[entry->best];
}

absl::StatusOr<std::shared_ptr<StudyWatch>> Coordinator::Watch(absl::string_view study) {
  absl::MutexLock lock(&mu_);
  HPO_ASSIGN_OR_RETURN(StudyEntry * entry, StudyOrError(study));
  auto watch = std::make_shared<StudyWatch>();
  StudyEvent snapshot;
  snapshot.set_kind(StudyEvent::SNAPSHOT);
  *snapshot.mutable_study() = StudySnapshotLocked(*entry);
  watch->Push(snapshot);
  if (entry->study.state() != hpo::v1::STUDY_RUNNING) {
    StudyEvent ended;
    ended.set_kind(StudyEvent::STUDY_ENDED);
    *ended.mutable_study() = snapshot.study();
    watch->Push(ended);
    watch->Close();
  } else {
    entry->watches.push_back(watch);
  }
  return watch;
}

// ------------------------------------------------------------------ WorkerService

absl::StatusOr<hpo::v1::RegisterWorkerResponse> Coordinator::RegisterWorker(
    const hpo::v1::RegisterWorkerRequest& request) {
  if (request.worker_id().empty()) return absl::InvalidArgumentError("worker_id: missing");
  if (request.worker_id().size() > core::kMaxNameLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("worker_id: longer than ", core::kMaxNameLength, " characters"));
  }
  if (request.command_prefixes_size() > core::kMaxPolicyEntries ||
      request.studies_size() > core::kMaxPolicyEntries) {
    return absl::InvalidArgumentError(absl::StrCat("a worker may list at most ",
                                                   core::kMaxPolicyEntries,
                                                   " command prefixes and as many studies"));
  }
  storage::WorkerRecord record;
  record.id = request.worker_id();
  record.hostname = request.hostname();
  record.slots = request.slots();
  record.gpus.assign(request.gpus().begin(), request.gpus().end());
  record.registered_ms = record.last_seen_ms = options_.clock->NowMs();
  {
    absl::MutexLock lock(&mu_);
    if (shutdown_) return Unavailable();
  }
  HPO_RETURN_IF_ERROR(storage_->UpsertWorker(record));
  {
    absl::MutexLock lock(&mu_);
    // Forget workers silent for an hour (and many leases): each restart of one has a new id.
    // Here, not on AcquireTrial's path: registrations are rare.
    const int64_t forget_before =
        record.last_seen_ms -
        std::max<int64_t>(3600 * 1000, 10 * absl::ToInt64Milliseconds(options_.lease_timeout));
    absl::erase_if(workers_, [&](const auto& w) { return w.second.last_seen_ms < forget_before; });
    WorkerEntry& worker = workers_[request.worker_id()];
    worker.policy = request;
    worker.last_seen_ms = record.last_seen_ms;
    worker.refused.clear();
    work_available_.SignalAll();  // it may accept what others would not
  }
  HPO_LOG(INFO) << "worker " << request.worker_id() << " registered (" << request.slots()
                << " slots" << (request.any_command() ? ", any command" : "")
                << (request.command_prefixes().empty()
                        ? ""
                        : absl::StrCat(", commands under ",
                                       absl::StrJoin(request.command_prefixes(), ", ")))
                << (request.studies().empty()
                        ? ""
                        : absl::StrCat(", studies ", absl::StrJoin(request.studies(), ",")))
                << ")";
  hpo::v1::RegisterWorkerResponse response;
  response.set_lease_timeout_ms(absl::ToInt64Milliseconds(options_.lease_timeout));
  response.set_heartbeat_interval_ms(absl::ToInt64Milliseconds(options_.heartbeat_interval));
  return response;
}

bool Coordinator::CanRunLocked(const StudyEntry& entry) const {
  if (entry.study.state() != hpo::v1::STUDY_RUNNING) return false;
  const auto& budget = entry.study.spec().budget();
  if (static_cast<int>(entry.running.size()) >= budget.max_parallel()) return false;
  return !entry.pending.empty() || entry.next_number < budget.max_trials();
}

std::string Coordinator::WhyNotAcceptedLocked(const WorkerEntry& worker, const StudyEntry& entry) {
  if (auto it = worker.refused.find(entry.study.id()); it != worker.refused.end()) {
    return it->second;
  }
  return core::WhyNotAccepted(worker.policy, entry.study.spec());
}

void Coordinator::SeenLocked(const std::string& worker_id) {
  if (auto it = workers_.find(worker_id); it != workers_.end()) {
    it->second.last_seen_ms = options_.clock->NowMs();
  }
}

absl::StatusOr<hpo::v1::AcquireTrialResponse> Coordinator::TryAcquireLocked(
    const std::string& worker_id) {
  hpo::v1::AcquireTrialResponse response;
  auto worker = workers_.find(worker_id);
  // Fairness: the runnable study with the fewest running trials, then the one served longest ago.
  StudyEntry* chosen = nullptr;
  for (auto& [id, entry] : studies_) {
    if (!CanRunLocked(*entry)) continue;
    if (worker != workers_.end() && !WhyNotAcceptedLocked(worker->second, *entry).empty()) continue;
    if (chosen == nullptr || entry->running.size() < chosen->running.size() ||
        (entry->running.size() == chosen->running.size() &&
         entry->last_served < chosen->last_served)) {
      chosen = entry.get();
    }
  }
  if (chosen == nullptr) return response;
  StudyEntry& entry = *chosen;
  entry.last_served = ++serve_counter_;
  const int64_t now = options_.clock->NowMs();
  const int64_t lease = now + absl::ToInt64Milliseconds(options_.lease_timeout);

  Trial* leased = nullptr;
  if (!entry.pending.empty()) {
    Trial& t = entry.trials[entry.index[entry.pending.front()]];
    Trial updated = t;
    updated.set_state(hpo::v1::RUNNING);
    updated.set_worker_id(worker_id);
    updated.set_lease_expire_ms(lease);
    updated.set_start_time_ms(now);
    HPO_RETURN_IF_ERROR(storage_->UpdateTrial(updated));
    t = std::move(updated);
    OnTransitionLocked(entry, t, hpo::v1::PENDING);
    leased = &t;
  } else {
    const int number = entry.next_number;
    HPO_ASSIGN_OR_RETURN(std::vector<hpo::v1::ParamMap> proposals,
                         entry.optimizer->Suggest(ViewOf(entry), {number}));
    if (proposals.size() != 1) {
      return absl::InternalError(absl::StrCat("optimizer '", entry.study.spec().optimizer().name(),
                                              "' returned ", proposals.size(),
                                              " proposals for 1 trial"));
    }
    Trial t;
    t.set_study_id(entry.study.id());
    t.set_number(number);
    t.set_attempt(0);
    *t.mutable_params() = std::move(proposals[0]);
    t.set_state(hpo::v1::RUNNING);
    t.set_worker_id(worker_id);
    t.set_lease_expire_ms(lease);
    t.set_create_time_ms(now);
    t.set_start_time_ms(now);
    t.set_last_step(-1);
    HPO_ASSIGN_OR_RETURN(Trial stored, storage_->InsertTrial(t));
    AddTrialLocked(entry, std::move(stored));
    leased = &entry.trials.back();
    EmitLocked(entry, StudyEvent::TRIAL_UPDATED, leased);
  }
  response.set_found(true);
  *response.mutable_trial() = *leased;
  response.mutable_trial()->clear_measurements();
  *response.mutable_spec() = entry.study.spec();
  return response;
}

absl::StatusOr<hpo::v1::AcquireTrialResponse> Coordinator::AcquireTrial(
    const std::string& worker_id, absl::Duration wait) {
  if (worker_id.empty()) return absl::InvalidArgumentError("worker_id: missing");
  // The wait is measured on the real clock: it bounds an RPC, not trial time.
  const absl::Time deadline = absl::Now() + std::max(wait, absl::ZeroDuration());
  absl::MutexLock lock(&mu_);
  SeenLocked(worker_id);
  while (true) {
    if (shutdown_) return Unavailable();
    HPO_RETURN_IF_ERROR(ExpireLeasesLocked().status());
    HPO_ASSIGN_OR_RETURN(hpo::v1::AcquireTrialResponse response, TryAcquireLocked(worker_id));
    if (response.found() || absl::Now() >= deadline) return response;
    ++waiting_acquires_;
    work_available_.WaitWithDeadline(&mu_, deadline);
    --waiting_acquires_;
  }
}

absl::StatusOr<std::pair<Coordinator::StudyEntry*, Trial*>> Coordinator::LeasedTrialLocked(
    int64_t trial_id, const std::string& worker_id) {
  if (shutdown_) return Unavailable();
  auto it = study_of_trial_.find(trial_id);
  if (it == study_of_trial_.end()) {
    return absl::NotFoundError(absl::StrCat("no trial with id ", trial_id));
  }
  StudyEntry* entry = studies_[it->second].get();
  Trial* trial = &entry->trials[entry->index[trial_id]];
  if (trial->state() != hpo::v1::RUNNING || trial->worker_id() != worker_id) {
    return absl::FailedPreconditionError(absl::StrCat(
        "trial ", trial_id, " is not leased to worker '", worker_id, "' (it is ",
        core::TrialStateName(trial->state()),
        trial->worker_id().empty() ? "" : absl::StrCat(" on '", trial->worker_id(), "'"), ")"));
  }
  return std::make_pair(entry, trial);
}

absl::StatusOr<hpo::v1::ReportProgressResponse> Coordinator::ReportProgress(
    const hpo::v1::ReportProgressRequest& request) {
  absl::MutexLock lock(&mu_);
  HPO_ASSIGN_OR_RETURN(auto found, LeasedTrialLocked(request.trial_id(), request.worker_id()));
  SeenLocked(request.worker_id());
  auto [entry, trial] = found;
  const int64_t now = options_.clock->NowMs();
  std::vector<hpo::v1::Measurement> batch;
  batch.reserve(request.measurements_size() + 1);
  if (request.has_measurement()) batch.push_back(request.measurement());
  batch.insert(batch.end(), request.measurements().begin(), request.measurements().end());
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
  if (trial->measurements_size() + static_cast<int>(batch.size()) >
      core::kMaxMeasurementsPerTrial) {
    return absl::ResourceExhaustedError(
        absl::StrCat("trial ", trial->id(), " has reported ", trial->measurements_size(),
                     " measurements; at most ", core::kMaxMeasurementsPerTrial,
                     " are kept per trial, and later ones are refused (its "
                     "final result is still taken)"));
  }
  for (hpo::v1::Measurement& m : batch) {
    if (m.time_ms() == 0) m.set_time_ms(now);
  }
  HPO_RETURN_IF_ERROR(storage_->AppendMeasurements(trial->id(), batch));
  const int first_new = trial->measurements_size();
  trial->set_last_step(batch.back().step());
  for (hpo::v1::Measurement& m : batch) *trial->add_measurements() = std::move(m);
  trial->set_lease_expire_ms(now + absl::ToInt64Milliseconds(options_.lease_timeout));

  hpo::v1::ReportProgressResponse response;
  response.set_lease_expire_ms(trial->lease_expire_ms());
  if (entry->study.state() != hpo::v1::STUDY_RUNNING || trial->has_stop()) {
    response.set_decision(hpo::v1::STOP);  // a stop stands until the trial ends
    return response;
  }
  hpo::v1::StopJudgement judgement = entry->stopper->Decide(ViewOf(*entry), *trial, first_new);
  // The latest forecast stays with the trial (written with its next transition); a stop and its
  // evidence are stored before the worker hears of them, so no PRUNED trial lacks its reason.
  if (judgement.has_prediction()) *trial->mutable_prediction() = judgement.prediction();
  const bool stop = judgement.decision() == hpo::v1::STOP;
  if (stop) {
    Trial updated = *trial;
    *updated.mutable_stop() = judgement;
    HPO_RETURN_IF_ERROR(storage_->UpdateTrial(updated));
    *trial->mutable_stop() = std::move(judgement);
    HPO_LOG(INFO) << "trial " << trial->id() << " of study " << entry->study.spec().name()
                  << " stopped: " << trial->stop().summary();
  }
  response.set_decision(stop ? hpo::v1::STOP : hpo::v1::CONTINUE);
  return response;
}

absl::StatusOr<Trial> Coordinator::CompleteTrial(const hpo::v1::CompleteTrialRequest& request) {
  const TrialState to = request.state();
  if (to != hpo::v1::COMPLETED && to != hpo::v1::PRUNED && to != hpo::v1::FAILED) {
    return absl::InvalidArgumentError(absl::StrCat(
        "state: a trial completes as COMPLETED, PRUNED or FAILED, not ", core::TrialStateName(to)));
  }
  absl::MutexLock lock(&mu_);
  if (shutdown_) return Unavailable();
  // A repeat of a completion already applied is answered with the stored result.
  auto sit = study_of_trial_.find(request.trial_id());
  if (sit != study_of_trial_.end() && !request.request_id().empty()) {
    StudyEntry& entry = *studies_[sit->second];
    const Trial& t = entry.trials[entry.index[request.trial_id()]];
    if (core::IsTerminal(t.state()) && t.complete_request_id() == request.request_id()) {
      return t;
    }
  }
  HPO_ASSIGN_OR_RETURN(auto found, LeasedTrialLocked(request.trial_id(), request.worker_id()));
  auto [entry, trial] = found;
  const std::string& metric = entry->study.spec().objective().metric();
  const int64_t now = options_.clock->NowMs();

  Trial updated = *trial;
  updated.set_state(to);
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
      } else if (entry->study.state() == hpo::v1::STUDY_STOPPED) {
        updated.set_failure_reason("stopped with its study");
      }
    }
    double last = 0;
    if (LastObjective(updated, metric, &last)) {
      updated.set_has_value(true);
      updated.set_value(last);
    }
  }
  // Measurements are stored apart; UpdateTrial ignores them.
  HPO_RETURN_IF_ERROR(storage_->UpdateTrial(updated));
  *trial = std::move(updated);
  OnTransitionLocked(*entry, *trial, hpo::v1::RUNNING);
  MaybeFinishStudyLocked(*entry);
  return *trial;
}

absl::Status Coordinator::ReleaseLocked(StudyEntry& entry, Trial& trial, absl::string_view reason) {
  Trial updated = trial;
  updated.set_state(hpo::v1::PENDING);
  updated.set_worker_id("");
  updated.set_lease_expire_ms(0);
  updated.set_start_time_ms(0);
  updated.set_last_step(-1);
  updated.clear_measurements();
  updated.clear_stop();
  updated.clear_prediction();
  HPO_RETURN_IF_ERROR(storage_->ResetTrial(updated));
  HPO_LOG(INFO) << "trial " << trial.id() << " of study " << entry.study.spec().name()
                << " released by worker " << trial.worker_id() << ": " << reason;
  trial = std::move(updated);
  OnTransitionLocked(entry, trial, hpo::v1::RUNNING);
  // It was leased before anything now pending, so it goes first.
  entry.pending.push_front(trial.id());
  work_available_.SignalAll();
  return absl::OkStatus();
}

absl::StatusOr<Trial> Coordinator::ReleaseTrial(const hpo::v1::ReleaseTrialRequest& request) {
  absl::MutexLock lock(&mu_);
  HPO_ASSIGN_OR_RETURN(auto found, LeasedTrialLocked(request.trial_id(), request.worker_id()));
  auto [entry, trial] = found;
  if (entry->study.state() != hpo::v1::STUDY_RUNNING) {
    return absl::FailedPreconditionError(absl::StrCat("study '", entry->study.spec().name(),
                                                      "' has ended: complete the trial instead"));
  }
  const std::string reason = request.reason().empty() ? "no reason given" : request.reason();
  if (request.refused()) {
    // Not offered to this worker again until it registers anew (with another policy, maybe).
    if (auto it = workers_.find(request.worker_id()); it != workers_.end()) {
      it->second.refused[entry->study.id()] =
          absl::StrCat("worker ", request.worker_id(), " refused: ", reason);
    }
  }
  HPO_RETURN_IF_ERROR(ReleaseLocked(*entry, *trial, reason));
  return *trial;
}

absl::StatusOr<hpo::v1::HeartbeatResponse> Coordinator::Heartbeat(
    const hpo::v1::HeartbeatRequest& request) {
  absl::MutexLock lock(&mu_);
  if (shutdown_) return Unavailable();
  SeenLocked(request.worker_id());
  hpo::v1::HeartbeatResponse response;
  const int64_t now = options_.clock->NowMs();
  const int64_t lease = now + absl::ToInt64Milliseconds(options_.lease_timeout);
  absl::flat_hash_set<int64_t> listed;
  for (int64_t id : request.running_trial_ids()) {
    listed.insert(id);
    auto found = LeasedTrialLocked(id, request.worker_id());
    if (!found.ok()) {
      response.add_stop_trial_ids(id);  // lost, finished, or unknown: the worker should let go
      continue;
    }
    auto [entry, trial] = *found;
    trial->set_lease_expire_ms(lease);
    if (entry->study.state() != hpo::v1::STUDY_RUNNING) response.add_stop_trial_ids(id);
  }
  // Leases the worker does not know it holds.
  const int64_t grace = 2 * absl::ToInt64Milliseconds(options_.heartbeat_interval);
  for (auto& [study_id, entry] : studies_) {
    if (entry->study.state() != hpo::v1::STUDY_RUNNING) continue;
    std::vector<int64_t> forgotten;
    for (int64_t id : entry->running) {
      const Trial& t = entry->trials[entry->index[id]];
      if (t.worker_id() == request.worker_id() && !listed.contains(id) &&
          t.start_time_ms() + grace < now) {
        forgotten.push_back(id);
      }
    }
    std::sort(forgotten.begin(), forgotten.end());
    for (int64_t id : forgotten) {
      HPO_RETURN_IF_ERROR(
          ReleaseLocked(*entry, entry->trials[entry->index[id]], "not in the worker's heartbeat"));
    }
  }
  return response;
}

absl::StatusOr<int> Coordinator::ExpireLeases() {
  absl::MutexLock lock(&mu_);
  if (shutdown_) return Unavailable();
  return ExpireLeasesLocked();
}

absl::StatusOr<int> Coordinator::ExpireLeasesLocked() {
  const int64_t now = options_.clock->NowMs();
  int lost = 0;
  for (auto& [study_id, entry_ptr] : studies_) {
    StudyEntry& entry = *entry_ptr;
    std::vector<int64_t> expired;
    for (int64_t id : entry.running) {
      if (entry.trials[entry.index[id]].lease_expire_ms() < now) expired.push_back(id);
    }
    std::sort(expired.begin(), expired.end());
    for (int64_t id : expired) {
      Trial& t = entry.trials[entry.index[id]];
      Trial updated = t;
      updated.set_state(hpo::v1::LOST);
      updated.set_failure_reason(
          absl::StrCat("lease expired: worker '", t.worker_id(), "' stopped reporting"));
      updated.set_end_time_ms(now);
      const bool retry = entry.study.state() == hpo::v1::STUDY_RUNNING &&
                         t.attempt() < entry.study.spec().budget().max_retries();
      if (retry) {
        Trial next;
        next.set_study_id(t.study_id());
        next.set_number(t.number());
        next.set_attempt(t.attempt() + 1);
        *next.mutable_params() = t.params();
        next.set_state(hpo::v1::PENDING);
        next.set_create_time_ms(now);
        next.set_enqueued(t.enqueued());
        next.set_last_step(-1);
        HPO_RETURN_IF_ERROR(storage_->UpdateAndInsertTrial(updated, &next));
        t = std::move(updated);
        OnTransitionLocked(entry, entry.trials[entry.index[id]], hpo::v1::RUNNING);
        AddTrialLocked(entry, std::move(next));
        EmitLocked(entry, StudyEvent::TRIAL_UPDATED, &entry.trials.back());
        work_available_.SignalAll();
      } else {
        HPO_RETURN_IF_ERROR(storage_->UpdateTrial(updated));
        t = std::move(updated);
        OnTransitionLocked(entry, entry.trials[entry.index[id]], hpo::v1::RUNNING);
      }
      HPO_LOG(WARNING) << "trial " << id << " of study " << entry.study.spec().name()
                       << " lost (worker " << entry.trials[entry.index[id]].worker_id() << ")"
                       << (retry ? ", retrying" : ", no retries left");
      ++lost;
    }
    MaybeFinishStudyLocked(entry);
  }
  return lost;
}

int Coordinator::WaitingAcquires() {
  absl::MutexLock lock(&mu_);
  return waiting_acquires_;
}

void Coordinator::Shutdown() {
  absl::MutexLock lock(&mu_);
  if (shutdown_) return;
  shutdown_ = true;
  for (auto& [id, entry] : studies_) {
    for (auto& w : entry->watches) w->Close();
    entry->watches.clear();
  }
  work_available_.SignalAll();
}

}  // namespace hpo::server
