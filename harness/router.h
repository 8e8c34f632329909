// The usual routing of optimizer names to runners for `hpo bench`.
#ifndef HPO_HARNESS_ROUTER_H_
#define HPO_HARNESS_ROUTER_H_

#include <string>
#include <vector>

#include "harness/bench.h"
#include "harness/optuna_runner.h"

namespace hpo::harness {

// optuna-tpe / optuna-random go to `optuna` (null = skipped, "Optuna runner not configured"),
// after one Probe() per router: when Optuna cannot be used they are skipped with the probe's
// message. Names in `our_names`, alone or as variants "NAME:key=value;..." (see
// ParseOptimizerVariant), go to `ours`. Anything else is INVALID_ARGUMENT
// "--optimizers: unknown optimizer 'x' (known: ...)"; so is a malformed variant or an optuna-*
// name with options. The runners must outlive the router.
// Not thread-safe (RunBench calls it from one thread).
Router StandardRouter(Runner* ours, std::vector<std::string> our_names, OptunaRunner* optuna);

}  // namespace hpo::harness

#endif  // HPO_HARNESS_ROUTER_H_
