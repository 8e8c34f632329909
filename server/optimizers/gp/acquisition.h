// Log expected improvement (Ament et al., "Unexpected improvements to expected improvement for
// Bayesian optimization", NeurIPS 2023), computed without underflow for very negative z.
#ifndef HPO_SERVER_OPTIMIZERS_GP_ACQUISITION_H_
#define HPO_SERVER_OPTIMIZERS_GP_ACQUISITION_H_

namespace hpo::server::gp {

// exp(x^2) erfc(x), accurate for every finite x (asymptotic series for large x).
double Erfcx(double x);

// log h(z) with h(z) = phi(z) + z Phi(z) (so EI = sigma h((best - mean) / sigma) when
// minimizing). Finite for every finite z: about -z^2/2 - log(z^2) - log(sqrt(2 pi)) for z -> -inf.
double LogH(double z);

// d/dz log h(z) = Phi(z) / h(z), computed in log space; about -z for z -> -inf.
double LogHDerivative(double z);

// log EI for minimization: log E[max(best - f, 0)] with f ~ N(mean, sd^2), sd > 0.
double LogExpectedImprovement(double mean, double sd, double best);

// The same with its partial derivatives with respect to mean and sd.
double LogExpectedImprovement(double mean, double sd, double best, double* d_mean, double* d_sd);

}  // namespace hpo::server::gp

#endif  // HPO_SERVER_OPTIMIZERS_GP_ACQUISITION_H_
