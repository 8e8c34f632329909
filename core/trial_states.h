// Names and predicates for trial and study states. Pure functions, thread-safe.
#ifndef HPO_CORE_TRIAL_STATES_H_
#define HPO_CORE_TRIAL_STATES_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "hpo/v1/hpo.pb.h"

namespace hpo::core {

// "PENDING", "RUNNING", "COMPLETED", "PRUNED", "FAILED", "LOST".
std::string TrialStateName(hpo::v1::TrialState state);
// Case-insensitive inverse of TrialStateName; INVALID_ARGUMENT lists the accepted names.
absl::StatusOr<hpo::v1::TrialState> ParseTrialState(absl::string_view name);
// COMPLETED, PRUNED, FAILED, LOST.
bool IsTerminal(hpo::v1::TrialState state);
// "RUNNING", "COMPLETED", "STOPPED".
std::string StudyStateName(hpo::v1::StudyState state);

// True when value a is better than b for the direction (MAXIMIZE: larger; otherwise smaller).
// NaN is never better, and every other value is better than NaN.
bool IsBetter(hpo::v1::Direction direction, double a, double b);

}  // namespace hpo::core

#endif  // HPO_CORE_TRIAL_STATES_H_
