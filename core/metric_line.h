// The metric line protocol: a trial process reports by printing
//   hpo-metric {"step": 3, "loss": 0.52, "accuracy": 0.81}
// on stdout. Pure functions, thread-safe.
#ifndef HPO_CORE_METRIC_LINE_H_
#define HPO_CORE_METRIC_LINE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace hpo::core {

inline constexpr absl::string_view kMetricPrefix = "hpo-metric";

struct MetricLine {
  std::optional<int64_t> step;            // "step", a non-negative integer, if given
  bool final = false;                     // "final": true marks the result
  std::map<std::string, double> metrics;  // every other key; NaN and +-Infinity allowed
};

// True when the line (trailing '\r' and '\n' ignored) starts with "hpo-metric" followed by
// whitespace.
bool IsMetricLine(absl::string_view line);

// Parses a metric line. The payload is one flat JSON object whose values are numbers, booleans
// (only for "final"), or the bare words NaN, Infinity, -Infinity (as Python's json writes them).
// INVALID_ARGUMENT with a reason for anything else (not a metric line, not an object, nested
// values, a string value, a negative or fractional step, duplicate keys, trailing text, a key
// that is not valid UTF-8: "metric name is not valid UTF-8", since metric names travel in
// protobuf string fields).
absl::StatusOr<MetricLine> ParseMetricLine(absl::string_view line);

// Formats a metric line that ParseMetricLine reads back exactly (hpo-task uses it).
// Metrics named "step" or "final" cannot be written (those keys are the fields above).
std::string FormatMetricLine(const MetricLine& line);

}  // namespace hpo::core

#endif  // HPO_CORE_METRIC_LINE_H_
