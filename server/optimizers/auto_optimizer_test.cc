#include "server/optimizers/auto_optimizer.h"

#include <map>
#include <string>
#include <vector>

#include "core/search_space.h"
#include "core/study_spec.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/optimizers/gp/gp_optimizer.h"
#include "server/optimizers/optimizer_testing.h"
#include "server/optimizers/tpe/tpe_optimizer.h"

namespace hpo::server {
namespace {

using optimizer_testing::MakeTrial;
using ::testing::HasSubstr;

// A study of `floats` floats in [0, 1] (plus, when `choices` > 0, one categorical with that many
// choices), minimizing the squared distance to 0.3, with the given budget (0: none).
hpo::v1::StudySpec Study(int floats, int choices, int budget,
                         std::map<std::string, std::string> options = {}) {
  hpo::v1::StudySpec spec;
  spec.set_name("s");
  spec.mutable_objective()->set_metric("value");
  spec.mutable_optimizer()->set_name("auto");
  spec.mutable_optimizer()->set_seed(7);
  for (const auto& [k, v] : options) (*spec.mutable_optimizer()->mutable_options())[k] = v;
  if (budget > 0) spec.mutable_budget()->set_max_trials(budget);
  for (int i = 0; i < floats; ++i) {
    auto* p = spec.mutable_space()->add_params();
    p->set_name("x" + std::to_string(i));
    p->mutable_float_domain()->set_low(0);
    p->mutable_float_domain()->set_high(1);
  }
  if (choices > 0) {
    auto* p = spec.mutable_space()->add_params();
    p->set_name("c");
    for (int i = 0; i < choices; ++i) {
      p->mutable_categorical()->add_choices()->set_string_value("v" + std::to_string(i));
    }
  }
  return spec;
}

double Score(const hpo::v1::ParamMap& p) {
  double sum = 0;
  for (const auto& [name, value] : p.values()) {
    if (value.has_float_value()) sum += (value.float_value() - 0.3) * (value.float_value() - 0.3);
  }
  return sum;
}

// `count` completed trials proposed by random search.
std::vector<hpo::v1::Trial> History(const hpo::v1::StudySpec& spec, int count) {
  core::Rng rng(11);
  std::vector<hpo::v1::Trial> trials;
  for (int i = 0; i < count; ++i) {
    const hpo::v1::ParamMap p = core::SampleUniform(spec.space(), rng);
    trials.push_back(MakeTrial(i, hpo::v1::COMPLETED, p, Score(p)));
  }
  return trials;
}

std::unique_ptr<Optimizer> Make(const hpo::v1::StudySpec& spec) {
  auto made = AutoOptimizer::Create(spec.optimizer(), spec.space());
  EXPECT_TRUE(made.ok()) << made.status();
  return std::move(*made);
}

std::string Proposals(Optimizer& opt, const StudyView& view, const std::vector<int>& numbers) {
  auto got = opt.Suggest(view, numbers);
  EXPECT_TRUE(got.ok()) << got.status();
  std::string out;
  for (const auto& p : got.value_or(std::vector<hpo::v1::ParamMap>())) {
    out += p.DebugString() + "|";
  }
  return out;
}

// What gp or tpe alone, with the study's seed, proposes for the same view.
std::string Alone(const std::string& name, const hpo::v1::StudySpec& spec, const StudyView& view,
                  const std::vector<int>& numbers) {
  hpo::v1::OptimizerSpec o;
  o.set_name(name);
  o.set_seed(spec.optimizer().seed());
  auto opt = MakeOptimizer(o, spec.space());
  EXPECT_TRUE(opt.ok());
  return Proposals(**opt, view, numbers);
}

TEST(AutoOptimizerTest, ANumericSpaceGetsGpUntilTheHistoryLimitThenTpeWithEveryEarlierTrial) {
  const auto spec = Study(3, 0, 0, {{"gp_max_trials", "40"}});
  auto opt = Make(spec);
  auto* auto_opt = dynamic_cast<AutoOptimizer*>(opt.get());
  ASSERT_NE(auto_opt, nullptr);
  // 39 trials of history: gp's proposal, bit for bit.
  std::vector<hpo::v1::Trial> trials = History(spec, 39);
  StudyView view{&spec, &trials};
  EXPECT_TRUE(auto_opt->Choose(view, 39, 0).gp);
  EXPECT_EQ(Proposals(*opt, view, {39}), Alone("gp", spec, view, {39}));
  EXPECT_EQ(opt->Describe(view),
            "auto: gp until the history holds 40 trials, then tpe; tpe while 32 or more trials "
            "run at once (next: gp)");
  // An ended study has no next proposal to tell of.
  StudyView ended = view;
  ended.ended = true;
  EXPECT_EQ(opt->Describe(ended),
            "auto: gp until the history holds 40 trials, then tpe; tpe while 32 or more trials "
            "run at once (the study has ended)");
  // At 40, tpe's, from the same 40 trials (gp's and random's alike are its history): the same
  // as tpe given the whole history, and not what tpe proposes from the last 10 alone.
  trials = History(spec, 40);
  const auto choice = auto_opt->Choose(view, 40, 0);
  EXPECT_FALSE(choice.gp);
  EXPECT_EQ(choice.why, "the history holds 40 trials, gp's limit is 40");
  EXPECT_EQ(Proposals(*opt, view, {40}), Alone("tpe", spec, view, {40}));
  std::vector<hpo::v1::Trial> recent(trials.end() - 12, trials.end());
  StudyView recent_view{&spec, &recent};
  EXPECT_NE(Proposals(*opt, view, {40}), Alone("tpe", spec, recent_view, {40}));
  EXPECT_THAT(opt->Describe(view),
              HasSubstr("(next: tpe, the history holds 40 trials, gp's limit is 40)"));
}

TEST(AutoOptimizerTest, ManyCategoricalChoicesGiveTpeForTheWholeStudy) {
  // 2 floats + 70 one-hot columns = 72 features > 64.
  const auto spec = Study(2, 70, 0);
  auto opt = Make(spec);
  std::vector<hpo::v1::Trial> trials = History(spec, 30);
  StudyView view{&spec, &trials};
  EXPECT_EQ(opt->Describe(view),
            "auto: tpe for the whole study (the space encodes to 72 features, more than gp's 64)");
  EXPECT_EQ(Proposals(*opt, view, {30}), Alone("tpe", spec, view, {30}));
  // A smaller categorical stays with gp.
  const auto small = Study(2, 8, 0);
  auto small_opt = Make(small);
  std::vector<hpo::v1::Trial> small_trials = History(small, 30);
  StudyView small_view{&small, &small_trials};
  EXPECT_EQ(Proposals(*small_opt, small_view, {30}), Alone("gp", small, small_view, {30}));
}

TEST(AutoOptimizerTest, ABudgetTooSmallForGpsStartupGivesTpe) {
  // 7 parameters: gp starts with 23 random trials; 32 trials leave 9 after them, 33 leave 10.
  const auto tight = Study(7, 0, 32);
  auto opt = Make(tight);
  std::vector<hpo::v1::Trial> trials = History(tight, 25);
  StudyView view{&tight, &trials};
  EXPECT_EQ(opt->Describe(view),
            "auto: tpe for the whole study (a budget of 32 trials leaves fewer than 10 after gp's "
            "23 random startup trials)");
  EXPECT_EQ(Proposals(*opt, view, {25}), Alone("tpe", tight, view, {25}));
  const auto enough = Study(7, 0, 33);
  auto enough_opt = Make(enough);
  StudyView enough_view{&enough, &trials};
  EXPECT_EQ(Proposals(*enough_opt, enough_view, {25}), Alone("gp", enough, enough_view, {25}));
  EXPECT_THAT(enough_opt->Describe(enough_view), HasSubstr("(next: gp)"));
}

TEST(AutoOptimizerTest, ManyRunningTrialsGiveTpeAndOneCallCanUseBoth) {
  const auto spec = Study(2, 0, 0, {{"gp_max_running", "3"}});
  auto opt = Make(spec);
  std::vector<hpo::v1::Trial> trials = History(spec, 30);
  core::Rng rng(3);
  for (int i = 30; i < 32; ++i) {
    trials.push_back(MakeTrial(i, hpo::v1::RUNNING, core::SampleUniform(spec.space(), rng)));
  }
  StudyView view{&spec, &trials};
  // Two running: the next proposal is gp's; the two after it see three and four running: tpe's,
  // made with gp's proposal among the pending trials.
  auto got = opt->Suggest(view, {32, 33, 34});
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 3u);
  EXPECT_EQ((*got)[0].DebugString() + "|", Alone("gp", spec, view, {32}));
  std::vector<hpo::v1::Trial> with_first = trials;
  with_first.push_back(MakeTrial(32, hpo::v1::PENDING, (*got)[0]));
  StudyView after{&spec, &with_first};
  EXPECT_EQ((*got)[1].DebugString() + "|" + (*got)[2].DebugString() + "|",
            Alone("tpe", spec, after, {33, 34}));
  trials.push_back(MakeTrial(32, hpo::v1::RUNNING, (*got)[0]));
  EXPECT_THAT(opt->Describe(view), HasSubstr("(next: tpe, 3 trials are running, gp's limit is 3)"));
  // Counts kept by the caller (the coordinator's) are read instead of scanning the trials.
  hpo::v1::TrialCounts counts;
  counts.set_running(1);
  counts.set_pending(1);
  view.counts = &counts;
  EXPECT_THAT(opt->Describe(view), HasSubstr("(next: gp)"));
}

TEST(AutoOptimizerTest, TheSameSeedAndHistoryGiveTheSameProposals) {
  const auto spec = Study(4, 3, 0);
  std::vector<hpo::v1::Trial> trials = History(spec, 25);
  StudyView view{&spec, &trials};
  auto a = Make(spec);
  auto b = Make(spec);
  const std::string first = Proposals(*a, view, {25, 26});
  EXPECT_EQ(first, Proposals(*b, view, {25, 26}));
  EXPECT_EQ(first, Proposals(*a, view, {25, 26}));  // and again on the same object
}

TEST(AutoOptimizerTest, OptionsAreCheckedAndPassedOnWithTheirPrefix) {
  const auto space = Study(2, 0, 0).space();
  hpo::v1::OptimizerSpec o;
  o.set_name("auto");
  (*o.mutable_options())["bogus"] = "1";
  auto r = AutoOptimizer::Create(o, space);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("optimizer.options.bogus: unknown option (known: "
                                              "gp_max_features, gp_max_running, gp_max_trials"));
  o.clear_options();
  (*o.mutable_options())["gp.n_candidates"] = "many";
  r = AutoOptimizer::Create(o, space);
  EXPECT_EQ(r.status().message(),
            "optimizer.options.gp.n_candidates: 'many' is not an integer >= 1");
  o.clear_options();
  (*o.mutable_options())["tpe.gamma"] = "-1";
  r = AutoOptimizer::Create(o, space);
  EXPECT_THAT(r.status().message(), HasSubstr("optimizer.options.tpe.gamma: "));
  o.clear_options();
  (*o.mutable_options())["gp_max_running"] = "0";
  r = AutoOptimizer::Create(o, space);
  EXPECT_EQ(r.status().message(), "optimizer.options.gp_max_running: '0' is not an integer >= 1");
  o.clear_options();
  (*o.mutable_options())["gp.n_startup_trials"] = "5";
  (*o.mutable_options())["tpe.n_startup_trials"] = "5";
  EXPECT_TRUE(AutoOptimizer::Create(o, space).ok());
}

TEST(AutoOptimizerTest, AStudyWithoutAnOptimizerBlockGetsAuto) {
  auto spec = core::ParseStudyYaml(R"(
name: plain
objective: {metric: value, direction: minimize}
budget: {max_trials: 10}
space:
  x: {type: float, low: 0, high: 1}
task: {builtin: branin}
)");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->optimizer().name(), "auto");
  EXPECT_TRUE(MakeOptimizer(spec->optimizer(), spec->space()).ok());
}

}  // namespace
}  // namespace hpo::server
