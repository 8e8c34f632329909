// The gRPC-free heart of the coordinator: studies, the trial life cycle, leases, scheduling.
#ifndef HPO_SERVER_COORDINATOR_H_
#define HPO_SERVER_COORDINATOR_H_

#include <atomic>
#include <cstdint>
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
#include "server/study_state.h"
#include "server/study_watch.h"
#include "server/suggest_pool.h"
#include "storage/storage.h"

namespace hpo::server {

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
  // False for a coordinator that serves no workers (the CLI's embedded one over --db): it loads
  // no curve and reads each from storage when asked, since no stopper will judge a report.
  bool keep_curves = true;
};

// Owns every study's working state in memory, written through to Storage: each trial transition
// is one storage transaction made before the in-memory state changes, so a restart on the same
// database resumes exactly. Reads are served from memory.
//
// Thread-safe. Each study lives in a StudyState behind its own lock, so a slow call on one study
// (a GP suggestion, a model fit) never holds up another study's acquire, report or heartbeat.
// The Coordinator itself only routes (by study name and trial id), keeps the registered workers,
// chooses among studies fairly and wakes long polls. Lock order: mu_ (the registry, held only to
// find studies, never while a study is locked by this thread) before any StudyState's lock,
// before the leaf locks workers_mu_, trials_mu_ and wake_mu_; none is held across a long-poll
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

  using TrialPage = server::TrialPage;
  // Trials in id order; page_size 0 means 1000; the token is the one a previous page returned.
  absl::StatusOr<TrialPage> ListTrials(absl::string_view study, hpo::v1::TrialState state,
                                       int page_size, absl::string_view page_token);
  // With measurements.
  absl::StatusOr<hpo::v1::Trial> GetTrial(int64_t trial_id);
  // Every curve of a study, by trial id, in one read of storage (the dashboard's trials).
  absl::StatusOr<std::map<int64_t, std::vector<hpo::v1::Measurement>>> StudyCurves(
      absl::string_view study);
  // Adds a PENDING trial with the user's parameters; it counts towards max_trials.
  absl::StatusOr<hpo::v1::Trial> EnqueueTrial(absl::string_view study,
                                              const hpo::v1::ParamMap& params);
  // The best COMPLETED trial; NOT_FOUND when there is none yet.
  absl::StatusOr<hpo::v1::Trial> GetBestTrial(absl::string_view study);
  absl::StatusOr<std::shared_ptr<StudyWatch>> Watch(absl::string_view study);
  // Deletes an ended study with no running trial, and its history (DeleteStudyRequest).
  absl::StatusOr<hpo::v1::DeleteStudyResponse> DeleteStudy(absl::string_view name);
  // Raises max_trials; an ended study runs again (ExtendStudyRequest).
  absl::StatusOr<hpo::v1::Study> ExtendStudy(absl::string_view name, int max_trials);
  // A COMPLETED trial with a result from elsewhere (AddTrialRequest).
  absl::StatusOr<hpo::v1::Trial> AddTrial(const hpo::v1::AddTrialRequest& request);
  // Ask/tell (see AskTrialRequest): leases the study's next trial to "ask:<client_id>" for
  // `lease_s` seconds. RESOURCE_EXHAUSTED when max_parallel trials are running,
  // FAILED_PRECONDITION when the study has ended or handed out its whole budget.
  absl::StatusOr<hpo::v1::Trial> AskTrial(const hpo::v1::AskTrialRequest& request);
  // The result of an asked trial: CompleteTrial, for owners "ask:..." only.
  absl::StatusOr<hpo::v1::Trial> TellTrial(const hpo::v1::CompleteTrialRequest& request);

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
  // Returns how many were lost. Called by the server's reaper; AcquireTrial also sweeps, now and
  // then, skipping studies busy at that moment.
  absl::StatusOr<int> ExpireLeases();

  // Wakes every waiting AcquireTrial and closes every watch; later calls fail UNAVAILABLE.
  void Shutdown();

  // How many AcquireTrial calls are waiting for work right now (for monitoring and tests).
  int WaitingAcquires();

 private:
  // A worker as it registered: what it accepts, when it was last heard from, and the studies
  // whose trials it gave back refused (study id -> its reason).
  struct WorkerEntry {
    hpo::v1::RegisterWorkerRequest policy;
    std::atomic<int64_t> last_seen_ms{0};
    absl::flat_hash_map<int64_t, std::string> refused;
  };
  using StudyList = std::vector<std::shared_ptr<StudyState>>;

  Coordinator(storage::Storage* storage, const CoordinatorOptions& options);

  absl::Status Load();
  absl::StatusOr<std::shared_ptr<StudyState>> MakeStudy(const hpo::v1::Study& study);
  // Hands the stopper of `study` (not yet registered) the trials of the earlier studies it asks
  // for (EarlyStopper::warm_start). With `strict`, a named study that does not exist or ran
  // another task or space is INVALID_ARGUMENT naming it; otherwise it is skipped, logged.
  absl::Status WarmStart(StudyState& study, bool strict);
  // The optimizer's warm start (spec.optimizer.warm_start_from) and the stopper's (its
  // warm_start option). `strict` (at creation): a source that does not apply is an error;
  // otherwise (at load) it is skipped with a warning.
  absl::Status WarmStartOptimizer(StudyState& study, bool strict);
  absl::Status WarmStartStopper(StudyState& study, bool strict);

  absl::Status CheckOpen() const;
  std::shared_ptr<StudyState> FindStudy(absl::string_view name);
  absl::StatusOr<std::shared_ptr<StudyState>> StudyOrError(absl::string_view name);
  absl::StatusOr<std::shared_ptr<StudyState>> StudyOfTrial(int64_t trial_id);
  StudyList AllStudies();

  // One pass over the studies: claims a slot in the fairest runnable study the worker accepts
  // and leases from it. found=false when none can run now.
  absl::StatusOr<hpo::v1::AcquireTrialResponse> TryAcquire(const std::string& worker_id);
  // ExpireLeases for AcquireTrial: at most every sweep interval, without waiting on busy studies.
  void MaybeSweepLeases();
  void WakeAcquirers();
  // Why `worker` will not run trials of the study; "" when it will.
  static std::string WhyNotAccepted(const WorkerEntry& worker, int64_t study_id,
                                    const hpo::v1::StudySpec& spec);
  // Fills in a study snapshot's live_workers, accepting_workers and not_accepted.
  void DescribeWorkers(hpo::v1::Study* study);
  // Notes that `worker_id` was heard from now (a worker that never registered is not tracked).
  void Seen(const std::string& worker_id);

  storage::Storage* const storage_;
  const CoordinatorOptions options_;
  // Model-based suggestions run here, below the RPC threads' priority (see SuggestPool).
  std::unique_ptr<SuggestPool> suggest_pool_;
  StudyContext context_;  // set in the constructor, then read-only
  std::atomic<bool> shutdown_{false};
  std::atomic<uint64_t> serve_counter_{0};
  std::atomic<int64_t> next_sweep_ms_{0};

  absl::Mutex mu_;  // the registry
  std::map<int64_t, std::shared_ptr<StudyState>> studies_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, int64_t> study_by_name_ ABSL_GUARDED_BY(mu_);

  absl::Mutex trials_mu_;  // leaf
  absl::flat_hash_map<int64_t, int64_t> study_of_trial_ ABSL_GUARDED_BY(trials_mu_);

  // Registered workers (in memory: after a restart, workers register again when their calls
  // fail). A worker that calls without registering is offered every study's trials.
  absl::Mutex workers_mu_;  // leaf
  absl::flat_hash_map<std::string, std::unique_ptr<WorkerEntry>> workers_
      ABSL_GUARDED_BY(workers_mu_);

  absl::Mutex wake_mu_;           // leaf
  absl::CondVar work_available_;  // with wake_mu_: work_epoch_ moved
  uint64_t work_epoch_ ABSL_GUARDED_BY(wake_mu_) = 0;
  int waiting_acquires_ ABSL_GUARDED_BY(wake_mu_) = 0;
};

}  // namespace hpo::server

#endif  // HPO_SERVER_COORDINATOR_H_
