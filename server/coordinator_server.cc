#include "server/coordinator_server.h"

#include <map>
#include <optional>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/limits.h"
#include "core/logging.h"
#include "core/status_macros.h"
#include "core/trial_states.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/support/time.h"
#include "metrics/grpc_metrics.h"
#include "storage/sqlite_storage.h"

namespace hpo::server {

bool IsLoopbackAddress(absl::string_view listen) {
  if (absl::StartsWith(listen, "unix:") || absl::StartsWith(listen, "unix-abstract:")) {
    return true;  // a socket file or an abstract name: this machine only
  }
  absl::ConsumePrefix(&listen, "ipv4:") || absl::ConsumePrefix(&listen, "ipv6:");
  absl::string_view host;
  if (absl::StartsWith(listen, "[")) {
    const size_t close = listen.find(']');
    if (close == absl::string_view::npos) return false;
    host = listen.substr(1, close - 1);
  } else {
    const size_t colon = listen.rfind(':');
    host = colon == absl::string_view::npos ? listen : listen.substr(0, colon);
  }
  if (absl::EqualsIgnoreCase(host, "localhost") || host == "::1") return true;
  const std::vector<absl::string_view> octets = absl::StrSplit(host, '.');
  if (octets.size() != 4 || octets[0] != "127") return false;
  for (absl::string_view octet : octets) {
    int value = 0;
    if (octet.empty() || octet.size() > 3 || !absl::SimpleAtoi(octet, &value) || value > 255) {
      return false;
    }
  }
  return true;
}

absl::Status CheckListenAddress(const std::string& listen, const ListenSecurity& security) {
  if (IsLoopbackAddress(listen) || security.insecure) return absl::OkStatus();
  const std::string prefix =
      absl::StrCat("--listen ", listen, ": refusing to serve beyond this machine ");
  const char kWayOut[] =
      " (docs/cluster.md, \"From nothing to a first study\"), or serve a loopback address (127.0.0.1:50051, the default) "
      "and reach it through an SSH tunnel, or pass --insecure on a network where you trust "
      "everyone "
      "who can reach the port";
  if (!security.tls && !security.tokens && !security.client_certs) {
    return absl::FailedPreconditionError(absl::StrCat(
        prefix,
        "without credentials: anyone who reaches the port could submit a study whose command every "
        "worker runs. Add --token-file and --tls-cert/--tls-key",
        kWayOut));
  }
  if (!security.tls) {
    return absl::FailedPreconditionError(
        absl::StrCat(prefix,
                     "without TLS: the tokens would cross the network in clear text. Add "
                     "--tls-cert and --tls-key",
                     kWayOut));
  }
  if (!security.tokens && !security.client_certs) {
    return absl::FailedPreconditionError(absl::StrCat(
        prefix,
        "with TLS alone: it encrypts, but anyone may still call. Add --token-file, or --tls-ca to "
        "require client certificates",
        kWayOut));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<CoordinatorServer>> CoordinatorServer::Start(
    const CoordinatorServerOptions& options) {
  if (options.db_path.empty()) return absl::InvalidArgumentError("--db: missing");
  std::optional<auth::TokenTable> tokens;
  if (!options.token_file.empty()) {
    HPO_ASSIGN_OR_RETURN(tokens, auth::TokenTable::Load(options.token_file));
  }
  HPO_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> credentials,
                       auth::MakeServerCredentials(options.tls));
  ListenSecurity security;
  security.tls = !options.tls.cert.empty();
  security.tokens = tokens.has_value();
  security.client_certs = !options.tls.ca.empty();
  security.insecure = options.insecure;
  HPO_RETURN_IF_ERROR(CheckListenAddress(options.listen, security));
  if (!options.http_listen.empty() && !options.insecure &&
      !IsLoopbackAddress(options.http_listen)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--http ", options.http_listen,
        ": the dashboard is plain HTTP, so it listens on loopback only (127.0.0.1:PORT); reach "
        "it through an SSH tunnel or a TLS proxy, or pass --insecure to open it anyway"));
  }
  security.insecure = false;
  if (options.insecure && !CheckListenAddress(options.listen, security).ok()) {
    HPO_LOG(WARNING) << "INSECURE: serving " << options.listen << " with"
                     << (security.tls ? "" : " no encryption")
                     << (security.tokens || security.client_certs ? "" : " no authentication")
                     << ": anyone who reaches this port "
                     << (security.tokens || security.client_certs
                             ? "can read the traffic, tokens included"
                             : "can run commands on every worker")
                     << " (--insecure)";
  }
  std::unique_ptr<CoordinatorServer> s(new CoordinatorServer());
  // One coordinator per database: two would hand out the same trial numbers.
  HPO_ASSIGN_OR_RETURN(s->db_lock_, storage::DbLock::Acquire(options.db_path));
  storage::SqliteStorage::Options db;
  db.path = options.db_path;
  db.synchronous_full = options.synchronous_full;
  auto storage = storage::SqliteStorage::Create(db);
  if (!storage.ok()) {
    return core::Annotate(storage.status(), absl::StrCat("opening ", options.db_path));
  }
  s->storage_ = std::move(storage).value();
  HPO_ASSIGN_OR_RETURN(s->coordinator_,
                       Coordinator::Create(s->storage_.get(), options.coordinator));
  s->authenticator_ = std::make_unique<auth::CallAuthenticator>(std::move(tokens));
  s->study_service_ =
      std::make_unique<StudyServiceImpl>(s->coordinator_.get(), s->authenticator_.get());
  s->worker_service_ =
      std::make_unique<WorkerServiceImpl>(s->coordinator_.get(), s->authenticator_.get());

  // The standard grpc.health.v1.Health service (SERVING until Shutdown); no token needed.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(metrics::RpcMetricsInterceptor(&s->registry_));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  // A second coordinator on a taken port must fail, not share the port.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(core::kMaxRequestBytes);
  // gRPC's sync server ends a handler thread when more than MAX_POLLERS (default 2) are idle,
  // and starts another for the next call: with dozens of workers calling at once that was a
  // thread created and destroyed per RPC (stacks mapped and unmapped, TLB shootdowns).
  // Keeping up to 64 idle raised coordinator_capacity_bench at K = 64 from about 1,950 to
  // 2,450 trials/s here; 256 measured the same as 64.
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 2);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 64);
  builder.AddListeningPort(options.listen, credentials, &s->port_);
  builder.RegisterService(s->study_service_.get());
  builder.RegisterService(s->worker_service_.get());
  s->server_ = builder.BuildAndStart();
  if (s->server_ == nullptr || s->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.listen, " (address in use or malformed?)"));
  }
  s->AddCollectors();
  if (!options.metrics_listen.empty()) {
    HPO_ASSIGN_OR_RETURN(s->metrics_server_,
                         metrics::MetricsServer::Start(options.metrics_listen, &s->registry_,
                                                       [srv = s.get()] { return srv->Health(); }));
    HPO_LOG(INFO) << "metrics on http://"
                  << options.metrics_listen.substr(0, options.metrics_listen.rfind(':')) << ":"
                  << s->metrics_server_->port() << "/metrics";
  }
  if (!options.http_listen.empty()) {
    dashboard::DashboardOptions dashboard;
    dashboard.listen = options.http_listen;
    if (s->authenticator_->requires_token()) {
      dashboard.authorize = [auth = s->authenticator_.get()](absl::string_view token) {
        return auth->CheckToken(token, auth::Service::kStudy);
      };
    }
    HPO_ASSIGN_OR_RETURN(s->dashboard_,
                         dashboard::DashboardServer::Start(s->coordinator_.get(), dashboard));
    HPO_LOG(INFO) << "dashboard on http://"
                  << options.http_listen.substr(0, options.http_listen.rfind(':')) << ":"
                  << s->dashboard_->port() << "/";
  }
  if (options.reap_interval > absl::ZeroDuration()) {
    s->reaper_ =
        std::thread([srv = s.get(), interval = options.reap_interval] { srv->ReapLoop(interval); });
  }
  HPO_LOG(INFO) << "coordinator listening on port " << s->port_ << ", db " << options.db_path;
  return s;
}

CoordinatorServer::~CoordinatorServer() { Shutdown(absl::ZeroDuration()); }

std::string CoordinatorServer::local_address() const { return absl::StrCat("127.0.0.1:", port_); }

absl::Status CoordinatorServer::Health() const {
  if (stopping_.HasBeenNotified()) return absl::UnavailableError("shutting down");
  return absl::OkStatus();
}

void CoordinatorServer::AddCollectors() {
  registry_.Describe("hpo_trials", "gauge", "trials by study and state");
  registry_.Describe("hpo_study_queue_depth", "gauge", "PENDING trials waiting for a worker");
  registry_.Describe("hpo_leases_active", "gauge", "RUNNING trials, each leased to a worker");
  registry_.Describe("hpo_workers_live", "gauge", "workers heard from within a lease timeout");
  registry_.Describe("hpo_acquires_waiting", "gauge", "AcquireTrial calls waiting for work");
  registry_.Describe("hpo_studies", "gauge", "studies by state");
  Coordinator* coordinator = coordinator_.get();
  registry_.AddCollector([coordinator](metrics::GaugeWriter& out) {
    int64_t running = 0, live = 0;
    std::map<std::string, int> by_state;
    for (const hpo::v1::Study& study : coordinator->ListStudies()) {
      const std::string& name = study.spec().name();
      const hpo::v1::TrialCounts& c = study.counts();
      const std::pair<const char*, int> states[] = {
          {"PENDING", c.pending()}, {"RUNNING", c.running()}, {"COMPLETED", c.completed()},
          {"PRUNED", c.pruned()},   {"FAILED", c.failed()},   {"LOST", c.lost()}};
      for (const auto& [state, n] : states) {
        out.Set("hpo_trials", {{"study", name}, {"state", state}}, n);
      }
      out.Set("hpo_study_queue_depth", {{"study", name}}, c.pending());
      running += c.running();
      live = std::max<int64_t>(live, study.live_workers());
      ++by_state[std::string(core::StudyStateName(study.state()))];
    }
    for (const auto& [state, n] : by_state) out.Set("hpo_studies", {{"state", state}}, n);
    out.Set("hpo_leases_active", {}, running);
    out.Set("hpo_workers_live", {}, live);
    out.Set("hpo_acquires_waiting", {}, coordinator->WaitingAcquires());
  });
}

void CoordinatorServer::ReapLoop(absl::Duration interval) {
  while (!stopping_.WaitForNotificationWithTimeout(interval)) {
    auto lost = coordinator_->ExpireLeases();
    if (!lost.ok() && !absl::IsUnavailable(lost.status())) {
      HPO_LOG(ERROR) << "expiring leases: " << lost.status();
    }
  }
}

void CoordinatorServer::Shutdown(absl::Duration grace) {
  absl::MutexLock lock(&shutdown_mu_);
  if (stopped_.HasBeenNotified()) return;
  stopping_.Notify();
  if (reaper_.joinable()) reaper_.join();
  // Wake long polls and watches first, so the server's drain does not wait on them. A server
  // whose Start failed half-way has some of these missing.
  if (coordinator_ != nullptr) coordinator_->Shutdown();
  dashboard_.reset();  // its live streams ended with the watches
  if (server_ != nullptr) {
    if (server_->GetHealthCheckService() != nullptr) server_->GetHealthCheckService()->Shutdown();
    server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  }
  metrics_server_.reset();
  stopped_.Notify();
}

void CoordinatorServer::Wait() { stopped_.WaitForNotification(); }

}  // namespace hpo::server
