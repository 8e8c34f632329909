#include "server/optimizers/auto_optimizer.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "core/search_space.h"
#include "server/optimizers/gp/gp_optimizer.h"
#include "server/optimizers/gp/space_encoder.h"
#include "server/optimizers/option_parsing.h"
#include "server/optimizers/tpe/tpe_optimizer.h"

namespace hpo::server {
namespace {

// tpe's default n_startup_trials: rule 2 wants this many model-based trials at least.
constexpr int kMinModelTrials = 10;

// Builds a child optimizer from the options under `prefix` ("gp." or "tpe."), naming any bad
// option with its prefix.
absl::StatusOr<std::unique_ptr<Optimizer>> MakeChild(
    const std::string& name, const hpo::v1::OptimizerSpec& spec,
    const std::map<std::string, std::string>& options, const hpo::v1::SearchSpace& space,
    absl::StatusOr<std::unique_ptr<Optimizer>> (*create)(const hpo::v1::OptimizerSpec&,
                                                         const hpo::v1::SearchSpace&)) {
  hpo::v1::OptimizerSpec child;
  child.set_name(name);
  child.set_seed(spec.seed());
  for (const auto& [key, value] : options) (*child.mutable_options())[key] = value;
  absl::StatusOr<std::unique_ptr<Optimizer>> made = create(child, space);
  if (!made.ok()) {
    return absl::Status(made.status().code(),
                        absl::StrReplaceAll(made.status().message(),
                                            {{"optimizer.options.",
                                              absl::StrCat("optimizer.options.", name, ".")}}));
  }
  return made;
}

int HistorySize(const StudyView& view) {
  return (view.trials != nullptr ? static_cast<int>(view.trials->size()) : 0) +
         (view.prior != nullptr ? static_cast<int>(view.prior->size()) : 0);
}

// RUNNING and PENDING trials: from the caller's counts when it keeps them (a snapshot of a watched
// study asks on every event, and a scan would cost the whole history each time).
int RunningCount(const StudyView& view) {
  if (view.counts != nullptr) return view.counts->running() + view.counts->pending();
  if (view.trials == nullptr) return 0;
  return static_cast<int>(
      std::count_if(view.trials->begin(), view.trials->end(), [](const auto& t) {
        return t.state() == hpo::v1::RUNNING || t.state() == hpo::v1::PENDING;
      }));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Optimizer>> AutoOptimizer::Create(
    const hpo::v1::OptimizerSpec& spec, const hpo::v1::SearchSpace& space) {
  if (absl::Status s = core::ValidateSearchSpace(space); !s.ok()) return s;
  Options options;
  std::map<std::string, std::string> gp_options, tpe_options;
  for (const auto& [key, value] : SortedOptions(spec)) {
    absl::Status s;
    if (absl::StartsWith(key, "gp.") && key.size() > 3) {
      gp_options[key.substr(3)] = value;
    } else if (absl::StartsWith(key, "tpe.") && key.size() > 4) {
      tpe_options[key.substr(4)] = value;
    } else if (key == "gp_max_features") {
      s = ParseIntOption(key, value, 0, &options.gp_max_features);
    } else if (key == "gp_max_trials") {
      s = ParseIntOption(key, value, 0, &options.gp_max_trials);
    } else if (key == "gp_max_running") {
      s = ParseIntOption(key, value, 1, &options.gp_max_running);
    } else {
      s = UnknownOptionError(
          key, {"gp_max_features", "gp_max_running", "gp_max_trials", "gp.KEY", "tpe.KEY"});
    }
    if (!s.ok()) return s;
  }
  absl::StatusOr<std::unique_ptr<Optimizer>> gp =
      MakeChild("gp", spec, gp_options, space, &GpOptimizer::Create);
  if (!gp.ok()) return gp.status();
  absl::StatusOr<std::unique_ptr<Optimizer>> tpe =
      MakeChild("tpe", spec, tpe_options, space, &TpeOptimizer::Create);
  if (!tpe.ok()) return tpe.status();
  return std::unique_ptr<Optimizer>(
      new AutoOptimizer(space, options, std::move(*gp), std::move(*tpe)));
}

AutoOptimizer::AutoOptimizer(const hpo::v1::SearchSpace& space, Options options,
                             std::unique_ptr<Optimizer> gp, std::unique_ptr<Optimizer> tpe)
    : options_(options), gp_(std::move(gp)), tpe_(std::move(tpe)) {
  const gp::SpaceEncoder encoder(space);
  num_params_ = encoder.num_params();
  num_features_ = encoder.num_features();
  gp_startup_ = std::max(10, 3 * num_params_ + 2);
}

std::string AutoOptimizer::WholeStudyReason(const StudyView& view) const {
  if (num_features_ > options_.gp_max_features) {
    return absl::StrCat("the space encodes to ", num_features_, " features, more than gp's ",
                        options_.gp_max_features);
  }
  const int budget = view.spec != nullptr ? view.spec->budget().max_trials() : 0;
  if (budget > 0 && budget < gp_startup_ + kMinModelTrials) {
    return absl::StrCat("a budget of ", budget, " trials leaves fewer than ", kMinModelTrials,
                        " after gp's ", gp_startup_, " random startup trials");
  }
  return "";
}

AutoOptimizer::Choice AutoOptimizer::Choose(const StudyView& view, int history, int running) const {
  if (std::string why = WholeStudyReason(view); !why.empty()) return {false, std::move(why)};
  if (history >= options_.gp_max_trials) {
    return {false, absl::StrCat("the history holds ", history, " trials, gp's limit is ",
                                options_.gp_max_trials)};
  }
  if (running >= options_.gp_max_running) {
    return {false,
            absl::StrCat(running, " trials are running, gp's limit is ", options_.gp_max_running)};
  }
  return {true, ""};
}

absl::StatusOr<std::vector<hpo::v1::ParamMap>> AutoOptimizer::Suggest(
    const StudyView& view, const std::vector<int>& numbers) {
  // One call may need both: the running count grows with each earlier proposal of the call.
  // Consecutive proposals that go to the same optimizer are asked for together, so each sees
  // the ones before it as pending.
  std::vector<hpo::v1::ParamMap> out;
  out.reserve(numbers.size());
  const int history = HistorySize(view);
  const int running = RunningCount(view);
  size_t k = 0;
  while (k < numbers.size()) {
    const bool gp = Choose(view, history, running + static_cast<int>(k)).gp;
    size_t end = k + 1;
    while (end < numbers.size() &&
           Choose(view, history, running + static_cast<int>(end)).gp == gp) {
      ++end;
    }
    // The earlier proposals of this call are not in the view, and the other optimizer would
    // not see them: they join its view as PENDING trials.
    std::vector<hpo::v1::Trial> extended;
    StudyView batch_view = view;
    if (k > 0) {
      if (view.trials != nullptr) extended = *view.trials;
      for (size_t i = 0; i < k; ++i) {
        hpo::v1::Trial t;
        t.set_number(numbers[i]);
        t.set_state(hpo::v1::PENDING);
        *t.mutable_params() = out[i];
        extended.push_back(std::move(t));
      }
      batch_view.trials = &extended;
    }
    absl::StatusOr<std::vector<hpo::v1::ParamMap>> part =
        (gp ? gp_ : tpe_)
            ->Suggest(batch_view, std::vector<int>(numbers.begin() + k, numbers.begin() + end));
    if (!part.ok()) return part.status();
    for (auto& p : *part) out.push_back(std::move(p));
    k = end;
  }
  return out;
}

std::string AutoOptimizer::Describe(const StudyView& view) const {
  if (std::string why = WholeStudyReason(view); !why.empty()) {
    return absl::StrCat("auto: tpe for the whole study (", why, ")");
  }
  const int history = HistorySize(view);
  std::string rule = absl::StrCat("auto: gp until the history holds ", options_.gp_max_trials,
                                  " trials, then tpe; tpe while ", options_.gp_max_running,
                                  " or more trials run at once");
  if (view.ended) return absl::StrCat(rule, " (the study has ended)");
  const int running = RunningCount(view);
  const Choice now = Choose(view, history, running);
  if (history < gp_startup_) {
    absl::StrAppend(&rule, "; the first ", gp_startup_, " trials are random (gp's startup)");
  }
  absl::StrAppend(&rule, " (next: ", now.gp ? "gp" : absl::StrCat("tpe, ", now.why), ")");
  return rule;
}

}  // namespace hpo::server
