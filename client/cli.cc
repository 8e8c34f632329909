#include "client/cli.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "backend/backend.h"
#include "client/bench_command.h"
#include "client/format.h"
#include "client/importance_command.h"
#include "client/progress_printer.h"
#include "client/run_command.h"
#include "client/stopper_bench_command.h"
#include "core/search_space.h"
#include "core/status_macros.h"
#include "core/trial_states.h"
#include "dashboard/dashboard_server.h"
#include "server/coordinator_server.h"

namespace hpo::client {
namespace {

struct Target {
  std::string coordinator;
  std::string db;
  std::string token_file;
  auth::TlsFiles tls;

  absl::StatusOr<auth::ClientSecurity> Security() const {
    return auth::ClientSecurity::FromFlags(token_file, tls);
  }
};

std::string DefaultCoordinator() {
  const char* env = std::getenv("HPO_COORDINATOR");
  return env != nullptr && *env != '\0' ? env : "localhost:50051";
}

absl::StatusOr<std::unique_ptr<backend::Backend>> Open(const Target& target,
                                                       bool create_db = false) {
  if (!target.db.empty()) return backend::OpenLocal(target.db, create_db);
  absl::StatusOr<auth::ClientSecurity> security = target.Security();
  if (!security.ok()) return security.status();
  return backend::ConnectGrpc(target.coordinator, *security, absl::Seconds(3));
}

// Prints the error the way every command does, and gives the exit code.
int Fail(std::ostream& err, const absl::Status& status) {
  err << "hpo: " << status.message() << "\n";
  return 1;
}

// `hpo dashboard --db FILE`: the dashboard over an embedded coordinator on the file, until
// SIGINT or SIGTERM. A file that a running coordinator owns is shown as it was when opened.
int ServeDashboard(const std::string& db, const std::string& listen, std::ostream& out,
                   std::ostream& err) {
  if (db.empty()) {
    return Fail(err, absl::InvalidArgumentError(
                         "dashboard: give --db FILE (a coordinator serves its own with --http)"));
  }
  if (!server::IsLoopbackAddress(listen)) {
    return Fail(err, absl::FailedPreconditionError(absl::StrCat(
                         "--http ", listen,
                         ": the dashboard is plain HTTP, so `hpo dashboard` serves loopback only; "
                         "reach it from elsewhere through an SSH tunnel")));
  }
  // Blocked before any thread starts, so that only sigwait below takes them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  auto local = backend::OpenLocalCoordinator(db, /*create=*/false);
  if (!local.ok()) return Fail(err, local.status());
  dashboard::DashboardOptions options;
  options.listen = listen;
  auto server = dashboard::DashboardServer::Start((*local)->coordinator.get(), options);
  if (!server.ok()) return Fail(err, server.status());
  out << "dashboard of " << db << " on http://" << listen.substr(0, listen.rfind(':')) << ":"
      << (*server)->port() << "/ (Ctrl-C stops it)" << std::endl;
  int sig = 0;
  sigwait(&signals, &sig);
  return 0;
}

// --param name=value arguments, typed by the study's space.
absl::StatusOr<hpo::v1::ParamMap> ParseParams(const hpo::v1::Study& study,
                                              const std::vector<std::string>& params) {
  hpo::v1::ParamMap map;
  for (const std::string& p : params) {
    std::pair<std::string, std::string> kv = absl::StrSplit(p, absl::MaxSplits('=', 1));
    if (p.find('=') == std::string::npos || kv.first.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("--param '", p, "': expected name=value"));
    }
    const auto* spec = core::FindParam(study.spec().space(), kv.first);
    if (spec == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--param ", kv.first, ": study '", study.spec().name(), "' has no such parameter"));
    }
    HPO_ASSIGN_OR_RETURN(hpo::v1::ParamValue value, core::ParseValue(*spec, kv.second));
    if (map.values().contains(kv.first)) {
      return absl::InvalidArgumentError(absl::StrCat("--param ", kv.first, " is given twice"));
    }
    (*map.mutable_values())[kv.first] = value;
  }
  return map;
}

}  // namespace

int RunCli(int argc, char** argv, std::ostream& out, std::ostream& err) {
  CLI::App app{"hpo: hyperparameter optimization service client"};
  app.set_version_flag("--version", std::string("hpo ") + HPO_VERSION);
  app.require_subcommand(1);
  app.fallthrough();
  Target target;
  target.coordinator = DefaultCoordinator();
  if (const char* ca = std::getenv("HPO_TLS_CA"); ca != nullptr) target.tls.ca = ca;
  app.add_option("--coordinator", target.coordinator,
                 "coordinator address (default $HPO_COORDINATOR, else localhost:50051)");
  app.add_option("--db", target.db, "read and write a SQLite file directly, no coordinator");
  app.add_option("--token-file", target.token_file,
                 "send the token in this file (mode 600) with every call (default $HPO_TOKEN)");
  app.add_option("--tls-ca", target.tls.ca,
                 "reach the coordinator over TLS, trusting this CA (PEM; default $HPO_TLS_CA)");
  app.add_option("--tls-cert", target.tls.cert,
                 "present this client certificate (PEM; with --tls-key) for mutual TLS");
  app.add_option("--tls-key", target.tls.key, "the client certificate's private key (PEM)");

  // ---- hpo bench, hpo bench-stoppers
  BenchFlags bench_flags;
  auto* bench = AddBenchCommand(app, &bench_flags);
  StopperBenchFlags stopper_bench_flags;
  auto* bench_stoppers = AddStopperBenchCommand(app, &stopper_bench_flags);

  // ---- hpo run
  RunOptions run_options;
  auto* run = app.add_subcommand("run", "run a study to its budget with local workers");
  run->add_option("file", run_options.study_file, "study file (YAML)")->required();
  run->add_option("--workers", run_options.workers, "local workers, one trial each")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  auto* run_db = run->add_option("--db", run_options.db_path, "SQLite file that keeps the history")
                     ->capture_default_str();
  run->add_option("--hpo-task", run_options.hpo_task_path,
                  "hpo-task executable for builtin tasks (default: next to hpo, else PATH)");
  run->add_option("--lease-timeout-s", run_options.lease_timeout_s,
                  "seconds of worker silence before a trial is LOST")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);

  // ---- hpo study ...
  auto* study = app.add_subcommand("study", "create, list, show and stop studies");
  study->require_subcommand(1);
  std::string study_file, study_name;
  auto* create = study->add_subcommand("create", "create a study from a YAML file");
  create->add_option("-f,--file", study_file, "study file")->required();
  std::vector<std::string> warm_start_from;
  create->add_option("--warm-start-from", warm_start_from,
                     "an earlier study whose completed trials seed the optimizer (repeatable; "
                     "adds to the file's optimizer.warm_start_from)");
  std::string format = "table";
  auto add_format = [&format](CLI::App* command) {
    command->add_option("--format", format, "table (default), json, csv or yaml")
        ->check(CLI::IsMember(std::vector<std::string>(std::begin(kFormats), std::end(kFormats))));
  };
  auto* list = study->add_subcommand("list", "list studies");
  add_format(list);
  auto* health = app.add_subcommand(
      "health", "ask the coordinator's gRPC health service; exit 0 when it is SERVING (a probe)");
  auto* show = study->add_subcommand("show", "show a study, its progress and best trial");
  show->add_option("name", study_name)->required();
  add_format(show);
  auto* stop = study->add_subcommand("stop", "stop a study: no new trials, running ones stop");
  stop->add_option("name", study_name)->required();
  auto* delete_study =
      study->add_subcommand("delete", "delete an ended study with its trials and curves");
  delete_study->add_option("name", study_name)->required();
  int extend_to = 0;
  auto* extend =
      study->add_subcommand("extend", "raise a study's max_trials; an ended study runs again");
  extend->add_option("name", study_name)->required();
  extend->add_option("--max-trials", extend_to, "the new budget (more than today's)")->required();
  add_format(extend);

  // ---- hpo trials / best / enqueue / watch
  std::string state_text;
  auto* trials = app.add_subcommand("trials", "list a study's trials");
  trials->add_option("name", study_name)->required();
  trials->add_option("--state", state_text, "only trials in this state");
  add_format(trials);
  auto* best = app.add_subcommand("best", "show a study's best trial");
  best->add_option("name", study_name)->required();
  add_format(best);
  std::vector<std::string> params;
  auto* enqueue = app.add_subcommand("enqueue", "queue a trial with given parameters");
  enqueue->add_option("name", study_name)->required();
  enqueue->add_option("--param", params, "name=value (repeat for each parameter)")->required();
  std::vector<std::string> metrics;
  double added_value = 0;
  auto* add_trial =
      app.add_subcommand("add-trial", "add a COMPLETED trial whose result is known from elsewhere");
  add_trial->add_option("name", study_name)->required();
  add_trial->add_option("--param", params, "name=value (repeat for each parameter)")->required();
  add_trial->add_option("--value", added_value, "the objective's value")->required();
  add_trial->add_option("--metric", metrics, "name=number: another final metric (repeatable)");
  add_format(add_trial);
  std::string dashboard_http = "127.0.0.1:8080";
  auto* dashboard = app.add_subcommand(
      "dashboard", "serve the web dashboard of a db file (--db FILE) until interrupted");
  dashboard->add_option("--http", dashboard_http, "where to serve it (loopback host:port)")
      ->capture_default_str();
  auto* watch = app.add_subcommand("watch", "follow a study's progress until it ends");
  watch->add_option("name", study_name)->required();
  auto* trial = app.add_subcommand("trial", "show one trial");
  trial->require_subcommand(1);
  int64_t trial_id = 0;
  auto* trial_show = trial->add_subcommand(
      "show", "a trial's parameters, measurements, why it stopped and its forecast");
  trial_show->add_option("id", trial_id, "trial id (the ID column of hpo trials)")->required();
  add_format(trial_show);
  ImportanceFlags importance_flags;
  auto* importance = AddImportanceCommand(app, &importance_flags);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e, out, err) == 0 ? 0 : 2;
  }

  if (*run) {
    // `hpo --db FILE run ...` names the history file as every other command does.
    if (!target.db.empty()) {
      if (run_db->count() > 0 && run_options.db_path != target.db) {
        return Fail(err, absl::InvalidArgumentError(
                             absl::StrCat("--db names two files (", target.db, " and ",
                                          run_options.db_path, "): give it once")));
      }
      run_options.db_path = target.db;
    }
    return RunStudy(run_options, out, err);
  }
  if (*bench) {
    absl::StatusOr<auth::ClientSecurity> security = target.Security();
    if (!security.ok()) return Fail(err, security.status());
    return RunBenchCommand(bench_flags, *security, out, err);
  }
  if (*bench_stoppers) return RunStopperBenchCommand(stopper_bench_flags, out, err);

  if (*health) {
    absl::StatusOr<auth::ClientSecurity> security = target.Security();
    if (!security.ok()) return Fail(err, security.status());
    absl::Status s = backend::CheckHealth(target.coordinator, *security, absl::Seconds(5));
    if (!s.ok()) return Fail(err, s);
    out << "SERVING\n";
    return 0;
  }
  if (*create) {
    auto spec = LoadCheckedStudyFile(study_file);
    if (!spec.ok()) return Fail(err, spec.status());
    for (const std::string& from : warm_start_from) {
      spec->mutable_optimizer()->add_warm_start_from(from);
    }
    auto backend = Open(target, /*create_db=*/true);
    if (!backend.ok()) return Fail(err, backend.status());
    auto s = (*backend)->CreateStudy(*spec);
    if (!s.ok()) return Fail(err, s.status());
    out << "created study " << s->spec().name() << " (id " << s->id() << ")\n";
    if (s->warm_start_trials() > 0) {
      out << "its optimizer starts from " << s->warm_start_trials() << " completed trials of "
          << absl::StrJoin(s->spec().optimizer().warm_start_from(), ", ") << "\n";
    }
    return 0;
  }

  if (*dashboard) return ServeDashboard(target.db, dashboard_http, out, err);

  auto backend = Open(target);
  if (!backend.ok()) return Fail(err, backend.status());
  backend::Backend& b = **backend;
  if (*importance) return RunImportanceCommand(importance_flags, b, out, err);

  if (*list) {
    auto studies = b.ListStudies();
    if (!studies.ok()) return Fail(err, studies.status());
    out << RenderStudies(format, {studies->studies().begin(), studies->studies().end()});
    return 0;
  }
  if (*show) {
    auto s = b.GetStudy(study_name);
    if (!s.ok()) return Fail(err, s.status());
    out << RenderStudy(format, *s);
    return 0;
  }
  if (*stop) {
    auto s = b.StopStudy(study_name);
    if (!s.ok()) return Fail(err, s.status());
    out << "stopped study " << study_name << "\n" << ProgressLine(*s) << "\n";
    return 0;
  }
  if (*trials) {
    hpo::v1::TrialState state = hpo::v1::TRIAL_STATE_UNSPECIFIED;
    if (!state_text.empty()) {
      auto parsed = core::ParseTrialState(state_text);
      if (!parsed.ok()) return Fail(err, parsed.status());
      state = *parsed;
    }
    auto s = b.GetStudy(study_name);
    if (!s.ok()) return Fail(err, s.status());
    auto all = b.AllTrials(study_name, state);
    if (!all.ok()) return Fail(err, all.status());
    out << RenderTrials(format, s->spec(), *all);
    return 0;
  }
  if (*best) {
    auto s = b.GetStudy(study_name);
    if (!s.ok()) return Fail(err, s.status());
    auto t = b.GetBestTrial(study_name);
    if (!t.ok()) return Fail(err, t.status());
    out << (format == "table" ? BestTrialText(s->spec(), *t) : RenderTrial(format, s->spec(), *t));
    return 0;
  }
  if (*enqueue) {
    auto s = b.GetStudy(study_name);
    if (!s.ok()) return Fail(err, s.status());
    auto map = ParseParams(*s, params);
    if (!map.ok()) return Fail(err, map.status());
    auto t = b.EnqueueTrial(study_name, *map);
    if (!t.ok()) return Fail(err, t.status());
    out << "enqueued trial #" << t->number() << " (id " << t->id() << ")\n";
    return 0;
  }
  if (*add_trial) {
    auto s = b.GetStudy(study_name);
    if (!s.ok()) return Fail(err, s.status());
    hpo::v1::AddTrialRequest request;
    request.set_study_name(study_name);
    auto map = ParseParams(*s, params);
    if (!map.ok()) return Fail(err, map.status());
    *request.mutable_params() = *map;
    for (const std::string& m : metrics) {
      std::pair<std::string, std::string> kv = absl::StrSplit(m, absl::MaxSplits('=', 1));
      double v = 0;
      if (m.find('=') == std::string::npos || kv.first.empty() ||
          !absl::SimpleAtod(kv.second, &v)) {
        return Fail(err, absl::InvalidArgumentError(
                             absl::StrCat("--metric '", m, "': expected name=number")));
      }
      (*request.mutable_final_metrics())[kv.first] = v;
    }
    (*request.mutable_final_metrics())[s->spec().objective().metric()] = added_value;
    auto t = b.AddTrial(request);
    if (!t.ok()) return Fail(err, t.status());
    if (format != "table") {
      out << RenderTrial(format, s->spec(), *t);
      return 0;
    }
    out << "added trial #" << t->number() << " (id " << t->id() << ") to study " << study_name
        << ": " << s->spec().objective().metric() << " = " << FormatNumber(t->value()) << "\n";
    return 0;
  }
  if (*delete_study) {
    auto d = b.DeleteStudy(study_name);
    if (!d.ok()) return Fail(err, d.status());
    out << "deleted study " << study_name << " and its " << d->trials_deleted() << " trials\n";
    return 0;
  }
  if (*extend) {
    auto s = b.ExtendStudy(study_name, extend_to);
    if (!s.ok()) return Fail(err, s.status());
    if (format != "table") {
      out << RenderStudy(format, *s);
      return 0;
    }
    out << "extended study " << study_name << " to " << extend_to << " trials\n"
        << ProgressLine(*s) << "\n";
    return 0;
  }
  if (*trial_show) {
    auto t = b.GetTrial(trial_id);
    if (!t.ok()) return Fail(err, t.status());
    if (format == "json") {  // needs no study
      out << TrialJson(*t);
      return 0;
    }
    auto s = b.GetStudy(t->study_name());
    if (!s.ok()) return Fail(err, s.status());
    out << RenderTrial(format, s->spec(), *t);
    return 0;
  }
  if (*watch) {
    ProgressPrinter printer(out, ::isatty(STDOUT_FILENO) && &out == &std::cout);
    absl::Status s = b.Watch(study_name, [&](const hpo::v1::StudyEvent& e) {
      printer.OnEvent(e);
      return true;
    });
    if (!s.ok()) return Fail(err, s);
    return 0;
  }
  return 2;
}

}  // namespace hpo::client
