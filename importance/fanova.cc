#include "importance/fanova.h"

#include <algorithm>
#include <utility>

namespace hpo::importance {

std::vector<double> TreeVarianceShares(const RegressionTree& tree, int n_cols) {
  std::vector<double> shares(n_cols, 0.0);
  const std::vector<Leaf> leaves = tree.Leaves();
  if (leaves.size() < 2) return shares;
  const size_t m = leaves.size();
  // Each leaf's volume and its volume over every column but j (prefix and suffix products, so
  // that no width is divided by).
  std::vector<double> volume(m);
  std::vector<std::vector<double>> volume_but(m, std::vector<double>(n_cols));
  std::vector<double> suffix(n_cols + 1);
  for (size_t l = 0; l < m; ++l) {
    const Leaf& leaf = leaves[l];
    suffix[n_cols] = 1;
    for (int j = n_cols - 1; j >= 0; --j) suffix[j] = suffix[j + 1] * (leaf.hi[j] - leaf.lo[j]);
    double prefix = 1;
    for (int j = 0; j < n_cols; ++j) {
      volume_but[l][j] = prefix * suffix[j + 1];
      prefix *= leaf.hi[j] - leaf.lo[j];
    }
    volume[l] = suffix[0];
  }
  double mean = 0;
  for (size_t l = 0; l < m; ++l) mean += volume[l] * leaves[l].value;
  double total = 0;
  for (size_t l = 0; l < m; ++l) {
    const double d = leaves[l].value - mean;
    total += volume[l] * d * d;
  }
  if (!(total > 0)) return shares;

  // f_j is a step function: each leaf adds volume_but * value over [lo_j, hi_j).
  std::vector<std::pair<double, double>> events;
  events.reserve(2 * m);
  for (int j = 0; j < n_cols; ++j) {
    events.clear();
    for (size_t l = 0; l < m; ++l) {
      const double c = volume_but[l][j] * leaves[l].value;
      events.emplace_back(leaves[l].lo[j], c);
      events.emplace_back(leaves[l].hi[j], -c);
    }
    std::sort(events.begin(), events.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    double f = 0, variance = 0;
    for (size_t e = 0; e < events.size();) {
      const double x = events[e].first;
      while (e < events.size() && events[e].first == x) f += events[e++].second;
      if (e < events.size()) {
        const double d = f - mean;
        variance += (events[e].first - x) * d * d;
      }
    }
    shares[j] = std::min(1.0, variance / total);
  }
  return shares;
}

std::vector<double> FanovaImportance(const Dataset& data, const FanovaOptions& options,
                                     uint64_t seed) {
  const RandomForest forest = RandomForest::Fit(data, options, seed);
  std::vector<double> mean(data.n_cols, 0.0);
  int varying = 0;
  for (const RegressionTree& tree : forest.trees()) {
    // A tree of one leaf (its sample had one value) has no variance to share.
    if (tree.n_nodes() < 2) continue;
    const std::vector<double> shares = TreeVarianceShares(tree, data.n_cols);
    ++varying;
    for (int j = 0; j < data.n_cols; ++j) mean[j] += shares[j];
  }
  double sum = 0;
  for (double v : mean) sum += v;
  if (varying == 0 || !(sum > 0)) return std::vector<double>(data.n_cols, 1.0 / data.n_cols);
  for (double& v : mean) v /= sum;
  return mean;
}

}  // namespace hpo::importance
