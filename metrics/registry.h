// Prometheus metrics: counters and histograms that code updates as things happen, gauges that
// collectors read at scrape time, and their text exposition (format 0.0.4). gRPC-free.
#ifndef HPO_METRICS_REGISTRY_H_
#define HPO_METRICS_REGISTRY_H_

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace hpo::metrics {

// name="value" pairs, in the order given.
using Labels = std::vector<std::pair<std::string, std::string>>;

// What a collector writes gauges into at scrape time. Not thread-safe (one scrape's).
class GaugeWriter {
 public:
  void Set(absl::string_view name, const Labels& labels, double value);

 private:
  friend class Registry;
  std::map<std::string, std::map<std::string, double>> values_;  // name -> labels -> value
};

// Thread-safe.
class Registry {
 public:
  // Latency histogram buckets, in seconds.
  static const std::vector<double>& LatencyBuckets();

  // The HELP and TYPE lines of a metric ("counter", "gauge" or "histogram"). Metrics without
  // one are rendered untyped.
  void Describe(absl::string_view name, absl::string_view type, absl::string_view help);
  // Adds `value` to the counter name{labels}, which starts at 0.
  void Add(absl::string_view name, const Labels& labels, double value = 1);
  // Counts `value` (seconds) in the histogram name{labels} (LatencyBuckets).
  void Observe(absl::string_view name, const Labels& labels, double value);
  // `collect` runs at each Render, outside the registry's lock, and sets gauges.
  void AddCollector(std::function<void(GaugeWriter&)> collect);

  // Every metric in Prometheus text format, sorted by name.
  std::string Render();

 private:
  struct Histogram {
    std::vector<uint64_t> buckets;  // per LatencyBuckets bound, not cumulative
    uint64_t count = 0;
    double sum = 0;
  };

  absl::Mutex mu_;
  std::map<std::string, std::pair<std::string, std::string>> help_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::map<std::string, double>> counters_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::map<std::string, Histogram>> histograms_ ABSL_GUARDED_BY(mu_);
  std::vector<std::function<void(GaugeWriter&)>> collectors_ ABSL_GUARDED_BY(mu_);
};

// `{a="x",b="y"}` with values escaped; "" for no labels.
std::string RenderLabels(const Labels& labels);

}  // namespace hpo::metrics

#endif  // HPO_METRICS_REGISTRY_H_
