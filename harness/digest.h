// Digests that say what produced a bench run, so that results.sqlite reuses a run only when the
// same code made it on the same task (bench.h).
#ifndef HPO_HARNESS_DIGEST_H_
#define HPO_HARNESS_DIGEST_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tasks/task.h"

namespace hpo::harness {

// 16 hex digits of the 64-bit FNV-1a hash of `bytes`: the same on every run and build.
std::string Digest(absl::string_view bytes);

// What a task computes, as a Digest: its search space and its values (EvaluateTask) at
// assignments drawn from the space with a fixed seed: three, and more (up to 64 draws) until
// every categorical choice and every conditional parameter has been in one, so that each
// branch of the function is evaluated. It changes when the function, its space or, for a
// surrogate, its model file changes. The task's errors. Thread-safe (tasks are).
absl::StatusOr<std::string> TaskDigest(const tasks::Task& task);

}  // namespace hpo::harness

#endif  // HPO_HARNESS_DIGEST_H_
