#include "harness/stopper_bench.h"

#include "core/logging.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "harness/curve_families.h"

namespace hpo::harness {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<std::string> Names(const std::vector<StopperMethod>& methods) {
  std::vector<std::string> names;
  for (const StopperMethod& m : methods) names.push_back(m.name);
  return names;
}

TEST(StopperMethodsTest, ParsesTheListAndNamesUnknownOnes) {
  auto all = ParseStopperMethods("default", 52);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_THAT(Names(*all), ElementsAre("none", "median", "asha", "hyperband", "learning_curve",
                                       "learning_curve-warm", "3-epoch", "9-epoch"));
  EXPECT_EQ((*all)[3].stopping.options().at("max_step"), "52");
  EXPECT_TRUE((*all)[5].warm_from_other_seeds);
  EXPECT_EQ((*all)[6].i_epoch, 3);
  auto five = ParseStopperMethods("none, 5-epoch", 52);
  ASSERT_TRUE(five.ok());
  EXPECT_EQ((*five)[1].i_epoch, 5);
  EXPECT_THAT(std::string(ParseStopperMethods("none,52-epoch", 52).status().message()),
              HasSubstr("--stoppers: unknown method '52-epoch'"));
  EXPECT_THAT(std::string(ParseStopperMethods("none,sha", 52).status().message()),
              HasSubstr("unknown method 'sha'"));
  // Variants with options, named by the whole text; their options are checked.
  auto variant = ParseStopperMethods("learning_curve-warm:threshold=0.1;eta=2", 52);
  ASSERT_TRUE(variant.ok()) << variant.status();
  EXPECT_EQ((*variant)[0].name, "learning_curve-warm:threshold=0.1;eta=2");
  EXPECT_TRUE((*variant)[0].warm_from_other_seeds);
  EXPECT_EQ((*variant)[0].stopping.options().at("eta"), "2");
  EXPECT_EQ(ParseStopperMethods("asha:eta=1", 52).status().message(),
            "--stoppers: early_stopping.options.eta: '1' is not an integer >= 2");
  EXPECT_THAT(std::string(ParseStopperMethods("3-epoch:x=1", 52).status().message()),
              HasSubstr("3-epoch takes no options"));
  EXPECT_THAT(std::string(ParseStopperMethods("asha:eta", 52).status().message()),
              HasSubstr("expected NAME:key=value;key=value"));
}

TEST(StopperBenchTest, EveryMethodSpendsTheBudgetOnTheSameStream) {
  auto source = MakeCurveFamily("curves-exp");
  ASSERT_TRUE(source.ok());
  const int64_t budget = 20 * 52;
  auto methods = ParseStopperMethods("none,3-epoch,asha", 52);
  ASSERT_TRUE(methods.ok());
  auto none = RunStopperMethod(**source, (*methods)[0], 1, budget, {});
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(none->epochs, budget);
  EXPECT_EQ(none->configs, 20);
  EXPECT_EQ(none->completed, 20);
  EXPECT_EQ(none->stopped, 0);
  EXPECT_EQ(none->complete_trials.size(), 20u);
  ASSERT_FALSE(none->trajectory.empty());
  EXPECT_GE(none->trajectory.back().second, 0);  // regret against a 10,000-config sample
  EXPECT_LT(none->trajectory.back().second, 0.2);

  auto three = RunStopperMethod(**source, (*methods)[1], 1, budget, {});
  ASSERT_TRUE(three.ok());
  EXPECT_EQ(three->epochs, budget);
  EXPECT_GT(three->configs, 20);
  // Each stopped configuration cost 3 epochs, each completed one 52; the last may be cut short.
  const int64_t whole = 3LL * three->stopped + 52LL * three->completed;
  EXPECT_LE(whole, budget);
  EXPECT_GT(whole, budget - 52);
  // The first configuration is the same for every method, and its curve is the source's.
  const hpo::v1::ParamMap first = (*source)->Params(1, 0);
  EXPECT_EQ(none->complete_trials[0].params().DebugString(), first.DebugString());
  auto values = (*source)->Values(1, 0, {1, 52});
  ASSERT_TRUE(values.ok());
  EXPECT_EQ(none->complete_trials[0].measurements(0).metrics().at("value"), (*values)[0]);
  EXPECT_EQ(none->complete_trials[0].value(), (*values)[1]);
  EXPECT_EQ((*source)->Values(1, 0, {53}).status().code(), absl::StatusCode::kInvalidArgument);

  auto asha = RunStopperMethod(**source, (*methods)[2], 1, budget, {});
  ASSERT_TRUE(asha.ok());
  EXPECT_GT(asha->configs, none->configs);
  EXPECT_GT(asha->stopped, 0);
}

// On curves that cross, ranking early values stops configurations that would have ended best.
TEST(StopperBenchTest, CrossingCurvesMisleadRankBasedRules) {
  auto crossing = MakeCurveFamily("curves-crossing");
  ASSERT_TRUE(crossing.ok());
  auto methods = ParseStopperMethods("3-epoch", 52);
  ASSERT_TRUE(methods.ok());
  auto run = RunStopperMethod(**crossing, (*methods)[0], 2, 40 * 52, {});
  ASSERT_TRUE(run.ok());
  EXPECT_GT(run->false_stops, 0);
}

// With an optimizer as the sampler, configurations are its proposals, and it sees the stopped
// trials: a different run from the stream's, and the same one again for the same seed.
TEST(StopperBenchTest, AnOptimizerCanProposeTheConfigurations) {
  auto source = MakeCurveFamily("curves-exp");
  ASSERT_TRUE(source.ok());
  auto methods = ParseStopperMethods("asha", 52);
  ASSERT_TRUE(methods.ok());
  hpo::v1::OptimizerSpec tpe;
  tpe.set_name("tpe");
  auto a = RunStopperMethod(**source, (*methods)[0], 3, 30 * 52, {}, tpe);
  auto b = RunStopperMethod(**source, (*methods)[0], 3, 30 * 52, {}, tpe);
  auto stream = RunStopperMethod(**source, (*methods)[0], 3, 30 * 52, {});
  ASSERT_TRUE(a.ok() && b.ok() && stream.ok()) << a.status();
  EXPECT_EQ(a->trajectory, b->trajectory);
  EXPECT_EQ(a->configs, b->configs);
  EXPECT_NE(a->trajectory, stream->trajectory);
  EXPECT_GT(a->stopped, 0);
  // A proposed configuration's curve is a fixed function of its parameters.
  auto once = (*source)->ValuesOf((*source)->Params(9, 9), {1, 52});
  auto again = (*source)->ValuesOf((*source)->Params(9, 9), {1, 52});
  ASSERT_TRUE(once.ok() && again.ok());
  EXPECT_EQ(*once, *again);
  hpo::v1::OptimizerSpec bogus;
  bogus.set_name("bogus");
  EXPECT_EQ(RunStopperMethod(**source, (*methods)[0], 3, 52, {}, bogus).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Track B: through a coordinator with simulated workers; stops are the coordinator's (recorded
// with their reasons), and learning_curve-warm learns from the named studies.
TEST(StopperBenchTest, TrackBRunsThroughTheCoordinator) {
  // The coordinator logs every study and stop at INFO.
  const core::LogLevel level = core::MinLogLevel();
  core::SetMinLogLevel(core::LogLevel::kWarning);
  auto source = MakeCurveFamily("curves-crossing");
  ASSERT_TRUE(source.ok());
  StopperBenchOptions options;
  options.tasks = {"curves-crossing"};
  auto methods = ParseStopperMethods("none,asha,learning_curve-warm,3-epoch", 52);
  ASSERT_TRUE(methods.ok());
  options.methods = *methods;
  options.seeds = 2;
  options.budget_evaluations = 20;
  options.workers = 4;
  options.jobs = 2;
  options.out_dir = ::testing::TempDir() + "/track_b";
  options.sources = MakeCurveTask;
  auto runs = RunStopperBench(options);
  ASSERT_TRUE(runs.ok()) << runs.status();
  ASSERT_EQ(runs->size(), 6u);  // 3-epoch is Track A only
  for (const StopperRun& r : *runs) {
    SCOPED_TRACE(r.method);
    EXPECT_EQ(r.epochs, 20 * 52);
    EXPECT_NE(r.method, "3-epoch");
    if (r.method == "none") {
      EXPECT_EQ(r.stopped, 0);
      EXPECT_GE(r.configs, 20);  // and the ones in flight when the budget ran out
      EXPECT_LE(r.configs, 24);
    } else {
      EXPECT_GT(r.stopped, 0);
      EXPECT_GT(r.configs, 24);
    }
  }
  // The same again, run by run.
  auto again = RunStopperBench(options);
  ASSERT_TRUE(again.ok());
  for (size_t i = 0; i < runs->size(); ++i) {
    EXPECT_EQ((*runs)[i].trajectory, (*again)[i].trajectory) << (*runs)[i].method;
  }
  core::SetMinLogLevel(level);
}

TEST(StopperBenchTest, LearningCurveRunsAreDeterministic) {
  auto source = MakeCurveFamily("curves-crossing");
  ASSERT_TRUE(source.ok());
  auto methods = ParseStopperMethods("none,learning_curve-warm", 52);
  ASSERT_TRUE(methods.ok());
  auto warm = RunStopperMethod(**source, (*methods)[0], 7, 30 * 52, {});
  ASSERT_TRUE(warm.ok());
  auto a = RunStopperMethod(**source, (*methods)[1], 8, 10 * 52, warm->complete_trials);
  auto b = RunStopperMethod(**source, (*methods)[1], 8, 10 * 52, warm->complete_trials);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->configs, b->configs);
  EXPECT_EQ(a->trajectory, b->trajectory);
  EXPECT_GT(a->stopped, 0);  // the warm model judges from the first trials on
  EXPECT_GT(a->forecasts, 0);
  EXPECT_GT(a->covered, a->forecasts / 2);  // most 95% intervals hold the true final value
}

StopperRun MakeRun(const std::string& method) {
  StopperRun run;
  run.task = "t";
  run.method = method;
  run.seed = 1;
  run.budget = 1000;
  run.epochs = 1000;
  return run;
}

TEST(StopperSummaryTest, SpeedupAtEqualRegretAndCensoring) {
  StopperRun none = MakeRun("none");
  none.trajectory = {{100, 1.0}, {500, 0.5}};
  StopperRun fast = MakeRun("fast");
  fast.trajectory = {{50, 0.5}};
  fast.stopped = 10;
  fast.false_stops = 2;
  StopperRun slow = MakeRun("slow");
  slow.trajectory = {{900, 0.8}};  // never reaches r* = 0.5
  std::vector<MethodSummary> s = SummarizeStopperRuns({none, fast, slow}, 1);
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].method, "none");
  EXPECT_EQ(s[0].median_speedup, 1);
  EXPECT_EQ(s[1].median_speedup, 10);      // 500 / 50
  EXPECT_EQ(s[1].median_speedup_half, 2);  // r* + 0.5 = 1.0: 100 / 50
  EXPECT_EQ(s[1].false_stop_rate, 0.2);
  EXPECT_EQ(s[1].median_regret, 0.5);
  EXPECT_EQ(s[2].median_speedup, 0);
  EXPECT_EQ(s[2].censored_share, 1);
  EXPECT_EQ(s[2].median_speedup_half, 100.0 / 900);  // 1.0 reached at 900
  EXPECT_EQ(s[2].median_regret_q, std::numeric_limits<double>::infinity());
  const std::string md = StopperReportMarkdown(s, 1, 1, 1000, "test", "setup");
  EXPECT_THAT(md, HasSubstr("| fast | 1 | 10 [10, 10] | 0% |"));
  EXPECT_THAT(md, HasSubstr("| 20.0% | — |"));  // no forecasts: no coverage
  EXPECT_THAT(StopperRegretSvg({none, fast, slow}, "t"), HasSubstr("<svg"));
}

TEST(StopperSummaryTest, FrontIsTheMedianRegretAtSharesOfTheBudget) {
  StopperRun none = MakeRun("none");
  none.trajectory = {{100, 1.0}, {500, 0.5}};
  StopperRun fast = MakeRun("fast");
  fast.trajectory = {{50, 0.5}};
  StopperRun slow = MakeRun("slow");
  slow.trajectory = {{900, 0.8}};
  // B = 1000: B/32 = 31, B/16 = 63, B/8 = 125, B/4 = 250, B/2 = 500.
  const std::string md = StopperFrontMarkdown({none, fast, slow});
  EXPECT_THAT(md, HasSubstr("| none | — | — | 1 | 1 | **0.5** | **0.5** |"));
  EXPECT_THAT(md, HasSubstr("| fast | — | **0.5** | **0.5** | **0.5** | **0.5** | **0.5** |"));
  EXPECT_THAT(md, HasSubstr("| slow | — | — | — | — | — | 0.8 |"));
  const std::vector<Series> front = MedianRegretFront({none, fast, slow}, {0.1, 1.0});
  ASSERT_EQ(front.size(), 3u);
  EXPECT_EQ(front[0].x, (std::vector<double>{100, 1000}));
  EXPECT_EQ(front[0].y, (std::vector<double>{1.0, 0.5}));
  EXPECT_EQ(front[2].y[0], std::numeric_limits<double>::infinity());
}

}  // namespace
}  // namespace hpo::harness
