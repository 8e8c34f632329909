#include "server/optimizers/gp/power_transform.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace hpo::server::gp {
namespace {

// Values whose spread is below this fraction of their largest magnitude count as constant (a
// relative test, so an objective measured in tiny units is not taken for a constant one).
constexpr double kRelativeSpread = 1e-12;

Eigen::VectorXd Standardize(const Eigen::VectorXd& y) {
  const double n = static_cast<double>(y.size());
  const double magnitude = y.size() > 0 ? y.cwiseAbs().maxCoeff() : 0.0;
  if (!(magnitude > 0) || !std::isfinite(magnitude)) return Eigen::VectorXd::Zero(y.size());
  if (magnitude > 1e100 || magnitude < 1e-100) {
    // Squares would overflow or underflow: standardize the values divided by their magnitude.
    return Standardize(y / magnitude);
  }
  const double mean = y.mean();
  const double sd = std::sqrt((y.array() - mean).square().sum() / n);
  if (!(sd > kRelativeSpread * magnitude)) return Eigen::VectorXd::Zero(y.size());
  return (y.array() - mean) / sd;
}

}  // namespace

double YeoJohnson(double lambda, double y) {
  constexpr double kEps = 1e-8;
  if (y >= 0) {
    if (std::abs(lambda) < kEps) return std::log1p(y);
    return std::expm1(lambda * std::log1p(y)) / lambda;
  }
  if (std::abs(lambda - 2) < kEps) return -std::log1p(-y);
  return -std::expm1((2 - lambda) * std::log1p(-y)) / (2 - lambda);
}

double YeoJohnsonLogLikelihood(double lambda, const Eigen::VectorXd& y) {
  const int n = static_cast<int>(y.size());
  Eigen::VectorXd t(n);
  double jacobian = 0;
  for (int i = 0; i < n; ++i) {
    t(i) = YeoJohnson(lambda, y(i));
    jacobian += (y(i) >= 0 ? 1.0 : -1.0) * std::log1p(std::abs(y(i)));
  }
  const double var = (t.array() - t.mean()).square().sum() / n;
  if (!(var > 0) || !std::isfinite(var)) return -std::numeric_limits<double>::infinity();
  return -0.5 * n * std::log(var) + (lambda - 1) * jacobian;
}

Eigen::VectorXd SoftenBadTail(const Eigen::VectorXd& y) {
  const int n = static_cast<int>(y.size());
  if (n < 4) return y;
  std::vector<double> sorted(y.data(), y.data() + n);
  std::sort(sorted.begin(), sorted.end());
  // Quantiles by linear interpolation between order statistics.
  auto quantile = [&](double p) {
    const double x = p * (n - 1);
    const int i = static_cast<int>(x);
    const double f = x - i;
    return i + 1 < n ? sorted[i] * (1 - f) + sorted[i + 1] * f : sorted[i];
  };
  const double q1 = quantile(0.25), q3 = quantile(0.75), iqr = q3 - q1;
  if (!(iqr > 0) || !std::isfinite(iqr)) return y;
  const double bound = q3 + 3 * iqr;
  Eigen::VectorXd out = y;
  for (int i = 0; i < n; ++i) {
    if (out(i) > bound) out(i) = bound + iqr * std::log1p((out(i) - bound) / iqr);
  }
  return out;
}

Eigen::VectorXd TransformOutputs(const Eigen::VectorXd& y, bool power, double* lambda) {
  Eigen::VectorXd z = Standardize(SoftenBadTail(y));
  if (lambda != nullptr) *lambda = 1;
  if (!power || y.size() < 3 || z.isZero(0)) return z;
  // Golden-section search for the maximum on [-3, 3] (the log-likelihood is concave in lambda
  // for most data; the search returns a local maximum otherwise, deterministically).
  const double phi = 0.5 * (std::sqrt(5.0) - 1);
  double a = -3, b = 3;
  double c = b - phi * (b - a), d = a + phi * (b - a);
  double fc = YeoJohnsonLogLikelihood(c, z), fd = YeoJohnsonLogLikelihood(d, z);
  for (int it = 0; it < 60 && b - a > 1e-6; ++it) {
    if (fc >= fd) {
      b = d;
      d = c;
      fd = fc;
      c = b - phi * (b - a);
      fc = YeoJohnsonLogLikelihood(c, z);
    } else {
      a = c;
      c = d;
      fc = fd;
      d = a + phi * (b - a);
      fd = YeoJohnsonLogLikelihood(d, z);
    }
  }
  const double best = 0.5 * (a + b);
  if (lambda != nullptr) *lambda = best;
  Eigen::VectorXd t(z.size());
  for (int i = 0; i < z.size(); ++i) t(i) = YeoJohnson(best, z(i));
  if (!t.allFinite()) return z;
  return Standardize(t);
}

}  // namespace hpo::server::gp
