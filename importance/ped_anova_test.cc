#include "importance/ped_anova.h"

#include <numeric>

#include "gtest/gtest.h"
#include "importance/importance_testing.h"

namespace hpo::importance {
namespace {

using testing::RandomDataset;

TEST(TopRowsTest, BestQuantileAtLeastMinTopWithTies) {
  Dataset data;
  data.n_rows = 10;
  data.loss = {5, 1, 9, 3, 3, 7, 0, 8, 6, 2};
  PedAnovaOptions options;
  options.quantile = 0.2;
  options.min_top = 1;
  EXPECT_EQ(TopRows(data, options), std::vector<int>({1, 6}));
  options.min_top = 3;
  EXPECT_EQ(TopRows(data, options), std::vector<int>({1, 6, 9}));
  options.quantile = 0.4;  // 0, 1, 2, 3 and the other 3
  EXPECT_EQ(TopRows(data, options), std::vector<int>({1, 3, 4, 6, 9}));
}

TEST(PedAnovaTest, TenX0PlusX1RanksX0ThenX1AndIgnoresTheRest) {
  const Dataset data = RandomDataset(1000, 4, 21, [](const double* x) { return 10 * x[0] + x[1]; });
  const std::vector<double> imp = PedAnovaImportance(data, PedAnovaOptions{});
  ASSERT_EQ(imp.size(), 4u);
  EXPECT_NEAR(std::accumulate(imp.begin(), imp.end(), 0.0), 1.0, 1e-12);
  EXPECT_GT(imp[0], 0.8);
  EXPECT_GT(imp[1], imp[2]);
  EXPECT_GT(imp[1], imp[3]);
  EXPECT_LT(imp[2], 0.05);
  EXPECT_LT(imp[3], 0.05);
}

TEST(PedAnovaTest, CategoricalAndIntColumnsUseOneCellPerValue) {
  // x0: a categorical of 3 choices, choice 0 good; x1: an int of 5 values, ignored.
  Dataset data;
  data.n_cols = 2;
  data.names = {"c", "n"};
  data.levels = {3, 5};
  data.categorical = {true, false};
  core::Rng rng(3);
  for (int r = 0; r < 300; ++r) {
    const int c = static_cast<int>(rng() % 3), n = static_cast<int>(rng() % 5);
    data.x.push_back((c + 0.5) / 3);
    data.x.push_back((n + 0.5) / 5);
    data.loss.push_back((c == 0 ? 0 : 1) + 0.01 * static_cast<double>(rng() % 100));
    ++data.n_rows;
  }
  const std::vector<double> imp = PedAnovaImportance(data, PedAnovaOptions{});
  EXPECT_GT(imp[0], 0.9);
  EXPECT_LT(imp[1], 0.1);
}

TEST(PedAnovaTest, AllRowsTopAgainstAllRowsIsEqualShares) {
  const Dataset data = RandomDataset(20, 2, 22, [](const double* x) { return x[0]; });
  PedAnovaOptions options;
  options.quantile = 1.0;
  options.local = true;
  EXPECT_EQ(PedAnovaImportance(data, options), std::vector<double>({0.5, 0.5}));
}

TEST(PedAnovaTest, GlobalReferenceCountsWhereTheTrialsWereNotTried) {
  // Only the lower half of x0 was tried, and x1 decides the loss. Against what was tried
  // (local), x0 does not matter; against the whole space (global), the good trials all have x0
  // in the lower half, which counts (less than x1, whose good trials crowd into a tenth).
  Dataset data = RandomDataset(1000, 2, 23, [](const double* x) { return x[1]; });
  for (int r = 0; r < data.n_rows; ++r) data.x[r * 2] *= 0.5;
  PedAnovaOptions options;
  options.local = true;
  const std::vector<double> local = PedAnovaImportance(data, options);
  options.local = false;
  const std::vector<double> global = PedAnovaImportance(data, options);
  EXPECT_LT(local[0], 0.05);
  EXPECT_GT(global[0], 0.1);
  EXPECT_GT(global[1], global[0]);
}

}  // namespace
}  // namespace hpo::importance
