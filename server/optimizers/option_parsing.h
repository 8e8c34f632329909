// Parsing of the string values in OptimizerSpec.options, shared by the optimizers. Every error
// is INVALID_ARGUMENT and reads "optimizer.options.KEY: WHY", so the author of a study file sees
// which option is wrong and what it accepts. Stateless functions: thread-safe.
#ifndef HPO_SERVER_OPTIMIZERS_OPTION_PARSING_H_
#define HPO_SERVER_OPTIMIZERS_OPTION_PARSING_H_

#include <initializer_list>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "hpo/v1/hpo.pb.h"

namespace hpo::server {

// "optimizer.options.KEY: WHY".
absl::Status OptionError(absl::string_view key, absl::string_view why);

// "optimizer.options.KEY: unknown option (known: a, b, c)"; `known` in the order given.
absl::Status UnknownOptionError(absl::string_view key, const std::vector<std::string>& known);

// The options sorted by key, so that the first error reported does not depend on map order.
std::map<std::string, std::string> SortedOptions(const hpo::v1::OptimizerSpec& spec);

// A decimal integer >= min: "'TEXT' is not an integer >= MIN" otherwise.
absl::Status ParseIntOption(absl::string_view key, absl::string_view text, int min, int* out);

// true or false, in any letter case: "'TEXT' is not true or false" otherwise.
absl::Status ParseBoolOption(absl::string_view key, absl::string_view text, bool* out);

// One of the named choices, spelled exactly: "'TEXT' is not one of a, b" otherwise (in the order
// given).
template <typename T>
absl::Status ParseChoiceOption(absl::string_view key, absl::string_view text,
                               std::initializer_list<std::pair<absl::string_view, T>> choices,
                               T* out) {
  for (const auto& [name, value] : choices) {
    if (text == name) {
      *out = value;
      return absl::OkStatus();
    }
  }
  std::vector<absl::string_view> names;
  for (const auto& choice : choices) names.push_back(choice.first);
  return OptionError(key, absl::StrCat("'", text, "' is not one of ", absl::StrJoin(names, ", ")));
}

}  // namespace hpo::server

#endif  // HPO_SERVER_OPTIMIZERS_OPTION_PARSING_H_
