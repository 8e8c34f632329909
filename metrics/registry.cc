#include "metrics/registry.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace hpo::metrics {
namespace {

std::string Escape(absl::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string Number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  return absl::StrCat(v);
}

// `{...}` with one more label appended (for a histogram's `le`).
std::string WithLabel(const std::string& rendered, absl::string_view name,
                      absl::string_view value) {
  const std::string extra = absl::StrCat(name, "=\"", value, "\"");
  if (rendered.empty()) return absl::StrCat("{", extra, "}");
  return absl::StrCat(rendered.substr(0, rendered.size() - 1), ",", extra, "}");
}

}  // namespace

std::string RenderLabels(const Labels& labels) {
  if (labels.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    absl::StrAppend(&out, i == 0 ? "" : ",", labels[i].first, "=\"", Escape(labels[i].second),
                    "\"");
  }
  return out + "}";
}

void GaugeWriter::Set(absl::string_view name, const Labels& labels, double value) {
  values_[std::string(name)][RenderLabels(labels)] = value;
}

const std::vector<double>& Registry::LatencyBuckets() {
  static const std::vector<double> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                               0.25,   0.5,   1,      2.5,   5,    10,    30};
  return kBuckets;
}

void Registry::Describe(absl::string_view name, absl::string_view type, absl::string_view help) {
  absl::MutexLock lock(&mu_);
  help_[std::string(name)] = {std::string(type), std::string(help)};
}

void Registry::Add(absl::string_view name, const Labels& labels, double value) {
  const std::string key = RenderLabels(labels);
  absl::MutexLock lock(&mu_);
  counters_[std::string(name)][key] += value;
}

void Registry::Observe(absl::string_view name, const Labels& labels, double value) {
  const std::string key = RenderLabels(labels);
  const std::vector<double>& bounds = LatencyBuckets();
  absl::MutexLock lock(&mu_);
  Histogram& h = histograms_[std::string(name)][key];
  if (h.buckets.empty()) h.buckets.assign(bounds.size(), 0);
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (value <= bounds[i]) {
      ++h.buckets[i];
      break;
    }
  }
  ++h.count;
  h.sum += value;
}

void Registry::AddCollector(std::function<void(GaugeWriter&)> collect) {
  absl::MutexLock lock(&mu_);
  collectors_.push_back(std::move(collect));
}

std::string Registry::Render() {
  std::vector<std::function<void(GaugeWriter&)>> collectors;
  {
    absl::MutexLock lock(&mu_);
    collectors = collectors_;
  }
  GaugeWriter gauges;
  for (const auto& collect : collectors) collect(gauges);

  absl::MutexLock lock(&mu_);
  // name -> its sample lines, so that every metric's lines stay together under one header.
  std::map<std::string, std::string> samples;
  for (const auto& [name, series] : counters_) {
    for (const auto& [labels, value] : series) {
      absl::StrAppend(&samples[name], name, labels, " ", Number(value), "\n");
    }
  }
  for (const auto& [name, series] : gauges.values_) {
    for (const auto& [labels, value] : series) {
      absl::StrAppend(&samples[name], name, labels, " ", Number(value), "\n");
    }
  }
  const std::vector<double>& bounds = LatencyBuckets();
  for (const auto& [name, series] : histograms_) {
    for (const auto& [labels, h] : series) {
      uint64_t cumulative = 0;
      for (size_t i = 0; i < bounds.size(); ++i) {
        cumulative += h.buckets[i];
        absl::StrAppend(&samples[name], name, "_bucket", WithLabel(labels, "le", Number(bounds[i])),
                        " ", cumulative, "\n");
      }
      absl::StrAppend(&samples[name], name, "_bucket", WithLabel(labels, "le", "+Inf"), " ",
                      h.count, "\n", name, "_sum", labels, " ", Number(h.sum), "\n", name, "_count",
                      labels, " ", h.count, "\n");
    }
  }
  std::string out;
  for (const auto& [name, lines] : samples) {
    if (auto it = help_.find(name); it != help_.end()) {
      absl::StrAppend(&out, "# HELP ", name, " ", it->second.second, "\n# TYPE ", name, " ",
                      it->second.first, "\n");
    }
    out += lines;
  }
  return out;
}

}  // namespace hpo::metrics
