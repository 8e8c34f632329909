// Search spaces: validation, conditions, uniform sampling, [0,1] encoding, value formatting.
// All functions are pure and thread-safe.
#ifndef HPO_CORE_SEARCH_SPACE_H_
#define HPO_CORE_SEARCH_SPACE_H_

#include <random>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "hpo/v1/hpo.pb.h"

namespace hpo::core {

// The RNG every sampler uses, so a seed gives the same numbers everywhere.
using Rng = std::mt19937_64;

// INVALID_ARGUMENT naming the field when the space is malformed, e.g.
//   "space.lr: low must be > 0 on a log scale"
//   "space.x: low (3) must be < high (1)"
//   "space.momentum: condition names unknown parameter 'optim'"
// Checks: names unique and non-empty; one domain set; float/int bounds finite, low < high (int:
// low <= high), log needs low > 0, step >= 0 and not with log, (high-low) a multiple of step is
// NOT required (the top value is the last on the grid); categorical has >= 1 choices, all of one
// kind, no duplicates; a condition's parent is declared earlier and is categorical or int, its
// values are non-empty and each is a valid value of the parent.
absl::Status ValidateSearchSpace(const hpo::v1::SearchSpace& space);

// True when `spec` has no condition, or its parent is present in `params` with one of the
// condition's values.
bool IsActive(const hpo::v1::ParamSpec& spec, const hpo::v1::ParamMap& params);

// Checks a full assignment against a (valid) space: every active parameter present with a value
// of its kind inside its domain (bounds, step grid, choices), no inactive or unknown parameter.
// Int parameters also accept an integral float_value. INVALID_ARGUMENT names the parameter:
//   "params.x1: 11 is above high (10)".
absl::Status ValidateParams(const hpo::v1::SearchSpace& space, const hpo::v1::ParamMap& params);

// Returns `params` with each int parameter's integral float_value turned into int_value; other
// values unchanged. Call after ValidateParams passes.
hpo::v1::ParamMap NormalizeParams(const hpo::v1::SearchSpace& space,
                                  const hpo::v1::ParamMap& params);

// Draws an assignment uniformly: float uniform (log-uniform when log; snapped to the step grid
// when step > 0), int uniform over the step grid (log-uniform in value when log), categorical
// uniform over choices. Inactive parameters are left out. Deterministic for a given rng state.
hpo::v1::ParamMap SampleUniform(const hpo::v1::SearchSpace& space, Rng& rng);

// One value drawn the same way as SampleUniform does for that parameter.
hpo::v1::ParamValue SampleParam(const hpo::v1::ParamSpec& spec, Rng& rng);

// [0,1] encoding: float/int by (log-)linear position between low and high, categorical by
// (index + 0.5) / n. Decode(Encode(v)) == v for every valid v; Decode clamps and snaps.
// Int values each own an equally wide slice of [0,1] (the position is taken between
// low - step/2 and high + step/2), so a uniform u decodes to a uniform grid value. For continuous
// floats the round trip is exact for every value SampleParam or Decode returns; an arbitrary
// double can come back a few ulps of the range off where several doubles share one u (e.g. next
// to 0 in [-5, 10]).
double Encode(const hpo::v1::ParamSpec& spec, const hpo::v1::ParamValue& value);
hpo::v1::ParamValue Decode(const hpo::v1::ParamSpec& spec, double u);

// Value equality (same kind and same value).
bool ValueEquals(const hpo::v1::ParamValue& a, const hpo::v1::ParamValue& b);

// Text form: floats with up to 17 significant digits and no trailing zeros ("0.1", "1e-05"),
// ints as integers, strings as they are, bools as true/false.
std::string FormatValue(const hpo::v1::ParamValue& value);

// Parses text as a value of the parameter's kind (CLI `enqueue --param lr=0.01`). For
// categoricals, the text must equal the FormatValue of a choice (or, for a number choice, be the
// same number written another way, e.g. "2.0" for 2). INVALID_ARGUMENT names the
// parameter on failure. Does not check bounds (ValidateParams does).
absl::StatusOr<hpo::v1::ParamValue> ParseValue(const hpo::v1::ParamSpec& spec,
                                               absl::string_view text);

// JSON object of the assignment with keys sorted: {"kind":"b","n":3,"x":1.5}. Floats are written
// so they read back exactly.
std::string ParamsToJson(const hpo::v1::ParamMap& params);

// The spec of `name`, or nullptr.
const hpo::v1::ParamSpec* FindParam(const hpo::v1::SearchSpace& space, absl::string_view name);

// OK when every assignment drawn from `inner`, handed over as text the way a worker passes a
// builtin task its parameters (`--name=<FormatValue>`, read back by ParseValue), passes
// ValidateParams against `outer` (both valid spaces): each inner parameter exists in `outer`
// and each of its values is one the outer parameter takes (numeric choices for a float, an int
// range for a float, a narrower range, a coarser grid on the outer one); and for every value an
// inner parent can take, a parameter is given exactly when `outer` expects it (so a conditional
// parameter whose activating choices the inner space leaves out may be left out too).
// `outer_name` names the outer space in messages. INVALID_ARGUMENT naming the parameter:
//   "space.x1: float [-10, 10] does not fit task 'branin', which takes float [-5, 10]",
//   "space: task 'branin' has no parameter 'y'", "space: task 'branin' needs parameter 'x2'",
//   "space.y: always active, but active when kind in [b] in task 'mixed'".
absl::Status CheckSpaceWithin(const hpo::v1::SearchSpace& inner, const hpo::v1::SearchSpace& outer,
                              absl::string_view outer_name);

}  // namespace hpo::core

#endif  // HPO_CORE_SEARCH_SPACE_H_
