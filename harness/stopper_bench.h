// The multi-fidelity benchmark of the early stoppers ("Track A"): each method draws
// configurations from one random stream per (task, seed) and trains them epoch by epoch, one at a
// time, until an equal budget of epochs is spent; a stopper that saves epochs spends them on
// more configurations, as it would in use. gRPC-free and LibTorch-free: curves come from a
// CurveSource.
#ifndef HPO_HARNESS_STOPPER_BENCH_H_
#define HPO_HARNESS_STOPPER_BENCH_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "harness/svg_plot.h"
#include "hpo/v1/hpo.pb.h"
#include "server/coordinator.h"

namespace hpo::harness {

// Where a benchmark's curves come from. Implementations are thread-safe.
class CurveSource {
 public:
  virtual ~CurveSource() = default;
  virtual std::string name() const = 0;
  virtual hpo::v1::SearchSpace space() const = 0;
  virtual int epochs() const = 0;
  // Configuration `index` of the random stream of `seed` (the same for every method): drawn
  // uniformly from space() by an Rng seeded with StreamSeed(seed, index).
  hpo::v1::ParamMap Params(uint64_t seed, int index) const;
  // Its objective (minimized) at `epochs` (each in [1, epochs()]): read a few epochs at a time,
  // as a simulated training run gets there, since most configurations are stopped early and a
  // surrogate's epoch costs time.
  virtual absl::StatusOr<std::vector<double>> Values(uint64_t seed, int index,
                                                     const std::vector<int>& epochs) const = 0;
  // The same for any configuration of space() (one an optimizer proposed).
  virtual absl::StatusOr<std::vector<double>> ValuesOf(const hpo::v1::ParamMap& params,
                                                       const std::vector<int>& epochs) const = 0;
  // The best final value of a large fixed sample of the task's configurations: regret is
  // measured against it. Fixed once per task, never renormalized when methods are added.
  virtual absl::StatusOr<double> ReferenceBest() const = 0;
};

// The seed of configuration `index` of the stream of `seed` (a 64-bit mix of both).
uint64_t StreamSeed(uint64_t seed, int index);

// A method: random search with an early stopper, or the i-epoch baseline.
struct StopperMethod {
  std::string name;                     // as reported
  hpo::v1::EarlyStoppingSpec stopping;  // when i_epoch == 0
  // The i-epoch baseline: every configuration runs i epochs; it continues to the end only when
  // its i-epoch value is in the top 10% of the i-epoch values seen so far (its own included).
  int i_epoch = 0;
  // learning_curve warm-started from the `none` runs of the task's other seeds.
  bool warm_from_other_seeds = false;
};

// Parses "none,median,asha,hyperband,learning_curve,learning_curve-warm,3-epoch,9-epoch" (any
// subset; "default" for all of these). hyperband takes max_step = epochs; the others their
// defaults. A stopper may carry options, NAME:key=value;key=value (e.g.
// "learning_curve-warm:threshold=0.1;eta=2"), named by the whole text. INVALID_ARGUMENT naming
// an unknown method or a bad option (the stopper's own message).
absl::StatusOr<std::vector<StopperMethod>> ParseStopperMethods(const std::string& list, int epochs);

// What one method did on one (task, seed).
struct StopperRun {
  std::string task, method;
  uint64_t seed = 0;
  int64_t budget = 0;  // epochs
  int64_t epochs = 0;  // spent (== budget unless the stream ran out)
  int configs = 0;     // configurations started
  int completed = 0;   // ran to the last epoch
  int stopped = 0;
  // Stopped configurations whose true final value would have beaten the incumbent of that moment
  // (or when there was none yet).
  int false_stops = 0;
  // Forecasts of the final value a learning_curve model made (Track A), and how many of their
  // 95% intervals (mean ± 1.96 spread) held the true final value.
  int forecasts = 0;
  int covered = 0;
  // The incumbent's regret after each improvement: (epochs spent, regret), epochs increasing.
  std::vector<std::pair<int64_t, double>> trajectory;
  double seconds = 0;  // wall time of the run

  // Regret of the incumbent once `epochs` were spent (+inf before the first completion).
  double RegretAt(int64_t epochs) const;
  // The first epoch count at which the incumbent's regret is <= `regret`; -1 when never.
  int64_t EpochsToReach(double regret) const;
  // The complete curves of this run (for other seeds' warm start); filled by RunStopperMethod.
  std::vector<hpo::v1::Trial> complete_trials;
};

// Runs `method` on (source, seed) until `budget` epochs are spent. `warm` holds the complete
// trials the learning_curve stopper learns from when method.warm_from_other_seeds. The
// configurations come from the seed's stream when `sampler` is random (or empty), else from
// that optimizer (seeded with `seed`), which sees every trial so far: completed ones with
// their final value, stopped ones with their last value (and forecast). Deterministic for given
// inputs (model fits are awaited).
absl::StatusOr<StopperRun> RunStopperMethod(const CurveSource& source, const StopperMethod& method,
                                            uint64_t seed, int64_t budget,
                                            const std::vector<hpo::v1::Trial>& warm,
                                            const hpo::v1::OptimizerSpec& sampler = {});

// Track B: the same comparison through the coordinator (server::Coordinator, its optimizer
// registry and stoppers, its storage), with `workers` simulated workers training in lockstep,
// one epoch each per tick, so that up to `workers` trials run at once and are judged against
// each other as they go. The study is named TASK-METHOD-SEED (characters a study name cannot
// hold made '_'); its configurations come from
// `sampler` (random when empty), proposed with the trials in flight pending. `warm_studies`
// names the earlier studies learning_curve-warm learns from (cold learning_curve learns from
// none). INVALID_ARGUMENT for an i-epoch method (Track A only). Deterministic when the
// coordinator's stoppers await their fits (see CoordinatorOptions::stopper_factory).
struct StudyTrack {
  int workers = 4;
  hpo::v1::OptimizerSpec sampler;
};
absl::StatusOr<StopperRun> RunStopperStudy(server::Coordinator& coordinator,
                                           const CurveSource& source, const StopperMethod& method,
                                           uint64_t seed, int64_t budget,
                                           const std::vector<std::string>& warm_studies,
                                           const StudyTrack& track);

// Per method, over (task, seed) pairs, against the `none` run of the same pair: the speed-up at
// equal regret S = (epochs none needs to reach r*) / (epochs the method needs), r* = none's
// regret at the budget (S = 0 when the method never reaches r*: censored), also at r* + 0.5 and
// r* + 1; regret at B/4, B/2 and B; configurations; false-stop rate. Medians with 95% bootstrap
// intervals over the pairs.
struct MethodSummary {
  std::string method;
  int pairs = 0;
  double median_speedup = 0, speedup_lo = 0, speedup_hi = 0;
  double censored_share = 0;
  double median_speedup_half = 0, median_speedup_one = 0;  // at r* + 0.5, r* + 1
  double median_regret_q = 0, median_regret_h = 0;         // at B/4, B/2
  double median_regret = 0, regret_lo = 0, regret_hi = 0;  // at B
  double mean_configs = 0;
  double false_stop_rate = 0;  // false stops / stops, pooled
  double coverage = -1;        // pooled share of 95% forecast intervals holding the truth; -1: none
};
std::vector<MethodSummary> SummarizeStopperRuns(const std::vector<StopperRun>& runs,
                                                uint64_t bootstrap_seed);

// report.md: the protocol, then one table of MethodSummary rows.
// `setup` says where configurations came from and which track ran them.
std::string StopperReportMarkdown(const std::vector<MethodSummary>& summaries, int tasks, int seeds,
                                  int64_t budget, const std::string& title,
                                  const std::string& setup);

// Per method (in order of first appearance), the median regret over its (task, seed) runs once
// each fraction of the budget was spent: x = epochs, y = median regret (+inf before any
// configuration ran to the end).
std::vector<Series> MedianRegretFront(const std::vector<StopperRun>& runs,
                                      const std::vector<double>& fractions);

// An SVG of the median regret over (task, seed) pairs against epochs spent, one line per method.
std::string StopperRegretSvg(const std::vector<StopperRun>& runs, const std::string& title);

// A table of the median regret per method at B/32, B/16, ..., B, the lowest at each in bold.
std::string StopperFrontMarkdown(const std::vector<StopperRun>& runs);

// The whole benchmark: tasks x seeds x methods.
struct StopperBenchOptions {
  std::vector<std::string> tasks;
  std::vector<StopperMethod> methods;  // `none` is added first when missing (the baseline)
  int seeds = 10;
  uint64_t first_seed = 0;
  int budget_evaluations = 126;    // B = budget_evaluations x epochs (carps' 126 for LCBench)
  hpo::v1::OptimizerSpec sampler;  // its name empty or random: the seed's stream
  // 0: Track A (in-process, one configuration at a time). N > 0: Track B, through a coordinator
  // per task (in-memory SQLite) with N simulated workers, one study at a time (jobs is
  // ignored: the coordinator would lease one run's trials to another's workers); i-epoch
  // methods are left out.
  int workers = 0;
  int jobs = 1;
  std::string out_dir;  // created; stoppers.md, stopper_runs.csv, stoppers-<family>.svg
  // Makes the curve source of a task name.
  std::function<absl::StatusOr<std::unique_ptr<CurveSource>>(const std::string&)> sources;
  std::ostream* progress = nullptr;  // one line per finished run, when set
};

// Runs every (task, seed) with `none` first, then the other methods (learning_curve-warm learns
// from the `none` runs of the task's other seeds), `jobs` runs at once, and writes the report:
// a table per task family (lcbench-* tasks are one family, each curve family its own) and over
// all tasks, the runs as CSV, and a regret plot per family. Errors: INVALID_ARGUMENT for no
// tasks, seeds < 1, budget < 1 or jobs < 1; a source's error; FAILED_PRECONDITION when the
// directory or a file cannot be written. Also writes stopper_front.csv: per family and method,
// the median regret at 60 evenly spaced epoch counts.
absl::StatusOr<std::vector<StopperRun>> RunStopperBench(const StopperBenchOptions& options);

// The family of a task name: "lcbench" for lcbench-<id>, else the name itself.
std::string TaskFamily(const std::string& task);

}  // namespace hpo::harness

#endif  // HPO_HARNESS_STOPPER_BENCH_H_
