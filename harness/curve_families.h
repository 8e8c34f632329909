// Synthetic learning-curve families with a known truth, for the stopper benchmark: each is a
// CurveSource whose configurations set both where a curve ends and how it gets there.
#ifndef HPO_HARNESS_CURVE_FAMILIES_H_
#define HPO_HARNESS_CURVE_FAMILIES_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "harness/stopper_bench.h"

namespace hpo::harness {

// The families, by name:
//   curves-exp      — loss(t) = f + h·e^(−r·t): f and the rate r depend on different
//                     parameters, so early ranks mostly agree with final ones;
//   curves-crossing — fast starters end worse: the parameter that speeds a curve up also raises
//                     where it ends, so curves cross and a rule that ranks early values stops the
//                     best configurations;
//   curves-plateau  — some curves stall for a while before they drop (late bloomers).
// Each has 52 epochs, 3 float parameters in [0, 1] (the third a nuisance), a little
// deterministic noise per configuration and epoch, and a configuration stream per seed (config i
// of seed s is a fixed function of (s, i)). ReferenceBest is the best final value of 10,000
// configurations of a stream of its own.
std::vector<std::string> CurveFamilyNames();
absl::StatusOr<std::unique_ptr<CurveSource>> MakeCurveFamily(const std::string& name);

// The benchmark's task names: "curves" expands to CurveFamilyNames(), "lcbench" to the 34
// LCBench tasks lcbench-<id>, anything else must be one of those. INVALID_ARGUMENT for an empty
// list, NOT_FOUND naming an unknown task, FAILED_PRECONDITION when the LCBench model or its
// helper is absent.
absl::StatusOr<std::vector<std::string>> ExpandCurveTasks(const std::string& list);
// The source of a task name: a curve family, or an LCBench surrogate task whose 52-epoch curves
// come from `hpo-task-lcbench --serve` helpers (served_task.h; configurations uniform over its
// space, the reference the best of 10,000 configurations' blackbox values).
absl::StatusOr<std::unique_ptr<CurveSource>> MakeCurveTask(const std::string& name);
// The epochs of the tasks' curves (the largest; 52 for every task known).
int CurveTaskEpochs(const std::vector<std::string>& tasks);

}  // namespace hpo::harness

#endif  // HPO_HARNESS_CURVE_FAMILIES_H_
