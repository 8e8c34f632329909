// A study with many trials, each with its learning curve: how long the coordinator takes to load
// it from SQLite, how much memory it then holds, and how long listing every trial takes: in
// process, as `hpo --db FILE trials STUDY` (which loads it first), and as
// `hpo --coordinator ADDR trials STUDY` against a coordinator serving the file.
//
//   large_study_bench [--db /tmp/hpo-large.db] [--trials 100000] [--steps 50] [--hpo PATH]
//       [--running]   (the study has not ended: every curve stays in the coordinator's memory)
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/logging.h"
#include "server/coordinator.h"
#include "server/coordinator_server.h"
#include "storage/sqlite_storage.h"

namespace {

// This process's resident memory in MiB (VmRSS).
double RssMiB() {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == "VmRSS:") {
      double kib = 0;
      status >> kib;
      return kib / 1024;
    }
  }
  return -1;
}

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"a large study: load time, memory, and listing time"};
  std::string db = "/tmp/hpo-large.db";
  int trials = 100000, steps = 50;
  std::string hpo;
  app.add_option("--db", db, "SQLite file to fill (replaced)")->capture_default_str();
  app.add_option("--trials", trials, "completed trials")->capture_default_str();
  app.add_option("--steps", steps, "measurements per trial")->capture_default_str();
  app.add_option("--hpo", hpo, "the hpo CLI, to time `hpo trials large` too");
  bool running = false;
  app.add_flag("--running", running, "leave the study running (its curves stay in memory)");
  CLI11_PARSE(app, argc, argv);
  hpo::core::SetMinLogLevel(hpo::core::LogLevel::kWarning);

  for (const char* suffix : {"", "-wal", "-shm"}) std::remove((db + suffix).c_str());
  absl::Time t0 = absl::Now();
  {
    hpo::storage::SqliteStorage::Options options;
    options.path = db;
    auto storage = hpo::storage::SqliteStorage::Create(options);
    if (!storage.ok()) return Fail(storage.status());
    hpo::v1::StudySpec spec;
    spec.set_name("large");
    spec.mutable_objective()->set_metric("value");
    spec.mutable_objective()->set_direction(hpo::v1::MINIMIZE);
    spec.mutable_optimizer()->set_name("random");
    spec.mutable_early_stopping()->set_name("none");
    spec.mutable_budget()->set_max_trials(running ? trials + 1 : trials);
    spec.mutable_budget()->set_max_parallel(1);
    auto* x = spec.mutable_space()->add_params();
    x->set_name("x");
    x->mutable_float_domain()->set_low(0);
    x->mutable_float_domain()->set_high(1);
    spec.mutable_task()->set_builtin("branin");
    auto study = (*storage)->CreateStudy(spec, 1, 1);
    if (!study.ok()) return Fail(study.status());
    std::vector<hpo::v1::Measurement> curve(steps);
    for (int n = 0; n < trials; ++n) {
      hpo::v1::Trial t;
      t.set_study_id(study->id());
      t.set_number(n);
      t.set_state(hpo::v1::COMPLETED);
      t.set_worker_id("w");
      t.set_create_time_ms(1000 + n);
      t.set_start_time_ms(1000 + n);
      t.set_end_time_ms(2000 + n);
      const double v = (n % 997) / 997.0;
      (*t.mutable_params()->mutable_values())["x"].set_float_value(v);
      t.set_value(v);
      (*t.mutable_final_metrics())["value"] = v;
      auto stored = (*storage)->InsertTrial(t);
      if (!stored.ok()) return Fail(stored.status());
      for (int s = 0; s < steps; ++s) {
        curve[s].set_step(s + 1);
        curve[s].set_time_ms(1000 + s);
        (*curve[s].mutable_metrics())["value"] = v + 1.0 / (s + 1);
      }
      if (auto s = (*storage)->AppendMeasurements(stored->id(), curve); !s.ok()) return Fail(s);
    }
    if (!running) {
      auto done = (*storage)->EndStudy(study->id(), hpo::v1::STUDY_COMPLETED, 3000, {});
      if (!done.ok()) return Fail(done);
    }
  }
  std::printf("filled %s: %d trials x %d measurements in %.1f s; the study %s\n", db.c_str(),
              trials, steps, absl::ToDoubleSeconds(absl::Now() - t0),
              running ? "is running" : "has ended");

  const double rss_before = RssMiB();
  t0 = absl::Now();
  hpo::storage::SqliteStorage::Options options;
  options.path = db;
  auto storage = hpo::storage::SqliteStorage::Create(options);
  if (!storage.ok()) return Fail(storage.status());
  auto coordinator = hpo::server::Coordinator::Create(storage->get(), {});
  if (!coordinator.ok()) return Fail(coordinator.status());
  std::printf("coordinator load: %.2f s, resident memory %.0f MiB (%.0f MiB before)\n",
              absl::ToDoubleSeconds(absl::Now() - t0), RssMiB(), rss_before);

  t0 = absl::Now();
  size_t listed = 0;
  std::string token;
  do {
    auto page = (*coordinator)->ListTrials("large", hpo::v1::TRIAL_STATE_UNSPECIFIED, 0, token);
    if (!page.ok()) return Fail(page.status());
    listed += page->trials.size();
    token = page->next_page_token;
  } while (!token.empty());
  std::printf("list every trial in process: %zu trials in %.3f s\n", listed,
              absl::ToDoubleSeconds(absl::Now() - t0));
  coordinator->reset();

  if (!hpo.empty()) {
    t0 = absl::Now();
    const int rc = std::system(
        absl::StrCat(hpo, " --db ", db, " trials large --format csv > /dev/null").c_str());
    std::printf("hpo --db FILE trials large --format csv: exit %d in %.2f s\n", WEXITSTATUS(rc),
                absl::ToDoubleSeconds(absl::Now() - t0));

    hpo::server::CoordinatorServerOptions server_options;
    server_options.listen = "127.0.0.1:0";
    server_options.db_path = db;
    t0 = absl::Now();
    auto server = hpo::server::CoordinatorServer::Start(server_options);
    if (!server.ok()) return Fail(server.status());
    std::printf("hpo-coordinator start on the file: %.2f s, resident memory %.0f MiB\n",
                absl::ToDoubleSeconds(absl::Now() - t0), RssMiB());
    for (const char* format : {"csv", "table"}) {
      t0 = absl::Now();
      const int rc = std::system(absl::StrCat(hpo, " --coordinator 127.0.0.1:", (*server)->port(),
                                              " trials large --format ", format, " > /dev/null")
                                     .c_str());
      std::printf("hpo --coordinator ADDR trials large --format %s: exit %d in %.2f s\n", format,
                  WEXITSTATUS(rc), absl::ToDoubleSeconds(absl::Now() - t0));
    }
    (*server)->Shutdown();
  }
  return 0;
}
