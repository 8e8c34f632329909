// Asynchronous successive halving (ASHA, Li et al. 2020) as a stopping rule.
#ifndef HPO_SERVER_STOPPERS_ASHA_STOPPER_H_
#define HPO_SERVER_STOPPERS_ASHA_STOPPER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/stoppers/early_stopper.h"
#include "server/stoppers/stopper_options.h"

namespace hpo::server {

// The rungs of one successive-halving ladder: min_step·eta^k for k = 0, 1, ..., below max_step
// (a trial that reaches max_step has ended; 0 = no end).
struct AshaLadder {
  int64_t eta = 3;
  int64_t min_step = 1;
  int64_t max_step = 0;

  // The rungs at or below `limit`, ascending.
  std::vector<int64_t> RungsUpTo(int64_t limit) const;
};

// Reads eta (integer >= 2, default 3), min_step (>= 1, default 1) and max_step (0 or > min_step,
// default 0) from `options`.
absl::StatusOr<AshaLadder> ParseAshaLadder(const StopperOptions& options);

// Judges `trial` at each rung that a measurement in [first_new, size) reaches first: its value
// there is its first objective report at or past the rung, and so is every peer's (a trial for
// which `is_peer` holds, other than `trial` and not LOST, in any other state: pruned ones
// included). With n values at the rung (the trial's own included) and at least eta of them, it
// continues only when its rank (1 + the number of strictly better values) is at most ceil(n /
// eta); with fewer than eta values it continues. NaN counts as the worst value. The first rung
// that stops it gives the judgement; otherwise the last rung judged does (CONTINUE), or none.
// `rule` names the rule in the judgement ("asha", "hyperband").
hpo::v1::StopJudgement JudgeAtRungs(const AshaLadder& ladder, const StudyView& view,
                                    const hpo::v1::Trial& trial, int first_new,
                                    const std::function<bool(const hpo::v1::Trial&)>& is_peer,
                                    absl::string_view rule);

// early_stopping: {name: asha, options: {eta: 3, min_step: 1, max_step: 0}}. Every trial of the
// study is a peer. Stateless: thread-safe.
class AshaStopper final : public EarlyStopper {
 public:
  static absl::StatusOr<std::unique_ptr<EarlyStopper>> Create(
      const hpo::v1::EarlyStoppingSpec& spec);

  hpo::v1::StopJudgement Decide(const StudyView& view, const hpo::v1::Trial& trial,
                                int first_new) override;

 private:
  explicit AshaStopper(AshaLadder ladder) : ladder_(ladder) {}
  const AshaLadder ladder_;
};

}  // namespace hpo::server

#endif  // HPO_SERVER_STOPPERS_ASHA_STOPPER_H_
