#include "importance/fanova.h"

#include <numeric>

#include "gtest/gtest.h"
#include "importance/importance_testing.h"

namespace hpo::importance {
namespace {

using testing::RandomDataset;

// Rows on the 2 x 2 grid {0.25, 0.75}^2, each corner `copies` times; loss a [x0 > 0.5] +
// b [x1 > 0.5]: an additive function a tree represents exactly.
Dataset Corners(double a, double b, int copies) {
  Dataset data;
  data.n_cols = 2;
  data.names = {"x0", "x1"};
  data.levels = {0, 0};
  data.categorical = {false, false};
  for (int c = 0; c < copies; ++c) {
    for (double x0 : {0.25, 0.75}) {
      for (double x1 : {0.25, 0.75}) {
        data.x.push_back(x0);
        data.x.push_back(x1);
        data.loss.push_back(a * (x0 > 0.5) + b * (x1 > 0.5));
        ++data.n_rows;
      }
    }
  }
  return data;
}

TEST(TreeVarianceSharesTest, AdditiveTreeSplitsItsVarianceExactly) {
  // Var(a [x0 > 0.5]) = a^2 / 4 over the uniform cube, the same for b; no interaction.
  const Dataset data = Corners(3, 1, 2);
  std::vector<int> rows(data.n_rows);
  std::iota(rows.begin(), rows.end(), 0);
  core::Rng rng(0);
  const RegressionTree tree =
      RegressionTree::Fit(data, SortRowsByColumn(data), rows, FanovaOptions{}, rng);
  EXPECT_EQ(tree.Leaves().size(), 4u);
  const std::vector<double> shares = TreeVarianceShares(tree, 2);
  EXPECT_NEAR(shares[0], 0.9, 1e-12);
  EXPECT_NEAR(shares[1], 0.1, 1e-12);
}

TEST(TreeVarianceSharesTest, PureInteractionHasNoFirstOrderShare) {
  // XOR of the two halves: each marginal is flat.
  Dataset data = Corners(0, 0, 1);
  for (int r = 0; r < data.n_rows; ++r) {
    data.loss[r] = (data.at(r, 0) > 0.5) != (data.at(r, 1) > 0.5) ? 1 : 0;
  }
  std::vector<int> rows = {0, 1, 2, 3};
  core::Rng rng(0);
  FanovaOptions options;
  const RegressionTree tree = RegressionTree::Fit(data, SortRowsByColumn(data), rows, options, rng);
  // No first split reduces the error (each half keeps mean 0.5): a greedy tree stays one leaf
  // and has no variance to share.
  EXPECT_EQ(tree.n_nodes(), 1);
  EXPECT_EQ(TreeVarianceShares(tree, 2), std::vector<double>({0.0, 0.0}));
}

TEST(FanovaTest, TenX0PlusX1RanksX0ThenX1AndIgnoresTheRest) {
  const Dataset data = RandomDataset(300, 4, 11, [](const double* x) { return 10 * x[0] + x[1]; });
  const std::vector<double> imp = FanovaImportance(data, FanovaOptions{}, 0);
  ASSERT_EQ(imp.size(), 4u);
  EXPECT_NEAR(std::accumulate(imp.begin(), imp.end(), 0.0), 1.0, 1e-12);
  // The function's own shares are 100/101 and 1/101; the forest, fitted to 300 points, sees
  // less of x1's small slope (0.4%), and next to nothing of x2 and x3.
  EXPECT_GT(imp[0], 0.95);
  EXPECT_GT(imp[1], 0.002);
  EXPECT_GT(imp[1], 20 * imp[2]);
  EXPECT_GT(imp[1], 20 * imp[3]);
  EXPECT_LT(imp[2], 0.001);
  EXPECT_LT(imp[3], 0.001);
}

TEST(FanovaTest, TwoX0PlusX1SharesAboutFourToOne) {
  const Dataset data = RandomDataset(300, 4, 12, [](const double* x) { return 2 * x[0] + x[1]; });
  const std::vector<double> imp = FanovaImportance(data, FanovaOptions{}, 0);
  // The function's own shares are 0.8 and 0.2.
  EXPECT_NEAR(imp[0], 0.8, 0.05);
  EXPECT_NEAR(imp[1], 0.2, 0.05);
  EXPECT_LT(imp[2] + imp[3], 0.03);
}

TEST(FanovaTest, SameSeedSameNumbers) {
  const Dataset data = RandomDataset(100, 3, 13, [](const double* x) { return x[0] * x[1]; });
  EXPECT_EQ(FanovaImportance(data, FanovaOptions{}, 5), FanovaImportance(data, FanovaOptions{}, 5));
  EXPECT_NE(FanovaImportance(data, FanovaOptions{}, 5), FanovaImportance(data, FanovaOptions{}, 6));
}

}  // namespace
}  // namespace hpo::importance
