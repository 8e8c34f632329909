#ifndef HPO_SERVER_OPTIMIZERS_RANDOM_OPTIMIZER_H_
#define HPO_SERVER_OPTIMIZERS_RANDOM_OPTIMIZER_H_

#include <memory>

#include "server/optimizers/optimizer.h"

namespace hpo::server {

// Uniform random search over the space (log-uniform on log scales, step grids, conditions).
// Trial number k of a study with seed s always gets the same parameters, whatever order the
// trials are asked for in. Thread-compatible.
class RandomOptimizer final : public Optimizer {
 public:
  static absl::StatusOr<std::unique_ptr<Optimizer>> Create(const hpo::v1::OptimizerSpec& spec,
                                                           const hpo::v1::SearchSpace& space);

  absl::StatusOr<std::vector<hpo::v1::ParamMap>> Suggest(const StudyView& view,
                                                         const std::vector<int>& numbers) override;
  bool cheap() const override { return true; }

 private:
  RandomOptimizer(hpo::v1::SearchSpace space, int64_t seed)
      : space_(std::move(space)), seed_(seed) {}

  hpo::v1::SearchSpace space_;
  int64_t seed_;
};

}  // namespace hpo::server

#endif  // HPO_SERVER_OPTIMIZERS_RANDOM_OPTIMIZER_H_
