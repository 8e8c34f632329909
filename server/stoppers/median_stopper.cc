#include "server/stoppers/median_stopper.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "absl/strings/str_format.h"
#include "server/stoppers/stopper_options.h"

namespace hpo::server {
namespace {

// The objective value the trial reported at `step` (its last report of that step), as a loss
// (NaN as +inf, like ObjectiveCurve). Called for every trial at every report: it compares steps
// before it looks a metric up.
std::optional<double> LossAtStep(const hpo::v1::Trial& trial, const std::string& metric,
                                 hpo::v1::Direction direction, int64_t step) {
  std::optional<double> loss;
  for (const hpo::v1::Measurement& m : trial.measurements()) {
    if (m.step() != step) continue;
    auto it = m.metrics().find(metric);
    if (it == m.metrics().end()) continue;
    const double l = direction == hpo::v1::MAXIMIZE ? -it->second : it->second;
    loss = std::isnan(l) ? std::numeric_limits<double>::infinity() : l;
  }
  return loss;
}

}  // namespace

absl::StatusOr<std::unique_ptr<EarlyStopper>> MedianStopper::Create(
    const hpo::v1::EarlyStoppingSpec& spec) {
  auto options = StopperOptions::Create(spec, {"min_trials", "warmup_steps"});
  if (!options.ok()) return options.status();
  auto warmup = options->Int("warmup_steps", 0, 0);
  if (!warmup.ok()) return warmup.status();
  auto min_trials = options->Int("min_trials", 5, 1);
  if (!min_trials.ok()) return min_trials.status();
  return std::unique_ptr<EarlyStopper>(new MedianStopper(*warmup, static_cast<int>(*min_trials)));
}

hpo::v1::StopJudgement MedianStopper::Decide(const StudyView& view, const hpo::v1::Trial& trial,
                                             int /*first_new*/) {
  const std::string& metric = view.spec->objective().metric();
  const hpo::v1::Direction direction = view.spec->objective().direction();
  const std::vector<CurvePoint> curve = ObjectiveCurve(trial, metric, direction);
  if (curve.empty() || trial.measurements().empty()) return ContinueUnjudged();
  const int64_t step = trial.measurements().rbegin()->step();
  if (step < warmup_steps_) return ContinueUnjudged();
  double best = curve[0].loss;
  for (const CurvePoint& p : curve) best = std::min(best, p.loss);

  std::vector<double> others;
  for (const auto& other : *view.trials) {
    if (other.id() == trial.id() || other.state() == hpo::v1::LOST) continue;
    if (auto v = LossAtStep(other, metric, direction, step)) others.push_back(*v);
  }
  const int n = static_cast<int>(others.size());
  if (n < min_trials_) return ContinueUnjudged();
  std::sort(others.begin(), others.end());
  const double median_loss = n % 2 == 1 ? others[n / 2] : 0.5 * (others[n / 2 - 1] + others[n / 2]);
  const double median = LossToValue(median_loss, direction);
  const double value = LossToValue(best, direction);
  const bool stop = median_loss < best;

  hpo::v1::StopJudgement judgement;
  judgement.set_decision(stop ? hpo::v1::STOP : hpo::v1::CONTINUE);
  judgement.set_rule("median");
  judgement.set_step(step);
  judgement.set_value(value);
  judgement.set_cutoff(median);
  judgement.set_compared(n);
  judgement.set_summary(absl::StrFormat(
      "median: at step %d the best value so far %.6g is %s than the median %.6g of %d other "
      "trial%s at that step",
      step, value, stop ? "worse" : "no worse", median, n, n == 1 ? "" : "s"));
  return judgement;
}

}  // namespace hpo::server
