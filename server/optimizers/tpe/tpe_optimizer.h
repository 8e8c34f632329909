// Tree-structured Parzen Estimator (Bergstra et al. 2011), following Optuna 3.1's TPESampler.
#ifndef HPO_SERVER_OPTIMIZERS_TPE_TPE_OPTIMIZER_H_
#define HPO_SERVER_OPTIMIZERS_TPE_TPE_OPTIMIZER_H_

#include <memory>
#include <string>
#include <vector>

#include "server/optimizers/optimizer.h"
#include "server/optimizers/tpe/parzen_estimator.h"

namespace hpo::server {

// TPE over a search space. Options (all strings in OptimizerSpec.options):
//   n_startup_trials (10)   finished trials needed before TPE; until then proposals are exactly
//                           RandomOptimizer's (uniform, seeded from (seed, trial number)).
//   n_ei_candidates (24)    candidates drawn from l(x); the one maximizing log l - log g wins.
//   gamma (0.15)            size of the good group of n finished trials: a fraction f in (0, 1]
//                           = min(ceil(f n), 25); "optuna" = 0.1 (Optuna's); "sqrt" =
//                           min(ceil(0.25 sqrt(n)), 25) (Hyperopt's).
//   prior_weight (1.0)      weight of the prior component (> 0).
//   multivariate (true)     true: one joint estimator (a product kernel per observation) over
//                           the parameters without a condition; conditional parameters are
//                           sampled one by one. false: every parameter alone (Optuna's default).
//   bandwidth (0.5)         kernel widths, per observation and dimension: "gaps" = the larger
//                           gap to its neighbours (univariate TPE's rule, Optuna's default);
//                           "scott" = one Scott's-rule width per dimension (Optuna's
//                           multivariate; parameters sampled alone then use Scott's rule in
//                           multivariate mode, gaps otherwise); a number t in [0, 1] =
//                           gap^t * scott^(1 - t), a geometric blend (0.5 by default).
//   constant_liar (true)    RUNNING and PENDING trials, and earlier proposals of the same call,
//                           join the bad group, so parallel proposals spread out.
//   consider_magic_clip (true), consider_endpoints (false)   Optuna's bandwidth rules.
//   bound_candidates (0.05) a fraction w in [0, 0.5): each candidate drawn from l(x) also competes
//                           as a copy with every continuous value that lies within w of its range
//                           from a bound (internal representation: log units for log-scaled
//                           parameters) moved onto that bound; 0 turns the copies off. Truncated
//                           kernels put little mass right at a bound, where optima often are.
//   weights ("optuna")      "optuna": older trials of a group weigh less once it holds more than
//                           25 ("default_weights"); "uniform": all weigh 1.
//   kernel_normalization ("exact")   "exact": true truncated-normal densities; "optuna31":
//                           continuous kernels as Optuna 3.1's truncnorm.logpdf computes them,
//                           without the 1/sigma factor (a narrow component peaks no higher than a
//                           wide one).
//   pruned ("predicted")    how a PRUNED trial ranks (Options::Pruned): "predicted", "last" or
//                           "worst".
// How the defaults were chosen, with the figures: docs/optimizers.md. Optuna 3.1's own behaviour
// is multivariate=false gamma=optuna kernel_normalization=optuna31 bandwidth=gaps.
//
// History: COMPLETED trials with a non-NaN value rank by value (MAXIMIZE is negated); PRUNED trials
// rank as option pruned says (with "last", after all of them, by the step of their last report of
// the objective metric (further is better) then that value); FAILED and LOST trials are ignored.
// Parameters are modelled in their internal representation: log of log-scaled values, ints and
// stepped floats as continuous values with their grid (kernel mass over [x - step/2, x + step/2]),
// categoricals as choice indices with Optuna's smoothed kernel. A parameter's estimator uses only
// the trials where it was active.
//
// Suggest is a pure function of (options, seed, history, numbers): trial number k draws from an
// Rng seeded from (seed, k), and nothing depends on hash-map order or time. Thread-compatible:
// Suggest reuses internal scratch buffers, so one instance must not be called from two threads at
// once (the coordinator calls it under its lock).
class TpeOptimizer final : public Optimizer {
 public:
  struct Options {
    int n_startup_trials = 10;
    int n_ei_candidates = 24;
    bool sqrt_gamma = false;
    double gamma_fraction = 0.15;  // linear gamma: min(ceil(fraction n), 25)
    double prior_weight = 1.0;
    bool multivariate = true;
    // Multivariate bandwidths: Scott's rule (Optuna's) or each component's neighbour gaps per
    // dimension (univariate TPE's, in a joint product kernel).
    bool scott_bandwidth = false;
    double gap_weight = 0.5;  // bandwidth: a number t in [0, 1] = gap^t * scott^(1 - t)
    bool constant_liar = true;
    bool consider_magic_clip = true;
    bool consider_endpoints = false;
    double bound_candidates = 0.05;
    bool ramp_weights = true;
    bool optuna31_kernel = false;
    // How a PRUNED trial ranks: kPredicted (the default) among the completed ones by the
    // learning-curve stopper's forecast of its final value, kLast's rank without a forecast;
    // kLast (Optuna's) after every completed trial, by the last step it reached and its value
    // there; kWorst after every completed trial, all alike.
    enum class Pruned { kLast, kWorst, kPredicted };
    Pruned pruned = Pruned::kPredicted;
  };

  // INVALID_ARGUMENT "optimizer.options.<key>: ..." for an unknown option or a bad value, or the
  // search space's validation error.
  static absl::StatusOr<std::unique_ptr<Optimizer>> Create(const hpo::v1::OptimizerSpec& spec,
                                                           const hpo::v1::SearchSpace& space);
  // Parses spec.options() into Options (same errors as Create).
  static absl::StatusOr<Options> ParseOptions(const hpo::v1::OptimizerSpec& spec);

  absl::StatusOr<std::vector<hpo::v1::ParamMap>> Suggest(const StudyView& view,
                                                         const std::vector<int>& numbers) override;

 private:
  // How a parameter maps to the estimator's representation.
  enum class Repr { kFloat, kFloatLog, kFloatStep, kInt, kIntLog, kCategorical };
  struct Param {
    const hpo::v1::ParamSpec* spec;  // into space_
    Repr repr;
    tpe::Dim dim;
    int64_t grid_max = 0;  // kFloatStep, kInt: values are low + k * step for k in [0, grid_max]
  };
  // One usable trial: its rank key and its parameters (NaN where absent or unusable).
  struct Observation {
    double key1, key2;  // sorted lexicographically, smaller is better
    bool liar;          // running/pending/in-call proposal: always in the bad group
  };

  TpeOptimizer(hpo::v1::SearchSpace space, int64_t seed, Options options);

  // Internal value of `v` for parameter i, or NaN when `v` is not a value of the parameter.
  double ToInternal(int i, const hpo::v1::ParamValue& v) const;
  // Snaps an internal value to the nearest valid one (grid, bounds) and returns it; `out` (if
  // not null) receives the parameter value.
  double Snap(int i, double x, hpo::v1::ParamValue* out) const;
  // Collects the observations of `view` into obs_/rows_; returns the number of finished ones.
  int Collect(const StudyView& view, const std::vector<int>& numbers);
  // Draws the best of n_ei_candidates for the parameters `group` (indices into params_), fitting
  // l on below_ rows and g on above_ rows that have all of them; writes internal values to
  // `chosen` (one per group entry).
  void SampleGroup(const std::vector<int>& group, bool scott, core::Rng& rng, double* chosen);

  hpo::v1::SearchSpace space_;
  int64_t seed_;
  Options options_;
  std::vector<Param> params_;
  std::vector<int> unconditional_;  // params without a condition, in declaration order

  // Per-Suggest state, kept to reuse allocations.
  std::vector<Observation> obs_;
  std::vector<double> rows_;        // obs_.size() x params_.size()
  std::vector<int> below_, above_;  // indices into obs_, chronological
};

}  // namespace hpo::server

#endif  // HPO_SERVER_OPTIMIZERS_TPE_TPE_OPTIMIZER_H_
