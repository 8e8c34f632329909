#include "server/stoppers/hyperband_stopper.h"

#include <cmath>
#include <numeric>

#include "absl/strings/str_cat.h"

namespace hpo::server {
namespace {

// SplitMix64's finalizer: spreads consecutive numbers over the brackets.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

int64_t IntPow(int64_t base, int exp) {
  int64_t r = 1;
  for (int i = 0; i < exp; ++i) r *= base;
  return r;
}

}  // namespace

absl::StatusOr<std::unique_ptr<EarlyStopper>> HyperbandStopper::Create(
    const hpo::v1::EarlyStoppingSpec& spec) {
  auto options = StopperOptions::Create(spec, {"eta", "max_step", "min_step"});
  if (!options.ok()) return options.status();
  if (!options->Has("max_step")) {
    return StopperOptionError("max_step",
                              "hyperband needs it: the step at which a trial ends (its rungs and "
                              "brackets are fractions of it)");
  }
  auto ladder = ParseAshaLadder(*options);
  if (!ladder.ok()) return ladder.status();
  // Brackets: the largest B with min_step·eta^(B-1) <= max_step.
  int brackets = 1;
  for (int64_t r = ladder->min_step * ladder->eta; r <= ladder->max_step; r *= ladder->eta) {
    ++brackets;
    if (brackets > 30) break;
  }
  std::vector<int64_t> shares;
  for (int b = 0; b < brackets; ++b) {
    const int s = brackets - 1 - b;
    const int64_t num = static_cast<int64_t>(brackets) * IntPow(ladder->eta, s);
    shares.push_back((num + (s + 1) - 1) / (s + 1));
  }
  return std::unique_ptr<EarlyStopper>(new HyperbandStopper(*ladder, std::move(shares)));
}

int HyperbandStopper::BracketOf(int32_t number) const {
  const int64_t total = std::accumulate(shares_.begin(), shares_.end(), int64_t{0});
  int64_t slot =
      static_cast<int64_t>(Mix(static_cast<uint64_t>(number)) % static_cast<uint64_t>(total));
  for (size_t b = 0; b < shares_.size(); ++b) {
    if (slot < shares_[b]) return static_cast<int>(b);
    slot -= shares_[b];
  }
  return static_cast<int>(shares_.size()) - 1;
}

hpo::v1::StopJudgement HyperbandStopper::Decide(const StudyView& view, const hpo::v1::Trial& trial,
                                                int first_new) {
  const int bracket = BracketOf(trial.number());
  AshaLadder ladder = base_;
  ladder.min_step = base_.min_step * IntPow(base_.eta, bracket);
  hpo::v1::StopJudgement judgement = JudgeAtRungs(
      ladder, view, trial, first_new,
      [this, bracket](const hpo::v1::Trial& other) { return BracketOf(other.number()) == bracket; },
      "hyperband");
  if (!judgement.rule().empty()) {
    judgement.set_bracket(bracket);
    // "hyperband: at rung ..." -> "hyperband (bracket 1 of 4): at rung ...".
    const std::string& summary = judgement.summary();
    const size_t colon = summary.find(':');
    judgement.set_summary(absl::StrCat("hyperband (bracket ", bracket, " of ", shares_.size(), ")",
                                       summary.substr(colon)));
  }
  return judgement;
}

}  // namespace hpo::server
