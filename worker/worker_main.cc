// hpo-worker: the worker daemon. Flags -> Worker::Options -> Start() -> Wait().
// SIGTERM/SIGINT drain (running trials finish); a second signal stops (running trials are
// killed and given back to the coordinator, to run elsewhere).
#include <signal.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "core/logging.h"
#include "worker/process.h"
#include "worker/worker.h"

int main(int argc, char** argv) {
  CLI::App app{"hpo-worker: runs trials from an hpo coordinator"};
  const char* env_coordinator = std::getenv("HPO_COORDINATOR");
  std::string coordinator = env_coordinator != nullptr ? env_coordinator : "localhost:50051";
  int slots = 1;
  std::string gpus_flag = "auto";
  hpo::worker::Worker::Options options;
  options.log_dir = "/tmp/hpo-worker-logs";
  options.trial_dir_root = "/tmp/hpo-worker-trials";
  std::string hpo_task;
  double acquire_wait_s = 5, kill_grace_s = 5;
  app.add_option("--coordinator", coordinator,
                 "coordinator address (default $HPO_COORDINATOR or localhost:50051)");
  CLI::Option* slots_option =
      app.add_option("--slots", slots, "trials run at once")->check(CLI::PositiveNumber);
  app.add_option("--gpus", gpus_flag, "auto, none, or a list like 0,1 (dealt round-robin to slots)")
      ->capture_default_str();
  int slots_per_gpu = 0;
  app.add_option("--slots-per-gpu", slots_per_gpu,
                 "run K trials on each GPU at once: K x the GPUs' count slots, slot i on GPU "
                 "i mod count (instead of --slots)")
      ->check(CLI::PositiveNumber);
  double gpu_poll_s = 2;
  app.add_option("--gpu-poll-interval", gpu_poll_s,
                 "seconds between nvidia-smi polls for each trial's GPU use and the GPUs' health "
                 "(0: no polls)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--worker-id", options.worker_id, "stable worker id (default hostname-pid)");
  app.add_option("--log-dir", options.log_dir, "trial logs")->capture_default_str();
  app.add_option("--trial-dir-root", options.trial_dir_root,
                 "trial directories (HPO_TRIAL_DIR = ROOT/<study>/<number>, kept across a "
                 "trial's attempts for its checkpoints, and after it ends) for studies that "
                 "name no task.trial_dir_root")
      ->capture_default_str();
  app.add_option("--hpo-task", hpo_task, "the hpo-task executable (default: next to this one)");
  app.add_option("--acquire-wait", acquire_wait_s, "AcquireTrial long-poll, seconds")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--kill-grace", kill_grace_s, "seconds between SIGTERM and SIGKILL")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--allow-command", options.allow_commands,
                 "run command tasks whose program (argv[0], symlinks followed) lies under this "
                 "path; repeat for more. Without it the worker runs built-in tasks only");
  std::string studies;
  app.add_option("--studies", studies, "run only these studies (comma list; default every study)");
  app.add_option("--max-trials", options.max_trials,
                 "take at most this many trials, then exit when they are done (0: no limit)")
      ->check(CLI::NonNegativeNumber);
  double exit_when_idle_s = 0;
  app.add_option("--exit-when-idle", exit_when_idle_s,
                 "exit once no trial has run for this many seconds (0: never); for batch jobs")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--metrics-listen", options.metrics_listen,
                 "serve GET /metrics (Prometheus) and GET /healthz over HTTP on this host:port "
                 "(e.g. 127.0.0.1:9465; default: not served)");
  std::string token_file;
  app.add_option("--token-file", token_file,
                 "send the worker token in this file (mode 600) with every call (default "
                 "$HPO_TOKEN)");
  if (const char* ca = std::getenv("HPO_TLS_CA"); ca != nullptr) options.security.tls.ca = ca;
  app.add_option("--tls-ca", options.security.tls.ca,
                 "reach the coordinator over TLS, trusting this CA (PEM; default $HPO_TLS_CA)");
  app.add_option("--tls-cert", options.security.tls.cert,
                 "present this client certificate (PEM; with --tls-key) for mutual TLS");
  app.add_option("--tls-key", options.security.tls.key,
                 "the client certificate's private key (PEM)");
  app.set_version_flag("--version", std::string("hpo-worker ") + HPO_VERSION);
  CLI11_PARSE(app, argc, argv);

  absl::StatusOr<std::vector<std::string>> gpus = hpo::worker::ParseGpus(gpus_flag);
  if (!gpus.ok()) {
    std::cerr << "hpo-worker: " << gpus.status().message() << "\n";
    return 2;
  }
  options.coordinator = coordinator;
  options.exit_when_idle = absl::Seconds(exit_when_idle_s);
  for (absl::string_view name : absl::StrSplit(studies, ',', absl::SkipWhitespace())) {
    options.studies.emplace_back(absl::StripAsciiWhitespace(name));
  }
  absl::StatusOr<hpo::auth::ClientSecurity> security =
      hpo::auth::ClientSecurity::FromFlags(token_file, options.security.tls);
  if (!security.ok()) {
    std::cerr << "hpo-worker: " << security.status().message() << "\n";
    return 2;
  }
  options.security = *std::move(security);
  absl::StatusOr<int> resolved =
      hpo::worker::ResolveSlots(slots, slots_option->count() > 0, slots_per_gpu, gpus->size());
  if (!resolved.ok()) {
    std::cerr << "hpo-worker: " << resolved.status().message() << "\n";
    return 2;
  }
  options.slots = *resolved;
  options.gpus = *gpus;
  options.hpo_task_path = hpo_task.empty() ? hpo::worker::SiblingExecutable("hpo-task") : hpo_task;
  options.acquire_wait = absl::Seconds(acquire_wait_s);
  options.kill_grace = absl::Seconds(kill_grace_s);
  options.gpu_poll_interval = absl::Seconds(gpu_poll_s);

  // Block the signals before any thread starts, so only the signal thread receives them (the
  // trial processes get a clean mask from ChildProcess).
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  absl::StatusOr<std::unique_ptr<hpo::worker::Worker>> worker =
      hpo::worker::Worker::Create(options);
  if (!worker.ok()) {
    std::cerr << "hpo-worker: " << worker.status().message() << "\n";
    return 2;
  }
  if (absl::Status s = (*worker)->Start(); !s.ok()) {
    std::cerr << "hpo-worker: " << s.message() << "\n";
    return 1;
  }
  hpo::worker::Worker* w = worker->get();
  std::thread([w, signals] {
    for (int count = 0;; ++count) {
      int sig = 0;
      if (sigwait(&signals, &sig) != 0) continue;
      HPO_LOG(INFO) << "got signal " << sig;
      if (count == 0) {
        w->Drain();
      } else {
        w->Stop();
      }
    }
  }).detach();
  w->Wait();
  HPO_LOG(INFO) << "worker " << w->worker_id() << " exiting";
  // The signal thread still uses *w: leave without destroying it.
  std::_Exit(0);
}
