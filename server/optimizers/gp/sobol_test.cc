#include "server/optimizers/gp/sobol.h"

#include <set>
#include <vector>

#include "gtest/gtest.h"

namespace hpo::server::gp {
namespace {

TEST(SobolTest, PointsLieInTheHalfOpenUnitCube) {
  SobolSequence sobol(45, 7);  // 40 Sobol dimensions and 5 pseudo-random ones
  for (const auto& p : sobol.Take(4096)) {
    ASSERT_EQ(p.size(), 45u);
    for (double x : p) {
      ASSERT_GE(x, 0.0);
      ASSERT_LT(x, 1.0);
    }
  }
}

TEST(SobolTest, EveryOneDimensionalProjectionIsStratified) {
  // The first 2^m points of each coordinate fall one in each interval [k/2^m, (k+1)/2^m), also
  // after the digital shift.
  SobolSequence sobol(SobolSequence::kMaxDims, 12345);
  const auto points = sobol.Take(1024);
  for (int d = 0; d < SobolSequence::kMaxDims; ++d) {
    std::set<int> cells;
    for (const auto& p : points) cells.insert(static_cast<int>(p[d] * 1024));
    EXPECT_EQ(cells.size(), 1024u) << "dimension " << d;
  }
}

TEST(SobolTest, FirstTwoDimensionsFormANet) {
  // Dimensions 1 and 2 form a (0, m, 2)-net: 1024 points, one in each 32 x 32 cell.
  SobolSequence sobol(2, 99);
  std::set<std::pair<int, int>> cells;
  for (const auto& p : sobol.Take(1024)) {
    cells.insert({static_cast<int>(p[0] * 32), static_cast<int>(p[1] * 32)});
  }
  EXPECT_EQ(cells.size(), 1024u);
}

TEST(SobolTest, WellSpreadInTenDimensions) {
  // Mean of each coordinate close to 1/2 and the minimum pairwise distance far from 0.
  SobolSequence sobol(10, 3);
  const auto points = sobol.Take(256);
  for (int d = 0; d < 10; ++d) {
    double mean = 0;
    for (const auto& p : points) mean += p[d];
    EXPECT_NEAR(mean / points.size(), 0.5, 0.01) << d;
  }
  double min_dist2 = 1e9;
  for (size_t i = 0; i < points.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      double s = 0;
      for (int d = 0; d < 10; ++d)
        s += (points[i][d] - points[j][d]) * (points[i][d] - points[j][d]);
      min_dist2 = std::min(min_dist2, s);
    }
  }
  EXPECT_GT(min_dist2, 0.01);
}

TEST(SobolTest, SeedDeterminesTheShift) {
  SobolSequence a(5, 1), b(5, 1), c(5, 2);
  const auto pa = a.Take(10), pb = b.Take(10), pc = c.Take(10);
  EXPECT_EQ(pa, pb);
  EXPECT_NE(pa, pc);
}

}  // namespace
}  // namespace hpo::server::gp
