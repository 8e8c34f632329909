#include "harness/router.h"

#include <algorithm>
#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/status_macros.h"
#include "server/optimizers/optimizer.h"

namespace hpo::harness {

Router StandardRouter(Runner* ours, std::vector<std::string> our_names, OptunaRunner* optuna) {
  // The probe's outcome, shared by the copies of the router.
  auto probe = std::make_shared<std::optional<absl::StatusOr<std::string>>>();
  return [ours, our_names = std::move(our_names), optuna,
          probe](const std::string& optimizer) -> absl::StatusOr<Route> {
    HPO_ASSIGN_OR_RETURN(const OptimizerVariant variant, ParseOptimizerVariant(optimizer));
    if (IsOptunaOptimizer(variant.name) && !variant.options.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--optimizers: '", optimizer, "': ", variant.name, " takes no options"));
    }
    if (IsOptunaOptimizer(optimizer)) {
      if (optuna == nullptr) return Route{nullptr, "Optuna runner not configured", ""};
      if (!probe->has_value()) *probe = optuna->Probe();
      if (!(*probe)->ok()) return Route{nullptr, std::string((*probe)->status().message()), ""};
      return Route{optuna, "", absl::StrCat("optuna ", (*probe)->value())};
    }
    if (std::find(our_names.begin(), our_names.end(), variant.name) != our_names.end()) {
      return Route{
          ours, "",
          absl::StrCat("hpo ", variant.name, " r", server::OptimizerRevision(variant.name))};
    }
    std::vector<std::string> known = our_names;
    known.push_back("optuna-tpe");
    known.push_back("optuna-random");
    return absl::InvalidArgumentError(absl::StrCat("--optimizers: unknown optimizer '",
                                                   variant.name,
                                                   "' (known: ", absl::StrJoin(known, ", "), ")"));
  };
}

}  // namespace hpo::harness
