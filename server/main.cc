// hpo-coordinator: serves StudyService and WorkerService over one SQLite file.
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <iostream>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/synchronization/mutex.h"
#include "core/logging.h"
#include "server/coordinator_server.h"

int main(int argc, char** argv) {
  CLI::App app{
      "hpo-coordinator: schedules trials to hpo-worker daemons and stores everything in SQLite"};
  std::string listen = "127.0.0.1:50051";
  bool insecure = false;
  std::string db;
  double lease_s = 30;
  double heartbeat_s = 5;
  bool sync_full = false;
  app.add_option("--listen", listen,
                 "address to serve on (host:port; port 0 picks one); an address beyond loopback "
                 "needs TLS and a credential (--tls-cert/--tls-key with --token-file or "
                 "--tls-ca), or --insecure")
      ->capture_default_str();
  app.add_option("--db", db, "SQLite file holding every study and trial")->required();
  app.add_option("--lease-timeout-s", lease_s,
                 "a running trial whose worker is silent this long becomes LOST")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--heartbeat-s", heartbeat_s, "how often workers heartbeat")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  std::string token_file;
  hpo::auth::TlsFiles tls;
  app.add_option("--token-file", token_file,
                 "callers must send one of these tokens: one 'ROLE TOKEN' per line, ROLE admin "
                 "(everything), client (studies and trials) or worker (the worker service); the "
                 "file must be mode 600");
  app.add_option("--tls-cert", tls.cert, "serve TLS with this certificate (PEM; with --tls-key)");
  app.add_option("--tls-key", tls.key, "the certificate's private key (PEM, mode 600)");
  app.add_option("--tls-ca", tls.ca,
                 "require client certificates signed by this CA (PEM): mutual TLS");
  std::string metrics_listen;
  app.add_option("--metrics-listen", metrics_listen,
                 "serve GET /metrics (Prometheus) and GET /healthz over HTTP on this host:port "
                 "(e.g. 127.0.0.1:9464; default: not served)");
  std::string http_listen;
  app.add_option("--http", http_listen,
                 "serve the web dashboard on this host:port (e.g. 127.0.0.1:8080; loopback only "
                 "unless --insecure; behind --token-file's tokens: open it with ?token=TOKEN)");
  app.add_flag("--insecure", insecure,
               "serve a non-loopback --listen address without TLS and credentials (anyone who "
               "reaches the port can run commands on every worker)");
  app.add_flag("--sync-full", sync_full,
               "fsync every commit, so a power loss keeps every transition (slower)");
  app.set_version_flag("--version", std::string("hpo-coordinator ") + HPO_VERSION);
  CLI11_PARSE(app, argc, argv);
  // Abseil's deadlock detection (on in Debian's build of it) records every lock order in a
  // global graph: turning it off took coordinator_capacity_bench at K = 64 from about 2,500 to
  // 3,040 trials/s here (docs/capacity.md). The tests keep it on.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  hpo::server::CoordinatorServerOptions options;
  options.listen = listen;
  options.insecure = insecure;
  options.token_file = token_file;
  options.tls = tls;
  options.metrics_listen = metrics_listen;
  options.http_listen = http_listen;
  options.db_path = db;
  options.synchronous_full = sync_full;
  options.coordinator.lease_timeout = absl::Seconds(lease_s);
  options.coordinator.heartbeat_interval = absl::Seconds(std::min(heartbeat_s, lease_s / 3));
  options.reap_interval = std::min(absl::Milliseconds(500), options.coordinator.lease_timeout / 4);

  // SIGINT/SIGTERM are taken by a thread with sigwait, never by a handler: the shutdown it runs
  // takes locks, which a signal handler must not.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // inherited by every thread started below

  auto server = hpo::server::CoordinatorServer::Start(options);
  if (!server.ok()) {
    std::cerr << "hpo-coordinator: " << server.status().message() << "\n";
    return 1;
  }
  // Tells scripts which port was bound when --listen ended in :0.
  std::cout << "listening on port " << (*server)->port() << std::endl;
  if ((*server)->http_port() > 0) {
    std::cout << "dashboard on http://" << http_listen.substr(0, http_listen.rfind(':')) << ":"
              << (*server)->http_port() << "/" << std::endl;
  }
  std::thread([&signals, srv = server->get()] {
    int sig = 0;
    sigwait(&signals, &sig);
    HPO_LOG(INFO) << "signal " << sig << " received, shutting down";
    srv->Shutdown();
  }).detach();
  (*server)->Wait();
  return 0;
}
