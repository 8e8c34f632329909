#include "harness/router.h"

#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/status_macros.h"

namespace hpo::harness {

Router StandardRouter(Runner* ours, hpo::v1::ServerInfo ours_info, OptunaRunner* optuna) {
  // The probe's outcome, shared by the copies of the router.
  auto probe = std::make_shared<std::optional<absl::StatusOr<std::string>>>();
  return [ours, ours_info = std::move(ours_info), optuna,
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
    std::vector<std::string> known;
    for (const hpo::v1::OptimizerInfo& info : ours_info.optimizers()) {
      if (info.name() == variant.name) {
        return Route{ours, "", absl::StrCat("hpo ", info.name(), " r", info.revision())};
      }
      known.push_back(info.name());
    }
    known.push_back("optuna-tpe");
    known.push_back("optuna-random");
    return absl::InvalidArgumentError(absl::StrCat("--optimizers: unknown optimizer '",
                                                   variant.name,
                                                   "' (known: ", absl::StrJoin(known, ", "), ")"));
  };
}

}  // namespace hpo::harness
