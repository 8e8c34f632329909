// Study files (YAML) to StudySpec, and the checks every study passes before it is stored.
// All functions are pure and thread-safe.
#ifndef HPO_CORE_STUDY_SPEC_H_
#define HPO_CORE_STUDY_SPEC_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "hpo/v1/hpo.pb.h"

namespace hpo::core {

// Parses a study file's text; see examples/ and the README for the shape. Applies defaults
// (optimizer random seed 0, early_stopping none, max_parallel 1, max_retries 0, timeout 0) and
// then ValidateStudySpec. Errors are INVALID_ARGUMENT naming the field:
//   "budget.max_trials: missing", "space.x1: low (3) must be < high (1)",
//   "objective.direction: must be minimize or maximize, got 'up'", "line 4: <yaml error>".
absl::StatusOr<hpo::v1::StudySpec> ParseStudyYaml(absl::string_view text);

// Reads and parses a file; NOT_FOUND names the path when it cannot be read, and parse errors are
// prefixed with the path.
absl::StatusOr<hpo::v1::StudySpec> LoadStudyFile(const std::string& path);

// Checks a spec however it was made (YAML or a CreateStudy RPC): name matches
// [A-Za-z0-9][A-Za-z0-9_.-]{0,127}; objective.metric non-empty and direction set; optimizer.name
// non-empty; budget.max_trials >= 1, max_parallel >= 1, max_retries >= 0, trial_timeout_s >= 0;
// the search space valid and non-empty; the task is a builtin name or a non-empty command whose
// {placeholders} all name parameters of the space; task.trial_dir_root empty or an absolute path
// (no NUL, at most kMaxPathBytes). Which optimizer and stopper names exist is checked by the
// server's registries, not here.
absl::Status ValidateStudySpec(const hpo::v1::StudySpec& spec);

// The {name} placeholders of one command argument, in order. A placeholder is '{', one or more
// characters other than braces, quotes and whitespace, then '}'; one right after '$' is left
// alone (shell ${VAR}). "{{" is not an escape: in "{{lr}}" the placeholder is {lr}.
std::vector<std::string> CommandPlaceholders(absl::string_view arg);

// `arg` with each placeholder that names a parameter present in `params` replaced by its
// FormatValue; other placeholders stay as written. This is how the worker builds a command
// task's argv: the {name} of an inactive conditional parameter (absent from the trial's params)
// reaches the program as the literal text "{name}", never as an empty string.
std::string SubstitutePlaceholders(absl::string_view arg, const hpo::v1::ParamMap& params);

// Writes the spec back as YAML in the same shape ParseStudyYaml reads.
std::string StudySpecToYaml(const hpo::v1::StudySpec& spec);

}  // namespace hpo::core

#endif  // HPO_CORE_STUDY_SPEC_H_
