#include "server/optimizers/gp/acquisition.h"

#include <cmath>
#include <limits>

namespace hpo::server::gp {
namespace {

constexpr double kLogSqrt2Pi = 0.91893853320467274178;      // log(sqrt(2 pi))
constexpr double kLogSqrtPiOver2 = 0.22579135264472743236;  // log(sqrt(pi / 2))
constexpr double kSqrt2 = 1.41421356237309504880;
constexpr double kInvSqrtPi = 0.56418958354775628695;

// log(1 - exp(x)) for x < 0, accurate on both sides of -log 2 (Maechler 2012).
double Log1mExp(double x) {
  if (x > -0.6931471805599453) return std::log(-std::expm1(x));
  return std::log1p(-std::exp(x));
}

// log Phi(z), finite for every finite z.
double LogNormalCdf(double z) {
  if (z > -5) return std::log(0.5 * std::erfc(-z / kSqrt2));
  // Phi(z) = erfcx(-z / sqrt2) exp(-z^2 / 2) / 2
  return std::log(0.5 * Erfcx(-z / kSqrt2)) - 0.5 * z * z;
}

}  // namespace

double Erfcx(double x) {
  if (x < 12) {
    if (x < -26) return std::numeric_limits<double>::infinity();
    return std::exp(x * x) * std::erfc(x);
  }
  // erfcx(x) ~ 1/(x sqrt(pi)) * sum_k (-1)^k (2k-1)!! / (2x^2)^k; at x >= 12 eight terms leave a
  // relative error below 1e-13.
  const double t = 1.0 / (2.0 * x * x);
  double term = 1.0;
  double sum = 1.0;
  for (int k = 1; k <= 8; ++k) {
    term *= -(2.0 * k - 1.0) * t;
    sum += term;
  }
  return kInvSqrtPi / x * sum;
}

double LogH(double z) {
  if (z > -1) {
    // h(z) = phi(z) + z Phi(z) > 0, no cancellation worth the name here.
    const double phi = std::exp(-0.5 * z * z - kLogSqrt2Pi);
    const double cdf = 0.5 * std::erfc(-z / kSqrt2);
    return std::log(phi + z * cdf);
  }
  const double az = -z;
  if (az < 1e8) {
    // h(z) = phi(z) (1 - |z| sqrt(pi/2) erfcx(|z| / sqrt2)).
    return -0.5 * z * z - kLogSqrt2Pi +
           Log1mExp(std::log(Erfcx(az / kSqrt2) * az) + kLogSqrtPiOver2);
  }
  // Beyond 1/sqrt(eps) the bracket is 1/z^2 to double precision.
  return -0.5 * z * z - kLogSqrt2Pi - 2.0 * std::log(az);
}

double LogHDerivative(double z) {
  // h'(z) = Phi(z), so (log h)' = Phi(z) / h(z).
  if (z > -1) {
    const double phi = std::exp(-0.5 * z * z - kLogSqrt2Pi);
    const double cdf = 0.5 * std::erfc(-z / kSqrt2);
    return cdf / (phi + z * cdf);
  }
  return std::exp(LogNormalCdf(z) - LogH(z));
}

double LogExpectedImprovement(double mean, double sd, double best) {
  const double z = (best - mean) / sd;
  return LogH(z) + std::log(sd);
}

double LogExpectedImprovement(double mean, double sd, double best, double* d_mean, double* d_sd) {
  const double z = (best - mean) / sd;
  const double dz = LogHDerivative(z);
  // dz/dmean = -1/sd, dz/dsd = -z/sd.
  if (d_mean != nullptr) *d_mean = -dz / sd;
  if (d_sd != nullptr) *d_sd = (1.0 - dz * z) / sd;
  return LogH(z) + std::log(sd);
}

}  // namespace hpo::server::gp
