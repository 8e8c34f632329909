// Capacity of one coordinator on a SQLite file: K simulated workers (gRPC clients on their own
// channels) acquire a trial and complete it at once, as fast as they can. Prints trials/s and
// the p50/p99 latency of AcquireTrial for each K.
//
//   coordinator_capacity_bench --db /tmp/bench.db [--trials 4000] [--workers 16,64,256]
//       [--studies S]    (the null trials split over S studies)
//       [--rpc-floor]    (first, K clients making empty Heartbeat pairs: gRPC's own ceiling)
//       [--trial-ms T]   (each simulated trial runs T ms: an offered load of K/T per ms)
//       [--gp-beside N]  (a gp study of N trials beside them; p99 of the null studies' acquires)
//       [--secure DIR]   (TLS and tokens from deploy/make-secrets.sh DIR, to measure their cost)
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "auth/grpc_security.h"
#include "core/logging.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "hpo/v1/hpo.grpc.pb.h"
#include "server/coordinator_server.h"

namespace {

hpo::v1::StudySpec BenchSpec(const std::string& name, const std::string& optimizer, int trials,
                             int parallel) {
  hpo::v1::StudySpec spec;
  spec.set_name(name);
  spec.mutable_objective()->set_metric("value");
  spec.mutable_objective()->set_direction(hpo::v1::MINIMIZE);
  spec.mutable_optimizer()->set_name(optimizer);
  spec.mutable_optimizer()->set_seed(1);
  spec.mutable_early_stopping()->set_name("none");
  spec.mutable_budget()->set_max_trials(trials);
  spec.mutable_budget()->set_max_parallel(parallel);
  for (const char* p : {"x1", "x2"}) {
    auto* param = spec.mutable_space()->add_params();
    param->set_name(p);
    param->mutable_float_domain()->set_low(0);
    param->mutable_float_domain()->set_high(1);
  }
  spec.mutable_task()->set_builtin("branin");
  return spec;
}

struct Result {
  double trials_per_s = 0;  // null trials
  double p50_ms = 0;        // AcquireTrial calls that got a null trial
  double p99_ms = 0;
  int completed = 0;  // null trials
  int gp_completed = 0;
  double gp_p50_ms = 0;
  double gp_p99_ms = 0;
};

// How the simulated workers reach the coordinator (TLS and the worker token with --secure).
hpo::auth::ClientSecurity worker_security;

void CreateStudy(hpo::v1::StudyService::Stub& studies, const hpo::v1::StudySpec& spec) {
  grpc::ClientContext ctx;
  hpo::v1::CreateStudyRequest req;
  *req.mutable_spec() = spec;
  hpo::v1::Study study;
  grpc::Status s = studies.CreateStudy(&ctx, req, &study);
  if (!s.ok()) {
    std::fprintf(stderr, "create study: %s\n", s.error_message().c_str());
    std::exit(1);
  }
}

std::pair<double, double> Percentiles(std::vector<double> v) {
  if (v.empty()) return {0, 0};
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v[std::min(v.size() - 1, v.size() * 99 / 100)]};
}

// K workers share `trials` null trials (objective value at once) split over `null_studies`
// studies. With gp_trials > 0, a gp study of that many trials runs beside them (its trials are
// a quadratic of the parameters, so that the GP has something to fit) and the run lasts until
// the gp study ends, the null studies getting ever more budget.
Result RunOnce(const std::string& address, hpo::v1::StudyService::Stub& studies, int k, int trials,
               int null_studies, int gp_trials, int trial_ms) {
  const std::string prefix =
      absl::StrCat("capacity-k", k, "-", ::getpid(), "-", absl::ToUnixMicros(absl::Now()));
  const int per_study = gp_trials > 0 ? 100000000 : (trials + null_studies - 1) / null_studies;
  for (int i = 0; i < null_studies; ++i) {
    const int budget = gp_trials > 0 ? per_study : std::min(per_study, trials - i * per_study);
    CreateStudy(studies, BenchSpec(absl::StrCat(prefix, "-null", i), "random", budget, k));
  }
  const std::string gp_name = absl::StrCat(prefix, "-gp");
  if (gp_trials > 0) CreateStudy(studies, BenchSpec(gp_name, "gp", gp_trials, 4));

  std::vector<std::vector<double>> latencies(k), gp_latencies(k);
  std::vector<absl::Time> last_completion(k);
  std::atomic<int> completed{0}, gp_completed{0};
  std::atomic<bool> done{false};
  std::vector<std::thread> threads;
  const absl::Time start = absl::Now();
  for (int w = 0; w < k; ++w) {
    threads.emplace_back([&, w] {
      grpc::ChannelArguments args;
      args.SetInt("bench_channel_id", w);  // a distinct channel (own connection) per worker
      auto channel = hpo::auth::Connect(address, worker_security, args);
      if (!channel.ok()) {
        std::fprintf(stderr, "%s\n", std::string(channel.status().message()).c_str());
        return;
      }
      // Connected before the clock matters: a first call's TCP and HTTP/2 setup is not the
      // coordinator's latency.
      (*channel)->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10));
      auto stub = hpo::v1::WorkerService::NewStub(*channel);
      const std::string worker_id = absl::StrCat("bench-", w);
      std::mt19937_64 rng(w);
      // Workers of a running cluster are out of step: each starts within one trial time.
      if (trial_ms > 0) {
        absl::SleepFor(
            absl::Microseconds(std::uniform_int_distribution<int64_t>(0, trial_ms * 1000)(rng)));
      }
      int n = 0;
      while (!done.load()) {
        grpc::ClientContext actx;
        hpo::v1::AcquireTrialRequest areq;
        areq.set_worker_id(worker_id);
        areq.set_wait_ms(200);
        hpo::v1::AcquireTrialResponse aresp;
        const absl::Time t0 = absl::Now();
        grpc::Status s = stub->AcquireTrial(&actx, areq, &aresp);
        const double ms = absl::ToDoubleMilliseconds(absl::Now() - t0);
        if (!s.ok()) {
          std::fprintf(stderr, "acquire: %s\n", s.error_message().c_str());
          return;
        }
        if (!aresp.found()) {
          if (gp_trials > 0) continue;  // the gp study's slots are busy: ask again
          return;                       // the budget is spent
        }
        const bool gp = aresp.trial().study_name() == gp_name;
        // The simulated trial's run time, so that K workers offer about K / trial_ms trials per
        // ms rather than calling as fast as they can; uniform in [T/2, 3T/2], so that the
        // workers do not call in lockstep.
        if (trial_ms > 0) {
          absl::SleepFor(absl::Microseconds(
              std::uniform_int_distribution<int64_t>(trial_ms * 500, trial_ms * 1500)(rng)));
        }
        (gp ? gp_latencies : latencies)[w].push_back(ms);
        double value = 1.0;
        if (gp) {
          const auto& p = aresp.trial().params().values();
          const double x1 = p.at("x1").float_value(), x2 = p.at("x2").float_value();
          value = (x1 - 0.3) * (x1 - 0.3) + (x2 - 0.7) * (x2 - 0.7);
        }
        grpc::ClientContext cctx;
        hpo::v1::CompleteTrialRequest creq;
        creq.set_worker_id(worker_id);
        creq.set_trial_id(aresp.trial().id());
        creq.set_request_id(absl::StrCat(worker_id, "-", n++));
        creq.set_state(hpo::v1::COMPLETED);
        (*creq.mutable_final_metrics())["value"] = value;
        hpo::v1::Trial finished;
        s = stub->CompleteTrial(&cctx, creq, &finished);
        if (!s.ok()) {
          std::fprintf(stderr, "complete: %s\n", s.error_message().c_str());
          return;
        }
        if (gp) {
          if (gp_completed.fetch_add(1) + 1 == gp_trials) done.store(true);
        } else {
          completed.fetch_add(1);
          last_completion[w] = absl::Now();
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  // Each worker's final long poll waits for nothing: time runs until the last completion.
  const absl::Time end = *std::max_element(last_completion.begin(), last_completion.end());
  const double seconds = absl::ToDoubleSeconds(end - start);
  std::vector<double> all, gp_all;
  for (int w = 0; w < k; ++w) {
    all.insert(all.end(), latencies[w].begin(), latencies[w].end());
    gp_all.insert(gp_all.end(), gp_latencies[w].begin(), gp_latencies[w].end());
  }
  Result r;
  r.completed = completed.load();
  r.gp_completed = gp_completed.load();
  r.trials_per_s = r.completed / seconds;
  std::tie(r.p50_ms, r.p99_ms) = Percentiles(std::move(all));
  std::tie(r.gp_p50_ms, r.gp_p99_ms) = Percentiles(std::move(gp_all));
  return r;
}

// The same K clients, each making `pairs` pairs of Heartbeat calls that carry nothing: what
// two gRPC round trips per trial cost on this machine with no trial work at all, the ceiling of
// the closed loop above. Returns pairs per second.
double RpcFloor(const std::string& address, int k, int pairs) {
  std::vector<std::thread> threads;
  std::atomic<int> done{0};
  const absl::Time start = absl::Now();
  for (int w = 0; w < k; ++w) {
    threads.emplace_back([&, w] {
      grpc::ChannelArguments args;
      args.SetInt("bench_channel_id", w);
      auto channel = hpo::auth::Connect(address, worker_security, args);
      if (!channel.ok()) return;
      auto stub = hpo::v1::WorkerService::NewStub(*channel);
      hpo::v1::HeartbeatRequest request;
      request.set_worker_id(absl::StrCat("floor-", w));
      for (int i = 0; i < 2 * pairs; ++i) {
        grpc::ClientContext ctx;
        hpo::v1::HeartbeatResponse response;
        if (!stub->Heartbeat(&ctx, request, &response).ok()) return;
      }
      done.fetch_add(pairs);
    });
  }
  for (auto& t : threads) t.join();
  return done.load() / absl::ToDoubleSeconds(absl::Now() - start);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"coordinator capacity benchmark"};
  std::string db = "/tmp/hpo-capacity-bench.db";
  std::string coordinator;
  std::string workers_text = "16,64,256";
  int null_studies = 1;
  int gp_trials = 0;
  int trial_ms = 0;
  bool rpc_floor = false;
  int trials = 4000;
  bool sync_full = false;
  app.add_option("--db", db, "SQLite file for the in-process coordinator")->capture_default_str();
  app.add_option("--coordinator", coordinator, "use a running coordinator instead");
  app.add_option("--workers", workers_text, "values of K")->capture_default_str();
  app.add_option("--trials", trials, "trials per K")->capture_default_str();
  app.add_option("--studies", null_studies, "null-trial studies sharing the trials")
      ->capture_default_str();
  app.add_option("--gp-beside", gp_trials,
                 "also run a gp study of this many trials; runs last until it ends")
      ->capture_default_str();
  app.add_option("--trial-ms", trial_ms,
                 "each simulated trial runs this long (0: complete at once, a closed loop that "
                 "saturates the coordinator)")
      ->capture_default_str();
  app.add_flag("--rpc-floor", rpc_floor,
               "also time K clients making empty Heartbeat pairs: gRPC's own ceiling here");
  app.add_flag("--sync-full", sync_full, "fsync every commit (survives power loss)");
  std::string secure;
  app.add_option("--secure", secure,
                 "serve and call with TLS and tokens from this deploy/make-secrets.sh directory");
  CLI11_PARSE(app, argc, argv);
  // Abseil's deadlock detection (on in Debian's build of it) records every lock order in a
  // graph: turning it off took this bench at K = 64 from about 2,500 to 3,040 trials/s here
  // (docs/capacity.md). The tests keep it on.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  hpo::auth::ClientSecurity admin_security;
  if (!secure.empty()) {
    auto read = [](const std::string& path) {
      std::ifstream in(path);
      std::string token;
      in >> token;
      return token;
    };
    admin_security.tls.ca = worker_security.tls.ca = secure + "/ca.crt";
    admin_security.token = read(secure + "/admin-token");
    worker_security.token = read(secure + "/worker-token");
  }
  hpo::core::SetMinLogLevel(hpo::core::LogLevel::kWarning);

  std::unique_ptr<hpo::server::CoordinatorServer> server;
  std::string address = coordinator;
  if (address.empty()) {
    for (const char* suffix : {"", "-wal", "-shm"}) std::remove((db + suffix).c_str());
    hpo::server::CoordinatorServerOptions options;
    options.listen = "127.0.0.1:0";
    options.db_path = db;
    options.synchronous_full = sync_full;
    if (!secure.empty()) {
      options.token_file = secure + "/tokens";
      options.tls = {secure + "/tls.crt", secure + "/tls.key", ""};
    }
    auto started = hpo::server::CoordinatorServer::Start(options);
    if (!started.ok()) {
      std::fprintf(stderr, "%s\n", std::string(started.status().message()).c_str());
      return 1;
    }
    server = std::move(started).value();
    address = absl::StrCat("localhost:", server->port());  // the name the certificate holds
  }
  auto channel = hpo::auth::Connect(address, admin_security);
  if (!channel.ok()) {
    std::fprintf(stderr, "%s\n", std::string(channel.status().message()).c_str());
    return 1;
  }
  auto studies = hpo::v1::StudyService::NewStub(*channel);
  std::printf("coordinator %s, db %s, %d trials per run, SQLite WAL, synchronous=%s, %s\n",
              address.c_str(), coordinator.empty() ? db.c_str() : "(remote)", trials,
              coordinator.empty() ? (sync_full ? "FULL" : "NORMAL") : "?",
              secure.empty() ? "plaintext, no tokens" : "TLS and tokens");
  if (gp_trials > 0) {
    std::printf("%d null-trial studies beside one gp study of %d trials (4 in parallel)\n",
                null_studies, gp_trials);
    std::printf("%4s  %10s  %12s  %12s  %9s  %12s  %12s\n", "K", "null/s", "null acq p50",
                "null acq p99", "gp trials", "gp acq p50", "gp acq p99");
  } else {
    std::printf("%d null-trial studies, trials of %d ms\n", null_studies, trial_ms);
    std::printf("%4s  %10s  %12s  %12s\n", "K", "trials/s", "acquire p50", "acquire p99");
  }
  for (absl::string_view k_text : absl::StrSplit(workers_text, ',')) {
    int k = 0;
    if (!absl::SimpleAtoi(k_text, &k) || k < 1) {
      std::fprintf(stderr, "--workers: bad value '%s'\n", std::string(k_text).c_str());
      return 2;
    }
    if (rpc_floor) {
      std::printf("%4d  %10.0f  (empty Heartbeat pairs/s: gRPC alone)\n", k,
                  RpcFloor(address, k, std::max(1, trials / k)));
    }
    Result r = RunOnce(address, *studies, k, trials, null_studies, gp_trials, trial_ms);
    if (gp_trials > 0) {
      if (r.gp_completed != gp_trials) {
        std::fprintf(stderr, "only %d of %d gp trials completed\n", r.gp_completed, gp_trials);
        return 1;
      }
      std::printf("%4d  %10.0f  %9.3f ms  %9.3f ms  %9d  %9.3f ms  %9.3f ms\n", k, r.trials_per_s,
                  r.p50_ms, r.p99_ms, r.gp_completed, r.gp_p50_ms, r.gp_p99_ms);
    } else {
      if (r.completed != trials) {
        std::fprintf(stderr, "only %d of %d trials completed\n", r.completed, trials);
        return 1;
      }
      std::printf("%4d  %10.0f  %9.3f ms  %9.3f ms\n", k, r.trials_per_s, r.p50_ms, r.p99_ms);
    }
    std::fflush(stdout);
  }
  if (server) server->Shutdown();
  return 0;
}
