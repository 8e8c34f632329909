#include "server/stoppers/median_stopper.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/trial_states.h"

namespace hpo::server {
namespace {

absl::StatusOr<int64_t> IntOption(const hpo::v1::EarlyStoppingSpec& spec, const std::string& key,
                                  int64_t default_value) {
  auto it = spec.options().find(key);
  if (it == spec.options().end()) return default_value;
  int64_t v = 0;
  if (!absl::SimpleAtoi(it->second, &v) || v < 0) {
    return absl::InvalidArgumentError(absl::StrCat("early_stopping.options.", key,
                                                   ": must be a non-negative integer, got '",
                                                   it->second, "'"));
  }
  return v;
}

// The objective value reported at `step`, if that measurement exists.
std::optional<double> ValueAtStep(const hpo::v1::Trial& trial, const std::string& metric,
                                  int64_t step) {
  for (const auto& m : trial.measurements()) {
    if (m.step() != step) continue;
    auto it = m.metrics().find(metric);
    if (it != m.metrics().end() && std::isfinite(it->second)) return it->second;
  }
  return std::nullopt;
}

}  // namespace

absl::StatusOr<std::unique_ptr<EarlyStopper>> MedianStopper::Create(
    const hpo::v1::EarlyStoppingSpec& spec) {
  for (const auto& [key, value] : spec.options()) {
    if (key != "warmup_steps" && key != "min_trials") {
      return absl::InvalidArgumentError(absl::StrCat(
          "early_stopping.options.", key, ": unknown option (known: min_trials, warmup_steps)"));
    }
  }
  auto warmup = IntOption(spec, "warmup_steps", 0);
  if (!warmup.ok()) return warmup.status();
  auto min_trials = IntOption(spec, "min_trials", 5);
  if (!min_trials.ok()) return min_trials.status();
  if (*min_trials < 1) {
    return absl::InvalidArgumentError("early_stopping.options.min_trials: must be >= 1");
  }
  return std::unique_ptr<EarlyStopper>(new MedianStopper(*warmup, static_cast<int>(*min_trials)));
}

hpo::v1::Decision MedianStopper::Decide(const StudyView& view, const hpo::v1::Trial& trial) {
  if (trial.measurements().empty()) return hpo::v1::CONTINUE;
  const std::string& metric = view.spec->objective().metric();
  const hpo::v1::Direction direction = view.spec->objective().direction();
  const int64_t step = trial.measurements().rbegin()->step();
  if (step < warmup_steps_) return hpo::v1::CONTINUE;

  std::optional<double> best;
  for (const auto& m : trial.measurements()) {
    auto it = m.metrics().find(metric);
    if (it == m.metrics().end() || !std::isfinite(it->second)) continue;
    if (!best || core::IsBetter(direction, it->second, *best)) best = it->second;
  }
  if (!best) return hpo::v1::CONTINUE;

  std::vector<double> others;
  for (const auto& other : *view.trials) {
    if (other.state() != hpo::v1::COMPLETED || other.id() == trial.id()) continue;
    if (auto v = ValueAtStep(other, metric, step)) others.push_back(*v);
  }
  if (static_cast<int>(others.size()) < min_trials_) return hpo::v1::CONTINUE;
  std::sort(others.begin(), others.end());
  const size_t n = others.size();
  const double median = n % 2 == 1 ? others[n / 2] : 0.5 * (others[n / 2 - 1] + others[n / 2]);
  return core::IsBetter(direction, median, *best) ? hpo::v1::STOP : hpo::v1::CONTINUE;
}

}  // namespace hpo::server
