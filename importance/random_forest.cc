#include "importance/random_forest.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>

namespace hpo::importance {

// Grows one tree depth-first. The sampled rows sit in slots 0..n-1 (a bootstrap sample may put
// one row in several), their values copied column by column; for every column, order_[f] lists the
// slots sorted by that column's value, and a node owns the same contiguous range [begin, end) of
// every order_[f]. A split scans each candidate column's range in order (no sorting per node) and
// then partitions every column's range stably, so the ranges stay sorted: O(n_cols n) per level of
// the tree instead of O(n_cols n log n). Not thread-safe: one Builder serves one Fit call.
class RegressionTree::Builder {
 public:
  Builder(const Dataset& data, const ColumnOrder& sorted_rows, std::vector<int> rows,
          const FanovaOptions& options, core::Rng& rng, RegressionTree* tree)
      : data_(data), options_(options), rng_(rng), tree_(tree) {
    const int n = static_cast<int>(rows.size());
    features_.resize(data.n_cols);
    std::iota(features_.begin(), features_.end(), 0);
    n_try_ = std::clamp(static_cast<int>(std::lround(options.max_features * data.n_cols)), 1,
                        data.n_cols);
    // The slots of each row (a CSR list), to turn the dataset's sorted rows into sorted slots
    // in O(n) per column.
    std::vector<int> first(data.n_rows + 1, 0), slots(n);
    for (int r : rows) ++first[r + 1];
    for (int r = 0; r < data.n_rows; ++r) first[r + 1] += first[r];
    std::vector<int> fill(first.begin(), first.end() - 1);
    for (int s = 0; s < n; ++s) slots[fill[rows[s]]++] = s;
    order_.assign(data.n_cols, std::vector<int>());
    x_.assign(data.n_cols, std::vector<double>(n));
    for (int f = 0; f < data.n_cols; ++f) {
      std::vector<int>& order = order_[f];
      order.reserve(n);
      for (int r : sorted_rows[f]) {
        for (int k = first[r]; k < first[r + 1]; ++k) order.push_back(slots[k]);
      }
      for (int s = 0; s < n; ++s) x_[f][s] = data.at(rows[s], f);
    }
    loss_.resize(n);
    for (int s = 0; s < n; ++s) loss_[s] = data.loss[rows[s]];
    goes_left_.resize(n);
    scratch_.resize(n);
  }

  int Grow(int begin, int end, int depth) {
    const int id = static_cast<int>(tree_->nodes_.size());
    tree_->nodes_.emplace_back();
    const int n = end - begin;
    double sum = 0;
    for (int i = begin; i < end; ++i) sum += Loss(order_[0][i]);
    const double mean = sum / n;
    tree_->nodes_[id].value = mean;
    const int min_leaf = std::max(1, options_.min_samples_leaf);
    if (n < options_.min_samples_split || n < 2 * min_leaf || depth >= options_.max_depth) {
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
      const std::vector<int>& order = order_[f];
      double left = 0;
      double x_prev = X(order[begin], f);
      for (int i = 1; i < n; ++i) {
        const int slot = order[begin + i];
        const double x = X(slot, f);
        left += Loss(order[begin + i - 1]) - mean;
        const bool distinct = x_prev < x;
        const double x_left = x_prev;
        x_prev = x;
        if (i < min_leaf || n - i < min_leaf || !distinct) continue;
        const double right = -left;  // the centred losses sum to 0
        const double gain = left * left / i + right * right / (n - i);
        if (gain > best_gain * (1 + 1e-12) + 1e-300) {
          best_gain = gain;
          best_feature = f;
          best_threshold = 0.5 * (x_left + x);
        }
      }
    }
    if (best_feature < 0) return id;
    int n_left = 0;
    for (int i = begin; i < end; ++i) {
      const int slot = order_[0][i];
      goes_left_[slot] = X(slot, best_feature) < best_threshold;
      n_left += goes_left_[slot];
    }
    if (n_left == 0 || n_left == n) return id;  // cannot happen with a midway threshold
    for (std::vector<int>& order : order_) {
      int l = begin, r = 0;
      for (int i = begin; i < end; ++i) {
        const int slot = order[i];
        if (goes_left_[slot]) {
          order[l++] = slot;
        } else {
          scratch_[r++] = slot;
        }
      }
      std::copy(scratch_.begin(), scratch_.begin() + r, order.begin() + l);
    }
    const int mid = begin + n_left;
    tree_->nodes_[id].feature = best_feature;
    tree_->nodes_[id].threshold = best_threshold;
    const int left = Grow(begin, mid, depth + 1);
    tree_->nodes_[id].left = left;
    const int right = Grow(mid, end, depth + 1);
    tree_->nodes_[id].right = right;
    return id;
  }

  int n_rows() const { return static_cast<int>(loss_.size()); }

 private:
  double X(int slot, int f) const { return x_[f][slot]; }
  double Loss(int slot) const { return loss_[slot]; }

  const Dataset& data_;
  std::vector<std::vector<double>> x_;  // per column, per slot: the slot's row's value
  std::vector<double> loss_;            // per slot
  const FanovaOptions& options_;
  core::Rng& rng_;
  RegressionTree* tree_;
  std::vector<int> features_;
  int n_try_ = 1;
  std::vector<std::vector<int>> order_;  // per column: slots sorted by its value
  std::vector<char> goes_left_;          // per slot, for the split being applied
  std::vector<int> scratch_;
};

ColumnOrder SortRowsByColumn(const Dataset& data) {
  ColumnOrder order(data.n_cols, std::vector<int>(data.n_rows));
  for (int f = 0; f < data.n_cols; ++f) {
    std::iota(order[f].begin(), order[f].end(), 0);
    std::sort(order[f].begin(), order[f].end(), [&](int a, int b) {
      const double xa = data.at(a, f), xb = data.at(b, f);
      return xa < xb || (xa == xb && a < b);
    });
  }
  return order;
}

RegressionTree RegressionTree::Fit(const Dataset& data, const ColumnOrder& order,
                                   std::vector<int> rows, const FanovaOptions& options,
                                   core::Rng& rng) {
  RegressionTree tree;
  tree.n_cols_ = data.n_cols;
  Builder builder(data, order, std::move(rows), options, rng, &tree);
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
  const ColumnOrder order = SortRowsByColumn(data);
  const int n = data.n_rows;
  for (int t = 0; t < options.n_trees; ++t) {
    std::vector<int> rows(n);
    if (options.bootstrap) {
      for (int& r : rows) r = static_cast<int>(rng() % static_cast<uint64_t>(n));
    } else {
      std::iota(rows.begin(), rows.end(), 0);
    }
    forest.trees_.push_back(RegressionTree::Fit(data, order, std::move(rows), options, rng));
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
