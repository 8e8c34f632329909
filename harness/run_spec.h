// What one benchmark run is (optimizer x task x seed x budget) and what it produced.
#ifndef HPO_HARNESS_RUN_SPEC_H_
#define HPO_HARNESS_RUN_SPEC_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace hpo::harness {

// An --optimizers entry: "NAME" or "NAME:key=value;key=value" (a variant of NAME with
// OptimizerSpec.options set; the whole text is the variant's name in results and the report).
struct OptimizerVariant {
  std::string name;                            // the registry name, e.g. "tpe"
  std::map<std::string, std::string> options;  // key -> value, as given
};

// Splits `text` as above; whitespace around names, keys and values is dropped and a trailing
// ';' is allowed. INVALID_ARGUMENT "--optimizers: 'TEXT': ..." for an empty name, an entry
// without '=', an empty key, or a key given twice.
absl::StatusOr<OptimizerVariant> ParseOptimizerVariant(absl::string_view text);

// One (optimizer, task, seed, trials) cell of a benchmark. A plain value type.
struct RunSpec {
  std::string optimizer;
  std::string task;
  int seed = 0;
  int trials = 0;

  // "random/branin/seed=3/trials=77", for messages and progress.
  std::string Label() const;

  friend bool operator==(const RunSpec& a, const RunSpec& b) {
    return a.optimizer == b.optimizer && a.task == b.task && a.seed == b.seed &&
           a.trials == b.trials;
  }
  friend bool operator!=(const RunSpec& a, const RunSpec& b) { return !(a == b); }
};

// One evaluated trial of a run, in trial order.
struct Eval {
  double value = 0;         // objective (minimized)
  double best_so_far = 0;   // min of the values up to and including this one
  std::string params_json;  // core::ParamsToJson of the trial's parameters
};

// The outcome of a finished run. A plain value type.
struct RunRecord {
  RunSpec spec;
  double optimum = 0;  // the task's known optimal value (for regret)
  double wall_s = 0;   // time the run took
  std::vector<Eval> evals;

  // The best value over all evals (+inf when there are none).
  double best() const;
};

// Appends an eval to `record`, keeping best_so_far up to date.
void AppendEval(RunRecord& record, double value, std::string params_json);

// The budget rule of carps: ceil(20 + 40 * sqrt(dimensions)) trials.
int DefaultTrials(int dimensions);

}  // namespace hpo::harness

#endif  // HPO_HARNESS_RUN_SPEC_H_
