// Chaos: one coordinator and many hpo-worker processes on loopback run several studies of short
// trials while workers are SIGKILLed (and replaced) and the coordinator is SIGKILLed and
// restarted on the same database and port. At the end every study has reached its budget, every
// trial is terminal, no trial number has two results, the completed count equals the budget,
// and SQLite's integrity check passes.
//
// Short by default (part of `make test`); bench/chaos.sh runs it long through these variables:
//   HPO_CHAOS_STUDIES (3), HPO_CHAOS_TRIALS per study (150), HPO_CHAOS_WORKERS (16),
//   HPO_CHAOS_KILL_EVERY_MS (700), HPO_CHAOS_RESTARTS coordinator restarts at most (2),
//   HPO_CHAOS_TIMEOUT_S (300), HPO_CHAOS_SEED (1).
#include <signal.h>
#include <sqlite3.h>

#include <cstdlib>
#include <iostream>
#include <map>
#include <random>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "backend/backend.h"
#include "core/study_spec.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace hpo {
namespace {

using ::hpo::testing::PollUntil;
using ::hpo::testing::StartCoordinator;
using ::hpo::testing::StartWorker;
using ::hpo::testing::TempDir;
using ::hpo::testing::TerminateAndWait;

int Env(const char* name, int fallback) {
  const char* value = std::getenv(name);
  int n = 0;
  return value != nullptr && absl::SimpleAtoi(value, &n) ? n : fallback;
}

std::string IntegrityCheck(const std::string& path) {
  sqlite3* db = nullptr;
  std::string result = "cannot open";
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      result = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  return result;
}

TEST(ChaosTest, KilledWorkersAndCoordinatorLoseNothing) {
  const int studies = Env("HPO_CHAOS_STUDIES", 3);
  const int trials = Env("HPO_CHAOS_TRIALS", 150);
  const int worker_count = Env("HPO_CHAOS_WORKERS", 16);
  const absl::Duration kill_every = absl::Milliseconds(Env("HPO_CHAOS_KILL_EVERY_MS", 700));
  const int max_restarts = Env("HPO_CHAOS_RESTARTS", 2);
  const absl::Time deadline = absl::Now() + absl::Seconds(Env("HPO_CHAOS_TIMEOUT_S", 300));
  std::mt19937 rng(Env("HPO_CHAOS_SEED", 1));

  TempDir dir;
  const std::string db = dir.File("hpo.db");
  const double lease_s = 3;
  int port = 0;
  int coordinator_generation = 0;
  auto coordinator =
      StartCoordinator("127.0.0.1:0", db, lease_s, dir.File("coordinator-0.log"), &port);
  ASSERT_NE(coordinator, nullptr);
  const std::string address = absl::StrCat("127.0.0.1:", port);
  {
    auto backend = backend::ConnectGrpc(address, {}, absl::Seconds(10));
    ASSERT_TRUE(backend.ok()) << backend.status();
    for (int s = 0; s < studies; ++s) {
      auto spec = core::ParseStudyYaml(
          absl::StrCat("name: chaos-", s, R"(
objective: {metric: value, direction: minimize}
optimizer: {name: random, seed: )",
                       s, R"(}
budget: {max_trials: )",
                       trials, R"(, max_parallel: 16, max_retries: 1000, trial_timeout_s: 60}
space:
  x1: {type: float, low: -5, high: 10}
  x2: {type: float, low: 0, high: 15}
task: {builtin: branin, args: {steps: 2, step_ms: 5}}
)"));
      ASSERT_TRUE(spec.ok()) << spec.status();
      ASSERT_TRUE((*backend)->CreateStudy(*spec).ok());
    }
  }

  std::vector<std::unique_ptr<worker::ChildProcess>> workers;
  int started = 0;
  auto start_worker = [&] {
    auto w = StartWorker(address, 1, absl::StrCat("w", started++), dir.path());
    EXPECT_NE(w, nullptr);
    return w;
  };
  for (int i = 0; i < worker_count; ++i) workers.push_back(start_worker());

  auto all_completed = [&] {
    auto backend = backend::ConnectGrpc(address, {}, absl::Seconds(1));
    if (!backend.ok()) return false;
    for (int s = 0; s < studies; ++s) {
      auto study = (*backend)->GetStudy(absl::StrCat("chaos-", s));
      if (!study.ok() || study->state() != hpo::v1::STUDY_COMPLETED) return false;
    }
    return true;
  };

  int worker_kills = 0, coordinator_kills = 0;
  while (absl::Now() < deadline && !PollUntil(all_completed, kill_every, absl::Milliseconds(100))) {
    if (coordinator_kills < max_restarts && rng() % 6 == 0) {
      ::kill(coordinator->pid(), SIGKILL);
      ASSERT_TRUE(coordinator->Wait().ok());
      ++coordinator_kills;
      int again = 0;
      coordinator = StartCoordinator(
          address, db, lease_s,
          dir.File(absl::StrCat("coordinator-", ++coordinator_generation, ".log")), &again);
      ASSERT_NE(coordinator, nullptr);
      ASSERT_EQ(again, port);
    } else {
      const size_t victim = rng() % workers.size();
      ::kill(workers[victim]->pid(), SIGKILL);
      ASSERT_TRUE(workers[victim]->Wait().ok());
      ++worker_kills;
      workers[victim] = start_worker();
    }
  }
  ASSERT_TRUE(PollUntil(all_completed, deadline - absl::Now()))
      << "the studies did not reach their budgets in time";

  // Every trial is terminal; each number has exactly one result, and it is COMPLETED (branin
  // never fails, and retries cover every lost attempt).
  auto backend = backend::ConnectGrpc(address, {}, absl::Seconds(10));
  ASSERT_TRUE(backend.ok());
  int completed = 0, lost = 0, attempts = 0;
  for (int s = 0; s < studies; ++s) {
    const std::string name = absl::StrCat("chaos-", s);
    auto all = (*backend)->AllTrials(name, hpo::v1::TRIAL_STATE_UNSPECIFIED);
    ASSERT_TRUE(all.ok()) << all.status();
    std::map<int, int> results;  // number -> final results
    for (const hpo::v1::Trial& t : *all) {
      ++attempts;
      ASSERT_TRUE(t.state() == hpo::v1::COMPLETED || t.state() == hpo::v1::LOST)
          << name << " trial #" << t.number() << " ended " << hpo::v1::TrialState_Name(t.state());
      if (t.state() == hpo::v1::LOST) ++lost;
      if (t.state() == hpo::v1::COMPLETED) {
        ++results[t.number()];
        ++completed;
      }
    }
    ASSERT_EQ(results.size(), static_cast<size_t>(trials)) << name;
    for (const auto& [number, count] : results) {
      EXPECT_EQ(count, 1) << name << " trial #" << number << " has " << count << " results";
    }
    EXPECT_EQ(results.rbegin()->first, trials - 1) << name;
  }
  EXPECT_EQ(completed, studies * trials);

  for (auto& w : workers) EXPECT_EQ(TerminateAndWait(*w, absl::Seconds(60)), 0);
  EXPECT_EQ(TerminateAndWait(*coordinator, absl::Seconds(60)), 0);
  const std::string integrity = IntegrityCheck(db);
  EXPECT_EQ(integrity, "ok");
  std::cout << "chaos: " << studies << " studies x " << trials << " trials on " << worker_count
            << " workers; survived " << worker_kills << " worker kills and " << coordinator_kills
            << " coordinator kills; " << completed << " completed (budget " << studies * trials
            << "), " << lost << " lost attempts retried, " << attempts
            << " attempts in all; integrity_check " << integrity << std::endl;
}

}  // namespace
}  // namespace hpo
