// The table of early stoppers a study can name. New stoppers add one line here.
#include <functional>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/stoppers/early_stopper.h"
#include "server/stoppers/median_stopper.h"

namespace hpo::server {
namespace {

using StopperFactory =
    std::function<absl::StatusOr<std::unique_ptr<EarlyStopper>>(const hpo::v1::EarlyStoppingSpec&)>;

absl::StatusOr<std::unique_ptr<EarlyStopper>> MakeNone(const hpo::v1::EarlyStoppingSpec& spec) {
  if (!spec.options().empty()) {
    return absl::InvalidArgumentError(absl::StrCat("early_stopping.options.",
                                                   spec.options().begin()->first,
                                                   ": stopper 'none' takes no options"));
  }
  return std::unique_ptr<EarlyStopper>(new NoStopper());
}

const std::map<std::string, StopperFactory>& Registry() {
  static const auto* registry = new std::map<std::string, StopperFactory>{
      {"median", &MedianStopper::Create},
      {"none", &MakeNone},
  };
  return *registry;
}

}  // namespace

std::vector<std::string> EarlyStopperNames() {
  std::vector<std::string> names;
  for (const auto& [name, factory] : Registry()) names.push_back(name);
  return names;
}

absl::StatusOr<std::unique_ptr<EarlyStopper>> MakeEarlyStopper(
    const hpo::v1::EarlyStoppingSpec& spec) {
  const std::string name = spec.name().empty() ? "none" : spec.name();
  auto it = Registry().find(name);
  if (it == Registry().end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("early_stopping.name: unknown stopper '", name,
                     "' (known: ", absl::StrJoin(EarlyStopperNames(), ", "), ")"));
  }
  return it->second(spec);
}

}  // namespace hpo::server
