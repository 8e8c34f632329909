#include "server/optimizers/gp/gaussian_process.h"

#include <cmath>
#include <random>

#include "gtest/gtest.h"

namespace hpo::server::gp {
namespace {

// Three numeric columns (groups 0, 1, 2) and a one-hot pair scaled by 1/sqrt2 (group 3).
FeatureGroups MixedGroups() { return FeatureGroups{{0, 1, 2, 3, 3}, 4}; }

Eigen::MatrixXd MixedPoints(int n, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0, 1);
  Eigen::MatrixXd x = Eigen::MatrixXd::Zero(5, n);
  for (int j = 0; j < n; ++j) {
    for (int c = 0; c < 3; ++c) x(c, j) = u(rng);
    x(3 + (u(rng) < 0.5 ? 0 : 1), j) = std::sqrt(0.5);
  }
  return x;
}

Eigen::VectorXd Targets(const Eigen::MatrixXd& x) {
  Eigen::VectorXd y(x.cols());
  for (int j = 0; j < x.cols(); ++j) {
    y(j) = std::sin(3 * x(0, j)) + x(1, j) * x(1, j) - 0.5 * x(2, j) + (x(3, j) > 0 ? 0.3 : -0.3);
  }
  return y;
}

Eigen::VectorXd Theta(double lengthscale, double signal, double noise) {
  Eigen::VectorXd theta(6);
  theta << std::log(lengthscale), std::log(lengthscale * 1.5), std::log(lengthscale * 0.7),
      std::log(1.2), std::log(signal), std::log(noise);
  return theta;
}

TEST(GaussianProcessTest, MaternDerivativeMatchesFiniteDifferences) {
  for (double r2 : {1e-4, 0.01, 0.3, 1.0, 4.0}) {
    const double h = 1e-7;
    EXPECT_NEAR(Matern52DerivativeR2(r2), (Matern52(r2 + h) - Matern52(r2 - h)) / (2 * h), 1e-6);
  }
  EXPECT_DOUBLE_EQ(Matern52(0), 1.0);
  EXPECT_DOUBLE_EQ(Matern52DerivativeR2(0), -5.0 / 6.0);
}

TEST(GaussianProcessTest, PosteriorMeanInterpolatesNoiselessData) {
  std::mt19937_64 rng(1);
  const Eigen::MatrixXd x = MixedPoints(25, rng);
  const Eigen::VectorXd y = Targets(x);
  auto gp = GaussianProcess::Create(x, MixedGroups(), y, Theta(0.5, 1.0, 1e-10));
  ASSERT_TRUE(gp.ok()) << gp.status();
  Eigen::VectorXd mean, var;
  gp->Predict(x, &mean, &var);
  for (int j = 0; j < x.cols(); ++j) {
    EXPECT_NEAR(mean(j), y(j), 1e-4) << j;
    EXPECT_LT(var(j), 1e-6) << j;
  }
  // Away from the data the variance is clearly positive.
  const Eigen::MatrixXd far = MixedPoints(5, rng);
  gp->Predict(far, &mean, &var);
  EXPECT_GT(var.maxCoeff(), 1e-3);
}

TEST(GaussianProcessTest, PredictWithGradientMatchesPredictAndFiniteDifferences) {
  std::mt19937_64 rng(2);
  const Eigen::MatrixXd x = MixedPoints(30, rng);
  auto gp = GaussianProcess::Create(x, MixedGroups(), Targets(x), Theta(0.4, 1.3, 1e-4));
  ASSERT_TRUE(gp.ok()) << gp.status();
  const Eigen::MatrixXd probes = MixedPoints(4, rng);
  for (int j = 0; j < probes.cols(); ++j) {
    const Eigen::VectorXd p = probes.col(j);
    double mean, var;
    Eigen::VectorXd d_mean, d_var;
    gp->PredictWithGradient(p, &mean, &var, &d_mean, &d_var);
    Eigen::VectorXd m, v;
    gp->Predict(p, &m, &v);
    EXPECT_NEAR(mean, m(0), 1e-10);
    EXPECT_NEAR(var, v(0), 1e-10);
    for (int c = 0; c < 3; ++c) {
      const double h = 1e-6;
      Eigen::VectorXd up = p, down = p;
      up(c) += h;
      down(c) -= h;
      Eigen::VectorXd mu, vu, md, vd;
      gp->Predict(up, &mu, &vu);
      gp->Predict(down, &md, &vd);
      EXPECT_NEAR(d_mean(c), (mu(0) - md(0)) / (2 * h), 1e-5) << j << " " << c;
      EXPECT_NEAR(d_var(c), (vu(0) - vd(0)) / (2 * h), 1e-5) << j << " " << c;
    }
  }
}

TEST(GaussianProcessTest, LogMarginalLikelihoodGradientMatchesFiniteDifferences) {
  // 130 points take the recursive inverse (blocks of 48 and below) through two levels.
  for (int n : {20, 130}) {
    std::mt19937_64 rng(3);
    const Eigen::MatrixXd x = MixedPoints(n, rng);
    MarginalLikelihood lml(x, MixedGroups(), Targets(x));
    const Eigen::VectorXd theta = Theta(0.3, 0.8, 1e-3);
    Eigen::VectorXd grad;
    const double value = lml.Evaluate(theta, &grad);
    ASSERT_TRUE(std::isfinite(value));
    ASSERT_EQ(grad.size(), 6);
    ASSERT_EQ(lml.num_hyperparameters(), 6);
    for (int i = 0; i < 6; ++i) {
      const double h = 1e-6;
      Eigen::VectorXd up = theta, down = theta;
      up(i) += h;
      down(i) -= h;
      const double fd = (lml.Evaluate(up, nullptr) - lml.Evaluate(down, nullptr)) / (2 * h);
      EXPECT_NEAR(grad(i), fd, 1e-4 * std::max(1.0, std::abs(fd))) << n << " points, " << i;
    }
    // The value from a dense factorization of the same kernel matrix.
    Eigen::MatrixXd k(n, n);
    for (int j = 0; j < n; ++j) {
      for (int i = 0; i < n; ++i) {
        Eigen::VectorXd d = x.col(i) - x.col(j);
        double r2 = 0;
        for (int c = 0; c < d.size(); ++c) {
          const double l = std::exp(theta(MixedGroups().group[c]));
          r2 += d(c) * d(c) / (l * l);
        }
        k(i, j) = std::exp(theta(4)) * Matern52(r2) + (i == j ? std::exp(theta(5)) : 0.0);
      }
    }
    const Eigen::LLT<Eigen::MatrixXd> llt(k);
    const Eigen::VectorXd y = Targets(x);
    const double expected = -0.5 * y.dot(llt.solve(y)) -
                            llt.matrixL().toDenseMatrix().diagonal().array().log().sum() -
                            0.5 * n * std::log(2 * M_PI);
    EXPECT_NEAR(value, expected, 1e-8 * std::abs(expected)) << n << " points";
  }
}

TEST(GaussianProcessTest, MapFitImprovesOnThePriorModeAndRecoversARelevantDimension) {
  // y depends on column 0 only: its lengthscale should come out shorter than column 2's.
  std::mt19937_64 rng(4);
  const Eigen::MatrixXd x = MixedPoints(40, rng);
  Eigen::VectorXd y(x.cols());
  for (int j = 0; j < x.cols(); ++j) y(j) = std::sin(6 * x(0, j));
  y = (y.array() - y.mean()) / std::sqrt((y.array() - y.mean()).square().mean());
  MarginalLikelihood lml(x, MixedGroups(), y);
  HyperPrior prior;
  const Eigen::VectorXd start = prior.Mode(4);
  int evals = 0;
  const Eigen::VectorXd theta = FitHyperparameters(lml, prior, {start}, 200, &evals);
  EXPECT_GT(evals, 1);
  EXPECT_LE(evals, 200);
  auto objective = [&](const Eigen::VectorXd& t) {
    return lml.Evaluate(t, nullptr) + prior.LogDensity(t, nullptr);
  };
  EXPECT_GT(objective(theta), objective(start) + 1.0);
  EXPECT_LT(theta(0) + 1.0, theta(2));
  for (int i = 0; i < theta.size(); ++i) EXPECT_TRUE(std::isfinite(theta(i)));
  // Deterministic.
  EXPECT_EQ(FitHyperparameters(lml, prior, {start}, 200), theta);
}

TEST(GaussianProcessTest, DuplicatePointsAndConstantOutputsStayFinite) {
  Eigen::MatrixXd x(2, 6);
  x << 0.1, 0.1, 0.1, 0.5, 0.5, 0.9,  //
      0.2, 0.2, 0.2, 0.5, 0.5, 0.3;
  const FeatureGroups groups{{0, 1}, 2};
  const Eigen::VectorXd y = Eigen::VectorXd::Zero(6);
  MarginalLikelihood lml(x, groups, y);
  HyperPrior prior;
  const Eigen::VectorXd theta = FitHyperparameters(lml, prior, {prior.Mode(2)}, 100);
  for (int i = 0; i < theta.size(); ++i) EXPECT_TRUE(std::isfinite(theta(i))) << i;
  // Even with no noise at all the jitter keeps the factorization alive.
  Eigen::VectorXd no_noise = theta;
  no_noise(3) = -50;
  auto gp = GaussianProcess::Create(x, groups, y, no_noise);
  ASSERT_TRUE(gp.ok()) << gp.status();
  EXPECT_GT(gp->noise_variance(), 0.0);
  Eigen::VectorXd mean, var;
  gp->Predict(Eigen::MatrixXd::Constant(2, 3, 0.4), &mean, &var);
  for (int j = 0; j < 3; ++j) {
    EXPECT_TRUE(std::isfinite(mean(j)));
    EXPECT_TRUE(std::isfinite(var(j)));
    EXPECT_NEAR(mean(j), 0.0, 1e-9);
  }
}

TEST(GaussianProcessTest, AddPointEqualsRefittingWithThePoint) {
  std::mt19937_64 rng(5);
  const Eigen::MatrixXd x = MixedPoints(16, rng);
  const Eigen::VectorXd y = Targets(x);
  const Eigen::VectorXd theta = Theta(0.6, 1.0, 1e-4);
  auto small = GaussianProcess::Create(x.leftCols(13), MixedGroups(), y.head(13), theta);
  ASSERT_TRUE(small.ok());
  for (int j = 13; j < 16; ++j) small->AddPoint(x.col(j), y(j));
  auto full = GaussianProcess::Create(x, MixedGroups(), y, theta);
  ASSERT_TRUE(full.ok());
  ASSERT_EQ(small->num_points(), 16);
  const Eigen::MatrixXd probes = MixedPoints(6, rng);
  Eigen::VectorXd m1, v1, m2, v2;
  small->Predict(probes, &m1, &v1);
  full->Predict(probes, &m2, &v2);
  for (int j = 0; j < 6; ++j) {
    EXPECT_NEAR(m1(j), m2(j), 1e-8);
    EXPECT_NEAR(v1(j), v2(j), 1e-8);
  }
}

}  // namespace
}  // namespace hpo::server::gp
