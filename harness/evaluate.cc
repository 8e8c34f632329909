#include "harness/evaluate.h"

#include "core/search_space.h"
#include "core/status_macros.h"

namespace hpo::harness {

absl::StatusOr<double> EvaluateTask(const tasks::Task& task, const hpo::v1::SearchSpace& space,
                                    const hpo::v1::ParamMap& params) {
  if (const auto* synthetic = dynamic_cast<const tasks::SyntheticTask*>(&task)) {
    HPO_RETURN_IF_ERROR(core::ValidateParams(space, params));
    return synthetic->Value(core::NormalizeParams(space, params));
  }
  tasks::CallbackReporter ignore([](const core::MetricLine&) { return true; });
  return task.Evaluate(params, tasks::TaskOptions{}, ignore);
}

}  // namespace hpo::harness
