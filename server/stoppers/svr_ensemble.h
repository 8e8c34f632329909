// A small ensemble of nu-SVRs with RBF kernels (libsvm), the regression model of Baker et al.
// 2017, "Accelerating Neural Architecture Search using Performance Prediction": it maps a
// feature vector (a trial's hyperparameters and its learning curve so far) to the curve's final
// value, with a spread.
#ifndef HPO_SERVER_STOPPERS_SVR_ENSEMBLE_H_
#define HPO_SERVER_STOPPERS_SVR_ENSEMBLE_H_

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace hpo::server {

struct SvrEnsembleOptions {
  // Random search over (C, nu, gamma): C and gamma log-uniform in [1e-5, 10], nu uniform in
  // (0, 1], each candidate scored by `folds`-fold cross-validated squared error.
  int search_trials = 40;
  int folds = 3;
  // Up to `members` of the best candidates, those whose cross-validated error is within 1.5 times
  // the best one's, each train one member on all rows (a subset when there are more than
  // max_member_rows): they differ by their parameters.
  int members = 5;
  // Rows used for the search and for each member: a random subset when there are more (the
  // cost of a nu-SVR grows with the square of its rows).
  int max_search_rows = 200;
  int max_member_rows = 400;
  // Of such a subset, this share is the rows with the lowest targets (for a stopper, the good
  // configurations, where a decision is close), the rest drawn at random.
  double low_target_share = 0.3;
  // The error term of a forecast: the mean squared out-of-fold residual of the best candidate
  // over the out-of-fold predictions nearest to the forecast's mean, this share of them (at
  // least 15). Errors differ along the range: diverged and slow configurations are hard to
  // predict, good ones much less so, and one global error would make every forecast of a good
  // configuration too wide to stop.
  double error_neighbour_share = 0.2;
  // With fewer out-of-fold predictions than this (fewer rows than the search uses), the error
  // term is the best candidate's global cross-validated RMSE: a few dozen residuals cannot tell
  // one part of the range from another, and a cold model fitted on a study's first curves
  // stopped the best configurations of crossing curves with a local one.
  int min_local_rows = 150;
  uint64_t seed = 0;
};

// Immutable once fitted: Predict is thread-safe.
class SvrEnsemble {
 public:
  struct Forecast {
    double mean = 0;
    // sqrt(ensemble variance + local cross-validated residual variance): the members'
    // disagreement alone is far too confident (it ignores the error they share), so the
    // out-of-fold error of the best candidate near this prediction widens it (see
    // SvrEnsembleOptions::error_neighbour_share).
    double spread = 0;
  };

  // `x`: n rows of equal length; `y`: n targets. INVALID_ARGUMENT for fewer than 2 * folds rows,
  // ragged rows or non-finite values.
  static absl::StatusOr<std::unique_ptr<SvrEnsemble>> Fit(const std::vector<std::vector<double>>& x,
                                                          const std::vector<double>& y,
                                                          const SvrEnsembleOptions& options);
  ~SvrEnsemble();
  SvrEnsemble(const SvrEnsemble&) = delete;
  SvrEnsemble& operator=(const SvrEnsemble&) = delete;

  // `x` has the training rows' length.
  Forecast Predict(const std::vector<double>& x) const;

  int rows() const { return rows_; }
  // The cross-validated RMSE of the best candidate, in target units.
  double cv_rmse() const { return cv_rmse_; }

 private:
  struct Member;
  SvrEnsemble() = default;

  int rows_ = 0;
  std::vector<double> x_mean_, x_scale_;
  double y_mean_ = 0, y_scale_ = 1;
  double cv_rmse_ = 0;        // target units
  int error_neighbours_ = 0;  // how many of oof_ a forecast's error term averages
  // The best candidate's out-of-fold (prediction, squared residual), target units, by prediction.
  std::vector<std::pair<double, double>> oof_;
  std::vector<std::unique_ptr<Member>> members_;
};

}  // namespace hpo::server

#endif  // HPO_SERVER_STOPPERS_SVR_ENSEMBLE_H_
