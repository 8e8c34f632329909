// libFuzzer target: the metric-line parser (what every trial's stdout goes through). Any line
// must parse or be refused, and a line it accepts must format and parse back.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "absl/strings/string_view.h"
#include "core/metric_line.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view line(reinterpret_cast<const char*>(data), size);
  (void)hpo::core::IsMetricLine(line);
  absl::StatusOr<hpo::core::MetricLine> parsed = hpo::core::ParseMetricLine(line);
  if (!parsed.ok()) return 0;
  if (!hpo::core::ParseMetricLine(hpo::core::FormatMetricLine(*parsed)).ok()) std::abort();
  return 0;
}
