#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "core/search_space.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "harness/analysis.h"
#include "harness/bench.h"
#include "harness/digest.h"
#include "harness/distributed_runner.h"
#include "harness/in_process_runner.h"
#include "harness/optuna_runner.h"
#include "harness/pipe_process.h"
#include "harness/progress.h"
#include "harness/report.h"
#include "harness/results_db.h"
#include "harness/router.h"
#include "harness/svg_plot.h"
#include "harness/task_source.h"
#include "nlohmann/json.hpp"
#include "server/optimizers/optimizer.h"
#include "storage/sqlite_util.h"
#include "tasks/synthetic_tasks.h"
#include "worker/test_util.h"

namespace hpo::harness {
namespace {

using ::testing::HasSubstr;
using worker::test_util::ReadFile;

// What a build's optimizer registry (or a coordinator) reports: name and revision.
hpo::v1::ServerInfo Ours(const std::vector<std::pair<std::string, int>>& optimizers) {
  hpo::v1::ServerInfo info;
  for (const auto& [name, revision] : optimizers) {
    hpo::v1::OptimizerInfo* o = info.add_optimizers();
    o->set_name(name);
    o->set_revision(revision);
  }
  return info;
}

// A new empty directory for one test.
std::string TempDir(const std::string& name) {
  return worker::test_util::MakeTempDir("hpo_harness_" + name);
}

// The TaskDigest of the built-in branin, which the bench tests' runs are fingerprinted with.
std::string BraninDigest() {
  auto task = tasks::MakeTask("branin");
  EXPECT_TRUE(task.ok());
  absl::StatusOr<std::string> digest = TaskDigest(**task);
  EXPECT_TRUE(digest.ok()) << digest.status();
  return digest.ok() ? *digest : "";
}

// A built-in synthetic task plus `extra(params)`: the same space, another function.
class AdjustedTask final : public tasks::SyntheticTask {
 public:
  AdjustedTask(const std::string& name, std::function<double(const hpo::v1::ParamMap&)> extra)
      : task_(std::move(tasks::MakeTask(name)).value()), extra_(std::move(extra)) {}
  std::string name() const override { return task_->name(); }
  hpo::v1::SearchSpace space() const override { return task_->space(); }
  double optimum() const override { return task_->optimum(); }
  hpo::v1::ParamMap optimum_params() const override { return task_->optimum_params(); }
  double Value(const hpo::v1::ParamMap& params) const override {
    return dynamic_cast<const tasks::SyntheticTask&>(*task_).Value(params) + extra_(params);
  }

 private:
  std::unique_ptr<tasks::Task> task_;
  std::function<double(const hpo::v1::ParamMap&)> extra_;
};

// Branin plus a constant.
AdjustedTask ShiftedBranin(double shift) {
  return AdjustedTask("branin", [shift](const hpo::v1::ParamMap&) { return shift; });
}

// A task that cannot be evaluated (a surrogate whose helper dies, say).
class BrokenTask final : public tasks::Task {
 public:
  std::string name() const override { return "broken"; }
  hpo::v1::SearchSpace space() const override {
    return std::move(tasks::MakeTask("branin")).value()->space();
  }
  double optimum() const override { return std::nan(""); }
  hpo::v1::ParamMap optimum_params() const override { return {}; }
  absl::StatusOr<double> Evaluate(const hpo::v1::ParamMap&, const tasks::TaskOptions&,
                                  tasks::Reporter&) const override {
    return absl::UnavailableError("the helper died");
  }
};

// "random" plus "random-b" (random search with another seed stream), so the bench tests do not
// depend on which model-based optimizers are registered.
server::OptimizerFactory TestOptimizers() {
  return
      [](const hpo::v1::OptimizerSpec& spec,
         const hpo::v1::SearchSpace& space) -> absl::StatusOr<std::unique_ptr<server::Optimizer>> {
        hpo::v1::OptimizerSpec s = spec;
        if (s.name() == "random-b") {
          s.set_name("random");
          s.set_seed(s.seed() + 1000);
        }
        return server::MakeOptimizer(s, space);
      };
}

// Counts the runs that reach the wrapped runner.
class CountingRunner final : public Runner {
 public:
  explicit CountingRunner(Runner* inner) : inner_(inner) {}
  using Runner::Run;
  absl::StatusOr<RunRecord> Run(const RunSpec& spec, RunRecord* partial) override {
    ++calls;
    return inner_->Run(spec, partial);
  }
  std::atomic<int> calls{0};

 private:
  Runner* inner_;
};

// A "python" that runs Debian's python without site-packages, so optuna cannot be imported.
std::string PythonWithoutOptuna(const std::string& dir) {
  const std::string path = dir + "/python-no-site";
  std::ofstream(path) << "#!/bin/sh\nexec /usr/bin/python3 -S \"$@\"\n";
  std::filesystem::permissions(path, std::filesystem::perms::owner_all);
  return path;
}

bool OptunaAvailable() {
  auto runner = OptunaRunner::Create({});
  return runner.ok() && (*runner)->Probe().ok();
}

// ------------------------------------------------------------------ small pieces

TEST(RunSpecTest, DefaultTrialsFollowsCarps) {
  EXPECT_EQ(DefaultTrials(1), 60);
  EXPECT_EQ(DefaultTrials(2), 77);   // 20 + 56.57
  EXPECT_EQ(DefaultTrials(6), 118);  // 20 + 97.98
}

TEST(RunSpecTest, AppendEvalKeepsBestSoFar) {
  RunRecord r;
  AppendEval(r, 3, "{}");
  AppendEval(r, 5, "{}");
  AppendEval(r, NAN, "{}");
  AppendEval(r, 1, "{}");
  ASSERT_EQ(r.evals.size(), 4u);
  EXPECT_EQ(r.evals[1].best_so_far, 3);
  EXPECT_EQ(r.evals[2].best_so_far, 3);
  EXPECT_EQ(r.evals[3].best_so_far, 1);
  EXPECT_EQ(r.best(), 1);
}

TEST(RunSpecTest, ParsesOptimizerVariants) {
  auto plain = ParseOptimizerVariant(" tpe ");
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->name, "tpe");
  EXPECT_TRUE(plain->options.empty());
  auto variant = ParseOptimizerVariant("tpe:multivariate=false; gamma = sqrt ;");
  ASSERT_TRUE(variant.ok()) << variant.status();
  EXPECT_EQ(variant->name, "tpe");
  EXPECT_EQ(variant->options,
            (std::map<std::string, std::string>{{"gamma", "sqrt"}, {"multivariate", "false"}}));
  auto no_name = ParseOptimizerVariant(":a=1");
  EXPECT_EQ(no_name.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(no_name.status().message(), "--optimizers: ':a=1': no optimizer name");
  EXPECT_EQ(ParseOptimizerVariant("tpe:a").status().message(),
            "--optimizers: 'tpe:a': option 'a' is not key=value");
  EXPECT_EQ(ParseOptimizerVariant("tpe:=1").status().message(),
            "--optimizers: 'tpe:=1': option '=1' has no key");
  EXPECT_EQ(ParseOptimizerVariant("tpe:a=1;a=2").status().message(),
            "--optimizers: 'tpe:a=1;a=2': option 'a' is given twice");
}

TEST(AnalysisTest, RanksShareTies) {
  EXPECT_EQ(Ranks({3, 1, 1, 2}), (std::vector<double>{4, 1.5, 1.5, 3}));
  EXPECT_EQ(Ranks({}), std::vector<double>{});
}

TEST(AnalysisTest, IncumbentAtFractions) {
  RunRecord r;
  for (double v : {10, 9, 8, 7, 6, 5, 4, 3, 2, 1}) AppendEval(r, v, "{}");
  EXPECT_EQ(IncumbentAt(r, 0), 10);  // at least one trial
  EXPECT_EQ(IncumbentAt(r, 1), 10);  // ceil(0.05 * 10) = 1
  EXPECT_EQ(IncumbentAt(r, 2), 10);  // ceil(0.1 * 10) = 1
  EXPECT_EQ(IncumbentAt(r, 3), 9);   // ceil(1.5) = 2
  EXPECT_EQ(IncumbentAt(r, 10), 6);  // 5 trials
  EXPECT_EQ(IncumbentAt(r, 20), 1);
}

RunRecord Record(const std::string& opt, const std::string& task, int seed,
                 std::vector<double> values, double optimum = 0) {
  RunRecord r;
  r.spec = RunSpec{opt, task, seed, static_cast<int>(values.size())};
  r.optimum = optimum;
  for (double v : values) AppendEval(r, v, "{}");
  return r;
}

TEST(AnalysisTest, NormalizedScoresRanksAndAverageRank) {
  std::vector<RunRecord> runs = {
      Record("a", "t1", 0, {5, 2}, 1), Record("a", "t1", 1, {5, 4}, 1),  // finals 2, 4
      Record("b", "t1", 0, {8, 6}, 1), Record("b", "t1", 1, {9, 8}, 1),  // finals 6, 8
      Record("a", "t2", 0, {1, 1}),    Record("b", "t2", 0, {0.5, 0.5}),
      Record("c", "t9", 0, {1}),  // not asked for: ignored
  };
  Analysis a = Analyze(runs, {"a", "b", "z"}, {"t1", "t2"});
  EXPECT_EQ(a.optimizers, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(a.final_lo["t1"], 2);
  EXPECT_EQ(a.final_hi["t1"], 8);
  const Cell* a1 = a.Find("t1", "a");
  ASSERT_NE(a1, nullptr);
  EXPECT_DOUBLE_EQ(a1->regret.mean, 2);  // (1 + 3) / 2
  EXPECT_DOUBLE_EQ(a1->regret.sd, std::sqrt(2.0));
  EXPECT_DOUBLE_EQ(a1->score.mean, (0 + 2.0 / 6) / 2);
  EXPECT_DOUBLE_EQ(a.Find("t1", "b")->score.mean, (4.0 / 6 + 1) / 2);
  EXPECT_EQ(a1->rank, 1);
  EXPECT_EQ(a.Find("t2", "a")->rank, 2);
  EXPECT_EQ(a.average_rank["a"], 1.5);
  EXPECT_EQ(a.average_rank["b"], 1.5);
  // Anytime at fraction 0 on t1: a's first values 5, 5 -> (5-2)/(8-2); it ends at the score.
  EXPECT_DOUBLE_EQ(a1->anytime[0], 0.5);
  EXPECT_DOUBLE_EQ(a1->anytime[20], a1->score.mean);
  EXPECT_DOUBLE_EQ(a.Find("t1", "b")->anytime[0], (8 - 2 + 9 - 2) / 6.0 / 2);
  EXPECT_EQ(a.finals.size(), 6u);
  ASSERT_EQ(a.rank_over_time["a"].size(), static_cast<size_t>(kFractions));
}

TEST(AnalysisTest, ARunWithoutAValueScoresWorstAndLeavesTheRangeAlone) {
  // The run without a value comes first, where it used to set the range to NaN.
  std::vector<RunRecord> runs = {Record("a", "t1", 0, {NAN, NAN}), Record("a", "t1", 1, {5, 2}),
                                 Record("b", "t1", 0, {8, 6})};
  Analysis a = Analyze(runs, {"a", "b"}, {"t1"});
  EXPECT_EQ(a.final_lo["t1"], 2);
  EXPECT_EQ(a.final_hi["t1"], 6);
  EXPECT_DOUBLE_EQ(a.Find("t1", "a")->score.mean, (1 + 0) / 2.0);
  EXPECT_DOUBLE_EQ(a.Find("t1", "b")->score.mean, 1);
}

TEST(SvgPlotTest, PolylinePerSeriesAndEscapedText) {
  std::string svg = LinePlotSvg({"a < b & c", "x", "y"},
                                {Series{"s1", {0, 1}, {0, 1}}, Series{"s2", {0, 1}, {1, NAN}}});
  EXPECT_TRUE(absl::StartsWith(svg, "<svg "));
  EXPECT_TRUE(absl::EndsWith(svg, "</svg>\n"));
  EXPECT_THAT(svg, HasSubstr("a &lt; b &amp; c"));
  EXPECT_EQ(std::vector<std::string>(absl::StrSplit(svg, "<polyline")).size(), 3u);
}

TEST(ProgressTest, BarAndLinesWithoutTty) {
  EXPECT_EQ(Progress::Bar(0, 4, 8), "[>       ]");
  EXPECT_EQ(Progress::Bar(2, 4, 8), "[====>   ]");
  EXPECT_EQ(Progress::Bar(4, 4, 8), "[========]");
  std::ostringstream out;
  Progress p(out, /*tty=*/false, 2);
  p.Finished(Progress::Outcome::kRan, "random/branin/seed=0/trials=5", "best 1");
  p.Finished(Progress::Outcome::kFailed, "x", "boom");
  p.Done();
  EXPECT_EQ(out.str(), "[1/2] done random/branin/seed=0/trials=5: best 1\n[2/2] FAILED x: boom\n");
}

TEST(TaskSourceTest, ExpandsSuitesAndLists) {
  auto synthetic = ExpandTasks("synthetic", BuiltinTaskFactory());
  ASSERT_TRUE(synthetic.ok()) << synthetic.status();
  EXPECT_THAT(*synthetic, ::testing::IsSupersetOf({"branin", "hartmann6"}));
  auto list = ExpandTasks(" hartmann6, branin,hartmann6", BuiltinTaskFactory());
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(*list, (std::vector<std::string>{"hartmann6", "branin"}));
  auto bad = ExpandTasks("branin,nope", BuiltinTaskFactory());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(bad.status().message(), HasSubstr("--tasks: unknown task 'nope'"));
  EXPECT_EQ(ExpandTasks(" , ", BuiltinTaskFactory()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// ------------------------------------------------------------------ runners

TEST(InProcessRunnerTest, DeterministicPerSeedAndRecordsEveryTrial) {
  auto runner = InProcessRunner::Create({});
  ASSERT_TRUE(runner.ok());
  auto a = (*runner)->Run({"random", "branin", 3, 20});
  auto b = (*runner)->Run({"random", "branin", 3, 20});
  auto c = (*runner)->Run({"random", "branin", 4, 20});
  ASSERT_TRUE(a.ok() && b.ok() && c.ok()) << a.status();
  ASSERT_EQ(a->evals.size(), 20u);
  EXPECT_EQ(a->best(), b->best());
  EXPECT_EQ(a->evals[7].params_json, b->evals[7].params_json);
  EXPECT_NE(a->best(), c->best());
  EXPECT_NEAR(a->optimum, 0.397887, 1e-5);
  EXPECT_GE(a->best(), a->optimum);
  // The recorded value is the task's value at the recorded params.
  auto branin = tasks::MakeBranin();
  auto params = nlohmann::json::parse(a->evals[0].params_json);
  hpo::v1::ParamMap pm;
  (*pm.mutable_values())["x1"].set_float_value(params["x1"].get<double>());
  (*pm.mutable_values())["x2"].set_float_value(params["x2"].get<double>());
  EXPECT_DOUBLE_EQ(branin->Value(pm), a->evals[0].value);
}

TEST(InProcessRunnerTest, ErrorsNameTheRun) {
  auto runner = InProcessRunner::Create({});
  ASSERT_TRUE(runner.ok());
  auto unknown = (*runner)->Run({"nope", "branin", 0, 5});
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(unknown.status().message(),
              HasSubstr("nope/branin/seed=0/trials=5: optimizer.name: unknown optimizer 'nope'"));
  EXPECT_EQ((*runner)->Run({"random", "nope", 0, 5}).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ((*runner)->Run({"random", "branin", 0, 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(InProcessRunnerTest, VariantsRunWithTheirOptions) {
  const RunSpec spec{"tpe:n_startup_trials=3;multivariate=false", "branin", 2, 8};
  const hpo::v1::StudySpec study = BenchStudySpec(spec, tasks::MakeBranin()->space());
  EXPECT_EQ(study.name(), "bench-tpe_n_startup_trials_3_multivariate_false-branin-s2-n8");
  EXPECT_EQ(study.optimizer().name(), "tpe");
  EXPECT_EQ(study.optimizer().options().at("n_startup_trials"), "3");
  EXPECT_EQ(study.optimizer().options().at("multivariate"), "false");
  EXPECT_EQ(study.optimizer().seed(), 2);

  auto runner = InProcessRunner::Create({});
  ASSERT_TRUE(runner.ok());
  auto variant = (*runner)->Run(spec);
  auto plain = (*runner)->Run({"tpe", "branin", 2, 8});
  ASSERT_TRUE(variant.ok() && plain.ok()) << variant.status();
  EXPECT_EQ(variant->spec.optimizer, spec.optimizer);
  // Both start from the same random trials; the variant's TPE takes over after 3 of them.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(variant->evals[i].params_json, plain->evals[i].params_json);
  EXPECT_NE(variant->evals[3].params_json, plain->evals[3].params_json);

  auto bad = (*runner)->Run({"tpe:bogus=1", "branin", 0, 5});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(),
              HasSubstr("tpe:bogus=1/branin/seed=0/trials=5: optimizer.options.bogus: unknown"));

  // In a bench, the variant is a row of its own under its full text.
  BenchOptions options;
  options.optimizers = {"tpe", "tpe:n_startup_trials=3"};
  options.tasks = {"branin"};
  options.trials = 5;
  options.out_dir = TempDir("variants");
  auto summary = RunBench(options, StandardRouter(runner->get(), Ours({{"tpe", 3}}), nullptr));
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->ran, 2);
  std::ifstream f(summary->report_path);
  std::stringstream md;
  md << f.rdbuf();
  EXPECT_THAT(md.str(), HasSubstr("| branin | tpe | 1 | 5 |"));
  EXPECT_THAT(md.str(), HasSubstr("| branin | tpe:n_startup_trials=3 | 1 | 5 |"));
}

TEST(PipeProcessTest, TalksInLinesBothWays) {
  auto proc = PipeProcess::Spawn({{"cat"}, ""});
  ASSERT_TRUE(proc.ok()) << proc.status();
  ASSERT_TRUE((*proc)->WriteLine("hello").ok());
  ASSERT_TRUE((*proc)->WriteLine("world").ok());
  auto line = (*proc)->ReadLine(absl::Now() + absl::Seconds(10));
  ASSERT_TRUE(line.ok());
  EXPECT_EQ(line->value_or("<eof>"), "hello");
  line = (*proc)->ReadLine(absl::Now() + absl::Seconds(10));
  EXPECT_EQ(line->value_or("<eof>"), "world");
  EXPECT_EQ((*proc)->ReadLine(absl::Now() + absl::Milliseconds(20)).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  auto exit = (*proc)->Close(absl::Seconds(10));
  ASSERT_TRUE(exit.ok());
  EXPECT_EQ(*exit, 0);
}

TEST(PipeProcessTest, ReportsMissingProgramAndDeadChild) {
  auto missing = PipeProcess::Spawn({{"/nonexistent/prog"}, ""});
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("cannot run '/nonexistent/prog'"));

  auto proc = PipeProcess::Spawn({{"sh", "-c", "echo bye; exit 3"}, ""});
  ASSERT_TRUE(proc.ok());
  auto line = (*proc)->ReadLine(absl::Now() + absl::Seconds(10));
  EXPECT_EQ(line->value_or("<eof>"), "bye");
  line = (*proc)->ReadLine(absl::Now() + absl::Seconds(10));
  ASSERT_TRUE(line.ok());
  EXPECT_FALSE(line->has_value());
  EXPECT_EQ((*proc)->WriteLine("anyone?").code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(*(*proc)->Close(absl::Seconds(10)), 3);
}

TEST(OptunaAdapterJsonTest, MixedSpaceRoundTrip) {
  auto mixed = tasks::MakeMixed();
  const hpo::v1::SearchSpace space = mixed->space();
  nlohmann::json j = SpaceToAdapterJson(space);
  ASSERT_EQ(j.size(), 4u);
  EXPECT_EQ(j[2]["type"], "categorical");
  EXPECT_EQ(j[2]["n"], 3);
  EXPECT_EQ(j[3]["condition"]["parent"], "kind");
  EXPECT_EQ(j[3]["condition"]["values"], nlohmann::json::array({1}));  // "b" is choice 1

  auto with_y = ParamsFromAdapterJson(space, {{"x", 0.5}, {"n", 3}, {"kind", 1}, {"y", 0.25}});
  ASSERT_TRUE(with_y.ok()) << with_y.status();
  EXPECT_EQ(core::ParamsToJson(*with_y), R"({"kind":"b","n":3,"x":0.5,"y":0.25})");
  auto without_y = ParamsFromAdapterJson(space, {{"x", 0.5}, {"n", 3}, {"kind", 0}});
  ASSERT_TRUE(without_y.ok()) << without_y.status();
  EXPECT_EQ(core::ParamsToJson(*without_y), R"({"kind":"a","n":3,"x":0.5})");

  auto inactive = ParamsFromAdapterJson(space, {{"x", 0.5}, {"n", 3}, {"kind", 0}, {"y", 0.1}});
  EXPECT_EQ(inactive.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(inactive.status().message(), HasSubstr("params.y: not an active parameter"));
  auto bad_index = ParamsFromAdapterJson(space, {{"x", 0.5}, {"n", 3}, {"kind", 7}});
  EXPECT_THAT(bad_index.status().message(), HasSubstr("params.kind: not a choice index: 7"));
  auto missing = ParamsFromAdapterJson(space, {{"x", 0.5}, {"kind", 0}});
  EXPECT_THAT(missing.status().message(), HasSubstr("params.n: missing"));
}

TEST(OptunaRunnerTest, ProbeSaysWhyOptunaIsMissing) {
  const std::string dir = TempDir("probe");
  OptunaRunner::Options options;
  options.python = PythonWithoutOptuna(dir);
  auto runner = OptunaRunner::Create(options);
  ASSERT_TRUE(runner.ok());
  auto probe = (*runner)->Probe();
  EXPECT_EQ(probe.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(probe.status().message(), HasSubstr("optuna is not importable"));

  options.python = "/nonexistent/python3";
  auto no_python = OptunaRunner::Create(options);
  EXPECT_THAT((*no_python)->Probe().status().message(),
              HasSubstr("cannot run '/nonexistent/python3'"));
}

TEST(OptunaRunnerTest, RunsTpeOnMixedSpaceDeterministically) {
  if (!OptunaAvailable()) GTEST_SKIP() << "optuna is not importable by /usr/bin/python3";
  auto runner = OptunaRunner::Create({});
  ASSERT_TRUE(runner.ok());
  auto a = (*runner)->Run({"optuna-tpe", "mixed", 1, 15});
  auto b = (*runner)->Run({"optuna-tpe", "mixed", 1, 15});
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_EQ(a->evals.size(), 15u);
  EXPECT_EQ(a->best(), b->best());
  EXPECT_EQ(a->evals[14].params_json, b->evals[14].params_json);
  // Conditional parameter y appears exactly when kind is b.
  for (const Eval& e : a->evals) {
    auto p = nlohmann::json::parse(e.params_json);
    EXPECT_EQ(p.contains("y"), p["kind"] == "b") << e.params_json;
  }
  EXPECT_EQ((*runner)->Run({"random", "mixed", 1, 5}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(OptunaRunnerTest, AtMostMaxParallelAdaptersRunAtOnce) {
  // A "python" that holds a lock directory for a moment; a second one alive at the same time
  // finds it taken and says so. It never answers, so each run fails at the hello.
  const std::string dir = TempDir("max_parallel");
  const std::string python = dir + "/python";
  std::ofstream(python) << "#!/bin/sh\n"
                        << "mkdir " << dir << "/lock 2>/dev/null || echo overlap >> " << dir
                        << "/overlaps\n"
                        << "sleep 0.2\nrmdir " << dir << "/lock 2>/dev/null\nexit 1\n";
  std::filesystem::permissions(python, std::filesystem::perms::owner_all);
  OptunaRunner::Options options;
  options.python = python;
  options.adapter = python;  // exists; never read
  options.max_parallel = 1;
  auto runner = OptunaRunner::Create(options);
  ASSERT_TRUE(runner.ok());
  std::vector<std::thread> threads;
  std::atomic<int> failed{0};
  for (int seed = 0; seed < 3; ++seed) {
    threads.emplace_back([&, seed] {
      failed += !(*runner)->Run({"optuna-tpe", "mixed", seed, 5}).ok();
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failed, 3);
  EXPECT_FALSE(std::filesystem::exists(dir + "/overlaps")) << ReadFile(dir + "/overlaps");
}

// ------------------------------------------------------------------ the bench

TEST(BenchTest, ShortBenchWritesReportAndReusesRuns) {
  const std::string dir = TempDir("bench");
  const bool optuna = OptunaAvailable();
  const std::string second = optuna ? "optuna-random" : "random-b";

  auto in_process = InProcessRunner::Create({BuiltinTaskFactory(), TestOptimizers()});
  ASSERT_TRUE(in_process.ok());
  auto optuna_runner = OptunaRunner::Create({});
  ASSERT_TRUE(optuna_runner.ok());
  CountingRunner ours(in_process->get()), theirs(optuna_runner->get());
  // Both routes go through counters, so a re-run can show that no runner was invoked.
  Router router = [&](const std::string& o) -> absl::StatusOr<Route> {
    if (o == "optuna-random") return Route{&theirs, "", "fp"};
    return Route{&ours, "", "fp"};
  };

  BenchOptions options;
  options.optimizers = {"random", second};
  options.tasks = {"branin", "hartmann6"};
  options.seeds = 2;
  options.trials = 15;
  options.out_dir = dir;
  options.jobs = 2;
  std::ostringstream progress;
  options.progress = &progress;

  auto summary = RunBench(options, router);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->total, 8);
  EXPECT_EQ(summary->ran, 8);
  EXPECT_EQ(summary->reused, 0);
  EXPECT_EQ(summary->failed, 0);
  EXPECT_EQ(ours.calls + theirs.calls, 8);
  EXPECT_THAT(progress.str(), HasSubstr("[8/8] done "));

  const std::string md = ReadFile(dir + "/report.md");
  for (const char* task : {"branin", "hartmann6"}) {
    for (const std::string& opt : {std::string("random"), second}) {
      EXPECT_THAT(md, HasSubstr(absl::StrCat("| ", task, " | ", opt, " | 2 | 15 | ")))
          << task << " " << opt;
    }
  }
  EXPECT_THAT(md, HasSubstr("## Average rank"));
  EXPECT_THAT(md, HasSubstr("| optimizer | average rank | tasks |"));
  EXPECT_THAT(md, HasSubstr("0 = the best final value seen"));
  for (const char* svg : {"anytime_branin.svg", "anytime_hartmann6.svg", "rank_over_time.svg"}) {
    const std::string text = ReadFile(dir + "/" + svg);
    EXPECT_TRUE(absl::StartsWith(text, "<svg")) << svg;
    EXPECT_EQ(std::vector<std::string>(absl::StrSplit(text, "<polyline")).size(), 3u) << svg;
    EXPECT_THAT(md, HasSubstr(absl::StrCat("(", svg, ")")));
  }
  const std::string final_csv = ReadFile(dir + "/final.csv");
  EXPECT_EQ(std::vector<std::string>(absl::StrSplit(final_csv, '\n', absl::SkipEmpty())).size(),
            9u);
  EXPECT_EQ(std::vector<std::string>(
                absl::StrSplit(ReadFile(dir + "/anytime.csv"), '\n', absl::SkipEmpty()))
                .size(),
            1u + 4 * kFractions);
  EXPECT_THAT(ReadFile(dir + "/ranks.csv"), HasSubstr("random,average,,"));
  {
    auto db = ResultsDb::Open(dir + "/results.sqlite");
    ASSERT_TRUE(db.ok());
    EXPECT_EQ(*(*db)->CountRuns("done"), 8);
    EXPECT_EQ(*(*db)->CountEvals(), 8 * 15);
    auto found = (*db)->FindDone({"random", "branin", 1, 15}, RunFingerprint("fp", BraninDigest()));
    ASSERT_TRUE(found.ok() && found->has_value());
    EXPECT_EQ((*found)->evals.size(), 15u);
    auto other = (*db)->FindDone({"random", "branin", 1, 15}, "another version");
    ASSERT_TRUE(other.ok());
    EXPECT_FALSE(other->has_value());
  }

  // The same bench again: every run comes from results.sqlite, the report is the same.
  ours.calls = 0;
  theirs.calls = 0;
  auto again = RunBench(options, router);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->reused, 8);
  EXPECT_EQ(again->ran, 0);
  EXPECT_EQ(ours.calls + theirs.calls, 0);
  EXPECT_EQ(ReadFile(dir + "/report.md"), md);

  // Runs recorded by another version of an optimizer are made again (and replace the old ones);
  // the other optimizer's are still reused.
  Router upgraded = [&](const std::string& o) -> absl::StatusOr<Route> {
    if (o == "optuna-random") return Route{&theirs, "", "fp"};
    return Route{&ours, "", "fp2"};
  };
  auto after_upgrade = RunBench(options, upgraded);
  ASSERT_TRUE(after_upgrade.ok()) << after_upgrade.status();
  const int ours_runs = optuna ? 4 : 8;  // without Optuna both optimizers are ours
  EXPECT_EQ(after_upgrade->ran, ours_runs);
  EXPECT_EQ(after_upgrade->reused, 8 - ours_runs);
  EXPECT_EQ(ours.calls, ours_runs);
  EXPECT_EQ(theirs.calls, 0);
  ours.calls = 0;
  EXPECT_EQ(RunBench(options, upgraded)->reused, 8);

  // A bigger budget is a different run.
  options.trials = 16;
  options.optimizers = {"random"};
  options.tasks = {"branin"};
  options.seeds = 1;
  auto bigger = RunBench(options, upgraded);
  ASSERT_TRUE(bigger.ok());
  EXPECT_EQ(bigger->ran, 1);
  EXPECT_EQ(ours.calls, 1);
}

// A results file from before fingerprints: it opens, keeps its runs, and none of them counts as
// made by the current optimizers.
TEST(ResultsDbTest, VersionOneFileIsMigratedAndItsRunsAreNotReused) {
  const std::string path = TempDir("v1") + "/results.sqlite";
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_TRUE(storage::ExecSql(db, R"sql(
CREATE TABLE runs(optimizer TEXT NOT NULL, task TEXT NOT NULL, seed INTEGER NOT NULL,
  trials INTEGER NOT NULL, status TEXT NOT NULL, wall_s REAL, optimum REAL,
  message TEXT NOT NULL DEFAULT '', PRIMARY KEY(optimizer, task, seed, trials));
CREATE TABLE evals(optimizer TEXT NOT NULL, task TEXT NOT NULL, seed INTEGER NOT NULL,
  trials INTEGER NOT NULL, i INTEGER NOT NULL, value REAL, best_so_far REAL,
  params_json TEXT NOT NULL, PRIMARY KEY(optimizer, task, seed, trials, i));
INSERT INTO runs VALUES('tpe', 'branin', 0, 1, 'done', 0.1, 0.397887, '');
INSERT INTO evals VALUES('tpe', 'branin', 0, 1, 0, 5.0, 5.0, '{}');
PRAGMA user_version = 1;
)sql")
                    .ok());
    sqlite3_close(db);
  }
  auto db = ResultsDb::Open(path);
  ASSERT_TRUE(db.ok()) << db.status();
  EXPECT_EQ(*(*db)->CountRuns("done"), 1);
  const RunSpec spec{"tpe", "branin", 0, 1};
  auto found = (*db)->FindDone(spec, "hpo tpe r2");
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_FALSE(found->has_value());
  // Made again, the run replaces the old one and is found under its fingerprint.
  RunRecord record;
  record.spec = spec;
  AppendEval(record, 4.0, "{}");
  ASSERT_TRUE((*db)->SaveDone(record, "hpo tpe r2").ok());
  EXPECT_EQ(*(*db)->CountRuns("done"), 1);
  found = (*db)->FindDone(spec, "hpo tpe r2");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->evals[0].value, 4.0);
  db->reset();
  // Reopening a migrated file changes nothing.
  auto again = ResultsDb::Open(path);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE((*(*again)->FindDone(spec, "hpo tpe r2")).has_value());
}

TEST(BenchTest, MissingOptunaRowsAreSkippedWithAMessage) {
  const std::string dir = TempDir("skip");
  auto in_process = InProcessRunner::Create({});
  OptunaRunner::Options oo;
  oo.python = PythonWithoutOptuna(dir);
  auto optuna_runner = OptunaRunner::Create(oo);
  ASSERT_TRUE(in_process.ok() && optuna_runner.ok());
  BenchOptions options;
  options.optimizers = {"random", "optuna-tpe"};
  options.tasks = {"branin"};
  options.seeds = 2;
  options.trials = 5;
  options.out_dir = dir + "/out";
  auto summary = RunBench(
      options, StandardRouter(in_process->get(), Ours({{"random", 1}}), optuna_runner->get()));
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->total, 4);
  EXPECT_EQ(summary->ran, 2);
  EXPECT_EQ(summary->skipped, 2);
  ASSERT_EQ(summary->notes.size(), 1u);
  EXPECT_THAT(summary->notes[0], HasSubstr("optuna-tpe: skipped: optuna is not importable"));
  const std::string md = ReadFile(dir + "/out/report.md");
  EXPECT_THAT(md, HasSubstr("| branin | random | 2 | 5 | "));
  EXPECT_THAT(md, ::testing::Not(HasSubstr("| branin | optuna-tpe |")));
  EXPECT_THAT(md, HasSubstr("## Notes\n\n- optuna-tpe: skipped: optuna is not importable"));
}

TEST(BenchTest, RejectsBadOptionsAndUnknownOptimizers) {
  auto in_process = InProcessRunner::Create({});
  ASSERT_TRUE(in_process.ok());
  Router router = StandardRouter(in_process->get(), Ours({{"random", 1}}), nullptr);
  // Our optimizers' runs are fingerprinted by name and the revision of the build that runs them
  // (with --distributed, the coordinator's).
  ASSERT_TRUE(router("random:x=1").ok());
  EXPECT_EQ(router("random:x=1")->fingerprint, "hpo random r1");
  Router other_build = StandardRouter(in_process->get(), Ours({{"random", 7}}), nullptr);
  ASSERT_TRUE(other_build("random").ok());
  EXPECT_EQ(other_build("random")->fingerprint, "hpo random r7");
  BenchOptions options;
  options.optimizers = {"random", "bogus"};
  options.tasks = {"branin"};
  options.out_dir = TempDir("bad");
  auto unknown = RunBench(options, router);
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(unknown.status().message(),
              HasSubstr("--optimizers: unknown optimizer 'bogus' (known: random, optuna-tpe"));
  options.optimizers = {"random:x=1", "bogus:x=1"};
  EXPECT_THAT(RunBench(options, router).status().message(),
              HasSubstr("--optimizers: unknown optimizer 'bogus' (known: random, optuna-tpe"));
  options.optimizers = {"random:x"};
  EXPECT_EQ(RunBench(options, router).status().message(),
            "--optimizers: 'random:x': option 'x' is not key=value");
  options.optimizers = {"optuna-tpe:seed=1"};
  EXPECT_EQ(RunBench(options, router).status().message(),
            "--optimizers: 'optuna-tpe:seed=1': optuna-tpe takes no options");
  options.optimizers = {"optuna-tpe:"};
  EXPECT_EQ(RunBench(options, router).status().message(),
            "--optimizers: 'optuna-tpe:': optuna-tpe takes no options");
  // With a check, a variant's bad options stop the bench before any run.
  Router checked = StandardRouter(in_process->get(), server::OptimizerServerInfo(), nullptr,
                                  LocalOptionsCheck(server::OptimizerServerInfo()));
  options.optimizers = {"random", "tpe:bogus=1"};
  options.out_dir = TempDir("bad_option");
  auto bad_option = RunBench(options, checked);
  EXPECT_EQ(bad_option.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad_option.status().message(),
              HasSubstr("--optimizers: 'tpe:bogus=1': optimizer.options.bogus: unknown option"));
  EXPECT_FALSE(std::filesystem::exists(options.out_dir + "/results.sqlite"));
  EXPECT_TRUE(checked("tpe:n_startup_trials=3").ok());
  // A coordinator at another revision checks its own options: nothing is refused here.
  Router other_revision = StandardRouter(in_process->get(), Ours({{"tpe", 999}}), nullptr,
                                         LocalOptionsCheck(Ours({{"tpe", 999}})));
  EXPECT_TRUE(other_revision("tpe:bogus=1").ok());
  options.out_dir = TempDir("bad");
  options.optimizers = {"random", "random"};
  EXPECT_THAT(RunBench(options, router).status().message(), HasSubstr("'random' is named twice"));
  options.optimizers = {"random"};
  options.seeds = 0;
  EXPECT_EQ(RunBench(options, router).status().code(), absl::StatusCode::kInvalidArgument);
  options.seeds = 2;
  options.first_seed = std::numeric_limits<int>::max() - 1;
  EXPECT_THAT(RunBench(options, router).status().message(), HasSubstr("is too large"));
  options.first_seed = 0;
  // A route that could not tell its runs apart from another version's is refused.
  Router unmarked = [&](const std::string&) -> absl::StatusOr<Route> {
    return Route{in_process->get(), "", ""};
  };
  EXPECT_THAT(RunBench(options, unmarked).status().message(), HasSubstr("has no fingerprint"));
}

TEST(BenchTest, FailedRunsAreNotedAndRetriedNextTime) {
  // Fails after `fail_after` evals when that is below the budget.
  class FailingRunner final : public Runner {
   public:
    using Runner::Run;
    absl::StatusOr<RunRecord> Run(const RunSpec& spec, RunRecord* partial) override {
      RunRecord r;
      r.spec = spec;
      for (int i = 0; i < spec.trials; ++i) {
        if (i == fail_after) {
          if (partial != nullptr) *partial = r;
          return absl::InternalError(absl::StrCat(spec.Label(), ": boom"));
        }
        AppendEval(r, 10.0 - i, absl::StrCat("{\"i\":", i, "}"));
      }
      return r;
    }
    int fail_after = 0;
  } runner;
  BenchOptions options;
  options.optimizers = {"x"};
  options.tasks = {"branin"};
  options.trials = 3;
  options.out_dir = TempDir("fail");
  std::string fingerprint = "fp";
  Router router = [&](const std::string&) -> absl::StatusOr<Route> {
    return Route{&runner, "", fingerprint};
  };
  auto first = RunBench(options, router);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->failed, 1);
  EXPECT_THAT(ReadFile(options.out_dir + "/report.md"),
              HasSubstr("- failed: x/branin/seed=0/trials=3: boom\n"));
  auto db = ResultsDb::Open(options.out_dir + "/results.sqlite");
  ASSERT_TRUE(db.ok());
  EXPECT_EQ(*(*db)->CountRuns("failed"), 1);
  EXPECT_EQ(*(*db)->CountEvals(), 0);

  // A failure after two trials keeps them (in a 'failed' row, out of the report).
  runner.fail_after = 2;
  auto second = RunBench(options, router);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->failed, 1);
  EXPECT_THAT(second->notes[0], HasSubstr("boom (its 2 evaluated trials are in results.sqlite)"));
  EXPECT_EQ(*(*db)->CountRuns("failed"), 1);
  EXPECT_EQ(*(*db)->CountEvals(), 2);
  EXPECT_FALSE(
      (*(*db)->FindDone({"x", "branin", 0, 3}, RunFingerprint("fp", BraninDigest()))).has_value());

  runner.fail_after = 99;
  auto third = RunBench(options, router);
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->ran, 1);
  EXPECT_EQ(third->failed, 0);
  EXPECT_EQ(*(*db)->CountRuns("done"), 1);
  EXPECT_EQ(*(*db)->CountEvals(), 3);

  // Another fingerprint's attempt that fails leaves the finished run and its trials alone.
  fingerprint = "fp2";
  runner.fail_after = 1;
  auto fourth = RunBench(options, router);
  ASSERT_TRUE(fourth.ok());
  EXPECT_EQ(fourth->failed, 1);
  EXPECT_THAT(fourth->notes[0], HasSubstr("boom (results.sqlite keeps the earlier finished run)"));
  EXPECT_EQ(*(*db)->CountRuns("done"), 1);
  EXPECT_EQ(*(*db)->CountRuns("failed"), 0);
  auto kept = (*db)->FindDone({"x", "branin", 0, 3}, RunFingerprint("fp", BraninDigest()));
  ASSERT_TRUE(kept.ok() && kept->has_value());
  EXPECT_EQ((*kept)->evals.size(), 3u);
  EXPECT_EQ((*kept)->evals[2].params_json, "{\"i\":2}");
}

TEST(DigestTest, StableTextAndTaskDigests) {
  // FNV-1a 64 reference values.
  EXPECT_EQ(Digest(""), "cbf29ce484222325");
  EXPECT_EQ(Digest("a"), "af63dc4c8601ec8c");
  EXPECT_EQ(BraninDigest(), BraninDigest());
  EXPECT_EQ(BraninDigest().size(), 16u);
  // Another function on the same space, however close, and another space differ.
  absl::StatusOr<std::string> shifted = TaskDigest(ShiftedBranin(1e-9));
  ASSERT_TRUE(shifted.ok()) << shifted.status();
  EXPECT_NE(*shifted, BraninDigest());
  EXPECT_EQ(*TaskDigest(ShiftedBranin(0)), BraninDigest());
  auto camel = tasks::MakeTask("six_hump_camel");
  ASSERT_TRUE(camel.ok());
  EXPECT_NE(*TaskDigest(**camel), BraninDigest());
  // Every branch is probed: a change that only sgd assignments see still shows.
  auto mixed2 = tasks::MakeTask("mixed2");
  ASSERT_TRUE(mixed2.ok());
  const AdjustedTask sgd_changed("mixed2", [](const hpo::v1::ParamMap& params) {
    return params.values().at("optimizer").string_value() == "sgd" ? 1.0 : 0.0;
  });
  EXPECT_NE(*TaskDigest(**mixed2), *TaskDigest(sgd_changed));
  EXPECT_EQ(TaskDigest(BrokenTask()).status().code(), absl::StatusCode::kUnavailable);
}

// results.sqlite gives back a run only for the task that made it: a changed function is run
// again, the unchanged task's runs are reused.
TEST(BenchTest, AChangedTaskIsRunAgain) {
  class FakeRunner final : public Runner {
   public:
    using Runner::Run;
    absl::StatusOr<RunRecord> Run(const RunSpec& spec, RunRecord*) override {
      ++calls;
      RunRecord r;
      r.spec = spec;
      for (int i = 0; i < spec.trials; ++i) AppendEval(r, 1.0 - i, "{}");
      return r;
    }
    std::atomic<int> calls{0};
  } runner;
  double shift = 0;
  BenchOptions options;
  options.optimizers = {"x"};
  options.tasks = {"branin", "hartmann3"};
  options.trials = 3;
  options.out_dir = TempDir("changed");
  options.task_factory =
      [&shift](absl::string_view name) -> absl::StatusOr<std::unique_ptr<tasks::Task>> {
    if (name == "branin") {
      return std::unique_ptr<tasks::Task>(
          new AdjustedTask("branin", [shift](const hpo::v1::ParamMap&) { return shift; }));
    }
    return tasks::MakeTask(name);
  };
  Router router = [&](const std::string&) -> absl::StatusOr<Route> {
    return Route{&runner, "", "fp"};
  };
  auto first = RunBench(options, router);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->ran, 2);
  auto again = RunBench(options, router);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->reused, 2);
  EXPECT_EQ(runner.calls, 2);

  shift = 0.5;
  auto changed = RunBench(options, router);
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_EQ(changed->ran, 1);
  EXPECT_EQ(changed->reused, 1);
  EXPECT_EQ(runner.calls, 3);
  auto db = ResultsDb::Open(options.out_dir + "/results.sqlite");
  ASSERT_TRUE(db.ok());
  auto found =
      (*db)->FindDone({"x", "branin", 0, 3}, RunFingerprint("fp", *TaskDigest(ShiftedBranin(0.5))));
  ASSERT_TRUE(found.ok());
  EXPECT_TRUE(found->has_value());
  EXPECT_EQ(RunFingerprint("hpo tpe r4", "0123456789abcdef"), "hpo tpe r4; task 0123456789abcdef");

  // A task that cannot be evaluated fails its runs; the others still run (or are reused).
  options.tasks = {"broken", "hartmann3"};
  auto factory = options.task_factory;
  options.task_factory =
      [factory](absl::string_view name) -> absl::StatusOr<std::unique_ptr<tasks::Task>> {
    if (name == "broken") return std::unique_ptr<tasks::Task>(new BrokenTask());
    return factory(name);
  };
  auto broken = RunBench(options, router);
  ASSERT_TRUE(broken.ok()) << broken.status();
  EXPECT_EQ(broken->total, 2);
  EXPECT_EQ(broken->failed, 1);
  EXPECT_EQ(broken->reused, 1);
  ASSERT_EQ(broken->notes.size(), 1u);
  EXPECT_EQ(broken->notes[0],
            "failed: broken: cannot evaluate the task (the helper died); 1 runs not made");
}

TEST(InProcessRunnerTest, AFailedRunHandsBackTheTrialsItMade) {
  // Branin, whose evaluation fails from the fourth trial on.
  class Brittle final : public tasks::Task {
   public:
    std::string name() const override { return inner_->name(); }
    hpo::v1::SearchSpace space() const override { return inner_->space(); }
    double optimum() const override { return inner_->optimum(); }
    hpo::v1::ParamMap optimum_params() const override { return inner_->optimum_params(); }
    absl::StatusOr<double> Evaluate(const hpo::v1::ParamMap& params,
                                    const tasks::TaskOptions& options,
                                    tasks::Reporter& reporter) const override {
      if (++calls_ > 3) return absl::InternalError("the task broke");
      return inner_->Evaluate(params, options, reporter);
    }

   private:
    std::unique_ptr<tasks::Task> inner_ = *tasks::MakeTask("branin");
    mutable std::atomic<int> calls_{0};
  };
  InProcessRunner::Options o;
  o.task_factory = [](absl::string_view) -> absl::StatusOr<std::unique_ptr<tasks::Task>> {
    return std::unique_ptr<tasks::Task>(std::make_unique<Brittle>());
  };
  auto runner = InProcessRunner::Create(o);
  ASSERT_TRUE(runner.ok());
  RunRecord partial;
  auto run = (*runner)->Run({"random", "branin", 0, 10}, &partial);
  EXPECT_EQ(run.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(run.status().message(),
              HasSubstr("random/branin/seed=0/trials=10: trial 3: the task broke"));
  EXPECT_EQ(partial.spec, (RunSpec{"random", "branin", 0, 10}));
  ASSERT_EQ(partial.evals.size(), 3u);
  auto full = (*InProcessRunner::Create({}))->Run({"random", "branin", 0, 10});
  ASSERT_TRUE(full.ok());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(partial.evals[i].params_json, full->evals[i].params_json);
  EXPECT_NEAR(partial.optimum, 0.397887, 1e-6);
}

// ------------------------------------------------------------------ distributed

// A coordinator stand-in: a study is finished as soon as it is created, its trials computed
// with the same optimizer in-process, with a LOST first attempt of trial 1, over two pages.
class FakeBackend final : public backend::Backend {
 public:
  absl::StatusOr<hpo::v1::Study> CreateStudy(const hpo::v1::StudySpec& spec) override {
    absl::MutexLock lock(&mu_);
    if (studies_.count(spec.name())) return absl::AlreadyExistsError(spec.name());
    hpo::v1::Study study;
    study.set_id(static_cast<int64_t>(studies_.size()) + 1);
    *study.mutable_spec() = spec;
    study.set_state(hpo::v1::STUDY_COMPLETED);
    auto task = tasks::MakeTask(spec.task().builtin());
    if (!task.ok()) return task.status();
    auto opt = server::MakeOptimizer(spec.optimizer(), spec.space());
    if (!opt.ok()) return opt.status();
    std::vector<hpo::v1::Trial> trials;
    for (int n = 0; n < spec.budget().max_trials(); ++n) {
      auto params = (*opt)->Suggest({&spec, &trials}, {n});
      if (!params.ok()) return params.status();
      if (n == 1) {
        hpo::v1::Trial& lost = trials.emplace_back();
        lost.set_number(n);
        lost.set_state(hpo::v1::LOST);
        *lost.mutable_params() = (*params)[0];
      }
      hpo::v1::Trial& t = trials.emplace_back();
      t.set_number(n);
      t.set_attempt(n == 1 ? 1 : 0);
      t.set_state(hpo::v1::COMPLETED);
      *t.mutable_params() = (*params)[0];
      t.set_has_value(true);
      auto* synthetic = dynamic_cast<tasks::SyntheticTask*>(task->get());
      t.set_value(synthetic->Value((*params)[0]));
    }
    study.mutable_counts()->set_completed(spec.budget().max_trials());
    study.set_optimizer_revision(server::OptimizerRevision(spec.optimizer().name()));
    studies_[spec.name()] = study;
    trials_[spec.name()] = trials;
    created.push_back(spec);
    return study;
  }
  absl::StatusOr<hpo::v1::Study> GetStudy(const std::string& name) override {
    absl::MutexLock lock(&mu_);
    auto it = studies_.find(name);
    if (it == studies_.end()) return absl::NotFoundError(name);
    return it->second;
  }
  absl::StatusOr<hpo::v1::ListTrialsResponse> ListTrials(
      const hpo::v1::ListTrialsRequest& req) override {
    absl::MutexLock lock(&mu_);
    const auto& all = trials_[req.study_name()];
    const size_t half = all.size() / 2;
    const bool second = req.page_token() == "p2";
    hpo::v1::ListTrialsResponse resp;
    // Newest first on the first page, to check the runner orders by number.
    for (size_t i = second ? half : 0; i < (second ? all.size() : half); ++i) {
      *resp.add_trials() = all[second ? i : half - 1 - i];
    }
    if (!second) resp.set_next_page_token("p2");
    return resp;
  }
  absl::StatusOr<hpo::v1::ListStudiesResponse> ListStudies() override {
    return absl::UnimplementedError("");
  }
  absl::StatusOr<hpo::v1::Study> StopStudy(const std::string&) override {
    return absl::UnimplementedError("");
  }
  absl::StatusOr<hpo::v1::Trial> GetTrial(int64_t) override { return absl::UnimplementedError(""); }
  absl::StatusOr<hpo::v1::Trial> EnqueueTrial(const std::string&,
                                              const hpo::v1::ParamMap&) override {
    return absl::UnimplementedError("");
  }
  absl::StatusOr<hpo::v1::Trial> GetBestTrial(const std::string&) override {
    return absl::UnimplementedError("");
  }
  absl::StatusOr<hpo::v1::DeleteStudyResponse> DeleteStudy(const std::string&) override {
    return absl::UnimplementedError("");
  }
  absl::StatusOr<hpo::v1::Study> ExtendStudy(const std::string&, int) override {
    return absl::UnimplementedError("");
  }
  absl::StatusOr<hpo::v1::Trial> AddTrial(const hpo::v1::AddTrialRequest&) override {
    return absl::UnimplementedError("");
  }
  absl::Status Watch(const std::string&,
                     const std::function<bool(const hpo::v1::StudyEvent&)>&) override {
    return absl::UnimplementedError("");
  }
  absl::StatusOr<hpo::v1::ServerInfo> GetServerInfo() override {
    absl::MutexLock lock(&mu_);
    return server_info;
  }

  // What GetServerInfo answers (this build's registry unless a test changes it).
  hpo::v1::ServerInfo server_info = server::OptimizerServerInfo();

  void AddEndedStudy(const std::string& name) {
    absl::MutexLock lock(&mu_);
    studies_[name].set_state(hpo::v1::STUDY_STOPPED);
  }

  std::vector<hpo::v1::StudySpec> created;

 private:
  absl::Mutex mu_;
  std::map<std::string, hpo::v1::Study> studies_;
  std::map<std::string, std::vector<hpo::v1::Trial>> trials_;
};

TEST(DistributedRunnerTest, SameRecordAsInProcessAndFreshNameWhenTaken) {
  FakeBackend backend;
  backend.AddEndedStudy("t-bench-random-branin-s2-n12");
  DistributedRunner::Options options;
  options.backend = &backend;
  options.study_prefix = "t-";
  auto runner = DistributedRunner::Create(options);
  ASSERT_TRUE(runner.ok());
  auto remote = (*runner)->Run({"random", "branin", 2, 12});
  ASSERT_TRUE(remote.ok()) << remote.status();
  ASSERT_EQ(backend.created.size(), 1u);
  const hpo::v1::StudySpec& spec = backend.created[0];
  EXPECT_EQ(spec.name(), "t-bench-random-branin-s2-n12-r1");
  EXPECT_EQ(spec.task().builtin(), "branin");
  EXPECT_EQ(spec.budget().max_parallel(), 1);
  EXPECT_EQ(spec.budget().max_trials(), 12);
  EXPECT_EQ(spec.optimizer().seed(), 2);
  EXPECT_EQ(spec.objective().direction(), hpo::v1::MINIMIZE);

  auto local = (*InProcessRunner::Create({}))->Run({"random", "branin", 2, 12});
  ASSERT_TRUE(local.ok());
  ASSERT_EQ(remote->evals.size(), 12u);
  for (size_t i = 0; i < 12; ++i) {
    EXPECT_EQ(remote->evals[i].params_json, local->evals[i].params_json) << i;
    EXPECT_EQ(remote->evals[i].value, local->evals[i].value) << i;
  }
  EXPECT_EQ(remote->best(), local->best());
  EXPECT_EQ(remote->optimum, local->optimum);

  // The finished study serves the same run again (an interrupted bench, a lost results.sqlite).
  auto again = (*runner)->Run({"random", "branin", 2, 12});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(backend.created.size(), 1u);
  EXPECT_EQ(again->evals[11].params_json, remote->evals[11].params_json);
  // Not when the coordinator now runs another revision of the optimizer: a new study.
  auto other = Ours({{"random", server::OptimizerRevision("random") + 1}});
  backend.server_info = other;
  auto rerun = (*DistributedRunner::Create(options))->Run({"random", "branin", 2, 12});
  ASSERT_TRUE(rerun.ok()) << rerun.status();
  ASSERT_EQ(backend.created.size(), 2u);
  EXPECT_EQ(backend.created[1].name(), "t-bench-random-branin-s2-n12-r2");
}

}  // namespace
}  // namespace hpo::harness
