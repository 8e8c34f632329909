#include "server/optimizers/tpe/parzen_estimator.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hpo::server::tpe {
namespace {

using ::testing::DoubleNear;
using ::testing::ElementsAre;
using ::testing::Pointwise;

// Reference values below come from Optuna 3.1's _ParzenEstimator on the same observations
// (optuna/samplers/_tpe/parzen_estimator.py, run with /usr/bin/python3), with one fix: Optuna
// 3.1's truncnorm.logpdf leaves out the -log(scale) term, so its kernels do not integrate to 1
// (optuna issue #5109, fixed by PR #5110 in Optuna 3.5); the log densities below include it.

TEST(ParzenEstimatorTest, UnivariateMatchesOptuna) {
  const std::vector<Dim> dims = {{Dim::Kind::kContinuous, -5, 10, 0, 0}};
  const std::vector<double> obs = {0.1, 3.0, 3.2, 9.9, -4.0};
  ParzenOptions o;
  o.scott_bandwidth = false;
  ParzenEstimator pe(dims, obs.data(), 5, o);
  EXPECT_THAT(pe.mus(0), ElementsAre(0.1, 3.0, 3.2, 9.9, -4.0, 2.5));
  EXPECT_THAT(pe.sigmas(0),
              Pointwise(DoubleNear(1e-12), {4.1, 2.142857142857143, 6.7, 6.7, 4.1, 15.0}));
  const std::vector<double> points = {-5.0, 0.0, 2.5, 10.0};
  std::vector<double> lp(4);
  pe.LogPdf(points.data(), 4, lp.data());
  EXPECT_THAT(lp, Pointwise(DoubleNear(1e-12), {-2.9338038805686986, -2.5626470037858153,
                                                -2.4152275816373483, -3.227822477102979}));
}

TEST(ParzenEstimatorTest, MultivariateMixedKindsMatchOptuna) {
  // a: float log [1e-3, 1]; b: int [1, 9] step 2; c: categorical of 3.
  const std::vector<Dim> dims = {
      {Dim::Kind::kContinuous, std::log(1e-3), std::log(1.0), 0, 0},
      {Dim::Kind::kDiscrete, 0, 10, 2, 0},
      {Dim::Kind::kCategorical, 0, 0, 0, 3},
  };
  const std::vector<double> obs = {std::log(0.01),  3, 0, std::log(0.5), 9, 2,
                                   std::log(0.002), 1, 2, std::log(0.1), 5, 1};
  ParzenEstimator pe(dims, obs.data(), 4, ParzenOptions());
  EXPECT_THAT(pe.sigmas(0), Pointwise(DoubleNear(1e-12),
                                      {1.1512925464970227, 1.1512925464970227, 1.1512925464970227,
                                       1.1512925464970227, 6.907755278982137}));
  EXPECT_THAT(pe.sigmas(1),
              Pointwise(DoubleNear(1e-12), {1.6666666666666667, 1.6666666666666667,
                                            1.6666666666666667, 1.6666666666666667, 10.0}));
  const std::vector<double> points = {std::log(0.001), 1, 0, std::log(0.03), 5, 2,
                                      std::log(1.0),   9, 1};
  std::vector<double> lp(3);
  pe.LogPdf(points.data(), 3, lp.data());
  EXPECT_THAT(lp, Pointwise(DoubleNear(1e-12),
                            {-4.638416049337311, -5.084672422549309, -4.810596138977407}));
}

TEST(ParzenEstimatorTest, RampWeightsAndPriorWeightMatchOptuna) {
  // int [1, 1000] on a log scale, 30 observations, prior_weight 2, univariate.
  const std::vector<double> values = {44,  140, 64, 43,  19, 87, 21, 473, 778, 14,
                                      237, 39,  51, 598, 2,  2,  1,  315, 216, 407,
                                      863, 250, 24, 220, 2,  83, 3,  682, 37,  18};
  std::vector<double> obs;
  for (double v : values) obs.push_back(std::log(v));
  const std::vector<Dim> dims = {{Dim::Kind::kContinuous, std::log(0.5), std::log(1000.5), 0, 0}};
  ParzenOptions o;
  o.scott_bandwidth = false;
  o.prior_weight = 2.0;
  ParzenEstimator pe(dims, obs.data(), 30, o);
  const std::vector<double> w = pe.weights();
  ASSERT_EQ(w.size(), 31u);
  EXPECT_NEAR(w[0], 0.00112676056338028, 1e-15);
  EXPECT_NEAR(w[3], 0.0256338028169014, 1e-15);
  EXPECT_NEAR(w[4], 0.03380281690140845, 1e-15);
  EXPECT_NEAR(w[30], 0.0676056338028169, 1e-15);
  const std::vector<double> points = {std::log(1.0), std::log(17.0), std::log(1000.0)};
  std::vector<double> lp(3);
  pe.LogPdf(points.data(), 3, lp.data());
  EXPECT_THAT(lp, Pointwise(DoubleNear(1e-12),
                            {-2.780077502297681, -1.639537900498291, -2.0194543570654515}));
}

TEST(ParzenEstimatorTest, Optuna31KernelLeavesOutOneOverSigma) {
  const std::vector<Dim> dims = {Dim{Dim::Kind::kContinuous, 0, 4}};
  const std::vector<double> obs = {1.0};
  ParzenOptions exact;
  exact.scott_bandwidth = false;
  ParzenOptions optuna31 = exact;
  optuna31.optuna31_kernel = true;
  // No observations: the prior alone (sigma = range = 4), so the two differ by log 4 exactly.
  const ParzenEstimator prior_exact(dims, obs.data(), 0, exact);
  const ParzenEstimator prior_optuna(dims, obs.data(), 0, optuna31);
  const double x = 2.5;
  double a, b;
  prior_exact.LogPdf(&x, 1, &a);
  prior_optuna.LogPdf(&x, 1, &b);
  EXPECT_NEAR(b - a, std::log(4.0), 1e-12);
  // One observation: each component's term gains its own log sigma.
  const ParzenEstimator one_exact(dims, obs.data(), 1, exact);
  const ParzenEstimator one_optuna(dims, obs.data(), 1, optuna31);
  one_exact.LogPdf(&x, 1, &a);
  one_optuna.LogPdf(&x, 1, &b);
  const auto& mu = one_exact.mus(0);
  const auto& sigma = one_exact.sigmas(0);
  const auto w = one_exact.weights();
  double want_exact = 0, want_optuna = 0;
  for (int c = 0; c < 2; ++c) {
    const double z = (x - mu[c]) / sigma[c];
    const double mass = NormalCdf((4 - mu[c]) / sigma[c]) - NormalCdf((0 - mu[c]) / sigma[c]);
    const double k = w[c] * std::exp(-0.5 * z * z) / (std::sqrt(2 * M_PI) * mass);
    want_optuna += k;
    want_exact += k / sigma[c];
  }
  EXPECT_NEAR(a, std::log(want_exact), 1e-9);
  EXPECT_NEAR(b, std::log(want_optuna), 1e-9);
}

TEST(ParzenEstimatorTest, GammaAndWeights) {
  EXPECT_EQ(LinearGamma(0, 0.1), 0);
  EXPECT_EQ(LinearGamma(10, 0.1), 1);
  EXPECT_EQ(LinearGamma(11, 0.1), 2);
  EXPECT_EQ(LinearGamma(1000, 0.1), 25);
  EXPECT_EQ(SqrtGamma(10), 1);
  EXPECT_EQ(SqrtGamma(100), 3);
  EXPECT_EQ(SqrtGamma(1000), 8);
  EXPECT_THAT(OptunaWeights(3), ElementsAre(1, 1, 1));
  EXPECT_EQ(OptunaWeights(25).size(), 25u);
  const std::vector<double> w = OptunaWeights(27);
  ASSERT_EQ(w.size(), 27u);
  EXPECT_DOUBLE_EQ(w[0], 1.0 / 27);
  EXPECT_DOUBLE_EQ(w[1], 1.0);
}

TEST(ParzenEstimatorTest, NormalQuantileInvertsTheCdf) {
  for (double p : {1e-300, 1e-20, 1e-5, 0.01, 0.02425, 0.1, 0.3, 0.5, 0.7, 0.97575, 0.999999}) {
    const double x = NormalQuantile(p);
    const double back = NormalCdf(x);
    EXPECT_NEAR(back / p, 1.0, 1e-13) << p;
  }
  EXPECT_EQ(NormalQuantile(0.5), 0.0);
  EXPECT_NEAR(NormalQuantile(0.975), 1.959963984540054, 1e-14);
  EXPECT_EQ(NormalQuantile(0.0), -INFINITY);
  EXPECT_EQ(NormalQuantile(1.0), INFINITY);
}

TEST(ParzenEstimatorTest, ExpNonPositiveIsAccurate) {
  double worst = 0;
  for (int i = 0; i <= 200000; ++i) {
    const double e = -50.0 * i / 200000;
    worst = std::max(worst, std::fabs(ExpNonPositive(e) / std::exp(e) - 1));
  }
  EXPECT_LT(worst, 1e-15);
  EXPECT_EQ(ExpNonPositive(0), 1.0);
}

TEST(ParzenEstimatorTest, LogGaussMassInAllThreeCases) {
  EXPECT_NEAR(LogGaussMass(-1, 1), std::log(0.6826894921370859), 1e-14);
  EXPECT_NEAR(LogGaussMass(1, 2), std::log(0.13590512198327787), 1e-14);
  EXPECT_NEAR(LogGaussMass(-2, -1), std::log(0.13590512198327787), 1e-14);
  // Far in the right tail, where 1 - cdf would cancel to 0.
  EXPECT_NEAR(LogGaussMass(10, 11), std::log(7.619661958203143e-24), 1e-12);
}

TEST(ParzenEstimatorTest, SamplesStayInsideAndFollowTheKernels) {
  const std::vector<Dim> dims = {{Dim::Kind::kContinuous, 0, 1, 0, 0},
                                 {Dim::Kind::kCategorical, 0, 0, 0, 4}};
  // Every observation at x = 0.9, choice 3.
  std::vector<double> obs;
  for (int i = 0; i < 40; ++i) obs.insert(obs.end(), {0.9, 3});
  ParzenEstimator pe(dims, obs.data(), 40, ParzenOptions());
  core::Rng rng(7);
  const int n = 2000;
  std::vector<double> s(2 * n);
  pe.Sample(rng, n, s.data());
  int near = 0, three = 0;
  for (int i = 0; i < n; ++i) {
    ASSERT_GE(s[2 * i], 0.0);
    ASSERT_LE(s[2 * i], 1.0);
    ASSERT_GE(s[2 * i + 1], 0.0);
    ASSERT_LT(s[2 * i + 1], 4.0);
    EXPECT_EQ(s[2 * i + 1], std::floor(s[2 * i + 1]));
    near += std::fabs(s[2 * i] - 0.9) < 0.2;
    three += s[2 * i + 1] == 3;
  }
  // 40 of 41 weight units sit on x = 0.9 with a narrow bandwidth; the categorical kernel puts
  // 1 / (4 * 1/41 + 1) = 0.91 on the observed choice.
  EXPECT_GT(near, n * 8 / 10);
  EXPECT_GT(three, n * 8 / 10);
}

// The density straight from the definition: sum over components of weight times a Gaussian
// kernel truncated to [low, high] (with or without the 1 / sigma).
double ReferenceLogPdf(const ParzenEstimator& pe, const Dim& dim, double x, bool optuna31) {
  const std::vector<double>& mu = pe.mus(0);
  const std::vector<double>& sigma = pe.sigmas(0);
  const std::vector<double> w = pe.weights();
  std::vector<double> terms;  // log of each weighted kernel
  for (size_t c = 0; c < w.size(); ++c) {
    const double z = (x - mu[c]) / sigma[c];
    const double mass =
        NormalCdf((dim.high - mu[c]) / sigma[c]) - NormalCdf((dim.low - mu[c]) / sigma[c]);
    terms.push_back(std::log(w[c]) - 0.5 * z * z - std::log(std::sqrt(2 * M_PI) * mass) -
                    (optuna31 ? 0.0 : std::log(sigma[c])));
  }
  const double top = *std::max_element(terms.begin(), terms.end());
  double sum = 0;
  for (double t : terms) sum += std::exp(t - top);
  return top + std::log(sum);
}

// Long one-dimensional histories take the pruned path (components in blocks, far blocks
// skipped): it must give the density the definition gives, for narrow (neighbour-gap) and wide
// (Scott) bandwidths, with ramped weights, repeated values and points anywhere in the range.
TEST(ParzenEstimatorTest, LongUnivariateHistoryMatchesTheDefinition) {
  const Dim dim{Dim::Kind::kContinuous, -3, 7, 0, 0};
  const std::vector<Dim> dims = {dim};
  core::Rng rng(11);
  for (int n : {70, 300, 1000}) {
    std::vector<double> obs(n);
    for (int i = 0; i < n; ++i) {
      // Clusters (a good region), a spread, and repeats (including 0 and -0).
      const double u = Uniform01(rng);
      obs[i] = i % 7 == 0 ? 0.0 : i % 7 == 1 ? -0.0 : i % 3 == 0 ? 1.5 + 0.01 * u : -3 + 10 * u;
    }
    for (bool scott : {false, true}) {
      for (bool optuna31 : {false, true}) {
        ParzenOptions o;
        o.scott_bandwidth = scott;
        o.optuna31_kernel = optuna31;
        ParzenEstimator pe(dims, obs.data(), n, o);
        std::vector<double> points = {-3, 7, 0, 1.5, 1.505};
        for (int i = 0; i < 40; ++i) points.push_back(-3 + 10 * Uniform01(rng));
        std::vector<double> lp(points.size());
        pe.LogPdf(points.data(), static_cast<int>(points.size()), lp.data());
        for (size_t i = 0; i < points.size(); ++i) {
          EXPECT_NEAR(lp[i], ReferenceLogPdf(pe, dim, points[i], optuna31), 1e-12)
              << "n=" << n << " scott=" << scott << " optuna31=" << optuna31 << " x=" << points[i];
        }
      }
    }
  }
}

// gap_weight t blends each neighbour gap with Scott's rule: width = gap^t * scott^(1 - t).
TEST(ParzenEstimatorTest, BlendedBandwidthsAreGeometricMeans) {
  const Dim dim{Dim::Kind::kContinuous, -2, 6, 0, 0};
  const std::vector<Dim> dims = {dim};
  core::Rng rng(9);
  const int n = 40;
  std::vector<double> obs(n);
  for (double& x : obs) x = -2 + 8 * Uniform01(rng);
  ParzenOptions o;
  o.scott_bandwidth = false;
  o.consider_magic_clip = false;
  const ParzenEstimator gaps(dims, obs.data(), n, o);
  o.gap_weight = 0.25;
  const ParzenEstimator blended(dims, obs.data(), n, o);
  const double scott = 0.2 * std::pow(n, -1.0 / 5) * (dim.high - dim.low);
  for (int c = 0; c < n; ++c) {
    EXPECT_NEAR(blended.sigmas(0)[c], std::pow(gaps.sigmas(0)[c], 0.25) * std::pow(scott, 0.75),
                1e-12 * blended.sigmas(0)[c]);
  }
  EXPECT_EQ(blended.sigmas(0)[n], dim.high - dim.low);  // the prior's is the whole range
}

// The neighbour-gap bandwidths of a long history with ties: equal values are ordered by
// position, as sorting (value, index) pairs orders them.
TEST(ParzenEstimatorTest, NeighbourGapsOfALongHistoryWithTies) {
  const Dim dim{Dim::Kind::kContinuous, -1, 1, 0, 0};
  const std::vector<Dim> dims = {dim};
  core::Rng rng(5);
  const int n = 500;
  std::vector<double> obs(n);
  for (int i = 0; i < n; ++i) obs[i] = std::round(40 * Uniform01(rng) - 20) / 20;  // 41 values
  ParzenOptions o;
  o.scott_bandwidth = false;
  o.consider_magic_clip = false;
  ParzenEstimator pe(dims, obs.data(), n, o);
  // Reference: sort (value, index) pairs, prior (the midpoint) last, and take the larger gap.
  std::vector<std::pair<double, int>> keyed;
  for (int i = 0; i < n; ++i) keyed.push_back({obs[i], i});
  keyed.push_back({0.0, n});
  std::sort(keyed.begin(), keyed.end());
  std::vector<double> ext = {dim.low};
  for (const auto& [v, i] : keyed) ext.push_back(v);
  ext.push_back(dim.high);
  std::vector<double> expected(n + 1);
  for (int k = 0; k <= n; ++k) {
    double gap = std::max(ext[k + 1] - ext[k], ext[k + 2] - ext[k + 1]);
    if (k == 0) gap = ext[2] - ext[1];
    if (k == n) gap = ext[n + 1] - ext[n];
    expected[keyed[k].second] = std::max(gap, 1e-12);
  }
  expected[n] = dim.high - dim.low;  // the prior's
  EXPECT_THAT(pe.sigmas(0), Pointwise(DoubleNear(1e-15), expected));
}

}  // namespace
}  // namespace hpo::server::tpe
