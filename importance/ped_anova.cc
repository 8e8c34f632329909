#include "importance/ped_anova.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "server/optimizers/tpe/parzen_estimator.h"

namespace hpo::importance {
namespace {

// Probabilities of the cells 0..n_cells-1 under a 1-D estimator of `cells` (cell indices).
std::vector<double> CellProbabilities(const server::tpe::Dim& dim, const std::vector<double>& cells,
                                      int n_cells) {
  server::tpe::ParzenOptions options;
  options.prior_weight = 1.0;
  options.scott_bandwidth = true;
  options.ramp_weights = false;                      // trial order says nothing here
  const std::vector<server::tpe::Dim> dims = {dim};  // must outlive the estimator
  server::tpe::ParzenEstimator estimator(dims, cells.data(), static_cast<int>(cells.size()),
                                         options);
  std::vector<double> grid(n_cells);
  std::iota(grid.begin(), grid.end(), 0.0);
  std::vector<double> p(n_cells);
  estimator.LogPdf(grid.data(), n_cells, p.data());
  const double top = *std::max_element(p.begin(), p.end());
  double sum = 0;
  for (double& v : p) sum += (v = std::exp(v - top));
  for (double& v : p) v /= sum;
  return p;
}

}  // namespace

std::vector<int> TopRows(const Dataset& data, const PedAnovaOptions& options) {
  const int n = data.n_rows;
  if (n == 0) return {};
  const int k = std::clamp(
      std::max(options.min_top, static_cast<int>(std::ceil(options.quantile * n - 1e-9))), 1, n);
  std::vector<double> sorted = data.loss;
  std::nth_element(sorted.begin(), sorted.begin() + (k - 1), sorted.end());
  const double cutoff = sorted[k - 1];
  std::vector<int> top;
  for (int r = 0; r < n; ++r) {
    if (data.loss[r] <= cutoff) top.push_back(r);
  }
  return top;
}

std::vector<double> PedAnovaImportance(const Dataset& data, const PedAnovaOptions& options) {
  const std::vector<int> top = TopRows(data, options);
  std::vector<double> raw(data.n_cols, 0.0);
  for (int j = 0; j < data.n_cols; ++j) {
    const int levels = data.levels[j];
    const int n_cells = data.categorical[j] || (levels > 0 && levels <= options.n_steps)
                            ? levels
                            : std::max(1, options.n_steps);
    if (n_cells < 2) continue;  // one value: nothing to explain
    server::tpe::Dim dim;
    if (data.categorical[j]) {
      dim.kind = server::tpe::Dim::Kind::kCategorical;
      dim.n_choices = n_cells;
    } else {
      dim.kind = server::tpe::Dim::Kind::kDiscrete;
      dim.q = 1;
      dim.low = -0.5;
      dim.high = n_cells - 0.5;
    }
    auto cell = [&](int r) {
      return std::min<double>(n_cells - 1, std::floor(data.at(r, j) * n_cells));
    };
    std::vector<double> all_cells(data.n_rows), top_cells;
    for (int r = 0; r < data.n_rows; ++r) all_cells[r] = cell(r);
    for (int r : top) top_cells.push_back(cell(r));
    const std::vector<double> p_all = options.local ? CellProbabilities(dim, all_cells, n_cells)
                                                    : std::vector<double>(n_cells, 1.0 / n_cells);
    const std::vector<double> p_top = CellProbabilities(dim, top_cells, n_cells);
    double divergence = 0;
    for (int k = 0; k < n_cells; ++k) {
      const double ratio = p_top[k] / p_all[k] - 1;
      divergence += p_all[k] * ratio * ratio;
    }
    raw[j] = divergence;
  }
  const double sum = std::accumulate(raw.begin(), raw.end(), 0.0);
  if (!(sum > 0)) return std::vector<double>(data.n_cols, 1.0 / data.n_cols);
  for (double& v : raw) v /= sum;
  return raw;
}

}  // namespace hpo::importance
