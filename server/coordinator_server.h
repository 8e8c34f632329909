// A running coordinator: SQLite storage, the Coordinator core, both gRPC services on one port,
// and a reaper thread that expires leases. Used by hpo-coordinator, `hpo run` and the tests.
#ifndef HPO_SERVER_COORDINATOR_SERVER_H_
#define HPO_SERVER_COORDINATOR_SERVER_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/notification.h"
#include "auth/grpc_security.h"
#include "dashboard/dashboard_server.h"
#include "grpcpp/server.h"
#include "metrics/http_server.h"
#include "metrics/registry.h"
#include "server/coordinator.h"
#include "server/study_service_impl.h"
#include "server/worker_service_impl.h"
#include "storage/db_lock.h"
#include "storage/storage.h"

namespace hpo::server {

// What protects the port, for CheckListenAddress.
struct ListenSecurity {
  bool insecure = false;      // the operator opened it on purpose (--insecure)
  bool tls = false;           // --tls-cert/--tls-key
  bool tokens = false;        // --token-file
  bool client_certs = false;  // --tls-ca: mutual TLS
};

// OK when the coordinator may serve `listen` (host:port as gRPC takes it): a loopback address
// (127.0.0.0/8, localhost, [::1]) or a unix socket always; any other address (0.0.0.0, [::], a
// host name, another interface) only with TLS and a credential (tokens or client certificates),
// or with `insecure`, since whoever reaches an open port can make every worker run a command.
// FAILED_PRECONDITION that says what is missing, and how to go on, otherwise. Thread-safe (a pure
// function).
absl::Status CheckListenAddress(const std::string& listen, const ListenSecurity& security);
// Whether `listen` names only this machine (the rule above).
bool IsLoopbackAddress(absl::string_view listen);

struct CoordinatorServerOptions {
  std::string listen = "127.0.0.1:50051";  // port 0 picks a free port
  // Serve a non-loopback `listen` without credentials (see CheckListenAddress).
  bool insecure = false;
  // `role token` lines (auth/tokens.h); empty: no token is asked for.
  std::string token_file;
  // The coordinator's certificate and key (TLS), and a CA to require client certificates.
  auth::TlsFiles tls;
  // Serve GET /metrics (Prometheus) and GET /healthz over HTTP here (host:port); empty: not.
  std::string metrics_listen;
  // Serve the web dashboard here (host:port; dashboard/dashboard_server.h); empty: not. Plain
  // HTTP, behind the same tokens: loopback only unless `insecure`.
  std::string http_listen;
  std::string db_path;  // SQLite file (":memory:" for tests)
  // fsync every commit (survives power loss); the default survives a crash of the process.
  bool synchronous_full = false;
  CoordinatorOptions coordinator;
  // How often the reaper looks for expired leases; zero disables the reaper (tests with a fake
  // clock call Coordinator::ExpireLeases themselves).
  absl::Duration reap_interval = absl::Milliseconds(500);
};

// Thread-safe.
class CoordinatorServer {
 public:
  static absl::StatusOr<std::unique_ptr<CoordinatorServer>> Start(
      const CoordinatorServerOptions& options);
  ~CoordinatorServer();

  // The bound port (useful with port 0) and "127.0.0.1:port" for local clients.
  int port() const { return port_; }
  int metrics_port() const { return metrics_server_ ? metrics_server_->port() : 0; }
  int http_port() const { return dashboard_ ? dashboard_->port() : 0; }
  std::string local_address() const;
  Coordinator* coordinator() { return coordinator_.get(); }

  // Stops serving: in-flight calls get `grace` to finish. Idempotent.
  void Shutdown(absl::Duration grace = absl::Seconds(2));
  // Blocks until Shutdown has been called and finished.
  void Wait();

 private:
  CoordinatorServer() = default;
  void ReapLoop(absl::Duration interval);
  // Gauges read from the coordinator at each scrape.
  void AddCollectors();
  // OK while serving; /healthz answers 503 with the message otherwise.
  absl::Status Health() const;

  std::unique_ptr<storage::DbLock> db_lock_;
  std::unique_ptr<storage::Storage> storage_;
  std::unique_ptr<Coordinator> coordinator_;
  std::unique_ptr<auth::CallAuthenticator> authenticator_;
  std::unique_ptr<StudyServiceImpl> study_service_;
  std::unique_ptr<WorkerServiceImpl> worker_service_;
  metrics::Registry registry_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<metrics::MetricsServer> metrics_server_;
  std::unique_ptr<dashboard::DashboardServer> dashboard_;
  int port_ = 0;
  std::thread reaper_;
  absl::Notification stopping_;
  absl::Notification stopped_;
  absl::Mutex shutdown_mu_;
};

}  // namespace hpo::server

#endif  // HPO_SERVER_COORDINATOR_SERVER_H_
