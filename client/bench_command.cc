#include "client/bench_command.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "backend/backend.h"
#include "harness/bench.h"
#include "harness/distributed_runner.h"
#include "harness/in_process_runner.h"
#include "harness/optuna_runner.h"
#include "harness/router.h"
#include "harness/task_source.h"
#include "server/optimizers/optimizer.h"

namespace hpo::client {
namespace {

std::vector<std::string> SplitList(const std::string& list) {
  std::vector<std::string> out;
  for (absl::string_view item : absl::StrSplit(list, ',', absl::SkipWhitespace())) {
    out.emplace_back(absl::StripAsciiWhitespace(item));
  }
  return out;
}

int Fail(std::ostream& err, const absl::Status& status) {
  err << "hpo bench: " << status.message() << "\n";
  return 1;
}

}  // namespace

CLI::App* AddBenchCommand(CLI::App& app, BenchFlags* flags) {
  auto* bench = app.add_subcommand(
      "bench", "compare optimizers on benchmark tasks over seeds; writes DIR/report.md");
  bench->add_option("--optimizers", flags->optimizers,
                    "comma list of NAME or NAME:key=value;key=value (a variant with "
                    "optimizer options, named by the whole text in the report; default: every "
                    "registered optimizer, optuna-tpe, optuna-random)");
  bench
      ->add_option("--tasks", flags->tasks,
                   "comma list of tasks or suites (synthetic, builtin, lcbench)")
      ->capture_default_str();
  bench->add_option("--seeds", flags->seeds, "how many seeds: --first-seed .. --first-seed + N-1")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  bench
      ->add_option("--first-seed", flags->first_seed,
                   "the first seed (a different range of seeds gives independent runs)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000000000));
  bench
      ->add_option("--trials", flags->trials,
                   "trials per run (default: ceil(20 + 40 sqrt(dimensions)) per task)")
      ->check(CLI::Range(1, 1000000));
  bench->add_option("--out", flags->out, "folder for results.sqlite and the report")
      ->capture_default_str();
  bench
      ->add_option("--jobs", flags->jobs,
                   "runs at once (default and cap: hardware cores; with --distributed: studies "
                   "at once, default 4)")
      ->check(CLI::Range(1, 4096));
  bench->add_flag("--distributed", flags->distributed,
                  "run each of our optimizers' runs as a study on --coordinator's workers");
  bench->add_option("--coordinator", flags->coordinator,
                    "coordinator for --distributed (default $HPO_COORDINATOR, else "
                    "localhost:50051)");
  bench->add_option("--python", flags->python, "python with optuna for optuna-* optimizers")
      ->capture_default_str();
  bench->add_option("--optuna-adapter", flags->optuna_adapter,
                    "path of optuna_adapter.py (default: $HPO_OPTUNA_ADAPTER, the source tree "
                    "or PREFIX/share/hpo)");
  return bench;
}

int RunBenchCommand(const BenchFlags& flags, const auth::ClientSecurity& security,
                    std::ostream& out, std::ostream& err) {
  const harness::TaskFactory tasks = harness::BuiltinTaskFactory();
  harness::BenchOptions options;
  options.optimizers = SplitList(flags.optimizers);
  if (flags.optimizers.empty()) {
    options.optimizers = server::OptimizerNames();
    options.optimizers.push_back("optuna-tpe");
    options.optimizers.push_back("optuna-random");
  }
  auto task_names = harness::ExpandTasks(flags.tasks, tasks);
  if (!task_names.ok()) return Fail(err, task_names.status());
  options.tasks = *task_names;
  options.seeds = flags.seeds;
  options.first_seed = flags.first_seed;
  options.trials = flags.trials;
  options.out_dir = flags.out;
  options.task_factory = tasks;
  const int cores = std::max(1u, std::thread::hardware_concurrency());
  if (flags.distributed) {
    options.jobs = flags.jobs > 0 ? flags.jobs : 4;
  } else {
    options.jobs = flags.jobs > 0 ? std::min(flags.jobs, cores) : cores;
  }
  options.command =
      absl::StrCat("hpo bench --optimizers ", absl::StrJoin(options.optimizers, ","), " --tasks ",
                   flags.tasks, " --seeds ", flags.seeds,
                   flags.first_seed > 0 ? absl::StrCat(" --first-seed ", flags.first_seed) : "",
                   flags.trials > 0 ? absl::StrCat(" --trials ", flags.trials) : "",
                   flags.distributed ? " --distributed" : "");
  options.progress = &err;
  options.progress_tty = &err == &std::cerr && ::isatty(STDERR_FILENO);

  // Our optimizers: in this process, or as studies on a coordinator.
  std::unique_ptr<backend::Backend> backend;
  std::unique_ptr<harness::Runner> ours;
  if (flags.distributed) {
    std::string address = flags.coordinator;
    if (address.empty()) {
      const char* env = std::getenv("HPO_COORDINATOR");
      address = env != nullptr && *env != '\0' ? env : "localhost:50051";
    }
    auto connected = backend::ConnectGrpc(address, security, absl::Seconds(3));
    if (!connected.ok()) return Fail(err, connected.status());
    backend = std::move(*connected);
    harness::DistributedRunner::Options d;
    d.backend = backend.get();
    d.task_factory = tasks;
    auto runner = harness::DistributedRunner::Create(d);
    if (!runner.ok()) return Fail(err, runner.status());
    ours = std::move(*runner);
  } else {
    harness::InProcessRunner::Options p;
    p.task_factory = tasks;
    auto runner = harness::InProcessRunner::Create(p);
    if (!runner.ok()) return Fail(err, runner.status());
    ours = std::move(*runner);
  }
  // Optuna: always a local adapter process per run.
  harness::OptunaRunner::Options o;
  o.python = flags.python;
  if (!flags.optuna_adapter.empty()) o.adapter = flags.optuna_adapter;
  o.task_factory = tasks;
  o.log_dir = absl::StrCat(flags.out, "/logs");
  auto optuna = harness::OptunaRunner::Create(o);
  if (!optuna.ok()) return Fail(err, optuna.status());
  if (flags.distributed &&
      std::any_of(options.optimizers.begin(), options.optimizers.end(),
                  [](const std::string& name) { return harness::IsOptunaOptimizer(name); })) {
    err << "hpo bench: optuna-* runs are evaluated in this process (Optuna is not a coordinator "
           "optimizer)\n";
  }

  // The fingerprint of our optimizers' runs names the revision of the build that runs them: the
  // coordinator's when distributed.
  hpo::v1::ServerInfo ours_info = server::OptimizerServerInfo();
  if (flags.distributed) {
    auto info = backend->GetServerInfo();
    if (!info.ok()) {
      return Fail(err, absl::Status(info.status().code(),
                                    absl::StrCat("the coordinator did not say which optimizers it "
                                                 "runs (GetServerInfo): ",
                                                 info.status().message())));
    }
    ours_info = *std::move(info);
  }
  // Variant options are checked before any run, by this build where it runs the same revision.
  harness::OptionsCheck check = harness::LocalOptionsCheck(ours_info);
  const harness::Router router =
      harness::StandardRouter(ours.get(), std::move(ours_info), optuna->get(), std::move(check));
  const auto suites = std::count_if(options.tasks.begin(), options.tasks.end(),
                                    [](const std::string& t) { return harness::IsTaskSuite(t); });
  err << "hpo bench: " << options.optimizers.size() << " optimizers x "
      << options.tasks.size() - suites << " tasks"
      << (suites > 0 ? " (and a suite whose tasks cannot be listed)" : "") << " x " << options.seeds
      << " seeds, " << options.jobs << " at once, into " << options.out_dir << "\n";
  auto summary = harness::RunBench(options, router);
  if (!summary.ok()) return Fail(err, summary.status());
  for (const std::string& note : summary->notes) {
    if (note.rfind("failed: ", 0) != 0) err << "hpo bench: " << note << "\n";
  }
  out << "runs: " << summary->ran << " run, " << summary->reused << " reused, " << summary->failed
      << " failed, " << summary->skipped << " skipped\nreport: " << summary->report_path << "\n";
  if (summary->failed > 0) {
    err << "hpo bench: " << summary->failed << " runs failed (listed in the report's Notes)\n";
    return 1;
  }
  return 0;
}

}  // namespace hpo::client
