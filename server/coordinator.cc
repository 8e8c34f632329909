#include "server/coordinator.h"

#include <algorithm>
#include <thread>
#include <utility>

#include "absl/strings/match.h"
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
using hpo::v1::Trial;
using hpo::v1::TrialState;

constexpr int kDefaultPageSize = 1000;

absl::Status Unavailable() { return absl::UnavailableError("coordinator is shutting down"); }

}  // namespace

// ------------------------------------------------------------------ loading

Coordinator::Coordinator(storage::Storage* storage, const CoordinatorOptions& options)
    : storage_(storage),
      options_(options),
      suggest_pool_(std::make_unique<SuggestPool>(
          std::max(2, static_cast<int>(std::thread::hardware_concurrency())), /*nice=*/10)) {
  context_.storage = storage_;
  context_.suggest_pool = suggest_pool_.get();
  context_.keep_curves = options_.keep_curves;
  context_.clock = options_.clock;
  context_.lease_timeout = options_.lease_timeout;
  context_.heartbeat_interval = options_.heartbeat_interval;
  context_.trial_added = [this](int64_t trial_id, int64_t study_id) {
    absl::MutexLock lock(&trials_mu_);
    study_of_trial_[trial_id] = study_id;
  };
  context_.work_available = [this] { WakeAcquirers(); };
  context_.describe_workers = [this](Study* study) { DescribeWorkers(study); };
}

absl::StatusOr<std::unique_ptr<Coordinator>> Coordinator::Create(
    storage::Storage* storage, const CoordinatorOptions& options) {
  if (storage == nullptr) return absl::InvalidArgumentError("coordinator needs a storage");
  if (options.clock == nullptr) return absl::InvalidArgumentError("coordinator needs a clock");
  std::unique_ptr<Coordinator> c(new Coordinator(storage, options));
  HPO_RETURN_IF_ERROR(c->Load());
  return c;
}

Coordinator::~Coordinator() { Shutdown(); }

absl::StatusOr<std::shared_ptr<StudyState>> Coordinator::MakeStudy(const Study& study) {
  HPO_ASSIGN_OR_RETURN(
      std::unique_ptr<Optimizer> optimizer,
      options_.optimizer_factory
          ? options_.optimizer_factory(study.spec().optimizer(), study.spec().space())
          : MakeOptimizer(study.spec().optimizer(), study.spec().space()));
  HPO_ASSIGN_OR_RETURN(std::unique_ptr<EarlyStopper> stopper,
                       options_.stopper_factory
                           ? options_.stopper_factory(study.spec().early_stopping())
                           : MakeEarlyStopper(study.spec().early_stopping()));
  return std::make_shared<StudyState>(study, std::move(optimizer), std::move(stopper), &context_);
}

absl::Status Coordinator::Load() {
  HPO_ASSIGN_OR_RETURN(std::vector<Study> studies, storage_->ListStudies());
  const int64_t fresh_lease =
      options_.clock->NowMs() +
      absl::ToInt64Milliseconds(std::max(options_.lease_timeout, options_.restart_grace));
  for (const Study& stored : studies) {
    auto study_or = MakeStudy(stored);
    if (!study_or.ok()) {
      return core::Annotate(study_or.status(),
                            absl::StrCat("loading study '", stored.spec().name(), "'"));
    }
    std::shared_ptr<StudyState> study = std::move(study_or).value();
    HPO_ASSIGN_OR_RETURN(std::vector<Trial> trials,
                         storage_->ListTrials(stored.id(), hpo::v1::TRIAL_STATE_UNSPECIFIED, 0, 0));
    // An ended study's finished trials keep their curves on disk only (see StudyState).
    std::map<int64_t, std::vector<hpo::v1::Measurement>> measurements;
    if (StudyState::NeedsCurvesAtLoad(stored, trials, options_.keep_curves)) {
      HPO_ASSIGN_OR_RETURN(measurements, storage_->ListStudyMeasurements(stored.id()));
    }
    study->Load(std::move(trials), std::move(measurements), fresh_lease);
    HPO_RETURN_IF_ERROR(WarmStart(*study, /*strict=*/false));
    absl::MutexLock lock(&mu_);
    study_by_name_[stored.spec().name()] = stored.id();
    studies_[stored.id()] = std::move(study);
  }
  return absl::OkStatus();
}

absl::Status Coordinator::WarmStart(StudyState& study, bool strict) {
  HPO_RETURN_IF_ERROR(WarmStartOptimizer(study, strict));
  return WarmStartStopper(study, strict);
}

absl::Status Coordinator::WarmStartOptimizer(StudyState& study, bool strict) {
  const hpo::v1::StudySpec& spec = study.spec();
  if (spec.optimizer().warm_start_from().empty()) return absl::OkStatus();
  std::vector<Trial> prior;
  for (const std::string& name : spec.optimizer().warm_start_from()) {
    std::shared_ptr<StudyState> other = FindStudy(name);
    std::string problem;
    std::vector<Trial> completed;
    if (other == nullptr) {
      problem = absl::StrCat("no study named '", name, "'");
    } else if (other->spec().objective().metric() != spec.objective().metric() ||
               other->spec().objective().direction() != spec.objective().direction()) {
      problem = absl::StrCat(
          "study '", name, "' has another objective (",
          other->spec().objective().direction() == hpo::v1::MAXIMIZE ? "maximize" : "minimize",
          " '", other->spec().objective().metric(), "'), so its values do not apply");
    } else {
      completed = other->CompletedTrials();  // under its own lock only
      const size_t n = completed.size();
      completed.erase(std::remove_if(completed.begin(), completed.end(),
                                     [&](const Trial& t) {
                                       return !core::ValidateParams(spec.space(), t.params()).ok();
                                     }),
                      completed.end());
      if (completed.empty()) {
        problem = absl::StrCat("none of study '", name, "''s ", n,
                               " completed trials has parameters that fit this study's space");
      }
    }
    if (problem.empty()) {
      for (Trial& t : completed) prior.push_back(std::move(t));
    } else if (strict) {
      return absl::InvalidArgumentError(absl::StrCat("optimizer.warm_start_from: ", problem));
    } else {
      HPO_LOG(WARNING) << "study " << spec.name() << ": its optimizer's warm start skips " << name
                       << ": " << problem;
    }
  }
  const int used = study.SetOptimizerWarmStart(std::move(prior));
  HPO_LOG(INFO) << "study " << spec.name() << ": its optimizer starts from " << used
                << " completed trials of "
                << absl::StrJoin(spec.optimizer().warm_start_from(), ", ");
  return absl::OkStatus();
}

absl::Status Coordinator::WarmStartStopper(StudyState& study, bool strict) {
  const hpo::v1::StudySpec& spec = study.spec();
  const std::string request = study.WarmStartRequest();
  if (request == "none") return absl::OkStatus();
  StudyList sources;
  if (request == "auto") {
    for (auto& other : AllStudies()) {
      if (SameTaskAndSpace(other->spec(), spec)) sources.push_back(other);
    }
  } else {
    for (absl::string_view raw : absl::StrSplit(request, ',')) {
      const std::string name(absl::StripAsciiWhitespace(raw));
      std::shared_ptr<StudyState> other = FindStudy(name);
      std::string problem;
      if (other == nullptr) {
        problem = absl::StrCat("no earlier study named '", name, "'");
      } else if (!SameTaskAndSpace(other->spec(), spec)) {
        problem = absl::StrCat("study '", name,
                               "' ran another task, space or objective: its curves do not apply");
      }
      if (problem.empty()) {
        sources.push_back(std::move(other));
      } else if (strict) {
        return absl::InvalidArgumentError(
            absl::StrCat("early_stopping.options.warm_start: ", problem));
      } else {
        HPO_LOG(WARNING) << "study " << spec.name() << ": warm start skips " << name << ": "
                         << problem;
      }
    }
  }
  // Each source is copied under its own lock, one at a time: no two studies are locked at once.
  std::vector<std::pair<std::string, std::vector<Trial>>> trials;
  for (const auto& source : sources) trials.emplace_back(source->name(), source->EndedTrials());
  study.WarmStart(trials);
  return absl::OkStatus();
}

// ------------------------------------------------------------------ routing

absl::Status Coordinator::CheckOpen() const {
  return shutdown_.load(std::memory_order_acquire) ? Unavailable() : absl::OkStatus();
}

std::shared_ptr<StudyState> Coordinator::FindStudy(absl::string_view name) {
  absl::ReaderMutexLock lock(&mu_);
  auto it = study_by_name_.find(name);
  if (it == study_by_name_.end()) return nullptr;
  return studies_.at(it->second);
}

absl::StatusOr<std::shared_ptr<StudyState>> Coordinator::StudyOrError(absl::string_view name) {
  HPO_RETURN_IF_ERROR(CheckOpen());
  std::shared_ptr<StudyState> study = FindStudy(name);
  if (study == nullptr) return absl::NotFoundError(absl::StrCat("no study named '", name, "'"));
  return study;
}

absl::StatusOr<std::shared_ptr<StudyState>> Coordinator::StudyOfTrial(int64_t trial_id) {
  HPO_RETURN_IF_ERROR(CheckOpen());
  int64_t study_id = 0;
  {
    absl::ReaderMutexLock lock(&trials_mu_);
    auto it = study_of_trial_.find(trial_id);
    if (it == study_of_trial_.end()) {
      return absl::NotFoundError(absl::StrCat("no trial with id ", trial_id));
    }
    study_id = it->second;
  }
  absl::ReaderMutexLock lock(&mu_);
  return studies_.at(study_id);
}

Coordinator::StudyList Coordinator::AllStudies() {
  absl::ReaderMutexLock lock(&mu_);
  StudyList out;
  out.reserve(studies_.size());
  for (const auto& [id, study] : studies_) out.push_back(study);
  return out;
}

void Coordinator::WakeAcquirers() {
  absl::MutexLock lock(&wake_mu_);
  ++work_epoch_;
  work_available_.SignalAll();
}

// ------------------------------------------------------------------ StudyService

absl::StatusOr<Study> Coordinator::CreateStudy(const hpo::v1::StudySpec& spec) {
  HPO_RETURN_IF_ERROR(core::ValidateStudySpec(spec));
  HPO_RETURN_IF_ERROR(CheckOpen());
  auto exists = [&] {
    return absl::AlreadyExistsError(absl::StrCat("a study named '", spec.name(), "' exists"));
  };
  if (FindStudy(spec.name()) != nullptr) return exists();
  Study draft;
  *draft.mutable_spec() = spec;
  HPO_ASSIGN_OR_RETURN(std::shared_ptr<StudyState> study, MakeStudy(draft));
  HPO_RETURN_IF_ERROR(WarmStart(*study, /*strict=*/true));
  {
    absl::MutexLock lock(&mu_);
    // Checked again under the lock that inserts: two creations of one name may race.
    if (study_by_name_.contains(spec.name())) return exists();
    HPO_ASSIGN_OR_RETURN(Study stored,
                         storage_->CreateStudy(spec, options_.clock->NowMs(),
                                               OptimizerRevision(spec.optimizer().name())));
    study->SetStored(stored);
    study_by_name_[spec.name()] = stored.id();
    studies_[stored.id()] = study;
  }
  WakeAcquirers();
  HPO_LOG(INFO) << "study " << spec.name() << " created (id " << study->id() << ")";
  return study->Snapshot();
}

absl::StatusOr<Study> Coordinator::GetStudy(absl::string_view name) {
  HPO_ASSIGN_OR_RETURN(std::shared_ptr<StudyState> study, StudyOrError(name));
  return study->Snapshot();
}

std::vector<Study> Coordinator::ListStudies() {
  std::vector<Study> out;
  for (const auto& study : AllStudies()) out.push_back(study->Snapshot());
  return out;
}

absl::StatusOr<Study> Coordinator::StopStudy(absl::string_view name) {
  HPO_ASSIGN_OR_RETURN(std::shared_ptr<StudyState> study, StudyOrError(name));
  return study->Stop();
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
  HPO_ASSIGN_OR_RETURN(std::shared_ptr<StudyState> found, StudyOrError(study));
  return found->ListTrials(state, page_size, after_id);
}

absl::StatusOr<std::map<int64_t, std::vector<hpo::v1::Measurement>>> Coordinator::StudyCurves(
    absl::string_view study) {
  HPO_ASSIGN_OR_RETURN(std::shared_ptr<StudyState> found, StudyOrError(study));
  // Every measurement is stored before memory has it, so the file holds every curve.
  return storage_->ListStudyMeasurements(found->id());
}

absl::StatusOr<Trial> Coordinator::GetTrial(int64_t trial_id) {
  HPO_ASSIGN_OR_RETURN(std::shared_ptr<StudyState> study, StudyOfTrial(trial_id));
  return study->GetTrial(trial_id);
}

absl::StatusOr<Trial> Coordinator::EnqueueTrial(absl::string_view study,
                                                const hpo::v1::ParamMap& params) {
  HPO_ASSIGN_OR_RETURN(std::shared_ptr<StudyState> found, StudyOrError(study));
  return found->Enqueue(params);
}

absl::StatusOr<Trial> Coordinator::GetBestTrial(absl::string_view study) {
  HPO_ASSIGN_OR_RETURN(std::shared_ptr<StudyState> found, StudyOrError(study));
  return found->Best();
}

absl::StatusOr<std::shared_ptr<StudyWatch>> Coordinator::Watch(absl::string_view study) {
  HPO_ASSIGN_OR_RETURN(std::shared_ptr<StudyState> found, StudyOrError(study));
  return found->Watch();
}

absl::StatusOr<hpo::v1::DeleteStudyResponse> Coordinator::DeleteStudy(absl::string_view name) {
  HPO_RETURN_IF_ERROR(CheckOpen());
  std::vector<int64_t> trial_ids;
  {
    // The registry first, then the study: no one finds it between its deletion and its removal.
    absl::MutexLock lock(&mu_);
    auto it = study_by_name_.find(name);
    if (it == study_by_name_.end()) {
      return absl::NotFoundError(absl::StrCat("no study named '", name, "'"));
    }
    const int64_t id = it->second;
    HPO_ASSIGN_OR_RETURN(trial_ids, studies_.at(id)->Delete());
    study_by_name_.erase(it);
    studies_.erase(id);
  }
  {
    absl::MutexLock lock(&trials_mu_);
    for (int64_t id : trial_ids) study_of_trial_.erase(id);
  }
  hpo::v1::DeleteStudyResponse response;
  response.set_trials_deleted(static_cast<int32_t>(trial_ids.size()));
  return response;
}

absl::StatusOr<Study> Coordinator::ExtendStudy(absl::string_view name, int max_trials) {
  HPO_ASSIGN_OR_RETURN(std::shared_ptr<StudyState> study, StudyOrError(name));
  HPO_ASSIGN_OR_RETURN(Study extended, study->Extend(max_trials));
  WakeAcquirers();
  return extended;
}

absl::StatusOr<Trial> Coordinator::AddTrial(const hpo::v1::AddTrialRequest& request) {
  HPO_ASSIGN_OR_RETURN(std::shared_ptr<StudyState> study, StudyOrError(request.study_name()));
  return study->AddCompleted(request.params(), request.final_metrics());
}

absl::StatusOr<Trial> Coordinator::AskTrial(const hpo::v1::AskTrialRequest& request) {
  const std::string client = request.client_id().empty() ? "client" : request.client_id();
  if (client.size() > core::kMaxNameLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("client_id: longer than ", core::kMaxNameLength, " characters"));
  }
  if (request.lease_s() < 0) return absl::InvalidArgumentError("lease_s: must be >= 0");
  const absl::Duration lease =
      request.lease_s() == 0 ? absl::Hours(1) : absl::Seconds(request.lease_s());
  HPO_ASSIGN_OR_RETURN(std::shared_ptr<StudyState> study, StudyOrError(request.study_name()));
  while (true) {
    if (!study->runnable()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "study '", study->name(), "' has ended or handed out every trial of its budget"));
    }
    if (!study->TryClaim(serve_counter_.fetch_add(1) + 1)) {
      if (!study->runnable()) continue;  // it ended meanwhile: say so above
      return absl::ResourceExhaustedError(
          absl::StrCat("study '", study->name(), "' has max_parallel ",
                       study->spec().budget().max_parallel(), " trials running: tell one first"));
    }
    HPO_ASSIGN_OR_RETURN(std::optional<hpo::v1::AcquireTrialResponse> leased,
                         study->LeaseClaimed(absl::StrCat("ask:", client), lease));
    if (leased.has_value()) return std::move(*leased->mutable_trial());
  }
}

absl::StatusOr<Trial> Coordinator::TellTrial(const hpo::v1::CompleteTrialRequest& request) {
  if (!absl::StartsWith(request.worker_id(), "ask:")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "worker_id: '", request.worker_id(),
        "' is not an asked trial's owner (\"ask:CLIENT\"); workers complete with CompleteTrial"));
  }
  return CompleteTrial(request);
}

// ------------------------------------------------------------------ workers

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
  HPO_RETURN_IF_ERROR(CheckOpen());
  storage::WorkerRecord record;
  record.id = request.worker_id();
  record.hostname = request.hostname();
  record.slots = request.slots();
  record.gpus.assign(request.gpus().begin(), request.gpus().end());
  record.registered_ms = record.last_seen_ms = options_.clock->NowMs();
  HPO_RETURN_IF_ERROR(storage_->UpsertWorker(record));
  {
    absl::MutexLock lock(&workers_mu_);
    // Forget workers silent for an hour (and many leases): each restart of one has a new id.
    // Here, not on AcquireTrial's path: registrations are rare.
    const int64_t forget_before =
        record.last_seen_ms -
        std::max<int64_t>(3600 * 1000, 10 * absl::ToInt64Milliseconds(options_.lease_timeout));
    absl::erase_if(workers_,
                   [&](const auto& w) { return w.second->last_seen_ms.load() < forget_before; });
    auto entry = std::make_unique<WorkerEntry>();
    entry->policy = request;
    entry->last_seen_ms = record.last_seen_ms;
    workers_[request.worker_id()] = std::move(entry);
  }
  WakeAcquirers();  // it may accept what others would not
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

std::string Coordinator::WhyNotAccepted(const WorkerEntry& worker, int64_t study_id,
                                        const hpo::v1::StudySpec& spec) {
  if (auto it = worker.refused.find(study_id); it != worker.refused.end()) return it->second;
  return core::WhyNotAccepted(worker.policy, spec);
}

void Coordinator::DescribeWorkers(Study* study) {
  // Who could run it: the workers heard from within a lease, and which of them accept it.
  const int64_t live_since =
      options_.clock->NowMs() - absl::ToInt64Milliseconds(options_.lease_timeout);
  std::vector<std::string> reasons;
  absl::ReaderMutexLock lock(&workers_mu_);
  for (const auto& [id, worker] : workers_) {
    if (worker->last_seen_ms.load(std::memory_order_relaxed) < live_since) continue;
    study->set_live_workers(study->live_workers() + 1);
    std::string why = WhyNotAccepted(*worker, study->id(), study->spec());
    if (why.empty()) {
      study->set_accepting_workers(study->accepting_workers() + 1);
    } else if (reasons.size() < 3 &&
               std::find(reasons.begin(), reasons.end(), why) == reasons.end()) {
      reasons.push_back(std::move(why));
    }
  }
  if (study->live_workers() > 0 && study->accepting_workers() == 0) {
    std::sort(reasons.begin(), reasons.end());
    study->set_not_accepted(
        absl::StrCat("no live worker accepts this study's trials: ", absl::StrJoin(reasons, "; ")));
  }
}

void Coordinator::Seen(const std::string& worker_id) {
  absl::ReaderMutexLock lock(&workers_mu_);
  if (auto it = workers_.find(worker_id); it != workers_.end()) {
    it->second->last_seen_ms.store(options_.clock->NowMs(), std::memory_order_relaxed);
  }
}

absl::StatusOr<hpo::v1::AcquireTrialResponse> Coordinator::TryAcquire(
    const std::string& worker_id) {
  const StudyList studies = AllStudies();
  while (true) {
    // Fairness: the runnable study with the fewest busy slots, then the one served longest ago.
    // Read without any study's lock, so a study in the middle of a slow suggestion is no
    // obstacle to choosing another.
    StudyState* chosen = nullptr;
    {
      absl::ReaderMutexLock lock(&workers_mu_);
      auto worker = workers_.find(worker_id);
      for (const auto& study : studies) {
        if (!study->runnable() || study->busy() >= study->spec().budget().max_parallel()) continue;
        if (chosen != nullptr &&
            (study->busy() > chosen->busy() ||
             (study->busy() == chosen->busy() && study->last_served() >= chosen->last_served()))) {
          continue;
        }
        if (worker != workers_.end() &&
            !WhyNotAccepted(*worker->second, study->id(), study->spec()).empty()) {
          continue;
        }
        chosen = study.get();
      }
    }
    if (chosen == nullptr) return hpo::v1::AcquireTrialResponse();
    // Another acquire may have taken the last slot since: then choose again.
    if (!chosen->TryClaim(serve_counter_.fetch_add(1) + 1)) continue;
    HPO_ASSIGN_OR_RETURN(std::optional<hpo::v1::AcquireTrialResponse> leased,
                         chosen->LeaseClaimed(worker_id));
    if (leased.has_value()) return *std::move(leased);
  }
}

void Coordinator::MaybeSweepLeases() {
  const int64_t now = options_.clock->NowMs();
  int64_t next = next_sweep_ms_.load(std::memory_order_relaxed);
  if (now < next) return;
  const int64_t interval =
      std::clamp<int64_t>(absl::ToInt64Milliseconds(options_.lease_timeout) / 8, 1, 1000);
  if (!next_sweep_ms_.compare_exchange_strong(next, now + interval)) return;  // another sweeps
  for (const auto& study : AllStudies()) {
    auto lost = study->ExpireLeases(/*wait=*/false);
    if (!lost.ok()) {
      HPO_LOG(ERROR) << "expiring leases of study " << study->name() << ": " << lost.status();
    }
  }
}

absl::StatusOr<hpo::v1::AcquireTrialResponse> Coordinator::AcquireTrial(
    const std::string& worker_id, absl::Duration wait) {
  if (worker_id.empty()) return absl::InvalidArgumentError("worker_id: missing");
  // The wait is measured on the real clock: it bounds an RPC, not trial time.
  const absl::Time deadline = absl::Now() + std::max(wait, absl::ZeroDuration());
  Seen(worker_id);
  while (true) {
    HPO_RETURN_IF_ERROR(CheckOpen());
    uint64_t epoch = 0;
    {
      absl::MutexLock lock(&wake_mu_);
      epoch = work_epoch_;
    }
    MaybeSweepLeases();
    HPO_ASSIGN_OR_RETURN(hpo::v1::AcquireTrialResponse response, TryAcquire(worker_id));
    if (response.found() || absl::Now() >= deadline) return response;
    // Wait for a change since the pass began: a slot freed, a trial queued, a study created.
    absl::MutexLock lock(&wake_mu_);
    ++waiting_acquires_;
    while (work_epoch_ == epoch && !shutdown_.load(std::memory_order_acquire)) {
      if (work_available_.WaitWithDeadline(&wake_mu_, deadline)) break;  // timed out
    }
    --waiting_acquires_;
  }
}

absl::StatusOr<hpo::v1::ReportProgressResponse> Coordinator::ReportProgress(
    const hpo::v1::ReportProgressRequest& request) {
  HPO_ASSIGN_OR_RETURN(std::shared_ptr<StudyState> study, StudyOfTrial(request.trial_id()));
  HPO_ASSIGN_OR_RETURN(hpo::v1::ReportProgressResponse response, study->Report(request));
  Seen(request.worker_id());
  return response;
}

absl::StatusOr<Trial> Coordinator::CompleteTrial(const hpo::v1::CompleteTrialRequest& request) {
  const TrialState to = request.state();
  if (to != hpo::v1::COMPLETED && to != hpo::v1::PRUNED && to != hpo::v1::FAILED) {
    return absl::InvalidArgumentError(absl::StrCat(
        "state: a trial completes as COMPLETED, PRUNED or FAILED, not ", core::TrialStateName(to)));
  }
  HPO_ASSIGN_OR_RETURN(std::shared_ptr<StudyState> study, StudyOfTrial(request.trial_id()));
  return study->Complete(request);
}

absl::StatusOr<Trial> Coordinator::ReleaseTrial(const hpo::v1::ReleaseTrialRequest& request) {
  HPO_ASSIGN_OR_RETURN(std::shared_ptr<StudyState> study, StudyOfTrial(request.trial_id()));
  const std::string reason = request.reason().empty() ? "no reason given" : request.reason();
  HPO_ASSIGN_OR_RETURN(Trial released,
                       study->Release(request.trial_id(), request.worker_id(), reason));
  if (request.refused()) {
    // Not offered to this worker again until it registers anew (with another policy, maybe).
    absl::MutexLock lock(&workers_mu_);
    if (auto it = workers_.find(request.worker_id()); it != workers_.end()) {
      it->second->refused[study->id()] =
          absl::StrCat("worker ", request.worker_id(), " refused: ", reason);
    }
  }
  return released;
}

absl::StatusOr<hpo::v1::HeartbeatResponse> Coordinator::Heartbeat(
    const hpo::v1::HeartbeatRequest& request) {
  HPO_RETURN_IF_ERROR(CheckOpen());
  Seen(request.worker_id());
  hpo::v1::HeartbeatResponse response;
  const int64_t lease = options_.clock->NowMs() + absl::ToInt64Milliseconds(options_.lease_timeout);
  absl::flat_hash_set<int64_t> listed;
  for (int64_t id : request.running_trial_ids()) {
    listed.insert(id);
    auto study = StudyOfTrial(id);
    if (!study.ok() || !(*study)->ExtendLease(id, request.worker_id(), lease)) {
      response.add_stop_trial_ids(id);  // lost, finished, ended or unknown: let go
    }
  }
  // Leases the worker does not know it holds. A study busy right now is looked at by a later
  // heartbeat, so that this one does not wait on it.
  for (const auto& study : AllStudies()) {
    HPO_RETURN_IF_ERROR(
        study->ReleaseForgotten(request.worker_id(), listed, /*wait=*/false).status());
  }
  return response;
}

absl::StatusOr<int> Coordinator::ExpireLeases() {
  HPO_RETURN_IF_ERROR(CheckOpen());
  int lost = 0;
  for (const auto& study : AllStudies()) {
    HPO_ASSIGN_OR_RETURN(int n, study->ExpireLeases(/*wait=*/true));
    lost += n;
  }
  return lost;
}

int Coordinator::WaitingAcquires() {
  absl::MutexLock lock(&wake_mu_);
  return waiting_acquires_;
}

void Coordinator::Shutdown() {
  if (shutdown_.exchange(true)) return;
  for (const auto& study : AllStudies()) study->CloseWatches();
  WakeAcquirers();
}

}  // namespace hpo::server
