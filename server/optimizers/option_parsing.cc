#include "server/optimizers/option_parsing.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"

namespace hpo::server {

absl::Status OptionError(absl::string_view key, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("optimizer.options.", key, ": ", why));
}

absl::Status UnknownOptionError(absl::string_view key, const std::vector<std::string>& known) {
  return OptionError(key, absl::StrCat("unknown option (known: ", absl::StrJoin(known, ", "), ")"));
}

std::map<std::string, std::string> SortedOptions(const hpo::v1::OptimizerSpec& spec) {
  return std::map<std::string, std::string>(spec.options().begin(), spec.options().end());
}

absl::Status ParseIntOption(absl::string_view key, absl::string_view text, int min, int* out) {
  int v = 0;
  if (!absl::SimpleAtoi(text, &v) || v < min) {
    return OptionError(key, absl::StrCat("'", text, "' is not an integer >= ", min));
  }
  *out = v;
  return absl::OkStatus();
}

absl::Status ParseBoolOption(absl::string_view key, absl::string_view text, bool* out) {
  const std::string lower = absl::AsciiStrToLower(text);
  if (lower == "true") {
    *out = true;
  } else if (lower == "false") {
    *out = false;
  } else {
    return OptionError(key, absl::StrCat("'", text, "' is not true or false"));
  }
  return absl::OkStatus();
}

}  // namespace hpo::server
