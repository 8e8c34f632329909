// fANOVA importance (Hutter, Hoos & Leyton-Brown 2014) over a random forest.
#ifndef HPO_IMPORTANCE_FANOVA_H_
#define HPO_IMPORTANCE_FANOVA_H_

#include <cstdint>
#include <vector>

#include "importance/dataset.h"
#include "importance/importance.h"
#include "importance/random_forest.h"

namespace hpo::importance {

// For the piecewise-constant function a tree's leaves define on [0, 1]^n_cols (uniform measure):
// per column j, the variance of its first-order marginal f_j(x_j) (the mean of the tree over all
// other columns) divided by the tree's total variance, computed exactly by sweeping the leaves'
// intervals along j. All zeros for a tree that is one leaf. Pure; thread-safe.
std::vector<double> TreeVarianceShares(const RegressionTree& tree, int n_cols);

// Fits a RandomForest to `data` with `seed`, takes the mean of TreeVarianceShares over the trees
// that vary, and normalizes the means to sum 1 (equal shares when nothing varies). One number per
// column. Pure; thread-safe.
std::vector<double> FanovaImportance(const Dataset& data, const FanovaOptions& options,
                                     uint64_t seed);

}  // namespace hpo::importance

#endif  // HPO_IMPORTANCE_FANOVA_H_
