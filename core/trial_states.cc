#include "core/trial_states.h"

#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace hpo::core {

using hpo::v1::Direction;
using hpo::v1::StudyState;
using hpo::v1::TrialState;

namespace {

constexpr TrialState kTrialStates[] = {hpo::v1::PENDING, hpo::v1::RUNNING, hpo::v1::COMPLETED,
                                       hpo::v1::PRUNED,  hpo::v1::FAILED,  hpo::v1::LOST};

}  // namespace

std::string TrialStateName(TrialState state) {
  switch (state) {
    case hpo::v1::PENDING:
      return "PENDING";
    case hpo::v1::RUNNING:
      return "RUNNING";
    case hpo::v1::COMPLETED:
      return "COMPLETED";
    case hpo::v1::PRUNED:
      return "PRUNED";
    case hpo::v1::FAILED:
      return "FAILED";
    case hpo::v1::LOST:
      return "LOST";
    case hpo::v1::TRIAL_STATE_UNSPECIFIED:
      return "UNSPECIFIED";
    default:
      return absl::StrCat("UNKNOWN(", static_cast<int>(state), ")");
  }
}

absl::StatusOr<TrialState> ParseTrialState(absl::string_view name) {
  const std::string upper = absl::AsciiStrToUpper(name);
  for (TrialState state : kTrialStates) {
    if (upper == TrialStateName(state)) return state;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown trial state '", name,
                   "' (expected one of PENDING, RUNNING, COMPLETED, PRUNED, FAILED, LOST)"));
}

bool IsTerminal(TrialState state) {
  return state == hpo::v1::COMPLETED || state == hpo::v1::PRUNED || state == hpo::v1::FAILED ||
         state == hpo::v1::LOST;
}

std::string StudyStateName(StudyState state) {
  switch (state) {
    case hpo::v1::STUDY_RUNNING:
      return "RUNNING";
    case hpo::v1::STUDY_COMPLETED:
      return "COMPLETED";
    case hpo::v1::STUDY_STOPPED:
      return "STOPPED";
    case hpo::v1::STUDY_STATE_UNSPECIFIED:
      return "UNSPECIFIED";
    default:
      return absl::StrCat("UNKNOWN(", static_cast<int>(state), ")");
  }
}

bool IsBetter(Direction direction, double a, double b) {
  // NaN is never better, and every number is better than NaN.
  if (std::isnan(a)) return false;
  if (std::isnan(b)) return true;
  return direction == hpo::v1::MAXIMIZE ? a > b : a < b;
}

}  // namespace hpo::core
