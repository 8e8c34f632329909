// Hyperband (Li et al. 2018) as a stopping rule: several ASHA ladders ("brackets") that start at
// different steps, each trial judged only within its own bracket.
#ifndef HPO_SERVER_STOPPERS_HYPERBAND_STOPPER_H_
#define HPO_SERVER_STOPPERS_HYPERBAND_STOPPER_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "server/stoppers/asha_stopper.h"
#include "server/stoppers/early_stopper.h"

namespace hpo::server {

// early_stopping: {name: hyperband, options: {eta: 3, min_step: 1, max_step: 27}}; max_step is
// required. There are B = floor(log_eta(max_step / min_step)) + 1 brackets; bracket b's first
// rung is min_step·eta^b (the last bracket stops least, nothing at all when its first rung is
// max_step itself). Bracket b gets
// a share of the trials proportional to ceil(B·eta^(B-1-b) / (B-b)), the number of
// configurations Hyperband starts in it, and a trial's bracket is a fixed function of its number
// (a 64-bit mix of it, modulo the sum of the shares), so its attempts and a restarted coordinator
// agree. Stateless: thread-safe.
class HyperbandStopper final : public EarlyStopper {
 public:
  static absl::StatusOr<std::unique_ptr<EarlyStopper>> Create(
      const hpo::v1::EarlyStoppingSpec& spec);

  hpo::v1::StopJudgement Decide(const StudyView& view, const hpo::v1::Trial& trial,
                                int first_new) override;

  // The bracket of trial number `number`.
  int BracketOf(int32_t number) const;
  int brackets() const { return static_cast<int>(shares_.size()); }
  const std::vector<int64_t>& shares() const { return shares_; }

 private:
  HyperbandStopper(AshaLadder base, std::vector<int64_t> shares)
      : base_(base), shares_(std::move(shares)) {}

  const AshaLadder base_;
  const std::vector<int64_t> shares_;  // per bracket
};

}  // namespace hpo::server

#endif  // HPO_SERVER_STOPPERS_HYPERBAND_STOPPER_H_
