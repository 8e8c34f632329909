// Parameter importance: which parameters of a study explain its objective values, computed from
// its completed trials. Two methods (docs/importance.md compares them on tasks whose relevant
// parameters are known):
//   fANOVA (Hutter et al. 2014): a random forest of regression trees fitted to the trials; a
//     parameter's importance is the share of the forest's variance over the search space that
//     its first-order marginal explains, computed exactly from the trees' partitions.
//   PED-ANOVA (Watanabe et al. 2023): a parameter's importance is the Pearson divergence between
//     the Parzen density of the best trials' values and that of all trials' values: how far
//     being good pulls it away from where it was tried.
// gRPC-free; every function here is pure and thread-safe.
#ifndef HPO_IMPORTANCE_IMPORTANCE_H_
#define HPO_IMPORTANCE_IMPORTANCE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "hpo/v1/hpo.pb.h"

namespace hpo::importance {

enum class Method { kFanova, kPedAnova };

// "fanova" | "ped-anova"; INVALID_ARGUMENT listing both otherwise.
absl::StatusOr<Method> ParseMethod(absl::string_view text);
std::string MethodName(Method method);

// The method the measured comparison chose (docs/importance.md).
inline constexpr Method kDefaultMethod = Method::kFanova;

struct FanovaOptions {
  int n_trees = 64;
  int max_depth = 64;
  int min_samples_split = 2;
  int min_samples_leaf = 1;
  // Share of the parameters each split chooses among (at least one).
  double max_features = 1.0;
  bool bootstrap = true;
};

struct PedAnovaOptions {
  // The best ceil(quantile n) trials (at least min_top) are "good".
  double quantile = 0.1;
  int min_top = 2;
  // Continuous parameters are binned into this many cells of [0, 1]; ints and categoricals with
  // fewer values get one cell each.
  int n_steps = 50;
  // false: "good" is measured against the uniform density on the search space (importance over
  // the space, the question fANOVA answers too); true: against the density of all trials
  // (importance among what was tried, the paper's and Optuna's default). On studies run by TPE,
  // which crowds trials where the relevant parameters are good, false found the relevant
  // parameters better (docs/importance.md).
  bool local = false;
};

struct ImportanceOptions {
  Method method = kDefaultMethod;
  // Draws the forest's bootstrap samples and split candidates, and the stand-in values of
  // inactive conditional parameters: the same seed gives the same numbers.
  uint64_t seed = 0;
  // Fewer completed trials with a value than this (or than 2) is FAILED_PRECONDITION.
  int min_trials = 10;
  FanovaOptions fanova;
  PedAnovaOptions ped_anova;
};

struct ParamImportance {
  std::string name;
  double importance = 0;  // in [0, 1]; a study's importances sum to 1
};

// Importance of every parameter of `spec.space()` from the COMPLETED trials of `trials` that have
// a finite value (others are skipped; the objective's direction decides which trials are best
// where that matters). Sorted by importance, descending (ties in space order).
// A conditional parameter absent from a trial (inactive) has no effect there: it is given a
// value drawn uniformly from its domain, so its importance reflects only the trials where it was
// active, and whether it is active counts towards its parent's.
// Errors:
//   INVALID_ARGUMENT: the space has no parameter, or is invalid; a completed trial's parameters
//     do not fit the space ("trial #3: params.x: 11 is above high (10)").
//   FAILED_PRECONDITION: fewer than options.min_trials usable trials ("importance needs at least
//     10 completed trials with a value; study 'foo' has 4"); all values equal.
absl::StatusOr<std::vector<ParamImportance>> ComputeImportance(
    const hpo::v1::StudySpec& spec, const std::vector<hpo::v1::Trial>& trials,
    const ImportanceOptions& options);

}  // namespace hpo::importance

#endif  // HPO_IMPORTANCE_IMPORTANCE_H_
