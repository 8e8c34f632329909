// Gaussian-process Bayesian optimization (Matérn-5/2 ARD, MAP hyperparameters, LogEI).
#ifndef HPO_SERVER_OPTIMIZERS_GP_GP_OPTIMIZER_H_
#define HPO_SERVER_OPTIMIZERS_GP_GP_OPTIMIZER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <vector>

#include "Eigen/Dense"
#include "server/optimizers/gp/gaussian_process.h"
#include "server/optimizers/gp/space_encoder.h"
#include "server/optimizers/optimizer.h"

namespace hpo::server {

// How many of the first observations the hyperparameters are fit on when there are n of them:
// n up to fit_max_points; past it, the largest of ceil(fit_max_points 1.05^k), k = 1, 2, ...,
// that is at most n (and fit_max_points itself until the first of those).
int GpFitHistorySize(int n, int fit_max_points);

// GP-BO. Until `n_startup_trials` trials have a usable value (COMPLETED with a finite one, or
// PRUNED with one of their own under option pruned) it proposes exactly what RandomOptimizer
// would (one stream per (seed, trial number)). Then, for each call:
//   1. Completed trials (MAXIMIZE is negated) are encoded by gp::SpaceEncoder; their values
//      have a far bad tail softened, and are standardized and Yeo-Johnson transformed
//      (gp::TransformOutputs; option power_transform: false skips Yeo-Johnson). A PRUNED trial
//      counts as option pruned says. Trials that ended without a usable value (FAILED, PRUNED
//      without a value of its own, COMPLETED with NaN or inf) count as observations of the worst
//      completed value, so the model steers away from them instead of proposing the same point
//      again; LOST trials are ignored (the coordinator retries them).
//   2. Kernel hyperparameters are fit by MAP (gp::FitHyperparameters: L-BFGS from the prior
//      mode; priors: log lengthscale ~ N(sqrt2 + log(d)/2 - 3, 3) after Hvarfner et al. 2024,
//      log signal variance ~ N(0, 1), log noise variance ~ N(log 1e-4, 4) bounded below by 1e-6).
//      Up to `fit_max_points` observations they are refit on every call, on all of them. Past
//      that, they are refit on a schedule: on the first GpFitHistorySize(n) observations (the
//      history as it was when it last grew 5% past the previous refit), on a subset of
//      `fit_max_points` of them drawn from (seed, that size), with values standardized over
//      those observations alone. The fit is a function of the history alone; the object
//      memoizes the last fit and reuses it when the fitted data are identical (several calls
//      between completions, and every call between two scheduled refits), which changes
//      speed, never results.
//   The model then conditions on every observation, or, past `model_max_points` of them, on
//   the half of that many nearest the best one (squared distance in lengthscale units over the
//   encoded features, ties to the older) and as many more drawn from the rest by (seed, n):
//   local detail where the search converges, and enough of the rest to know the landscape.
//   Its cost then no longer grows with the history (gp_suggest_bench; docs/optimizers.md).
//   3. RUNNING and PENDING trials, and the proposals made earlier in the same call, enter the
//      GP as "Kriging believer" points (their value is the posterior mean, which also counts
//      as an observed value when LogEI picks the value to improve on), so parallel workers get
//      distinct points. Option pending: ignore turns this off.
//   4. Trust regions (option trust_regions, default 1 = off): the regions are centred on the best
//      completed points that lie more than 1.5 lengthscale units (sqrt of sum ((x_i - c_i) /
//      l_i)^2 over the raw [0, 1] values) from every better centre, best first, at most
//      `trust_regions` of them. Trial number k proposes in region k mod (number of centres): a
//      box around the centre of half-width 0.2 l_i / (geometric mean of the l) per parameter, on
//      the raw [0, 1] values (clipped to [0, 1]), with LogEI against the centre's value. The
//      Sobol candidates are drawn in the box on every parameter (an int or categorical by its
//      encoded position) and L-BFGS keeps continuous ones in it; the discrete local search may
//      step an int or categorical out of it. So while one region converges on the best basin,
//      another keeps climbing the best distinct one: for objectives with a few competing basins.
//      Off by default: where the optima lie on the bounds of the space, boxes around interior
//      points do not reach them (docs/optimizers.md, "gp", has the measurements).
//      When the best value has not improved by 1e-3 (standardized units) over the last
//      `stall_trials` completed trials, once that many have completed after the startup ones,
//      or when trust_regions <= 1, the proposal is global (step 5 over the whole space).
//   5. LogEI (against the best completed value, or the region's centre) is maximized: a
//      digitally shifted Sobol batch of `n_candidates` points (in the box, for a region) plus
//      the best completed points (the centre, for a region) are scored; the best `n_restarts`
//      starts are refined by L-BFGS over the active continuous parameters alternated with a
//      local search over the discrete and categorical ones.
// Suggest is deterministic for (options, seed, history, numbers).
// Options (strings): n_startup_trials (int >= 1, default max(10, 3 d + 2)), n_candidates
// (int >= 1, default 1024), n_restarts (int >= 1, default 10), pending (believer | ignore),
// fit_max_points (int >= 10, default 200), model_max_points (int >= 10, default 300), fit_max_evals
// (int >= 1, default 200), power_transform (true | false, default true), trust_regions (int >= 0,
// default 1; 0 and 1: every proposal global), stall_trials (int >= 1, default 20), pruned (worst |
// last | predicted, default predicted: what a PRUNED trial counts as — the worst completed value,
// its last reported value, or its learning-curve forecast of the final value when it has one, else
// its last value). Others: INVALID_ARGUMENT "optimizer.options.<key>: ...". Thread-compatible:
// Suggest mutates the fit memo, so one thread at a time.

class GpOptimizer final : public Optimizer {
 public:
  struct Options {
    int n_startup_trials = 0;  // 0: max(10, 3 d + 2)
    int n_candidates = 1024;
    int n_restarts = 10;
    bool believer = true;
    int fit_max_points = 200;
    int model_max_points = 300;
    int fit_max_evals = 200;
    bool power_transform = true;
    int trust_regions = 1;
    int stall_trials = 20;
    enum class Pruned { kWorst, kLast, kPredicted };
    Pruned pruned = Pruned::kPredicted;
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
  // Indices (ascending) of the completed trials the model conditions on (step 3 above).
  std::vector<int> ModelPoints(const std::vector<Point>& completed, const Eigen::VectorXd& y,
                               const Eigen::VectorXd& theta) const;
  // Bounds on the raw [0, 1] values of the continuous parameters (all parameters indexed).
  struct Box {
    std::vector<double> lo, hi;
  };
  // The trust region for trial `number` (step 4 above), or nullopt for a global proposal.
  // `order`: completed trials by standardized value, best first.
  struct Region {
    Box box;
    int center = 0;  // index into the completed trials
  };
  std::optional<Region> PickRegion(const std::vector<Point>& completed,
                                   const std::vector<int>& order, const Eigen::VectorXd& y,
                                   const Eigen::VectorXd& theta, int number) const;
  // Maximizes LogEI against `best` (standardized), inside `box` when it is non-null, and returns
  // the winning point.
  Point MaximizeAcquisition(const gp::GaussianProcess& model, double best,
                            const std::vector<Point>& incumbents, const Box* box,
                            std::mt19937_64& rng) const;
  // Refines `point` in place (continuous parameters inside `box` when non-null); returns its
  // LogEI.
  double LocalSearch(const gp::GaussianProcess& model, double best, const Box* box,
                     Point* point) const;
  double ContinuousSearch(const gp::GaussianProcess& model, double best, const Box* box,
                          Point* point) const;
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
