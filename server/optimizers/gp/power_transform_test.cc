#include "server/optimizers/gp/power_transform.h"

#include <cmath>
#include <random>

#include "gtest/gtest.h"

namespace hpo::server::gp {
namespace {

TEST(PowerTransformTest, YeoJohnsonIsIdentityAtOneAndMonotone) {
  for (double y : {-3.0, -0.5, 0.0, 0.7, 4.0}) EXPECT_NEAR(YeoJohnson(1.0, y), y, 1e-12);
  EXPECT_NEAR(YeoJohnson(0.0, 2.0), std::log(3.0), 1e-12);
  EXPECT_NEAR(YeoJohnson(2.0, -2.0), -std::log(3.0), 1e-12);
  for (double lambda : {-2.5, -1.0, 0.0, 0.5, 2.0, 3.0}) {
    double previous = -INFINITY;
    for (double y = -5; y <= 5; y += 0.25) {
      const double t = YeoJohnson(lambda, y);
      EXPECT_GT(t, previous) << lambda << " " << y;
      previous = t;
    }
  }
}

TEST(PowerTransformTest, OutputsAreStandardizedAndOrderIsKept) {
  std::mt19937_64 rng(1);
  std::lognormal_distribution<double> skewed(0, 1.2);
  Eigen::VectorXd y(200);
  for (int i = 0; i < y.size(); ++i) y(i) = skewed(rng);
  double lambda = 1;
  const Eigen::VectorXd t = TransformOutputs(y, true, &lambda);
  EXPECT_NEAR(t.mean(), 0.0, 1e-9);
  EXPECT_NEAR(std::sqrt(t.array().square().mean()), 1.0, 1e-9);
  for (int i = 0; i < y.size(); ++i) {
    for (int j = 0; j < y.size(); ++j) {
      if (y(i) < y(j)) {
        ASSERT_LT(t(i), t(j));
      }
    }
  }
  // Right-skewed data: lambda < 1 and the skewness drops.
  EXPECT_LT(lambda, 1.0);
  auto skewness = [](const Eigen::VectorXd& v) {
    const double m = v.mean();
    const double sd = std::sqrt((v.array() - m).square().mean());
    return ((v.array() - m) / sd).cube().mean();
  };
  EXPECT_LT(std::abs(skewness(t)), 0.5 * std::abs(skewness(y)));
  // The chosen lambda beats its neighbours.
  const Eigen::VectorXd z = TransformOutputs(y, false);
  EXPECT_GE(YeoJohnsonLogLikelihood(lambda, z), YeoJohnsonLogLikelihood(lambda + 0.05, z));
  EXPECT_GE(YeoJohnsonLogLikelihood(lambda, z), YeoJohnsonLogLikelihood(lambda - 0.05, z));
}

TEST(PowerTransformTest, TheUnitOfTheObjectiveDoesNotMatter) {
  Eigen::VectorXd y(6);
  y << 0.3, 1.7, 0.02, 4.0, 2.2, 0.9;
  for (bool power : {false, true}) {
    const Eigen::VectorXd reference = TransformOutputs(y, power);
    ASSERT_FALSE(reference.isZero(1e-3));
    for (double unit : {1e-13, 1e-200, 1e12}) {
      const Eigen::VectorXd t = TransformOutputs(y * unit, power);
      EXPECT_TRUE(t.isApprox(reference, 1e-6)) << "unit " << unit << ": " << t.transpose();
    }
  }
  // Values whose squares overflow a double still standardize, in order.
  Eigen::VectorXd huge(4);
  huge << 1e200, -3e200, 2e200, 0;
  const Eigen::VectorXd t = TransformOutputs(huge, false);
  ASSERT_TRUE(t.allFinite()) << t.transpose();
  EXPECT_NEAR(t.mean(), 0, 1e-12);
  EXPECT_LT(t(1), t(3));
  EXPECT_LT(t(3), t(0));
  EXPECT_LT(t(0), t(2));
}

TEST(PowerTransformTest, OnlyAFarBadTailIsSoftened) {
  Eigen::VectorXd y(12);
  y << 0.5, 0.1, 0.9, 0.3, 1.0, 0.2, 0.8, 0.4, 0.6, 0.7, 0.55, 0.45;
  EXPECT_EQ(SoftenBadTail(y), y);  // nothing beyond q3 + 3 iqr
  EXPECT_EQ(SoftenBadTail(y.head(3)), y.head(3));
  Eigen::VectorXd with_outliers = y;
  with_outliers(10) = 1e6;  // two diverged runs
  with_outliers(11) = 1e12;
  const Eigen::VectorXd s = SoftenBadTail(with_outliers);
  // Sorted: 0.1 .. 1.0, 1e6, 1e12; q1 = 0.3/4 + 0.4 * 3/4 = 0.375, q3 = 0.9 * 3/4 + 1.0/4 = 0.925.
  const double iqr = 0.925 - 0.375, bound = 0.925 + 3 * iqr;
  EXPECT_NEAR(s(10), bound + iqr * std::log1p((1e6 - bound) / iqr), 1e-12);
  EXPECT_LT(s(10), s(11));
  EXPECT_LT(s(11), bound + 30 * iqr);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(s(i), with_outliers(i));
  // The ordinary values keep a visible share of the standardized range (1e-12 of it unsoftened).
  const Eigen::VectorXd t = TransformOutputs(with_outliers, false);
  EXPECT_GT(t(4) - t(1), 0.03 * (t.maxCoeff() - t.minCoeff()));
}

TEST(PowerTransformTest, ConstantOutputsBecomeZeros) {
  const Eigen::VectorXd t = TransformOutputs(Eigen::VectorXd::Constant(5, 3.5), true);
  EXPECT_TRUE(t.isZero(0));
  EXPECT_TRUE(TransformOutputs(Eigen::VectorXd::Constant(1, -2.0), true).isZero(0));
}

}  // namespace
}  // namespace hpo::server::gp
