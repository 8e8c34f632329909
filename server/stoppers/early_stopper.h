// The early-stopping seam: on each intermediate report, CONTINUE or STOP the trial.
#ifndef HPO_SERVER_STOPPERS_EARLY_STOPPER_H_
#define HPO_SERVER_STOPPERS_EARLY_STOPPER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "hpo/v1/hpo.pb.h"
#include "server/study_view.h"

namespace hpo::server {

// Decide is a pure function of the view and the trial. Thread-compatible.
class EarlyStopper {
 public:
  virtual ~EarlyStopper() = default;
  // `trial` is RUNNING and its measurements include the one just reported.
  virtual hpo::v1::Decision Decide(const StudyView& view, const hpo::v1::Trial& trial) = 0;
};

// INVALID_ARGUMENT "early_stopping.name: unknown stopper 'x' (known: median, none)", or the
// stopper's own error for bad options ("early_stopping.options.min_trials: ...").
absl::StatusOr<std::unique_ptr<EarlyStopper>> MakeEarlyStopper(
    const hpo::v1::EarlyStoppingSpec& spec);

std::vector<std::string> EarlyStopperNames();

}  // namespace hpo::server

#endif  // HPO_SERVER_STOPPERS_EARLY_STOPPER_H_
