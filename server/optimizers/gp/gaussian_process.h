// Gaussian-process regression with a Matérn-5/2 ARD kernel over grouped feature columns, its log
// marginal likelihood (with gradient) and a maximum-a-posteriori hyperparameter fit.
//
// Points are feature vectors (columns of a P x n matrix). Each feature column belongs to one
// lengthscale group; the kernel is
//   k(x, x') = s2 * (1 + sqrt5 r + 5/3 r^2) exp(-sqrt5 r),  r^2 = sum_c ((x_c - x'_c) / l_g(c))^2.
// A group is one search-space parameter: a numeric parameter's value column (plus an
// "inactive" flag column when it has a condition), or a categorical's one-hot block scaled by
// 1/sqrt2 so that two different categories are at squared distance exactly 1 (Hamming).
// Hyperparameters travel as theta = (log l_1 .. log l_G, log s2, log noise_variance).
#ifndef HPO_SERVER_OPTIMIZERS_GP_GAUSSIAN_PROCESS_H_
#define HPO_SERVER_OPTIMIZERS_GP_GAUSSIAN_PROCESS_H_

#include <vector>

#include "Eigen/Dense"
#include "absl/status/statusor.h"

namespace hpo::server::gp {

// Matérn-5/2 correlation as a function of r^2 (1 at 0), and its derivative in r^2.
double Matern52(double r2);
double Matern52DerivativeR2(double r2);

// Which group (lengthscale) each feature column uses.
struct FeatureGroups {
  std::vector<int> group;  // one per feature column, values in [0, num_groups)
  int num_groups = 0;
};

// log p(y | X, theta) for zero-mean GP regression with the kernel above plus noise_variance on
// the diagonal. Precomputes the per-group squared distances, so repeated evaluations (a fit)
// cost one Cholesky and one inverse each, in scratch matrices kept between evaluations (a fit
// of 200 points spent most of its time allocating and faulting in fresh n x n matrices).
// Thread-compatible: Evaluate writes the scratch matrices.
class MarginalLikelihood {
 public:
  // features: P x n; y: n values.
  MarginalLikelihood(const Eigen::MatrixXd& features, const FeatureGroups& groups,
                     Eigen::VectorXd y);

  int num_hyperparameters() const { return num_groups_ + 2; }
  int num_points() const { return static_cast<int>(y_.size()); }

  // The log marginal likelihood at theta; fills *grad (d/dtheta) when non-null. Returns -inf
  // when the kernel matrix is not positive definite.
  double Evaluate(const Eigen::VectorXd& theta, Eigen::VectorXd* grad);

 private:
  int num_groups_;
  // n x n per group, lower triangle: sum over its columns of (x - x')^2.
  std::vector<Eigen::MatrixXd> sqdist_;
  Eigen::VectorXd y_;
  // Scratch (lower triangles): scaled squared distances, kernel + noise (then its Cholesky
  // factor, then that factor's inverse), the kernel without noise, its derivative in r^2, and
  // the kernel matrix's inverse.
  Eigen::MatrixXd r2_, k_, kf_, dk_, inverse_;
};

// Independent normal priors on the log hyperparameters, and box bounds.
struct HyperPrior {
  double log_lengthscale_mean = 0;
  double log_lengthscale_sd = 1.7320508075688772;
  double log_signal_mean = 0;
  double log_signal_sd = 1;
  double log_noise_mean = -9.2;
  double log_noise_sd = 2;
  double log_lengthscale_min = -5.3;  // 0.005
  double log_lengthscale_max = 4.6;   // 100
  double log_signal_min = -4.6;       // 0.01
  double log_signal_max = 4.6;        // 100
  double log_noise_min = -13.8;       // 1e-6
  double log_noise_max = 0;           // 1

  // Sum of the normal log densities (up to a constant) and its gradient added into *grad.
  double LogDensity(const Eigen::VectorXd& theta, Eigen::VectorXd* grad) const;
  // The prior modes, clipped to the bounds: a start for the fit.
  Eigen::VectorXd Mode(int num_groups) const;
};

// Maximizes log p(y | theta) + log prior(theta) inside the bounds with NLopt's L-BFGS, from
// each start in turn (at most max_evals evaluations each), and returns the best theta seen.
// Deterministic for its inputs. `evaluations`, when non-null, receives the number of
// likelihood evaluations spent.
Eigen::VectorXd FitHyperparameters(MarginalLikelihood& likelihood, const HyperPrior& prior,
                                   const std::vector<Eigen::VectorXd>& starts, int max_evals,
                                   int* evaluations = nullptr);

// The posterior of a fitted GP. Thread-compatible (AddPoint mutates).
class GaussianProcess {
 public:
  // Factorizes the kernel matrix at theta; adds growing jitter (up to 1e-4 s2) when Cholesky
  // fails, INTERNAL if it still does.
  static absl::StatusOr<GaussianProcess> Create(const Eigen::MatrixXd& features,
                                                const FeatureGroups& groups,
                                                const Eigen::VectorXd& y,
                                                const Eigen::VectorXd& theta);

  int num_points() const { return static_cast<int>(y_.size()); }
  double signal_variance() const { return signal_variance_; }
  // Noise variance plus any jitter Create needed.
  double noise_variance() const { return noise_variance_; }

  // Posterior mean and variance (of the latent function, without noise) at the columns of
  // `points` (P x m).
  void Predict(const Eigen::MatrixXd& points, Eigen::VectorXd* mean, Eigen::VectorXd* var) const;

  // Mean and variance at one point with their gradients with respect to its features.
  void PredictWithGradient(const Eigen::VectorXd& point, double* mean, double* var,
                           Eigen::VectorXd* d_mean, Eigen::VectorXd* d_var) const;

  // Conditions on one more observation with the same hyperparameters (extends the Cholesky
  // factor in O(n^2)).
  void AddPoint(const Eigen::VectorXd& point, double y);

 private:
  GaussianProcess() = default;

  // Kernel values between the stored points and one scaled point.
  Eigen::VectorXd CrossKernel(const Eigen::VectorXd& scaled_point, Eigen::VectorXd* r2) const;

  Eigen::VectorXd inv_lengthscale_;  // per feature column
  Eigen::MatrixXd scaled_;           // P x n: features * inv_lengthscale
  Eigen::VectorXd sq_norms_;         // n: squared norms of the scaled columns
  Eigen::MatrixXd chol_;             // n x n lower Cholesky factor of K + noise I
  Eigen::VectorXd y_;
  Eigen::VectorXd alpha_;  // (K + noise I)^-1 y
  double signal_variance_ = 1;
  double noise_variance_ = 1e-6;
};

}  // namespace hpo::server::gp

#endif  // HPO_SERVER_OPTIMIZERS_GP_GAUSSIAN_PROCESS_H_
