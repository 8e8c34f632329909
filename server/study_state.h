// One study's working state: its trials, counters, pending queue, best trial, optimizer, stopper
// and watches, behind the study's own lock.
#ifndef HPO_SERVER_STUDY_STATE_H_
#define HPO_SERVER_STUDY_STATE_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/clock.h"
#include "hpo/v1/hpo.pb.h"
#include "server/optimizers/optimizer.h"
#include "server/stoppers/early_stopper.h"
#include "server/study_view.h"
#include "server/study_watch.h"
#include "server/suggest_pool.h"
#include "storage/storage.h"

namespace hpo::server {

// What a study needs from the coordinator that holds it. The callbacks run with the study's lock
// held, so they may take only leaf locks (never a study's, never the coordinator's registry).
struct StudyContext {
  storage::Storage* storage = nullptr;
  core::Clock* clock = nullptr;
  absl::Duration lease_timeout = absl::Seconds(30);
  absl::Duration heartbeat_interval = absl::Seconds(5);
  // Where suggestions that are not cheap() run; null = on the caller's thread.
  SuggestPool* suggest_pool = nullptr;
  // CoordinatorOptions::keep_curves.
  bool keep_curves = true;
  // A trial was added to the study (routing of later calls by trial id).
  std::function<void(int64_t trial_id, int64_t study_id)> trial_added;
  // A trial may have become acquirable: a slot freed, a trial was queued.
  std::function<void()> work_available;
  // Fills in the study's live_workers, accepting_workers and not_accepted.
  std::function<void(hpo::v1::Study* study)> describe_workers;
};

struct TrialPage {
  std::vector<hpo::v1::Trial> trials;
  std::string next_page_token;  // empty on the last page
};

// Thread-safe. Every method takes the study's own lock, so one study's calls never wait on
// another's. Suggest runs under it (as Vizier's per-study lock does): a slow suggestion delays
// only its own study. Each transition is written to storage before memory changes, under that
// lock, so memory and database change in the same order.
//
// The scheduler reads busy(), runnable() and last_served() without the lock to choose a study,
// then claims a slot with TryClaim() and leases with LeaseClaimed(): a study in the middle of a
// long suggestion does not stall the choice.
class StudyState {
 public:
  // `study` as stored; `context` must outlive the state.
  StudyState(const hpo::v1::Study& study, std::unique_ptr<Optimizer> optimizer,
             std::unique_ptr<EarlyStopper> stopper, const StudyContext* context);

  StudyState(const StudyState&) = delete;
  StudyState& operator=(const StudyState&) = delete;

  int64_t id() const { return id_; }
  // The spec as created, read without the lock. Only budget.max_trials can change later
  // (Extend); the study reads its current value under the lock, and Snapshot() reports it.
  const hpo::v1::StudySpec& spec() const { return spec_; }
  const std::string& name() const { return spec_.name(); }

  // ---- building (before other threads see the study)
  // Adds the stored trials; RUNNING ones get at least `fresh_lease` (a restart is not their
  // workers' fault). `measurements` need only hold those of trials that keep their curve in
  // memory (NeedsCurvesAtLoad).
  void Load(std::vector<hpo::v1::Trial> trials,
            std::map<int64_t, std::vector<hpo::v1::Measurement>> measurements,
            int64_t fresh_lease_ms);
  // "none", "auto" or a list of study names: what the stopper wants to learn from.
  std::string WarmStartRequest();
  // Whether Load needs any measurements: false for an ended study whose trials are all over.
  static bool NeedsCurvesAtLoad(const hpo::v1::Study& study,
                                const std::vector<hpo::v1::Trial>& trials, bool keep_curves);
  // Hands the stopper the trials of earlier studies (name, trials).
  void WarmStart(const std::vector<std::pair<std::string, std::vector<hpo::v1::Trial>>>& sources);
  // The trials another study's stopper may learn from (ended ones, with measurements).
  std::vector<hpo::v1::Trial> EndedTrials();
  // COMPLETED trials with a finite value, without measurements (another study's warm start).
  std::vector<hpo::v1::Trial> CompletedTrials();
  // After the study is stored (CreateStudy): its id and times.
  void SetStored(const hpo::v1::Study& stored);
  // Completed trials of earlier studies (spec.optimizer.warm_start_from) that the optimizer sees
  // before the study's own history. Only those with a finite value and parameters that fit this
  // study's space are kept; returns how many.
  int SetOptimizerWarmStart(std::vector<hpo::v1::Trial> prior);

  // ---- StudyService
  hpo::v1::Study Snapshot();
  absl::StatusOr<hpo::v1::Study> Stop();
  // Trials with ids above `after_id` in id order, without measurements.
  TrialPage ListTrials(hpo::v1::TrialState state, int page_size, int64_t after_id);
  absl::StatusOr<hpo::v1::Trial> GetTrial(int64_t trial_id);
  absl::StatusOr<hpo::v1::Trial> Enqueue(const hpo::v1::ParamMap& params);
  absl::StatusOr<hpo::v1::Trial> Best();
  // Raises budget.max_trials (stored first); an ended study runs again, its curves read back.
  absl::StatusOr<hpo::v1::Study> Extend(int max_trials);
  // Adds a COMPLETED trial with a result obtained elsewhere, as the next number of the budget.
  absl::StatusOr<hpo::v1::Trial> AddCompleted(
      const hpo::v1::ParamMap& params,
      const google::protobuf::Map<std::string, double>& final_metrics);
  // Deletes the study from storage when it has ended and no trial of it runs; the state then
  // refuses everything. Returns the ids of its trials (attempts), for the caller's routing.
  absl::StatusOr<std::vector<int64_t>> Delete();
  std::shared_ptr<StudyWatch> Watch();
  // Closes every watch (shutdown).
  void CloseWatches();

  // ---- scheduling
  // Slots taken: RUNNING trials plus claims not yet turned into leases.
  int busy() const { return busy_.load(std::memory_order_acquire); }
  // RUNNING, with a pending trial or budget left (as of the last change).
  bool runnable() const { return runnable_.load(std::memory_order_acquire); }
  uint64_t last_served() const { return last_served_.load(std::memory_order_relaxed); }
  // Takes a parallel slot if the study is runnable and below max_parallel; `serve` orders it for
  // fairness. Every successful claim is followed by exactly one LeaseClaimed.
  bool TryClaim(uint64_t serve);
  // Gives up the claim and leases a trial (a pending one first, else a new suggestion) to the
  // worker, for `lease` (default the context's lease_timeout). nullopt when the study has nothing
  // to run after all (another claim took it).
  absl::StatusOr<std::optional<hpo::v1::AcquireTrialResponse>> LeaseClaimed(
      const std::string& worker_id, std::optional<absl::Duration> lease = std::nullopt);

  // ---- WorkerService (the trial must be leased to the request's worker)
  absl::StatusOr<hpo::v1::ReportProgressResponse> Report(
      const hpo::v1::ReportProgressRequest& request);
  absl::StatusOr<hpo::v1::Trial> Complete(const hpo::v1::CompleteTrialRequest& request);
  absl::StatusOr<hpo::v1::Trial> Release(int64_t trial_id, const std::string& worker_id,
                                         const std::string& reason);
  // Extends the lease of a trial the worker lists in its heartbeat. False when the worker should
  // let go of it (not leased to it, or the study has ended).
  bool ExtendLease(int64_t trial_id, const std::string& worker_id, int64_t lease_expire_ms);
  // Releases trials leased to `worker_id` more than two heartbeat intervals ago that it did not
  // list. With `wait` false, returns 0 at once when the study is busy (a later heartbeat will
  // see them).
  absl::StatusOr<int> ReleaseForgotten(const std::string& worker_id,
                                       const absl::flat_hash_set<int64_t>& listed, bool wait);
  // RUNNING trials whose lease passed become LOST (with a retry when allowed). Returns how many.
  // With `wait` false, returns 0 at once when the study is busy.
  absl::StatusOr<int> ExpireLeases(bool wait);

 private:
  absl::StatusOr<int> ExpireLeasesLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<int> ReleaseForgottenLocked(const std::string& worker_id,
                                             const absl::flat_hash_set<int64_t>& listed)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  hpo::v1::Study SnapshotLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  StudyView ViewLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  hpo::v1::Trial* FindLocked(int64_t trial_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The trial leased to `worker_id`; FAILED_PRECONDITION when it is not.
  absl::StatusOr<hpo::v1::Trial*> LeasedLocked(int64_t trial_id, const std::string& worker_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // FAILED_PRECONDITION unless the study runs and has a number of its budget left.
  absl::Status CheckBudgetLeftLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A first attempt of `number`, not yet stored.
  hpo::v1::Trial NewTrialLocked(int number, hpo::v1::ParamMap params, hpo::v1::TrialState state,
                                int64_t now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Stores a new trial, then adds it to memory, the counters and the watches' events.
  absl::StatusOr<hpo::v1::Trial*> InsertLocked(const hpo::v1::Trial& trial)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Adds a trial (already stored) to memory and the counters.
  void AddLocked(hpo::v1::Trial trial) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A stored trial's state went from `from` to trial.state(): counters, best and events follow.
  void TransitionLocked(hpo::v1::Trial& trial, hpo::v1::TrialState from)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status ReleaseLocked(hpo::v1::Trial& trial, absl::string_view reason)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends the study when every number has a final attempt.
  void MaybeFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EmitLocked(hpo::v1::StudyEvent::Kind kind, const hpo::v1::Trial* trial)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool HasWorkLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Refreshes runnable_ after a change.
  void PublishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A copy of the trial without its measurements (cheap: they are not copied and dropped).
  static hpo::v1::Trial Summary(hpo::v1::Trial& trial);
  // Curves in memory: a trial's measurements are kept while its study runs or while the trial
  // itself is not over (and not at all without StudyContext::keep_curves). A finished trial of an
  // ended study (the bulk of a large history) keeps none; they are read from storage when asked
  // for.
  bool CurveInMemoryLocked(const hpo::v1::Trial& trial) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Frees the measurements of the trials that no longer keep them in memory.
  void DropEndedCurvesLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The trial with its measurements, read from storage when memory no longer has them.
  absl::StatusOr<hpo::v1::Trial> WithCurveLocked(hpo::v1::Trial& trial)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  int64_t id_;  // set before the study is shared (SetStored), then read-only
  const hpo::v1::StudySpec spec_;
  const StudyContext* const context_;

  std::atomic<int> busy_{0};
  std::atomic<bool> runnable_{false};
  std::atomic<uint64_t> last_served_{0};

  absl::Mutex mu_;
  hpo::v1::Study study_ ABSL_GUARDED_BY(mu_);  // state and times (counts filled on read)
  std::vector<hpo::v1::Trial> trials_ ABSL_GUARDED_BY(mu_);          // every attempt, id order
  absl::flat_hash_map<int64_t, size_t> index_ ABSL_GUARDED_BY(mu_);  // id -> position
  absl::flat_hash_set<int64_t> running_ ABSL_GUARDED_BY(mu_);
  std::deque<int64_t> pending_ ABSL_GUARDED_BY(mu_);  // FIFO
  hpo::v1::TrialCounts counts_ ABSL_GUARDED_BY(mu_);
  int next_number_ ABSL_GUARDED_BY(mu_) = 0;       // numbers handed out so far
  int finished_numbers_ ABSL_GUARDED_BY(mu_) = 0;  // numbers whose last attempt is final
  int best_ ABSL_GUARDED_BY(mu_) = -1;             // position of the best COMPLETED trial
  int max_trials_ ABSL_GUARDED_BY(mu_) = 0;        // budget.max_trials now (Extend raises it)
  bool deleted_ ABSL_GUARDED_BY(mu_) = false;
  // The optimizer's warm start: other studies' completed trials (SetOptimizerWarmStart).
  std::vector<hpo::v1::Trial> prior_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<Optimizer> optimizer_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<EarlyStopper> stopper_ ABSL_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<StudyWatch>> watches_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> warm_start_studies_ ABSL_GUARDED_BY(mu_);
  int warm_start_curves_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace hpo::server

#endif  // HPO_SERVER_STUDY_STATE_H_
