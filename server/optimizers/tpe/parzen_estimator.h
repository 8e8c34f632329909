// Parzen estimators for TPE: a weighted mixture of truncated Gaussians (numeric parameters) and
// smoothed one-hot distributions (categorical parameters), one component per observation plus a
// prior component, as in Optuna 3.1's _ParzenEstimator.
#ifndef HPO_SERVER_OPTIMIZERS_TPE_PARZEN_ESTIMATOR_H_
#define HPO_SERVER_OPTIMIZERS_TPE_PARZEN_ESTIMATOR_H_

#include <vector>

#include "core/search_space.h"

namespace hpo::server::tpe {

// One parameter in the estimator's ("internal") representation.
struct Dim {
  enum class Kind {
    kContinuous,   // truncated Gaussian kernel on [low, high]
    kDiscrete,     // the same kernel, integrated over [x - q/2, x + q/2] ∩ [low, high]
    kCategorical,  // values are choice indices 0..n_choices-1
  };
  Kind kind = Kind::kContinuous;
  double low = 0;  // kernel support, numeric kinds
  double high = 1;
  double q = 0;       // grid width, kDiscrete
  int n_choices = 0;  // kCategorical
};

struct ParzenOptions {
  double prior_weight = 1.0;
  bool consider_magic_clip = true;
  bool consider_endpoints = false;
  // true: one Scott's-rule bandwidth per dimension, 0.2 n^(-1/(d+4)) (high - low), for every
  // component (Optuna's multivariate estimator); false: in each dimension, each component's
  // bandwidth is the larger gap to its neighbours among the sorted observations, prior and
  // bounds (univariate TPE's rule, applied per dimension of a joint estimator too).
  bool scott_bandwidth = true;
  // With scott_bandwidth false: each width is gap^t * scott^(1 - t) for this t in [0, 1] (1 =
  // the neighbour gap alone, the univariate rule; smaller t leans towards Scott's rule).
  double gap_weight = 1.0;
  // true: Optuna's default_weights (older observations ramp down when there are more than 25);
  // false: every observation weighs 1.
  bool ramp_weights = true;
  // false: continuous kernels are exact truncated-Gaussian densities, 1 / (sigma sqrt(2 pi) Z);
  // true: Optuna 3.1's truncnorm.logpdf, which leaves out the 1 / sigma (so a narrow component
  // peaks no higher than a wide one). Sampling is the same either way.
  bool optuna31_kernel = false;
};

// Optuna's gamma functions: the number of observations in the "below" (good) group.
int SqrtGamma(int n);                     // min(ceil(0.25 sqrt(n)), 25), Hyperopt's
int LinearGamma(int n, double fraction);  // min(ceil(fraction n), 25); Optuna's is 0.1
// Optuna's default_weights(n): n ones below 25, else linspace(1/n, 1, n - 25) then 25 ones.
std::vector<double> OptunaWeights(int n);

// Uniform in [0, 1) with 53 random bits (the same construction core's samplers use).
double Uniform01(core::Rng& rng);
// Standard normal CDF and its inverse (full double precision on (0, 1)).
double NormalCdf(double x);
double NormalQuantile(double p);
// exp(e) for e in [-50, 0] within a few ulps, in branch-free arithmetic that the compiler
// vectorizes (the mixture log-density's log-sum-exp uses the same code).
double ExpNonPositive(double e);
// log(NormalCdf(b) - NormalCdf(a)) for a <= b, computed in the tail where it is accurate.
double LogGaussMass(double a, double b);

// Immutable after construction; thread-compatible (LogPdf uses a scratch buffer).
class ParzenEstimator {
 public:
  // `obs` holds n rows of dims.size() values each (row-major, chronological order: with
  // ramp_weights the first rows weigh least). Numeric values must lie in [low, high];
  // categorical ones in [0, n_choices). `dims` must outlive the estimator.
  ParzenEstimator(const std::vector<Dim>& dims, const double* obs, int n,
                  const ParzenOptions& options);

  int n_components() const { return n_ + 1; }
  // Per-component parameters of numeric dimension j (the prior is the last component); for tests.
  const std::vector<double>& mus(int j) const { return per_dim_[j].mu; }
  const std::vector<double>& sigmas(int j) const { return per_dim_[j].sigma; }
  // Normalized mixture weights, prior last.
  std::vector<double> weights() const;

  // Draws `count` points into `out` (count rows of dims.size() values): numeric values are in
  // [low, high], not snapped to any grid; categorical values are indices.
  void Sample(core::Rng& rng, int count, double* out) const;

  // log density of each of the `count` points (rows as Sample writes them) into out[0..count).
  void LogPdf(const double* points, int count, double* out) const;

 private:
  struct PerDim {
    // Numeric kinds.
    std::vector<double> mu, sigma, inv_sigma;
    // Categorical: the observed index of each non-prior component, and the log probabilities
    // of a component's own index (hit) and of any other index (miss); the prior is uniform.
    std::vector<int> choice;
    double hit = 0, miss = 0, log_hit = 0, log_miss = 0;
  };

  // One-dimensional continuous estimators with many components (univariate TPE on a long
  // history) also keep their observation components sorted by mean, in blocks with an upper
  // bound on each block's log terms: LogPdf skips a block whose terms all fall more than 50 nats
  // below the largest, which is what the exhaustive sum would discard anyway.
  void BuildBlocks(const std::vector<int>& sorted);
  // Draws one row from component c with the uniforms from rng.
  void DrawFrom(core::Rng& rng, int c, double* row) const;
  double LogPdfBlocked(double x) const;

  const std::vector<Dim>& dims_;
  int n_;
  std::vector<double> log_weights_;  // n_ + 1
  std::vector<double> cum_weights_;  // n_ + 1, last == 1
  // Per component: log weight minus the log of its kernels' normalizers (sigma sqrt(2 pi) Z for
  // continuous dimensions, Z for discrete ones, n_choices for the prior's categorical ones).
  std::vector<double> base_;
  std::vector<PerDim> per_dim_;
  mutable std::vector<double> scratch_;
  // BuildBlocks' arrays (empty when the estimator does not use them): per sorted observation
  // component its mean, inverse bandwidth and base; per block of kBlock of them the range of
  // means, the largest bandwidth and the largest base.
  std::vector<double> s_mu_, s_inv_sigma_, s_base_;
  std::vector<double> b_lo_, b_hi_, b_max_sigma_, b_max_base_;
};

}  // namespace hpo::server::tpe

#endif  // HPO_SERVER_OPTIMIZERS_TPE_PARZEN_ESTIMATOR_H_
