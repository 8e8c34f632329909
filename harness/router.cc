#include "harness/router.h"

#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/status_macros.h"
#include "server/optimizers/optimizer.h"

namespace hpo::harness {

Router StandardRouter(Runner* ours, hpo::v1::ServerInfo ours_info, OptunaRunner* optuna,
                      OptionsCheck check) {
  // The probe's outcome, shared by the copies of the router.
  auto probe = std::make_shared<std::optional<absl::StatusOr<std::string>>>();
  return [ours, ours_info = std::move(ours_info), optuna, probe,
          check = std::move(check)](const std::string& optimizer) -> absl::StatusOr<Route> {
    HPO_ASSIGN_OR_RETURN(const OptimizerVariant variant, ParseOptimizerVariant(optimizer));
    if (IsOptunaOptimizer(variant.name)) {
      if (optimizer != variant.name) {
        return absl::InvalidArgumentError(
            absl::StrCat("--optimizers: '", optimizer, "': ", variant.name, " takes no options"));
      }
      if (optuna == nullptr) return Route{nullptr, "Optuna runner not configured", ""};
      if (!probe->has_value()) *probe = optuna->Probe();
      if (!(*probe)->ok()) return Route{nullptr, std::string((*probe)->status().message()), ""};
      return Route{
          optuna, "",
          absl::StrCat("optuna ", (*probe)->value(), ", adapter ", optuna->AdapterDigest())};
    }
    std::vector<std::string> known;
    for (const hpo::v1::OptimizerInfo& info : ours_info.optimizers()) {
      if (info.name() == variant.name) {
        if (check && !variant.options.empty()) {
          if (absl::Status s = check(variant); !s.ok()) {
            return absl::Status(s.code(),
                                absl::StrCat("--optimizers: '", optimizer, "': ", s.message()));
          }
        }
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

OptionsCheck LocalOptionsCheck(hpo::v1::ServerInfo ours_info) {
  return [ours_info = std::move(ours_info)](const OptimizerVariant& variant) -> absl::Status {
    bool same_code = false;
    for (const hpo::v1::OptimizerInfo& info : ours_info.optimizers()) {
      same_code |=
          info.name() == variant.name && info.revision() == server::OptimizerRevision(variant.name);
    }
    if (!same_code) return absl::OkStatus();
    hpo::v1::OptimizerSpec spec;
    spec.set_name(variant.name);
    spec.mutable_options()->insert(variant.options.begin(), variant.options.end());
    hpo::v1::SearchSpace space;
    hpo::v1::ParamSpec* x = space.add_params();
    x->set_name("x");
    x->mutable_float_domain()->set_low(0);
    x->mutable_float_domain()->set_high(1);
    return server::MakeOptimizer(spec, space).status();
  };
}

}  // namespace hpo::harness
