// Parsing of EarlyStoppingSpec.options (strings) for the stoppers. Every error is
// INVALID_ARGUMENT "early_stopping.options.KEY: WHY", naming what the key accepts.
#ifndef HPO_SERVER_STOPPERS_STOPPER_OPTIONS_H_
#define HPO_SERVER_STOPPERS_STOPPER_OPTIONS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "hpo/v1/hpo.pb.h"

namespace hpo::server {

// Thread-compatible.
class StopperOptions {
 public:
  // UNKNOWN keys are refused: "early_stopping.options.KEY: unknown option for stopper 'NAME'
  // (known: a, b)", the first in key order.
  static absl::StatusOr<StopperOptions> Create(const hpo::v1::EarlyStoppingSpec& spec,
                                               const std::vector<std::string>& known);

  // A decimal integer >= min, or `fallback` when the key is absent.
  absl::StatusOr<int64_t> Int(absl::string_view key, int64_t fallback, int64_t min) const;
  // A finite number in [min, max] (an open end when the *_open flag is set), or `fallback`.
  absl::StatusOr<double> Double(absl::string_view key, double fallback, double min, double max,
                                bool min_open = false) const;
  // The text as written, or `fallback`.
  std::string Text(absl::string_view key, absl::string_view fallback) const;
  bool Has(absl::string_view key) const { return options_.count(std::string(key)) > 0; }

 private:
  explicit StopperOptions(std::map<std::string, std::string> options)
      : options_(std::move(options)) {}
  std::map<std::string, std::string> options_;
};

// "early_stopping.options.KEY: WHY".
absl::Status StopperOptionError(absl::string_view key, absl::string_view why);

}  // namespace hpo::server

#endif  // HPO_SERVER_STOPPERS_STOPPER_OPTIONS_H_
