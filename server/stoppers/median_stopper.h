#ifndef HPO_SERVER_STOPPERS_MEDIAN_STOPPER_H_
#define HPO_SERVER_STOPPERS_MEDIAN_STOPPER_H_

#include <memory>

#include "server/stoppers/early_stopper.h"

namespace hpo::server {

// The median stopping rule: at a report of step s (once s >= warmup_steps), stop a trial whose
// best objective value so far is worse than the median of the values that the other trials (in
// any state but LOST: running, pruned and failed ones too) reported at step s, provided at least
// min_trials of them did. A report carrying several measurements is judged at its last one.
// Options: warmup_steps (default 0), min_trials (default 5). Stateless: thread-safe.
class MedianStopper final : public EarlyStopper {
 public:
  static absl::StatusOr<std::unique_ptr<EarlyStopper>> Create(
      const hpo::v1::EarlyStoppingSpec& spec);

  hpo::v1::StopJudgement Decide(const StudyView& view, const hpo::v1::Trial& trial,
                                int first_new) override;

 private:
  MedianStopper(int64_t warmup_steps, int min_trials)
      : warmup_steps_(warmup_steps), min_trials_(min_trials) {}

  const int64_t warmup_steps_;
  const int min_trials_;
};

// Never stops anything. Thread-safe.
class NoStopper final : public EarlyStopper {
 public:
  hpo::v1::StopJudgement Decide(const StudyView&, const hpo::v1::Trial&, int) override {
    return ContinueUnjudged();
  }
};

}  // namespace hpo::server

#endif  // HPO_SERVER_STOPPERS_MEDIAN_STOPPER_H_
