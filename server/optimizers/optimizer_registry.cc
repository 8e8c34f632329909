// The table of optimizers a study can name. New optimizers add one line here.
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/optimizers/auto_optimizer.h"
#include "server/optimizers/gp/gp_optimizer.h"
#include "server/optimizers/optimizer.h"
#include "server/optimizers/random_optimizer.h"
#include "server/optimizers/tpe/tpe_optimizer.h"

namespace hpo::server {
namespace {

struct Entry {
  OptimizerFactory factory;
  // Bumped whenever the optimizer's proposals for a given (options, seed, history) change:
  // hpo bench does not reuse runs recorded under another revision. A change seen only by
  // studies with PRUNED trials, which hpo bench's runs never have, need not bump it. What each
  // revision changed: docs/optimizers.md.
  int revision;
};

constexpr int kGpRevision = 4;
constexpr int kTpeRevision = 4;
// auto's own rule; its revision below folds in gp's and tpe's, whose proposals it hands on.
constexpr int kAutoRuleRevision = 1;

const std::map<std::string, Entry>& Registry() {
  static const auto* registry = new std::map<std::string, Entry>{
      {"auto",
       {&AutoOptimizer::Create, kAutoRuleRevision * 10000 + kGpRevision * 100 + kTpeRevision}},
      {"gp", {&GpOptimizer::Create, kGpRevision}},
      {"random", {&RandomOptimizer::Create, 1}},
      {"tpe", {&TpeOptimizer::Create, kTpeRevision}},
  };
  return *registry;
}

}  // namespace

std::vector<std::string> OptimizerNames() {
  std::vector<std::string> names;
  for (const auto& [name, factory] : Registry()) names.push_back(name);
  return names;
}

absl::StatusOr<std::unique_ptr<Optimizer>> MakeOptimizer(const hpo::v1::OptimizerSpec& spec,
                                                         const hpo::v1::SearchSpace& space) {
  auto it = Registry().find(spec.name());
  if (it == Registry().end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("optimizer.name: unknown optimizer '", spec.name(),
                     "' (known: ", absl::StrJoin(OptimizerNames(), ", "), ")"));
  }
  return it->second.factory(spec, space);
}

int OptimizerRevision(const std::string& name) {
  auto it = Registry().find(name);
  return it == Registry().end() ? 0 : it->second.revision;
}

hpo::v1::ServerInfo OptimizerServerInfo() {
  hpo::v1::ServerInfo info;
  for (const auto& [name, entry] : Registry()) {
    hpo::v1::OptimizerInfo* o = info.add_optimizers();
    o->set_name(name);
    o->set_revision(entry.revision);
  }
  return info;
}

}  // namespace hpo::server
