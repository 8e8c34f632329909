// Evaluating one parameter assignment of a task in this process.
#ifndef HPO_HARNESS_EVALUATE_H_
#define HPO_HARNESS_EVALUATE_H_

#include "absl/status/statusor.h"
#include "hpo/v1/hpo.pb.h"
#include "tasks/task.h"

namespace hpo::harness {

// f(params): SyntheticTask::Value after core::ValidateParams / NormalizeParams (no learning
// curve drawn), else Task::Evaluate with one step and a reporter that ignores the curve.
// INVALID_ARGUMENT from ValidateParams; the task's errors. Thread-safe (tasks are).
absl::StatusOr<double> EvaluateTask(const tasks::Task& task, const hpo::v1::SearchSpace& space,
                                    const hpo::v1::ParamMap& params);

}  // namespace hpo::harness

#endif  // HPO_HARNESS_EVALUATE_H_
