// The `hpo` CLI against a real coordinator, against a db file, and `hpo run`.
#include "client/cli.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "backend/backend.h"
#include "client/format.h"
#include "core/study_spec.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "harness/bench.h"
#include "harness/digest.h"
#include "harness/results_db.h"
#include "httplib.h"
#include "server/coordinator_server.h"
#include "server/optimizers/optimizer.h"
#include "tasks/task.h"
#include "tests/test_util.h"
#include "yaml-cpp/yaml.h"

namespace hpo {
namespace {

using ::hpo::testing::Cli;
using ::hpo::testing::CliResult;
using ::hpo::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string Write(const TempDir& dir, const std::string& name, const std::string& text) {
  const std::string path = dir.File(name);
  std::ofstream(path) << text;
  return path;
}

const char kSmallStudy[] = R"(name: small
objective: {metric: value, direction: minimize}
optimizer: {name: random, seed: 1}
budget: {max_trials: 6, max_parallel: 2}
space:
  x1: {type: float, low: -5, high: 10}
  x2: {type: float, low: 0, high: 15}
task: {builtin: branin}
)";

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server::CoordinatorServerOptions options;
    options.listen = "127.0.0.1:0";
    options.db_path = dir_.File("server.db");
    auto s = server::CoordinatorServer::Start(options);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(s).value();
    address_ = server_->local_address();
  }
  TempDir dir_;
  std::unique_ptr<server::CoordinatorServer> server_;
  std::string address_;
};

TEST_F(CliTest, CreateListShowEnqueueTrialsAndStop) {
  const std::string file = Write(dir_, "small.yaml", kSmallStudy);
  auto r = Cli({"--coordinator", address_, "study", "create", "-f", file});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, StartsWith("created study small (id 1)"));

  r = Cli({"study", "list", "--coordinator", address_});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("NAME"));
  EXPECT_THAT(r.out, HasSubstr("small  RUNNING  random"));

  r = Cli(
      {"--coordinator", address_, "enqueue", "small", "--param", "x1=3.14", "--param", "x2=2.27"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "enqueued trial #0 (id 1)\n");

  r = Cli({"--coordinator", address_, "trials", "small", "--format", "csv"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(
      r.out,
      "id,number,attempt,state,value,x1,x2,failure_reason,stop_rule,stop_step,predicted_final,"
      "predicted_spread,predicted_step,p_better\n1,0,0,PENDING,,3.14,2.27,,,,,,,\n");

  r = Cli(
      {"--coordinator", address_, "trials", "small", "--state", "completed", "--format", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "[]\n");

  r = Cli({"--coordinator", address_, "best", "small"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "hpo: study 'small' has no completed trial yet\n");

  r = Cli({"--coordinator", address_, "study", "show", "small"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("study small (id 1): RUNNING"));
  EXPECT_THAT(r.out, HasSubstr(absl::StrCat("optimizer: random revision ",
                                            server::OptimizerRevision("random"), "\n")));
  EXPECT_THAT(r.out, HasSubstr("x1: {type: float"));

  r = Cli({"--coordinator", address_, "study", "stop", "small"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("stopped study small"));
}

// A study file without an optimizer block gets auto, and study show says its rule and what it
// picks next, as text and as JSON.
TEST_F(CliTest, AStudyWithoutAnOptimizerRunsAutoAndShowSaysItsRule) {
  std::string text = kSmallStudy;
  const std::string line = "optimizer: {name: random, seed: 1}\n";
  text.erase(text.find(line), line.size());
  auto r =
      Cli({"--coordinator", address_, "study", "create", "-f", Write(dir_, "plain.yaml", text)});
  ASSERT_EQ(r.code, 0) << r.err;
  r = Cli({"--coordinator", address_, "study", "show", "small"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr(absl::StrCat("optimizer: auto revision ",
                                            server::OptimizerRevision("auto"), "\n")));
  // A budget of 6 leaves nothing after gp's 10 startup trials: tpe for the whole study.
  EXPECT_THAT(r.out, HasSubstr("  auto: tpe for the whole study (a budget of 6 trials leaves fewer "
                               "than 10 after gp's 10 random startup trials)\n"));
  r = Cli({"--coordinator", address_, "study", "extend", "small", "--max-trials", "100"});
  ASSERT_EQ(r.code, 0) << r.err;
  r = Cli({"--coordinator", address_, "study", "show", "small", "--format", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"optimizer_plan\": \"auto: gp until the history holds 2000 "
                               "trials, then tpe; tpe while 32 or more trials run at once; the "
                               "first 10 trials are random (gp's startup) (next: gp)\""));
}

// add-trial, study extend, study create --warm-start-from and study delete, over gRPC, with
// no worker at all: results known from elsewhere complete a study.
TEST_F(CliTest, AddTrialsExtendWarmStartAndDelete) {
  std::string text = kSmallStudy;
  text.replace(text.find("max_trials: 6"), 13, "max_trials: 2");
  const std::string file = Write(dir_, "small.yaml", text);
  auto r = Cli({"--coordinator", address_, "study", "create", "-f", file});
  ASSERT_EQ(r.code, 0) << r.err;
  r = Cli({"--coordinator", address_, "add-trial", "small", "--param", "x1=3.14", "--param",
           "x2=2.27", "--value", "0.5", "--metric", "accuracy=0.9"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "added trial #0 (id 1) to study small: value = 0.5\n");
  r = Cli({"--coordinator", address_, "add-trial", "small", "--param", "x1=20", "--param", "x2=2",
           "--value", "1"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("x1"));
  r = Cli({"--coordinator", address_, "add-trial", "small", "--param", "x1=1", "--param", "x2=2",
           "--value", "0.25", "--metric", "oops", "--format", "json"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "hpo: --metric 'oops': expected name=number\n");
  r = Cli({"--coordinator", address_, "add-trial", "small", "--param", "x1=1", "--param", "x2=2",
           "--value", "0.25", "--format", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"value\": 0.25"));
  r = Cli({"--coordinator", address_, "study", "show", "small", "--format", "json"});
  EXPECT_THAT(r.out, HasSubstr("\"state\": \"COMPLETED\""));

  r = Cli({"--coordinator", address_, "study", "extend", "small", "--max-trials", "3"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, StartsWith("extended study small to 3 trials\n[2/3] running 0, completed 2"));

  std::string tpe = text;
  tpe.replace(tpe.find("name: small"), 11, "name: warm");
  tpe.replace(tpe.find("random"), 6, "tpe");
  r = Cli({"--coordinator", address_, "study", "create", "-f", Write(dir_, "warm.yaml", tpe),
           "--warm-start-from", "small"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("its optimizer starts from 2 completed trials of small\n"));
  r = Cli({"--coordinator", address_, "study", "show", "warm"});
  EXPECT_THAT(r.out, HasSubstr("optimizer starts from: small (2 completed trials)"));
  EXPECT_THAT(r.out, HasSubstr("warm_start_from: [small]"));

  r = Cli({"--coordinator", address_, "study", "delete", "small"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("is running: stop it first (hpo study stop small)"));
  ASSERT_EQ(Cli({"--coordinator", address_, "study", "stop", "small"}).code, 0);
  r = Cli({"--coordinator", address_, "study", "delete", "small"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "deleted study small and its 2 trials\n");
  r = Cli({"--coordinator", address_, "study", "list", "--format", "csv"});
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 2);  // header + warm
  EXPECT_THAT(r.out, HasSubstr(",warm,RUNNING,tpe,"));
}

TEST_F(CliTest, WatchFollowsTheStudyUntilItEnds) {
  const std::string file = Write(dir_, "small.yaml", kSmallStudy);
  ASSERT_EQ(Cli({"--coordinator", address_, "study", "create", "-f", file}).code, 0);
  CliResult watched;
  std::thread watcher([&] { watched = Cli({"--coordinator", address_, "watch", "small"}); });
  auto* coordinator = server_->coordinator();
  for (int i = 0; i < 6; ++i) {
    auto lease = coordinator->AcquireTrial("w", absl::Seconds(5));
    ASSERT_TRUE(lease.ok() && lease->found());
    hpo::v1::CompleteTrialRequest done;
    done.set_worker_id("w");
    done.set_trial_id(lease->trial().id());
    done.set_request_id(absl::StrCat("r", i));
    done.set_state(hpo::v1::COMPLETED);
    (*done.mutable_final_metrics())["value"] = 10 - i;
    ASSERT_TRUE(coordinator->CompleteTrial(done).ok());
  }
  watcher.join();
  EXPECT_EQ(watched.code, 0) << watched.err;
  EXPECT_THAT(watched.out, HasSubstr("[6/6] running 0, completed 6, pruned 0, failed 0, lost 0; "
                                     "best 5 (trial #5)\n"));
  EXPECT_THAT(watched.out, ::testing::EndsWith("study small COMPLETED\n"));
}

TEST_F(CliTest, ErrorsAreClearAndExitNonZero) {
  auto r = Cli({"--coordinator", address_, "study", "show", "nope"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "hpo: no study named 'nope'\n");

  r = Cli({"--coordinator", "127.0.0.1:1", "study", "list"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("cannot reach coordinator at 127.0.0.1:1"));

  r = Cli({"--coordinator", address_, "trials", "nope", "--state", "sleeping"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("sleeping"));

  const std::string file = Write(dir_, "small.yaml", kSmallStudy);
  ASSERT_EQ(Cli({"--coordinator", address_, "study", "create", "-f", file}).code, 0);
  r = Cli({"--coordinator", address_, "study", "create", "-f", file});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "hpo: a study named 'small' exists\n");

  r = Cli({"--coordinator", address_, "enqueue", "small", "--param", "lr=0.1"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "hpo: --param lr: study 'small' has no such parameter\n");

  r = Cli({"--coordinator", address_, "enqueue", "small", "--param", "x1=50", "--param", "x2=1"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("params.x1"));

  r = Cli({"--coordinator", address_, "enqueue", "small", "--param", "x1=0.5", "--param", "x2=1",
           "--param", "x1=0.7"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "hpo: --param x1 is given twice\n");

  r = Cli({"--db", dir_.File("missing.db"), "study", "list"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("missing.db"));

  r = Cli({"study", "frobnicate"});
  EXPECT_EQ(r.code, 2);
}

// Each bad study file gives its own message, naming the field, and creates nothing.
TEST_F(CliTest, BadStudyFilesNameTheProblem) {
  const std::string base = R"(name: bad
objective: {metric: value, direction: minimize}
optimizer: {name: OPT, seed: 1}
budget: {max_trials: 6, max_parallel: 2}
space:
  x1: SPACE_X1
  x2: {type: float, low: 0, high: 15}
  child: {type: float, low: 0, high: 1, condition: {parent: PARENT, values: [a]}}
task: {command: ["true"]}
)";
  struct Case {
    std::string what, opt, x1, parent, expected;
  };
  const std::string ok_x1 = "{type: categorical, choices: [a, b]}";
  const std::vector<Case> cases = {
      {"low > high", "random", "{type: float, low: 3, high: 1}", "x2",
       "space.x1: low (3) must be < high (1)"},
      {"log with low <= 0", "random", "{type: float, low: 0, high: 1, log: true}", "x2",
       "space.x1: low must be > 0 on a log scale"},
      {"unknown optimizer", "bogus", ok_x1, "x1",
       "optimizer.name: unknown optimizer 'bogus' (known: auto, gp, random, tpe)"},
      {"condition on an unknown parameter", "random", ok_x1, "optim",
       "space.child: condition names unknown parameter 'optim'"},
  };
  for (const Case& c : cases) {
    std::string text = base;
    text.replace(text.find("OPT"), 3, c.opt);
    text.replace(text.find("SPACE_X1"), 8, c.x1);
    text.replace(text.find("PARENT"), 6, c.parent);
    const std::string file = Write(dir_, "bad.yaml", text);
    auto r = Cli({"--coordinator", address_, "study", "create", "-f", file});
    EXPECT_EQ(r.code, 1) << c.what;
    EXPECT_THAT(r.err, HasSubstr(c.expected)) << c.what;
  }
  // A missing field.
  std::string missing = kSmallStudy;
  missing.erase(missing.find("budget:"), missing.find("space:") - missing.find("budget:"));
  auto r = Cli(
      {"--coordinator", address_, "study", "create", "-f", Write(dir_, "missing.yaml", missing)});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("budget: missing"));
  r = Cli({"--coordinator", address_, "study", "list"});
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("bad")));
}

// A builtin task is checked when the study is created: its name, and that the space proposes
// only what the task takes (else every trial would fail the same way).
TEST_F(CliTest, BuiltinTaskIsCheckedAtCreation) {
  const std::string base = R"(name: builtin
objective: {metric: value, direction: minimize}
optimizer: {name: random, seed: 1}
budget: {max_trials: 2, max_parallel: 1}
space:
SPACE
task: {builtin: TASK}
)";
  const std::string branin =
      "  x1: {type: float, low: -5, high: 10}\n  x2: {type: float, low: 0, high: 15}";
  struct Case {
    std::string task, space, expected;
  };
  const std::vector<Case> cases = {
      {"brannin", branin, "unknown task 'brannin'; known tasks: ackley5, branin,"},
      {"lcbench-abc", branin, "'lcbench-abc' is not an LCBench task (lcbench-<OpenML task id>)"},
      {"branin", "  x1: {type: float, low: -10, high: 10}\n  x2: {type: float, low: 0, high: 15}",
       "space.x1: float [-10, 10] does not fit task 'branin', which takes float [-5, 10]"},
      {"branin", "  x1: {type: int, low: 0, high: 12}\n  x2: {type: float, low: 0, high: 15}",
       "space.x1: int [0, 12] does not fit task 'branin', which takes float [-5, 10]"},
      {"branin", "  x1: {type: float, low: -5, high: 10}",
       "space: task 'branin' needs parameter 'x2'"},
      {"branin", branin + "\n  y: {type: float, low: 0, high: 1}",
       "space: task 'branin' has no parameter 'y'"},
  };
  for (const Case& c : cases) {
    std::string text = base;
    text.replace(text.find("SPACE"), 5, c.space);
    text.replace(text.find("TASK"), 4, c.task);
    const std::string file = Write(dir_, "builtin.yaml", text);
    auto r = Cli({"--coordinator", address_, "study", "create", "-f", file});
    EXPECT_EQ(r.code, 1) << c.task << "\n" << c.space;
    EXPECT_THAT(r.err, HasSubstr(c.expected)) << c.task << "\n" << c.space;
    r = Cli({"run", file, "--db", dir_.File("run.db"), "--workers", "1"});
    EXPECT_EQ(r.code, 1) << c.task << "\n" << c.space;
    EXPECT_THAT(r.err, HasSubstr(c.expected)) << c.task << "\n" << c.space;
  }
  auto r = Cli({"--coordinator", address_, "study", "list"});
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("builtin")));
  // A narrower range, a log scale and numeric choices are fine.
  std::string text = base;
  text.replace(text.find("SPACE"), 5,
               "  x1: {type: categorical, choices: [-2.5, 0, 2.5]}\n  x2: {type: float, low: 1, "
               "high: 2, log: true}");
  text.replace(text.find("TASK"), 4, "branin");
  r = Cli({"--coordinator", address_, "study", "create", "-f", Write(dir_, "narrow.yaml", text)});
  EXPECT_EQ(r.code, 0) << r.err;
}

TEST_F(CliTest, DbFileOfARunningCoordinatorIsReadOnly) {
  const std::string file = Write(dir_, "small.yaml", kSmallStudy);
  ASSERT_EQ(Cli({"--coordinator", address_, "study", "create", "-f", file}).code, 0);
  auto r = Cli({"--db", dir_.File("server.db"), "study", "list"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("small"));
  r = Cli(
      {"--db", dir_.File("server.db"), "enqueue", "small", "--param", "x1=1", "--param", "x2=1"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("server.db is in use by another coordinator"));
  EXPECT_THAT(r.err, HasSubstr("--coordinator"));
  // Progress made by the coordinator never reaches --db: watching a running study is refused.
  r = Cli({"--db", dir_.File("server.db"), "watch", "small"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("study 'small' is running: watch it through the coordinator"));
  // And a second server on the same file refuses to start.
  server::CoordinatorServerOptions options;
  options.listen = "127.0.0.1:0";
  options.db_path = dir_.File("server.db");
  auto second = server::CoordinatorServer::Start(options);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(ListenAddressTest, OnlyLoopbackUnlessTlsWithACredentialOrInsecure) {
  server::ListenSecurity open;
  server::ListenSecurity insecure;
  insecure.insecure = true;
  for (const char* local : {"127.0.0.1:50051", "127.0.0.1:0", "127.1.2.3:80", "localhost:50051",
                            "LOCALHOST:1", "[::1]:50051", "ipv4:127.0.0.1:5", "ipv6:[::1]:5",
                            "unix:/tmp/hpo.sock", "unix-abstract:hpo"}) {
    EXPECT_TRUE(server::IsLoopbackAddress(local)) << local;
    EXPECT_TRUE(server::CheckListenAddress(local, open).ok()) << local;
  }
  for (const char* remote : {"0.0.0.0:50051", "[::]:50051", ":50051", "10.0.0.5:50051",
                             "gpu-node-1:50051", "127.0.0.1.evil.com:50051", "128.0.0.1:1",
                             "127.0.0.256:1", "[::ffff:10.0.0.1]:1", "127.0.0:1", ""}) {
    EXPECT_FALSE(server::IsLoopbackAddress(remote)) << remote;
    const absl::Status refused = server::CheckListenAddress(remote, open);
    EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition) << remote;
    EXPECT_THAT(refused.message(), HasSubstr("--insecure")) << remote;
    EXPECT_THAT(refused.message(), HasSubstr("--token-file and --tls-cert/--tls-key")) << remote;
    EXPECT_TRUE(server::CheckListenAddress(remote, insecure).ok()) << remote;
  }
  // Beyond loopback it takes TLS and a credential: tokens, or client certificates.
  auto check = [](bool tls, bool tokens, bool client_certs) {
    server::ListenSecurity security;
    security.tls = tls;
    security.tokens = tokens;
    security.client_certs = client_certs;
    return server::CheckListenAddress("0.0.0.0:50051", security);
  };
  EXPECT_TRUE(check(true, true, false).ok());
  EXPECT_TRUE(check(true, false, true).ok());
  EXPECT_TRUE(check(true, true, true).ok());
  EXPECT_THAT(check(false, true, false).message(),
              HasSubstr("tokens would cross the network in clear text"));
  EXPECT_THAT(check(true, false, false).message(), HasSubstr("with TLS alone"));
  EXPECT_EQ(check(true, false, false).code(), absl::StatusCode::kFailedPrecondition);
  // The server refuses before it binds anything or opens the database.
  server::CoordinatorServerOptions options;
  options.listen = "0.0.0.0:0";
  options.db_path = "/nonexistent-dir/x.db";
  auto refused = server::CoordinatorServer::Start(options);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(),
              HasSubstr("--listen 0.0.0.0:0: refusing to serve beyond this machine"));
  EXPECT_EQ(server::CoordinatorServerOptions().listen, "127.0.0.1:50051");
}

TEST_F(CliTest, ServerStartFailuresAreErrorsNotCrashes) {
  server::CoordinatorServerOptions options;
  options.listen = address_;  // taken by the fixture's server
  options.db_path = dir_.File("other.db");
  auto busy = server::CoordinatorServer::Start(options);
  EXPECT_EQ(busy.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(busy.status().message(), HasSubstr("cannot listen on " + address_));
  options.listen = "127.0.0.1:0";
  options.db_path = "/nonexistent-dir/x.db";
  EXPECT_FALSE(server::CoordinatorServer::Start(options).ok());
  options.listen = "1.2.3.4.5:99999";
  options.insecure = true;  // past the loopback rule, to the bind that fails
  options.db_path = dir_.File("third.db");
  EXPECT_EQ(server::CoordinatorServer::Start(options).status().code(),
            absl::StatusCode::kUnavailable);

  const std::string file = Write(dir_, "small.yaml", kSmallStudy);
  auto r = Cli({"run", file, "--db", "/nonexistent-dir/x.db", "--hpo-task", HPO_TASK_BIN});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("/nonexistent-dir/x.db"));
}

// `hpo bench --distributed`: the cluster's worker evaluates every run as a study, and the runs
// are fingerprinted with the optimizer revisions that the coordinator reports over gRPC.
TEST_F(CliTest, DistributedBenchRunsOnTheClusterUnderTheCoordinatorsRevisions) {
  auto backend = backend::ConnectGrpc(address_, {}, absl::Seconds(10));
  ASSERT_TRUE(backend.ok()) << backend.status();
  auto info = (*backend)->GetServerInfo();
  ASSERT_TRUE(info.ok()) << info.status();
  // Every registered optimizer with its revision, whatever the registry holds.
  EXPECT_EQ(info->DebugString(), server::OptimizerServerInfo().DebugString());
  int random_revision = -1;
  for (const auto& o : info->optimizers()) {
    if (o.name() == "random") random_revision = o.revision();
  }
  ASSERT_EQ(random_revision, server::OptimizerRevision("random"));

  auto worker = testing::StartWorker(address_, 2, "w", dir_.path());
  ASSERT_NE(worker, nullptr);
  const std::string out = dir_.File("bench");
  const std::vector<std::string> bench = {"bench",         "--distributed",
                                          "--coordinator", address_,
                                          "--optimizers",  "random",
                                          "--tasks",       "branin",
                                          "--seeds",       "2",
                                          "--trials",      "4",
                                          "--out",         out};
  auto r = Cli(bench);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("runs: 2 run, 0 reused, 0 failed"));
  r = Cli({"study", "list", "--coordinator", address_});
  EXPECT_THAT(r.out, HasSubstr("bench-random-branin-s1-n4"));

  auto db = harness::ResultsDb::Open(out + "/results.sqlite");
  ASSERT_TRUE(db.ok()) << db.status();
  auto branin = tasks::MakeTask("branin");
  ASSERT_TRUE(branin.ok());
  auto found =
      (*db)->FindDone({"random", "branin", 1, 4},
                      harness::RunFingerprint(absl::StrCat("hpo random r", random_revision),
                                              *harness::TaskDigest(**branin)));
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->evals.size(), 4u);
  db->reset();

  r = Cli(bench);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("runs: 0 run, 2 reused"));
  EXPECT_EQ(testing::TerminateAndWait(*worker, absl::Seconds(30)), 0);
}

TEST(CliFormatTest, StudyListCountsFinishedTrialNumbersNotAttempts) {
  hpo::v1::Study study;
  study.mutable_spec()->set_name("slow");
  study.mutable_spec()->mutable_optimizer()->set_name("random");
  study.mutable_spec()->mutable_budget()->set_max_trials(4);
  study.set_state(hpo::v1::STUDY_RUNNING);
  // Two numbers failed for good; two LOST attempts were retried and are running again.
  study.mutable_counts()->set_failed(2);
  study.mutable_counts()->set_lost(2);
  study.mutable_counts()->set_running(2);
  study.set_finished_trials(2);
  const std::string table = client::StudiesTable({study});
  EXPECT_THAT(table, HasSubstr("2/4"));
  EXPECT_THAT(table, ::testing::Not(HasSubstr("4/4")));
  EXPECT_THAT(client::ProgressLine(study), HasSubstr("[2/4]"));
}

// Every record prints as table, json, csv and yaml; the machine formats keep every digit, and
// the YAML reads back to the JSON's values, strings that look like other things included.
TEST(CliFormatTest, EveryRecordInEveryFormatAtFullPrecision) {
  hpo::v1::Study study;
  study.set_id(7);
  study.mutable_spec()->set_name("s");
  study.mutable_spec()->mutable_objective()->set_metric("loss");
  study.mutable_spec()->mutable_budget()->set_max_trials(4);
  study.mutable_spec()->mutable_space()->add_params()->set_name("lr");
  study.mutable_spec()->mutable_space()->add_params()->set_name("act");
  study.set_state(hpo::v1::STUDY_RUNNING);
  hpo::v1::Trial t;
  t.set_id(3);
  t.set_state(hpo::v1::FAILED);
  t.set_value(1.0 / 3.0);
  t.set_has_value(true);
  (*t.mutable_params()->mutable_values())["lr"].set_float_value(0.1 + 0.2);
  (*t.mutable_params()->mutable_values())["act"].set_string_value("true");
  t.set_failure_reason("exit 1: \"boom\", then: nothing");
  *study.mutable_best_trial() = t;

  const std::string csv = client::RenderTrials("csv", study.spec(), {t});
  EXPECT_THAT(csv, HasSubstr("3,0,0,FAILED,0.3333333333333333,0.30000000000000004,true,"
                             "\"exit 1: \"\"boom\"\", then: nothing\""));
  EXPECT_THAT(client::RenderStudies("csv", {study}),
              HasSubstr("\n7,s,RUNNING,,loss,minimize,0,4,0,0,0,0,0,0,3,0.3333333333333333,"));
  EXPECT_THAT(client::RenderStudies("table", {study}), HasSubstr("0.3333333333"));

  const std::string yaml = client::RenderTrial("yaml", study.spec(), t);
  YAML::Node node = YAML::Load(yaml);
  EXPECT_EQ(node["value"].as<double>(), 1.0 / 3.0);
  EXPECT_EQ(node["params"]["lr"].as<double>(), 0.1 + 0.2);
  EXPECT_EQ(node["params"]["act"].as<std::string>(), "true");
  EXPECT_THAT(yaml, HasSubstr("act: \"true\""));  // not the boolean
  EXPECT_EQ(node["failure_reason"].as<std::string>(), t.failure_reason());
  EXPECT_TRUE(node["stop"].IsNull());

  YAML::Node studies = YAML::Load(client::RenderStudies("yaml", {study, study}));
  ASSERT_TRUE(studies.IsSequence());
  ASSERT_EQ(studies.size(), 2u);
  EXPECT_EQ(studies[1]["best_trial"]["id"].as<int>(), 3);
  EXPECT_EQ(studies[1]["spec"]["space"]["params"][1]["name"].as<std::string>(), "act");
  EXPECT_EQ(client::RenderStudies("yaml", {}), "[]\n");
  EXPECT_EQ(client::JsonToYaml(R"({"a": ["", "1.5", "x: y", "- z", null, {}], "b": "plain"})"),
            "a:\n  - \"\"\n  - \"1.5\"\n  - \"x: y\"\n  - \"- z\"\n  - null\n  - {}\nb: plain\n");
}

TEST(CliRunTest, RunsAStudyToItsBudgetAndKeepsTheHistory) {
  TempDir dir;
  const std::string file = Write(dir, "small.yaml", kSmallStudy);
  const std::string db = dir.File("run.db");
  auto r = Cli({"run", file, "--workers", "2", "--db", db, "--hpo-task", HPO_TASK_BIN});
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  EXPECT_THAT(r.out, HasSubstr("running study small with 2 local workers"));
  EXPECT_THAT(r.out, HasSubstr("[6/6] running 0, completed 6"));
  EXPECT_THAT(r.out, HasSubstr("study small COMPLETED"));
  EXPECT_THAT(r.out, HasSubstr("best trial #"));

  // The history stays in the db and reads back without a coordinator.
  r = Cli({"--db", db, "trials", "small", "--state", "completed", "--format", "csv"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 7);  // header + 6 trials
  r = Cli({"--db", db, "best", "small", "--format", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"state\": \"COMPLETED\""));

  // trial show says where the worker wrote the trial's output, and the file is there.
  r = Cli({"--db", db, "trial", "show", "1"});
  ASSERT_EQ(r.code, 0) << r.err;
  const size_t log = r.out.find("\nlog: ");
  ASSERT_NE(log, std::string::npos) << r.out;
  const std::string where = r.out.substr(log + 6, r.out.find('\n', log + 1) - log - 6);
  const std::string path = where.substr(where.find(':') + 1);
  EXPECT_THAT(path, StartsWith(db + ".logs/small-0-0-1.log"));
  EXPECT_TRUE(std::filesystem::exists(path)) << path;

  // Running it again on the same db refuses: the study has ended there.
  r = Cli({"run", file, "--db", db, "--hpo-task", HPO_TASK_BIN});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("study 'small' already ended in"));
}

// `hpo dashboard --db FILE` serves the file's studies on loopback until SIGTERM.
TEST(CliDashboardTest, ServesAFileOnLoopbackUntilTerminated) {
  TempDir dir;
  const std::string db = dir.File("d.db");
  auto r = Cli({"run", Write(dir, "small.yaml", kSmallStudy), "--workers", "2", "--db", db,
                "--hpo-task", HPO_TASK_BIN});
  ASSERT_EQ(r.code, 0) << r.err;
  r = Cli({"dashboard"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("give --db FILE"));
  r = Cli({"--db", db, "dashboard", "--http", "0.0.0.0:0"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("loopback only"));

  auto child = testing::StartProcess({HPO_BIN, "--db", db, "dashboard", "--http", "127.0.0.1:0"},
                                     dir.File("dashboard.log"));
  ASSERT_NE(child, nullptr);
  auto line = child->ReadLine(absl::Now() + absl::Seconds(30));
  ASSERT_TRUE(line.ok() && line->has_value()) << "no address printed";
  const std::string prefix = absl::StrCat("dashboard of ", db, " on http://127.0.0.1:");
  ASSERT_THAT(**line, StartsWith(prefix));
  int port = 0;
  ASSERT_TRUE(absl::SimpleAtoi(
      (**line).substr(prefix.size(), (**line).find('/', prefix.size()) - prefix.size()), &port))
      << **line;
  httplib::Client http("127.0.0.1", port);
  auto res = http.Get("/api/studies/small/trials");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_THAT(res->body, HasSubstr("\"measurements\":[{\"metrics\""));
  EXPECT_EQ(testing::TerminateAndWait(*child, absl::Seconds(30)), 0);
}

// Issue 17: a trial that prints a 10 MB line, 20,000 metric lines and a final one. Every trial's
// result is the final line's value (before, one in six lost the tail of its output).
TEST(CliRunTest, ChattyTrialsKeepTheirFinalValue) {
  TempDir dir;
  const std::string script = Write(dir, "chatty.py", R"(import sys, json
sys.stdout.write("x" * 10_000_000 + "\n")
for i in range(20000):
    print("hpo-metric " + json.dumps({"step": i, "value": 1.0 / (i + 1)}))
print("hpo-metric " + json.dumps({"step": 20001, "value": 0.5, "final": True}))
)");
  const std::string file = Write(dir, "chatty.yaml",
                                 absl::StrCat(R"(name: chatty
objective: {metric: value, direction: minimize}
optimizer: {name: random, seed: 1}
budget: {max_trials: 6, max_parallel: 2, max_retries: 0}
space:
  x: {type: float, low: 0, high: 1}
task:
  command: ["/usr/bin/python3", ")",
                                              script, R"("]
)"));
  const std::string db = dir.File("chatty.db");
  auto r = Cli({"run", file, "--workers", "2", "--db", db, "--hpo-task", HPO_TASK_BIN});
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  EXPECT_THAT(r.out, HasSubstr("study chatty COMPLETED"));
  r = Cli({"--db", db, "trials", "chatty", "--format", "csv"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::istringstream lines(r.out);
  std::string line;
  std::getline(lines, line);  // header
  int trials = 0;
  while (std::getline(lines, line)) {
    ++trials;
    EXPECT_THAT(line, HasSubstr(",COMPLETED,")) << line;
    EXPECT_THAT(line, HasSubstr(",0.5,")) << line;
  }
  EXPECT_EQ(trials, 6) << r.out;
}

TEST(CliRunTest, FailingTrialsAreExplainedAndTheTopLevelDbIsUsed) {
  TempDir dir;
  const std::string file = Write(dir, "broken.yaml", R"(name: broken
objective: {metric: value, direction: minimize}
optimizer: {name: random, seed: 1}
budget: {max_trials: 2, max_parallel: 1, max_retries: 0}
space:
  x: {type: float, low: 0, high: 1}
task:
  command: ["sh", "-c", "echo cannot train >&2; exit 3"]
)");
  const std::string db = dir.File("broken.db");
  // --db before the command names the history file, as for every other command.
  auto r = Cli({"--db", db, "run", file, "--hpo-task", HPO_TASK_BIN});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.out, HasSubstr(absl::StrCat("(db ", db, ")")));
  EXPECT_THAT(r.err, HasSubstr("hpo: study 'broken' has no completed trial yet; trial #"));
  EXPECT_THAT(r.err, HasSubstr(" failed: exit code 3"));
  EXPECT_THAT(r.err, HasSubstr(absl::StrCat("(log in ", db, ".logs)")));
  EXPECT_TRUE(std::filesystem::exists(db));
  // Two different --db files, and a lease that cannot be held, are refused before anything runs.
  r = Cli({"--db", db, "run", file, "--db", dir.File("other.db")});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("--db names two files"));
  r = Cli({"run", file, "--db", dir.File("zero.db"), "--lease-timeout-s", "0"});
  EXPECT_EQ(r.code, 2);
  EXPECT_FALSE(std::filesystem::exists(dir.File("zero.db")));
}

TEST(CliRunTest, ResumesAnInterruptedRunAndRerunsItsOrphanedTrials) {
  TempDir dir;
  const std::string file = Write(dir, "small.yaml", kSmallStudy);
  const std::string db = dir.File("run.db");
  int64_t orphan = 0;
  {
    // An earlier run that died with one trial leased to a worker of its own.
    server::CoordinatorServerOptions options;
    options.listen = "127.0.0.1:0";
    options.db_path = db;
    auto s = server::CoordinatorServer::Start(options);
    ASSERT_TRUE(s.ok()) << s.status();
    auto spec = core::LoadStudyFile(file);
    ASSERT_TRUE(spec.ok());
    ASSERT_TRUE((*s)->coordinator()->CreateStudy(*spec).ok());
    auto lease = (*s)->coordinator()->AcquireTrial("local-dead-0", absl::ZeroDuration());
    ASSERT_TRUE(lease.ok() && lease->found());
    orphan = lease->trial().id();
  }
  const absl::Time start = absl::Now();
  // The default lease is 30 s: finishing well inside it shows the orphan was not waited out.
  auto r = Cli({"run", file, "--workers", "2", "--db", db, "--hpo-task", HPO_TASK_BIN});
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  EXPECT_LT(absl::Now() - start, absl::Seconds(20));
  EXPECT_THAT(r.out, HasSubstr("resuming study small"));
  EXPECT_THAT(r.out, HasSubstr("study small COMPLETED"));
  r = Cli({"--db", db, "trials", "small", "--format", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  int completed = 0;
  for (size_t at = 0; (at = r.out.find("\"state\": \"COMPLETED\"", at)) != std::string::npos;
       ++at) {
    ++completed;
  }
  EXPECT_EQ(completed, 6) << r.out;
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("\"state\": \"LOST\"")));
  EXPECT_THAT(r.out, HasSubstr(absl::StrCat("\"id\": ", orphan, ",")));
}

}  // namespace
}  // namespace hpo
