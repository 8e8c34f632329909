// The seam between the bench and whatever executes one run: in-process, an external optimizer
// over a pipe, or a coordinator's cluster.
#ifndef HPO_HARNESS_RUNNER_H_
#define HPO_HARNESS_RUNNER_H_

#include "absl/status/statusor.h"
#include "harness/run_spec.h"

namespace hpo::harness {

// Executes one run to its budget. Implementations are thread-safe: the bench calls Run from
// several threads at once, each with a different spec.
class Runner {
 public:
  virtual ~Runner() = default;
  // The record holds spec.trials evals on success (fewer only when a runner says why in its
  // contract). Errors name the run; `partial`, when non-null, then receives the spec, the
  // task's optimum and the evals made before the error (none when it came before the first).
  virtual absl::StatusOr<RunRecord> Run(const RunSpec& spec, RunRecord* partial) = 0;
  absl::StatusOr<RunRecord> Run(const RunSpec& spec) { return Run(spec, nullptr); }
};

}  // namespace hpo::harness

#endif  // HPO_HARNESS_RUNNER_H_
