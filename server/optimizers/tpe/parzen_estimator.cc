#include "server/optimizers/tpe/parzen_estimator.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numeric>
#include <utility>

namespace hpo::server::tpe {
namespace {

constexpr double kEps = 1e-12;            // Optuna's EPS: the smallest bandwidth without magic clip
constexpr double kSigma0Magnitude = 0.2;  // Optuna's SIGMA0_MAGNITUDE (Scott's rule factor)
constexpr double kSqrt2Pi = 2.50662827463100050242;
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr int kBlock = 16;               // observation components per pruning block
constexpr int kMinBlocked = 4 * kBlock;  // fewer components: the exhaustive sum is as fast
constexpr double kCutoff = 50;           // nats below the largest term that count as nothing

// Acklam's rational approximation of the normal quantile for p in (0, 0.5], relative error
// 1.15e-9 before the refinement below.
double AcklamLower(double p) {
  static constexpr double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                                 -2.759285104469687e+02, 1.383577518672690e+02,
                                 -3.066479806614716e+01, 2.506628277459239e+00};
  static constexpr double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                                 -1.556989798598866e+02, 6.680131188771972e+01,
                                 -1.328068155288572e+01};
  static constexpr double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                                 -2.400758277161838e+00, -2.549732539343734e+00,
                                 4.374664141464968e+00,  2.938163982698783e+00};
  static constexpr double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                                 2.445134137142996e+00, 3.754408661907416e+00};
  if (p < 0.02425) {
    const double q = std::sqrt(-2 * std::log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
           ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  const double q = p - 0.5;
  const double r = q * q;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
         (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

// A standard normal draw truncated to [a, b] (a <= b) by inversion of the CDF, with `u` in
// [0, 1). Works in the left tail (where the CDF is accurate) by symmetry.
double TruncatedStandardNormal(double a, double b, double u) {
  if (a > 0) return -TruncatedStandardNormal(-b, -a, 1 - u);
  const double pa = NormalCdf(a);
  const double pb = NormalCdf(b);
  if (!(pb > pa)) return b;  // both bounds far in the left tail: b is the likeliest point
  const double x = NormalQuantile(pa + u * (pb - pa));
  return std::clamp(x, a, b);
}

// acc[c] -= z^2 / 2 with z = (x - mu[c]) inv_sigma[c], for c < m.
void AddGaussianExponent(double x, const double* __restrict mu, const double* __restrict inv_sigma,
                         int m, double* __restrict acc) {
  for (int c = 0; c < m; ++c) {
    const double z = (x - mu[c]) * inv_sigma[c];
    acc[c] -= 0.5 * z * z;
  }
}

inline double ExpImpl(double e) {
  constexpr double kLog2e = 1.4426950408889634074;
  constexpr double kLn2Hi = 6.93147180369123816490e-01;  // Cody-Waite split of ln 2
  constexpr double kLn2Lo = 1.90821492927058770002e-10;
  // Round to nearest by the 1.5 * 2^52 trick (std::nearbyint is a libm call on baseline x86-64).
  constexpr double kRound = 0x1.8p52;
  const double k = (e * kLog2e + kRound) - kRound;
  const double r = (e - k * kLn2Hi) - k * kLn2Lo;  // |r| <= ln2 / 2
  // Taylor series to degree 13: truncation error below 2e-17 on |r| <= 0.347.
  double p = 1.0 / 6227020800.0;
  p = p * r + 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  // 2^k for k in [-73, 0]: 2^52 + 1023 + k holds the biased exponent in its low mantissa bits;
  // shift them into place (no double-to-int conversion, which SSE2 cannot vectorize).
  const double biased = k + (0x1p52 + 1023);
  int64_t bits;
  std::memcpy(&bits, &biased, sizeof(bits));
  bits <<= 52;
  double scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return p * scale;
}

// sum over c of exp(acc[c] - top), leaving out terms below e^-50: each adds less than 2e-22
// to a sum that is at least 1, so nothing changes at double precision. Overwrites acc.
__attribute__((target_clones("avx2", "default"))) double SumExp(double* __restrict acc, int m,
                                                                double top) {
  for (int c = 0; c < m; ++c) {  // vectorizes: no calls, no branches
    const double e = acc[c] - top;
    const double v = ExpImpl(std::max(e, -kCutoff));
    acc[c] = e > -kCutoff ? v : 0.0;
  }
  double sum = 0;
  for (int c = 0; c < m; ++c) sum += acc[c];
  return sum;
}

// NormalCdf(-t) for t >= 0 by Hart's algorithm 5666 (as given by West 2005), absolute error
// below 2e-16, in branch-free arithmetic that vectorizes; 0 beyond 9 standard deviations (mass
// below 1.2e-19, which cannot change a central mass).
inline double UpperTail(double t) {
  const double x = std::min(t, 9.0);
  const double e = ExpImpl(-0.5 * x * x);
  double n = 3.52624965998911e-02 * x + 0.700383064443688;
  n = n * x + 6.37396220353165;
  n = n * x + 33.912866078383;
  n = n * x + 112.079291497871;
  n = n * x + 221.213596169931;
  n = n * x + 220.206867912376;
  double d = 8.83883476483184e-02 * x + 1.75566716318264;
  d = d * x + 16.064177579207;
  d = d * x + 86.7807322029461;
  d = d * x + 296.564248779674;
  d = d * x + 637.333633378831;
  d = d * x + 793.826512519948;
  d = d * x + 440.413735824752;
  double f = x + 0.65;  // continued fraction for the far tail
  f = x + 4 / f;
  f = x + 3 / f;
  f = x + 2 / f;
  f = x + 1 / f;
  const double near = e * n / d;
  const double far = e / (f * kSqrt2Pi);
  const double v = x < 7.07106781186547 ? near : far;
  return t < 9 ? v : 0.0;
}

// out[c] = mass of N(mu[c], 1 / inv_sigma[c]^2) on [low, high], each mu[c] in [low, high].
void CentralMasses(const double* __restrict mu, const double* __restrict inv_sigma, double low,
                   double high, int m, double* __restrict out) {
  // The kernels of a long univariate history are narrow, and most are far from both bounds,
  // where both tails are 0: only the others go through UpperTail. Wide kernels (Scott's rule)
  // take the branch-free loop.
  std::vector<int> near;
  for (int c = 0; c < m; ++c) {
    if (std::min(mu[c] - low, high - mu[c]) * inv_sigma[c] < 9) near.push_back(c);
  }
  if (static_cast<int>(near.size()) * 4 > m) {
    for (int c = 0; c < m; ++c) {  // vectorizes
      out[c] = 1.0 -
               (UpperTail((mu[c] - low) * inv_sigma[c]) + UpperTail((high - mu[c]) * inv_sigma[c]));
    }
    return;
  }
  std::fill(out, out + m, 1.0);
  for (int c : near) {
    out[c] =
        1.0 - (UpperTail((mu[c] - low) * inv_sigma[c]) + UpperTail((high - mu[c]) * inv_sigma[c]));
  }
}

// order[0..m) = the indices of v[0..m) by increasing value, equal values by increasing index
// (what sorting (value, index) pairs gives), for finite values. An LSD radix sort on the
// values' order-preserving bit patterns: stable, and it skips the bytes that all keys share
// (the sign and most exponent bits of values from one range), so a long history sorts in a few
// linear passes instead of n log n comparisons.
void SortedOrder(const double* v, int m, std::vector<int>* order, std::vector<uint64_t>* scratch) {
  order->resize(m);
  std::vector<uint64_t>& keys = *scratch;
  keys.resize(2 * static_cast<size_t>(m));
  uint64_t* key = keys.data();
  uint64_t* tmp_key = key + m;
  std::vector<int> tmp(m);
  int* idx = order->data();
  int* tmp_idx = tmp.data();
  static constexpr int kBytes = 8;
  int count[kBytes][256] = {};
  for (int i = 0; i < m; ++i) {
    const double x = v[i] + 0.0;  // -0.0 becomes +0.0: the two compare equal
    uint64_t bits;
    std::memcpy(&bits, &x, sizeof(bits));
    key[i] = bits >> 63 ? ~bits : bits | (uint64_t{1} << 63);
    idx[i] = i;
    for (int b = 0; b < kBytes; ++b) ++count[b][(key[i] >> (8 * b)) & 0xff];
  }
  for (int b = 0; b < kBytes; ++b) {
    if (count[b][(key[0] >> (8 * b)) & 0xff] == m) continue;  // every key has this byte
    int pos[256];
    int sum = 0;
    for (int k = 0; k < 256; ++k) {
      pos[k] = sum;
      sum += count[b][k];
    }
    for (int i = 0; i < m; ++i) {
      const int p = pos[(key[i] >> (8 * b)) & 0xff]++;
      tmp_key[p] = key[i];
      tmp_idx[p] = idx[i];
    }
    std::swap(key, tmp_key);
    std::swap(idx, tmp_idx);
  }
  if (idx != order->data()) std::copy(idx, idx + m, order->data());
}

// Weights before normalization: the observations' then the prior's.
std::vector<double> RawWeights(int n, const ParzenOptions& options) {
  std::vector<double> w = options.ramp_weights ? OptunaWeights(n) : std::vector<double>(n, 1.0);
  w.push_back(options.prior_weight);
  return w;
}

}  // namespace

int LinearGamma(int n, double fraction) {
  return std::min(static_cast<int>(std::ceil(fraction * static_cast<double>(n))), 25);
}

int SqrtGamma(int n) {
  return std::min(static_cast<int>(std::ceil(0.25 * std::sqrt(static_cast<double>(n)))), 25);
}

std::vector<double> OptunaWeights(int n) {
  if (n <= 0) return {};
  if (n < 25) return std::vector<double>(n, 1.0);
  std::vector<double> w;
  w.reserve(n);
  const int ramp = n - 25;
  const double start = 1.0 / n;
  // numpy.linspace(start, 1.0, num=ramp): start + i * step, the last one exactly 1.0.
  if (ramp == 1) {
    w.push_back(start);
  } else if (ramp > 1) {
    const double step = (1.0 - start) / (ramp - 1);
    for (int i = 0; i < ramp - 1; ++i) w.push_back(start + i * step);
    w.push_back(1.0);
  }
  for (int i = 0; i < 25; ++i) w.push_back(1.0);
  return w;
}

double ExpNonPositive(double e) { return ExpImpl(e); }

double Uniform01(core::Rng& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

double NormalCdf(double x) { return 0.5 * std::erfc(-x * M_SQRT1_2); }

double NormalQuantile(double p) {
  if (!(p > 0)) return -kInf;
  if (p >= 1) return kInf;
  if (p > 0.5) return -NormalQuantile(1 - p);  // 1 - p is exact for p >= 0.5
  double x = AcklamLower(p);
  // Two Halley steps on NormalCdf(x) = p bring the result to full precision.
  for (int i = 0; i < 2; ++i) {
    const double e = NormalCdf(x) - p;
    const double u = e * kSqrt2Pi * std::exp(0.5 * x * x);
    x -= u / (1 + 0.5 * x * u);
  }
  return x;
}

double LogGaussMass(double a, double b) {
  if (b <= 0) return std::log(NormalCdf(b) - NormalCdf(a));
  if (a > 0) return LogGaussMass(-b, -a);
  return std::log1p(-NormalCdf(a) - NormalCdf(-b));
}

ParzenEstimator::ParzenEstimator(const std::vector<Dim>& dims, const double* obs, int n,
                                 const ParzenOptions& options)
    : dims_(dims), n_(n) {
  const int d = static_cast<int>(dims.size());
  const int m = n + 1;  // components, prior last

  std::vector<double> w = RawWeights(n, options);
  const double total = std::accumulate(w.begin(), w.end(), 0.0);
  log_weights_.resize(m);
  cum_weights_.resize(m);
  double acc = 0;
  for (int c = 0; c < m; ++c) {
    log_weights_[c] = std::log(w[c] / total);
    acc += w[c] / total;
    cum_weights_[c] = acc;
  }
  cum_weights_[m - 1] = 1.0;

  const double sigma0 =
      kSigma0Magnitude * std::pow(static_cast<double>(std::max(n, 1)), -1.0 / (d + 4));
  // base_[c] = log weight - log of the component's normalizer over all dimensions. The
  // normalizers are multiplied per component and logged once (rescaled before the product can
  // leave the double range): one log per component instead of one per component and dimension.
  base_ = log_weights_;
  std::vector<double> norm(m, 1.0);
  auto fold = [&](bool all) {
    for (int c = 0; c < m; ++c) {
      if (all || norm[c] < 1e-150 || norm[c] > 1e150) {
        base_[c] -= std::log(norm[c]);
        norm[c] = 1.0;
      }
    }
  };
  per_dim_.resize(d);
  std::vector<int> order(m);
  std::vector<uint64_t> sort_scratch;
  std::vector<double> ext(m + 2), gaps(m), mass(m);
  for (int j = 0; j < d; ++j) {
    const Dim& dim = dims[j];
    PerDim& pd = per_dim_[j];
    if (dim.kind == Dim::Kind::kCategorical) {
      const double k = dim.n_choices;
      const double value = options.prior_weight / m;
      pd.choice.resize(n);
      for (int i = 0; i < n; ++i) pd.choice[i] = static_cast<int>(obs[i * d + j]);
      pd.hit = (value + 1) / (k * value + 1);
      pd.miss = value / (k * value + 1);
      pd.log_hit = std::log(pd.hit);
      pd.log_miss = std::log(pd.miss);
      base_[n] -= std::log(k);  // the prior component is uniform
      continue;
    }
    const double range = dim.high - dim.low;
    pd.mu.resize(m);
    pd.sigma.resize(m);
    for (int i = 0; i < n; ++i) pd.mu[i] = obs[i * d + j];
    pd.mu[n] = 0.5 * (dim.low + dim.high);
    if (options.scott_bandwidth) {
      std::fill(pd.sigma.begin(), pd.sigma.end(), sigma0 * range);
    } else {
      // Sorted by value, ties by position.
      SortedOrder(pd.mu.data(), m, &order, &sort_scratch);
      ext[0] = dim.low;
      for (int i = 0; i < m; ++i) ext[i + 1] = pd.mu[order[i]];
      ext[m + 1] = dim.high;
      for (int i = 0; i < m; ++i) gaps[i] = std::max(ext[i + 1] - ext[i], ext[i + 2] - ext[i + 1]);
      if (!options.consider_endpoints && m + 2 >= 4) {
        gaps[0] = ext[2] - ext[1];
        gaps[m - 1] = ext[m] - ext[m - 1];
      }
      if (options.gap_weight >= 1) {
        for (int i = 0; i < m; ++i) pd.sigma[order[i]] = gaps[i];
      } else {
        const double scott_part = std::pow(sigma0 * range, 1 - options.gap_weight);
        for (int i = 0; i < m; ++i) {
          pd.sigma[order[i]] = std::pow(std::max(gaps[i], kEps), options.gap_weight) * scott_part;
        }
      }
    }
    const double max_sigma = range;
    const double min_sigma = options.consider_magic_clip ? range / std::min(100.0, 1.0 + m) : kEps;
    for (double& s : pd.sigma) s = std::min(std::max(s, min_sigma), max_sigma);
    pd.sigma[n] = range;  // the prior's bandwidth is the whole range

    pd.inv_sigma.resize(m);
    for (int c = 0; c < m; ++c) pd.inv_sigma[c] = 1 / pd.sigma[c];
    // Observations lie in [low, high], so the truncation is central; its mass is >= 0.34 as
    // sigma <= high - low.
    CentralMasses(pd.mu.data(), pd.inv_sigma.data(), dim.low, dim.high, m, mass.data());
    for (int c = 0; c < m; ++c) {
      if (dim.kind != Dim::Kind::kContinuous) {
        norm[c] *= mass[c];
      } else {
        norm[c] *= options.optuna31_kernel ? mass[c] * kSqrt2Pi : mass[c] * pd.sigma[c] * kSqrt2Pi;
      }
    }
    fold(/*all=*/false);
  }
  fold(/*all=*/true);

  if (d == 1 && dims[0].kind == Dim::Kind::kContinuous && n >= kMinBlocked) {
    std::vector<int> sorted;
    if (options.scott_bandwidth) {
      SortedOrder(per_dim_[0].mu.data(), n, &sorted, &sort_scratch);
    } else {
      for (int c : order) {
        if (c != n) sorted.push_back(c);
      }
    }
    BuildBlocks(sorted);
  }
}

void ParzenEstimator::BuildBlocks(const std::vector<int>& sorted) {
  const PerDim& pd = per_dim_[0];
  const int n = static_cast<int>(sorted.size());
  s_mu_.resize(n);
  s_inv_sigma_.resize(n);
  s_base_.resize(n);
  for (int i = 0; i < n; ++i) {
    s_mu_[i] = pd.mu[sorted[i]];
    s_inv_sigma_[i] = pd.inv_sigma[sorted[i]];
    s_base_[i] = base_[sorted[i]];
  }
  const int blocks = (n + kBlock - 1) / kBlock;
  b_lo_.resize(blocks);
  b_hi_.resize(blocks);
  b_max_sigma_.assign(blocks, 0.0);
  b_max_base_.assign(blocks, -kInf);
  for (int i = 0; i < n; ++i) {
    const int b = i / kBlock;
    if (i % kBlock == 0) b_lo_[b] = s_mu_[i];
    b_hi_[b] = s_mu_[i];
    b_max_sigma_[b] = std::max(b_max_sigma_[b], pd.sigma[sorted[i]]);
    b_max_base_[b] = std::max(b_max_base_[b], s_base_[i]);
  }
}

std::vector<double> ParzenEstimator::weights() const {
  std::vector<double> w(log_weights_.size());
  for (size_t c = 0; c < w.size(); ++c) w[c] = std::exp(log_weights_[c]);
  return w;
}

void ParzenEstimator::Sample(core::Rng& rng, int count, double* out) const {
  const int d = static_cast<int>(dims_.size());
  for (int s = 0; s < count; ++s) {
    const double u = Uniform01(rng);
    const int c = std::min<int>(
        static_cast<int>(std::upper_bound(cum_weights_.begin(), cum_weights_.end(), u) -
                         cum_weights_.begin()),
        n_);
    DrawFrom(rng, c, out + s * d);
  }
}

void ParzenEstimator::DrawFrom(core::Rng& rng, int c, double* row) const {
  const int d = static_cast<int>(dims_.size());
  for (int j = 0; j < d; ++j) {
    const Dim& dim = dims_[j];
    const PerDim& pd = per_dim_[j];
    const double v = Uniform01(rng);
    if (dim.kind == Dim::Kind::kCategorical) {
      const int k = dim.n_choices;
      int chosen = k - 1;
      if (c == n_) {
        chosen = std::min(static_cast<int>(v * k), k - 1);
      } else {
        double cum = 0;
        for (int i = 0; i < k; ++i) {
          cum += i == pd.choice[c] ? pd.hit : pd.miss;
          if (v < cum) {
            chosen = i;
            break;
          }
        }
      }
      row[j] = chosen;
    } else {
      const double mu = pd.mu[c];
      const double sigma = pd.sigma[c];
      const double z = TruncatedStandardNormal((dim.low - mu) / sigma, (dim.high - mu) / sigma, v);
      row[j] = std::clamp(mu + sigma * z, dim.low, dim.high);
    }
  }
}

double ParzenEstimator::LogPdfBlocked(double x) const {
  const int n = n_;
  const int blocks = static_cast<int>(b_lo_.size());
  scratch_.resize(2 * static_cast<size_t>(n) + 1 + blocks);
  double* terms = scratch_.data();  // the evaluated log terms, packed
  double* bound = terms + n + 1;    // per block, an upper bound on its terms
  // log term of a component: base - z^2 / 2; a block's terms are at most its largest base less
  // the square of its nearest mean's distance over its widest bandwidth.
  int first = 0;
  for (int b = 0; b < blocks; ++b) {
    const double gap = std::max({b_lo_[b] - x, x - b_hi_[b], 0.0}) / b_max_sigma_[b];
    bound[b] = b_max_base_[b] - 0.5 * gap * gap;
    if (bound[b] > bound[first]) first = b;
  }
  const PerDim& pd = per_dim_[0];
  const double zp = (x - pd.mu[n]) * pd.inv_sigma[n];
  int count = 0;
  terms[count++] = base_[n] - 0.5 * zp * zp;  // the prior
  double top = terms[0];
  auto evaluate = [&](int b) {
    const int begin = b * kBlock;
    const int end = std::min(begin + kBlock, n);
    double* t = terms + count;
    for (int i = begin; i < end; ++i) {  // vectorizes
      const double z = (x - s_mu_[i]) * s_inv_sigma_[i];
      t[i - begin] = s_base_[i] - 0.5 * z * z;
    }
    for (int i = 0; i < end - begin; ++i) top = std::max(top, t[i]);
    count += end - begin;
  };
  // The most promising block first, so that `top` is near its final value when the others are
  // tested; a skipped block's terms are below top - kCutoff then and so below it at the end.
  evaluate(first);
  for (int b = 0; b < blocks; ++b) {
    if (b != first && bound[b] >= top - kCutoff) evaluate(b);
  }
  return top + std::log(SumExp(terms, count, top));
}

void ParzenEstimator::LogPdf(const double* points, int count, double* out) const {
  const int d = static_cast<int>(dims_.size());
  const int m = n_ + 1;
  if (!b_lo_.empty()) {
    for (int s = 0; s < count; ++s) out[s] = LogPdfBlocked(points[s]);
    return;
  }
  scratch_.resize(m);
  double* acc = scratch_.data();
  for (int s = 0; s < count; ++s) {
    const double* x = points + s * d;
    std::copy(base_.begin(), base_.end(), acc);
    for (int j = 0; j < d; ++j) {
      const Dim& dim = dims_[j];
      const PerDim& pd = per_dim_[j];
      switch (dim.kind) {
        case Dim::Kind::kContinuous:
          AddGaussianExponent(x[j], pd.mu.data(), pd.inv_sigma.data(), m, acc);
          break;
        case Dim::Kind::kDiscrete: {
          const double lo = std::max(x[j] - 0.5 * dim.q, dim.low);
          const double hi = std::min(x[j] + 0.5 * dim.q, dim.high);
          for (int c = 0; c < m; ++c) {
            acc[c] +=
                LogGaussMass((lo - pd.mu[c]) * pd.inv_sigma[c], (hi - pd.mu[c]) * pd.inv_sigma[c]);
          }
          break;
        }
        case Dim::Kind::kCategorical: {
          const int k = static_cast<int>(x[j]);
          for (int c = 0; c < n_; ++c) acc[c] += pd.choice[c] == k ? pd.log_hit : pd.log_miss;
          break;
        }
      }
    }
    double top = -kInf;
    for (int c = 0; c < m; ++c) top = std::max(top, acc[c]);
    if (!std::isfinite(top)) {
      out[s] = top;
      continue;
    }
    // Terms more than 50 nats below the largest add less than e^-50 each: leaving them out
    // changes nothing at double precision and skips most exp calls (and their slow underflow
    // path) in large mixtures.
    out[s] = top + std::log(SumExp(acc, m, top));
  }
}

}  // namespace hpo::server::tpe
