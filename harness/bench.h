// `hpo bench`: every (optimizer, task, seed) run across a thread pool, recorded in
// DIR/results.sqlite (finished runs are reused on a re-run) and summarized in DIR/report.md.
#ifndef HPO_HARNESS_BENCH_H_
#define HPO_HARNESS_BENCH_H_

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "harness/runner.h"
#include "harness/task_source.h"

namespace hpo::harness {

// Which runner runs an optimizer's runs; a null runner skips them, giving the reason.
struct Route {
  Runner* runner = nullptr;
  std::string skip_reason;
  // What produces this optimizer's runs (e.g. "hpo tpe r3", "optuna 3.1.0, adapter <digest>"):
  // a finished run in results.sqlite is reused only when it was recorded with the same
  // RunFingerprint of this and its task's digest.
  std::string fingerprint;
};

// A run's fingerprint in results.sqlite: its route's and its task's TaskDigest (digest.h), as
// "<route fingerprint>; task <digest>". So a run is made again when the optimizer's revision,
// Optuna or its adapter, or the task's function, space or model file has changed.
std::string RunFingerprint(absl::string_view route_fingerprint, absl::string_view task_digest);
// INVALID_ARGUMENT for an optimizer nobody knows. Called from the bench's calling thread only.
using Router = std::function<absl::StatusOr<Route>(const std::string& optimizer)>;

struct BenchOptions {
  std::vector<std::string> optimizers;
  std::vector<std::string> tasks;  // task names (see ExpandTasks)
  int seeds = 1;                   // seeds first_seed..first_seed+seeds-1
  int first_seed = 0;
  int trials = 0;       // per run; 0 = DefaultTrials(task dimensions)
  std::string out_dir;  // created if missing
  int jobs = 1;         // runs at once
  TaskFactory task_factory = BuiltinTaskFactory();
  std::string command;               // shown at the top of the report
  std::ostream* progress = nullptr;  // progress lines; null = none
  bool progress_tty = false;         // redraw one line instead of a line per run
};

struct BenchSummary {
  int total = 0;    // runs asked for (skipped optimizers included)
  int ran = 0;      // run now
  int reused = 0;   // found finished in results.sqlite
  int failed = 0;   // ended with an error (recorded as 'failed', left out of the report)
  int skipped = 0;  // of optimizers the router skipped, or of tasks without their data
  std::vector<std::string> notes;  // skip reasons and failure messages (also in the report)
  std::string report_path;         // DIR/report.md
};

// Runs the bench and writes the report. Errors: INVALID_ARGUMENT for empty optimizers/tasks,
// seeds < 1, trials < 0, jobs < 1, duplicate names, or the router's error; the task factory's
// NOT_FOUND; FAILED_PRECONDITION when DIR cannot be created; results.sqlite errors; report
// file errors. Failed runs do not fail the bench (they are counted and noted). Tasks the factory
// answers FAILED_PRECONDITION (data absent, e.g. the LCBench model) are skipped: their runs
// count as skipped and one note per reason names them ("lcbench-3945, lcbench-7593: skipped:
// LCBench surrogate not found at ..."). A suite name left unexpanded for that reason (see
// ExpandTasks) is noted as "lcbench (suite)" and counts no runs. Each task is evaluated a few
// times up front for its TaskDigest (options.jobs tasks at once); a task whose evaluation fails
// there has its runs counted as failed, with a note.
absl::StatusOr<BenchSummary> RunBench(const BenchOptions& options, const Router& router);

}  // namespace hpo::harness

#endif  // HPO_HARNESS_BENCH_H_
