#include "server/optimizers/gp/gaussian_process.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>

#include "absl/strings/str_cat.h"
#include "nlopt.hpp"

namespace hpo::server::gp {
namespace {

constexpr double kSqrt5 = 2.23606797749978969641;
constexpr double kLog2Pi = 1.83787706640934548356;

// Below this size the recursive routines fall back on Eigen's dense kernels.
constexpr int kRecursionBlock = 48;

// Replaces the lower-triangular matrix `l` (upper part ignored) by its inverse, recursively:
// for l = [a 0; b c], the inverse is [a^-1 0; -c^-1 b a^-1, c^-1]. About n^3/6 multiply-adds,
// a third of what solving against the identity costs.
void InvertLowerInPlace(Eigen::Ref<Eigen::MatrixXd> l) {
  const Eigen::Index n = l.rows();
  if (n <= kRecursionBlock) {
    Eigen::MatrixXd inverse = Eigen::MatrixXd::Identity(n, n);
    l.triangularView<Eigen::Lower>().solveInPlace(inverse);
    l.triangularView<Eigen::Lower>() = inverse;
    return;
  }
  const Eigen::Index h = n / 2;
  InvertLowerInPlace(l.topLeftCorner(h, h));
  InvertLowerInPlace(l.bottomRightCorner(n - h, n - h));
  auto b = l.bottomLeftCorner(n - h, h);
  const Eigen::MatrixXd cb = l.bottomRightCorner(n - h, n - h).triangularView<Eigen::Lower>() * b;
  b.noalias() = -(cb * l.topLeftCorner(h, h).triangularView<Eigen::Lower>());
}

// The lower triangle of l^T l for a lower-triangular `l` (upper part ignored), into the lower
// triangle of `out`, recursively: for l = [p 0; q r], l^T l = [p^T p + q^T q, q^T r; r^T q, r^T r].
void LowerGram(const Eigen::Ref<const Eigen::MatrixXd>& l, Eigen::Ref<Eigen::MatrixXd> out) {
  const Eigen::Index n = l.rows();
  if (n <= kRecursionBlock) {
    const Eigen::MatrixXd t = l.triangularView<Eigen::Lower>();
    out.triangularView<Eigen::Lower>() = t.transpose() * t;
    return;
  }
  const Eigen::Index h = n / 2;
  const auto q = l.bottomLeftCorner(n - h, h);
  const auto r = l.bottomRightCorner(n - h, n - h);
  LowerGram(l.topLeftCorner(h, h), out.topLeftCorner(h, h));
  out.topLeftCorner(h, h).selfadjointView<Eigen::Lower>().rankUpdate(q.transpose());
  out.bottomLeftCorner(n - h, h).noalias() = r.triangularView<Eigen::Lower>().transpose() * q;
  LowerGram(r, out.bottomRightCorner(n - h, n - h));
}

}  // namespace

double Matern52(double r2) {
  const double r = std::sqrt(std::max(r2, 0.0));
  return (1.0 + kSqrt5 * r + (5.0 / 3.0) * r2) * std::exp(-kSqrt5 * r);
}

double Matern52DerivativeR2(double r2) {
  const double r = std::sqrt(std::max(r2, 0.0));
  return (-5.0 / 6.0) * (1.0 + kSqrt5 * r) * std::exp(-kSqrt5 * r);
}

// ------------------------------------------------------------------ MarginalLikelihood

MarginalLikelihood::MarginalLikelihood(const Eigen::MatrixXd& features, const FeatureGroups& groups,
                                       Eigen::VectorXd y)
    : num_groups_(groups.num_groups), y_(std::move(y)) {
  const int n = static_cast<int>(features.cols());
  sqdist_.assign(num_groups_, Eigen::MatrixXd::Zero(n, n));
  for (int c = 0; c < features.rows(); ++c) {
    Eigen::MatrixXd& d = sqdist_[groups.group[c]];
    const auto row = features.row(c);
    for (int j = 0; j < n; ++j) {
      for (int i = j + 1; i < n; ++i) {
        const double diff = row(i) - row(j);
        d(i, j) += diff * diff;
      }
    }
  }
  r2_.resize(n, n);
  k_.resize(n, n);
  kf_.resize(n, n);
  dk_.resize(n, n);
}

double MarginalLikelihood::Evaluate(const Eigen::VectorXd& theta, Eigen::VectorXd* grad) {
  const int n = num_points();
  const double s2 = std::exp(theta(num_groups_));
  const double noise = std::exp(theta(num_groups_ + 1));
  // Only the strictly lower triangles are computed: every matrix here is symmetric, and the
  // distances vanish on the diagonal.
  std::vector<double> scale(num_groups_);
  for (int g = 0; g < num_groups_; ++g) scale[g] = std::exp(-2.0 * theta(g));
  for (int j = 0; j < n; ++j) {
    double* r2 = r2_.col(j).data();
    for (int i = j + 1; i < n; ++i) r2[i] = 0;
    for (int g = 0; g < num_groups_; ++g) {
      const double* d = sqdist_[g].col(j).data();
      const double sg = scale[g];
      for (int i = j + 1; i < n; ++i) r2[i] += sg * d[i];
    }
  }
  // kf = s2 * matern(r2); dk = d kf / d r2.
  for (int j = 0; j < n; ++j) {
    kf_(j, j) = s2;
    k_(j, j) = s2 + noise;
    for (int i = j + 1; i < n; ++i) {
      const double rr = std::max(r2_(i, j), 0.0);
      const double r = std::sqrt(rr);
      const double e = std::exp(-kSqrt5 * r);
      kf_(i, j) = s2 * (1.0 + kSqrt5 * r + (5.0 / 3.0) * rr) * e;
      k_(i, j) = kf_(i, j);
      dk_(i, j) = s2 * (-5.0 / 6.0) * (1.0 + kSqrt5 * r) * e;
    }
  }
  Eigen::LLT<Eigen::Ref<Eigen::MatrixXd>, Eigen::Lower> llt(k_);  // in place: k_ holds L
  if (llt.info() != Eigen::Success) return -std::numeric_limits<double>::infinity();
  const Eigen::VectorXd alpha = llt.solve(y_);
  double log_det_half = 0;
  for (int i = 0; i < n; ++i) log_det_half += std::log(k_(i, i));
  const double value = -0.5 * y_.dot(alpha) - log_det_half - 0.5 * n * kLog2Pi;
  if (grad != nullptr) {
    grad->resize(num_groups_ + 2);
    // d lml / d theta = 1/2 tr((alpha alpha^T - K^-1) dK/dtheta); with W = alpha alpha^T - K^-1
    // symmetric, each trace is twice its strictly lower sum plus its diagonal.
    // K^-1 = L^-T L^-1, lower triangle only: k_ becomes L^-1, inverse_ its Gram matrix.
    InvertLowerInPlace(k_);
    inverse_.resize(n, n);
    LowerGram(k_, inverse_);
    double trace_w = 0, diag_wkf = 0;
    for (int i = 0; i < n; ++i) {
      const double w = alpha(i) * alpha(i) - inverse_(i, i);
      trace_w += w;
      diag_wkf += w * s2;
    }
    // Reuse r2_ for W * dk (lower), accumulating W * kf on the way.
    double lower_wkf = 0;
    for (int j = 0; j < n; ++j) {
      for (int i = j + 1; i < n; ++i) {
        const double w = alpha(i) * alpha(j) - inverse_(i, j);
        lower_wkf += w * kf_(i, j);
        r2_(i, j) = w * dk_(i, j);
      }
    }
    for (int g = 0; g < num_groups_; ++g) {
      double sum = 0;
      for (int j = 0; j < n; ++j) {
        const double* wdk = r2_.col(j).data();
        const double* d = sqdist_[g].col(j).data();
        for (int i = j + 1; i < n; ++i) sum += wdk[i] * d[i];
      }
      // d r2 / d log l_g = -2 sqdist_g / l_g^2; the full sum is twice the lower one.
      (*grad)(g) = -scale[g] * 2.0 * sum;
    }
    (*grad)(num_groups_) = 0.5 * (2.0 * lower_wkf + diag_wkf);
    (*grad)(num_groups_ + 1) = 0.5 * noise * trace_w;
  }
  return value;
}

// ------------------------------------------------------------------ prior and fit

double HyperPrior::LogDensity(const Eigen::VectorXd& theta, Eigen::VectorXd* grad) const {
  const int g_count = static_cast<int>(theta.size()) - 2;
  double value = 0;
  auto add = [&](int i, double mean, double sd) {
    const double z = (theta(i) - mean) / sd;
    value += -0.5 * z * z;
    if (grad != nullptr) (*grad)(i) += -z / sd;
  };
  for (int g = 0; g < g_count; ++g) add(g, log_lengthscale_mean, log_lengthscale_sd);
  add(g_count, log_signal_mean, log_signal_sd);
  add(g_count + 1, log_noise_mean, log_noise_sd);
  return value;
}

Eigen::VectorXd HyperPrior::Mode(int num_groups) const {
  Eigen::VectorXd theta(num_groups + 2);
  theta.head(num_groups)
      .setConstant(std::clamp(log_lengthscale_mean, log_lengthscale_min, log_lengthscale_max));
  theta(num_groups) = std::clamp(log_signal_mean, log_signal_min, log_signal_max);
  theta(num_groups + 1) = std::clamp(log_noise_mean, log_noise_min, log_noise_max);
  return theta;
}

namespace {

struct FitState {
  MarginalLikelihood* likelihood;
  const HyperPrior* prior;
  Eigen::VectorXd best_theta;
  double best_value = -std::numeric_limits<double>::infinity();
  int evaluations = 0;
};

double FitObjective(const std::vector<double>& x, std::vector<double>& grad, void* data) {
  auto* state = static_cast<FitState*>(data);
  ++state->evaluations;
  const Eigen::VectorXd theta = Eigen::Map<const Eigen::VectorXd>(x.data(), x.size());
  Eigen::VectorXd g;
  double value = state->likelihood->Evaluate(theta, grad.empty() ? nullptr : &g);
  if (!std::isfinite(value)) {
    // Not positive definite (or overflow): a steep wall the line search backs away from.
    if (!grad.empty()) std::fill(grad.begin(), grad.end(), 0.0);
    return -1e300;
  }
  if (!grad.empty()) {
    value += state->prior->LogDensity(theta, &g);
    for (int i = 0; i < g.size(); ++i) grad[i] = std::isfinite(g(i)) ? g(i) : 0.0;
  } else {
    value += state->prior->LogDensity(theta, nullptr);
  }
  if (value > state->best_value) {
    state->best_value = value;
    state->best_theta = theta;
  }
  return value;
}

}  // namespace

Eigen::VectorXd FitHyperparameters(MarginalLikelihood& likelihood, const HyperPrior& prior,
                                   const std::vector<Eigen::VectorXd>& starts, int max_evals,
                                   int* evaluations) {
  const int dim = likelihood.num_hyperparameters();
  const int groups = dim - 2;
  std::vector<double> lower(dim), upper(dim);
  for (int g = 0; g < groups; ++g) {
    lower[g] = prior.log_lengthscale_min;
    upper[g] = prior.log_lengthscale_max;
  }
  lower[groups] = prior.log_signal_min;
  upper[groups] = prior.log_signal_max;
  lower[groups + 1] = prior.log_noise_min;
  upper[groups + 1] = prior.log_noise_max;

  FitState state{&likelihood, &prior, prior.Mode(groups)};
  for (const Eigen::VectorXd& start : starts) {
    std::vector<double> x(dim);
    for (int i = 0; i < dim; ++i) x[i] = std::clamp(start(i), lower[i], upper[i]);
    nlopt::opt opt(nlopt::LD_LBFGS, dim);
    opt.set_lower_bounds(lower);
    opt.set_upper_bounds(upper);
    opt.set_max_objective(FitObjective, &state);
    opt.set_maxeval(max_evals);
    opt.set_ftol_rel(1e-7);
    opt.set_xtol_rel(1e-5);
    double f = 0;
    try {
      opt.optimize(x, f);
    } catch (const std::exception&) {
      // Round-off limits and the like: FitState kept the best point seen.
    }
  }
  if (evaluations != nullptr) *evaluations = state.evaluations;
  return state.best_theta;
}

// ------------------------------------------------------------------ GaussianProcess

absl::StatusOr<GaussianProcess> GaussianProcess::Create(const Eigen::MatrixXd& features,
                                                        const FeatureGroups& groups,
                                                        const Eigen::VectorXd& y,
                                                        const Eigen::VectorXd& theta) {
  GaussianProcess gp;
  const int p = static_cast<int>(features.rows());
  const int n = static_cast<int>(features.cols());
  gp.inv_lengthscale_.resize(p);
  for (int c = 0; c < p; ++c) gp.inv_lengthscale_(c) = std::exp(-theta(groups.group[c]));
  gp.signal_variance_ = std::exp(theta(groups.num_groups));
  const double noise = std::exp(theta(groups.num_groups + 1));
  gp.scaled_ = gp.inv_lengthscale_.asDiagonal() * features;
  gp.sq_norms_ = gp.scaled_.colwise().squaredNorm().transpose();
  gp.y_ = y;

  Eigen::MatrixXd k(n, n);
  for (int j = 0; j < n; ++j) {
    for (int i = j; i < n; ++i) {
      const double r2 = (gp.scaled_.col(i) - gp.scaled_.col(j)).squaredNorm();
      k(i, j) = gp.signal_variance_ * Matern52(r2);
    }
  }
  for (double jitter : {0.0, 1e-10, 1e-8, 1e-6, 1e-4}) {
    Eigen::MatrixXd kn = k;
    kn.diagonal().array() += noise + jitter * gp.signal_variance_;
    Eigen::LLT<Eigen::MatrixXd, Eigen::Lower> llt(kn);
    if (llt.info() != Eigen::Success) continue;
    gp.chol_ = llt.matrixL();
    gp.noise_variance_ = noise + jitter * gp.signal_variance_;
    gp.alpha_ = llt.solve(y);
    return gp;
  }
  return absl::InternalError(
      absl::StrCat("GP kernel matrix of ", n, " points is not positive definite"));
}

Eigen::VectorXd GaussianProcess::CrossKernel(const Eigen::VectorXd& scaled_point,
                                             Eigen::VectorXd* r2) const {
  *r2 = (sq_norms_.array() + scaled_point.squaredNorm()).matrix() -
        2.0 * (scaled_.transpose() * scaled_point);
  Eigen::VectorXd k(r2->size());
  for (int j = 0; j < r2->size(); ++j) {
    (*r2)(j) = std::max((*r2)(j), 0.0);
    k(j) = signal_variance_ * Matern52((*r2)(j));
  }
  return k;
}

void GaussianProcess::Predict(const Eigen::MatrixXd& points, Eigen::VectorXd* mean,
                              Eigen::VectorXd* var) const {
  const int m = static_cast<int>(points.cols());
  const Eigen::MatrixXd scaled = inv_lengthscale_.asDiagonal() * points;
  Eigen::MatrixXd k = -2.0 * (scaled_.transpose() * scaled);  // n x m
  const Eigen::RowVectorXd point_norms = scaled.colwise().squaredNorm();
  for (int j = 0; j < m; ++j) {
    for (int i = 0; i < k.rows(); ++i) {
      k(i, j) = signal_variance_ * Matern52(std::max(k(i, j) + sq_norms_(i) + point_norms(j), 0.0));
    }
  }
  *mean = k.transpose() * alpha_;
  chol_.triangularView<Eigen::Lower>().solveInPlace(k);
  *var = (signal_variance_ - k.colwise().squaredNorm().array()).matrix().transpose();
  *var = var->cwiseMax(0.0);
}

void GaussianProcess::PredictWithGradient(const Eigen::VectorXd& point, double* mean, double* var,
                                          Eigen::VectorXd* d_mean, Eigen::VectorXd* d_var) const {
  const Eigen::VectorXd scaled = inv_lengthscale_.cwiseProduct(point);
  Eigen::VectorXd r2;
  const Eigen::VectorXd k = CrossKernel(scaled, &r2);
  *mean = k.dot(alpha_);
  Eigen::VectorXd beta = chol_.triangularView<Eigen::Lower>().solve(k);
  *var = std::max(signal_variance_ - beta.squaredNorm(), 0.0);
  chol_.triangularView<Eigen::Lower>().transpose().solveInPlace(beta);  // now K^-1 k
  // dk_j/dpoint = s2 matern'(r2_j) * 2 (scaled - scaled_j) * inv_lengthscale.
  Eigen::VectorXd dk(r2.size());
  for (int j = 0; j < r2.size(); ++j) dk(j) = signal_variance_ * Matern52DerivativeR2(r2(j));
  const Eigen::VectorXd wm = dk.cwiseProduct(alpha_);
  const Eigen::VectorXd wv = dk.cwiseProduct(beta);
  *d_mean = 2.0 * inv_lengthscale_.cwiseProduct(scaled * wm.sum() - scaled_ * wm);
  // var = s2 - k^T K^-1 k: d var = -2 (K^-1 k)^T dk.
  *d_var = -4.0 * inv_lengthscale_.cwiseProduct(scaled * wv.sum() - scaled_ * wv);
}

void GaussianProcess::AddPoint(const Eigen::VectorXd& point, double y) {
  const Eigen::VectorXd scaled = inv_lengthscale_.cwiseProduct(point);
  Eigen::VectorXd r2;
  const Eigen::VectorXd k = CrossKernel(scaled, &r2);
  const int n = num_points();
  const Eigen::VectorXd l = chol_.triangularView<Eigen::Lower>().solve(k);
  // The Schur complement is >= the noise variance in exact arithmetic.
  const double d2 = std::max(signal_variance_ + noise_variance_ - l.squaredNorm(), noise_variance_);
  chol_.conservativeResize(n + 1, n + 1);
  chol_.row(n).head(n) = l.transpose();
  chol_.col(n).setZero();
  chol_(n, n) = std::sqrt(d2);
  scaled_.conservativeResize(Eigen::NoChange, n + 1);
  scaled_.col(n) = scaled;
  sq_norms_.conservativeResize(n + 1);
  sq_norms_(n) = scaled.squaredNorm();
  y_.conservativeResize(n + 1);
  y_(n) = y;
  alpha_ = chol_.triangularView<Eigen::Lower>().solve(y_);
  chol_.triangularView<Eigen::Lower>().transpose().solveInPlace(alpha_);
}

}  // namespace hpo::server::gp
