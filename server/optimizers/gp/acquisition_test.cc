#include "server/optimizers/gp/acquisition.h"

#include <cmath>

#include "gtest/gtest.h"

namespace hpo::server::gp {
namespace {

// h(z) = phi(z) + z Phi(z) in long double: representable and accurate enough for z >= -12.
long double ReferenceH(long double z) {
  const long double phi = std::exp(-0.5L * z * z) / std::sqrt(2.0L * 3.14159265358979323846L);
  const long double cdf = 0.5L * std::erfc(-z / std::sqrt(2.0L));
  return phi + z * cdf;
}

TEST(AcquisitionTest, ErfcxMatchesItsDefinition) {
  for (double x : {-3.0, -0.5, 0.0, 0.7, 2.0, 5.0, 11.0, 12.5, 20.0, 26.0}) {
    const long double expected =
        std::exp(static_cast<long double>(x) * x) * std::erfc(static_cast<long double>(x));
    EXPECT_NEAR(Erfcx(x) / expected, 1.0, 1e-12) << x;
  }
  // Asymptotic region: erfcx(x) ~ 1/(x sqrt(pi)).
  EXPECT_NEAR(Erfcx(1e6) * 1e6 * std::sqrt(M_PI), 1.0, 1e-11);
}

TEST(AcquisitionTest, LogHMatchesLogOfH) {
  for (double z = -12; z <= 6; z += 0.37) {
    const double expected = static_cast<double>(std::log(ReferenceH(z)));
    EXPECT_NEAR(LogH(z), expected, 1e-9 * std::max(1.0, std::abs(expected))) << z;
  }
}

TEST(AcquisitionTest, LogHIsFiniteAndIncreasingFarOut) {
  double previous = -INFINITY;
  for (double z : {-1e12, -1e9, -1e8, -1e5, -1000.0, -40.0, -39.0, -30.0, -5.0, -1.0}) {
    const double v = LogH(z);
    EXPECT_TRUE(std::isfinite(v)) << z;
    EXPECT_GT(v, previous) << z;
    previous = v;
  }
  // At z = -40: h = phi(z) / z^2 (1 - 3/z^2 + ...).
  const double z = -40;
  const double asymptotic = -0.5 * z * z - 0.5 * std::log(2 * M_PI) - 2 * std::log(40.0);
  EXPECT_NEAR(LogH(z), asymptotic + std::log1p(-3.0 / 1600 + 15.0 / (1600.0 * 1600)), 1e-6);
}

TEST(AcquisitionTest, LogHDerivativeMatchesFiniteDifferences) {
  for (double z : {-60.0, -40.0, -8.0, -1.5, -1.0, -0.3, 0.0, 0.8, 3.0}) {
    const double h = 1e-6 * std::max(1.0, std::abs(z));
    const double fd = (LogH(z + h) - LogH(z - h)) / (2 * h);
    EXPECT_NEAR(LogHDerivative(z), fd, 1e-5 * std::max(1.0, std::abs(fd))) << z;
  }
  // Phi(z)/h(z) -> -z as z -> -inf.
  EXPECT_NEAR(LogHDerivative(-1e4) / 1e4, 1.0, 1e-6);
}

TEST(AcquisitionTest, LogEiMatchesLogOfEiWhereRepresentable) {
  const double best = 0.2;
  for (double mean : {-1.0, 0.0, 0.2, 0.5, 1.5}) {
    for (double sd : {0.1, 0.5, 2.0}) {
      const double z = (best - mean) / sd;
      const double ei = sd * static_cast<double>(ReferenceH(z));
      EXPECT_NEAR(LogExpectedImprovement(mean, sd, best), std::log(ei), 1e-9) << mean << " " << sd;
    }
  }
  // Far below: EI underflows to 0, LogEI stays finite.
  EXPECT_TRUE(std::isfinite(LogExpectedImprovement(40.0, 1.0, 0.0)));
  EXPECT_TRUE(std::isfinite(LogExpectedImprovement(1e6, 1e-6, 0.0)));
}

TEST(AcquisitionTest, LogEiGradientMatchesFiniteDifferences) {
  for (double mean : {-0.5, 0.3, 3.0, 25.0}) {
    for (double sd : {0.05, 0.4, 1.3}) {
      double d_mean = 0, d_sd = 0;
      LogExpectedImprovement(mean, sd, 0.1, &d_mean, &d_sd);
      const double h = 1e-6;
      const double fd_mean =
          (LogExpectedImprovement(mean + h, sd, 0.1) - LogExpectedImprovement(mean - h, sd, 0.1)) /
          (2 * h);
      const double fd_sd = (LogExpectedImprovement(mean, sd + h * sd, 0.1) -
                            LogExpectedImprovement(mean, sd - h * sd, 0.1)) /
                           (2 * h * sd);
      EXPECT_NEAR(d_mean, fd_mean, 1e-4 * std::max(1.0, std::abs(fd_mean))) << mean << " " << sd;
      EXPECT_NEAR(d_sd, fd_sd, 1e-4 * std::max(1.0, std::abs(fd_sd))) << mean << " " << sd;
    }
  }
}

}  // namespace
}  // namespace hpo::server::gp
