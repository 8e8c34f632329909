// The worker daemon: registers with the coordinator, pulls trials into its slots, runs each with
// a TrialRunner while streaming progress, completes them, and heartbeats the ones it holds.
#ifndef HPO_WORKER_WORKER_H_
#define HPO_WORKER_WORKER_H_

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "auth/grpc_security.h"
#include "hpo/v1/hpo.grpc.pb.h"
#include "hpo/v1/hpo.pb.h"
#include "metrics/http_server.h"
#include "metrics/registry.h"
#include "worker/gpu_monitor.h"
#include "worker/trial_runner.h"

namespace grpc {
class ClientContext;
}  // namespace grpc

namespace hpo::worker {

// Parses a --gpus value: "auto" (the indices nvidia-smi lists, none when it is missing or
// fails), "none" or "" (no GPUs), or a comma list such as "0,1". INVALID_ARGUMENT for an empty
// item in a list.
absl::StatusOr<std::vector<std::string>> ParseGpus(const std::string& flag);

// GPUs per slot: with n GPUs and s slots, slot i gets {gpus[j] : j % s == i} when n >= s
// (one or more each), gpus[i % n] when 0 < n < s (shared), and none when n == 0.
std::vector<std::vector<std::string>> AssignGpus(const std::vector<std::string>& gpus, int slots);

// The number of slots from the flags: `slots` (--slots) when slots_per_gpu (--slots-per-gpu)
// is 0; else slots_per_gpu x the number of GPUs, each GPU shared by slots_per_gpu trials
// (AssignGpus deals slot i GPU i % n). INVALID_ARGUMENT when slots_per_gpu < 0, when it is set
// with no GPUs, or when both flags are given (`slots_given`): they would disagree.
absl::StatusOr<int> ResolveSlots(int slots, bool slots_given, int slots_per_gpu, size_t gpus);

// Thread-safe: Start, Drain, Stop and Wait may be called from any thread.
class Worker {
 public:
  struct Options {
    std::string coordinator;        // host:port
    auth::ClientSecurity security;  // the worker token and TLS files
    int slots = 1;                  // trials run at once
    std::vector<std::string> gpus;  // see AssignGpus
    std::string worker_id;          // default hostname-pid
    // What the worker runs (core/worker_policy.h), told to the coordinator when it registers
    // and checked again before each trial: built-in tasks always; commands whose argv[0]
    // resolves under one of `allow_commands` (each must exist), or any with allow_any_command;
    // only the studies in `studies`, or every study when it is empty.
    std::vector<std::string> allow_commands;
    bool allow_any_command = false;
    std::vector<std::string> studies;
    // For batch schedulers: after `max_trials` trials (0: no limit), or once no trial has run
    // for `exit_when_idle` (zero: never; checked at each heartbeat), the worker drains and
    // Wait returns.
    int max_trials = 0;
    absl::Duration exit_when_idle = absl::ZeroDuration();
    // Serve GET /metrics and /healthz over HTTP here (host:port); empty: not.
    std::string metrics_listen;
    std::string hpo_task_path = "hpo-task";
    std::string log_dir;  // trial logs go here (created); empty = no trial logs
    // Trial directories (HPO_TRIAL_DIR, kept across attempts for checkpoints) go under this
    // (created, made absolute) unless a study names its own task.trial_dir_root; see
    // TrialRunner::TrialDir. Empty = no HPO_TRIAL_DIR for such studies.
    std::string trial_dir_root;
    absl::Duration acquire_wait = absl::Seconds(5);  // AcquireTrial long-poll
    absl::Duration kill_grace = absl::Seconds(5);    // SIGTERM -> SIGKILL
    // At most one ReportProgress per trial per this interval; see
    // TrialRunnerOptions::report_interval.
    absl::Duration report_interval = absl::Milliseconds(200);
    // With GPUs: how often nvidia-smi is polled for the running trials' GPU use (sent with
    // each result as Trial.gpu_usage) and the GPUs' health (GpuMonitor: a GPU gone, or
    // nvidia-smi failing, twice in a row drains the worker, saying why). Zero: not polled.
    absl::Duration gpu_poll_interval = absl::Seconds(2);
    std::string nvidia_smi = "nvidia-smi";
    // Timeout of each short RPC (an AcquireTrial gets acquire_wait on top).
    absl::Duration rpc_timeout = absl::Seconds(10);
    // Retry backoff on UNAVAILABLE: initial, doubled up to max.
    absl::Duration initial_backoff = absl::Milliseconds(100);
    absl::Duration max_backoff = absl::Seconds(5);
    // How long a trial's completion (or, on Stop, its release) is retried before it is given up.
    absl::Duration complete_deadline = absl::Minutes(5);
  };

  // INVALID_ARGUMENT for a bad option (a TLS file that cannot be read included); the
  // coordinator is not contacted yet.
  static absl::StatusOr<std::unique_ptr<Worker>> Create(Options options);
  ~Worker();  // Stop() and Wait()

  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Starts the slot threads and the heartbeat thread. FAILED_PRECONDITION when called twice.
  absl::Status Start();
  // Stops taking trials; running trials finish and complete, then Wait returns.
  void Drain();
  // Like Drain, but kills the running trials' processes and gives those trials back to the
  // coordinator (ReleaseTrial: PENDING again, same attempt, no retry used up), retrying an
  // unreachable coordinator for up to complete_deadline. A trial whose process had already
  // ended completes with its result.
  void Stop();
  // Blocks until every slot has ended (after Drain or Stop).
  void Wait();

  const std::string& worker_id() const { return options_.worker_id; }
  // The port /metrics is served on (0 when not).
  int metrics_port() const { return metrics_server_ ? metrics_server_->port() : 0; }
  // Why the worker's GPUs were found unhealthy (and it drained); empty while they are fine or
  // not polled.
  std::string gpu_problem() const { return gpu_monitor_ ? gpu_monitor_->unhealthy() : ""; }

 private:
  class Sink;

  Worker(Options options, std::shared_ptr<grpc::Channel> channel);

  void SlotLoop(int slot);
  void HeartbeatLoop();
  void RunTrial(int slot, const hpo::v1::AcquireTrialResponse& acquired);
  // Reports a result, retrying UNAVAILABLE and DEADLINE_EXCEEDED within complete_deadline. A
  // result refused for another reason than a lost lease (FAILED_PRECONDITION, NOT_FOUND) is
  // replaced, when `fallback`, by one FAILED "coordinator refused the result: <message>"
  // without metrics, so that the trial ends rather than waiting for its lease to expire.
  void CompleteTrial(const hpo::v1::CompleteTrialRequest& request, bool fallback = true);
  // Gives a held trial back (ReleaseTrial), retrying UNAVAILABLE within complete_deadline;
  // `refused`: this worker will not run the study's trials (its policy).
  void ReleaseTrial(int64_t trial_id, const std::string& reason, bool refused = false);
  // Registers if not registered since the last UNAVAILABLE; false when told to stop first.
  bool EnsureRegistered(bool wake_on_drain);
  // Called on an UNAVAILABLE reply: the coordinator may have restarted.
  void MarkDisconnected();
  // Sleeps `d` unless stopping (or draining, when wake_on_drain) first; false when woken so.
  bool Sleep(absl::Duration d, bool wake_on_drain);
  bool draining() const;
  // Drain's work, logging `why` the first time.
  void DrainLocked(absl::string_view why) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool stopping() const;
  std::unique_ptr<grpc::ClientContext> MakeContext(absl::Duration timeout) const;

  // Gauges read at each scrape.
  void AddCollectors();

  Options options_;
  metrics::Registry registry_;
  std::unique_ptr<metrics::MetricsServer> metrics_server_;
  // options_'s policy as RegisterWorker sends it (canonical prefixes).
  hpo::v1::RegisterWorkerRequest policy_;
  std::vector<std::vector<std::string>> slot_gpus_;
  std::unique_ptr<GpuMonitor> gpu_monitor_;  // set by Start when there are GPUs to poll
  std::unique_ptr<hpo::v1::WorkerService::Stub> stub_;
  std::atomic<bool> registered_{false};
  // One registration at a time: slots that find the worker unregistered wait for the one that
  // registers it, instead of each sending its own RegisterWorker.
  absl::Mutex register_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  std::atomic<int64_t> heartbeat_interval_ms_{5000};

  mutable absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int slots_running_ ABSL_GUARDED_BY(mu_) = 0;
  int trials_taken_ ABSL_GUARDED_BY(mu_) = 0;        // toward max_trials
  int acquires_in_flight_ ABSL_GUARDED_BY(mu_) = 0;  // each may take one more
  absl::Time idle_since_ ABSL_GUARDED_BY(mu_);       // when held_ last became empty
  // The trials this worker holds, listed in every heartbeat: from AcquireTrial's answer until
  // their CompleteTrial (or release) succeeded or was given up. trial id -> its runner, null
  // until the run starts; the runner outlives its entry.
  std::map<int64_t, TrialRunner*> held_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<grpc::ClientContext*> acquiring_ ABSL_GUARDED_BY(mu_);

  absl::Mutex join_mu_;  // serializes Wait
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(join_mu_);
};

}  // namespace hpo::worker

#endif  // HPO_WORKER_WORKER_H_
