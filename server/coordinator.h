// The gRPC-free heart of the coordinator: studies, the trial life cycle, leases, scheduling.
#ifndef HPO_SERVER_COORDINATOR_H_
#define HPO_SERVER_COORDINATOR_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
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
#include "storage/storage.h"

namespace hpo::server {

// A subscription to one study's events (first a SNAPSHOT, then TRIAL_UPDATED per state change,
// last STUDY_ENDED). Thread-safe. Events beyond kMaxQueued are dropped, oldest first.
class StudyWatch {
 public:
  static constexpr size_t kMaxQueued = 10000;

  // Waits for the next event until `deadline`. False when the deadline passed with no event, or
  // when the watch is closed and drained.
  bool Next(hpo::v1::StudyEvent* event, absl::Time deadline);
  bool closed() const;

  void Push(hpo::v1::StudyEvent event);
  void Close();

 private:
  mutable absl::Mutex mu_;
  std::deque<hpo::v1::StudyEvent> queue_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

struct CoordinatorOptions {
  // A RUNNING trial whose worker neither reports nor heartbeats for this long becomes LOST.
  absl::Duration lease_timeout = absl::Seconds(30);
  // Told to workers: how often to heartbeat (well inside lease_timeout).
  absl::Duration heartbeat_interval = absl::Seconds(5);
  // After a restart, a trial that was RUNNING gets at least this long (or lease_timeout, if
  // longer) to be heard from: its worker has to notice the outage and reconnect, with a retry
  // backoff of up to 5 s by default, and a short lease would call it LOST first.
  absl::Duration restart_grace = absl::Seconds(15);
  core::Clock* clock = core::Clock::Real();
  // Makes each study's stopper; empty = MakeEarlyStopper. A benchmark injects one whose model
  // fits are awaited, so that its runs are deterministic.
  std::function<absl::StatusOr<std::unique_ptr<EarlyStopper>>(const hpo::v1::EarlyStoppingSpec&)>
      stopper_factory;
  // Makes each study's optimizer; empty = MakeOptimizer (the registry). A test hands in a fake.
  OptimizerFactory optimizer_factory;
};

// Owns every study's working state in memory, written through to Storage: each trial transition
// is one storage transaction made before the in-memory state changes, so a restart on the same
// database resumes exactly. Reads are served from memory.
//
// Thread-safe. One mutex guards the state; it is held across the (local, short) SQLite write of
// a transition so memory and database change in the same order, but never across a long-poll
// wait, an RPC or a process wait.
class Coordinator {
 public:
  // Loads every study from `storage` (not owned; must outlive the coordinator). RUNNING trials
  // get a fresh lease, since the coordinator's downtime is not their workers' fault. Loading
  // writes nothing.
  static absl::StatusOr<std::unique_ptr<Coordinator>> Create(storage::Storage* storage,
                                                             const CoordinatorOptions& options);
  ~Coordinator();

  Coordinator(const Coordinator&) = delete;
  Coordinator& operator=(const Coordinator&) = delete;

  // ---- studies (StudyService)
  absl::StatusOr<hpo::v1::Study> CreateStudy(const hpo::v1::StudySpec& spec);
  absl::StatusOr<hpo::v1::Study> GetStudy(absl::string_view name);
  std::vector<hpo::v1::Study> ListStudies();
  // Marks the study STOPPED: pending trials fail, running trials are told STOP at their next
  // report or heartbeat. Stopping a study that has ended is FAILED_PRECONDITION.
  absl::StatusOr<hpo::v1::Study> StopStudy(absl::string_view name);

  struct TrialPage {
    std::vector<hpo::v1::Trial> trials;
    std::string next_page_token;  // empty on the last page
  };
  // Trials in id order; page_size 0 means 1000; the token is the one a previous page returned.
  absl::StatusOr<TrialPage> ListTrials(absl::string_view study, hpo::v1::TrialState state,
                                       int page_size, absl::string_view page_token);
  // With measurements.
  absl::StatusOr<hpo::v1::Trial> GetTrial(int64_t trial_id);
  // Adds a PENDING trial with the user's parameters; it counts towards max_trials.
  absl::StatusOr<hpo::v1::Trial> EnqueueTrial(absl::string_view study,
                                              const hpo::v1::ParamMap& params);
  // The best COMPLETED trial; NOT_FOUND when there is none yet.
  absl::StatusOr<hpo::v1::Trial> GetBestTrial(absl::string_view study);
  absl::StatusOr<std::shared_ptr<StudyWatch>> Watch(absl::string_view study);

  // ---- workers (WorkerService)
  absl::StatusOr<hpo::v1::RegisterWorkerResponse> RegisterWorker(
      const hpo::v1::RegisterWorkerRequest& request);
  // Leases a trial to the worker, waiting up to `wait` for one. found=false when none came.
  absl::StatusOr<hpo::v1::AcquireTrialResponse> AcquireTrial(const std::string& worker_id,
                                                             absl::Duration wait);
  absl::StatusOr<hpo::v1::ReportProgressResponse> ReportProgress(
      const hpo::v1::ReportProgressRequest& request);
  absl::StatusOr<hpo::v1::Trial> CompleteTrial(const hpo::v1::CompleteTrialRequest& request);
  // Gives a leased trial back: PENDING again, same attempt, its measurements dropped, so it runs
  // afresh on some worker without using up a retry.
  absl::StatusOr<hpo::v1::Trial> ReleaseTrial(const hpo::v1::ReleaseTrialRequest& request);
  // Extends the leases of the listed trials. Trials leased to this worker more than two heartbeat
  // intervals ago that it does not list are released: the worker never got them (a lost
  // AcquireTrial answer) or has forgotten them.
  absl::StatusOr<hpo::v1::HeartbeatResponse> Heartbeat(const hpo::v1::HeartbeatRequest& request);

  // Turns RUNNING trials whose lease has passed into LOST, with a retry when the study allows.
  // Returns how many were lost. Called by AcquireTrial and by the server's reaper.
  absl::StatusOr<int> ExpireLeases();

  // Wakes every waiting AcquireTrial and closes every watch; later calls fail UNAVAILABLE.
  void Shutdown();

  // How many AcquireTrial calls are waiting for work right now (for monitoring and tests).
  int WaitingAcquires();

 private:
  struct StudyEntry {
    hpo::v1::Study study;                        // without counts/best (filled on read)
    std::vector<hpo::v1::Trial> trials;          // every attempt, id order, with measurements
    absl::flat_hash_map<int64_t, size_t> index;  // trial id -> position in `trials`
    absl::flat_hash_set<int64_t> running;        // ids of RUNNING trials
    std::deque<int64_t> pending;                 // ids of PENDING trials, FIFO
    hpo::v1::TrialCounts counts;
    int next_number = 0;       // numbers handed out so far
    int finished_numbers = 0;  // numbers whose last attempt is final
    int best = -1;             // position of the best COMPLETED trial
    uint64_t last_served = 0;  // for fairness between studies
    std::unique_ptr<Optimizer> optimizer;
    std::unique_ptr<EarlyStopper> stopper;
    std::vector<std::shared_ptr<StudyWatch>> watches;
    std::vector<std::string> warm_start_studies;  // what the stopper learned from
    int warm_start_curves = 0;
  };

  // A worker as it registered: what it accepts, when it was last heard from, and the studies
  // whose trials it gave back refused (study id -> its reason).
  struct WorkerEntry {
    hpo::v1::RegisterWorkerRequest policy;
    int64_t last_seen_ms = 0;
    absl::flat_hash_map<int64_t, std::string> refused;
  };

  Coordinator(storage::Storage* storage, const CoordinatorOptions& options)
      : storage_(storage), options_(options) {}

  absl::Status Load();
  absl::StatusOr<std::unique_ptr<StudyEntry>> MakeEntry(const hpo::v1::Study& study);
  // Hands the stopper of `entry` (a study not yet in studies_) the trials of the earlier studies
  // it asks for (EarlyStopper::warm_start). With `strict`, a named study that does not exist or
  // ran another task or space is INVALID_ARGUMENT naming it; otherwise it is skipped, logged.
  absl::Status WarmStartLocked(StudyEntry& entry, bool strict) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  StudyEntry* FindStudyLocked(absl::string_view name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<StudyEntry*> StudyOrError(absl::string_view name)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Finds a trial leased to `worker_id`; FAILED_PRECONDITION when it is not.
  absl::StatusOr<std::pair<StudyEntry*, hpo::v1::Trial*>> LeasedTrialLocked(
      int64_t trial_id, const std::string& worker_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  hpo::v1::Study StudySnapshotLocked(const StudyEntry& entry) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static StudyView ViewOf(const StudyEntry& entry);

  // Adds a trial (already stored) to the cache and its counters.
  void AddTrialLocked(StudyEntry& entry, hpo::v1::Trial trial) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Moves a cached trial to `to` (already stored), updating counters, best and events.
  void OnTransitionLocked(StudyEntry& entry, hpo::v1::Trial& trial, hpo::v1::TrialState from)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends the study when every number has a final attempt.
  void MaybeFinishStudyLocked(StudyEntry& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EmitLocked(StudyEntry& entry, hpo::v1::StudyEvent::Kind kind, const hpo::v1::Trial* trial)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::StatusOr<int> ExpireLeasesLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status ReleaseLocked(StudyEntry& entry, hpo::v1::Trial& trial, absl::string_view reason)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Leases a trial of some study to the worker if one can run now; nullopt-like found=false.
  absl::StatusOr<hpo::v1::AcquireTrialResponse> TryAcquireLocked(const std::string& worker_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool CanRunLocked(const StudyEntry& entry) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Why `worker` will not run trials of `entry`'s study; "" when it will.
  static std::string WhyNotAcceptedLocked(const WorkerEntry& worker, const StudyEntry& entry);
  // Notes that `worker_id` was heard from now (a worker that never registered is not tracked).
  void SeenLocked(const std::string& worker_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  storage::Storage* const storage_;
  const CoordinatorOptions options_;

  absl::Mutex mu_;
  absl::CondVar work_available_;  // signalled when a trial may have become acquirable
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t serve_counter_ ABSL_GUARDED_BY(mu_) = 0;
  int waiting_acquires_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<int64_t, std::unique_ptr<StudyEntry>> studies_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, int64_t> study_by_name_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<int64_t, int64_t> study_of_trial_ ABSL_GUARDED_BY(mu_);
  // Registered workers (in memory: after a restart, workers register again when their calls
  // fail). A worker that calls without registering is offered every study's trials.
  absl::flat_hash_map<std::string, WorkerEntry> workers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hpo::server

#endif  // HPO_SERVER_COORDINATOR_H_
