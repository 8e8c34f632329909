// The numbers a bench report shows, computed from finished runs: final regret, carps-style
// normalized scores, ranks, anytime curves and rank over time. Pure functions.
#ifndef HPO_HARNESS_ANALYSIS_H_
#define HPO_HARNESS_ANALYSIS_H_

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "harness/run_spec.h"

namespace hpo::harness {

// Budget fractions of the anytime curves: 0, 0.05, ..., 1.
inline constexpr int kFractions = 21;
double Fraction(int k);  // k / 20

// The incumbent (best so far) of a run after a fraction of its evals: after
// max(1, ceil(fraction * n)) evals. +inf for a run with no evals.
double IncumbentAt(const RunRecord& run, int k);

// mean and sample standard deviation (0 for fewer than 2 values).
struct MeanSd {
  double mean = 0;
  double sd = 0;
  int n = 0;
};
MeanSd MeanAndSd(const std::vector<double>& values);

// Ranks of `values` (lower value = better = rank 1), ties sharing their average rank.
std::vector<double> Ranks(const std::vector<double>& values);

// One optimizer on one task, over its seeds.
struct Cell {
  std::vector<int> seeds;
  MeanSd best;                  // final best value
  MeanSd regret;                // final best - task optimum
  MeanSd score;                 // normalized final best (see Analysis)
  double rank = 0;              // among the optimizers with runs on this task, by mean score
  std::vector<double> anytime;  // kFractions mean normalized incumbents
};

// One row of final.csv.
struct FinalRow {
  std::string optimizer;
  std::string task;
  int seed = 0;
  double best = 0;
  double regret = 0;
  double score = 0;
};

struct Analysis {
  std::vector<std::string> optimizers;  // as asked, those with at least one run
  std::vector<std::string> tasks;       // as asked, those with at least one run
  // Per task: the range the scores are normalized by (carps-style min-max):
  //   score = (value - final_lo) / (final_hi - final_lo): 0 = the best final value any
  //   optimizer reached on the task with any seed, 1 = the worst such final value.
  // Final scores lie in [0, 1]; anytime incumbents use the same range, so a curve ends at the
  // mean final score and lies above 1 while it is worse than every run's final value.
  // A range of width 0 scores everything 0. Runs without a finite best value (every value NaN)
  // score 1 and are left out of the range (a task with no finite value has the range [0, 0]).
  std::map<std::string, double> final_lo, final_hi;
  std::map<std::pair<std::string, std::string>, Cell> cells;  // (task, optimizer)
  std::vector<FinalRow> finals;                               // in run order
  // Mean over tasks of Cell::rank (only tasks where the optimizer has runs), and how many.
  std::map<std::string, double> average_rank;
  std::map<std::string, int> ranked_tasks;
  // [optimizer][k]: mean over tasks of the rank by mean normalized incumbent at fraction k.
  std::map<std::string, std::vector<double>> rank_over_time;
  // Trials per task (the largest spec.trials among its runs) and optimum.
  std::map<std::string, int> trials;
  std::map<std::string, double> optimum;

  const Cell* Find(const std::string& task, const std::string& optimizer) const;
};

// Computes the analysis of `runs` (finished runs) with rows and columns in the order of
// `optimizers` and `tasks`; runs of other optimizers or tasks are ignored.
Analysis Analyze(const std::vector<RunRecord>& runs, const std::vector<std::string>& optimizers,
                 const std::vector<std::string>& tasks);

}  // namespace hpo::harness

#endif  // HPO_HARNESS_ANALYSIS_H_
