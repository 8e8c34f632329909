#include "importance/random_forest.h"

#include <numeric>

#include "gtest/gtest.h"
#include "importance/importance_testing.h"

namespace hpo::importance {
namespace {

std::vector<int> AllRows(const Dataset& data) {
  std::vector<int> rows(data.n_rows);
  std::iota(rows.begin(), rows.end(), 0);
  return rows;
}

TEST(RegressionTreeTest, OneStepIsOneSplitMidwayBetweenTheNeighbouringValues) {
  Dataset data =
      testing::RandomDataset(50, 2, 1, [](const double* x) { return x[0] < 0.3 ? 1.0 : 5.0; });
  core::Rng rng(0);
  const RegressionTree tree =
      RegressionTree::Fit(data, SortRowsByColumn(data), AllRows(data), FanovaOptions{}, rng);
  EXPECT_EQ(tree.n_nodes(), 3);
  const double lo[2] = {0.0, 0.9}, hi[2] = {0.99, 0.1};
  EXPECT_EQ(tree.Predict(lo), 1.0);
  EXPECT_EQ(tree.Predict(hi), 5.0);
  // The threshold lies between the largest x0 below 0.3 and the smallest above.
  double below = 0, above = 1;
  for (int r = 0; r < data.n_rows; ++r) {
    const double x = data.at(r, 0);
    if (x < 0.3) below = std::max(below, x);
    if (x >= 0.3) above = std::min(above, x);
  }
  const std::vector<Leaf> leaves = tree.Leaves();
  ASSERT_EQ(leaves.size(), 2u);
  EXPECT_EQ(leaves[0].hi[0], 0.5 * (below + above));
  EXPECT_EQ(leaves[1].lo[0], 0.5 * (below + above));
  EXPECT_EQ(leaves[0].lo[1], 0.0);
  EXPECT_EQ(leaves[0].hi[1], 1.0);
}

TEST(RegressionTreeTest, FullTreeFitsTheSampleAndItsLeavesPartitionTheCube) {
  Dataset data =
      testing::RandomDataset(200, 3, 2, [](const double* x) { return x[0] * x[1] + x[2]; });
  core::Rng rng(0);
  const RegressionTree tree =
      RegressionTree::Fit(data, SortRowsByColumn(data), AllRows(data), FanovaOptions{}, rng);
  for (int r = 0; r < data.n_rows; ++r) {
    EXPECT_EQ(tree.Predict(&data.x[r * 3]), data.loss[r]) << "row " << r;
  }
  const std::vector<Leaf> leaves = tree.Leaves();
  EXPECT_EQ(leaves.size(), 200u);  // distinct losses, min_samples_leaf 1
  EXPECT_EQ(static_cast<int>(leaves.size()), (tree.n_nodes() + 1) / 2);
  double volume = 0;
  for (const Leaf& leaf : leaves) {
    double v = 1;
    for (int j = 0; j < 3; ++j) {
      ASSERT_LT(leaf.lo[j], leaf.hi[j]);
      v *= leaf.hi[j] - leaf.lo[j];
    }
    volume += v;
  }
  EXPECT_NEAR(volume, 1.0, 1e-12);
}

TEST(RegressionTreeTest, MinSamplesLeafAndMaxDepthBoundTheTree) {
  Dataset data = testing::RandomDataset(200, 2, 3, [](const double* x) { return x[0] + x[1]; });
  core::Rng rng(0);
  FanovaOptions options;
  options.min_samples_leaf = 20;
  const RegressionTree wide =
      RegressionTree::Fit(data, SortRowsByColumn(data), AllRows(data), options, rng);
  EXPECT_LE(wide.Leaves().size(), 10u);
  options = FanovaOptions{};
  options.max_depth = 2;
  const RegressionTree shallow =
      RegressionTree::Fit(data, SortRowsByColumn(data), AllRows(data), options, rng);
  EXPECT_EQ(shallow.Leaves().size(), 4u);
}

TEST(RandomForestTest, SameSeedSameForestOtherSeedOtherTrees) {
  Dataset data =
      testing::RandomDataset(100, 4, 4, [](const double* x) { return x[0] + 0.5 * x[1]; });
  FanovaOptions options;
  options.n_trees = 8;
  options.max_features = 0.5;
  const RandomForest a = RandomForest::Fit(data, options, 7);
  const RandomForest b = RandomForest::Fit(data, options, 7);
  const RandomForest c = RandomForest::Fit(data, options, 8);
  ASSERT_EQ(a.trees().size(), 8u);
  const double x[4] = {0.2, 0.7, 0.1, 0.9};
  EXPECT_EQ(a.Predict(x), b.Predict(x));
  EXPECT_NE(a.Predict(x), c.Predict(x));
  // A forest of bootstrap trees predicts near the function, not exactly.
  EXPECT_NEAR(a.Predict(x), 0.2 + 0.35, 0.1);
}

}  // namespace
}  // namespace hpo::importance
