// The usual routing of optimizer names to runners for `hpo bench`.
#ifndef HPO_HARNESS_ROUTER_H_
#define HPO_HARNESS_ROUTER_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "harness/bench.h"
#include "harness/optuna_runner.h"
#include "harness/run_spec.h"
#include "hpo/v1/hpo.pb.h"

namespace hpo::harness {

// Checks a variant's options before any run starts: OK, or the error the optimizer would give.
using OptionsCheck = std::function<absl::Status(const OptimizerVariant& variant)>;

// optuna-tpe / optuna-random go to `optuna` (null = skipped, "Optuna runner not configured"),
// after one Probe() per router: when Optuna cannot be used they are skipped with the probe's
// message. Names in `ours_info` (the optimizers that `ours` runs: this build's registry, or what
// the coordinator reports), alone or as variants "NAME:key=value;..." (see
// ParseOptimizerVariant), go to `ours`, fingerprinted "hpo NAME rREVISION" with the revision
// from `ours_info`; a variant's options must pass `check` (when set), else INVALID_ARGUMENT
// "--optimizers: 'TEXT': <the check's message>". Anything else is INVALID_ARGUMENT
// "--optimizers: unknown optimizer 'x' (known: ...)"; so is a malformed variant or an optuna-*
// name with anything after it. The runners must outlive the router.
// Not thread-safe (RunBench calls it from one thread).
Router StandardRouter(Runner* ours, hpo::v1::ServerInfo ours_info, OptunaRunner* optuna,
                      OptionsCheck check = nullptr);

// Checks options with this build's optimizer registry (server::MakeOptimizer on a one-parameter
// space), for the optimizers that `ours_info` lists at the revision this build has: the same
// code that will run them. Others pass (a coordinator running another revision reports its
// own errors, run by run). Thread-safe.
OptionsCheck LocalOptionsCheck(hpo::v1::ServerInfo ours_info);

}  // namespace hpo::harness

#endif  // HPO_HARNESS_ROUTER_H_
