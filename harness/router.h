// The usual routing of optimizer names to runners for `hpo bench`.
#ifndef HPO_HARNESS_ROUTER_H_
#define HPO_HARNESS_ROUTER_H_

#include <string>
#include <vector>

#include "harness/bench.h"
#include "harness/optuna_runner.h"
#include "hpo/v1/hpo.pb.h"

namespace hpo::harness {

// optuna-tpe / optuna-random go to `optuna` (null = skipped, "Optuna runner not configured"),
// after one Probe() per router: when Optuna cannot be used they are skipped with the probe's
// message. Names in `ours_info` (the optimizers that `ours` runs: this build's registry, or what
// the coordinator reports), alone or as variants "NAME:key=value;..." (see
// ParseOptimizerVariant), go to `ours`, fingerprinted "hpo NAME rREVISION" with the revision
// from `ours_info`. Anything else is INVALID_ARGUMENT
// "--optimizers: unknown optimizer 'x' (known: ...)"; so is a malformed variant or an optuna-*
// name with options. The runners must outlive the router.
// Not thread-safe (RunBench calls it from one thread).
Router StandardRouter(Runner* ours, hpo::v1::ServerInfo ours_info, OptunaRunner* optuna);

}  // namespace hpo::harness

#endif  // HPO_HARNESS_ROUTER_H_
