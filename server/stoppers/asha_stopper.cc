#include "server/stoppers/asha_stopper.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "absl/strings/str_format.h"

namespace hpo::server {
std::vector<int64_t> AshaLadder::RungsUpTo(int64_t limit) const {
  std::vector<int64_t> rungs;
  for (int64_t r = min_step; r <= limit && (max_step == 0 || r < max_step);) {
    rungs.push_back(r);
    if (r > std::numeric_limits<int64_t>::max() / eta) break;
    r *= eta;
  }
  return rungs;
}

absl::StatusOr<AshaLadder> ParseAshaLadder(const StopperOptions& options) {
  AshaLadder ladder;
  auto eta = options.Int("eta", 3, 2);
  if (!eta.ok()) return eta.status();
  auto min_step = options.Int("min_step", 1, 1);
  if (!min_step.ok()) return min_step.status();
  auto max_step = options.Int("max_step", 0, 0);
  if (!max_step.ok()) return max_step.status();
  if (*max_step != 0 && *max_step <= *min_step) {
    return StopperOptionError("max_step", absl::StrCat("must be 0 (no end) or above min_step (",
                                                       *min_step, "), got ", *max_step));
  }
  ladder.eta = *eta;
  ladder.min_step = *min_step;
  ladder.max_step = *max_step;
  return ladder;
}

hpo::v1::StopJudgement JudgeAtRungs(const AshaLadder& ladder, const StudyView& view,
                                    const hpo::v1::Trial& trial, int first_new,
                                    const std::function<bool(const hpo::v1::Trial&)>& is_peer,
                                    absl::string_view rule) {
  const std::string& metric = view.spec->objective().metric();
  const hpo::v1::Direction direction = view.spec->objective().direction();
  const std::vector<CurvePoint> curve = ObjectiveCurve(trial, metric, direction);
  hpo::v1::StopJudgement judgement = ContinueUnjudged();
  if (curve.empty() || curve.back().index < first_new) return judgement;
  int64_t max_reached = std::numeric_limits<int64_t>::min();
  for (const CurvePoint& p : curve) max_reached = std::max(max_reached, p.step);

  std::vector<const hpo::v1::Trial*> peers;  // found at the first rung that needs them
  bool peers_read = false;
  for (int64_t rung : ladder.RungsUpTo(max_reached)) {
    const CurvePoint* mine = FirstAtOrPast(curve, rung);
    if (mine == nullptr || mine->index < first_new) continue;  // judged at an earlier report
    if (!peers_read) {
      for (const hpo::v1::Trial& other : *view.trials) {
        if (other.id() == trial.id() || other.state() == hpo::v1::LOST || !is_peer(other)) continue;
        peers.push_back(&other);
      }
      peers_read = true;
    }
    std::vector<double> losses = {mine->loss};
    for (const hpo::v1::Trial* peer : peers) {
      if (std::optional<double> loss = FirstLossAtOrPast(*peer, metric, direction, rung)) {
        losses.push_back(*loss);
      }
    }
    const int n = static_cast<int>(losses.size());
    const int keep = static_cast<int>((n + ladder.eta - 1) / ladder.eta);
    int rank = 1;
    for (size_t i = 1; i < losses.size(); ++i) rank += losses[i] < mine->loss ? 1 : 0;
    std::vector<double> sorted = losses;
    std::sort(sorted.begin(), sorted.end());
    const double cutoff = LossToValue(sorted[keep - 1], direction);
    const double value = LossToValue(mine->loss, direction);

    judgement.set_rule(std::string(rule));
    judgement.set_step(mine->step);
    judgement.set_value(value);
    judgement.set_rung(rung);
    judgement.set_compared(n);
    judgement.set_rank(rank);
    judgement.set_keep(keep);
    judgement.set_cutoff(cutoff);
    if (n < ladder.eta) {
      judgement.set_decision(hpo::v1::CONTINUE);
      judgement.set_summary(absl::StrFormat(
          "%s: at rung %d (step %d) value %.6g; %d value%s at the rung, fewer than eta = %d: "
          "continues",
          rule, rung, mine->step, value, n, n == 1 ? "" : "s", ladder.eta));
      continue;
    }
    const bool stop = rank > keep;
    judgement.set_decision(stop ? hpo::v1::STOP : hpo::v1::CONTINUE);
    judgement.set_summary(absl::StrFormat(
        "%s: at rung %d (step %d) value %.6g ranks %d of %d; the top %d (cutoff %.6g) continue",
        rule, rung, mine->step, value, rank, n, keep, cutoff));
    if (stop) return judgement;
  }
  return judgement;
}

absl::StatusOr<std::unique_ptr<EarlyStopper>> AshaStopper::Create(
    const hpo::v1::EarlyStoppingSpec& spec) {
  auto options = StopperOptions::Create(spec, {"eta", "max_step", "min_step"});
  if (!options.ok()) return options.status();
  auto ladder = ParseAshaLadder(*options);
  if (!ladder.ok()) return ladder.status();
  return std::unique_ptr<EarlyStopper>(new AshaStopper(*ladder));
}

hpo::v1::StopJudgement AshaStopper::Decide(const StudyView& view, const hpo::v1::Trial& trial,
                                           int first_new) {
  return JudgeAtRungs(
      ladder_, view, trial, first_new, [](const hpo::v1::Trial&) { return true; }, "asha");
}

}  // namespace hpo::server
