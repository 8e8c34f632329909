#include "server/stoppers/stopper_options.h"

#include <cmath>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace hpo::server {

absl::Status StopperOptionError(absl::string_view key, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("early_stopping.options.", key, ": ", why));
}

absl::StatusOr<StopperOptions> StopperOptions::Create(const hpo::v1::EarlyStoppingSpec& spec,
                                                      const std::vector<std::string>& known) {
  std::map<std::string, std::string> options(spec.options().begin(), spec.options().end());
  for (const auto& [key, value] : options) {
    bool found = false;
    for (const std::string& k : known) found = found || k == key;
    if (!found) {
      return StopperOptionError(
          key, absl::StrCat("unknown option for stopper '", spec.name(), "' (known: ",
                            known.empty() ? "none" : absl::StrJoin(known, ", "), ")"));
    }
  }
  return StopperOptions(std::move(options));
}

absl::StatusOr<int64_t> StopperOptions::Int(absl::string_view key, int64_t fallback,
                                            int64_t min) const {
  auto it = options_.find(std::string(key));
  if (it == options_.end()) return fallback;
  int64_t v = 0;
  if (!absl::SimpleAtoi(it->second, &v) || v < min) {
    return StopperOptionError(key, absl::StrCat("'", it->second, "' is not an integer >= ", min));
  }
  return v;
}

absl::StatusOr<double> StopperOptions::Double(absl::string_view key, double fallback, double min,
                                              double max, bool min_open) const {
  auto it = options_.find(std::string(key));
  if (it == options_.end()) return fallback;
  double v = 0;
  if (!absl::SimpleAtod(it->second, &v) || !std::isfinite(v) || v > max || v < min ||
      (min_open && v == min)) {
    return StopperOptionError(key, absl::StrCat("'", it->second, "' is not a number in ",
                                                min_open ? "(" : "[", min, ", ", max, "]"));
  }
  return v;
}

std::string StopperOptions::Text(absl::string_view key, absl::string_view fallback) const {
  auto it = options_.find(std::string(key));
  return it == options_.end() ? std::string(fallback) : it->second;
}

}  // namespace hpo::server
