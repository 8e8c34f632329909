#include "client/stopper_bench_command.h"

#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/logging.h"
#include "harness/curve_families.h"
#include "harness/run_spec.h"
#include "harness/stopper_bench.h"

namespace hpo::client {

CLI::App* AddStopperBenchCommand(CLI::App& app, StopperBenchFlags* flags) {
  auto* cmd = app.add_subcommand(
      "bench-stoppers",
      "compare early stoppers at an equal budget of epochs; writes DIR/stoppers.md");
  cmd->add_option("--tasks", flags->tasks,
                  "comma list: curves (the synthetic curve families), lcbench (34 tasks), or "
                  "task names")
      ->capture_default_str();
  cmd->add_option("--stoppers", flags->stoppers,
                  "comma list of none, median, asha, hyperband, learning_curve, "
                  "learning_curve-warm, I-epoch; default: all of these with I = 3, 9")
      ->capture_default_str();
  cmd->add_option("--seeds", flags->seeds, "how many seeds: --first-seed .. --first-seed + N-1")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--first-seed", flags->first_seed, "the first seed")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--budget", flags->budget,
                  "epochs per (task, seed), in full evaluations (B = N x epochs)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  cmd->add_option("--sampler", flags->sampler,
                  "where configurations come from: random (the seed's stream, shared by every "
                  "method) or an optimizer, NAME or NAME:key=value;key=value (e.g. "
                  "'gp:pruned=last'), which sees stopped trials too")
      ->capture_default_str();
  cmd->add_option("--workers", flags->workers,
                  "0: in-process, one configuration at a time (Track A); N: through a "
                  "coordinator with N simulated workers (Track B; i-epoch methods left out)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1024));
  cmd->add_option("--out", flags->out, "output directory")->capture_default_str();
  cmd->add_option("--jobs", flags->jobs, "runs at once (0 = cores)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  return cmd;
}

int RunStopperBenchCommand(const StopperBenchFlags& flags, std::ostream& out, std::ostream& err) {
  auto fail = [&](const absl::Status& s) {
    err << "hpo bench-stoppers: " << s.message() << "\n";
    return 1;
  };
  harness::StopperBenchOptions options;
  absl::StatusOr<std::vector<std::string>> tasks = harness::ExpandCurveTasks(flags.tasks);
  if (!tasks.ok()) return fail(tasks.status());
  options.tasks = *tasks;
  absl::StatusOr<std::vector<harness::StopperMethod>> methods =
      harness::ParseStopperMethods(flags.stoppers, harness::CurveTaskEpochs(options.tasks));
  if (!methods.ok()) return fail(methods.status());
  options.methods = *methods;
  absl::StatusOr<harness::OptimizerVariant> sampler = harness::ParseOptimizerVariant(flags.sampler);
  if (!sampler.ok()) return fail(sampler.status());
  options.sampler.set_name(sampler->name);
  options.sampler.mutable_options()->insert(sampler->options.begin(), sampler->options.end());
  options.workers = flags.workers;
  // Track B's coordinator would log every study and stop; the progress lines say enough.
  if (flags.workers > 0 && core::MinLogLevel() < core::LogLevel::kWarning) {
    core::SetMinLogLevel(core::LogLevel::kWarning);
  }
  options.seeds = flags.seeds;
  options.first_seed = static_cast<uint64_t>(flags.first_seed);
  options.budget_evaluations = flags.budget;
  options.jobs = flags.jobs > 0
                     ? flags.jobs
                     : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  options.out_dir = flags.out;
  options.sources = harness::MakeCurveTask;
  options.progress = &err;
  absl::StatusOr<std::vector<harness::StopperRun>> runs = harness::RunStopperBench(options);
  if (!runs.ok()) return fail(runs.status());
  std::ifstream report(absl::StrCat(flags.out, "/stoppers.md"));
  std::stringstream text;
  text << report.rdbuf();
  out << text.str() << "written to " << flags.out << "/stoppers.md\n";
  return 0;
}

}  // namespace hpo::client
