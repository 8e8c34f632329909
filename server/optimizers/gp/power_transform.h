// Yeo-Johnson power transform of observed values (Yeo & Johnson 2000), as HEBO uses it: makes
// skewed objective values closer to normal before the GP sees them, which both keeps one deep
// basin from dominating the model and spreads out values near the best one.
#ifndef HPO_SERVER_OPTIMIZERS_GP_POWER_TRANSFORM_H_
#define HPO_SERVER_OPTIMIZERS_GP_POWER_TRANSFORM_H_

#include "Eigen/Dense"

namespace hpo::server::gp {

// psi(lambda, y): monotone increasing in y for every lambda.
double YeoJohnson(double lambda, double y);

// The profile log-likelihood of lambda under a normal model of psi(lambda, y).
double YeoJohnsonLogLikelihood(double lambda, const Eigen::VectorXd& y);

// Softens the bad (high) tail of values to be minimized: with at least 4 values and quartiles
// q1 < q3, a value v above b = q3 + 3 (q3 - q1) becomes b + (q3 - q1) log(1 + (v - b) / (q3 - q1)).
// Monotone, and unchanged when nothing lies above b. One diverged trial with a huge finite loss
// would otherwise squeeze every other value into a sliver of the standardized range, below the
// GP's noise floor.
Eigen::VectorXd SoftenBadTail(const Eigen::VectorXd& y);

// SoftenBadTail, then standardizes (mean 0, sd 1; values whose spread is below 1e-12 of their
// magnitude become all zeros), then, when `power` is set, applies psi with the
// maximum-likelihood lambda in [-3, 3] (golden-section search) and standardizes again.
// Monotone: the order of the values is kept. Deterministic.
Eigen::VectorXd TransformOutputs(const Eigen::VectorXd& y, bool power, double* lambda = nullptr);

}  // namespace hpo::server::gp

#endif  // HPO_SERVER_OPTIMIZERS_GP_POWER_TRANSFORM_H_
