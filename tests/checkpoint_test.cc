// Checkpoints survive retries: a worker process is SIGKILLed in the middle of a trial of
// examples/user_program/train.py (which saves its epoch to $HPO_TRIAL_DIR after each one); the
// lease expires, the trial is LOST, and its retry (attempt 1) on a second worker with the same
// --trial-dir-root (the same disk) resumes after the saved epoch and completes.
#include <signal.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "backend/backend.h"
#include "core/study_spec.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace hpo {
namespace {

using ::hpo::testing::PollUntil;
using ::hpo::testing::StartCoordinator;
using ::hpo::testing::StartWorker;
using ::hpo::testing::TempDir;
using ::hpo::testing::TerminateAndWait;
using ::testing::HasSubstr;

constexpr int kEpochs = 20;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(CheckpointTest, RetryOfAKilledWorkersTrialResumesFromItsCheckpoint) {
  TempDir dir;
  int port = 0;
  // A short lease, so that the killed worker's trial is LOST soon.
  auto coordinator =
      StartCoordinator("127.0.0.1:0", dir.File("hpo.db"), 1.5, dir.File("coordinator.log"), &port);
  ASSERT_NE(coordinator, nullptr);
  const std::string address = absl::StrCat("127.0.0.1:", port);
  auto backend = backend::ConnectGrpc(address, {}, absl::Seconds(10));
  ASSERT_TRUE(backend.ok()) << backend.status();

  auto spec = core::ParseStudyYaml(absl::StrCat(R"(
name: ckpt
objective: {metric: loss, direction: minimize}
budget: {max_trials: 1, max_parallel: 1, max_retries: 1, trial_timeout_s: 120}
space:
  lr: {type: float, low: 1.0e-4, high: 1.0, log: true}
  width: {type: int, low: 8, high: 512, log: true}
task:
  command: ["/usr/bin/python3", ")",
                                                HPO_SOURCE_DIR, R"(/examples/user_program/train.py",
            "--lr={lr}", "--width={width}", "--epochs=)",
                                                kEpochs, R"(", "--step-seconds=0.2"]
)"));
  ASSERT_TRUE(spec.ok()) << spec.status();
  ASSERT_TRUE((*backend)->CreateStudy(*spec).ok());

  const std::string trials = dir.File("trials");
  const std::vector<std::string> flags = {"--allow-command", "/usr/bin", "--trial-dir-root",
                                          trials};
  auto first = StartWorker(address, 1, "w0", dir.path(), flags);
  ASSERT_NE(first, nullptr);

  // Attempt 0 runs on w0; wait until the coordinator has its epoch 3 (or later).
  hpo::v1::Trial attempt0;
  int64_t killed_after = -1;  // the last epoch the coordinator had from attempt 0
  ASSERT_TRUE(PollUntil(
      [&] {
        auto running = (*backend)->AllTrials("ckpt", hpo::v1::RUNNING);
        if (!running.ok() || running->empty()) return false;
        auto trial = (*backend)->GetTrial(running->front().id());
        if (!trial.ok() || trial->measurements().empty()) return false;
        attempt0 = *trial;
        killed_after = trial->measurements().rbegin()->step();
        return killed_after >= 3;
      },
      absl::Seconds(30)))
      << "attempt 0 reported no epoch 3";
  ASSERT_EQ(attempt0.attempt(), 0);
  ASSERT_EQ(attempt0.number(), 0);
  ASSERT_EQ(attempt0.worker_id(), "w0");
  ASSERT_LT(killed_after, kEpochs) << "the trial ended before the kill; make its epochs longer";
  ::kill(first->pid(), SIGKILL);
  ASSERT_TRUE(first->Wait().ok());

  // The retry runs on another worker on the same disk.
  auto second = StartWorker(address, 1, "w1", dir.path(), flags);
  ASSERT_NE(second, nullptr);
  ASSERT_TRUE(PollUntil(
      [&] {
        auto study = (*backend)->GetStudy("ckpt");
        return study.ok() && study->state() == hpo::v1::STUDY_COMPLETED;
      },
      absl::Seconds(60)))
      << "the study did not complete";

  auto all = (*backend)->AllTrials("ckpt", hpo::v1::TRIAL_STATE_UNSPECIFIED);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 2u);
  hpo::v1::Trial lost, retry;
  for (const hpo::v1::Trial& t : *all) (t.attempt() == 0 ? lost : retry) = t;
  EXPECT_EQ(lost.id(), attempt0.id());
  EXPECT_EQ(lost.state(), hpo::v1::LOST);
  EXPECT_EQ(retry.attempt(), 1);
  EXPECT_EQ(retry.number(), 0);
  EXPECT_EQ(retry.state(), hpo::v1::COMPLETED) << retry.failure_reason();
  EXPECT_EQ(retry.worker_id(), "w1");

  // The retry went on from the saved epoch: it saved each epoch after printing it, so its
  // checkpoint is at killed_after or (killed between the two) one before, and the retry's first
  // epoch is the one after. It never started over at epoch 1.
  auto resumed = (*backend)->GetTrial(retry.id());
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  ASSERT_FALSE(resumed->measurements().empty());
  const int64_t first_step = resumed->measurements(0).step();
  EXPECT_GE(first_step, killed_after);
  EXPECT_GT(first_step, 1);
  EXPECT_EQ(resumed->measurements().rbegin()->step(), kEpochs);
  EXPECT_EQ(resumed->measurements_size(), kEpochs - first_step + 1);
  EXPECT_NEAR(retry.value(), resumed->measurements().rbegin()->metrics().at("loss"), 1e-12);

  // The trial directory is kept, and holds the last epoch.
  EXPECT_THAT(ReadFile(trials + "/ckpt/0/checkpoint.json"),
              HasSubstr(absl::StrCat("\"epoch\": ", kEpochs, ",")));
  EXPECT_THAT(ReadFile(dir.File(absl::StrCat("ckpt-0-1-", retry.id(), ".log"))),
              HasSubstr(absl::StrCat("resuming after epoch ", first_step - 1, " from ", trials,
                                     "/ckpt/0/checkpoint.json")));

  EXPECT_EQ(TerminateAndWait(*second, absl::Seconds(30)), 0);
  EXPECT_EQ(TerminateAndWait(*coordinator, absl::Seconds(30)), 0);
}

}  // namespace
}  // namespace hpo
