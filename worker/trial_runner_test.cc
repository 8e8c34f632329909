#include "worker/trial_runner.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "worker/test_util.h"

namespace hpo::worker {
namespace {

using test_util::ReadFile;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

// Records measurements; answers STOP once `stop_at` measurements have arrived (0 = never). Each
// report takes `delay` (a slow coordinator).
class RecordingSink final : public ProgressSink {
 public:
  explicit RecordingSink(int stop_at = 0, absl::Duration delay = absl::ZeroDuration())
      : stop_at_(stop_at), delay_(delay) {}
  hpo::v1::Decision Report(const std::vector<hpo::v1::Measurement>& batch) override {
    EXPECT_FALSE(batch.empty());
    absl::SleepFor(delay_);
    absl::MutexLock lock(&mu_);
    ++reports_;
    measurements_.insert(measurements_.end(), batch.begin(), batch.end());
    if (!first_.HasBeenNotified()) first_.Notify();
    return stop_at_ > 0 && static_cast<int>(measurements_.size()) >= stop_at_ ? hpo::v1::STOP
                                                                              : hpo::v1::CONTINUE;
  }
  std::vector<hpo::v1::Measurement> measurements() {
    absl::MutexLock lock(&mu_);
    return measurements_;
  }
  int reports() {
    absl::MutexLock lock(&mu_);
    return reports_;
  }
  absl::Notification& first() { return first_; }

 private:
  const int stop_at_;
  const absl::Duration delay_;
  absl::Mutex mu_;
  int reports_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<hpo::v1::Measurement> measurements_ ABSL_GUARDED_BY(mu_);
  absl::Notification first_;
};

std::string MakeTempDir() { return test_util::MakeTempDir("trial_runner_test"); }

// A study on the mixed space whose task is `/bin/sh -c SCRIPT sh ARGS...`.
hpo::v1::StudySpec ShellStudy(const std::string& script,
                              const std::vector<std::string>& args = {}) {
  hpo::v1::StudySpec spec;
  spec.set_name("shell-study");
  spec.mutable_objective()->set_metric("value");
  spec.mutable_objective()->set_direction(hpo::v1::MINIMIZE);
  auto* space = spec.mutable_space();
  auto* x = space->add_params();
  x->set_name("x");
  x->mutable_float_domain()->set_low(-5);
  x->mutable_float_domain()->set_high(5);
  auto* kind = space->add_params();
  kind->set_name("kind");
  for (const char* c : {"a", "b"}) kind->mutable_categorical()->add_choices()->set_string_value(c);
  auto* y = space->add_params();
  y->set_name("y");
  y->mutable_int_domain()->set_low(0);
  y->mutable_int_domain()->set_high(9);
  y->mutable_condition()->set_parent("kind");
  y->mutable_condition()->add_values()->set_string_value("b");
  auto* cmd = spec.mutable_task()->mutable_command();
  cmd->add_argv("/bin/sh");
  cmd->add_argv("-c");
  cmd->add_argv(script);
  cmd->add_argv("sh");
  for (const std::string& a : args) cmd->add_argv(a);
  return spec;
}

hpo::v1::Trial MixedTrial(double x, const std::string& kind, std::optional<int> y = std::nullopt) {
  hpo::v1::Trial trial;
  trial.set_id(42);
  trial.set_study_id(7);
  (*trial.mutable_params()->mutable_values())["x"].set_float_value(x);
  (*trial.mutable_params()->mutable_values())["kind"].set_string_value(kind);
  if (y.has_value()) (*trial.mutable_params()->mutable_values())["y"].set_int_value(*y);
  return trial;
}

TrialRunnerOptions Options(const std::string& log_path = "") {
  TrialRunnerOptions options;
  options.hpo_task_path = HPO_TASK_PATH;
  options.log_path = log_path;
  options.kill_grace = absl::Milliseconds(200);
  return options;
}

TrialOutcome RunScript(const std::string& script, RecordingSink& sink,
                       const std::string& log_path = "", double timeout_s = 0) {
  hpo::v1::StudySpec spec = ShellStudy(script);
  spec.mutable_budget()->set_trial_timeout_s(timeout_s);
  TrialRunner runner(MixedTrial(0.5, "a"), spec, Options(log_path));
  return runner.Run(sink);
}

TEST(TrialRunnerTest, CompletesWithMetricLinesAndLogsTheRest) {
  const std::string log = MakeTempDir() + "/trial.log";
  RecordingSink sink;
  TrialOutcome outcome = RunScript(
      "echo starting; echo 'hpo-metric {\"step\": 5, \"value\": 3.5, \"acc\": 0.1}'; "
      "echo 'hpo-metric {\"value\": 2.5}'; echo 'hpo-metric {\"value\": oops}'; "
      "echo to-stderr >&2; echo 'hpo-metric {\"value\": 1.5, \"acc\": 0.9}'",
      sink, log);
  EXPECT_EQ(outcome.state, hpo::v1::COMPLETED) << outcome.failure_reason;
  EXPECT_EQ(outcome.failure_reason, "");
  EXPECT_THAT(outcome.final_metrics, UnorderedElementsAre(Pair("value", 1.5), Pair("acc", 0.9)));
  std::vector<hpo::v1::Measurement> ms = sink.measurements();
  ASSERT_EQ(ms.size(), 3u);
  EXPECT_EQ(ms[0].step(), 5);  // given
  EXPECT_EQ(ms[1].step(), 1);  // counter of reports
  EXPECT_EQ(ms[2].step(), 2);
  EXPECT_EQ(ms[0].metrics().at("value"), 3.5);
  EXPECT_EQ(ms[0].metrics().at("acc"), 0.1);
  EXPECT_EQ(ms[2].metrics().at("value"), 1.5);
  EXPECT_GT(ms[0].time_ms(), 0);
  const std::string text = ReadFile(log);
  EXPECT_THAT(text, HasSubstr("starting\n"));
  EXPECT_THAT(text, HasSubstr("to-stderr\n"));
  EXPECT_THAT(text, HasSubstr("hpo-worker: warning: ignored a bad metric line ("));
  EXPECT_THAT(text, HasSubstr("): hpo-metric {\"value\": oops}\n"));
  EXPECT_THAT(text, Not(HasSubstr("3.5")));
}

TEST(TrialRunnerTest, FinalLineIsTheResult) {
  RecordingSink sink;
  TrialOutcome outcome = RunScript(
      "echo 'hpo-metric {\"value\": 5, \"final\": true}'; echo 'hpo-metric {\"value\": 7}'", sink);
  EXPECT_EQ(outcome.state, hpo::v1::COMPLETED) << outcome.failure_reason;
  EXPECT_THAT(outcome.final_metrics, ElementsAre(Pair("value", 5)));
  EXPECT_EQ(sink.measurements().size(), 2u);

  // Without a final line, the last value of each metric.
  outcome = RunScript(
      "echo 'hpo-metric {\"value\": 5, \"loss\": 1}'; echo 'hpo-metric {\"loss\": 0.5}'", sink);
  EXPECT_EQ(outcome.state, hpo::v1::COMPLETED) << outcome.failure_reason;
  EXPECT_THAT(outcome.final_metrics, UnorderedElementsAre(Pair("value", 5), Pair("loss", 0.5)));
}

TEST(TrialRunnerTest, RunsTheBuiltinTaskBinary) {
  hpo::v1::StudySpec spec;
  spec.set_name("branin-study");
  spec.mutable_objective()->set_metric("value");
  spec.mutable_task()->set_builtin("branin");
  (*spec.mutable_task()->mutable_builtin_args())["steps"] = "3";
  for (const char* name : {"x1", "x2"}) {
    auto* p = spec.mutable_space()->add_params();
    p->set_name(name);
    p->mutable_float_domain()->set_low(-5);
    p->mutable_float_domain()->set_high(15);
  }
  hpo::v1::Trial trial;
  trial.set_id(1);
  (*trial.mutable_params()->mutable_values())["x1"].set_float_value(M_PI);
  (*trial.mutable_params()->mutable_values())["x2"].set_float_value(2.275);
  EXPECT_THAT(
      TrialRunner::BuildArgv(trial, spec, "/bin/hpo-task").value(),
      ElementsAre("/bin/hpo-task", "branin", "--x1=3.141592653589793", "--x2=2.275", "--steps=3"));

  RecordingSink sink;
  TrialRunner runner(trial, spec, Options());
  TrialOutcome outcome = runner.Run(sink);
  EXPECT_EQ(outcome.state, hpo::v1::COMPLETED) << outcome.failure_reason;
  EXPECT_NEAR(outcome.final_metrics.at("value"), 0.397887, 1e-5);
  std::vector<hpo::v1::Measurement> ms = sink.measurements();
  ASSERT_EQ(ms.size(), 3u);
  EXPECT_EQ(ms[0].step(), 1);
  EXPECT_EQ(ms[2].step(), 3);
  EXPECT_GT(ms[0].metrics().at("value"), ms[2].metrics().at("value"));

  // hpo-task rejects bad input with exit code 2 and says why in the log.
  const std::string log = MakeTempDir() + "/trial.log";
  (*spec.mutable_task()->mutable_builtin_args())["steps"] = "0";
  TrialRunner bad(trial, spec, Options(log));
  outcome = bad.Run(sink);
  EXPECT_EQ(outcome.state, hpo::v1::FAILED);
  EXPECT_EQ(outcome.failure_reason, "exit code 2");
  EXPECT_THAT(ReadFile(log), HasSubstr("hpo-task: --steps: expected an integer >= 1, got '0'"));
}

TEST(TrialRunnerTest, StopPrunesAndKillsTheProcess) {
  RecordingSink sink(/*stop_at=*/2);
  // Ignores SIGTERM, so only the SIGKILL after the grace ends it.
  TrialOutcome outcome = RunScript(
      "trap '' TERM; echo \"hpo-metric {\\\"pid\\\": $$, \\\"value\\\": 9}\"; i=0; "
      "while :; do i=$((i+1)); echo \"hpo-metric {\\\"value\\\": $i}\"; sleep 0.01; done",
      sink);
  EXPECT_EQ(outcome.state, hpo::v1::PRUNED);
  EXPECT_EQ(outcome.failure_reason, "");
  // The first line is reported at once, the next ones together a report interval later; the
  // result is the last line read, the last one reported.
  std::vector<hpo::v1::Measurement> ms = sink.measurements();
  ASSERT_GE(ms.size(), 2u);
  EXPECT_EQ(sink.reports(), 2);
  EXPECT_EQ(outcome.final_metrics.at("value"), ms.back().metrics().at("value"));
  EXPECT_EQ(ms.back().metrics().at("value"), static_cast<double>(ms.size() - 1));
  const pid_t pid = static_cast<pid_t>(ms[0].metrics().at("pid"));
  EXPECT_EQ(::kill(pid, 0), -1);  // gone and reaped
  EXPECT_EQ(errno, ESRCH);
}

// The program of issue 17: a 10 MB line, 20,000 metric lines and a final one, read while every
// report takes 50 ms. Everything is read, each step is reported once, in a few reports, and the
// final line is the result.
TEST(TrialRunnerTest, ChattyTrialWithASlowSinkKeepsItsFinalValue) {
  RecordingSink sink(/*stop_at=*/0, /*delay=*/absl::Milliseconds(50));
  TrialOutcome outcome = RunScript(
      "head -c 10000000 /dev/zero | tr '\\0' x; echo; "
      "seq 0 19999 | sed 's/.*/hpo-metric {\"step\": &, \"value\": &}/'; "
      "echo 'hpo-metric {\"step\": 20001, \"value\": 0.5, \"final\": true}'",
      sink);
  EXPECT_EQ(outcome.state, hpo::v1::COMPLETED) << outcome.failure_reason;
  EXPECT_EQ(outcome.final_metrics.at("value"), 0.5);
  std::vector<hpo::v1::Measurement> ms = sink.measurements();
  ASSERT_EQ(ms.size(), 20001u);
  for (int i = 0; i < 20000; ++i) {
    ASSERT_EQ(ms[i].step(), i);
    ASSERT_EQ(ms[i].metrics().at("value"), i);
  }
  EXPECT_EQ(ms.back().step(), 20001);
  EXPECT_EQ(ms.back().metrics().at("value"), 0.5);
  EXPECT_LT(sink.reports(), 200);
}

// Lines between two reports are coalesced: one measurement per step, in the order the steps
// first appeared, a repeated step's metrics merged (the later value wins).
TEST(TrialRunnerTest, ReportsCoalesceTheLatestValuePerStep) {
  hpo::v1::StudySpec spec = ShellStudy(
      "echo 'hpo-metric {\"step\": 1, \"value\": 2}'; "
      "echo 'hpo-metric {\"step\": 2, \"value\": 1}'; "
      "echo 'hpo-metric {\"step\": 1, \"acc\": 0.5}'; "
      "echo 'hpo-metric {\"step\": 2, \"value\": 0.8}'");
  TrialRunnerOptions options = Options();
  options.report_interval = absl::Seconds(30);  // only the first line goes before the end
  RecordingSink sink;
  TrialRunner runner(MixedTrial(0.5, "a"), spec, options);
  TrialOutcome outcome = runner.Run(sink);
  EXPECT_EQ(outcome.state, hpo::v1::COMPLETED) << outcome.failure_reason;
  EXPECT_EQ(sink.reports(), 2);
  std::vector<hpo::v1::Measurement> ms = sink.measurements();
  ASSERT_EQ(ms.size(), 3u);
  EXPECT_EQ(ms[0].step(), 1);
  EXPECT_THAT(ms[0].metrics(), UnorderedElementsAre(Pair("value", 2)));
  EXPECT_EQ(ms[1].step(), 2);
  EXPECT_THAT(ms[1].metrics(), UnorderedElementsAre(Pair("value", 0.8)));
  EXPECT_EQ(ms[2].step(), 1);
  EXPECT_THAT(ms[2].metrics(), UnorderedElementsAre(Pair("acc", 0.5)));
  EXPECT_THAT(outcome.final_metrics, UnorderedElementsAre(Pair("value", 0.8), Pair("acc", 0.5)));
}

// A measurement held back by the rate limit is sent when it is due, not when the next line or
// the end of the trial comes.
TEST(TrialRunnerTest, AHeldBackMeasurementIsReportedWhenDue) {
  hpo::v1::StudySpec spec = ShellStudy(
      "echo 'hpo-metric {\"value\": 2}'; echo 'hpo-metric {\"value\": 1}'; exec sleep 60");
  TrialRunnerOptions options = Options();
  options.report_interval = absl::Milliseconds(100);
  RecordingSink sink;
  TrialRunner runner(MixedTrial(0.5, "a"), spec, options);
  TrialOutcome outcome;
  std::thread thread([&] { outcome = runner.Run(sink); });
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (sink.measurements().size() < 2 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ(sink.measurements().size(), 2u);
  runner.Prune();
  thread.join();
  EXPECT_EQ(outcome.state, hpo::v1::PRUNED);
  EXPECT_EQ(outcome.final_metrics.at("value"), 1);
}

TEST(TrialRunnerTest, FailureReasons) {
  RecordingSink sink;
  const std::string ok_line = "echo 'hpo-metric {\"value\": 1}'; ";
  struct Case {
    std::string script;
    std::string reason;
  } cases[] = {
      {ok_line + "exit 3", "exit code 3"},
      {ok_line + "kill -9 $$", "killed by signal 9"},
      {"echo 'hpo-metric {\"loss\": 1}'", "no metric 'value' reported"},
      {"true", "no metric 'value' reported"},
      {"echo 'hpo-metric {\"value\": NaN}'", "objective 'value' is NaN"},
      {"echo 'hpo-metric {\"value\": -Infinity}'", "objective 'value' is -inf"},
      {"echo 'hpo-metric {\"value\": true}'; echo 'hpo-metric {\"value\": 1, \"step\": -5}'",
       "no metric 'value' reported; 2 bad metric lines were ignored, the first: value of 'value' "
       "is a boolean, expected a number"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.script);
    TrialOutcome outcome = RunScript(c.script, sink);
    EXPECT_EQ(outcome.state, hpo::v1::FAILED);
    EXPECT_EQ(outcome.failure_reason, c.reason);
  }
}

TEST(TrialRunnerTest, AnOutOfMemoryMessageBecomesTheFailureReason) {
  const std::string log = MakeTempDir() + "/trial.log";
  RecordingSink sink;
  // What PyTorch prints when a CUDA allocation fails, then a traceback's last words.
  const std::string script =
      "echo 'hpo-metric {\"value\": 1, \"step\": 1}'; "
      "echo 'torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; "
      "79.11 GiB total capacity)' >&2; echo 'during handling...' >&2; exit 1";
  TrialOutcome outcome = RunScript(script, sink, log);
  EXPECT_EQ(outcome.state, hpo::v1::FAILED);
  EXPECT_EQ(outcome.failure_reason,
            "exit code 1: torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB "
            "(GPU 0; 79.11 GiB total capacity)");
  // Without such a line the reason is the exit alone.
  outcome = RunScript("echo 'memory is fine' >&2; exit 1", sink, MakeTempDir() + "/t.log");
  EXPECT_EQ(outcome.failure_reason, "exit code 1");
}

TEST(TrialRunnerTest, SpawnFailure) {
  hpo::v1::StudySpec spec = ShellStudy("");
  spec.mutable_task()->mutable_command()->clear_argv();
  spec.mutable_task()->mutable_command()->add_argv("/nonexistent/trainer");
  RecordingSink sink;
  TrialRunner runner(MixedTrial(0, "a"), spec, Options());
  TrialOutcome outcome = runner.Run(sink);
  EXPECT_EQ(outcome.state, hpo::v1::FAILED);
  EXPECT_EQ(outcome.failure_reason, "cannot run '/nonexistent/trainer': No such file or directory");
}

TEST(TrialRunnerTest, Timeout) {
  RecordingSink sink;
  const absl::Time start = absl::Now();
  TrialOutcome outcome =
      RunScript("echo 'hpo-metric {\"value\": 1}'; exec sleep 30", sink, "", /*timeout_s=*/0.2);
  EXPECT_EQ(outcome.state, hpo::v1::FAILED);
  EXPECT_EQ(outcome.failure_reason, "timed out after 0.2 s");
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));

  // Also when stdout is closed but the process keeps running.
  outcome = RunScript("exec >&-; exec sleep 30", sink, "", /*timeout_s=*/0.2);
  EXPECT_EQ(outcome.failure_reason, "timed out after 0.2 s");
}

// A background process that inherits stdout neither holds the trial until its timeout nor
// outlives it.
TEST(TrialRunnerTest, BackgroundProcessesDoNotHoldOrOutliveTheTrial) {
  // Become the reaper of orphans so the background process's end is observable here.
  test_util::ScopedSubreaper subreaper;
  ASSERT_TRUE(subreaper.ok());
  RecordingSink sink;
  const absl::Time start = absl::Now();
  TrialOutcome outcome =
      RunScript("sleep 1000 & echo \"hpo-metric {\\\"value\\\": 1, \\\"bg\\\": $!}\"; exit 0", sink,
                "", /*timeout_s=*/10);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ(outcome.state, hpo::v1::COMPLETED) << outcome.failure_reason;
  ASSERT_EQ(sink.measurements().size(), 1u);
  const pid_t bg = static_cast<pid_t>(sink.measurements()[0].metrics().at("bg"));
  ASSERT_GT(bg, 0);
  std::optional<int> status = test_util::AwaitReaped(bg, absl::Seconds(5));
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL);
  EXPECT_EQ(::kill(bg, 0), -1);
  EXPECT_EQ(errno, ESRCH);
}

TEST(TrialRunnerTest, SubstitutesParameters) {
  // core::SubstitutePlaceholders: {name} of an active parameter is replaced; a shell ${VAR} and a
  // placeholder of an inactive conditional parameter ({y} when kind != b) stay as written.
  hpo::v1::StudySpec spec = ShellStudy("", {"{x}", "kind={kind}", "[{y}]", "{unknown}", "{{x}}",
                                            "{x}{kind}", "${HOME} {x}", "${x}"});
  EXPECT_THAT(TrialRunner::BuildArgv(MixedTrial(0.1, "a"), spec, "").value(),
              ElementsAre("/bin/sh", "-c", "", "sh", "0.1", "kind=a", "[{y}]", "{unknown}", "{0.1}",
                          "0.1a", "${HOME} 0.1", "${x}"));
  EXPECT_THAT(TrialRunner::BuildArgv(MixedTrial(-2, "b", 7), spec, "").value(),
              ElementsAre("/bin/sh", "-c", "", "sh", "-2", "kind=b", "[7]", "{unknown}", "{-2}",
                          "-2b", "${HOME} -2", "${x}"));

  // In a shell script, ${VAR} is left for the shell and {param} is the value.
  {
    hpo::v1::StudySpec sh = ShellStudy("");
    sh.mutable_task()->mutable_command()->set_argv(
        2, "x=shell; test \"${x}\" = shell && echo \"hpo-metric {\\\"value\\\": {y}}\"");
    RecordingSink sink;
    TrialRunner runner(MixedTrial(1, "b", 6), sh, Options());
    TrialOutcome outcome = runner.Run(sink);
    EXPECT_EQ(outcome.state, hpo::v1::COMPLETED) << outcome.failure_reason;
    EXPECT_EQ(outcome.final_metrics.at("value"), 6);
  }

  // The child really gets them.
  spec = ShellStudy("echo \"hpo-metric {\\\"value\\\": $1}\"; test \"$2\" = kind=b",
                    {"{y}", "kind={kind}"});
  RecordingSink sink;
  TrialRunner runner(MixedTrial(1, "b", 4), spec, Options());
  TrialOutcome outcome = runner.Run(sink);
  EXPECT_EQ(outcome.state, hpo::v1::COMPLETED) << outcome.failure_reason;
  EXPECT_EQ(outcome.final_metrics.at("value"), 4);
}

TEST(TrialRunnerTest, EnvironmentReachesTheChild) {
  const std::string dir = MakeTempDir();
  hpo::v1::StudySpec spec = ShellStudy(
      "echo \"params=$HPO_PARAMS\"; echo \"id=$HPO_TRIAL_ID study=$HPO_STUDY\"; "
      "echo \"cuda=[${CUDA_VISIBLE_DEVICES-unset}] extra=$EXTRA pwd=$(pwd)\"; "
      "echo 'hpo-metric {\"value\": 0}'");
  (*spec.mutable_task()->mutable_command()->mutable_env())["EXTRA"] = "yes";
  spec.mutable_task()->mutable_command()->set_workdir(dir);

  RecordingSink sink;
  TrialRunnerOptions options = Options(dir + "/gpu.log");
  options.gpus = {"1", "3"};
  TrialRunner runner(MixedTrial(0.5, "b", 2), spec, options);
  EXPECT_EQ(runner.Run(sink).state, hpo::v1::COMPLETED);
  const std::string text = ReadFile(dir + "/gpu.log");
  EXPECT_THAT(text, HasSubstr("params={\"kind\":\"b\",\"x\":0.5,\"y\":2}\n"));
  EXPECT_THAT(text, HasSubstr("id=42 study=shell-study\n"));
  EXPECT_THAT(text, HasSubstr("cuda=[1,3] extra=yes pwd=" + dir + "\n"));

  TrialRunner no_gpu(MixedTrial(0.5, "a"), spec, Options(dir + "/nogpu.log"));
  EXPECT_EQ(no_gpu.Run(sink).state, hpo::v1::COMPLETED);
  EXPECT_THAT(ReadFile(dir + "/nogpu.log"), HasSubstr("cuda=[] extra=yes"));
}

hpo::v1::Trial Attempt(int number, int attempt, int64_t id) {
  hpo::v1::Trial trial = MixedTrial(0.5, "a");
  trial.set_number(number);
  trial.set_attempt(attempt);
  trial.set_id(id);
  return trial;
}

TEST(TrialRunnerTest, TrialDirIsOnePerTrialNumber) {
  hpo::v1::StudySpec spec = ShellStudy("");
  EXPECT_EQ(TrialRunner::TrialDir(Attempt(3, 0, 42), spec, "/w"), "/w/shell-study/3");
  EXPECT_EQ(TrialRunner::TrialDir(Attempt(3, 1, 43), spec, "/w/"), "/w/shell-study/3");
  EXPECT_EQ(TrialRunner::TrialDir(Attempt(4, 0, 44), spec, "/w"), "/w/shell-study/4");
  EXPECT_EQ(TrialRunner::TrialDir(Attempt(3, 0, 42), spec, ""), "");  // no root: no directory
  EXPECT_EQ(TrialRunner::TrialDir(Attempt(3, 0, 42), spec, "rel"),
            std::filesystem::current_path().string() + "/rel/shell-study/3");
  // The study's root wins over the worker's.
  spec.mutable_task()->set_trial_dir_root("/shared/ckpt/");
  EXPECT_EQ(TrialRunner::TrialDir(Attempt(3, 0, 42), spec, "/w"), "/shared/ckpt/shell-study/3");
  spec.mutable_task()->set_trial_dir_root("/");
  EXPECT_EQ(TrialRunner::TrialDir(Attempt(3, 0, 42), spec, "/w"), "/shell-study/3");
  // A name that is not one path component becomes study-<study id> (MixedTrial's is 7).
  spec.mutable_task()->clear_trial_dir_root();
  for (const std::string& name :
       std::vector<std::string>{"../up", "..", ".", "", "a/b", std::string("a\0b", 3)}) {
    spec.set_name(name);
    EXPECT_EQ(TrialRunner::TrialDir(Attempt(3, 0, 42), spec, "/w"), "/w/study-7/3") << name;
  }
}

TEST(TrialRunnerTest, TrialDirIsKeptAcrossAttempts) {
  const std::string dir = MakeTempDir();
  const std::string root = dir + "/trials";  // made by the runner
  // Reports how many runs of its trial number came before it, counted in HPO_TRIAL_DIR.
  hpo::v1::StudySpec spec = ShellStudy(
      "echo \"number=$HPO_TRIAL_NUMBER dir=$HPO_TRIAL_DIR\"; "
      "n=$(cat \"$HPO_TRIAL_DIR/runs\" 2>/dev/null || echo 0); "
      "echo $((n + 1)) > \"$HPO_TRIAL_DIR/runs\"; echo \"hpo-metric {\\\"value\\\": $n}\"");
  auto run = [&](const hpo::v1::Trial& trial, const std::string& log) {
    TrialRunnerOptions options = Options(log);
    options.trial_dir_root = root;
    RecordingSink sink;
    TrialRunner runner(trial, spec, options);
    return runner.Run(sink);
  };
  TrialOutcome first = run(Attempt(3, 0, 42), dir + "/3-0.log");
  ASSERT_EQ(first.state, hpo::v1::COMPLETED) << first.failure_reason;
  EXPECT_EQ(first.final_metrics.at("value"), 0);
  EXPECT_THAT(ReadFile(dir + "/3-0.log"), HasSubstr("number=3 dir=" + root + "/shell-study/3\n"));
  struct stat st;
  ASSERT_EQ(::stat((root + "/shell-study/3").c_str(), &st), 0);
  const mode_t umask = ::umask(0);
  ::umask(umask);
  EXPECT_EQ(st.st_mode & 0777, 0750 & ~umask);

  // The retry of number 3 (another attempt, another trial id) sees what the first one left.
  TrialOutcome retry = run(Attempt(3, 1, 43), dir + "/3-1.log");
  ASSERT_EQ(retry.state, hpo::v1::COMPLETED) << retry.failure_reason;
  EXPECT_EQ(retry.final_metrics.at("value"), 1);
  EXPECT_THAT(ReadFile(dir + "/3-1.log"), HasSubstr("number=3 dir=" + root + "/shell-study/3\n"));

  // Another number starts empty.
  TrialOutcome other = run(Attempt(4, 0, 44), dir + "/4-0.log");
  ASSERT_EQ(other.state, hpo::v1::COMPLETED) << other.failure_reason;
  EXPECT_EQ(other.final_metrics.at("value"), 0);
  EXPECT_THAT(ReadFile(dir + "/4-0.log"), HasSubstr("number=4 dir=" + root + "/shell-study/4\n"));
  // Kept after the trials end.
  EXPECT_EQ(ReadFile(root + "/shell-study/3/runs"), "2\n");
  EXPECT_EQ(ReadFile(root + "/shell-study/4/runs"), "1\n");
}

TEST(TrialRunnerTest, NoTrialDirWithoutARoot) {
  const std::string log = MakeTempDir() + "/trial.log";
  hpo::v1::StudySpec spec = ShellStudy(
      "echo \"number=$HPO_TRIAL_NUMBER dir=${HPO_TRIAL_DIR-unset}\"; "
      "echo 'hpo-metric {\"value\": 0}'");
  RecordingSink sink;
  TrialRunner runner(Attempt(5, 0, 42), spec, Options(log));
  EXPECT_EQ(runner.Run(sink).state, hpo::v1::COMPLETED);
  EXPECT_THAT(ReadFile(log), HasSubstr("number=5 dir=unset\n"));
}

TEST(TrialRunnerTest, FailsWhenTheTrialDirCannotBeMade) {
  const std::string dir = MakeTempDir();
  const std::string file = dir + "/a-file";
  { std::ofstream(file) << "x"; }
  hpo::v1::StudySpec spec =
      ShellStudy("echo ran > \"$1\"; echo 'hpo-metric {\"value\": 0}'", {dir + "/ran"});
  RecordingSink sink;
  TrialRunnerOptions options = Options(dir + "/trial.log");
  options.trial_dir_root = file;
  TrialRunner runner(Attempt(3, 0, 42), spec, options);
  TrialOutcome outcome = runner.Run(sink);
  EXPECT_EQ(outcome.state, hpo::v1::FAILED);
  const std::string reason =
      "cannot create trial directory '" + file + "/shell-study/3': Not a directory";
  EXPECT_EQ(outcome.failure_reason, reason);
  EXPECT_THAT(ReadFile(dir + "/trial.log"), HasSubstr("hpo-worker: " + reason));
  EXPECT_TRUE(sink.measurements().empty());  // the process never started
  EXPECT_EQ(::access((dir + "/ran").c_str(), F_OK), -1);
}

TEST(TrialRunnerTest, CancelFromAnotherThread) {
  hpo::v1::StudySpec spec = ShellStudy(
      "trap '' TERM; echo \"hpo-metric {\\\"pid\\\": $$}\"; while :; do sleep 0.01; done");
  RecordingSink sink;
  TrialRunner runner(MixedTrial(0.5, "a"), spec, Options());
  TrialOutcome outcome;
  std::thread thread([&] { outcome = runner.Run(sink); });
  ASSERT_TRUE(sink.first().WaitForNotificationWithTimeout(absl::Seconds(5)));
  runner.Cancel("worker draining");
  thread.join();
  EXPECT_EQ(outcome.state, hpo::v1::FAILED);
  EXPECT_EQ(outcome.failure_reason, "cancelled: worker draining");
  EXPECT_TRUE(outcome.cancelled);
  const pid_t pid = static_cast<pid_t>(sink.measurements()[0].metrics().at("pid"));
  EXPECT_EQ(::kill(pid, 0), -1);
  EXPECT_EQ(errno, ESRCH);
}

TEST(TrialRunnerTest, PruneFromAnotherThread) {
  hpo::v1::StudySpec spec = ShellStudy(
      "echo \"hpo-metric {\\\"pid\\\": $$, \\\"value\\\": 3}\"; while :; do sleep 0.01; done");
  RecordingSink sink;
  TrialRunner runner(MixedTrial(0.5, "a"), spec, Options());
  TrialOutcome outcome;
  std::thread thread([&] { outcome = runner.Run(sink); });
  ASSERT_TRUE(sink.first().WaitForNotificationWithTimeout(absl::Seconds(5)));
  runner.Prune();
  thread.join();
  EXPECT_EQ(outcome.state, hpo::v1::PRUNED);
  EXPECT_EQ(outcome.failure_reason, "");
  EXPECT_FALSE(outcome.cancelled);
  EXPECT_EQ(outcome.final_metrics.at("value"), 3);
  const pid_t pid = static_cast<pid_t>(sink.measurements()[0].metrics().at("pid"));
  EXPECT_EQ(::kill(pid, 0), -1);
  EXPECT_EQ(errno, ESRCH);
}

TEST(TrialRunnerTest, CancelBeforeRunDoesNotStartTheProcess) {
  const std::string log = MakeTempDir() + "/trial.log";
  RecordingSink sink;
  TrialRunner runner(MixedTrial(0.5, "a"), ShellStudy("echo started >&2"), Options(log));
  runner.Cancel("stopped");
  TrialOutcome outcome = runner.Run(sink);
  EXPECT_EQ(outcome.state, hpo::v1::FAILED);
  EXPECT_EQ(outcome.failure_reason, "cancelled: stopped");
  EXPECT_TRUE(outcome.cancelled);
  EXPECT_EQ(ReadFile(log), "");
}

}  // namespace
}  // namespace hpo::worker
