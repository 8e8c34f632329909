#include "worker/worker.h"

#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <deque>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "hpo/v1/hpo.grpc.pb.h"
#include "httplib.h"
#include "worker/test_util.h"

namespace hpo::worker {
namespace {

using ::testing::ElementsAre;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::StartsWith;

constexpr absl::Duration kWait = absl::Seconds(8);  // every poll below ends well before this

// A scripted WorkerService: hands out queued trials, records every request, and answers as told.
class FakeCoordinator final : public hpo::v1::WorkerService::Service {
 public:
  // ---- scripting (call before or while the worker runs)
  void AddTrial(const hpo::v1::Trial& trial, const hpo::v1::StudySpec& spec) {
    absl::MutexLock lock(&mu_);
    hpo::v1::AcquireTrialResponse r;
    r.set_found(true);
    *r.mutable_trial() = trial;
    *r.mutable_spec() = spec;
    queue_.push_back(r);
  }
  void StopOnReport(bool stop) {
    absl::MutexLock lock(&mu_);
    stop_on_report_ = stop;
  }
  void FailCompletes(int n, grpc::StatusCode code) {
    absl::MutexLock lock(&mu_);
    fail_completes_ = n;
    complete_code_ = code;
  }
  void FailReleases(int n, grpc::StatusCode code) {
    absl::MutexLock lock(&mu_);
    fail_releases_ = n;
    release_code_ = code;
  }
  void FailAcquires(int n) {
    absl::MutexLock lock(&mu_);
    fail_acquires_ = n;
  }
  void StopViaHeartbeat(int64_t trial_id) {
    absl::MutexLock lock(&mu_);
    heartbeat_stop_.insert(trial_id);
  }

  // ---- observation
  // Waits until `pred` holds on the recorded state (true) or kWait passes (false).
  template <typename Pred>
  bool AwaitState(Pred pred) {
    absl::MutexLock lock(&mu_);
    auto cond = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return pred(*this); };
    return mu_.AwaitWithTimeout(absl::Condition(&cond), kWait);
  }
  std::vector<hpo::v1::CompleteTrialRequest> completes() {
    absl::MutexLock lock(&mu_);
    return completes_;
  }
  std::vector<hpo::v1::ReportProgressRequest> reports() {
    absl::MutexLock lock(&mu_);
    return reports_;
  }
  std::vector<hpo::v1::RegisterWorkerRequest> registers() {
    absl::MutexLock lock(&mu_);
    return registers_;
  }
  std::vector<hpo::v1::HeartbeatRequest> heartbeats() {
    absl::MutexLock lock(&mu_);
    return heartbeats_;
  }
  std::vector<hpo::v1::ReleaseTrialRequest> releases() {
    absl::MutexLock lock(&mu_);
    return releases_;
  }
  int acquires() {
    absl::MutexLock lock(&mu_);
    return acquires_;
  }
  size_t queued() {
    absl::MutexLock lock(&mu_);
    return queue_.size();
  }

  // Fields read by AwaitState predicates (called with mu_ held).
  std::vector<hpo::v1::CompleteTrialRequest> completes_;
  std::vector<hpo::v1::ReportProgressRequest> reports_;
  std::vector<hpo::v1::RegisterWorkerRequest> registers_;
  std::vector<hpo::v1::HeartbeatRequest> heartbeats_;
  // For each heartbeat: how many CompleteTrial calls had arrived, and how many had succeeded.
  std::vector<std::pair<size_t, int>> heartbeat_completes_;
  int completes_ok_ = 0;
  std::vector<hpo::v1::ReleaseTrialRequest> releases_;
  int acquires_ = 0;

  // ---- the service
  grpc::Status RegisterWorker(grpc::ServerContext*, const hpo::v1::RegisterWorkerRequest* request,
                              hpo::v1::RegisterWorkerResponse* response) override {
    absl::MutexLock lock(&mu_);
    registers_.push_back(*request);
    response->set_lease_timeout_ms(10000);
    response->set_heartbeat_interval_ms(50);
    return grpc::Status::OK;
  }
  grpc::Status AcquireTrial(grpc::ServerContext*, const hpo::v1::AcquireTrialRequest* request,
                            hpo::v1::AcquireTrialResponse* response) override {
    absl::MutexLock lock(&mu_);
    ++acquires_;
    if (fail_acquires_ > 0) {
      --fail_acquires_;
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "restarting");
    }
    auto has_work = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !queue_.empty(); };
    mu_.AwaitWithTimeout(absl::Condition(&has_work), absl::Milliseconds(request->wait_ms()));
    if (queue_.empty()) return grpc::Status::OK;  // found = false
    *response = queue_.front();
    queue_.pop_front();
    return grpc::Status::OK;
  }
  grpc::Status ReportProgress(grpc::ServerContext*, const hpo::v1::ReportProgressRequest* request,
                              hpo::v1::ReportProgressResponse* response) override {
    absl::MutexLock lock(&mu_);
    reports_.push_back(*request);
    response->set_decision(stop_on_report_ ? hpo::v1::STOP : hpo::v1::CONTINUE);
    return grpc::Status::OK;
  }
  grpc::Status CompleteTrial(grpc::ServerContext*, const hpo::v1::CompleteTrialRequest* request,
                             hpo::v1::Trial* response) override {
    absl::MutexLock lock(&mu_);
    completes_.push_back(*request);
    if (fail_completes_ > 0) {
      --fail_completes_;
      return grpc::Status(complete_code_, "scripted failure");
    }
    ++completes_ok_;
    response->set_id(request->trial_id());
    response->set_state(request->state());
    return grpc::Status::OK;
  }
  grpc::Status ReleaseTrial(grpc::ServerContext*, const hpo::v1::ReleaseTrialRequest* request,
                            hpo::v1::Trial* response) override {
    absl::MutexLock lock(&mu_);
    releases_.push_back(*request);
    if (fail_releases_ > 0) {
      --fail_releases_;
      return grpc::Status(release_code_, "scripted failure");
    }
    response->set_id(request->trial_id());
    response->set_state(hpo::v1::PENDING);
    return grpc::Status::OK;
  }
  grpc::Status Heartbeat(grpc::ServerContext*, const hpo::v1::HeartbeatRequest* request,
                         hpo::v1::HeartbeatResponse* response) override {
    absl::MutexLock lock(&mu_);
    heartbeats_.push_back(*request);
    heartbeat_completes_.emplace_back(completes_.size(), completes_ok_);
    for (int64_t id : request->running_trial_ids()) {
      if (heartbeat_stop_.count(id)) response->add_stop_trial_ids(id);
    }
    return grpc::Status::OK;
  }

  absl::Mutex mu_;

 private:
  std::deque<hpo::v1::AcquireTrialResponse> queue_ ABSL_GUARDED_BY(mu_);
  bool stop_on_report_ ABSL_GUARDED_BY(mu_) = false;
  int fail_completes_ ABSL_GUARDED_BY(mu_) = 0;
  grpc::StatusCode complete_code_ ABSL_GUARDED_BY(mu_) = grpc::StatusCode::UNAVAILABLE;
  int fail_releases_ ABSL_GUARDED_BY(mu_) = 0;
  grpc::StatusCode release_code_ ABSL_GUARDED_BY(mu_) = grpc::StatusCode::UNAVAILABLE;
  int fail_acquires_ ABSL_GUARDED_BY(mu_) = 0;
  std::set<int64_t> heartbeat_stop_ ABSL_GUARDED_BY(mu_);
};

std::string MakeTempDir() { return test_util::MakeTempDir("worker_test"); }

hpo::v1::StudySpec BraninSpec(int steps) {
  hpo::v1::StudySpec spec;
  spec.set_name("branin-study");
  spec.mutable_objective()->set_metric("value");
  spec.mutable_task()->set_builtin("branin");
  (*spec.mutable_task()->mutable_builtin_args())["steps"] = std::to_string(steps);
  auto* x1 = spec.mutable_space()->add_params();
  x1->set_name("x1");
  x1->mutable_float_domain()->set_low(-5);
  x1->mutable_float_domain()->set_high(10);
  auto* x2 = spec.mutable_space()->add_params();
  x2->set_name("x2");
  x2->mutable_float_domain()->set_low(0);
  x2->mutable_float_domain()->set_high(15);
  return spec;
}

hpo::v1::Trial BraninTrial(int64_t id, double x1, double x2) {
  hpo::v1::Trial trial;
  trial.set_id(id);
  trial.set_number(static_cast<int>(id));
  (*trial.mutable_params()->mutable_values())["x1"].set_float_value(x1);
  (*trial.mutable_params()->mutable_values())["x2"].set_float_value(x2);
  return trial;
}

// A study whose task is a shell script (the x1/x2 space of Branin, unused by the script).
hpo::v1::StudySpec ShellSpec(const std::string& script) {
  hpo::v1::StudySpec spec = BraninSpec(1);
  spec.set_name("shell-study");
  spec.mutable_task()->clear_builtin_args();
  auto* cmd = spec.mutable_task()->mutable_command();
  cmd->add_argv("/bin/sh");
  cmd->add_argv("-c");
  cmd->add_argv(script);
  return spec;
}

class WorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&fake_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    address_ = "127.0.0.1:" + std::to_string(port);
    log_dir_ = MakeTempDir();
  }
  void TearDown() override {
    if (worker_ != nullptr) {
      worker_->Stop();
      worker_->Wait();
    }
    server_->Shutdown(absl::ToChronoTime(absl::Now()));
  }

  Worker::Options DefaultOptions() {
    Worker::Options options;
    options.coordinator = address_;
    options.worker_id = "w1";
    options.hpo_task_path = HPO_TASK_PATH;
    options.log_dir = log_dir_;
    options.acquire_wait = absl::Milliseconds(100);
    options.kill_grace = absl::Milliseconds(200);
    options.initial_backoff = absl::Milliseconds(10);
    options.max_backoff = absl::Milliseconds(100);
    options.complete_deadline = absl::Seconds(5);
    options.allow_any_command = true;                  // the shell studies below
    options.gpu_poll_interval = absl::ZeroDuration();  // the GPU tests turn it on
    return options;
  }

  void StartWorker(Worker::Options options) {
    absl::StatusOr<std::unique_ptr<Worker>> worker = Worker::Create(std::move(options));
    ASSERT_TRUE(worker.ok()) << worker.status();
    worker_ = std::move(*worker);
    ASSERT_TRUE(worker_->Start().ok());
  }

  // Waits until `n` completions were received.
  bool AwaitCompletes(size_t n) {
    return fake_.AwaitState([n](FakeCoordinator& f) { return f.completes_.size() >= n; });
  }

  FakeCoordinator fake_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
  std::string log_dir_;
  std::unique_ptr<Worker> worker_;
};

TEST(GpuTest, ParseGpus) {
  EXPECT_THAT(ParseGpus("0,1").value(), ElementsAre("0", "1"));
  EXPECT_THAT(ParseGpus(" 2 , 3 ").value(), ElementsAre("2", "3"));
  EXPECT_THAT(ParseGpus("none").value(), IsEmpty());
  EXPECT_THAT(ParseGpus("").value(), IsEmpty());
  EXPECT_TRUE(ParseGpus("auto").ok());  // whatever nvidia-smi says, or none
  absl::StatusOr<std::vector<std::string>> bad = ParseGpus("0,,1");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("--gpus: empty item in '0,,1'"));
}

TEST(GpuTest, AssignGpus) {
  using V = std::vector<std::string>;
  EXPECT_THAT(AssignGpus({"0", "1"}, 2), ElementsAre(V{"0"}, V{"1"}));
  EXPECT_THAT(AssignGpus({"0", "1", "2", "3"}, 2), ElementsAre(V{"0", "2"}, V{"1", "3"}));
  EXPECT_THAT(AssignGpus({"0", "1"}, 3), ElementsAre(V{"0"}, V{"1"}, V{"0"}));
  EXPECT_THAT(AssignGpus({}, 2), ElementsAre(V{}, V{}));
}

TEST(WorkerCreateTest, RejectsBadOptions) {
  Worker::Options options;
  EXPECT_EQ(Worker::Create(options).status().code(), absl::StatusCode::kInvalidArgument);
  options.coordinator = "localhost:1";
  options.slots = 0;
  absl::StatusOr<std::unique_ptr<Worker>> w = Worker::Create(options);
  EXPECT_EQ(w.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(w.status().message(), "slots: must be >= 1, got 0");
  options.slots = 1;
  const std::string file = MakeTempDir() + "/a-file";
  { std::ofstream(file) << "x"; }
  options.trial_dir_root = file + "/trials";
  w = Worker::Create(options);
  EXPECT_EQ(w.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(w.status().message(),
            "cannot create trial directory root '" + file + "/trials': Not a directory");
  options.trial_dir_root.clear();
  w = Worker::Create(options);
  ASSERT_TRUE(w.ok());
  EXPECT_THAT((*w)->worker_id(), EndsWith(absl::StrCat("-", ::getpid())));  // hostname-pid
  EXPECT_TRUE((*w)->Start().ok());
  EXPECT_EQ((*w)->Start().code(), absl::StatusCode::kFailedPrecondition);
  (*w)->Stop();
  (*w)->Wait();
}

TEST_F(WorkerTest, AcquireReportComplete) {
  fake_.AddTrial(BraninTrial(11, M_PI, 2.275), BraninSpec(3));
  fake_.AddTrial(BraninTrial(12, 0, 0), BraninSpec(1));
  Worker::Options options = DefaultOptions();
  options.gpus = {"3"};
  StartWorker(options);
  ASSERT_TRUE(AwaitCompletes(2));

  std::vector<hpo::v1::RegisterWorkerRequest> registers = fake_.registers();
  ASSERT_GE(registers.size(), 1u);
  EXPECT_EQ(registers[0].worker_id(), "w1");
  EXPECT_EQ(registers[0].slots(), 1);
  EXPECT_THAT(registers[0].gpus(), ElementsAre("3"));

  // Every step of each trial is reported, in order (in batches: lines that follow each other
  // closely go together).
  std::vector<std::pair<int64_t, int64_t>> steps;  // (trial id, step)
  for (const hpo::v1::ReportProgressRequest& r : fake_.reports()) {
    EXPECT_EQ(r.worker_id(), "w1");
    EXPECT_FALSE(r.has_measurement());
    for (const hpo::v1::Measurement& m : r.measurements())
      steps.emplace_back(r.trial_id(), m.step());
  }
  EXPECT_THAT(steps, ElementsAre(Pair(11, 1), Pair(11, 2), Pair(11, 3), Pair(12, 1)));

  std::vector<hpo::v1::CompleteTrialRequest> completes = fake_.completes();
  EXPECT_EQ(completes[0].worker_id(), "w1");
  EXPECT_EQ(completes[0].trial_id(), 11);
  EXPECT_EQ(completes[0].state(), hpo::v1::COMPLETED);
  EXPECT_NEAR(completes[0].final_metrics().at("value"), 0.397887, 1e-5);
  EXPECT_EQ(completes[1].trial_id(), 12);
  EXPECT_EQ(completes[1].state(), hpo::v1::COMPLETED);
  EXPECT_NEAR(completes[1].final_metrics().at("value"), 36 + 10 * (1 - 1 / (8 * M_PI)) + 10, 1e-9);
  EXPECT_THAT(completes[0].request_id(), StartsWith("w1-11-"));
  EXPECT_THAT(completes[1].request_id(), StartsWith("w1-12-"));
  EXPECT_NE(completes[0].request_id(), completes[1].request_id());

  // The trial's log is in the log directory.
  struct stat st;
  EXPECT_EQ(::stat((log_dir_ + "/branin-study-11-0-11.log").c_str(), &st), 0);
}

TEST_F(WorkerTest, StopReplyPrunes) {
  fake_.StopOnReport(true);
  fake_.AddTrial(BraninTrial(5, 0, 0),
                 ShellSpec("trap '' TERM; i=0; while :; do i=$((i+1)); "
                           "echo \"hpo-metric {\\\"value\\\": $i}\"; sleep 0.01; done"));
  StartWorker(DefaultOptions());
  ASSERT_TRUE(AwaitCompletes(1));
  hpo::v1::CompleteTrialRequest c = fake_.completes()[0];
  EXPECT_EQ(c.trial_id(), 5);
  EXPECT_EQ(c.state(), hpo::v1::PRUNED);
  EXPECT_EQ(c.final_metrics().at("value"), 1);
  EXPECT_EQ(fake_.reports().size(), 1u);
}

// A trial that prints thousands of metric lines costs a few reports, each line's step is
// reported once, and the final line is the result.
TEST_F(WorkerTest, ChattyTrialIsReportedInBatches) {
  fake_.AddTrial(BraninTrial(6, 0, 0),
                 ShellSpec("seq 1 5000 | sed 's/.*/hpo-metric {\"step\": &, \"value\": &}/'; "
                           "echo 'hpo-metric {\"step\": 5001, \"value\": 0.5, \"final\": true}'"));
  Worker::Options options = DefaultOptions();
  options.report_interval = absl::Milliseconds(100);
  StartWorker(options);
  ASSERT_TRUE(AwaitCompletes(1));
  hpo::v1::CompleteTrialRequest c = fake_.completes()[0];
  EXPECT_EQ(c.state(), hpo::v1::COMPLETED);
  EXPECT_EQ(c.final_metrics().at("value"), 0.5);
  std::vector<int64_t> steps;
  const std::vector<hpo::v1::ReportProgressRequest> reports = fake_.reports();
  for (const hpo::v1::ReportProgressRequest& r : reports) {
    for (const hpo::v1::Measurement& m : r.measurements()) steps.push_back(m.step());
  }
  ASSERT_EQ(steps.size(), 5001u);
  for (size_t i = 0; i < steps.size(); ++i) EXPECT_EQ(steps[i], static_cast<int64_t>(i + 1));
  EXPECT_EQ(reports.back().measurements().rbegin()->metrics().at("value"), 0.5);
  EXPECT_LT(reports.size(), 100u) << "5,001 lines within a few hundred ms take a few reports";
}

TEST_F(WorkerTest, UnavailableCompletionIsRetriedWithTheSameRequestId) {
  fake_.FailCompletes(2, grpc::StatusCode::UNAVAILABLE);
  fake_.AddTrial(BraninTrial(7, 1, 1), BraninSpec(1));
  StartWorker(DefaultOptions());
  ASSERT_TRUE(AwaitCompletes(3));
  std::vector<hpo::v1::CompleteTrialRequest> completes = fake_.completes();
  for (const auto& c : completes) {
    EXPECT_EQ(c.trial_id(), 7);
    EXPECT_EQ(c.state(), hpo::v1::COMPLETED);
    EXPECT_EQ(c.request_id(), completes[0].request_id());
  }
  // The worker went on: it registered again after the UNAVAILABLE and keeps polling.
  EXPECT_TRUE(fake_.AwaitState([](FakeCoordinator& f) { return f.registers_.size() >= 2; }));
  worker_->Drain();
  worker_->Wait();
  EXPECT_EQ(fake_.completes().size(), 3u);
}

TEST_F(WorkerTest, LostLeaseDropsTheResult) {
  fake_.FailCompletes(1, grpc::StatusCode::FAILED_PRECONDITION);
  fake_.AddTrial(BraninTrial(8, 1, 1), BraninSpec(1));
  fake_.AddTrial(BraninTrial(9, 1, 2), BraninSpec(1));
  StartWorker(DefaultOptions());
  ASSERT_TRUE(AwaitCompletes(2));
  std::vector<hpo::v1::CompleteTrialRequest> completes = fake_.completes();
  EXPECT_EQ(completes[0].trial_id(), 8);  // tried once, not retried
  EXPECT_EQ(completes[1].trial_id(), 9);
}

TEST_F(WorkerTest, RegistersAgainAfterUnavailable) {
  fake_.FailAcquires(3);
  fake_.AddTrial(BraninTrial(4, 1, 1), BraninSpec(1));
  StartWorker(DefaultOptions());
  ASSERT_TRUE(AwaitCompletes(1));
  EXPECT_EQ(fake_.completes()[0].state(), hpo::v1::COMPLETED);
  EXPECT_GE(fake_.registers().size(), 2u);
  EXPECT_GE(fake_.acquires(), 4);
}

TEST_F(WorkerTest, DrainFinishesTheRunningTrial) {
  const std::string gate = log_dir_ + "/gate";
  fake_.AddTrial(BraninTrial(1, 0, 0),
                 ShellSpec("echo 'hpo-metric {\"value\": 5}'; while [ ! -f " + gate +
                           " ]; do sleep 0.01; done; echo 'hpo-metric {\"value\": 2}'"));
  StartWorker(DefaultOptions());
  ASSERT_TRUE(fake_.AwaitState([](FakeCoordinator& f) { return f.reports_.size() >= 1; }));
  fake_.AddTrial(BraninTrial(2, 0, 0), BraninSpec(1));  // must not be taken after the drain
  worker_->Drain();
  absl::Notification done;
  std::thread waiter([&] {
    worker_->Wait();
    done.Notify();
  });
  EXPECT_FALSE(done.HasBeenNotified());
  EXPECT_THAT(fake_.completes(), IsEmpty());
  std::ofstream(gate) << "go";
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(kWait));
  waiter.join();
  std::vector<hpo::v1::CompleteTrialRequest> completes = fake_.completes();
  ASSERT_EQ(completes.size(), 1u);
  EXPECT_EQ(completes[0].trial_id(), 1);
  EXPECT_EQ(completes[0].state(), hpo::v1::COMPLETED);
  EXPECT_EQ(completes[0].final_metrics().at("value"), 2);
  EXPECT_EQ(fake_.queued(), 1u);
}

TEST_F(WorkerTest, HeartbeatCarriesRunningTrialsAndStopsThem) {
  fake_.AddTrial(BraninTrial(21, 0, 0),
                 ShellSpec("echo 'hpo-metric {\"value\": 5}'; exec sleep 30"));
  StartWorker(DefaultOptions());
  ASSERT_TRUE(fake_.AwaitState([](FakeCoordinator& f) {
    for (const auto& h : f.heartbeats_) {
      if (h.running_trial_ids_size() == 1 && h.running_trial_ids(0) == 21) return true;
    }
    return false;
  }));
  EXPECT_EQ(fake_.heartbeats()[0].worker_id(), "w1");
  fake_.StopViaHeartbeat(21);
  ASSERT_TRUE(AwaitCompletes(1));
  hpo::v1::CompleteTrialRequest c = fake_.completes()[0];
  EXPECT_EQ(c.trial_id(), 21);
  EXPECT_EQ(c.state(), hpo::v1::PRUNED);
  EXPECT_EQ(c.final_metrics().at("value"), 5);
}

// A trial is the worker's until its completion got through: a finished trial whose result is
// still being retried is listed in heartbeats, so the coordinator does not take it back.
TEST_F(WorkerTest, HeartbeatsListATrialUntilItsCompletionSucceeds) {
  fake_.FailCompletes(1000, grpc::StatusCode::UNAVAILABLE);
  fake_.AddTrial(BraninTrial(51, 1, 1), BraninSpec(1));
  StartWorker(DefaultOptions());
  ASSERT_TRUE(fake_.AwaitState([](FakeCoordinator& f) {
    for (size_t i = 0; i < f.heartbeats_.size(); ++i) {
      if (f.heartbeat_completes_[i].first >= 1 && f.heartbeats_[i].running_trial_ids_size() == 1 &&
          f.heartbeats_[i].running_trial_ids(0) == 51) {
        return true;  // sent after the first CompleteTrial failed
      }
    }
    return false;
  }));
  fake_.FailCompletes(0, grpc::StatusCode::UNAVAILABLE);
  // Once the completion got through, it is no longer listed.
  ASSERT_TRUE(fake_.AwaitState([](FakeCoordinator& f) {
    for (size_t i = 0; i < f.heartbeats_.size(); ++i) {
      if (f.heartbeat_completes_[i].second >= 1 && f.heartbeats_[i].running_trial_ids_size() == 0) {
        return true;
      }
    }
    return false;
  }));
  hpo::v1::CompleteTrialRequest last = fake_.completes().back();
  EXPECT_EQ(last.trial_id(), 51);
  EXPECT_EQ(last.state(), hpo::v1::COMPLETED);
}

// Stop gives a running trial back (PENDING, same attempt) instead of failing it; an UNAVAILABLE
// release is retried.
TEST_F(WorkerTest, StopReleasesRunningTrials) {
  fake_.FailReleases(2, grpc::StatusCode::UNAVAILABLE);
  fake_.AddTrial(
      BraninTrial(31, 0, 0),
      ShellSpec("echo \"hpo-metric {\\\"value\\\": 5, \\\"pid\\\": $$}\"; exec sleep 30"));
  StartWorker(DefaultOptions());
  ASSERT_TRUE(fake_.AwaitState([](FakeCoordinator& f) { return f.reports_.size() >= 1; }));
  worker_->Stop();
  worker_->Wait();
  EXPECT_THAT(fake_.completes(), IsEmpty());
  std::vector<hpo::v1::ReleaseTrialRequest> releases = fake_.releases();
  ASSERT_EQ(releases.size(), 3u);
  for (const auto& r : releases) {
    EXPECT_EQ(r.worker_id(), "w1");
    EXPECT_EQ(r.trial_id(), 31);
    EXPECT_EQ(r.reason(), "worker stopping");
  }
  // The process was killed first.
  const pid_t pid = static_cast<pid_t>(fake_.reports()[0].measurements(0).metrics().at("pid"));
  EXPECT_EQ(::kill(pid, 0), -1);
  EXPECT_EQ(errno, ESRCH);
}

// A result the coordinator refuses for good (not a lost lease) is replaced by a plain FAILED, so
// the trial does not linger until its lease expires.
TEST_F(WorkerTest, RefusedResultIsCompletedAsFailed) {
  fake_.FailCompletes(1, grpc::StatusCode::INVALID_ARGUMENT);
  fake_.AddTrial(BraninTrial(61, 1, 1), BraninSpec(1));
  StartWorker(DefaultOptions());
  ASSERT_TRUE(AwaitCompletes(2));
  std::vector<hpo::v1::CompleteTrialRequest> completes = fake_.completes();
  EXPECT_EQ(completes[0].state(), hpo::v1::COMPLETED);
  EXPECT_EQ(completes[1].trial_id(), 61);
  EXPECT_EQ(completes[1].worker_id(), "w1");
  EXPECT_EQ(completes[1].state(), hpo::v1::FAILED);
  EXPECT_THAT(completes[1].final_metrics(), IsEmpty());
  EXPECT_EQ(completes[1].failure_reason(), "coordinator refused the result: scripted failure");
  EXPECT_THAT(completes[1].request_id(), StartsWith("w1-61-"));
  EXPECT_NE(completes[1].request_id(), completes[0].request_id());

  // The FAILED is sent once, even when it is refused too; a lost lease (NOT_FOUND) is not
  // answered with it.
  fake_.FailCompletes(2, grpc::StatusCode::INTERNAL);
  fake_.AddTrial(BraninTrial(62, 1, 1), BraninSpec(1));
  ASSERT_TRUE(AwaitCompletes(4));
  fake_.FailCompletes(1, grpc::StatusCode::NOT_FOUND);
  fake_.AddTrial(BraninTrial(63, 1, 1), BraninSpec(1));
  ASSERT_TRUE(AwaitCompletes(5));
  fake_.AddTrial(BraninTrial(64, 1, 1), BraninSpec(1));
  ASSERT_TRUE(AwaitCompletes(6));
  completes = fake_.completes();
  ASSERT_EQ(completes.size(), 6u);
  EXPECT_EQ(completes[2].trial_id(), 62);
  EXPECT_EQ(completes[3].trial_id(), 62);
  EXPECT_EQ(completes[3].failure_reason(), "coordinator refused the result: scripted failure");
  EXPECT_EQ(completes[4].trial_id(), 63);
  EXPECT_EQ(completes[4].state(), hpo::v1::COMPLETED);
  EXPECT_EQ(completes[5].trial_id(), 64);
}

TEST(GpuTest, SlotsPerGpu) {
  EXPECT_EQ(ResolveSlots(3, true, 0, 2).value(), 3);  // --slots alone
  EXPECT_EQ(ResolveSlots(1, false, 4, 2).value(), 8);
  absl::StatusOr<int> both = ResolveSlots(3, true, 4, 2);
  EXPECT_EQ(both.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(both.status().message(), HasSubstr("give --slots or --slots-per-gpu, not both"));
  absl::StatusOr<int> cpu = ResolveSlots(1, false, 2, 0);
  EXPECT_EQ(cpu.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(cpu.status().message(), HasSubstr("the worker has no GPUs"));
  EXPECT_EQ(ResolveSlots(1, false, -1, 2).status().code(), absl::StatusCode::kInvalidArgument);
}

// A fake nvidia-smi on PATH that lists GPUs 0 and 1.
class FakeNvidiaSmi {
 public:
  FakeNvidiaSmi() : dir_(MakeTempDir()), old_path_(std::getenv("PATH")) {
    const std::string script = dir_ + "/nvidia-smi";
    std::ofstream(script) << "#!/bin/sh\nprintf '0\\n1\\n'\n";
    ::chmod(script.c_str(), 0755);
    ::setenv("PATH", (dir_ + ":" + old_path_).c_str(), 1);
  }
  ~FakeNvidiaSmi() { ::setenv("PATH", old_path_.c_str(), 1); }

 private:
  std::string dir_;
  std::string old_path_;
};

TEST_F(WorkerTest, SlotsPerGpuPacksTrialsOnTheGpusNvidiaSmiLists) {
  FakeNvidiaSmi fake_smi;
  absl::StatusOr<std::vector<std::string>> gpus = ParseGpus("auto");
  ASSERT_TRUE(gpus.ok());
  ASSERT_THAT(*gpus, ElementsAre("0", "1"));
  const std::string gate = log_dir_ + "/gate4";
  const std::string script =
      "echo \"hpo-metric {\\\"value\\\": ${CUDA_VISIBLE_DEVICES}}\"; while [ ! -f " + gate +
      " ]; do sleep 0.01; done";
  for (int id = 71; id <= 74; ++id) fake_.AddTrial(BraninTrial(id, 0, 0), ShellSpec(script));
  Worker::Options options = DefaultOptions();
  options.slots = ResolveSlots(1, false, /*slots_per_gpu=*/2, gpus->size()).value();
  options.gpus = *gpus;
  EXPECT_EQ(options.slots, 4);
  StartWorker(options);
  // All four run at once, two on each GPU.
  ASSERT_TRUE(fake_.AwaitState([](FakeCoordinator& f) { return f.reports_.size() >= 4; }));
  std::ofstream(gate) << "go";
  ASSERT_TRUE(AwaitCompletes(4));
  std::multiset<double> values;
  for (const auto& c : fake_.completes()) values.insert(c.final_metrics().at("value"));
  EXPECT_THAT(values, ElementsAre(0, 0, 1, 1));
}

// A fake nvidia-smi on PATH that answers each query from a file in its folder: gpus.csv for
// --query-gpu=index,uuid,..., and a line "<pid in trial.pid>, GPU-a, 1500" for
// --query-compute-apps (appending a line to polls.txt each time). `exit.txt`, when present,
// holds an exit status to fail with.
class ScriptedNvidiaSmi {
 public:
  ScriptedNvidiaSmi() : dir_(MakeTempDir()), old_path_(std::getenv("PATH")) {
    const std::string script = dir_ + "/nvidia-smi";
    std::ofstream(script)
        << "#!/bin/sh\n"
        << "d=" << dir_ << "\n"
        << "[ -f $d/exit.txt ] && exit $(cat $d/exit.txt)\n"
        << "case \"$1\" in\n"
        << "  --query-gpu=index) cut -d, -f1 $d/gpus.csv ;;\n"
        << "  --query-gpu=*) cat $d/gpus.csv ;;\n"
        << "  --query-compute-apps=*) echo poll >> $d/polls.txt;"
        << " [ -f $d/trial.pid ] && echo \"$(cat $d/trial.pid), GPU-a, 1500\" ;;\n"
        << "esac\n";
    ::chmod(script.c_str(), 0755);
    SetGpus("0, GPU-a, 40, 2000, 80000\n1, GPU-b, 0, 1, 80000\n");
    ::setenv("PATH", (dir_ + ":" + old_path_).c_str(), 1);
  }
  ~ScriptedNvidiaSmi() { ::setenv("PATH", old_path_.c_str(), 1); }

  void SetGpus(const std::string& csv) {
    std::ofstream(dir_ + "/gpus.csv.tmp") << csv;
    std::rename((dir_ + "/gpus.csv.tmp").c_str(), (dir_ + "/gpus.csv").c_str());
  }
  int Polls() const {
    std::ifstream in(dir_ + "/polls.txt");
    int n = 0;
    for (std::string line; std::getline(in, line);) ++n;
    return n;
  }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  std::string old_path_;
};

TEST_F(WorkerTest, ATrialsGpuUseIsMeasuredAndSentWithItsResult) {
  ScriptedNvidiaSmi smi;
  const std::string gate = log_dir_ + "/gate5";
  // The trial writes its pid (its process group) where the fake reports its GPU memory.
  const std::string script = "echo $$ > " + smi.dir() + "/trial.pid; while [ ! -f " + gate +
                             " ]; do sleep 0.01; done; echo 'hpo-metric {\"value\": 1}'";
  fake_.AddTrial(BraninTrial(81, 0, 0), ShellSpec(script));
  Worker::Options options = DefaultOptions();
  options.gpus = {"0"};
  options.gpu_poll_interval = absl::Milliseconds(20);
  StartWorker(options);
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (smi.Polls() < 3 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(10));
  ASSERT_GE(smi.Polls(), 3);
  std::ofstream(gate) << "go";
  ASSERT_TRUE(AwaitCompletes(1));
  const hpo::v1::CompleteTrialRequest done = fake_.completes()[0];
  EXPECT_EQ(done.state(), hpo::v1::COMPLETED);
  ASSERT_TRUE(done.has_gpu_usage());
  EXPECT_THAT(done.gpu_usage().devices(), ElementsAre("0"));
  EXPECT_EQ(done.gpu_usage().peak_memory_mib(), 1500);
  EXPECT_EQ(done.gpu_usage().mean_utilization_pct(), 40);
  EXPECT_GE(done.gpu_usage().polls(), 2);
  EXPECT_EQ(worker_->gpu_problem(), "");
}

TEST_F(WorkerTest, AWorkerWhoseGpuDisappearsStopsTakingTrialsAndSaysWhy) {
  ScriptedNvidiaSmi smi;
  Worker::Options options = DefaultOptions();
  options.gpus = {"0", "1"};
  options.slots = 2;
  options.gpu_poll_interval = absl::Milliseconds(20);
  StartWorker(options);
  smi.SetGpus("0, GPU-a, 40, 2000, 80000\n");  // GPU 1 fell off the bus
  // It drains: with no trial running, Wait returns.
  absl::Notification drained;
  std::thread waiter([&] {
    worker_->Wait();
    drained.Notify();
  });
  const bool ended = drained.WaitForNotificationWithTimeout(absl::Seconds(30));
  if (!ended) worker_->Stop();
  waiter.join();
  ASSERT_TRUE(ended);
  EXPECT_EQ(worker_->gpu_problem(), "GPU 1 is gone: nvidia-smi lists 0");
}

TEST(GpuMonitorTest, AFailingNvidiaSmiIsReportedOnTheSecondPollInARow) {
  ScriptedNvidiaSmi smi;
  std::ofstream(smi.dir() + "/exit.txt") << "9";
  std::vector<std::string> reports;
  absl::Mutex mu;
  GpuMonitor::Options options;
  options.gpus = {"0"};
  options.interval = absl::Hours(1);  // polls only when told to
  options.on_unhealthy = [&](const std::string& why) {
    absl::MutexLock lock(&mu);
    reports.push_back(why);
  };
  GpuMonitor monitor(options);
  monitor.PollOnce();
  EXPECT_EQ(monitor.unhealthy(), "");  // one bad poll is a hiccup
  std::remove((smi.dir() + "/exit.txt").c_str());
  monitor.PollOnce();  // a good one resets the count
  std::ofstream(smi.dir() + "/exit.txt") << "9";
  monitor.PollOnce();
  EXPECT_EQ(monitor.unhealthy(), "");
  monitor.PollOnce();
  EXPECT_EQ(monitor.unhealthy(), "nvidia-smi: exit code 9");
  monitor.PollOnce();
  absl::MutexLock lock(&mu);
  EXPECT_THAT(reports, ElementsAre("nvidia-smi: exit code 9"));  // once
}

TEST_F(WorkerTest, SlotsRunInParallelWithTheirGpus) {
  const std::string gate = log_dir_ + "/gate2";
  const std::string script =
      "echo \"hpo-metric {\\\"value\\\": ${CUDA_VISIBLE_DEVICES}}\"; while [ ! -f " + gate +
      " ]; do sleep 0.01; done";
  fake_.AddTrial(BraninTrial(41, 0, 0), ShellSpec(script));
  fake_.AddTrial(BraninTrial(42, 0, 0), ShellSpec(script));
  Worker::Options options = DefaultOptions();
  options.slots = 2;
  options.gpus = {"6", "7"};
  StartWorker(options);
  // Both report before either may finish: they run at once.
  ASSERT_TRUE(fake_.AwaitState([](FakeCoordinator& f) { return f.reports_.size() >= 2; }));
  std::ofstream(gate) << "go";
  ASSERT_TRUE(AwaitCompletes(2));
  std::set<double> values;
  for (const auto& c : fake_.completes()) values.insert(c.final_metrics().at("value"));
  EXPECT_THAT(values, ElementsAre(6, 7));
  // Both slots started unregistered; one of them registered the worker.
  EXPECT_EQ(fake_.registers().size(), 1u);
}

TEST_F(WorkerTest, RunsOnlyTheCommandsAndStudiesItAllows) {
  // /bin/sh is allowed (as the file it resolves to); a trial of another study is refused.
  fake_.AddTrial(BraninTrial(21, 1, 1), ShellSpec("echo 'hpo-metric {\"value\": 4}'"));
  hpo::v1::StudySpec outsider = ShellSpec("echo 'hpo-metric {\"value\": 4}'");
  outsider.set_name("outsider");
  fake_.AddTrial(BraninTrial(22, 1, 1), outsider);
  Worker::Options options = DefaultOptions();
  options.allow_any_command = false;
  options.allow_commands = {"/bin/sh"};
  options.studies = {"shell-study"};
  StartWorker(options);
  ASSERT_TRUE(AwaitCompletes(1));
  ASSERT_TRUE(fake_.AwaitState([](FakeCoordinator& f) { return f.releases_.size() >= 1; }));
  EXPECT_EQ(fake_.completes()[0].trial_id(), 21);
  EXPECT_EQ(fake_.completes()[0].state(), hpo::v1::COMPLETED);
  const hpo::v1::ReleaseTrialRequest release = fake_.releases()[0];
  EXPECT_EQ(release.trial_id(), 22);
  EXPECT_TRUE(release.refused());
  EXPECT_THAT(release.reason(), HasSubstr("study 'outsider' is not in the worker's --studies"));
  // It told the coordinator what it accepts, with the prefix canonical.
  const hpo::v1::RegisterWorkerRequest registered = fake_.registers()[0];
  char real[PATH_MAX];
  ASSERT_NE(::realpath("/bin/sh", real), nullptr);
  EXPECT_THAT(registered.command_prefixes(), ElementsAre("/bin/sh", std::string(real)));
  EXPECT_FALSE(registered.any_command());
  EXPECT_THAT(registered.studies(), ElementsAre("shell-study"));
}

TEST_F(WorkerTest, RefusesACommandOutsideItsAllowList) {
  fake_.AddTrial(BraninTrial(31, 1, 1), ShellSpec("echo 'hpo-metric {\"value\": 4}'"));
  Worker::Options options = DefaultOptions();
  options.allow_any_command = false;
  options.allow_commands = {log_dir_};
  StartWorker(options);
  ASSERT_TRUE(fake_.AwaitState([](FakeCoordinator& f) { return f.releases_.size() >= 1; }));
  const hpo::v1::ReleaseTrialRequest release = fake_.releases()[0];
  EXPECT_TRUE(release.refused());
  EXPECT_THAT(release.reason(), HasSubstr("'/bin/sh' is not under the worker's --allow-command"));
  EXPECT_TRUE(fake_.completes().empty());

  // A prefix that does not exist is refused at Create.
  options.allow_commands = {"/no/such/dir"};
  auto refused = Worker::Create(options);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.status().message(), HasSubstr("--allow-command '/no/such/dir'"));
}

TEST_F(WorkerTest, MaxTrialsThenExitWhenIdleEndTheWorkerForBatchJobs) {
  for (int64_t id = 41; id <= 45; ++id) fake_.AddTrial(BraninTrial(id, 1, 1), BraninSpec(1));
  Worker::Options options = DefaultOptions();
  options.slots = 2;
  options.max_trials = 3;
  StartWorker(options);
  std::atomic<bool> ended{false};
  std::thread waiter([&] {
    worker_->Wait();
    ended = true;
  });
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (!ended && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(10));
  waiter.join();
  EXPECT_TRUE(ended) << "the worker should end by itself after --max-trials";
  EXPECT_EQ(fake_.completes().size(), 3u);  // no more, though two trials wait

  // An idle worker ends after --exit-when-idle; the waiting trials stay with the coordinator.
  worker_.reset();
  options = DefaultOptions();
  options.worker_id = "w2";
  options.studies = {"nothing-here"};  // refuses the waiting trials: it runs nothing
  options.exit_when_idle = absl::Milliseconds(300);
  const absl::Time start = absl::Now();
  StartWorker(options);
  ended = false;
  std::thread idle_waiter([&] {
    worker_->Wait();
    ended = true;
  });
  while (!ended && absl::Now() < start + absl::Seconds(30)) absl::SleepFor(absl::Milliseconds(10));
  idle_waiter.join();
  EXPECT_TRUE(ended);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(300));
  EXPECT_EQ(fake_.completes().size(), 3u);
}

TEST_F(WorkerTest, ServesMetricsAndHealth) {
  fake_.AddTrial(BraninTrial(51, 1, 1), BraninSpec(1));
  Worker::Options options = DefaultOptions();
  options.slots = 2;
  options.gpus = {"0", "1", "2"};
  options.metrics_listen = "127.0.0.1:0";
  StartWorker(options);
  ASSERT_TRUE(AwaitCompletes(1));
  ASSERT_GT(worker_->metrics_port(), 0);
  httplib::Client http("127.0.0.1", worker_->metrics_port());
  auto metrics = http.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->body, HasSubstr("hpo_worker_trials_total{state=\"COMPLETED\"} 1\n"));
  EXPECT_THAT(metrics->body, HasSubstr("hpo_worker_slots 2\n"));
  EXPECT_THAT(metrics->body, HasSubstr("hpo_worker_gpus 3\n"));
  EXPECT_THAT(metrics->body, HasSubstr("hpo_worker_registered 1\n"));
  auto healthy = http.Get("/healthz");
  ASSERT_TRUE(healthy);
  EXPECT_EQ(healthy->status, 200);
  worker_->Drain();
  auto draining = http.Get("/healthz");
  ASSERT_TRUE(draining);
  EXPECT_EQ(draining->status, 200);  // draining is healthy: its trials are finishing
}

}  // namespace
}  // namespace hpo::worker
