#include "server/coordinator.h"

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "core/limits.h"
#include "core/study_spec.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/faulty_storage.h"
#include "storage/sqlite_storage.h"

namespace hpo::server {
namespace {

using hpo::v1::StudySpec;
using hpo::v1::Trial;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

StudySpec Spec(const std::string& name, int max_trials, int max_parallel, int max_retries = 0,
               const std::string& extra = "") {
  auto spec = core::ParseStudyYaml(absl::StrCat(R"(
name: )",
                                                name, R"(
objective: {metric: value, direction: minimize}
optimizer: {name: random, seed: 7}
budget: {max_trials: )",
                                                max_trials, ", max_parallel: ", max_parallel,
                                                ", max_retries: ", max_retries, R"(}
space:
  x: {type: float, low: -5, high: 5}
  k: {type: categorical, choices: [a, b]}
task: {builtin: branin}
)",
                                                extra));
  EXPECT_TRUE(spec.ok()) << spec.status();
  return *spec;
}

class CoordinatorTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(":memory:"); }

  void Open(const std::string& path) {
    coordinator_.reset();
    storage::SqliteStorage::Options o;
    o.path = path;
    auto s = storage::SqliteStorage::Create(o);
    ASSERT_TRUE(s.ok()) << s.status();
    storage_ = std::move(s).value();
    CoordinatorOptions options;
    options.lease_timeout = lease_timeout_;
    options.clock = &clock_;
    auto c = Coordinator::Create(storage_.get(), options);
    ASSERT_TRUE(c.ok()) << c.status();
    coordinator_ = std::move(c).value();
  }

  Trial Acquire(const std::string& worker = "w1") {
    auto r = coordinator_->AcquireTrial(worker, absl::ZeroDuration());
    EXPECT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(r->found());
    return r->trial();
  }

  bool NothingToAcquire(const std::string& worker = "w1") {
    auto r = coordinator_->AcquireTrial(worker, absl::ZeroDuration());
    return r.ok() && !r->found();
  }

  absl::StatusOr<Trial> Complete(const Trial& t, double value, const std::string& worker = "w1",
                                 const std::string& request_id = "") {
    hpo::v1::CompleteTrialRequest req;
    req.set_worker_id(worker);
    req.set_trial_id(t.id());
    req.set_request_id(request_id.empty() ? absl::StrCat("req-", t.id()) : request_id);
    req.set_state(hpo::v1::COMPLETED);
    (*req.mutable_final_metrics())["value"] = value;
    return coordinator_->CompleteTrial(req);
  }

  absl::StatusOr<hpo::v1::ReportProgressResponse> Report(const Trial& t, int64_t step, double value,
                                                         const std::string& worker = "w1") {
    hpo::v1::ReportProgressRequest req;
    req.set_worker_id(worker);
    req.set_trial_id(t.id());
    req.mutable_measurement()->set_step(step);
    (*req.mutable_measurement()->mutable_metrics())["value"] = value;
    return coordinator_->ReportProgress(req);
  }

  core::FakeClock clock_;
  absl::Duration lease_timeout_ = absl::Seconds(10);
  std::unique_ptr<storage::SqliteStorage> storage_;
  std::unique_ptr<Coordinator> coordinator_;
};

TEST_F(CoordinatorTest, CreateGetAndDuplicate) {
  auto s = coordinator_->CreateStudy(Spec("s1", 5, 2));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->state(), hpo::v1::STUDY_RUNNING);
  EXPECT_GT(s->id(), 0);
  // The revision of the optimizer that creates it is recorded with the study.
  EXPECT_EQ(s->optimizer_revision(), OptimizerRevision(s->spec().optimizer().name()));
  EXPECT_GT(s->optimizer_revision(), 0);
  auto again = coordinator_->CreateStudy(Spec("s1", 5, 2));
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  auto missing = coordinator_->GetStudy("nope");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("no study named 'nope'"));
  EXPECT_EQ(coordinator_->ListStudies().size(), 1u);
}

TEST_F(CoordinatorTest, UnknownOptimizerAndStopperAreRejectedByName) {
  StudySpec spec = Spec("s1", 5, 2);
  spec.mutable_optimizer()->set_name("bogus");
  auto s = coordinator_->CreateStudy(spec);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.status().message(),
            "optimizer.name: unknown optimizer 'bogus' (known: auto, gp, random, tpe)");
  spec = Spec("s1", 5, 2);
  spec.mutable_early_stopping()->set_name("hyperband9");
  s = coordinator_->CreateStudy(spec);
  EXPECT_EQ(s.status().message(),
            "early_stopping.name: unknown stopper 'hyperband9' (known: asha, hyperband, "
            "learning_curve, median, none)");
  EXPECT_TRUE(coordinator_->ListStudies().empty());
}

TEST_F(CoordinatorTest, MaxParallelCapsRunningTrials) {
  ASSERT_TRUE(coordinator_->CreateStudy(Spec("s1", 10, 2)).ok());
  Trial a = Acquire();
  Trial b = Acquire();
  EXPECT_NE(a.id(), b.id());
  EXPECT_EQ(a.number(), 0);
  EXPECT_EQ(b.number(), 1);
  EXPECT_TRUE(NothingToAcquire());
  ASSERT_TRUE(Complete(a, 1.0).ok());
  Trial c = Acquire();
  EXPECT_EQ(c.number(), 2);
}

TEST_F(CoordinatorTest, StudyCompletesAtBudgetWithBestTrial) {
  ASSERT_TRUE(coordinator_->CreateStudy(Spec("s1", 3, 3)).ok());
  Trial a = Acquire(), b = Acquire(), c = Acquire();
  EXPECT_TRUE(NothingToAcquire());
  ASSERT_TRUE(Complete(a, 3.0).ok());
  ASSERT_TRUE(Complete(b, -1.5).ok());
  EXPECT_EQ(coordinator_->GetStudy("s1")->state(), hpo::v1::STUDY_RUNNING);
  ASSERT_TRUE(Complete(c, 2.0).ok());
  auto study = coordinator_->GetStudy("s1");
  EXPECT_EQ(study->state(), hpo::v1::STUDY_COMPLETED);
  EXPECT_EQ(study->counts().completed(), 3);
  auto best = coordinator_->GetBestTrial("s1");
  ASSERT_TRUE(best.ok());
  EXPECT_EQ(best->id(), b.id());
  EXPECT_DOUBLE_EQ(best->value(), -1.5);
  EXPECT_TRUE(NothingToAcquire());
}

TEST_F(CoordinatorTest, NoBestTrialBeforeAnyCompletes) {
  ASSERT_TRUE(coordinator_->CreateStudy(Spec("s1", 3, 3)).ok());
  EXPECT_EQ(coordinator_->GetBestTrial("s1").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(CoordinatorTest, ExpiredLeaseBecomesLostAndIsRetriedWithSameParams) {
  ASSERT_TRUE(coordinator_->CreateStudy(Spec("s1", 1, 1, /*max_retries=*/1)).ok());
  Trial first = Acquire("w1");
  clock_.Advance(absl::Seconds(11));
  EXPECT_EQ(*coordinator_->ExpireLeases(), 1);
  auto lost = coordinator_->GetTrial(first.id());
  EXPECT_EQ(lost->state(), hpo::v1::LOST);
  EXPECT_THAT(lost->failure_reason(), HasSubstr("lease expired"));

  Trial retry = Acquire("w2");
  EXPECT_NE(retry.id(), first.id());
  EXPECT_EQ(retry.number(), first.number());
  EXPECT_EQ(retry.attempt(), 1);
  EXPECT_EQ(retry.params().DebugString(), first.params().DebugString());

  // The first worker lost its lease: its late result is refused.
  auto late = Complete(first, 0.5, "w1");
  EXPECT_EQ(late.status().code(), absl::StatusCode::kFailedPrecondition);

  // Out of retries: the number is finished for good and the study ends.
  clock_.Advance(absl::Seconds(11));
  EXPECT_EQ(*coordinator_->ExpireLeases(), 1);
  auto study = coordinator_->GetStudy("s1");
  EXPECT_EQ(study->counts().lost(), 2);
  EXPECT_EQ(study->state(), hpo::v1::STUDY_COMPLETED);
}

TEST_F(CoordinatorTest, ReportsAndHeartbeatsExtendTheLease) {
  ASSERT_TRUE(coordinator_->CreateStudy(Spec("s1", 2, 2)).ok());
  Trial a = Acquire(), b = Acquire();
  clock_.Advance(absl::Seconds(8));
  ASSERT_TRUE(Report(a, 1, 0.5).ok());
  hpo::v1::HeartbeatRequest hb;
  hb.set_worker_id("w1");
  hb.add_running_trial_ids(b.id());
  hb.add_running_trial_ids(9999);
  auto hbr = coordinator_->Heartbeat(hb);
  ASSERT_TRUE(hbr.ok());
  ASSERT_EQ(hbr->stop_trial_ids_size(), 1);
  EXPECT_EQ(hbr->stop_trial_ids(0), 9999);
  clock_.Advance(absl::Seconds(8));
  EXPECT_EQ(*coordinator_->ExpireLeases(), 0);
  clock_.Advance(absl::Seconds(3));
  EXPECT_EQ(*coordinator_->ExpireLeases(), 2);
}

TEST_F(CoordinatorTest, OnlyTheLeaseHolderMayReportOrComplete) {
  ASSERT_TRUE(coordinator_->CreateStudy(Spec("s1", 2, 2)).ok());
  Trial a = Acquire("w1");
  auto r = Report(a, 1, 0.5, "intruder");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(), HasSubstr("not leased to worker 'intruder'"));
  EXPECT_EQ(Complete(a, 1.0, "intruder").status().code(), absl::StatusCode::kFailedPrecondition);
  hpo::v1::ReportProgressRequest unknown;
  unknown.set_worker_id("w1");
  unknown.set_trial_id(12345);
  EXPECT_EQ(coordinator_->ReportProgress(unknown).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(CoordinatorTest, ABatchedReportStoresEveryMeasurementInOrder) {
  ASSERT_TRUE(coordinator_->CreateStudy(Spec("s1", 2, 2)).ok());
  Trial a = Acquire();
  hpo::v1::ReportProgressRequest req;
  req.set_worker_id("w1");
  req.set_trial_id(a.id());
  req.mutable_measurement()->set_step(0);
  (*req.mutable_measurement()->mutable_metrics())["value"] = 3;
  for (int step = 1; step <= 3; ++step) {
    hpo::v1::Measurement* m = req.add_measurements();
    m->set_step(step);
    (*m->mutable_metrics())["value"] = 3 - step;
  }
  auto r = coordinator_->ReportProgress(req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->decision(), hpo::v1::CONTINUE);
  auto stored = storage_->GetTrial(a.id(), /*with_measurements=*/true);
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->measurements_size(), 4);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(stored->measurements(i).step(), i);
    EXPECT_EQ(stored->measurements(i).metrics().at("value"), 3 - i);
    EXPECT_GT(stored->measurements(i).time_ms(), 0);  // stamped by the coordinator
  }
  EXPECT_EQ(stored->last_step(), 3);
  auto cached = coordinator_->GetTrial(a.id());
  ASSERT_TRUE(cached.ok());
  EXPECT_EQ(cached->measurements_size(), 4);
  EXPECT_EQ(cached->last_step(), 3);

  hpo::v1::ReportProgressRequest empty;
  empty.set_worker_id("w1");
  empty.set_trial_id(a.id());
  auto refused = coordinator_->ReportProgress(empty);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.status().message(), HasSubstr("measurements"));
}

TEST_F(CoordinatorTest, RepeatedCompletionIsAnsweredNotReapplied) {
  ASSERT_TRUE(coordinator_->CreateStudy(Spec("s1", 2, 2)).ok());
  Trial a = Acquire();
  auto first = Complete(a, 1.25, "w1", "r-1");
  ASSERT_TRUE(first.ok());
  auto again = Complete(a, 9.0, "w1", "r-1");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_DOUBLE_EQ(again->value(), 1.25);
  EXPECT_EQ(coordinator_->GetStudy("s1")->counts().completed(), 1);
  auto other = Complete(a, 9.0, "w1", "r-2");
  EXPECT_EQ(other.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(CoordinatorTest, CompletionWithoutObjectiveOrWithNaNFails) {
  ASSERT_TRUE(coordinator_->CreateStudy(Spec("s1", 2, 2)).ok());
  Trial a = Acquire(), b = Acquire();
  auto nan = Complete(a, std::nan(""));
  ASSERT_TRUE(nan.ok());
  EXPECT_EQ(nan->state(), hpo::v1::FAILED);
  EXPECT_EQ(nan->failure_reason(), "objective 'value' is NaN");
  hpo::v1::CompleteTrialRequest req;
  req.set_worker_id("w1");
  req.set_trial_id(b.id());
  req.set_request_id("x");
  req.set_state(hpo::v1::COMPLETED);
  (*req.mutable_final_metrics())["loss"] = 1;
  auto missing = coordinator_->CompleteTrial(req);
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->state(), hpo::v1::FAILED);
  EXPECT_EQ(missing->failure_reason(), "no metric 'value' in the final metrics");
}

TEST_F(CoordinatorTest, AResultKeepsItsGpuUseAndABadOneIsRefusedByField) {
  ASSERT_TRUE(coordinator_->CreateStudy(Spec("s1", 2, 2)).ok());
  Trial a = Acquire();
  hpo::v1::CompleteTrialRequest req;
  req.set_worker_id("w1");
  req.set_trial_id(a.id());
  req.set_request_id("gpu");
  req.set_state(hpo::v1::COMPLETED);
  (*req.mutable_final_metrics())["value"] = 0.5;
  hpo::v1::GpuUsage* usage = req.mutable_gpu_usage();
  usage->add_devices("0");
  usage->set_peak_memory_mib(1536);
  usage->set_mean_utilization_pct(101);
  usage->set_polls(4);
  absl::StatusOr<Trial> refused = coordinator_->CompleteTrial(req);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.status().message(), HasSubstr("gpu_usage.mean_utilization_pct"));
  usage->set_mean_utilization_pct(62.5);
  ASSERT_TRUE(coordinator_->CompleteTrial(req).ok());
  absl::StatusOr<Trial> stored = coordinator_->GetTrial(a.id());
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->state(), hpo::v1::COMPLETED);
  EXPECT_THAT(stored->gpu_usage().devices(), ElementsAre("0"));
  EXPECT_EQ(stored->gpu_usage().peak_memory_mib(), 1536);
  EXPECT_EQ(stored->gpu_usage().mean_utilization_pct(), 62.5);
  EXPECT_EQ(stored->gpu_usage().polls(), 4);
}

TEST_F(CoordinatorTest, StudiesAreServedFairly) {
  ASSERT_TRUE(coordinator_->CreateStudy(Spec("s1", 50, 10)).ok());
  ASSERT_TRUE(coordinator_->CreateStudy(Spec("s2", 50, 10)).ok());
  ASSERT_TRUE(coordinator_->CreateStudy(Spec("s3", 50, 10)).ok());
  std::map<int64_t, int> per_study;
  for (int i = 0; i < 9; ++i) per_study[Acquire().study_id()]++;
  ASSERT_EQ(per_study.size(), 3u);
  for (const auto& [id, n] : per_study) EXPECT_EQ(n, 3) << "study " << id;
}

TEST_F(CoordinatorTest, EnqueuedTrialRunsFirstWithItsParams) {
  ASSERT_TRUE(coordinator_->CreateStudy(Spec("s1", 5, 1)).ok());
  hpo::v1::ParamMap params;
  (*params.mutable_values())["x"].set_float_value(1.5);
  (*params.mutable_values())["k"].set_string_value("b");
  auto queued = coordinator_->EnqueueTrial("s1", params);
  ASSERT_TRUE(queued.ok()) << queued.status();
  EXPECT_EQ(queued->state(), hpo::v1::PENDING);
  EXPECT_TRUE(queued->enqueued());
  Trial t = Acquire();
  EXPECT_EQ(t.id(), queued->id());
  EXPECT_DOUBLE_EQ(t.params().values().at("x").float_value(), 1.5);

  (*params.mutable_values())["x"].set_float_value(7);
  auto bad = coordinator_->EnqueueTrial("s1", params);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("params.x"));
}

TEST_F(CoordinatorTest, StopStudyFailsPendingAndStopsRunning) {
  ASSERT_TRUE(coordinator_->CreateStudy(Spec("s1", 5, 1)).ok());
  Trial running = Acquire();
  hpo::v1::ParamMap params;
  (*params.mutable_values())["x"].set_float_value(0);
  (*params.mutable_values())["k"].set_string_value("a");
  auto queued = coordinator_->EnqueueTrial("s1", params);
  ASSERT_TRUE(queued.ok());
  auto stopped = coordinator_->StopStudy("s1");
  ASSERT_TRUE(stopped.ok());
  EXPECT_EQ(stopped->state(), hpo::v1::STUDY_STOPPED);
  EXPECT_EQ(coordinator_->GetTrial(queued->id())->state(), hpo::v1::FAILED);
  auto r = Report(running, 1, 0.1);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->decision(), hpo::v1::STOP);
  hpo::v1::CompleteTrialRequest pruned;
  pruned.set_worker_id("w1");
  pruned.set_trial_id(running.id());
  pruned.set_request_id("stop");
  pruned.set_state(hpo::v1::PRUNED);
  auto done = coordinator_->CompleteTrial(pruned);
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->failure_reason(), "stopped with its study");
  EXPECT_TRUE(NothingToAcquire());
  EXPECT_EQ(coordinator_->StopStudy("s1").status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(CoordinatorTest, ListTrialsPagesAndFilters) {
  ASSERT_TRUE(coordinator_->CreateStudy(Spec("s1", 5, 5)).ok());
  std::vector<Trial> ts;
  for (int i = 0; i < 5; ++i) ts.push_back(Acquire());
  ASSERT_TRUE(Complete(ts[1], 1).ok());
  ASSERT_TRUE(Complete(ts[3], 1).ok());
  auto page = coordinator_->ListTrials("s1", hpo::v1::TRIAL_STATE_UNSPECIFIED, 2, "");
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->trials.size(), 2u);
  EXPECT_EQ(page->trials[0].id(), ts[0].id());
  auto page2 =
      coordinator_->ListTrials("s1", hpo::v1::TRIAL_STATE_UNSPECIFIED, 2, page->next_page_token);
  ASSERT_EQ(page2->trials.size(), 2u);
  EXPECT_EQ(page2->trials[0].id(), ts[2].id());
  auto page3 =
      coordinator_->ListTrials("s1", hpo::v1::TRIAL_STATE_UNSPECIFIED, 2, page2->next_page_token);
  ASSERT_EQ(page3->trials.size(), 1u);
  EXPECT_TRUE(page3->next_page_token.empty());
  auto done = coordinator_->ListTrials("s1", hpo::v1::COMPLETED, 0, "");
  ASSERT_EQ(done->trials.size(), 2u);
  EXPECT_EQ(done->trials[1].id(), ts[3].id());
  EXPECT_EQ(coordinator_->ListTrials("s1", hpo::v1::COMPLETED, 0, "abc").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(CoordinatorTest, MedianRuleStopsAWorseTrial) {
  ASSERT_TRUE(coordinator_
                  ->CreateStudy(Spec("s1", 10, 10, 0,
                                     "early_stopping: {name: median, options: {min_trials: 3}}\n"))
                  .ok());
  for (double v : {1.0, 2.0, 3.0}) {
    Trial t = Acquire();
    auto r = Report(t, 1, v);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->decision(), hpo::v1::CONTINUE);  // fewer than 3 completed trials so far
    ASSERT_TRUE(Complete(t, v).ok());
  }
  Trial good = Acquire();
  EXPECT_EQ(Report(good, 1, 1.5)->decision(), hpo::v1::CONTINUE);
  Trial bad = Acquire();
  EXPECT_EQ(Report(bad, 1, 2.5)->decision(), hpo::v1::STOP);
  // The stop is stored with its evidence before the worker hears of it, and it stands: a later
  // report (sent before the process was killed) is told STOP again, the judgement unchanged.
  const std::string why =
      "median: at step 1 the best value so far 2.5 is worse than the median 1.75 of 4 other trials "
      "at that step";
  auto stored = storage_->GetTrial(bad.id(), false);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->state(), hpo::v1::RUNNING);
  EXPECT_EQ(stored->stop().summary(), why);
  EXPECT_EQ(stored->stop().cutoff(), 1.75);
  EXPECT_EQ(stored->stop().compared(), 4);
  EXPECT_EQ(Report(bad, 2, 0.1)->decision(), hpo::v1::STOP);
  EXPECT_EQ(coordinator_->GetTrial(bad.id())->stop().step(), 1);
  hpo::v1::CompleteTrialRequest req;
  req.set_worker_id("w1");
  req.set_trial_id(bad.id());
  req.set_request_id("p");
  req.set_state(hpo::v1::PRUNED);
  auto pruned = coordinator_->CompleteTrial(req);
  ASSERT_TRUE(pruned.ok());
  EXPECT_EQ(pruned->state(), hpo::v1::PRUNED);
  EXPECT_DOUBLE_EQ(pruned->value(), 0.1);  // its last reported value
  EXPECT_EQ(pruned->failure_reason(), why);
  EXPECT_EQ(pruned->stop().rule(), "median");
  EXPECT_EQ(coordinator_->GetTrial(bad.id())->measurements_size(), 2);
  EXPECT_EQ(storage_->GetTrial(bad.id(), false)->stop().summary(), why);
}

TEST_F(CoordinatorTest, LearningCurveStopperWarmStartsFromStudiesOfTheSameTaskAndSpace) {
  char dir[] = "/tmp/hpo-coord-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string path = absl::StrCat(dir, "/db.sqlite");
  Open(path);
  auto run = [&](const StudySpec& spec, int trials) {
    ASSERT_TRUE(coordinator_->CreateStudy(spec).ok());
    for (int i = 0; i < trials; ++i) {
      Trial t = Acquire();
      ASSERT_TRUE(Report(t, 1, 2.0 + i).ok());
      ASSERT_TRUE(Complete(t, 1.0 + i).ok());
    }
  };
  run(Spec("a", 3, 1), 3);
  StudySpec other = Spec("other", 2, 1);
  (*other.mutable_task()->mutable_builtin_args())["steps"] = "3";  // another task
  run(other, 2);
  auto c = coordinator_->CreateStudy(
      Spec("c", 5, 1, 0, "early_stopping: {name: learning_curve, options: {min_curves: 6}}\n"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_THAT(c->warm_start_studies(), ::testing::ElementsAre("a"));
  EXPECT_EQ(c->warm_start_curves(), 3);
  // Named studies must exist and match.
  auto named = [&](const std::string& name, const std::string& list) {
    return coordinator_->CreateStudy(
        Spec(name, 5, 1, 0,
             absl::StrCat("early_stopping: {name: learning_curve, options: {warm_start: '", list,
                          "'}}\n")));
  };
  EXPECT_EQ(named("d", "other").status().message(),
            "early_stopping.options.warm_start: study 'other' ran another task, space or "
            "objective: its curves do not apply");
  EXPECT_EQ(named("d", "a, nope").status().message(),
            "early_stopping.options.warm_start: no earlier study named 'nope'");
  auto explicit_a = named("e", "a");
  ASSERT_TRUE(explicit_a.ok()) << explicit_a.status();
  EXPECT_THAT(explicit_a->warm_start_studies(), ::testing::ElementsAre("a"));
  auto none = named("f", "none");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->warm_start_studies_size(), 0);
  // A restarted coordinator learns from the same studies (c's own trials are not its warm start;
  // the later e and f have no complete curves).
  Open(path);
  EXPECT_THAT(coordinator_->GetStudy("c")->warm_start_studies(), ::testing::ElementsAre("a"));
  EXPECT_EQ(coordinator_->GetStudy("c")->warm_start_curves(), 3);
}

// A result known from elsewhere joins the budget; an ended study is extended and runs again
// with its curves back in memory, across a restart; an ended study with nothing running is
// deleted with its history, and its name is free again.
TEST_F(CoordinatorTest, AddTrialExtendAndDeleteAStudy) {
  char dir[] = "/tmp/hpo-coord-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string path = absl::StrCat(dir, "/db.sqlite");
  Open(path);
  ASSERT_TRUE(coordinator_->CreateStudy(Spec("s", 2, 1)).ok());
  hpo::v1::AddTrialRequest add;
  add.set_study_name("s");
  (*add.mutable_params()->mutable_values())["x"].set_float_value(1);
  (*add.mutable_params()->mutable_values())["k"].set_string_value("a");
  (*add.mutable_final_metrics())["loss"] = 2;
  auto refused = coordinator_->AddTrial(add);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.status().message(), HasSubstr("the objective 'value' is missing"));
  (*add.mutable_final_metrics())["value"] = 3;
  auto added = coordinator_->AddTrial(add);
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_EQ(added->number(), 0);
  EXPECT_EQ(added->state(), hpo::v1::COMPLETED);
  EXPECT_EQ(added->value(), 3);
  EXPECT_EQ(added->final_metrics().at("loss"), 2);
  EXPECT_EQ(coordinator_->GetBestTrial("s")->id(), added->id());

  Trial t = Acquire();
  EXPECT_EQ(t.number(), 1);
  ASSERT_TRUE(Report(t, 1, 0.5).ok());
  ASSERT_TRUE(Complete(t, 0.25).ok());
  EXPECT_EQ(coordinator_->GetStudy("s")->state(), hpo::v1::STUDY_COMPLETED);
  auto late = coordinator_->AddTrial(add);
  EXPECT_EQ(late.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(late.status().message(), HasSubstr("extend it first"));

  auto same = coordinator_->ExtendStudy("s", 2);
  EXPECT_EQ(same.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(same.status().message(), HasSubstr("has 2 already"));
  auto extended = coordinator_->ExtendStudy("s", 4);
  ASSERT_TRUE(extended.ok()) << extended.status();
  EXPECT_EQ(extended->state(), hpo::v1::STUDY_RUNNING);
  EXPECT_EQ(extended->spec().budget().max_trials(), 4);
  EXPECT_EQ(extended->end_time_ms(), 0);
  EXPECT_EQ(coordinator_->GetTrial(t.id())->measurements_size(), 1);  // the curve is back
  Trial third = Acquire();
  EXPECT_EQ(third.number(), 2);

  Open(path);  // a restart keeps the new budget and the running trial
  EXPECT_EQ(coordinator_->GetStudy("s")->spec().budget().max_trials(), 4);
  EXPECT_EQ(coordinator_->GetStudy("s")->state(), hpo::v1::STUDY_RUNNING);
  EXPECT_EQ(coordinator_->GetTrial(third.id())->state(), hpo::v1::RUNNING);

  auto running = coordinator_->DeleteStudy("s");
  EXPECT_EQ(running.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(running.status().message(), HasSubstr("stop it first"));
  ASSERT_TRUE(coordinator_->StopStudy("s").ok());
  auto busy = coordinator_->DeleteStudy("s");
  EXPECT_EQ(busy.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(busy.status().message(), HasSubstr("still has 1 trial(s) running"));
  ASSERT_TRUE(Complete(third, 1.0).ok());
  auto deleted = coordinator_->DeleteStudy("s");
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(deleted->trials_deleted(), 3);
  EXPECT_EQ(coordinator_->GetStudy("s").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(coordinator_->GetTrial(t.id()).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(coordinator_->DeleteStudy("s").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(coordinator_->ListStudies().empty());
  Open(path);
  EXPECT_TRUE(coordinator_->ListStudies().empty());
  EXPECT_TRUE(coordinator_->CreateStudy(Spec("s", 2, 1)).ok());
}

// --warm-start-from: an earlier study's completed trials seed the optimizer, so TPE's first
// suggestions already follow them; sources that cannot apply are refused by name.
TEST_F(CoordinatorTest, OptimizerWarmStartsFromAnEarlierStudysCompletedTrials) {
  char dir[] = "/tmp/hpo-coord-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string path = absl::StrCat(dir, "/db.sqlite");
  Open(path);
  auto spec = [](const std::string& name, const std::string& optimizer,
                 const std::string& direction, double high, double low = 0) {
    auto s = core::ParseStudyYaml(
        absl::StrCat("name: ", name, "\nobjective: {metric: value, direction: ", direction,
                     "}\noptimizer: ", optimizer,
                     "\nbudget: {max_trials: 30, max_parallel: 1}\n"
                     "space:\n  x: {type: float, low: ",
                     low, ", high: ", high, "}\ntask: {builtin: branin}\n"));
    EXPECT_TRUE(s.ok()) << s.status();
    return *s;
  };
  ASSERT_TRUE(coordinator_->CreateStudy(spec("a", "{name: random, seed: 3}", "minimize", 1)).ok());
  for (int i = 0; i < 30; ++i) {
    Trial t = Acquire();
    const double x = t.params().values().at("x").float_value();
    ASSERT_TRUE(Complete(t, (x - 0.2) * (x - 0.2)).ok());
  }
  const std::string tpe = "{name: tpe, seed: 1, warm_start_from: [a]}";
  auto b = coordinator_->CreateStudy(spec("b", tpe, "minimize", 1));
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->warm_start_trials(), 30);
  for (int i = 0; i < 3; ++i) {
    Trial t = Acquire();
    EXPECT_EQ(t.study_name(), "b");
    EXPECT_NEAR(t.params().values().at("x").float_value(), 0.2, 0.1) << "suggestion " << i;
    ASSERT_TRUE(Complete(t, 0).ok());
  }

  auto missing =
      coordinator_->CreateStudy(spec("c", "{name: tpe, warm_start_from: [nope]}", "minimize", 1));
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(missing.status().message(),
              HasSubstr("optimizer.warm_start_from: no study named 'nope'"));
  auto other = coordinator_->CreateStudy(spec("c", tpe, "maximize", 1));
  EXPECT_THAT(other.status().message(), HasSubstr("study 'a' has another objective (minimize"));
  auto outside = coordinator_->CreateStudy(spec("c", tpe, "minimize", 3, 2));
  EXPECT_THAT(outside.status().message(),
              HasSubstr("none of study 'a''s 30 completed trials has parameters that fit"));

  Open(path);  // the warm start is rebuilt at load
  EXPECT_EQ(coordinator_->GetStudy("b")->warm_start_trials(), 30);
}

// Ask/tell: a client leases trials of one study itself and tells their results; the study
// counts them like any other, and the limits are named.
TEST_F(CoordinatorTest, AskAndTellRunAStudyWithoutWorkers) {
  ASSERT_TRUE(coordinator_->CreateStudy(Spec("s", 3, 2)).ok());
  hpo::v1::AskTrialRequest ask;
  ask.set_study_name("s");
  ask.set_client_id("nb");
  auto a = coordinator_->AskTrial(ask);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->worker_id(), "ask:nb");
  EXPECT_EQ(a->state(), hpo::v1::RUNNING);
  EXPECT_EQ(a->lease_expire_ms(), clock_.NowMs() + 3600 * 1000);  // an hour by default
  auto b = coordinator_->AskTrial(ask);
  ASSERT_TRUE(b.ok());
  auto full = coordinator_->AskTrial(ask);
  EXPECT_EQ(full.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(full.status().message(), HasSubstr("max_parallel 2 trials running"));

  hpo::v1::CompleteTrialRequest tell;
  tell.set_worker_id("ask:nb");
  tell.set_trial_id(a->id());
  tell.set_request_id("t-a");
  tell.set_state(hpo::v1::COMPLETED);
  (*tell.mutable_final_metrics())["value"] = 0.5;
  auto told = coordinator_->TellTrial(tell);
  ASSERT_TRUE(told.ok()) << told.status();
  EXPECT_EQ(told->value(), 0.5);
  // A worker's id is not an asked trial's owner; the trial's owner is.
  tell.set_trial_id(b->id());
  tell.set_worker_id("w1");
  EXPECT_EQ(coordinator_->TellTrial(tell).status().code(), absl::StatusCode::kInvalidArgument);
  tell.set_worker_id("ask:other");
  EXPECT_EQ(coordinator_->TellTrial(tell).status().code(), absl::StatusCode::kFailedPrecondition);

  // An asked trial not told within its lease is LOST.
  ask.set_lease_s(10);
  auto c = coordinator_->AskTrial(ask);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(coordinator_->AskTrial(ask).status().code(), absl::StatusCode::kFailedPrecondition);
  clock_.Advance(absl::Seconds(11));
  EXPECT_EQ(*coordinator_->ExpireLeases(), 1);
  EXPECT_EQ(coordinator_->GetTrial(c->id())->state(), hpo::v1::LOST);

  tell.set_worker_id("ask:nb");
  tell.set_request_id("t-b");
  ASSERT_TRUE(coordinator_->TellTrial(tell).ok());
  auto study = coordinator_->GetStudy("s");
  EXPECT_EQ(study->state(), hpo::v1::STUDY_COMPLETED);
  EXPECT_EQ(study->counts().completed(), 2);
  EXPECT_EQ(study->counts().lost(), 1);
  ask.set_study_name("nope");
  EXPECT_EQ(coordinator_->AskTrial(ask).status().code(), absl::StatusCode::kNotFound);
}

// An ended study's finished trials keep no curve in memory: GetTrial and GetBestTrial read it
// from storage, before and after a restart, and a trial still running when its study was
// stopped keeps its own until it ends.
TEST_F(CoordinatorTest, CurvesOfAnEndedStudyAreReadFromStorage) {
  char dir[] = "/tmp/hpo-coord-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string path = absl::StrCat(dir, "/db.sqlite");
  Open(path);
  ASSERT_TRUE(coordinator_->CreateStudy(Spec("done", 2, 2)).ok());
  Trial a = Acquire(), b = Acquire();
  for (int step = 1; step <= 3; ++step) ASSERT_TRUE(Report(a, step, 1.0 / step).ok());
  ASSERT_TRUE(Report(b, 1, 4.0).ok());
  ASSERT_TRUE(Complete(a, 0.25).ok());
  ASSERT_TRUE(Complete(b, 4.0).ok());
  ASSERT_EQ(coordinator_->GetStudy("done")->state(), hpo::v1::STUDY_COMPLETED);
  ASSERT_TRUE(coordinator_->CreateStudy(Spec("stopped", 2, 2)).ok());
  Trial c = Acquire();
  ASSERT_TRUE(Report(c, 1, 2.0).ok());
  ASSERT_TRUE(coordinator_->StopStudy("stopped").ok());
  ASSERT_TRUE(Report(c, 2, 1.5).ok());  // answered STOP; the point is kept
  auto check = [&] {
    auto got = coordinator_->GetTrial(a.id());
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(got->measurements_size(), 3);
    EXPECT_EQ(got->measurements(2).step(), 3);
    EXPECT_EQ(got->measurements(2).metrics().at("value"), 1.0 / 3);
    auto best = coordinator_->GetBestTrial("done");
    ASSERT_TRUE(best.ok());
    EXPECT_EQ(best->id(), a.id());
    EXPECT_EQ(best->measurements_size(), 3);
    EXPECT_EQ(coordinator_->GetTrial(b.id())->measurements_size(), 1);
    EXPECT_EQ(coordinator_->GetTrial(c.id())->measurements_size(), 2);
  };
  check();
  Open(path);
  check();
  // The stopped study's running trial ends as PRUNED with the last value it reported.
  hpo::v1::CompleteTrialRequest req;
  req.set_worker_id("w1");
  req.set_trial_id(c.id());
  req.set_state(hpo::v1::PRUNED);
  auto pruned = coordinator_->CompleteTrial(req);
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_EQ(pruned->value(), 1.5);
  EXPECT_EQ(coordinator_->GetTrial(c.id())->measurements_size(), 2);
  coordinator_.reset();
  storage_.reset();
  std::system(absl::StrCat("rm -rf ", dir).c_str());
}

TEST_F(CoordinatorTest, RestartOnTheSameFileResumes) {
  char dir[] = "/tmp/hpo-coord-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string path = absl::StrCat(dir, "/db.sqlite");
  Open(path);
  ASSERT_TRUE(coordinator_->CreateStudy(Spec("s1", 4, 2)).ok());
  Trial a = Acquire(), b = Acquire();
  ASSERT_TRUE(Complete(a, 1.0).ok());
  ASSERT_TRUE(Report(b, 3, 0.7).ok());

  Open(path);  // a new coordinator on the same file
  auto study = coordinator_->GetStudy("s1");
  ASSERT_TRUE(study.ok());
  EXPECT_EQ(study->optimizer_revision(), OptimizerRevision(study->spec().optimizer().name()));
  EXPECT_EQ(study->counts().completed(), 1);
  EXPECT_EQ(study->counts().running(), 1);
  EXPECT_EQ(coordinator_->GetTrial(b.id())->measurements_size(), 1);
  // The running trial kept its lease and its worker can finish it.
  ASSERT_TRUE(Complete(b, 0.5).ok());
  Trial c = Acquire(), d = Acquire();
  EXPECT_EQ(c.number(), 2);
  EXPECT_EQ(d.number(), 3);
  EXPECT_TRUE(NothingToAcquire());
  ASSERT_TRUE(Complete(c, 1).ok());
  ASSERT_TRUE(Complete(d, 1).ok());
  EXPECT_EQ(coordinator_->GetStudy("s1")->state(), hpo::v1::STUDY_COMPLETED);
  coordinator_.reset();
  storage_.reset();
  std::system(absl::StrCat("rm -rf ", dir).c_str());
}

TEST_F(CoordinatorTest, AfterARestartAShortLeaseGetsTheRestartGrace) {
  char dir[] = "/tmp/hpo-coord-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string path = absl::StrCat(dir, "/db.sqlite");
  lease_timeout_ = absl::Seconds(2);
  Open(path);
  ASSERT_TRUE(coordinator_->CreateStudy(Spec("s1", 2, 1, /*max_retries=*/0)).ok());
  Trial running = Acquire();
  Open(path);  // restarted; the worker needs a few seconds to reconnect
  clock_.Advance(absl::Seconds(5));
  EXPECT_EQ(*coordinator_->ExpireLeases(), 0);
  EXPECT_EQ(coordinator_->GetTrial(running.id())->state(), hpo::v1::RUNNING);
  ASSERT_TRUE(Report(running, 1, 0.5).ok());  // heard from: an ordinary 2 s lease again
  clock_.Advance(absl::Seconds(3));
  EXPECT_EQ(*coordinator_->ExpireLeases(), 1);
  EXPECT_EQ(coordinator_->GetTrial(running.id())->state(), hpo::v1::LOST);
  coordinator_.reset();
  storage_.reset();
  std::system(absl::StrCat("rm -rf ", dir).c_str());
}

// Blocks until `n` AcquireTrial calls are waiting (polls with a deadline).
bool AwaitWaiters(Coordinator& c, int n) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (c.WaitingAcquires() != n) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

TEST_F(CoordinatorTest, LongPollWakesWhenAStudyArrives) {
  absl::StatusOr<hpo::v1::AcquireTrialResponse> result;
  const absl::Time start = absl::Now();
  std::thread waiter([&] { result = coordinator_->AcquireTrial("w1", absl::Seconds(20)); });
  ASSERT_TRUE(AwaitWaiters(*coordinator_, 1));
  ASSERT_TRUE(coordinator_->CreateStudy(Spec("s1", 1, 1)).ok());
  waiter.join();
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->found());
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
}

TEST_F(CoordinatorTest, LongPollWakesWhenAParallelSlotFrees) {
  ASSERT_TRUE(coordinator_->CreateStudy(Spec("s1", 5, 1)).ok());
  Trial first = Acquire();
  absl::StatusOr<hpo::v1::AcquireTrialResponse> result;
  std::thread waiter([&] { result = coordinator_->AcquireTrial("w2", absl::Seconds(20)); });
  ASSERT_TRUE(AwaitWaiters(*coordinator_, 1));
  ASSERT_TRUE(Complete(first, 1.0).ok());
  waiter.join();
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->found());
  EXPECT_EQ(result->trial().number(), 1);
}

TEST_F(CoordinatorTest, ShutdownReleasesLongPolls) {
  absl::StatusOr<hpo::v1::AcquireTrialResponse> result;
  const absl::Time start = absl::Now();
  std::thread waiter([&] { result = coordinator_->AcquireTrial("w1", absl::Seconds(20)); });
  ASSERT_TRUE(AwaitWaiters(*coordinator_, 1));
  coordinator_->Shutdown();
  waiter.join();
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_EQ(coordinator_->GetStudy("s1").status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(CoordinatorTest, ReleasedTrialRunsAgainFirstWithoutUsingARetry) {
  ASSERT_TRUE(coordinator_->CreateStudy(Spec("s1", 3, 2)).ok());
  Trial a = Acquire("w1");
  ASSERT_TRUE(Report(a, 1, 0.5, "w1").ok());
  hpo::v1::ReleaseTrialRequest release;
  release.set_worker_id("w1");
  release.set_trial_id(a.id());
  release.set_reason("worker stopping");
  auto released = coordinator_->ReleaseTrial(release);
  ASSERT_TRUE(released.ok()) << released.status();
  EXPECT_EQ(released->state(), hpo::v1::PENDING);
  EXPECT_EQ(released->attempt(), 0);
  EXPECT_EQ(coordinator_->GetTrial(a.id())->measurements_size(), 0);
  EXPECT_EQ(storage_->GetTrial(a.id(), true)->measurements_size(), 0);
  // Released twice, or by someone else: refused.
  EXPECT_EQ(coordinator_->ReleaseTrial(release).status().code(),
            absl::StatusCode::kFailedPrecondition);
  Trial again = Acquire("w2");
  EXPECT_EQ(again.id(), a.id());
  EXPECT_EQ(again.worker_id(), "w2");
  ASSERT_TRUE(Complete(again, 2.0, "w2").ok());
  EXPECT_EQ(coordinator_->GetStudy("s1")->counts().completed(), 1);
}

TEST_F(CoordinatorTest, HeartbeatReleasesLeasesTheWorkerDoesNotKnow) {
  ASSERT_TRUE(coordinator_->CreateStudy(Spec("s1", 3, 3)).ok());
  Trial known = Acquire("w1");
  Trial forgotten = Acquire("w1");
  Trial elsewhere = Acquire("w2");
  hpo::v1::HeartbeatRequest hb;
  hb.set_worker_id("w1");
  hb.add_running_trial_ids(known.id());
  // Within the grace period nothing happens: the answer may still be on its way.
  ASSERT_TRUE(coordinator_->Heartbeat(hb).ok());
  EXPECT_EQ(coordinator_->GetTrial(forgotten.id())->state(), hpo::v1::RUNNING);
  clock_.Advance(absl::Seconds(11));  // past 2 heartbeat intervals (5 s each)
  ASSERT_TRUE(coordinator_->Heartbeat(hb).ok());
  EXPECT_EQ(coordinator_->GetTrial(known.id())->state(), hpo::v1::RUNNING);
  EXPECT_EQ(coordinator_->GetTrial(forgotten.id())->state(), hpo::v1::PENDING);
  EXPECT_EQ(coordinator_->GetTrial(elsewhere.id())->state(), hpo::v1::RUNNING);
}

TEST_F(CoordinatorTest, FinishedTrialsCountsFinalAttempts) {
  ASSERT_TRUE(coordinator_->CreateStudy(Spec("s1", 2, 2, /*max_retries=*/1)).ok());
  Trial a = Acquire(), b = Acquire();
  ASSERT_TRUE(Complete(a, 1).ok());
  clock_.Advance(absl::Seconds(11));
  ASSERT_EQ(*coordinator_->ExpireLeases(), 1);  // b is LOST, and retried: not final
  EXPECT_EQ(coordinator_->GetStudy("s1")->finished_trials(), 1);
  Trial retry = Acquire();
  clock_.Advance(absl::Seconds(11));
  ASSERT_EQ(*coordinator_->ExpireLeases(), 1);  // out of retries: final
  auto study = coordinator_->GetStudy("s1");
  EXPECT_EQ(study->finished_trials(), 2);
  EXPECT_EQ(study->state(), hpo::v1::STUDY_COMPLETED);
  (void)b;
  (void)retry;
}

TEST_F(CoordinatorTest, WatchSeesSnapshotUpdatesAndEnd) {
  ASSERT_TRUE(coordinator_->CreateStudy(Spec("s1", 1, 1)).ok());
  auto watch = coordinator_->Watch("s1");
  ASSERT_TRUE(watch.ok());
  Trial t = Acquire();
  ASSERT_TRUE(Complete(t, 0.25).ok());
  std::vector<hpo::v1::StudyEvent::Kind> kinds;
  hpo::v1::StudyEvent e;
  while ((*watch)->Next(&e, absl::Now() + absl::Seconds(5))) kinds.push_back(e.kind());
  EXPECT_THAT(kinds, ::testing::ElementsAre(
                         hpo::v1::StudyEvent::SNAPSHOT, hpo::v1::StudyEvent::TRIAL_UPDATED,
                         hpo::v1::StudyEvent::TRIAL_UPDATED, hpo::v1::StudyEvent::STUDY_ENDED));
  EXPECT_EQ(e.study().state(), hpo::v1::STUDY_COMPLETED);
  EXPECT_DOUBLE_EQ(e.study().best_trial().value(), 0.25);
}

}  // namespace
}  // namespace hpo::server

namespace hpo::server {
namespace {

TEST_F(CoordinatorTest, LeasesWorkersOnlyTheTrialsTheyAcceptAndSaysWhenNoneDoes) {
  ASSERT_TRUE(coordinator_->CreateStudy(Spec("mine", 4, 4)).ok());
  StudySpec command = Spec("cmd", 4, 4);
  command.mutable_task()->mutable_command()->add_argv("/opt/ml/train");
  ASSERT_TRUE(coordinator_->CreateStudy(command).ok());

  // "only-mine" runs one study; "builtins" runs every study's built-in tasks, no commands.
  hpo::v1::RegisterWorkerRequest only_mine;
  only_mine.set_worker_id("only-mine");
  only_mine.add_studies("mine");
  ASSERT_TRUE(coordinator_->RegisterWorker(only_mine).ok());
  hpo::v1::RegisterWorkerRequest builtins;
  builtins.set_worker_id("builtins");
  ASSERT_TRUE(coordinator_->RegisterWorker(builtins).ok());
  for (int i = 0; i < 2; ++i) EXPECT_EQ(Acquire("only-mine").study_name(), "mine");
  for (int i = 0; i < 2; ++i) EXPECT_EQ(Acquire("builtins").study_name(), "mine");
  EXPECT_TRUE(NothingToAcquire("builtins"));  // "cmd" waits for a worker that runs commands

  auto cmd = coordinator_->GetStudy("cmd");
  ASSERT_TRUE(cmd.ok());
  EXPECT_EQ(cmd->live_workers(), 2);
  EXPECT_EQ(cmd->accepting_workers(), 0);
  EXPECT_THAT(cmd->not_accepted(), HasSubstr("no live worker accepts this study's trials"));
  EXPECT_THAT(cmd->not_accepted(), HasSubstr("the worker runs no commands, and this study runs "
                                             "'/opt/ml/train'"));
  EXPECT_THAT(cmd->not_accepted(), HasSubstr("study 'cmd' is not in the worker's --studies"));
  EXPECT_EQ(coordinator_->GetStudy("mine")->accepting_workers(), 2);
  EXPECT_EQ(coordinator_->GetStudy("mine")->not_accepted(), "");

  // A worker that allows /opt/ml gets it; when it refuses on its own check (the program is a
  // symlink out, say), it is not offered the study again until it registers anew.
  hpo::v1::RegisterWorkerRequest ml;
  ml.set_worker_id("ml");
  ml.add_command_prefixes("/opt/ml");
  ASSERT_TRUE(coordinator_->RegisterWorker(ml).ok());
  EXPECT_EQ(coordinator_->GetStudy("cmd")->accepting_workers(), 1);
  Trial t = Acquire("ml");
  EXPECT_EQ(t.study_name(), "cmd");
  hpo::v1::ReleaseTrialRequest refuse;
  refuse.set_worker_id("ml");
  refuse.set_trial_id(t.id());
  refuse.set_reason("'/opt/ml/train' is /usr/bin/evil on this worker");
  refuse.set_refused(true);
  auto released = coordinator_->ReleaseTrial(refuse);
  ASSERT_TRUE(released.ok()) << released.status();
  EXPECT_EQ(released->state(), hpo::v1::PENDING);
  EXPECT_TRUE(NothingToAcquire("ml"));
  EXPECT_THAT(coordinator_->GetStudy("cmd")->not_accepted(),
              HasSubstr("worker ml refused: '/opt/ml/train' is /usr/bin/evil on this worker"));
  ASSERT_TRUE(coordinator_->RegisterWorker(ml).ok());
  EXPECT_EQ(Acquire("ml").study_name(), "cmd");

  // Workers silent for longer than a lease are not live: nobody to say anything about.
  clock_.Advance(lease_timeout_ + absl::Seconds(1));
  cmd = coordinator_->GetStudy("cmd");
  EXPECT_EQ(cmd->live_workers(), 0);
  EXPECT_EQ(cmd->not_accepted(), "");
  // A worker that never registered is offered everything (it checks for itself).
  EXPECT_TRUE(coordinator_->AcquireTrial("unregistered", absl::ZeroDuration()).ok());
}

}  // namespace
}  // namespace hpo::server

namespace hpo::server {
namespace {

TEST_F(CoordinatorTest, ProgressBeyondTheLimitsIsRefusedAndTheResultStillTaken) {
  ASSERT_TRUE(coordinator_->CreateStudy(Spec("chatty", 1, 1)).ok());
  Trial t = Acquire();
  hpo::v1::ReportProgressRequest wide;
  wide.set_worker_id("w1");
  wide.set_trial_id(t.id());
  for (int i = 0; i <= core::kMaxMetricsPerMeasurement; ++i) {
    (*wide.mutable_measurement()->mutable_metrics())[absl::StrCat("m", i)] = i;
  }
  auto refused = coordinator_->ReportProgress(wide);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.status().message(), HasSubstr("101 metrics; at most 100"));

  hpo::v1::ReportProgressRequest many;
  many.set_worker_id("w1");
  many.set_trial_id(t.id());
  for (int step = 0; step < core::kMaxMeasurementsPerTrial; ++step) {
    auto* m = many.add_measurements();
    m->set_step(step);
    (*m->mutable_metrics())["value"] = step;
  }
  ASSERT_TRUE(coordinator_->ReportProgress(many).ok());
  auto full = Report(t, core::kMaxMeasurementsPerTrial, 1.0);
  EXPECT_EQ(full.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(full.status().message(), HasSubstr("at most 100000 are kept per trial"));
  auto done = Complete(t, 0.5);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->state(), hpo::v1::COMPLETED);
  EXPECT_EQ(coordinator_->GetTrial(t.id())->measurements_size(), core::kMaxMeasurementsPerTrial);

  hpo::v1::RegisterWorkerRequest long_id;
  long_id.set_worker_id(std::string(129, 'w'));
  EXPECT_EQ(coordinator_->RegisterWorker(long_id).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace hpo::server

namespace hpo::server {
namespace {

// Stored first, then applied: when the write of a transition fails, the coordinator answers the
// storage's error and its state (what every read returns) is exactly what it was.
TEST(StoredFirstTest, AFailedWriteChangesNothing) {
  storage::SqliteStorage::Options o;
  o.path = ":memory:";
  auto sqlite = storage::SqliteStorage::Create(o);
  ASSERT_TRUE(sqlite.ok());
  storage::FaultyStorage faulty(sqlite->get());
  core::FakeClock clock;
  CoordinatorOptions options;
  options.clock = &clock;
  options.lease_timeout = absl::Seconds(10);
  auto created = Coordinator::Create(&faulty, options);
  ASSERT_TRUE(created.ok());
  Coordinator& c = **created;

  auto snapshot = [&] {
    std::string out;
    for (const hpo::v1::Study& s : c.ListStudies()) {
      absl::StrAppend(&out, s.DebugString());
      auto page = c.ListTrials(s.spec().name(), hpo::v1::TRIAL_STATE_UNSPECIFIED, 0, "");
      for (const Trial& t : page->trials) absl::StrAppend(&out, c.GetTrial(t.id())->DebugString());
    }
    return out;
  };
  int refusals = 0;
  auto refused = [&](const std::string& what, const std::function<absl::Status()>& op) {
    const std::string before = snapshot();
    faulty.set_fail_writes(true);
    const absl::Status status = op();
    faulty.set_fail_writes(false);
    EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << what << ": " << status;
    EXPECT_EQ(snapshot(), before) << what << " changed the state though its write failed";
    ++refusals;
  };
  auto acquire = [&](const std::string& worker) {
    return c.AcquireTrial(worker, absl::ZeroDuration());
  };

  refused("CreateStudy", [&] { return c.CreateStudy(Spec("s", 10, 4, 1)).status(); });
  ASSERT_TRUE(c.CreateStudy(Spec("s", 10, 4, 1)).ok());
  hpo::v1::RegisterWorkerRequest w1;
  w1.set_worker_id("w1");
  refused("RegisterWorker", [&] { return c.RegisterWorker(w1).status(); });
  ASSERT_TRUE(c.RegisterWorker(w1).ok());

  refused("AcquireTrial (a new trial)", [&] { return acquire("w1").status(); });
  auto t1 = acquire("w1");
  ASSERT_TRUE(t1.ok() && t1->found());
  hpo::v1::ReportProgressRequest report;
  report.set_worker_id("w1");
  report.set_trial_id(t1->trial().id());
  report.mutable_measurement()->set_step(1);
  (*report.mutable_measurement()->mutable_metrics())["value"] = 3;
  refused("ReportProgress", [&] { return c.ReportProgress(report).status(); });
  ASSERT_TRUE(c.ReportProgress(report).ok());

  hpo::v1::ParamMap params;
  (*params.mutable_values())["x"].set_float_value(1);
  (*params.mutable_values())["k"].set_string_value("a");
  refused("EnqueueTrial", [&] { return c.EnqueueTrial("s", params).status(); });
  ASSERT_TRUE(c.EnqueueTrial("s", params).ok());
  refused("AcquireTrial (a pending trial)", [&] { return acquire("w1").status(); });
  auto t2 = acquire("w1");
  ASSERT_TRUE(t2.ok() && t2->found());
  hpo::v1::ReleaseTrialRequest release;
  release.set_worker_id("w1");
  release.set_trial_id(t2->trial().id());
  refused("ReleaseTrial", [&] { return c.ReleaseTrial(release).status(); });
  ASSERT_TRUE(c.ReleaseTrial(release).ok());

  hpo::v1::CompleteTrialRequest complete;
  complete.set_worker_id("w1");
  complete.set_trial_id(t1->trial().id());
  complete.set_request_id("done-1");
  complete.set_state(hpo::v1::COMPLETED);
  (*complete.mutable_final_metrics())["value"] = 2;
  refused("CompleteTrial", [&] { return c.CompleteTrial(complete).status(); });
  ASSERT_TRUE(c.CompleteTrial(complete).ok());

  ASSERT_TRUE(acquire("w1").ok());  // leased, then its worker goes silent
  clock.Advance(absl::Seconds(11));
  refused("ExpireLeases (LOST and its retry)", [&] { return c.ExpireLeases().status(); });
  EXPECT_EQ(c.ExpireLeases().value(), 1);

  refused("StopStudy", [&] { return c.StopStudy("s").status(); });
  ASSERT_TRUE(c.StopStudy("s").ok());
  EXPECT_EQ(faulty.failed_writes(), refusals);
}

}  // namespace
}  // namespace hpo::server

namespace hpo::server {
namespace {

// Proposes x = 0.25 * (number + 1) and k = "b", whatever the study's optimizer says.
class FixedOptimizer final : public Optimizer {
 public:
  absl::StatusOr<std::vector<hpo::v1::ParamMap>> Suggest(const StudyView&,
                                                         const std::vector<int>& numbers) override {
    std::vector<hpo::v1::ParamMap> out;
    for (int n : numbers) {
      hpo::v1::ParamMap p;
      (*p.mutable_values())["x"].set_float_value(0.25 * (n + 1));
      (*p.mutable_values())["k"].set_string_value("b");
      out.push_back(std::move(p));
    }
    return out;
  }
};

TEST(InjectedFactoriesTest, TheCoordinatorUsesTheOptimizerItIsGiven) {
  storage::SqliteStorage::Options o;
  o.path = ":memory:";
  auto sqlite = storage::SqliteStorage::Create(o);
  ASSERT_TRUE(sqlite.ok());
  CoordinatorOptions options;
  int made = 0;
  options.optimizer_factory =
      [&](const hpo::v1::OptimizerSpec& spec,
          const hpo::v1::SearchSpace&) -> absl::StatusOr<std::unique_ptr<Optimizer>> {
    ++made;
    EXPECT_EQ(spec.name(), "random");
    return std::make_unique<FixedOptimizer>();
  };
  auto c = Coordinator::Create(sqlite->get(), options);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE((*c)->CreateStudy(Spec("fixed", 3, 3)).ok());
  EXPECT_EQ(made, 1);
  for (int n = 0; n < 3; ++n) {
    auto r = (*c)->AcquireTrial("w1", absl::ZeroDuration());
    ASSERT_TRUE(r.ok() && r->found());
    EXPECT_EQ(r->trial().params().values().at("x").float_value(), 0.25 * (n + 1));
    EXPECT_EQ(r->trial().params().values().at("k").string_value(), "b");
  }
}

// Blocks in Suggest until released: a model fit that takes as long as the test wants.
class BlockingOptimizer final : public Optimizer {
 public:
  absl::StatusOr<std::vector<hpo::v1::ParamMap>> Suggest(const StudyView&,
                                                         const std::vector<int>& numbers) override {
    absl::MutexLock lock(&mu_);
    entered_ = true;
    mu_.Await(absl::Condition(&released_));
    std::vector<hpo::v1::ParamMap> out(numbers.size());
    for (auto& p : out) {
      (*p.mutable_values())["x"].set_float_value(1);
      (*p.mutable_values())["k"].set_string_value("a");
    }
    return out;
  }
  void AwaitEntered() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&entered_));
  }
  void Release() {
    absl::MutexLock lock(&mu_);
    released_ = true;
  }

 private:
  absl::Mutex mu_;
  bool entered_ ABSL_GUARDED_BY(mu_) = false;
  bool released_ ABSL_GUARDED_BY(mu_) = false;
};

// The per-study lock: while one study's optimizer is stuck in Suggest, every call on another
// study goes through (the old single mutex made all of them wait for the suggestion).
TEST(PerStudyLockTest, ASlowSuggestionHoldsUpNoOtherStudy) {
  storage::SqliteStorage::Options o;
  o.path = ":memory:";
  auto sqlite = storage::SqliteStorage::Create(o);
  ASSERT_TRUE(sqlite.ok());
  BlockingOptimizer* blocking = nullptr;
  CoordinatorOptions options;
  options.optimizer_factory =
      [&](const hpo::v1::OptimizerSpec& spec,
          const hpo::v1::SearchSpace& space) -> absl::StatusOr<std::unique_ptr<Optimizer>> {
    if (spec.name() != "gp") return MakeOptimizer(spec, space);
    auto made = std::make_unique<BlockingOptimizer>();
    blocking = made.get();
    return made;
  };
  auto created = Coordinator::Create(sqlite->get(), options);
  ASSERT_TRUE(created.ok());
  Coordinator& c = **created;
  StudySpec slow = Spec("slow", 2, 1);
  slow.mutable_optimizer()->set_name("gp");
  ASSERT_TRUE(c.CreateStudy(slow).ok());
  ASSERT_NE(blocking, nullptr);
  ASSERT_TRUE(c.RegisterWorker([] {
                 hpo::v1::RegisterWorkerRequest r;
                 r.set_worker_id("w-slow");
                 r.add_studies("slow");
                 return r;
               }())
                  .ok());
  std::thread stuck([&] {
    auto r = c.AcquireTrial("w-slow", absl::ZeroDuration());
    EXPECT_TRUE(r.ok() && r->found());
    EXPECT_EQ(r->trial().study_name(), "slow");
  });
  blocking->AwaitEntered();

  // Now, with "slow" in the middle of its suggestion, a whole trial of another study.
  ASSERT_TRUE(c.CreateStudy(Spec("fast", 1, 1)).ok());
  auto leased = c.AcquireTrial("w-fast", absl::ZeroDuration());
  ASSERT_TRUE(leased.ok() && leased->found()) << leased.status();
  EXPECT_EQ(leased->trial().study_name(), "fast");
  hpo::v1::HeartbeatRequest beat;
  beat.set_worker_id("w-fast");
  beat.add_running_trial_ids(leased->trial().id());
  auto beat_response = c.Heartbeat(beat);
  ASSERT_TRUE(beat_response.ok());
  EXPECT_EQ(beat_response->stop_trial_ids_size(), 0);
  hpo::v1::ReportProgressRequest report;
  report.set_worker_id("w-fast");
  report.set_trial_id(leased->trial().id());
  report.mutable_measurement()->set_step(1);
  (*report.mutable_measurement()->mutable_metrics())["value"] = 2.0;
  ASSERT_TRUE(c.ReportProgress(report).ok());
  hpo::v1::CompleteTrialRequest done;
  done.set_worker_id("w-fast");
  done.set_trial_id(leased->trial().id());
  done.set_state(hpo::v1::COMPLETED);
  (*done.mutable_final_metrics())["value"] = 2.0;
  ASSERT_TRUE(c.CompleteTrial(done).ok());
  auto fast = c.GetStudy("fast");
  ASSERT_TRUE(fast.ok());
  EXPECT_EQ(fast->state(), hpo::v1::STUDY_COMPLETED);

  blocking->Release();
  stuck.join();
  auto slow_study = c.GetStudy("slow");
  ASSERT_TRUE(slow_study.ok());
  EXPECT_EQ(slow_study->counts().running(), 1);
}

}  // namespace
}  // namespace hpo::server
