// The whole service over loopback: coordinator, hpo-worker processes, hpo-task processes.
#include <signal.h>
#include <sys/wait.h>

#include <cerrno>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "backend/backend.h"
#include "client/cli.h"
#include "core/study_spec.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/coordinator_server.h"
#include "tests/test_util.h"

namespace hpo {
namespace {

using ::hpo::testing::PollUntil;
using ::hpo::testing::StartCoordinator;
using ::hpo::testing::StartWorker;
using ::hpo::testing::TempDir;
using ::hpo::testing::TerminateAndWait;
using ::testing::HasSubstr;

double Branin(double x1, double x2) {
  const double a = 1, b = 5.1 / (4 * M_PI * M_PI), c = 5 / M_PI, r = 6, s = 10, t = 1 / (8 * M_PI);
  return a * std::pow(x2 - b * x1 * x1 + c * x1 - r, 2) + s * (1 - t) * std::cos(x1) + s;
}

hpo::v1::StudySpec BraninSpec(const std::string& name, int trials, int parallel, int retries,
                              const std::string& extra_task_args = "",
                              const std::string& early_stopping = "{name: none}") {
  auto spec = core::ParseStudyYaml(absl::StrCat(R"(
name: )",
                                                name, R"(
objective: {metric: value, direction: minimize}
optimizer: {name: random, seed: 42}
early_stopping: )",
                                                early_stopping, R"(
budget: {max_trials: )",
                                                trials, ", max_parallel: ", parallel,
                                                ", max_retries: ", retries,
                                                R"(, trial_timeout_s: 60}
space:
  x1: {type: float, low: -5, high: 10}
  x2: {type: float, low: 0, high: 15}
task: {builtin: branin)",
                                                extra_task_args, R"(}
)"));
  EXPECT_TRUE(spec.ok()) << spec.status();
  return *spec;
}

std::unique_ptr<server::CoordinatorServer> StartServer(const std::string& db,
                                                       absl::Duration lease) {
  server::CoordinatorServerOptions options;
  options.listen = "127.0.0.1:0";
  options.db_path = db;
  options.coordinator.lease_timeout = lease;
  options.coordinator.heartbeat_interval = lease / 4;
  options.reap_interval = absl::Milliseconds(100);
  auto s = server::CoordinatorServer::Start(options);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? std::move(s).value() : nullptr;
}

// Exit status of a terminated child, after SIGTERM, within `timeout`.
TEST(EndToEndTest, CoordinatorRefusesToServeTheNetworkWithoutInsecure) {
  TempDir dir;
  const std::string log = dir.File("coordinator.log");
  auto child = testing::StartProcess(
      {HPO_COORDINATOR_BIN, "--listen", "0.0.0.0:0", "--db", dir.File("hpo.db")}, log);
  ASSERT_NE(child, nullptr);
  auto code = child->WaitUntil(absl::Now() + absl::Seconds(30));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 1);
  std::stringstream text;
  text << std::ifstream(log).rdbuf();
  EXPECT_THAT(text.str(), HasSubstr("--listen 0.0.0.0:0: refusing to serve beyond this machine"));
  EXPECT_THAT(text.str(), HasSubstr("--insecure"));
  EXPECT_FALSE(std::ifstream(dir.File("hpo.db")).good());  // refused before opening anything
}

TEST(EndToEndTest, HundredBraninTrialsOnThreeWorkers) {
  TempDir dir;
  auto server = StartServer(dir.File("hpo.db"), absl::Seconds(10));
  ASSERT_NE(server, nullptr);
  auto* coordinator = server->coordinator();
  ASSERT_TRUE(coordinator->CreateStudy(BraninSpec("branin-100", 100, 6, 0)).ok());

  std::vector<std::unique_ptr<worker::ChildProcess>> workers;
  for (int i = 0; i < 3; ++i) {
    workers.push_back(StartWorker(server->local_address(), 2, absl::StrCat("w", i), dir.path()));
    ASSERT_NE(workers.back(), nullptr);
  }
  ASSERT_TRUE(PollUntil(
      [&] { return coordinator->GetStudy("branin-100")->state() == hpo::v1::STUDY_COMPLETED; },
      absl::Seconds(180)))
      << "study did not finish; counts: "
      << coordinator->GetStudy("branin-100")->counts().DebugString();

  auto page = coordinator->ListTrials("branin-100", hpo::v1::TRIAL_STATE_UNSPECIFIED, 0, "");
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->trials.size(), 100u);
  std::set<int> numbers;
  std::set<std::string> used_workers;
  for (const auto& t : page->trials) {
    ASSERT_EQ(t.state(), hpo::v1::COMPLETED) << t.DebugString();
    numbers.insert(t.number());
    used_workers.insert(t.worker_id());
    const double expected = Branin(t.params().values().at("x1").float_value(),
                                   t.params().values().at("x2").float_value());
    EXPECT_NEAR(t.value(), expected, 1e-9 * std::max(1.0, std::abs(expected)));
    EXPECT_GE(t.value(), 0.397887 - 1e-6);
  }
  EXPECT_EQ(numbers.size(), 100u);
  EXPECT_EQ(*numbers.rbegin(), 99);
  EXPECT_EQ(used_workers.size(), 3u) << "every worker should have run trials";

  for (auto& w : workers) EXPECT_EQ(TerminateAndWait(*w, absl::Seconds(30)), 0);
}

TEST(EndToEndTest, CoordinatorRestartMidStudyEndsWithExactlyMaxTrials) {
  TempDir dir;
  const std::string db = dir.File("hpo.db");
  int port = 0;
  auto coordinator = StartCoordinator("127.0.0.1:0", db, 10, dir.File("coordinator-1.log"), &port);
  ASSERT_NE(coordinator, nullptr);
  const std::string address = absl::StrCat("127.0.0.1:", port);
  auto backend = backend::ConnectGrpc(address, {}, absl::Seconds(10));
  ASSERT_TRUE(backend.ok()) << backend.status();
  const int kTrials = 40;
  ASSERT_TRUE(
      (*backend)
          ->CreateStudy(BraninSpec("restart", kTrials, 6, 0, ", args: {steps: 4, step_ms: 25}"))
          .ok());

  std::vector<std::unique_ptr<worker::ChildProcess>> workers;
  for (int i = 0; i < 3; ++i) {
    workers.push_back(StartWorker(address, 2, absl::StrCat("w", i), dir.path()));
    ASSERT_NE(workers.back(), nullptr);
  }
  ASSERT_TRUE(PollUntil(
      [&] {
        auto s = (*backend)->GetStudy("restart");
        // Mid-study for real: some done, some in flight.
        return s.ok() && s->counts().completed() >= 10 && s->counts().running() >= 2;
      },
      absl::Seconds(120)));

  // Kill it hard, mid-study, with trials running; then start a new one on the same db and port.
  ::kill(coordinator->pid(), SIGKILL);
  ASSERT_TRUE(coordinator->Wait().ok());
  int port2 = 0;
  coordinator = StartCoordinator(address, db, 10, dir.File("coordinator-2.log"), &port2);
  ASSERT_NE(coordinator, nullptr);
  ASSERT_EQ(port2, port);

  auto backend2 = backend::ConnectGrpc(address, {}, absl::Seconds(10));
  ASSERT_TRUE(backend2.ok());
  ASSERT_TRUE(PollUntil(
      [&] {
        auto s = (*backend2)->GetStudy("restart");
        return s.ok() && s->state() == hpo::v1::STUDY_COMPLETED;
      },
      absl::Seconds(120)))
      << (*backend2)->GetStudy("restart")->DebugString();

  // No retries allowed: a trial in flight during the restart must have been finished by its
  // worker, not lost.
  EXPECT_EQ((*backend2)->GetStudy("restart")->counts().lost(), 0);
  auto completed = (*backend2)->AllTrials("restart", hpo::v1::COMPLETED);
  ASSERT_TRUE(completed.ok());
  EXPECT_EQ(completed->size(), static_cast<size_t>(kTrials));
  std::set<int> numbers;
  for (const auto& t : *completed) numbers.insert(t.number());
  EXPECT_EQ(numbers.size(), static_cast<size_t>(kTrials)) << "a trial number completed twice";
  EXPECT_EQ(*numbers.rbegin(), kTrials - 1);

  for (auto& w : workers) EXPECT_EQ(TerminateAndWait(*w, absl::Seconds(30)), 0);
  EXPECT_EQ(TerminateAndWait(*coordinator, absl::Seconds(30)), 0);
}

TEST(EndToEndTest, KilledWorkersTrialIsLostAndRetried) {
  TempDir dir;
  auto server = StartServer(dir.File("hpo.db"), absl::Milliseconds(1500));
  ASSERT_NE(server, nullptr);
  auto* coordinator = server->coordinator();
  ASSERT_TRUE(
      coordinator->CreateStudy(BraninSpec("lost", 1, 1, 2, ", args: {steps: 40, step_ms: 50}"))
          .ok());
  auto doomed = StartWorker(server->local_address(), 1, "doomed", dir.path());
  ASSERT_NE(doomed, nullptr);
  int64_t first_id = 0;
  ASSERT_TRUE(PollUntil(
      [&] {
        auto page = coordinator->ListTrials("lost", hpo::v1::RUNNING, 0, "");
        if (!page.ok() || page->trials.empty() || page->trials[0].last_step() < 1) return false;
        first_id = page->trials[0].id();
        return true;
      },
      absl::Seconds(30)));
  ::kill(doomed->pid(), SIGKILL);
  ASSERT_TRUE(doomed->Wait().ok());

  ASSERT_TRUE(PollUntil([&] { return coordinator->GetTrial(first_id)->state() == hpo::v1::LOST; },
                        absl::Seconds(30)));
  EXPECT_THAT(coordinator->GetTrial(first_id)->failure_reason(), HasSubstr("lease expired"));

  auto rescuer = StartWorker(server->local_address(), 1, "rescuer", dir.path());
  ASSERT_NE(rescuer, nullptr);
  ASSERT_TRUE(
      PollUntil([&] { return coordinator->GetStudy("lost")->state() == hpo::v1::STUDY_COMPLETED; },
                absl::Seconds(60)));
  auto page = coordinator->ListTrials("lost", hpo::v1::TRIAL_STATE_UNSPECIFIED, 0, "");
  ASSERT_EQ(page->trials.size(), 2u);
  EXPECT_EQ(page->trials[0].state(), hpo::v1::LOST);
  EXPECT_EQ(page->trials[0].worker_id(), "doomed");
  EXPECT_EQ(page->trials[1].state(), hpo::v1::COMPLETED);
  EXPECT_EQ(page->trials[1].worker_id(), "rescuer");
  EXPECT_EQ(page->trials[1].number(), page->trials[0].number());
  EXPECT_EQ(page->trials[1].attempt(), 1);
  EXPECT_EQ(page->trials[1].params().DebugString(), page->trials[0].params().DebugString());
  EXPECT_EQ(TerminateAndWait(*rescuer, absl::Seconds(30)), 0);
}

TEST(EndToEndTest, MedianRulePrunesAndKillsTheTrialProcess) {
  TempDir dir;
  auto server = StartServer(dir.File("hpo.db"), absl::Seconds(10));
  ASSERT_NE(server, nullptr);
  auto* coordinator = server->coordinator();
  const int kSteps = 30;
  ASSERT_TRUE(coordinator
                  ->CreateStudy(BraninSpec(
                      "prune", 4, 1, 0, absl::StrCat(", args: {steps: ", kSteps, ", step_ms: 20}"),
                      "{name: median, options: {min_trials: 3}}"))
                  .ok());
  auto enqueue = [&](double x1, double x2) {
    hpo::v1::ParamMap p;
    (*p.mutable_values())["x1"].set_float_value(x1);
    (*p.mutable_values())["x2"].set_float_value(x2);
    auto t = coordinator->EnqueueTrial("prune", p);
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? t->id() : 0;
  };
  enqueue(M_PI, 2.275);
  enqueue(3.0, 2.5);
  enqueue(9.42, 2.475);
  const int64_t bad = enqueue(-5, 0);  // Branin ~308: far worse than the median

  auto worker = StartWorker(server->local_address(), 1, "w", dir.path());
  ASSERT_NE(worker, nullptr);
  ASSERT_TRUE(
      PollUntil([&] { return coordinator->GetStudy("prune")->state() == hpo::v1::STUDY_COMPLETED; },
                absl::Seconds(60)));
  auto trial = coordinator->GetTrial(bad);
  ASSERT_TRUE(trial.ok());
  EXPECT_EQ(trial->state(), hpo::v1::PRUNED);
  // Stopped at its first report: the process was killed long before its 30 steps.
  EXPECT_GE(trial->last_step(), 1);
  EXPECT_LT(trial->last_step(), 5);
  EXPECT_EQ(coordinator->GetStudy("prune")->counts().completed(), 3);
  EXPECT_EQ(TerminateAndWait(*worker, absl::Seconds(30)), 0);
}

// ASHA through coordinator and worker: a user program far behind at the first rung is stopped,
// its process group killed, and the trial says why, in the database and through the CLI.
TEST(EndToEndTest, AshaStopsAUserProgramAndExplainsWhy) {
  TempDir dir;
  auto server = StartServer(dir.File("hpo.db"), absl::Seconds(10));
  ASSERT_NE(server, nullptr);
  auto* coordinator = server->coordinator();
  // Each trial writes its pid, then reports `x` at steps 1..30, 20 ms apart.
  const std::string script = dir.File("train.sh");
  std::ofstream(script) << "echo $$ > " << dir.path() << "/pid-$1\n"
                        << "i=1\n"
                        << "while [ $i -le 30 ]; do\n"
                        << "  echo \"hpo-metric {\\\"step\\\": $i, \\\"value\\\": $1}\"\n"
                        << "  i=$((i+1)); sleep 0.02\n"
                        << "done\n";
  auto spec = core::ParseStudyYaml(absl::StrCat(R"(
name: asha-e2e
objective: {metric: value, direction: minimize}
optimizer: {name: random, seed: 1}
early_stopping: {name: asha, options: {eta: 2}}
budget: {max_trials: 4, max_parallel: 1}
space:
  x: {type: float, low: 0, high: 10}
task:
  command: ["/bin/sh", ")",
                                                script, R"(", "{x}"]
)"));
  ASSERT_TRUE(spec.ok()) << spec.status();
  ASSERT_TRUE(coordinator->CreateStudy(*spec).ok());
  int64_t bad = 0;
  for (double x : {3.0, 2.0, 1.0, 9.0}) {  // run in this order: each of the first three leads
    hpo::v1::ParamMap p;
    (*p.mutable_values())["x"].set_float_value(x);
    auto t = coordinator->EnqueueTrial("asha-e2e", p);
    ASSERT_TRUE(t.ok()) << t.status();
    bad = t->id();
  }
  auto worker =
      StartWorker(server->local_address(), 1, "w", dir.path(), {"--allow-command", "/bin/sh"});
  ASSERT_NE(worker, nullptr);
  ASSERT_TRUE(PollUntil(
      [&] { return coordinator->GetStudy("asha-e2e")->state() == hpo::v1::STUDY_COMPLETED; },
      absl::Seconds(60)));
  EXPECT_EQ(coordinator->GetStudy("asha-e2e")->counts().completed(), 3);
  auto trial = coordinator->GetTrial(bad);
  ASSERT_TRUE(trial.ok());
  EXPECT_EQ(trial->state(), hpo::v1::PRUNED);
  EXPECT_LT(trial->last_step(), 30);
  // At rung 1 the values are 1, 2, 3 and 9: with eta 2 the top 2 continue.
  EXPECT_EQ(trial->stop().rule(), "asha");
  EXPECT_EQ(trial->stop().rung(), 1);
  EXPECT_EQ(trial->stop().rank(), 4);
  EXPECT_EQ(trial->stop().keep(), 2);
  const std::string why =
      "asha: at rung 1 (step 1) value 9 ranks 4 of 4; the top 2 (cutoff 2) continue";
  EXPECT_EQ(trial->stop().summary(), why);
  EXPECT_EQ(trial->failure_reason(), why);
  // Its process is gone.
  std::ifstream pid_file(dir.File("pid-9"));
  pid_t pid = 0;
  ASSERT_TRUE(pid_file >> pid);
  EXPECT_TRUE(PollUntil([&] { return ::kill(pid, 0) == -1 && errno == ESRCH; }, absl::Seconds(10)));

  // The CLI shows it.
  auto cli = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"hpo", "--coordinator", server->local_address()});
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    std::ostringstream out, err;
    EXPECT_EQ(client::RunCli(static_cast<int>(argv.size()), argv.data(), out, err), 0) << err.str();
    return out.str();
  };
  EXPECT_THAT(cli({"trial", "show", absl::StrCat(bad)}), HasSubstr("stopped: " + why + "\n"));
  EXPECT_THAT(cli({"trial", "show", absl::StrCat(bad), "--format", "json"}),
              HasSubstr("\"rule\": \"asha\""));
  EXPECT_THAT(cli({"trials", "asha-e2e", "--format", "csv"}),
              HasSubstr(absl::StrCat(",PRUNED,9,9,", why, ",asha,1,,,,\n")));
  EXPECT_EQ(TerminateAndWait(*worker, absl::Seconds(30)), 0);
}

}  // namespace
}  // namespace hpo
