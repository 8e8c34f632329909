// Gaussian-process Bayesian optimization (Matérn-5/2 ARD, MAP hyperparameters, LogEI).
#ifndef HPO_SERVER_OPTIMIZERS_GP_GP_OPTIMIZER_H_
#define HPO_SERVER_OPTIMIZERS_GP_GP_OPTIMIZER_H_

#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "Eigen/Dense"
#include "server/optimizers/gp/gaussian_process.h"
#include "server/optimizers/gp/space_encoder.h"
#include "server/optimizers/optimizer.h"

namespace hpo::server {

// GP-BO. Until `n_startup_trials` trials have completed it proposes exactly what
// RandomOptimizer would (one stream per (seed, trial number)). Then, for each call:
//   1. Completed trials (FAILED, LOST and PRUNED are ignored; MAXIMIZE is negated) are encoded
//      by gp::SpaceEncoder; their values are standardized and Yeo-Johnson transformed
//      (gp::TransformOutputs; option power_transform: false keeps plain standardization).
//   2. Kernel hyperparameters are fit by MAP (gp::FitHyperparameters: L-BFGS from the prior
//      mode; priors: log lengthscale ~ N(sqrt2 + log(d)/2 - 3, 3) after Hvarfner et al. 2024,
//      log signal variance ~ N(0, 1), log noise variance ~ N(log 1e-4, 4) bounded below by 1e-6)
//      on at most `fit_max_points` of them (a subset drawn from (seed, count) beyond that).
//      Warm-starting from the previous fit was not taken: it would make the result depend on
//      the object's past calls, not on the history alone.
//      The fit is a function of the history alone; the object memoizes the last fit and reuses
//      it when the fitted data are identical (e.g. several calls between completions), which
//      changes speed, never results.
//   3. RUNNING and PENDING trials, and the proposals made earlier in the same call, enter the
//      GP as "Kriging believer" points (their value is the posterior mean), so parallel workers
//      get distinct points. Option pending: ignore turns this off.
//   4. LogEI (against the best completed value) is maximized: a digitally shifted Sobol batch of
//      `n_candidates` points plus the best completed points are scored; the best `n_restarts`
//      starts are refined by L-BFGS over the active continuous parameters alternated with a
//      local search over the discrete and categorical ones.
// Suggest is deterministic for (options, seed, history, numbers).
// Options (strings): n_startup_trials (int >= 1, default max(10, 3 d + 2)), n_candidates
// (int >= 1, default 1024), n_restarts (int >= 1, default 10), pending (believer | ignore),
// fit_max_points (int >= 10, default 200), fit_max_evals (int >= 1, default 200),
// power_transform (true | false, default true). Others: INVALID_ARGUMENT
// "optimizer.options.<key>: ...".
// Thread-compatible: Suggest mutates the fit memo, so one thread at a time.
class GpOptimizer final : public Optimizer {
 public:
  struct Options {
    int n_startup_trials = 0;  // 0: max(10, 3 d + 2)
    int n_candidates = 1024;
    int n_restarts = 10;
    bool believer = true;
    int fit_max_points = 200;
    int fit_max_evals = 200;
    bool power_transform = true;
  };

  static absl::StatusOr<std::unique_ptr<Optimizer>> Create(const hpo::v1::OptimizerSpec& spec,
                                                           const hpo::v1::SearchSpace& space);

  absl::StatusOr<std::vector<hpo::v1::ParamMap>> Suggest(const StudyView& view,
                                                         const std::vector<int>& numbers) override;

 private:
  struct Point {
    std::vector<double> raw;
    std::vector<char> active;
    Eigen::VectorXd features;
  };

  GpOptimizer(hpo::v1::SearchSpace space, int64_t seed, Options options);

  hpo::v1::ParamMap RandomProposal(int number) const;
  Eigen::VectorXd FitTheta(const Eigen::MatrixXd& features, const Eigen::VectorXd& y);
  // Maximizes LogEI against `best` (standardized) and returns the winning point.
  Point MaximizeAcquisition(const gp::GaussianProcess& model, double best,
                            const std::vector<Point>& incumbents, std::mt19937_64& rng) const;
  // Refines `point` in place; returns its LogEI.
  double LocalSearch(const gp::GaussianProcess& model, double best, Point* point) const;
  double ContinuousSearch(const gp::GaussianProcess& model, double best, Point* point) const;
  double Score(const gp::GaussianProcess& model, double best, Point* point) const;

  hpo::v1::SearchSpace space_;
  int64_t seed_;
  Options options_;
  gp::SpaceEncoder encoder_;
  gp::HyperPrior prior_;

  // Fit memo: the data of the last fit and its result.
  Eigen::MatrixXd memo_features_;
  Eigen::VectorXd memo_y_;
  Eigen::VectorXd memo_theta_;
};

}  // namespace hpo::server

#endif  // HPO_SERVER_OPTIMIZERS_GP_GP_OPTIMIZER_H_
