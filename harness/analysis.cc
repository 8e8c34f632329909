#include "harness/analysis.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace hpo::harness {
namespace {

double Normalize(double v, double lo, double hi) {
  if (std::isnan(v) || std::isinf(v)) return 1.0;  // a run without a value scores worst
  if (!(hi > lo)) return 0.0;
  return (v - lo) / (hi - lo);
}

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

double Fraction(int k) { return static_cast<double>(k) / (kFractions - 1); }

double IncumbentAt(const RunRecord& run, int k) {
  const int64_t n = static_cast<int64_t>(run.evals.size());
  if (n == 0) return std::numeric_limits<double>::infinity();
  int64_t m = (static_cast<int64_t>(k) * n + (kFractions - 2)) / (kFractions - 1);
  m = std::clamp<int64_t>(m, 1, n);
  return run.evals[static_cast<size_t>(m - 1)].best_so_far;
}

MeanSd MeanAndSd(const std::vector<double>& values) {
  MeanSd out;
  out.n = static_cast<int>(values.size());
  if (values.empty()) return out;
  out.mean = std::accumulate(values.begin(), values.end(), 0.0) / values.size();
  if (values.size() > 1) {
    double ss = 0;
    for (double v : values) ss += (v - out.mean) * (v - out.mean);
    out.sd = std::sqrt(ss / (values.size() - 1));
  }
  return out;
}

std::vector<double> Ranks(const std::vector<double>& values) {
  std::vector<size_t> order(values.size());
  std::iota(order.begin(), order.end(), 0);
  // NaN sorts last.
  auto less = [&values](size_t a, size_t b) {
    const double x = values[a], y = values[b];
    if (std::isnan(x)) return false;
    if (std::isnan(y)) return true;
    return x < y;
  };
  std::stable_sort(order.begin(), order.end(), less);
  std::vector<double> ranks(values.size());
  size_t i = 0;
  while (i < order.size()) {
    size_t j = i + 1;
    while (j < order.size() && !less(order[i], order[j]) && !less(order[j], order[i])) ++j;
    const double shared = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2.0;
    for (size_t t = i; t < j; ++t) ranks[order[t]] = shared;
    i = j;
  }
  return ranks;
}

const Cell* Analysis::Find(const std::string& task, const std::string& optimizer) const {
  auto it = cells.find({task, optimizer});
  return it == cells.end() ? nullptr : &it->second;
}

Analysis Analyze(const std::vector<RunRecord>& all_runs, const std::vector<std::string>& optimizers,
                 const std::vector<std::string>& tasks) {
  std::vector<const RunRecord*> runs;
  for (const RunRecord& r : all_runs) {
    if (Contains(optimizers, r.spec.optimizer) && Contains(tasks, r.spec.task)) runs.push_back(&r);
  }
  Analysis a;
  for (const std::string& o : optimizers) {
    if (std::any_of(runs.begin(), runs.end(), [&](auto* r) { return r->spec.optimizer == o; })) {
      a.optimizers.push_back(o);
    }
  }
  for (const std::string& t : tasks) {
    if (std::any_of(runs.begin(), runs.end(), [&](auto* r) { return r->spec.task == t; })) {
      a.tasks.push_back(t);
    }
  }

  // Normalization ranges per task.
  for (const RunRecord* r : runs) {
    const std::string& t = r->spec.task;
    const double best = r->best();
    // A run without a value (NaN or inf) scores worst and does not stretch the range.
    if (std::isfinite(best)) {
      if (!a.final_lo.count(t)) a.final_lo[t] = a.final_hi[t] = best;
      a.final_lo[t] = std::min(a.final_lo[t], best);
      a.final_hi[t] = std::max(a.final_hi[t], best);
    }
    a.trials[t] = std::max(a.trials[t], r->spec.trials);
    a.optimum[t] = r->optimum;
  }

  // Per run, then per cell.
  std::map<std::pair<std::string, std::string>, std::vector<const RunRecord*>> by_cell;
  for (const RunRecord* r : runs) {
    const std::string& t = r->spec.task;
    const double best = r->best();
    a.finals.push_back(FinalRow{r->spec.optimizer, t, r->spec.seed, best, best - r->optimum,
                                Normalize(best, a.final_lo[t], a.final_hi[t])});
    by_cell[{t, r->spec.optimizer}].push_back(r);
  }
  for (const auto& [key, cell_runs] : by_cell) {
    const std::string& t = key.first;
    Cell cell;
    std::vector<double> best, regret, score;
    for (const RunRecord* r : cell_runs) {
      cell.seeds.push_back(r->spec.seed);
      best.push_back(r->best());
      regret.push_back(r->best() - r->optimum);
      score.push_back(Normalize(r->best(), a.final_lo[t], a.final_hi[t]));
    }
    cell.best = MeanAndSd(best);
    cell.regret = MeanAndSd(regret);
    cell.score = MeanAndSd(score);
    cell.anytime.assign(kFractions, 0.0);
    for (int k = 0; k < kFractions; ++k) {
      std::vector<double> v;
      for (const RunRecord* r : cell_runs) {
        v.push_back(Normalize(IncumbentAt(*r, k), a.final_lo[t], a.final_hi[t]));
      }
      cell.anytime[k] = MeanAndSd(v).mean;
    }
    a.cells[key] = std::move(cell);
  }

  // Ranks per task, average rank, rank over time.
  for (const std::string& o : a.optimizers) {
    a.average_rank[o] = 0;
    a.ranked_tasks[o] = 0;
    a.rank_over_time[o].assign(kFractions, 0.0);
  }
  std::map<std::string, std::vector<int>> tasks_at;  // per optimizer: ranked task count at k
  for (const std::string& t : a.tasks) {
    std::vector<std::string> present;
    std::vector<double> scores;
    for (const std::string& o : a.optimizers) {
      if (const Cell* c = a.Find(t, o)) {
        present.push_back(o);
        scores.push_back(c->score.mean);
      }
    }
    const std::vector<double> ranks = Ranks(scores);
    for (size_t i = 0; i < present.size(); ++i) {
      a.cells[{t, present[i]}].rank = ranks[i];
      a.average_rank[present[i]] += ranks[i];
      a.ranked_tasks[present[i]] += 1;
    }
    for (int k = 0; k < kFractions; ++k) {
      std::vector<double> at;
      for (const std::string& o : present) at.push_back(a.cells[{t, o}].anytime[k]);
      const std::vector<double> r = Ranks(at);
      for (size_t i = 0; i < present.size(); ++i) a.rank_over_time[present[i]][k] += r[i];
    }
  }
  for (const std::string& o : a.optimizers) {
    const int n = a.ranked_tasks[o];
    if (n == 0) continue;
    a.average_rank[o] /= n;
    for (double& v : a.rank_over_time[o]) v /= n;
  }
  return a;
}

}  // namespace hpo::harness
