// The early-stopping seam: on each intermediate report, CONTINUE or STOP the trial, with the
// evidence that decided it.
#ifndef HPO_SERVER_STOPPERS_EARLY_STOPPER_H_
#define HPO_SERVER_STOPPERS_EARLY_STOPPER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "hpo/v1/hpo.pb.h"
#include "server/study_view.h"

namespace hpo::server {

// Decide is called under the study's lock and must be fast (well under a millisecond): anything
// slow, such as fitting a model, runs on a thread of the stopper's own, and Decide uses the
// last model it finished. Implementations say whether they are thread-safe; the coordinator
// calls Decide for one study from one thread at a time.
class EarlyStopper {
 public:
  virtual ~EarlyStopper() = default;
  // `trial` is RUNNING; its measurements [first_new, size) arrived with the report being judged
  // (one report may carry several, see ReportProgressRequest). The judgement's decision is
  // CONTINUE or STOP; its evidence (rule, step, values compared) is filled whenever a rule
  // weighed the report, and left empty (rule "") when none did (warm-up, between rungs).
  virtual hpo::v1::StopJudgement Decide(const StudyView& view, const hpo::v1::Trial& trial,
                                        int first_new) = 0;
};

// INVALID_ARGUMENT "early_stopping.name: unknown stopper 'x' (known: asha, ...)", or the
// stopper's own error for bad options ("early_stopping.options.min_trials: ...").
absl::StatusOr<std::unique_ptr<EarlyStopper>> MakeEarlyStopper(
    const hpo::v1::EarlyStoppingSpec& spec);

std::vector<std::string> EarlyStopperNames();

// ---- helpers shared by the stoppers (pure functions, thread-safe)

// One objective value of a trial, in report order.
struct CurvePoint {
  int index;  // position in trial.measurements()
  int64_t step;
  double loss;  // the value as a loss: lower is better (negated when maximizing; NaN -> +inf)
};

// The measurements that carry the objective metric, as losses.
std::vector<CurvePoint> ObjectiveCurve(const hpo::v1::Trial& trial, const std::string& metric,
                                       hpo::v1::Direction direction);

// The inverse of the loss mapping, for reporting a loss in the objective's own terms.
double LossToValue(double loss, hpo::v1::Direction direction);

// A judgement that weighed nothing: CONTINUE, no rule.
hpo::v1::StopJudgement ContinueUnjudged();

}  // namespace hpo::server

#endif  // HPO_SERVER_STOPPERS_EARLY_STOPPER_H_
