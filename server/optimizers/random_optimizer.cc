#include "server/optimizers/random_optimizer.h"

#include "core/search_space.h"
#include "server/optimizers/option_parsing.h"

namespace hpo::server {

absl::StatusOr<std::unique_ptr<Optimizer>> RandomOptimizer::Create(
    const hpo::v1::OptimizerSpec& spec, const hpo::v1::SearchSpace& space) {
  if (!spec.options().empty()) {
    return OptionError(SortedOptions(spec).begin()->first, "random search takes no options");
  }
  return std::unique_ptr<Optimizer>(new RandomOptimizer(space, spec.seed()));
}

absl::StatusOr<std::vector<hpo::v1::ParamMap>> RandomOptimizer::Suggest(
    const StudyView& /*view*/, const std::vector<int>& numbers) {
  std::vector<hpo::v1::ParamMap> out;
  out.reserve(numbers.size());
  for (int number : numbers) {
    // One stream per (seed, trial number): independent of how trials interleave.
    std::seed_seq seq{static_cast<uint32_t>(seed_), static_cast<uint32_t>(seed_ >> 32),
                      static_cast<uint32_t>(number)};
    core::Rng rng(seq);
    out.push_back(core::SampleUniform(space_, rng));
  }
  return out;
}

}  // namespace hpo::server
