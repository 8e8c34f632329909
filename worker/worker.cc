#include "worker/worker.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <optional>
#include <random>
#include <system_error>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "core/logging.h"
#include "core/trial_states.h"
#include "grpcpp/grpcpp.h"
#include "proto/status_convert.h"
#include "worker/command_policy.h"
#include "worker/process.h"

namespace hpo::worker {
namespace {

// Exponential backoff: initial, doubled each time, capped.
class Backoff {
 public:
  Backoff(absl::Duration initial, absl::Duration max)
      : initial_(initial), max_(max), next_(initial) {}
  absl::Duration Next() {
    const absl::Duration d = next_;
    next_ = std::min(next_ * 2, max_);
    return d;
  }
  void Reset() { next_ = initial_; }

 private:
  absl::Duration initial_, max_, next_;
};

std::string Hostname() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof(buf) - 1) != 0) return "localhost";
  return buf;
}

std::string NewRequestId(const std::string& worker_id, int64_t trial_id) {
  thread_local std::mt19937_64 rng(std::random_device{}() ^
                                   static_cast<uint64_t>(absl::GetCurrentTimeNanos()));
  return absl::StrFormat("%s-%d-%016x", worker_id, trial_id, rng());
}

std::vector<std::string> DetectGpus() {
  absl::StatusOr<std::string> out =
      RunNvidiaSmi("nvidia-smi", {"--query-gpu=index", "--format=csv,noheader"});
  if (!out.ok()) {
    HPO_LOG(INFO) << "no GPUs: " << out.status().message();
    return {};
  }
  std::vector<std::string> gpus;
  for (absl::string_view line : absl::StrSplit(*out, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (!line.empty()) gpus.emplace_back(line);
  }
  return gpus;
}

bool IsRetryable(absl::StatusCode code) { return code == absl::StatusCode::kUnavailable; }

// Why Stop cancels trials; they are released, not failed.
constexpr char kStopReason[] = "worker stopping";

}  // namespace

absl::StatusOr<std::vector<std::string>> ParseGpus(const std::string& flag) {
  const std::string value(absl::StripAsciiWhitespace(flag));
  if (value == "auto") return DetectGpus();
  if (value.empty() || value == "none") return std::vector<std::string>();
  std::vector<std::string> gpus;
  for (absl::string_view item : absl::StrSplit(value, ',')) {
    item = absl::StripAsciiWhitespace(item);
    if (item.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--gpus: empty item in '", flag, "' (use auto, none or a list like 0,1)"));
    }
    gpus.emplace_back(item);
  }
  return gpus;
}

std::vector<std::vector<std::string>> AssignGpus(const std::vector<std::string>& gpus, int slots) {
  std::vector<std::vector<std::string>> assigned(std::max(slots, 0));
  const int n = static_cast<int>(gpus.size());
  if (n == 0 || slots <= 0) return assigned;
  if (n >= slots) {
    for (int j = 0; j < n; ++j) assigned[j % slots].push_back(gpus[j]);
  } else {
    for (int i = 0; i < slots; ++i) assigned[i].push_back(gpus[i % n]);
  }
  return assigned;
}

absl::StatusOr<int> ResolveSlots(int slots, bool slots_given, int slots_per_gpu, size_t gpus) {
  if (slots_per_gpu == 0) return slots;
  if (slots_per_gpu < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--slots-per-gpu: expected a positive number, got ", slots_per_gpu));
  }
  if (slots_given) {
    return absl::InvalidArgumentError(
        "give --slots or --slots-per-gpu, not both (--slots-per-gpu K runs K trials on each GPU)");
  }
  if (gpus == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--slots-per-gpu ", slots_per_gpu,
        ": the worker has no GPUs (--gpus found or named none); use --slots on a CPU host"));
  }
  return static_cast<int>(gpus) * slots_per_gpu;
}

// Streams one trial's measurements to the coordinator. Used by the trial's slot thread only.
class Worker::Sink final : public ProgressSink {
 public:
  Sink(Worker* worker, int64_t trial_id, std::string log_path)
      : worker_(worker), trial_id_(trial_id), log_path_(std::move(log_path)) {}

  hpo::v1::Decision Report(const std::vector<hpo::v1::Measurement>& batch) override {
    if (full_) return hpo::v1::CONTINUE;  // the coordinator keeps no more of this trial's steps
    hpo::v1::ReportProgressRequest request;
    request.set_worker_id(worker_->options_.worker_id);
    request.set_trial_id(trial_id_);
    request.mutable_measurements()->Assign(batch.begin(), batch.end());
    if (!log_path_sent_) request.set_log_path(log_path_);
    const std::string steps = batch.size() == 1
                                  ? absl::StrCat("step ", batch[0].step())
                                  : absl::StrCat(batch.size(), " steps (", batch.front().step(),
                                                 "..", batch.back().step(), ")");
    Backoff backoff(worker_->options_.initial_backoff, worker_->options_.max_backoff);
    const absl::Time deadline = absl::Now() + worker_->options_.complete_deadline;
    while (true) {
      hpo::v1::ReportProgressResponse response;
      auto context = worker_->MakeContext(worker_->options_.rpc_timeout);
      const absl::Status status =
          rpc::FromGrpcStatus(worker_->stub_->ReportProgress(context.get(), request, &response),
                              worker_->options_.coordinator);
      if (status.ok()) {
        log_path_sent_ = true;
        return response.decision();
      }
      if (status.code() == absl::StatusCode::kFailedPrecondition ||
          status.code() == absl::StatusCode::kNotFound) {
        HPO_LOG(WARNING) << "trial " << trial_id_ << ": lease lost (" << status.message()
                         << "); stopping it";
        lease_lost_ = true;
        return hpo::v1::STOP;
      }
      if (status.code() == absl::StatusCode::kResourceExhausted) {
        HPO_LOG(WARNING) << "trial " << trial_id_ << ": " << status.message()
                         << "; no more progress is sent for it";
        full_ = true;
        return hpo::v1::CONTINUE;
      }
      if (!IsRetryable(status.code())) {
        HPO_LOG(WARNING) << "trial " << trial_id_ << ": report of " << steps
                         << " failed: " << status;
        return hpo::v1::CONTINUE;
      }
      worker_->MarkDisconnected();
      const absl::Duration wait = backoff.Next();
      if (absl::Now() + wait > deadline || !worker_->Sleep(wait, /*wake_on_drain=*/false)) {
        HPO_LOG(WARNING) << "trial " << trial_id_ << ": dropped the report of " << steps << ": "
                         << status;
        return hpo::v1::CONTINUE;
      }
    }
  }

  bool lease_lost() const { return lease_lost_; }

 private:
  bool full_ = false;  // the trial reached core::kMaxMeasurementsPerTrial
  Worker* const worker_;
  const int64_t trial_id_;
  bool lease_lost_ = false;
  const std::string log_path_;  // Trial.log_path, sent with the first report that gets through
  bool log_path_sent_ = false;
};

absl::StatusOr<std::unique_ptr<Worker>> Worker::Create(Options options) {
  if (options.coordinator.empty()) return absl::InvalidArgumentError("coordinator: missing");
  if (options.slots < 1) {
    return absl::InvalidArgumentError(absl::StrCat("slots: must be >= 1, got ", options.slots));
  }
  for (const std::string& gpu : options.gpus) {
    if (gpu.empty() || gpu.find(',') != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("gpus: bad GPU id '", gpu, "'"));
    }
  }
  if (options.acquire_wait < absl::ZeroDuration() || options.rpc_timeout <= absl::ZeroDuration() ||
      options.initial_backoff <= absl::ZeroDuration() ||
      options.max_backoff < options.initial_backoff) {
    return absl::InvalidArgumentError("bad acquire_wait, rpc_timeout or backoff durations");
  }
  if (options.worker_id.empty()) options.worker_id = absl::StrCat(Hostname(), "-", ::getpid());
  if (!options.log_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(options.log_dir, ec);
    if (ec) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot create log directory '", options.log_dir, "': ", ec.message()));
    }
  }
  if (!options.trial_dir_root.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(options.trial_dir_root, ec);
    std::filesystem::path absolute;
    if (!ec) absolute = std::filesystem::absolute(options.trial_dir_root, ec);
    if (ec) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot create trial directory root '", options.trial_dir_root, "': ", ec.message()));
    }
    options.trial_dir_root = absolute.lexically_normal().string();
  }
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
              static_cast<int>(absl::ToInt64Milliseconds(options.initial_backoff)));
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS,
              static_cast<int>(absl::ToInt64Milliseconds(options.initial_backoff)));
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
              static_cast<int>(absl::ToInt64Milliseconds(options.max_backoff)));
  absl::StatusOr<std::vector<std::string>> prefixes = CanonicalPrefixes(options.allow_commands);
  if (!prefixes.ok()) return prefixes.status();
  options.allow_commands = *std::move(prefixes);
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      auth::Connect(options.coordinator, options.security, args);
  if (!channel.ok()) return channel.status();
  return std::unique_ptr<Worker>(new Worker(std::move(options), *std::move(channel)));
}

Worker::Worker(Options options, std::shared_ptr<grpc::Channel> channel)
    : options_(std::move(options)),
      slot_gpus_(AssignGpus(options_.gpus, options_.slots)),
      stub_(hpo::v1::WorkerService::NewStub(std::move(channel))) {
  for (const std::string& prefix : options_.allow_commands) policy_.add_command_prefixes(prefix);
  policy_.set_any_command(options_.allow_any_command);
  for (const std::string& study : options_.studies) policy_.add_studies(study);
}

Worker::~Worker() {
  metrics_server_.reset();  // its collector reads state destroyed below
  Stop();
  Wait();
  gpu_monitor_.reset();  // its thread may still call into this worker
}

absl::Status Worker::Start() {
  absl::MutexLock join_lock(&join_mu_);
  {
    absl::MutexLock lock(&mu_);
    if (started_) return absl::FailedPreconditionError("worker already started");
    started_ = true;
    slots_running_ = options_.slots;
    idle_since_ = absl::Now();
  }
  HPO_LOG(INFO) << "worker " << options_.worker_id << ": " << options_.slots << " slot(s), GPUs ["
                << absl::StrJoin(options_.gpus, ",") << "], coordinator " << options_.coordinator;
  if (!options_.gpus.empty() && options_.gpu_poll_interval > absl::ZeroDuration()) {
    GpuMonitor::Options monitor;
    monitor.gpus = options_.gpus;
    monitor.interval = options_.gpu_poll_interval;
    monitor.nvidia_smi = options_.nvidia_smi;
    monitor.on_unhealthy = [this](const std::string& why) {
      HPO_LOG(ERROR) << "GPUs unhealthy: " << why;
      absl::MutexLock lock(&mu_);
      DrainLocked(absl::StrCat(why, ": draining, no new trials; running ones finish"));
    };
    gpu_monitor_ = std::make_unique<GpuMonitor>(std::move(monitor));
  }
  for (int slot = 0; slot < options_.slots; ++slot) {
    threads_.emplace_back([this, slot] { SlotLoop(slot); });
  }
  threads_.emplace_back([this] { HeartbeatLoop(); });
  if (!options_.metrics_listen.empty()) {
    AddCollectors();
    absl::StatusOr<std::unique_ptr<metrics::MetricsServer>> server = metrics::MetricsServer::Start(
        // Healthy while the process runs, draining included: a liveness probe that failed a
        // draining worker would kill the trials it is letting finish.
        options_.metrics_listen, &registry_, nullptr);
    if (!server.ok()) {
      Stop();
      return server.status();
    }
    metrics_server_ = *std::move(server);
  }
  return absl::OkStatus();
}

void Worker::Drain() {
  absl::MutexLock lock(&mu_);
  DrainLocked("draining: no new trials; running ones finish");
}

void Worker::DrainLocked(absl::string_view why) {
  if (!draining_) HPO_LOG(INFO) << why;
  draining_ = true;
  for (grpc::ClientContext* context : acquiring_) context->TryCancel();
}

void Worker::Stop() {
  absl::MutexLock lock(&mu_);
  if (!stopping_ && started_) {
    HPO_LOG(INFO) << "stopping: running trials are killed and given back to the coordinator";
  }
  draining_ = true;
  stopping_ = true;
  for (grpc::ClientContext* context : acquiring_) context->TryCancel();
  for (auto& [id, runner] : held_) {
    if (runner != nullptr) runner->Cancel(kStopReason);
  }
}

void Worker::Wait() {
  absl::MutexLock join_lock(&join_mu_);
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

bool Worker::draining() const {
  absl::MutexLock lock(&mu_);
  return draining_;
}

bool Worker::stopping() const {
  absl::MutexLock lock(&mu_);
  return stopping_;
}

bool Worker::Sleep(absl::Duration d, bool wake_on_drain) {
  absl::MutexLock lock(&mu_);
  auto woken = [this, wake_on_drain]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ || (wake_on_drain && draining_);
  };
  return !mu_.AwaitWithTimeout(absl::Condition(&woken), d);
}

std::unique_ptr<grpc::ClientContext> Worker::MakeContext(absl::Duration timeout) const {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return context;
}

void Worker::MarkDisconnected() {
  if (registered_.exchange(false)) {
    HPO_LOG(WARNING) << "lost the coordinator at " << options_.coordinator
                     << "; will register again";
  }
}

bool Worker::EnsureRegistered(bool wake_on_drain) {
  if (registered_.load()) return true;
  absl::MutexLock registering(&register_mu_);
  Backoff backoff(options_.initial_backoff, options_.max_backoff);
  int failures = 0;
  while (!registered_.load()) {
    if (wake_on_drain ? draining() : stopping()) return false;
    hpo::v1::RegisterWorkerRequest request = policy_;
    request.set_worker_id(options_.worker_id);
    request.set_hostname(Hostname());
    request.set_slots(options_.slots);
    for (const std::string& gpu : options_.gpus) request.add_gpus(gpu);
    hpo::v1::RegisterWorkerResponse response;
    auto context = MakeContext(options_.rpc_timeout);
    const absl::Status status = rpc::FromGrpcStatus(
        stub_->RegisterWorker(context.get(), request, &response), options_.coordinator);
    if (status.ok()) {
      if (response.heartbeat_interval_ms() > 0) {
        // Under mu_, so that the heartbeat thread's wait sees the change.
        absl::MutexLock lock(&mu_);
        heartbeat_interval_ms_.store(response.heartbeat_interval_ms());
      }
      if (!registered_.exchange(true)) {
        HPO_LOG(INFO) << "registered as " << options_.worker_id << " (heartbeat every "
                      << heartbeat_interval_ms_.load() << " ms)";
      }
      return true;
    }
    if (failures++ % 10 == 0) HPO_LOG(WARNING) << "cannot register: " << status << "; retrying";
    if (!Sleep(backoff.Next(), wake_on_drain)) return false;
  }
  return true;
}

void Worker::SlotLoop(int slot) {
  Backoff backoff(options_.initial_backoff, options_.max_backoff);
  while (!draining()) {
    if (!EnsureRegistered(/*wake_on_drain=*/true)) break;
    hpo::v1::AcquireTrialRequest request;
    request.set_worker_id(options_.worker_id);
    request.set_wait_ms(absl::ToInt64Milliseconds(options_.acquire_wait));
    hpo::v1::AcquireTrialResponse response;
    auto context = MakeContext(options_.acquire_wait + options_.rpc_timeout);
    {
      absl::MutexLock lock(&mu_);
      if (draining_) break;
      if (options_.max_trials > 0) {
        // Wait while other slots' AcquireTrial calls may still take the last trials (one may
        // come back empty and free its share).
        auto decided = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return draining_ || trials_taken_ >= options_.max_trials ||
                 trials_taken_ + acquires_in_flight_ < options_.max_trials;
        };
        mu_.Await(absl::Condition(&decided));
        if (draining_) break;
        if (trials_taken_ >= options_.max_trials) {
          DrainLocked(absl::StrCat("took ", trials_taken_, " trials (--max-trials): draining"));
          break;
        }
      }
      ++acquires_in_flight_;
      acquiring_.insert(context.get());
    }
    const absl::Status status = rpc::FromGrpcStatus(
        stub_->AcquireTrial(context.get(), request, &response), options_.coordinator);
    {
      absl::MutexLock lock(&mu_);
      acquiring_.erase(context.get());
      --acquires_in_flight_;
      // Held from now on, so that heartbeats list it even before it runs.
      if (status.ok() && response.found()) {
        held_.emplace(response.trial().id(), nullptr);
        ++trials_taken_;
      }
    }
    if (!status.ok()) {
      if (status.code() == absl::StatusCode::kCancelled && draining()) break;
      if (IsRetryable(status.code())) MarkDisconnected();
      if (status.code() != absl::StatusCode::kDeadlineExceeded) {
        HPO_LOG(WARNING) << "slot " << slot << ": AcquireTrial failed: " << status;
      }
      Sleep(backoff.Next(), /*wake_on_drain=*/true);
      continue;
    }
    backoff.Reset();
    if (response.found()) RunTrial(slot, response);
  }
  absl::MutexLock lock(&mu_);
  --slots_running_;
}

void Worker::RunTrial(int slot, const hpo::v1::AcquireTrialResponse& acquired) {
  const hpo::v1::Trial& trial = acquired.trial();
  const hpo::v1::StudySpec& spec = acquired.spec();
  TrialRunnerOptions runner_options;
  runner_options.hpo_task_path = options_.hpo_task_path;
  runner_options.gpus = slot_gpus_[slot];
  runner_options.kill_grace = options_.kill_grace;
  runner_options.report_interval = options_.report_interval;
  runner_options.trial_dir_root = options_.trial_dir_root;
  if (gpu_monitor_ != nullptr && !slot_gpus_[slot].empty()) {
    runner_options.on_spawn = [this, id = trial.id(), gpus = slot_gpus_[slot]](int64_t pid) {
      gpu_monitor_->Track(id, pid, gpus);
    };
  }
  std::string log_path;  // what the coordinator shows: HOST:ABSOLUTE_PATH
  if (!options_.log_dir.empty()) {
    runner_options.log_path = absl::StrCat(options_.log_dir, "/", spec.name(), "-", trial.number(),
                                           "-", trial.attempt(), "-", trial.id(), ".log");
    std::error_code ec;
    const std::filesystem::path absolute = std::filesystem::absolute(runner_options.log_path, ec);
    log_path = absl::StrCat(Hostname(), ":",
                            ec ? runner_options.log_path : absolute.lexically_normal().string());
  }
  if (absl::Status accepted = CheckAccepted(policy_, spec); !accepted.ok()) {
    // The coordinator could not tell (a bare program name, a symlink): give it back, refused,
    // so that it goes to a worker that runs it and this one is not offered the study again.
    HPO_LOG(WARNING) << "trial " << trial.id() << " of study " << spec.name()
                     << " refused: " << accepted.message();
    ReleaseTrial(trial.id(), std::string(accepted.message()), /*refused=*/true);
    absl::MutexLock lock(&mu_);
    held_.erase(trial.id());
    --trials_taken_;  // it did not run here
    if (held_.empty()) idle_since_ = absl::Now();
    return;
  }
  TrialRunner runner(trial, spec, runner_options);
  // The trial stays held until this returns: its result is reported (or dropped) first.
  struct Unhold {
    Worker* worker;
    int64_t id;
    ~Unhold() {
      absl::MutexLock lock(&worker->mu_);
      worker->held_.erase(id);
      if (worker->held_.empty()) worker->idle_since_ = absl::Now();
    }
  } unhold{this, trial.id()};
  {
    absl::MutexLock lock(&mu_);
    held_[trial.id()] = &runner;
    if (stopping_) runner.Cancel(kStopReason);
  }
  HPO_LOG(INFO) << "slot " << slot << ": trial " << trial.id() << " (study " << spec.name() << " #"
                << trial.number() << ", attempt " << trial.attempt() << ")";
  Sink sink(this, trial.id(), log_path);
  const TrialOutcome outcome = runner.Run(sink);
  std::optional<hpo::v1::GpuUsage> gpu_usage;
  if (gpu_monitor_ != nullptr) gpu_usage = gpu_monitor_->Finish(trial.id());
  if (outcome.cancelled) {
    // Only Stop cancels: the trial did not fail, another worker can run it.
    ReleaseTrial(trial.id(), kStopReason);
    return;
  }
  if (sink.lease_lost()) {
    HPO_LOG(WARNING) << "trial " << trial.id() << ": lease lost; its result ("
                     << core::TrialStateName(outcome.state) << ") is dropped";
    return;
  }
  hpo::v1::CompleteTrialRequest request;
  request.set_worker_id(options_.worker_id);
  request.set_trial_id(trial.id());
  request.set_request_id(NewRequestId(options_.worker_id, trial.id()));
  request.set_state(outcome.state);
  request.mutable_final_metrics()->insert(outcome.final_metrics.begin(),
                                          outcome.final_metrics.end());
  request.set_failure_reason(outcome.failure_reason);
  request.set_log_path(log_path);
  if (gpu_usage.has_value()) *request.mutable_gpu_usage() = *std::move(gpu_usage);
  registry_.Add("hpo_worker_trials_total", {{"state", core::TrialStateName(outcome.state)}});
  CompleteTrial(request);
}

void Worker::AddCollectors() {
  registry_.Describe("hpo_worker_trials_total", "counter", "trials this worker ran, by outcome");
  registry_.Describe("hpo_worker_slots", "gauge", "trials this worker runs at once");
  registry_.Describe("hpo_worker_slots_busy", "gauge", "slots holding a trial");
  registry_.Describe("hpo_worker_gpus", "gauge", "GPUs this worker deals to its slots");
  registry_.Describe("hpo_worker_gpus_busy", "gauge", "GPUs some running trial sees");
  registry_.Describe("hpo_worker_registered", "gauge", "1 while registered with the coordinator");
  registry_.AddCollector([this](metrics::GaugeWriter& out) {
    absl::MutexLock lock(&mu_);
    out.Set("hpo_worker_slots", {}, options_.slots);
    out.Set("hpo_worker_slots_busy", {}, static_cast<double>(held_.size()));
    out.Set("hpo_worker_gpus", {}, static_cast<double>(options_.gpus.size()));
    absl::flat_hash_set<std::string> busy;
    for (const auto& [id, runner] : held_) {
      if (runner == nullptr) continue;
      for (const std::string& gpu : runner->gpus()) busy.insert(gpu);
    }
    out.Set("hpo_worker_gpus_busy", {}, static_cast<double>(busy.size()));
    out.Set("hpo_worker_registered", {}, registered_.load() ? 1 : 0);
  });
}

void Worker::CompleteTrial(const hpo::v1::CompleteTrialRequest& request, bool fallback) {
  Backoff backoff(options_.initial_backoff, options_.max_backoff);
  const absl::Time deadline = absl::Now() + options_.complete_deadline;
  const std::string what =
      absl::StrCat("trial ", request.trial_id(), " ", core::TrialStateName(request.state()),
                   request.failure_reason().empty() ? "" : " (", request.failure_reason(),
                   request.failure_reason().empty() ? "" : ")");
  while (true) {
    hpo::v1::Trial response;
    auto context = MakeContext(options_.rpc_timeout);
    const absl::Status status = rpc::FromGrpcStatus(
        stub_->CompleteTrial(context.get(), request, &response), options_.coordinator);
    if (status.ok()) {
      HPO_LOG(INFO) << what;
      return;
    }
    if (status.code() == absl::StatusCode::kFailedPrecondition ||
        status.code() == absl::StatusCode::kNotFound) {
      HPO_LOG(WARNING) << what << ": the coordinator no longer leases it to us ("
                       << status.message() << "); result dropped";
      return;
    }
    if (!IsRetryable(status.code()) && status.code() != absl::StatusCode::kDeadlineExceeded) {
      if (!fallback) {
        HPO_LOG(ERROR) << what << ": CompleteTrial failed: " << status << "; result dropped";
        return;
      }
      // E.g. a metric name protobuf cannot serialize: end the trial as FAILED rather than
      // leave it leased until it is LOST.
      HPO_LOG(ERROR) << what << ": CompleteTrial refused: " << status << "; reporting FAILED";
      hpo::v1::CompleteTrialRequest failed;
      failed.set_worker_id(request.worker_id());
      failed.set_trial_id(request.trial_id());
      failed.set_request_id(NewRequestId(options_.worker_id, request.trial_id()));
      failed.set_state(hpo::v1::FAILED);
      failed.set_failure_reason(absl::StrCat("coordinator refused the result: ", status.message()));
      CompleteTrial(failed, /*fallback=*/false);
      return;
    }
    if (status.code() == absl::StatusCode::kUnavailable) MarkDisconnected();
    const absl::Duration wait = backoff.Next();
    if (absl::Now() + wait > deadline || !Sleep(wait, /*wake_on_drain=*/false)) {
      HPO_LOG(ERROR) << what << ": giving up on CompleteTrial: " << status << "; result dropped";
      return;
    }
  }
}

void Worker::ReleaseTrial(int64_t trial_id, const std::string& reason, bool refused) {
  Backoff backoff(options_.initial_backoff, options_.max_backoff);
  const absl::Time deadline = absl::Now() + options_.complete_deadline;
  hpo::v1::ReleaseTrialRequest request;
  request.set_worker_id(options_.worker_id);
  request.set_trial_id(trial_id);
  request.set_reason(reason);
  request.set_refused(refused);
  while (true) {
    hpo::v1::Trial response;
    auto context = MakeContext(options_.rpc_timeout);
    const absl::Status status = rpc::FromGrpcStatus(
        stub_->ReleaseTrial(context.get(), request, &response), options_.coordinator);
    if (status.ok()) {
      HPO_LOG(INFO) << "trial " << trial_id << " given back (" << reason << ")";
      return;
    }
    if (status.code() == absl::StatusCode::kFailedPrecondition ||
        status.code() == absl::StatusCode::kNotFound) {
      HPO_LOG(WARNING) << "trial " << trial_id << ": not given back, the coordinator no longer "
                       << "leases it to us (" << status.message() << ")";
      return;
    }
    if (!IsRetryable(status.code()) && status.code() != absl::StatusCode::kDeadlineExceeded) {
      HPO_LOG(ERROR) << "trial " << trial_id << ": ReleaseTrial failed: " << status
                     << "; its lease will expire";
      return;
    }
    if (status.code() == absl::StatusCode::kUnavailable) MarkDisconnected();
    const absl::Duration wait = backoff.Next();
    if (absl::Now() + wait > deadline) {
      HPO_LOG(ERROR) << "trial " << trial_id << ": giving up on ReleaseTrial: " << status
                     << "; its lease will expire";
      return;
    }
    absl::SleepFor(wait);  // not cut short by Stop: releasing is part of stopping
  }
}

void Worker::HeartbeatLoop() {
  int failures = 0;  // in a row; only some are logged
  while (true) {
    std::vector<int64_t> ids;
    {
      absl::MutexLock lock(&mu_);
      // Wait one interval, restarting the wait when registration sets a new interval.
      int64_t interval_ms;
      auto done_or_changed = [this, &interval_ms]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return slots_running_ == 0 || heartbeat_interval_ms_.load() != interval_ms;
      };
      do {
        interval_ms = heartbeat_interval_ms_.load();
        if (mu_.AwaitWithTimeout(absl::Condition(&done_or_changed),
                                 absl::Milliseconds(interval_ms)) &&
            slots_running_ == 0) {
          return;
        }
      } while (heartbeat_interval_ms_.load() != interval_ms);
      for (const auto& [id, runner] : held_) ids.push_back(id);
      if (options_.exit_when_idle > absl::ZeroDuration() && held_.empty() && !draining_ &&
          absl::Now() - idle_since_ >= options_.exit_when_idle) {
        DrainLocked(absl::StrCat("no trial for ", absl::FormatDuration(absl::Now() - idle_since_),
                                 " (--exit-when-idle): draining"));
      }
    }
    hpo::v1::HeartbeatRequest request;
    request.set_worker_id(options_.worker_id);
    for (int64_t id : ids) request.add_running_trial_ids(id);
    hpo::v1::HeartbeatResponse response;
    auto context = MakeContext(options_.rpc_timeout);
    const absl::Status status = rpc::FromGrpcStatus(
        stub_->Heartbeat(context.get(), request, &response), options_.coordinator);
    if (!status.ok()) {
      if (IsRetryable(status.code())) MarkDisconnected();
      if (failures++ % 30 == 0) HPO_LOG(WARNING) << "heartbeat failed: " << status;
      continue;
    }
    failures = 0;
    absl::MutexLock lock(&mu_);
    for (int64_t id : response.stop_trial_ids()) {
      auto it = held_.find(id);
      if (it == held_.end() || it->second == nullptr) continue;
      HPO_LOG(INFO) << "trial " << id << ": the coordinator asked to stop it";
      it->second->Prune();
    }
  }
}

}  // namespace hpo::worker
