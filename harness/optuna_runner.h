// Optuna's samplers as peers in the same bench: each run drives harness/optuna_adapter.py
// (under /usr/bin/python3) over JSON lines.
#ifndef HPO_HARNESS_OPTUNA_RUNNER_H_
#define HPO_HARNESS_OPTUNA_RUNNER_H_

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "harness/runner.h"
#include "harness/task_source.h"
#include "hpo/v1/hpo.pb.h"
#include "nlohmann/json_fwd.hpp"

namespace hpo::harness {

// True for the optimizer names this runner serves: "optuna-tpe", "optuna-random".
bool IsOptunaOptimizer(absl::string_view optimizer);

// The adapter script: $HPO_OPTUNA_ADAPTER when set, else the first that exists of
// <source dir>/harness/optuna_adapter.py and <install prefix>/share/hpo/optuna_adapter.py; the
// source-dir path when none does.
std::string DefaultOptunaAdapterPath();

// Our search space as the adapter's PARAM list (categorical choices and categorical condition
// values as indices).
nlohmann::json SpaceToAdapterJson(const hpo::v1::SearchSpace& space);

// The adapter's parameter values back as a ParamMap: floats and ints snapped into their domain
// through core::Encode/Decode, categorical indices as the choice. INVALID_ARGUMENT naming the
// parameter for a value of the wrong type or an index out of range; the result is checked with
// core::ValidateParams.
absl::StatusOr<hpo::v1::ParamMap> ParamsFromAdapterJson(const hpo::v1::SearchSpace& space,
                                                        const nlohmann::json& values);

// Thread-safe: every Run spawns its own adapter process; at most max_parallel run at once
// (the others wait), so that a bench with more jobs than cores (--distributed, whose other runs
// only wait on a cluster) does not put more Python processes than cores on this machine.
class OptunaRunner final : public Runner {
 public:
  struct Options {
    std::string python = "/usr/bin/python3";
    std::string adapter = DefaultOptunaAdapterPath();
    TaskFactory task_factory = BuiltinTaskFactory();
    // Each run's adapter stderr is appended to <log_dir>/<optimizer>_<task>_s<seed>.log (removed
    // after a successful run when empty); empty = discarded.
    std::string log_dir;
    absl::Duration reply_timeout = absl::Minutes(5);
    int max_parallel = 0;  // runs at once; <= 0: the hardware's cores
  };
  static absl::StatusOr<std::unique_ptr<OptunaRunner>> Create(Options options);

  // Starts the adapter once and reads its first line: OK with the Optuna version ("3.1.0"), or
  // FAILED_PRECONDITION saying why Optuna cannot be used (python missing, optuna not
  // importable, adapter missing).
  absl::StatusOr<std::string> Probe() const;

  // Digest (digest.h) of the adapter script's text, so that runs made by an edited adapter are
  // not reused; "unreadable" when it cannot be read (Probe says why).
  std::string AdapterDigest() const;

  // INVALID_ARGUMENT for an optimizer that is not IsOptunaOptimizer; UNAVAILABLE when the
  // adapter dies; INTERNAL for a reply that breaks the protocol; errors from the task.
  using Runner::Run;
  absl::StatusOr<RunRecord> Run(const RunSpec& spec, RunRecord* partial) override;

 private:
  // Run's work, into `record` as it goes; errors not yet annotated with the run's label.
  absl::Status RunInto(const RunSpec& spec, RunRecord& record);
  bool HasFreeSlot() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return running_ < options_.max_parallel;
  }

  explicit OptunaRunner(Options options) : options_(std::move(options)) {}
  const Options options_;  // max_parallel resolved by Create
  absl::Mutex mu_;
  int running_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace hpo::harness

#endif  // HPO_HARNESS_OPTUNA_RUNNER_H_
