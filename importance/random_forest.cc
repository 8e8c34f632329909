#include "importance/random_forest.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>

namespace hpo::importance {

// Grows one tree depth-first over a permutation of the sampled rows: each node owns a contiguous
// range of `rows_`, which a split partitions in place.
class RegressionTree::Builder {
 public:
  Builder(const Dataset& data, std::vector<int> rows, const FanovaOptions& options, core::Rng& rng,
          RegressionTree* tree)
      : data_(data), rows_(std::move(rows)), options_(options), rng_(rng), tree_(tree) {
    features_.resize(data.n_cols);
    std::iota(features_.begin(), features_.end(), 0);
    n_try_ = std::clamp(static_cast<int>(std::lround(options.max_features * data.n_cols)), 1,
                        data.n_cols);
  }

  int Grow(int begin, int end, int depth) {
    const int id = static_cast<int>(tree_->nodes_.size());
    tree_->nodes_.emplace_back();
    const int n = end - begin;
    double sum = 0;
    for (int i = begin; i < end; ++i) sum += data_.loss[rows_[i]];
    const double mean = sum / n;
    tree_->nodes_[id].value = mean;
    if (n < options_.min_samples_split || n < 2 * options_.min_samples_leaf ||
        depth >= options_.max_depth) {
      return id;
    }
    int best_feature = -1;
    double best_threshold = 0;
    // Squared error removed by the split: sum over both sides of (side's sum)^2 / side's count,
    // on losses centred at the node's mean (so a split must beat 0).
    double best_gain = 0;
    if (n_try_ < data_.n_cols) {
      // A partial Fisher-Yates shuffle draws the candidate columns.
      for (int k = 0; k < n_try_; ++k) {
        const int pick = k + static_cast<int>(rng_() % static_cast<uint64_t>(data_.n_cols - k));
        std::swap(features_[k], features_[pick]);
      }
    }
    for (int k = 0; k < n_try_; ++k) {
      const int f = features_[k];
      pairs_.clear();
      for (int i = begin; i < end; ++i) {
        const int r = rows_[i];
        pairs_.emplace_back(data_.at(r, f), data_.loss[r] - mean);
      }
      std::sort(pairs_.begin(), pairs_.end());
      double left = 0;
      const int min_leaf = std::max(1, options_.min_samples_leaf);
      for (int i = 1; i < n; ++i) {
        left += pairs_[i - 1].second;
        if (i < min_leaf || n - i < min_leaf) continue;
        if (!(pairs_[i - 1].first < pairs_[i].first)) continue;
        const double right = -left;  // the centred losses sum to 0
        const double gain = left * left / i + right * right / (n - i);
        if (gain > best_gain * (1 + 1e-12) + 1e-300) {
          best_gain = gain;
          best_feature = f;
          best_threshold = 0.5 * (pairs_[i - 1].first + pairs_[i].first);
        }
      }
    }
    if (best_feature < 0) return id;
    const auto mid_it = std::partition(rows_.begin() + begin, rows_.begin() + end, [&](int r) {
      return data_.at(r, best_feature) < best_threshold;
    });
    const int mid = static_cast<int>(mid_it - rows_.begin());
    if (mid == begin || mid == end) return id;  // cannot happen with a midway threshold
    tree_->nodes_[id].feature = best_feature;
    tree_->nodes_[id].threshold = best_threshold;
    const int left = Grow(begin, mid, depth + 1);
    tree_->nodes_[id].left = left;
    const int right = Grow(mid, end, depth + 1);
    tree_->nodes_[id].right = right;
    return id;
  }

  int n_rows() const { return static_cast<int>(rows_.size()); }

 private:
  const Dataset& data_;
  std::vector<int> rows_;
  const FanovaOptions& options_;
  core::Rng& rng_;
  RegressionTree* tree_;
  std::vector<int> features_;
  int n_try_ = 1;
  std::vector<std::pair<double, double>> pairs_;  // (x, centred loss) of one node and column
};

RegressionTree RegressionTree::Fit(const Dataset& data, std::vector<int> rows,
                                   const FanovaOptions& options, core::Rng& rng) {
  RegressionTree tree;
  tree.n_cols_ = data.n_cols;
  Builder builder(data, std::move(rows), options, rng, &tree);
  if (builder.n_rows() > 0) builder.Grow(0, builder.n_rows(), 0);
  return tree;
}

double RegressionTree::Predict(const double* x) const {
  if (nodes_.empty()) return 0;
  int id = 0;
  while (nodes_[id].feature >= 0) {
    const Node& node = nodes_[id];
    id = x[node.feature] < node.threshold ? node.left : node.right;
  }
  return nodes_[id].value;
}

std::vector<Leaf> RegressionTree::Leaves() const {
  std::vector<Leaf> leaves;
  if (nodes_.empty()) return leaves;
  // Depth-first with the box of the node on top of the stack.
  std::vector<std::pair<int, Leaf>> stack;
  Leaf root;
  root.lo.assign(n_cols_, 0.0);
  root.hi.assign(n_cols_, 1.0);
  stack.emplace_back(0, std::move(root));
  while (!stack.empty()) {
    auto [id, box] = std::move(stack.back());
    stack.pop_back();
    const Node& node = nodes_[id];
    if (node.feature < 0) {
      box.value = node.value;
      leaves.push_back(std::move(box));
      continue;
    }
    // Thresholds lie inside the node's box, as they lie between two of its rows' values.
    Leaf right = box;
    right.lo[node.feature] = node.threshold;
    box.hi[node.feature] = node.threshold;
    stack.emplace_back(node.right, std::move(right));
    stack.emplace_back(node.left, std::move(box));
  }
  return leaves;
}

RandomForest RandomForest::Fit(const Dataset& data, const FanovaOptions& options, uint64_t seed) {
  RandomForest forest;
  core::Rng rng(seed);
  const int n = data.n_rows;
  for (int t = 0; t < options.n_trees; ++t) {
    std::vector<int> rows(n);
    if (options.bootstrap) {
      for (int& r : rows) r = static_cast<int>(rng() % static_cast<uint64_t>(n));
    } else {
      std::iota(rows.begin(), rows.end(), 0);
    }
    forest.trees_.push_back(RegressionTree::Fit(data, std::move(rows), options, rng));
  }
  return forest;
}

double RandomForest::Predict(const double* x) const {
  if (trees_.empty()) return 0;
  double sum = 0;
  for (const RegressionTree& tree : trees_) sum += tree.Predict(x);
  return sum / static_cast<double>(trees_.size());
}

}  // namespace hpo::importance
