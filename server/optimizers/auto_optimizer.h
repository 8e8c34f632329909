// The default optimizer: picks gp or tpe for each proposal from what the study shows.
#ifndef HPO_SERVER_OPTIMIZERS_AUTO_OPTIMIZER_H_
#define HPO_SERVER_OPTIMIZERS_AUTO_OPTIMIZER_H_

#include <memory>
#include <string>
#include <vector>

#include "server/optimizers/optimizer.h"

namespace hpo::server {

// `auto` proposes with gp or with tpe, built with the study's seed, and hands the chosen one the
// whole view: every earlier trial is history for either, whichever proposed it. The rule, in
// order (docs/optimizers.md, "auto", has the measurements behind it):
//   1. tpe for the whole study when the space encodes to more than `gp_max_features` features
//      (gp's encoding: one per numeric parameter, one per categorical choice, one more per
//      conditional parameter; default 64): gp's fit and its discrete local search grow with
//      them, tpe's cost does not.
//   2. tpe for the whole study when its budget (budget.max_trials, when set) leaves fewer than
//      10 trials after gp's random startup trials (max(10, 3 d + 2) for d parameters): gp would
//      model almost nothing, tpe models after 10.
//   3. Otherwise gp, except for a proposal made when the history (this study's trials in every
//      state, plus warm-start trials) already holds `gp_max_trials` (default 2000) or more, or
//      when `gp_max_running` (default 32) or more trials are RUNNING or PENDING (counting the
//      earlier proposals of the same call): tpe then. gp's p99 stays under 100 ms to 5,000 trials
//      here but single calls reach 133 ms past 2,000, and its believer points add to the model
//      for every running trial; tpe's cost is a few milliseconds at any size.
// Both start with RandomOptimizer's proposals (10 and max(10, 3 d + 2) trials), so the first 10
// trials are random search's whatever the rule says.
// Options: gp_max_features, gp_max_trials (ints >= 0; 0 makes the rule never choose gp by that
// test), gp_max_running (int >= 1), and "gp.KEY" / "tpe.KEY", passed on as option KEY of the
// chosen optimizer (checked by it, errors named with the prefix).
// Suggest is a pure function of (options, seed, history, numbers). Thread-compatible.
class AutoOptimizer final : public Optimizer {
 public:
  struct Options {
    int gp_max_features = 64;
    int gp_max_trials = 2000;
    int gp_max_running = 32;
  };

  static absl::StatusOr<std::unique_ptr<Optimizer>> Create(const hpo::v1::OptimizerSpec& spec,
                                                           const hpo::v1::SearchSpace& space);

  absl::StatusOr<std::vector<hpo::v1::ParamMap>> Suggest(const StudyView& view,
                                                         const std::vector<int>& numbers) override;
  std::string Describe(const StudyView& view) const override;

  // Which optimizer the rule picks for a proposal when `running` trials are running or pending
  // and the history holds `history` trials, with the reason in words.
  struct Choice {
    bool gp = false;
    std::string why;
  };
  Choice Choose(const StudyView& view, int history, int running) const;

 private:
  AutoOptimizer(const hpo::v1::SearchSpace& space, Options options, std::unique_ptr<Optimizer> gp,
                std::unique_ptr<Optimizer> tpe);

  // A reason that applies to the whole study (rules 1 and 2), or "".
  std::string WholeStudyReason(const StudyView& view) const;

  Options options_;
  int num_params_ = 0;
  int num_features_ = 0;
  int gp_startup_ = 0;
  std::unique_ptr<Optimizer> gp_;
  std::unique_ptr<Optimizer> tpe_;
};

}  // namespace hpo::server

#endif  // HPO_SERVER_OPTIMIZERS_AUTO_OPTIMIZER_H_
