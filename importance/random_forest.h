// Regression trees and a random forest of them, fitted to a Dataset (loss on [0, 1]^n_cols by
// variance reduction), with each leaf's box of [0, 1]^n_cols kept for fANOVA.
#ifndef HPO_IMPORTANCE_RANDOM_FOREST_H_
#define HPO_IMPORTANCE_RANDOM_FOREST_H_

#include <vector>

#include "core/search_space.h"
#include "importance/dataset.h"
#include "importance/importance.h"

namespace hpo::importance {

// One leaf of a fitted tree: the box [lo, hi) of [0, 1]^n_cols it covers and its prediction.
struct Leaf {
  std::vector<double> lo, hi;
  double value = 0;
};

// Per column, the rows of a Dataset sorted by that column's value (ties by row): sorted once for
// all the trees of a forest.
using ColumnOrder = std::vector<std::vector<int>>;
ColumnOrder SortRowsByColumn(const Dataset& data);

// Immutable after Fit; thread-compatible.
class RegressionTree {
 public:
  // Fits the tree to the rows `rows` of `data` (a bootstrap sample may repeat rows), `order` being
  // SortRowsByColumn(data): each split
  // takes, among options.max_features of the columns drawn with `rng`, the threshold (midway
  // between two neighbouring distinct values) that reduces the squared error most, until a node
  // has fewer than min_samples_split rows, is max_depth deep, has one value, or no split leaves
  // min_samples_leaf rows on each side.
  static RegressionTree Fit(const Dataset& data, const ColumnOrder& order, std::vector<int> rows,
                            const FanovaOptions& options, core::Rng& rng);

  double Predict(const double* x) const;
  // The leaves, whose boxes partition [0, 1]^n_cols.
  std::vector<Leaf> Leaves() const;
  int n_nodes() const { return static_cast<int>(nodes_.size()); }

 private:
  struct Node {
    int feature = -1;      // -1: a leaf
    double threshold = 0;  // x[feature] < threshold goes left
    int left = -1, right = -1;
    double value = 0;
  };
  class Builder;

  int n_cols_ = 0;
  std::vector<Node> nodes_;  // the root first
};

// Trees fitted each to a bootstrap sample of the rows (or all of them, without bootstrap).
// Immutable after Fit; thread-compatible.
class RandomForest {
 public:
  static RandomForest Fit(const Dataset& data, const FanovaOptions& options, uint64_t seed);
  const std::vector<RegressionTree>& trees() const { return trees_; }
  double Predict(const double* x) const;  // the trees' mean

 private:
  std::vector<RegressionTree> trees_;
};

}  // namespace hpo::importance

#endif  // HPO_IMPORTANCE_RANDOM_FOREST_H_
