// Early stopping by learning-curve regression (Baker et al. 2017): a nu-SVR ensemble predicts a
// trial's final value from its hyperparameters and its curve so far, and a trial unlikely to
// beat the study's best is stopped. Warm-started from earlier studies of the same task.
#ifndef HPO_SERVER_STOPPERS_LEARNING_CURVE_STOPPER_H_
#define HPO_SERVER_STOPPERS_LEARNING_CURVE_STOPPER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/optimizers/gp/space_encoder.h"
#include "server/stoppers/asha_stopper.h"
#include "server/stoppers/early_stopper.h"
#include "server/stoppers/svr_ensemble.h"

namespace hpo::server {

// A complete learning curve: a trial that ran to the end.
struct CurveRecord {
  std::vector<double> hyper;                      // SpaceEncoder::Raw of its parameters
  std::vector<std::pair<int64_t, double>> curve;  // (step, loss) of its objective reports
  double final_loss = 0;                          // its result, as a loss
};

// The features of a curve judged at step `tau`: the hyperparameters, then the curve's losses at
// up to 16 grid steps in [1, tau] (every step when tau <= 16; each the last value reported at or
// before it, or the first value when none was), then their first and second differences.
std::vector<double> CurveFeatures(const std::vector<double>& hyper,
                                  const std::vector<std::pair<int64_t, double>>& curve,
                                  int64_t tau);

// early_stopping: {name: learning_curve, options: {...}}:
//   threshold (0.05): stop when P(final value beats the study's best) < threshold;
//   min_curves (20): complete curves (the study's and its warm start's) a model needs;
//   warmup_steps (0): nothing is judged before this step;
//   eta (3), min_step (1), max_step (0): the steps judged (ASHA's rungs);
//   fallback (median): the rule while a rung has no model: median (the median rule, its
//     defaults, at the report's step), asha (ASHA at the rung) or none;
//   warm_start (auto): none, auto, or a comma-separated list of earlier studies.
// A trial is judged at the first report at or past each rung, as ASHA judges it; at a rung with
// a fitted model (one per rung, trained on the complete curves that reached it) the model
// decides and the judgement carries its forecast; without a model there (fewer than min_curves
// complete curves reached it), the fallback decides (rule "learning_curve/median" or
// "learning_curve/asha"). The median rule is the default fallback: it lets far more trials run
// to the end than ASHA does, and complete curves are what the model needs. The
// incumbent is the best value of the study's own COMPLETED trials; with none yet nothing is
// stopped by the model.
//
// Models are fitted on a thread of the stopper's own, never under the caller's lock: Decide
// hands it a copy of the complete curves when enough new ones have come (at min_curves, then
// each time their number grew by max(3, 10%)) and goes on with the models it has. Decide is
// thread-compatible (one study, one caller at a time); the fitting thread is internal.
class LearningCurveStopper final : public EarlyStopper {
 public:
  struct Options {
    double threshold = 0.05;
    int min_curves = 20;
    int64_t warmup_steps = 0;
    AshaLadder ladder;
    std::string warm_start = "auto";
    std::string fallback = "median";  // median | asha | none
    SvrEnsembleOptions svr;
    // Decide waits for the fits it asks for (deterministic runs: tests and the benchmark).
    bool wait_for_fits = false;
  };

  static absl::StatusOr<std::unique_ptr<EarlyStopper>> Create(
      const hpo::v1::EarlyStoppingSpec& spec);
  // The options of `spec`, checked (what Create uses).
  static absl::StatusOr<Options> ParseOptions(const hpo::v1::EarlyStoppingSpec& spec);
  explicit LearningCurveStopper(Options options);
  ~LearningCurveStopper() override;

  hpo::v1::StopJudgement Decide(const StudyView& view, const hpo::v1::Trial& trial,
                                int first_new) override;
  std::string warm_start() const override { return options_.warm_start; }
  int WarmStart(const hpo::v1::StudySpec& spec,
                const std::vector<const std::vector<hpo::v1::Trial>*>& sources) override;

  // Blocks until no fit is waiting or running.
  void AwaitFits();
  struct FitStats {
    int fits = 0;
    int curves = 0;                              // of the last fit
    int models = 0;                              // rungs it fitted a model for
    absl::Duration last = absl::ZeroDuration();  // its wall time
  };
  FitStats fit_stats();

 private:
  // The models of one fit: rung -> its ensemble.
  struct Models {
    std::map<int64_t, std::shared_ptr<const SvrEnsemble>> by_rung;
    int curves = 0;
  };

  void EnsureEncoder(const hpo::v1::StudySpec& spec);
  std::optional<CurveRecord> RecordOf(const hpo::v1::Trial& trial,
                                      const hpo::v1::StudySpec& spec) const;
  void MaybeRequestFit(const StudyView& view);
  void FitLoop();
  std::shared_ptr<const Models> Fit(const std::vector<CurveRecord>& records) const;

  const Options options_;
  std::unique_ptr<EarlyStopper> median_;       // the median fallback
  std::unique_ptr<gp::SpaceEncoder> encoder_;  // made at the first call that sees the spec
  std::vector<CurveRecord> warm_;              // the warm start's curves
  int requested_curves_ = 0;                   // curves in the last fit asked for

  absl::Mutex mu_;
  std::optional<std::vector<CurveRecord>> pending_ ABSL_GUARDED_BY(mu_);
  bool fitting_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::shared_ptr<const Models> models_ ABSL_GUARDED_BY(mu_);
  FitStats stats_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;  // started with the first fit
};

}  // namespace hpo::server

#endif  // HPO_SERVER_STOPPERS_LEARNING_CURVE_STOPPER_H_
