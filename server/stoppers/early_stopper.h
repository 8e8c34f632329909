// The early-stopping seam: on each intermediate report, CONTINUE or STOP the trial, with the
// evidence that decided it.
#ifndef HPO_SERVER_STOPPERS_EARLY_STOPPER_H_
#define HPO_SERVER_STOPPERS_EARLY_STOPPER_H_

#include <cstdint>
#include <memory>
#include <optional>
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

  // ---- warm start: learning from the trials of earlier studies (most stoppers do not)
  // Which earlier studies this stopper learns from: "none", "auto" (every earlier study with the
  // same task, space and objective, see SameTaskAndSpace) or a comma-separated list of names.
  virtual std::string warm_start() const { return "none"; }
  // Hands over the trials of the chosen studies (each with the same task, space and objective
  // as `spec`), once, before the first Decide. Returns how many of their trials it will learn
  // from.
  virtual int WarmStart(const hpo::v1::StudySpec& spec,
                        const std::vector<const std::vector<hpo::v1::Trial>*>& sources) {
    (void)spec;
    (void)sources;
    return 0;
  }
};

// True when two studies run the same task (builtin and its arguments, or command, environment
// and working directory) over the same space with the same objective: their learning curves are
// of the same kind. The names, budgets, optimizers and stoppers may differ.
bool SameTaskAndSpace(const hpo::v1::StudySpec& a, const hpo::v1::StudySpec& b);

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

// The first point at or past `step`, in report order; null when the curve never got there.
const CurvePoint* FirstAtOrPast(const std::vector<CurvePoint>& curve, int64_t step);

// The same read straight from the trial's measurements without building its curve (stoppers
// call it for every peer at every judgement): the loss of the first report at or past `step`
// that carries the metric; nullopt when there is none.
std::optional<double> FirstLossAtOrPast(const hpo::v1::Trial& trial, const std::string& metric,
                                        hpo::v1::Direction direction, int64_t step);

// The inverse of the loss mapping, for reporting a loss in the objective's own terms.
double LossToValue(double loss, hpo::v1::Direction direction);

// A judgement that weighed nothing: CONTINUE, no rule.
hpo::v1::StopJudgement ContinueUnjudged();

}  // namespace hpo::server

#endif  // HPO_SERVER_STOPPERS_EARLY_STOPPER_H_
