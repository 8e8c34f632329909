// Tokens with roles and TLS over real sockets: every RPC of both services checks the caller, the
// CLI and hpo-worker reach a TLS coordinator with their tokens, and mutual TLS refuses a client
// without a certificate from the right CA. The certificates are made with openssl at test time.
#include <sys/stat.h>

#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "auth/grpc_security.h"
#include "backend/backend.h"
#include "client/cli.h"
#include "client/format.h"
#include "core/study_spec.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "hpo/v1/hpo.grpc.pb.h"
#include "httplib.h"
#include "server/coordinator_server.h"
#include "tests/test_util.h"
#include "worker/test_util.h"

namespace hpo {
namespace {

using ::hpo::testing::PollUntil;
using ::hpo::testing::StartCoordinator;
using ::hpo::testing::StartWorker;
using ::hpo::testing::TempDir;
using ::hpo::testing::TerminateAndWait;
using ::hpo::worker::test_util::ReadFile;
using ::testing::HasSubstr;

constexpr char kAdmin[] = "admin-0123456789abcdef";
constexpr char kClient[] = "client-0123456789abcdef";
constexpr char kWorker[] = "worker-0123456789abcdef";

std::string WritePrivate(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
  chmod(path.c_str(), 0600);
  return path;
}

// A throwaway PKI in `dir`: ca.pem, server.{pem,key} for localhost and 127.0.0.1, client.{pem,key}
// signed by the same CA, and rogue-ca.pem with rogue-client.{pem,key} signed by another CA.
bool MakeCertificates(const std::string& dir) {
  const std::string script = absl::StrCat(R"(set -e
cd ')",
                                          dir, R"('
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out "$1" 2>/dev/null; chmod 600 "$1"; }
ca() { key "$1.key"; openssl req -x509 -new -key "$1.key" -out "$1.pem" -days 2 -subj "/CN=$1"; }
leaf() {  # name ca subject-alt-names
  key "$1.key"
  openssl req -new -key "$1.key" -out "$1.csr" -subj "/CN=$1"
  printf 'subjectAltName=%s\n' "$3" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -out "$1.pem" \
    -days 2 -extfile "$1.ext" 2>/dev/null
}
ca ca
ca rogue-ca
leaf server ca DNS:localhost,IP:127.0.0.1
leaf client ca DNS:hpo-client
leaf rogue-client rogue-ca DNS:hpo-client
)");
  const std::string path = dir + "/make-certs.sh";
  std::ofstream(path) << script;
  return std::system(absl::StrCat("bash '", path, "' > '", dir, "/make-certs.log' 2>&1").c_str()) ==
         0;
}

// One call of each RPC with `context`; the result's status.
using Call = std::function<grpc::Status(grpc::ClientContext*)>;

std::map<std::string, Call> StudyCalls(hpo::v1::StudyService::Stub* stub) {
  std::map<std::string, Call> calls;
  calls["CreateStudy"] = [stub](grpc::ClientContext* c) {
    hpo::v1::Study r;
    return stub->CreateStudy(c, hpo::v1::CreateStudyRequest(), &r);
  };
  calls["GetStudy"] = [stub](grpc::ClientContext* c) {
    hpo::v1::Study r;
    return stub->GetStudy(c, hpo::v1::GetStudyRequest(), &r);
  };
  calls["ListStudies"] = [stub](grpc::ClientContext* c) {
    hpo::v1::ListStudiesResponse r;
    return stub->ListStudies(c, hpo::v1::ListStudiesRequest(), &r);
  };
  calls["StopStudy"] = [stub](grpc::ClientContext* c) {
    hpo::v1::Study r;
    return stub->StopStudy(c, hpo::v1::StopStudyRequest(), &r);
  };
  calls["ListTrials"] = [stub](grpc::ClientContext* c) {
    hpo::v1::ListTrialsResponse r;
    return stub->ListTrials(c, hpo::v1::ListTrialsRequest(), &r);
  };
  calls["GetTrial"] = [stub](grpc::ClientContext* c) {
    hpo::v1::Trial r;
    return stub->GetTrial(c, hpo::v1::GetTrialRequest(), &r);
  };
  calls["EnqueueTrial"] = [stub](grpc::ClientContext* c) {
    hpo::v1::Trial r;
    return stub->EnqueueTrial(c, hpo::v1::EnqueueTrialRequest(), &r);
  };
  calls["GetBestTrial"] = [stub](grpc::ClientContext* c) {
    hpo::v1::Trial r;
    return stub->GetBestTrial(c, hpo::v1::GetBestTrialRequest(), &r);
  };
  calls["GetServerInfo"] = [stub](grpc::ClientContext* c) {
    hpo::v1::ServerInfo r;
    return stub->GetServerInfo(c, hpo::v1::GetServerInfoRequest(), &r);
  };
  calls["AskTrial"] = [stub](grpc::ClientContext* c) {
    hpo::v1::Trial r;
    return stub->AskTrial(c, hpo::v1::AskTrialRequest(), &r);
  };
  calls["TellTrial"] = [stub](grpc::ClientContext* c) {
    hpo::v1::Trial r;
    return stub->TellTrial(c, hpo::v1::CompleteTrialRequest(), &r);
  };
  calls["DeleteStudy"] = [stub](grpc::ClientContext* c) {
    hpo::v1::DeleteStudyResponse r;
    return stub->DeleteStudy(c, hpo::v1::DeleteStudyRequest(), &r);
  };
  calls["ExtendStudy"] = [stub](grpc::ClientContext* c) {
    hpo::v1::Study r;
    return stub->ExtendStudy(c, hpo::v1::ExtendStudyRequest(), &r);
  };
  calls["AddTrial"] = [stub](grpc::ClientContext* c) {
    hpo::v1::Trial r;
    return stub->AddTrial(c, hpo::v1::AddTrialRequest(), &r);
  };
  calls["WatchStudy"] = [stub](grpc::ClientContext* c) {
    hpo::v1::WatchStudyRequest req;
    req.set_study_name("no-such-study");
    auto reader = stub->WatchStudy(c, req);
    hpo::v1::StudyEvent event;
    while (reader->Read(&event)) {
    }
    return reader->Finish();
  };
  return calls;
}

std::map<std::string, Call> WorkerCalls(hpo::v1::WorkerService::Stub* stub) {
  std::map<std::string, Call> calls;
  calls["RegisterWorker"] = [stub](grpc::ClientContext* c) {
    hpo::v1::RegisterWorkerResponse r;
    return stub->RegisterWorker(c, hpo::v1::RegisterWorkerRequest(), &r);
  };
  calls["AcquireTrial"] = [stub](grpc::ClientContext* c) {
    hpo::v1::AcquireTrialRequest req;
    req.set_worker_id("nobody");
    hpo::v1::AcquireTrialResponse r;
    return stub->AcquireTrial(c, req, &r);
  };
  calls["ReportProgress"] = [stub](grpc::ClientContext* c) {
    hpo::v1::ReportProgressResponse r;
    return stub->ReportProgress(c, hpo::v1::ReportProgressRequest(), &r);
  };
  calls["CompleteTrial"] = [stub](grpc::ClientContext* c) {
    hpo::v1::Trial r;
    return stub->CompleteTrial(c, hpo::v1::CompleteTrialRequest(), &r);
  };
  calls["ReleaseTrial"] = [stub](grpc::ClientContext* c) {
    hpo::v1::Trial r;
    return stub->ReleaseTrial(c, hpo::v1::ReleaseTrialRequest(), &r);
  };
  calls["Heartbeat"] = [stub](grpc::ClientContext* c) {
    hpo::v1::HeartbeatResponse r;
    return stub->Heartbeat(c, hpo::v1::HeartbeatRequest(), &r);
  };
  return calls;
}

std::set<std::string> MethodNames(const std::string& service) {
  const auto* descriptor =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(service);
  std::set<std::string> names;
  if (descriptor == nullptr) return names;
  for (int i = 0; i < descriptor->method_count(); ++i) names.insert(descriptor->method(i)->name());
  return names;
}

template <typename Map>
std::set<std::string> Keys(const Map& map) {
  std::set<std::string> keys;
  for (const auto& [key, value] : map) keys.insert(key);
  return keys;
}

class SecurityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pki_ = new TempDir();
    certificates_made_ = MakeCertificates(pki_->path());
  }
  static void TearDownTestSuite() {
    delete pki_;
    pki_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(certificates_made_) << ReadFile(pki_->path() + "/make-certs.log");
    tokens_ = WritePrivate(dir_.File("tokens"), absl::StrCat("admin ", kAdmin, "\nclient ", kClient,
                                                             "\nworker ", kWorker, "\n"));
  }
  static std::string Pki(const std::string& name) { return pki_->path() + "/" + name; }

  std::unique_ptr<server::CoordinatorServer> Serve(server::CoordinatorServerOptions options) {
    if (options.listen == server::CoordinatorServerOptions().listen) options.listen = "127.0.0.1:0";
    options.db_path = dir_.File("hpo.db");
    auto s = server::CoordinatorServer::Start(options);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? std::move(s).value() : nullptr;
  }

  static TempDir* pki_;
  static bool certificates_made_;
  TempDir dir_;
  std::string tokens_;
};

TempDir* SecurityTest::pki_ = nullptr;
bool SecurityTest::certificates_made_ = false;

TEST_F(SecurityTest, EveryRpcChecksTheTokenAndItsRole) {
  server::CoordinatorServerOptions options;
  options.token_file = tokens_;
  auto server = Serve(options);
  ASSERT_NE(server, nullptr);
  auto channel = grpc::CreateChannel(server->local_address(), grpc::InsecureChannelCredentials());
  auto study_stub = hpo::v1::StudyService::NewStub(channel);
  auto worker_stub = hpo::v1::WorkerService::NewStub(channel);
  const auto study_calls = StudyCalls(study_stub.get());
  const auto worker_calls = WorkerCalls(worker_stub.get());
  // The tables cover every method: a new RPC without a check fails here first.
  ASSERT_EQ(Keys(study_calls), MethodNames("hpo.v1.StudyService"));
  ASSERT_EQ(Keys(worker_calls), MethodNames("hpo.v1.WorkerService"));

  auto status_with = [](const Call& call, const std::string& header) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    if (!header.empty()) context.AddMetadata("authorization", header);
    return call(&context);
  };
  const std::string bearer = "Bearer ";
  struct Service {
    const std::map<std::string, Call>* calls;
    const char* allowed;  // the non-admin role's token
    const char* denied;
  } services[] = {{&study_calls, kClient, kWorker}, {&worker_calls, kWorker, kClient}};
  for (const Service& service : services) {
    for (const auto& [method, call] : *service.calls) {
      SCOPED_TRACE(method);
      grpc::Status none = status_with(call, "");
      EXPECT_EQ(none.error_code(), grpc::StatusCode::UNAUTHENTICATED);
      EXPECT_THAT(none.error_message(), HasSubstr("requires a token"));
      EXPECT_EQ(status_with(call, bearer + "not-a-token-we-know-at-all").error_code(),
                grpc::StatusCode::UNAUTHENTICATED);
      EXPECT_EQ(status_with(call, kAdmin).error_code(), grpc::StatusCode::UNAUTHENTICATED)
          << "the token must come as a bearer token";
      grpc::Status denied = status_with(call, bearer + service.denied);
      EXPECT_EQ(denied.error_code(), grpc::StatusCode::PERMISSION_DENIED);
      EXPECT_THAT(denied.error_message(), HasSubstr("token may not call the"));
      // The right roles get past the check (to the handler's own answer about an empty request).
      for (const char* token : {service.allowed, kAdmin}) {
        grpc::Status allowed = status_with(call, bearer + token);
        EXPECT_NE(allowed.error_code(), grpc::StatusCode::UNAUTHENTICATED) << token;
        EXPECT_NE(allowed.error_code(), grpc::StatusCode::PERMISSION_DENIED) << token;
      }
    }
  }
  // Nothing the refused calls asked for happened.
  EXPECT_TRUE(server->coordinator()->ListStudies().empty());
}

TEST_F(SecurityTest, CliAndWorkerRunAStudyOverTlsWithTokens) {
  // The binaries, as an operator runs them: beyond loopback, with TLS and tokens.
  int port = 0;
  auto coordinator = StartCoordinator(
      "0.0.0.0:0", dir_.File("hpo.db"), 10, dir_.File("coordinator.log"), &port,
      {"--token-file", tokens_, "--tls-cert", Pki("server.pem"), "--tls-key", Pki("server.key")});
  ASSERT_NE(coordinator, nullptr) << ReadFile(dir_.File("coordinator.log"));
  const std::string address = absl::StrCat("localhost:", port);
  const std::string study = dir_.File("study.yaml");
  std::ofstream(study) << R"(name: secure
objective: {metric: value, direction: minimize}
optimizer: {name: random, seed: 1}
budget: {max_trials: 4, max_parallel: 2}
space:
  x1: {type: float, low: -5, high: 10}
  x2: {type: float, low: 0, high: 15}
task: {builtin: branin}
)";
  auto cli = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--coordinator", address});
    return testing::Cli(std::move(args));
  };
  const std::string ca = Pki("ca.pem");
  unsetenv("HPO_TOKEN");
  testing::CliResult r = cli({"--tls-ca", ca, "study", "list"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("requires a token"));
  r = cli({"study", "list"});  // no TLS: the handshake fails
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("if it serves TLS, pass --tls-ca"));
  r = cli({"--tls-ca", Pki("rogue-ca.pem"), "study", "list"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("chain to --tls-ca"));
  const std::string worker_token = WritePrivate(dir_.File("worker-token"), kWorker);
  r = cli({"--tls-ca", ca, "--token-file", worker_token, "study", "list"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("a worker token may not call the StudyService"));

  setenv("HPO_TOKEN", kClient, 1);
  setenv("HPO_TLS_CA", ca.c_str(), 1);  // as a user's shell profile would
  r = cli({"study", "create", "-f", study});
  unsetenv("HPO_TLS_CA");
  ASSERT_EQ(r.code, 0) << r.err;

  auto worker = StartWorker(address, 2, "w-secure", dir_.path(),
                            {"--token-file", worker_token, "--tls-ca", ca});
  ASSERT_NE(worker, nullptr);
  ASSERT_TRUE(PollUntil(
      [&] {
        const testing::CliResult shown = cli({"--tls-ca", ca, "study", "show", "secure"});
        return shown.code == 0 && shown.out.find("COMPLETED") != std::string::npos &&
               shown.out.find("completed 4") != std::string::npos;
      },
      absl::Seconds(60)))
      << cli({"--tls-ca", ca, "study", "show", "secure"}).out
      << ReadFile(dir_.File("w-secure.log"));
  unsetenv("HPO_TOKEN");
  EXPECT_EQ(TerminateAndWait(*worker, absl::Seconds(30)), 0);
  EXPECT_EQ(TerminateAndWait(*coordinator, absl::Seconds(30)), 0);
}

TEST_F(SecurityTest, MutualTlsRequiresAClientCertificateFromTheCa) {
  server::CoordinatorServerOptions options;
  options.listen = "0.0.0.0:0";  // mutual TLS is a credential on its own
  options.tls = {Pki("server.pem"), Pki("server.key"), Pki("ca.pem")};
  auto server = Serve(options);
  ASSERT_NE(server, nullptr);
  const std::string address = absl::StrCat("localhost:", server->port());
  auto connect = [&](auth::TlsFiles tls) {
    auth::ClientSecurity security;
    security.tls = std::move(tls);
    return backend::ConnectGrpc(address, security, absl::Seconds(2));
  };
  auto with_cert = connect({Pki("client.pem"), Pki("client.key"), Pki("ca.pem")});
  ASSERT_TRUE(with_cert.ok()) << with_cert.status();
  EXPECT_TRUE((*with_cert)->ListStudies().ok());
  EXPECT_EQ(connect({"", "", Pki("ca.pem")}).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(
      connect({Pki("rogue-client.pem"), Pki("rogue-client.key"), Pki("ca.pem")}).status().code(),
      absl::StatusCode::kUnavailable);
}

TEST_F(SecurityTest, BadSecurityFlagsAreRefusedByName) {
  server::CoordinatorServerOptions options;
  options.tls.cert = Pki("server.pem");
  auto half = server::CoordinatorServer::Start([&] {
    auto o = options;
    o.db_path = dir_.File("a.db");
    return o;
  }());
  EXPECT_EQ(half.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(half.status().message(), HasSubstr("--tls-cert and --tls-key go together"));

  options.tls.key = Pki("server.pem");  // a certificate where the key should be
  chmod(Pki("server.pem").c_str(), 0600);
  options.db_path = dir_.File("b.db");
  auto wrong = server::CoordinatorServer::Start(options);
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(wrong.status().message(), HasSubstr("not a PEM file holding a PRIVATE KEY"));
  chmod(Pki("server.pem").c_str(), 0644);

  const std::string open_key = dir_.File("open.key");
  std::ofstream(open_key) << ReadFile(Pki("server.key"));
  chmod(open_key.c_str(), 0644);
  options.tls.key = open_key;
  auto readable = server::CoordinatorServer::Start(options);
  EXPECT_EQ(readable.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(readable.status().message(), HasSubstr("--tls-key " + open_key + ": mode 0644"));

  options = {};
  options.db_path = dir_.File("c.db");
  options.token_file = dir_.File("open-tokens");
  std::ofstream(options.token_file) << "admin " << kAdmin << "\n";
  chmod(options.token_file.c_str(), 0644);
  auto tokens = server::CoordinatorServer::Start(options);
  EXPECT_EQ(tokens.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(tokens.status().message(), HasSubstr("chmod 600"));

  // Tokens without TLS stay on loopback.
  options.token_file = tokens_;
  options.listen = "0.0.0.0:0";
  auto clear = server::CoordinatorServer::Start(options);
  EXPECT_EQ(clear.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(clear.status().message(), HasSubstr("tokens would cross the network in clear text"));
}

TEST_F(SecurityTest, WorkersRunOnlyTheCommandsTheyAllow) {
  auto server = Serve({});
  ASSERT_NE(server, nullptr);
  const std::string script = dir_.File("run.sh");
  std::ofstream(script) << "#!/bin/sh\necho \"hpo-metric {\\\"value\\\": $1}\"\n";
  chmod(script.c_str(), 0755);
  auto parsed = core::ParseStudyYaml(absl::StrCat(R"(name: cmd
objective: {metric: value, direction: minimize}
optimizer: {name: random, seed: 1}
budget: {max_trials: 3, max_parallel: 1}
space:
  x: {type: float, low: 0, high: 1}
task: {command: [")",
                                                  script, R"(", "{x}"]}
)"));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_TRUE(server->coordinator()->CreateStudy(*parsed).ok());

  // A watcher (hpo watch) hears of it when a worker that will not run it comes along.
  auto watcher = backend::ConnectGrpc(server->local_address(), {}, absl::Seconds(5));
  ASSERT_TRUE(watcher.ok());
  absl::Mutex mu;
  std::string progress_line;  // guarded by mu
  std::thread watch([&] {
    (void)(*watcher)->Watch("cmd", [&](const hpo::v1::StudyEvent& e) {
      if (e.study().not_accepted().empty()) return true;
      absl::MutexLock lock(&mu);
      progress_line = client::ProgressLine(e.study());
      return false;
    });
  });
  // A worker started as the README shows runs built-in tasks only: the study says it waits.
  auto builtin_only = StartWorker(server->local_address(), 1, "w-builtin", dir_.path());
  ASSERT_NE(builtin_only, nullptr);
  const bool heard = PollUntil(
      [&] {
        absl::MutexLock lock(&mu);
        return !progress_line.empty();
      },
      absl::Seconds(30));
  if (!heard) server->Shutdown();  // ends the watch, which still waits
  watch.join();
  ASSERT_TRUE(heard) << "the watch never said why the study waits";
  EXPECT_THAT(progress_line, HasSubstr("[0/3] running 0"));
  EXPECT_THAT(progress_line, HasSubstr("; waiting: no live worker accepts this study's trials"));
  auto show = [&] {
    return testing::Cli({"--coordinator", server->local_address(), "study", "show", "cmd"}).out;
  };
  ASSERT_TRUE(
      PollUntil([&] { return show().find("waiting:") != std::string::npos; }, absl::Seconds(30)))
      << show();
  const std::string waiting = show();
  EXPECT_THAT(waiting, HasSubstr("workers: 1 live, 0 accept its trials"));
  EXPECT_THAT(waiting, HasSubstr("no live worker accepts this study's trials: the worker runs no "
                                 "commands, and this study runs '" +
                                 script + "' (start hpo-worker with --allow-command PREFIX)"));
  EXPECT_EQ(server->coordinator()->GetStudy("cmd")->counts().running(), 0);

  // One that allows the script's directory runs the study to its end.
  auto allowed = StartWorker(server->local_address(), 1, "w-allowed", dir_.path(),
                             {"--allow-command", dir_.path()});
  ASSERT_NE(allowed, nullptr);
  ASSERT_TRUE(PollUntil(
      [&] { return server->coordinator()->GetStudy("cmd")->state() == hpo::v1::STUDY_COMPLETED; },
      absl::Seconds(60)))
      << show();
  auto page = server->coordinator()->ListTrials("cmd", hpo::v1::TRIAL_STATE_UNSPECIFIED, 0, "");
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->trials.size(), 3u);
  for (const auto& t : page->trials) {
    EXPECT_EQ(t.state(), hpo::v1::COMPLETED);
    EXPECT_EQ(t.worker_id(), "w-allowed");
    EXPECT_DOUBLE_EQ(t.value(), t.params().values().at("x").float_value());
  }
  EXPECT_EQ(TerminateAndWait(*builtin_only, absl::Seconds(30)), 0);
  EXPECT_EQ(TerminateAndWait(*allowed, absl::Seconds(30)), 0);
}

TEST_F(SecurityTest, HealthAndMetricsAnswerWithoutAToken) {
  server::CoordinatorServerOptions options;
  options.token_file = tokens_;
  options.metrics_listen = "127.0.0.1:0";
  auto server = Serve(options);
  ASSERT_NE(server, nullptr);
  ASSERT_GT(server->metrics_port(), 0);
  auth::ClientSecurity admin;
  admin.token = kAdmin;
  auto backend = backend::ConnectGrpc(server->local_address(), admin, absl::Seconds(5));
  ASSERT_TRUE(backend.ok()) << backend.status();
  auto spec = core::ParseStudyYaml(R"(name: observed
objective: {metric: value, direction: minimize}
budget: {max_trials: 5, max_parallel: 2}
space:
  x: {type: float, low: 0, high: 1}
task: {builtin: branin}
)");
  ASSERT_TRUE(spec.ok());
  ASSERT_TRUE((*backend)->CreateStudy(*spec).ok());
  auto anonymous = backend::ConnectGrpc(server->local_address(), {}, absl::Seconds(5));
  ASSERT_TRUE(anonymous.ok());
  EXPECT_EQ((*anonymous)->ListStudies().status().code(), absl::StatusCode::kUnauthenticated);

  // The standard gRPC health check, as a probe calls it: no token (`hpo health`).
  EXPECT_TRUE(backend::CheckHealth(server->local_address(), {}, absl::Seconds(10)).ok());
  const testing::CliResult health =
      testing::Cli({"--coordinator", server->local_address(), "health"});
  EXPECT_EQ(health.code, 0) << health.err;
  EXPECT_EQ(health.out, "SERVING\n");

  httplib::Client http("127.0.0.1", server->metrics_port());
  auto healthz = http.Get("/healthz");
  ASSERT_TRUE(healthz);
  EXPECT_EQ(healthz->status, 200);
  auto metrics = http.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  const std::string& text = metrics->body;
  server->Shutdown();
  EXPECT_EQ(backend::CheckHealth(server->local_address(), {}, absl::Seconds(2)).code(),
            absl::StatusCode::kUnavailable);
  EXPECT_THAT(text, HasSubstr("hpo_trials{study=\"observed\",state=\"PENDING\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("hpo_study_queue_depth{study=\"observed\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("hpo_studies{state=\"RUNNING\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("hpo_leases_active 0\n"));
  EXPECT_THAT(text,
              HasSubstr("hpo_rpc_total{method=\"StudyService/CreateStudy\",code=\"OK\"} 1\n"));
  EXPECT_THAT(
      text,
      HasSubstr("hpo_rpc_total{method=\"StudyService/ListStudies\",code=\"UNAUTHENTICATED\"} 1\n"));
  EXPECT_THAT(text,
              HasSubstr("hpo_rpc_duration_seconds_count{method=\"StudyService/CreateStudy\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE hpo_rpc_duration_seconds histogram\n"));
}

TEST_F(SecurityTest, OversizedRequestsAreRefused) {
  auto server = Serve({});
  ASSERT_NE(server, nullptr);
  auto backend = backend::ConnectGrpc(server->local_address(), {}, absl::Seconds(5));
  ASSERT_TRUE(backend.ok());
  hpo::v1::StudySpec spec;
  spec.set_name("huge");
  spec.mutable_task()->mutable_command()->add_argv(std::string(5 << 20, 'x'));
  auto refused = (*backend)->CreateStudy(spec);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(server->coordinator()->ListStudies().empty());
  EXPECT_TRUE((*backend)->ListStudies().ok());  // the server is still there
}

TEST_F(SecurityTest, AWorkerTokenCannotTouchAnotherWorkersTrial) {
  server::CoordinatorServerOptions options;
  options.token_file = tokens_;
  auto server = Serve(options);
  ASSERT_NE(server, nullptr);
  auto spec = core::ParseStudyYaml(R"(name: leased
objective: {metric: value, direction: minimize}
budget: {max_trials: 2, max_parallel: 2}
space:
  x: {type: float, low: 0, high: 1}
task: {builtin: branin}
)");
  ASSERT_TRUE(spec.ok());
  ASSERT_TRUE(server->coordinator()->CreateStudy(*spec).ok());
  auth::ClientSecurity worker;
  worker.token = kWorker;
  auto channel = auth::Connect(server->local_address(), worker);
  ASSERT_TRUE(channel.ok());
  auto stub = hpo::v1::WorkerService::NewStub(*channel);
  auto call = [](auto rpc) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    return rpc(&context);
  };
  hpo::v1::AcquireTrialRequest acquire;
  acquire.set_worker_id("w1");
  hpo::v1::AcquireTrialResponse leased;
  ASSERT_TRUE(
      call([&](grpc::ClientContext* c) { return stub->AcquireTrial(c, acquire, &leased); }).ok());
  ASSERT_TRUE(leased.found());
  // The same token, another worker id: the lease decides, not the token.
  hpo::v1::CompleteTrialRequest complete;
  complete.set_worker_id("w2");
  complete.set_trial_id(leased.trial().id());
  complete.set_request_id("w2-steal");
  complete.set_state(hpo::v1::COMPLETED);
  (*complete.mutable_final_metrics())["value"] = -1e9;
  hpo::v1::Trial trial;
  grpc::Status stolen =
      call([&](grpc::ClientContext* c) { return stub->CompleteTrial(c, complete, &trial); });
  EXPECT_EQ(stolen.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(stolen.error_message(), HasSubstr("is not leased to worker 'w2'"));
  hpo::v1::ReportProgressRequest report;
  report.set_worker_id("w2");
  report.set_trial_id(leased.trial().id());
  (*report.mutable_measurement()->mutable_metrics())["value"] = 1;
  hpo::v1::ReportProgressResponse reported;
  EXPECT_EQ(call([&](grpc::ClientContext* c) {
              return stub->ReportProgress(c, report, &reported);
            }).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(server->coordinator()->GetTrial(leased.trial().id())->state(), hpo::v1::RUNNING);
}

}  // namespace
}  // namespace hpo
