#include "worker/gpu_stats.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace hpo::worker {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The comma-separated fields of each non-blank line, stripped; INVALID_ARGUMENT when a line does
// not have `fields` of them.
absl::StatusOr<std::vector<std::vector<std::string>>> Rows(absl::string_view text, size_t fields,
                                                           absl::string_view what) {
  std::vector<std::vector<std::string>> rows;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    std::vector<std::string> row;
    for (absl::string_view f : absl::StrSplit(line, ',')) {
      row.emplace_back(absl::StripAsciiWhitespace(f));
    }
    if (row.size() != fields) {
      return absl::InvalidArgumentError(
          absl::StrCat("nvidia-smi ", what, ": expected ", fields, " fields, got '", line, "'"));
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

// A number, or NaN for a bracketed placeholder such as "[N/A]".
absl::StatusOr<double> Value(const std::string& field, absl::string_view what) {
  if (absl::StartsWith(field, "[") && absl::EndsWith(field, "]")) return kNaN;
  double v = 0;
  if (!absl::SimpleAtod(field, &v)) {
    return absl::InvalidArgumentError(
        absl::StrCat("nvidia-smi ", what, ": '", field, "' is not a number"));
  }
  return v;
}

}  // namespace

absl::StatusOr<std::vector<GpuSample>> ParseGpuQuery(absl::string_view text) {
  absl::StatusOr<std::vector<std::vector<std::string>>> rows = Rows(text, 5, "--query-gpu");
  if (!rows.ok()) return rows.status();
  std::vector<GpuSample> out;
  for (const std::vector<std::string>& r : *rows) {
    GpuSample s;
    s.index = r[0];
    s.uuid = r[1];
    for (auto [field, target] :
         {std::pair{&r[2], &s.utilization_pct}, std::pair{&r[3], &s.memory_used_mib},
          std::pair{&r[4], &s.memory_total_mib}}) {
      absl::StatusOr<double> v = Value(*field, "--query-gpu");
      if (!v.ok()) return v.status();
      *target = *v;
    }
    out.push_back(std::move(s));
  }
  return out;
}

absl::StatusOr<std::vector<GpuProcess>> ParseComputeApps(absl::string_view text) {
  if (absl::StrContains(text, "No running processes found")) return std::vector<GpuProcess>();
  absl::StatusOr<std::vector<std::vector<std::string>>> rows =
      Rows(text, 3, "--query-compute-apps");
  if (!rows.ok()) return rows.status();
  std::vector<GpuProcess> out;
  for (const std::vector<std::string>& r : *rows) {
    GpuProcess p;
    if (!absl::SimpleAtoi(r[0], &p.pid)) {
      return absl::InvalidArgumentError(
          absl::StrCat("nvidia-smi --query-compute-apps: pid '", r[0], "' is not a number"));
    }
    p.gpu_uuid = r[1];
    absl::StatusOr<double> used = Value(r[2], "--query-compute-apps");
    if (!used.ok()) return used.status();
    p.used_memory_mib = *used;
    out.push_back(std::move(p));
  }
  return out;
}

void GpuUsage::Add(const std::vector<GpuSample>& gpus, const std::vector<GpuProcess>& processes,
                   const std::set<int64_t>& trial_pids) {
  ++polls_;
  std::set<std::string> uuids;
  double utilization = 0;
  int reported = 0;
  for (const GpuSample& g : gpus) {
    if (std::none_of(devices_.begin(), devices_.end(),
                     [&g](const std::string& d) { return NamesGpu(d, g); })) {
      continue;
    }
    uuids.insert(g.uuid);
    if (!std::isnan(g.utilization_pct)) {
      utilization += g.utilization_pct;
      ++reported;
    }
  }
  if (reported > 0) {
    utilization_sum_ += utilization / reported;
    ++utilization_polls_;
  }
  double memory = 0;
  for (const GpuProcess& p : processes) {
    if (trial_pids.count(p.pid) > 0 && uuids.count(p.gpu_uuid) > 0 &&
        !std::isnan(p.used_memory_mib)) {
      memory += p.used_memory_mib;
    }
  }
  peak_memory_mib_ = std::max(peak_memory_mib_, memory);
}

double GpuUsage::mean_utilization_pct() const {
  return utilization_polls_ == 0 ? kNaN : utilization_sum_ / utilization_polls_;
}

std::string OutOfMemoryLine(absl::string_view log_tail) {
  std::string found;
  for (absl::string_view line : absl::StrSplit(log_tail, '\n')) {
    const std::string lower = absl::AsciiStrToLower(line);
    if (absl::StrContains(lower, "out of memory") || absl::StrContains(lower, "outofmemoryerror") ||
        absl::StrContains(line, "CUBLAS_STATUS_ALLOC_FAILED")) {
      found = std::string(absl::StripAsciiWhitespace(line).substr(0, 300));
    }
  }
  return found;
}

}  // namespace hpo::worker
