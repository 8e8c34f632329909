// The Storage conformance suite: every implementation of storage::Storage must pass it. To add a
// backend, add a factory to the INSTANTIATE_TEST_SUITE_P at the bottom.
#include <stdlib.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "storage/sqlite_storage.h"
#include "storage/storage.h"

namespace hpo::storage {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using hpo::v1::Measurement;
using hpo::v1::Study;
using hpo::v1::StudySpec;
using hpo::v1::Trial;
using ::testing::HasSubstr;
using ::testing::SizeIs;

struct Backend {
  std::string name;
  // Makes a fresh, empty storage; files it needs go under `dir`.
  std::function<absl::StatusOr<std::unique_ptr<Storage>>(const std::string& dir)> make;
};

class StorageConformanceTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    std::string templ = testing::TempDir() + "/storage_conformance_XXXXXX";
    ASSERT_NE(mkdtemp(templ.data()), nullptr);
    dir_ = templ;
    auto storage = GetParam().make(dir_);
    ASSERT_TRUE(storage.ok()) << storage.status();
    storage_ = *std::move(storage);
  }
  void TearDown() override {
    storage_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  static StudySpec Spec(const std::string& name) {
    StudySpec spec;
    spec.set_name(name);
    spec.mutable_objective()->set_metric("loss");
    spec.mutable_objective()->set_direction(hpo::v1::MINIMIZE);
    spec.mutable_optimizer()->set_name("tpe");
    spec.mutable_optimizer()->set_seed(7);
    (*spec.mutable_optimizer()->mutable_options())["n_startup"] = "10";
    spec.mutable_budget()->set_max_trials(100);
    auto* p = spec.mutable_space()->add_params();
    p->set_name("lr");
    p->mutable_float_domain()->set_low(1e-5);
    p->mutable_float_domain()->set_high(1.0);
    p->mutable_float_domain()->set_log(true);
    spec.mutable_task()->set_builtin("branin");
    return spec;
  }

  int64_t MakeStudy(const std::string& name) {
    auto study = storage_->CreateStudy(Spec(name), 1000, 0);
    EXPECT_TRUE(study.ok()) << study.status();
    return study.ok() ? study->id() : -1;
  }

  static Trial NewTrial(int64_t study_id, int number, int attempt = 0) {
    Trial t;
    t.set_study_id(study_id);
    t.set_number(number);
    t.set_attempt(attempt);
    t.set_state(hpo::v1::PENDING);
    (*t.mutable_params()->mutable_values())["x"].set_float_value(0.1 * number);
    t.set_create_time_ms(5000 + number);
    return t;
  }

  Trial Insert(const Trial& t) {
    auto inserted = storage_->InsertTrial(t);
    EXPECT_TRUE(inserted.ok()) << inserted.status();
    return inserted.ok() ? *inserted : Trial();
  }

  static std::vector<int64_t> Ids(const std::vector<Trial>& trials) {
    std::vector<int64_t> ids;
    for (const Trial& t : trials) ids.push_back(t.id());
    return ids;
  }

  std::string dir_;
  std::unique_ptr<Storage> storage_;
};

// ---------------------------------------------------------------- studies

TEST_P(StorageConformanceTest, CreateStudyThenGetByNameAndId) {
  StudySpec spec = Spec("alpha");
  auto created = storage_->CreateStudy(spec, 1234, 7);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_GT(created->id(), 0);
  EXPECT_EQ(created->state(), hpo::v1::STUDY_RUNNING);
  EXPECT_EQ(created->create_time_ms(), 1234);
  EXPECT_EQ(created->end_time_ms(), 0);
  EXPECT_EQ(created->optimizer_revision(), 7);
  EXPECT_TRUE(MessageDifferencer::Equals(created->spec(), spec));

  auto by_name = storage_->GetStudy("alpha");
  ASSERT_TRUE(by_name.ok()) << by_name.status();
  EXPECT_TRUE(MessageDifferencer::Equals(*by_name, *created)) << by_name->DebugString();

  auto by_id = storage_->GetStudyById(created->id());
  ASSERT_TRUE(by_id.ok()) << by_id.status();
  EXPECT_TRUE(MessageDifferencer::Equals(*by_id, *created)) << by_id->DebugString();
  EXPECT_FALSE(by_id->has_counts());
  EXPECT_FALSE(by_id->has_best_trial());
}

TEST_P(StorageConformanceTest, ListStudiesInIdOrder) {
  auto empty = storage_->ListStudies();
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_TRUE(empty->empty());

  int64_t b = MakeStudy("b");
  int64_t a = MakeStudy("a");
  int64_t c = MakeStudy("c");
  auto studies = storage_->ListStudies();
  ASSERT_TRUE(studies.ok()) << studies.status();
  ASSERT_THAT(*studies, SizeIs(3));
  EXPECT_EQ((*studies)[0].id(), b);
  EXPECT_EQ((*studies)[0].spec().name(), "b");
  EXPECT_EQ((*studies)[1].id(), a);
  EXPECT_EQ((*studies)[1].spec().name(), "a");
  EXPECT_EQ((*studies)[2].id(), c);
  EXPECT_LT(b, a);
  EXPECT_LT(a, c);
}

TEST_P(StorageConformanceTest, DuplicateStudyNameIsAlreadyExists) {
  MakeStudy("dup");
  auto again = storage_->CreateStudy(Spec("dup"), 2000, 0);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(again.status().message(), HasSubstr("\"dup\""));
  auto studies = storage_->ListStudies();
  ASSERT_TRUE(studies.ok());
  EXPECT_THAT(*studies, SizeIs(1));
}

TEST_P(StorageConformanceTest, UnknownStudyIsNotFound) {
  auto by_name = storage_->GetStudy("nope");
  EXPECT_EQ(by_name.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(by_name.status().message(), HasSubstr("nope"));
  auto by_id = storage_->GetStudyById(424242);
  EXPECT_EQ(by_id.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(by_id.status().message(), HasSubstr("424242"));
  absl::Status update = storage_->UpdateStudyState(424242, hpo::v1::STUDY_STOPPED, 1);
  EXPECT_EQ(update.code(), absl::StatusCode::kNotFound);
  auto trials = storage_->ListTrials(424242, hpo::v1::TRIAL_STATE_UNSPECIFIED, 0, 0);
  EXPECT_EQ(trials.status().code(), absl::StatusCode::kNotFound);
  auto measurements = storage_->ListStudyMeasurements(424242);
  EXPECT_EQ(measurements.status().code(), absl::StatusCode::kNotFound);
}

TEST_P(StorageConformanceTest, UpdateStudyState) {
  int64_t id = MakeStudy("s");
  int64_t other = MakeStudy("other");
  ASSERT_TRUE(storage_->UpdateStudyState(id, hpo::v1::STUDY_COMPLETED, 9999).ok());
  auto study = storage_->GetStudyById(id);
  ASSERT_TRUE(study.ok());
  EXPECT_EQ(study->state(), hpo::v1::STUDY_COMPLETED);
  EXPECT_EQ(study->end_time_ms(), 9999);
  EXPECT_EQ(study->spec().name(), "s");
  auto untouched = storage_->GetStudyById(other);
  ASSERT_TRUE(untouched.ok());
  EXPECT_EQ(untouched->state(), hpo::v1::STUDY_RUNNING);
  EXPECT_EQ(untouched->end_time_ms(), 0);
}

TEST_P(StorageConformanceTest, UpdateStudyRewritesSpecAndStateAndReopens) {
  int64_t id = MakeStudy("s");
  ASSERT_TRUE(storage_->UpdateStudyState(id, hpo::v1::STUDY_COMPLETED, 9999).ok());
  StudySpec spec = Spec("s");
  spec.mutable_budget()->set_max_trials(250);
  ASSERT_TRUE(storage_->UpdateStudy(id, spec, hpo::v1::STUDY_RUNNING, 0).ok());
  auto study = storage_->GetStudy("s");
  ASSERT_TRUE(study.ok());
  EXPECT_EQ(study->spec().budget().max_trials(), 250);
  EXPECT_EQ(study->state(), hpo::v1::STUDY_RUNNING);
  EXPECT_EQ(study->end_time_ms(), 0);
  EXPECT_EQ(storage_->UpdateStudy(999, spec, hpo::v1::STUDY_RUNNING, 0).code(),
            absl::StatusCode::kNotFound);
}

TEST_P(StorageConformanceTest, DeleteStudyTakesItsTrialsAndCurvesAndNothingElse) {
  int64_t id = MakeStudy("gone");
  int64_t kept = MakeStudy("kept");
  Trial a = Insert(NewTrial(id, 0));
  Insert(NewTrial(id, 1));
  Trial other = Insert(NewTrial(kept, 0));
  Measurement m;
  m.set_step(1);
  (*m.mutable_metrics())["value"] = 2.0;
  ASSERT_TRUE(storage_->AppendMeasurement(a.id(), m).ok());
  ASSERT_TRUE(storage_->AppendMeasurement(other.id(), m).ok());
  auto deleted = storage_->DeleteStudy(id);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, 2);
  EXPECT_EQ(storage_->GetStudy("gone").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(storage_->GetTrial(a.id(), true).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(storage_->GetTrial(other.id(), true)->measurements_size(), 1);
  EXPECT_EQ(storage_->ListStudies()->size(), 1u);
  EXPECT_EQ(storage_->DeleteStudy(id).status().code(), absl::StatusCode::kNotFound);
  // The name is free again.
  EXPECT_TRUE(storage_->CreateStudy(Spec("gone"), 2000, 0).ok());
}

TEST_P(StorageConformanceTest, ResetTrialDropsMeasurements) {
  int64_t id = MakeStudy("reset");
  Trial t = Insert(NewTrial(id, 0));
  Measurement m;
  m.set_step(3);
  (*m.mutable_metrics())["value"] = 1.5;
  ASSERT_TRUE(storage_->AppendMeasurement(t.id(), m).ok());
  Trial other = Insert(NewTrial(id, 1));
  ASSERT_TRUE(storage_->AppendMeasurement(other.id(), m).ok());
  t.set_state(hpo::v1::PENDING);
  t.set_worker_id("");
  ASSERT_TRUE(storage_->ResetTrial(t).ok());
  auto stored = storage_->GetTrial(t.id(), true);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->measurements_size(), 0);
  EXPECT_EQ(stored->last_step(), -1);
  EXPECT_EQ(storage_->GetTrial(other.id(), true)->measurements_size(), 1);
  Trial ghost = t;
  ghost.set_id(999);
  EXPECT_EQ(storage_->ResetTrial(ghost).code(), absl::StatusCode::kNotFound);
}

TEST_P(StorageConformanceTest, EndStudyWritesTrialsAndStateTogether) {
  int64_t id = MakeStudy("ending");
  Trial a = Insert(NewTrial(id, 0));
  Trial b = Insert(NewTrial(id, 1));
  a.set_state(hpo::v1::FAILED);
  a.set_failure_reason("study stopped");
  b.set_state(hpo::v1::FAILED);
  ASSERT_TRUE(storage_->EndStudy(id, hpo::v1::STUDY_STOPPED, 4242, {a, b}).ok());
  EXPECT_EQ(storage_->GetStudyById(id)->state(), hpo::v1::STUDY_STOPPED);
  EXPECT_EQ(storage_->GetStudyById(id)->end_time_ms(), 4242);
  EXPECT_EQ(storage_->GetTrial(a.id(), false)->failure_reason(), "study stopped");
  EXPECT_EQ(storage_->GetTrial(b.id(), false)->state(), hpo::v1::FAILED);
}

TEST_P(StorageConformanceTest, EndStudyIsAllOrNothing) {
  int64_t id = MakeStudy("ending");
  Trial a = Insert(NewTrial(id, 0));
  a.set_state(hpo::v1::FAILED);
  Trial ghost = NewTrial(id, 1);
  ghost.set_id(999);
  absl::Status s = storage_->EndStudy(id, hpo::v1::STUDY_STOPPED, 4242, {a, ghost});
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(storage_->GetStudyById(id)->state(), hpo::v1::STUDY_RUNNING);
  EXPECT_EQ(storage_->GetTrial(a.id(), false)->state(), hpo::v1::PENDING);
  EXPECT_EQ(storage_->EndStudy(777, hpo::v1::STUDY_STOPPED, 1, {}).code(),
            absl::StatusCode::kNotFound);
}

// ---------------------------------------------------------------- trials

TEST_P(StorageConformanceTest, TrialRoundTripsEveryField) {
  int64_t study_id = MakeStudy("rt");
  Trial t;
  t.set_id(777);  // ignored
  t.set_study_id(study_id);
  t.set_number(3);
  t.set_attempt(1);
  auto& values = *t.mutable_params()->mutable_values();
  values["lr"].set_float_value(0.0123456789012345);
  values["layers"].set_int_value(-4);
  values["act"].set_string_value("re\"lu\n");
  values["bn"].set_bool_value(true);
  t.set_state(hpo::v1::RUNNING);
  t.set_has_value(true);
  t.set_value(-1.5e-300);
  (*t.mutable_final_metrics())["loss"] = 0.25;
  (*t.mutable_final_metrics())["acc"] = 0.875;
  t.set_worker_id("host-1/0");
  t.set_lease_expire_ms(123456789012);
  t.set_failure_reason("exit code 3");
  t.set_create_time_ms(11);
  t.set_start_time_ms(22);
  t.set_end_time_ms(33);
  t.set_enqueued(true);
  t.set_complete_request_id("req-42");
  t.set_study_name("ignored on write");
  t.mutable_prediction()->set_step(4);
  t.mutable_prediction()->set_mean(0.75);
  t.mutable_prediction()->set_spread(0.125);
  t.set_log_path("host-1:/var/log/hpo/rt-3-1-9.log");
  t.mutable_gpu_usage()->add_devices("1");
  t.mutable_gpu_usage()->set_peak_memory_mib(3100.5);
  t.mutable_gpu_usage()->set_mean_utilization_pct(64.25);
  t.mutable_gpu_usage()->set_polls(7);

  auto inserted = storage_->InsertTrial(t);
  ASSERT_TRUE(inserted.ok()) << inserted.status();
  EXPECT_GT(inserted->id(), 0);
  EXPECT_NE(inserted->id(), 777);
  EXPECT_EQ(inserted->last_step(), -1);

  Trial expected = t;
  expected.set_id(inserted->id());
  expected.set_study_name("rt");
  expected.set_last_step(-1);
  auto got = storage_->GetTrial(inserted->id(), /*with_measurements=*/false);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(MessageDifferencer::Equals(*got, expected)) << "got:\n"
                                                          << got->DebugString() << "expected:\n"
                                                          << expected.DebugString();

  // Update rewrites every column.
  Trial changed = expected;
  changed.mutable_params()->mutable_values()->erase("bn");
  (*changed.mutable_params()->mutable_values())["lr"].set_float_value(2.5);
  changed.set_state(hpo::v1::COMPLETED);
  changed.set_has_value(false);
  changed.set_value(0);
  changed.clear_final_metrics();
  changed.set_worker_id("");
  changed.set_lease_expire_ms(0);
  changed.set_failure_reason("");
  changed.set_create_time_ms(111);
  changed.set_start_time_ms(222);
  changed.set_end_time_ms(333);
  changed.set_log_path("host-2:/tmp/rt.log");
  changed.clear_gpu_usage();
  changed.set_enqueued(false);
  changed.set_complete_request_id("req-43");
  changed.clear_prediction();
  changed.mutable_stop()->set_rule("asha");
  changed.mutable_stop()->set_decision(hpo::v1::STOP);
  changed.mutable_stop()->set_rung(9);
  changed.mutable_stop()->set_summary("asha: below the cutoff");
  changed.mutable_stop()->mutable_prediction()->set_mean(3);
  ASSERT_TRUE(storage_->UpdateTrial(changed).ok());
  got = storage_->GetTrial(inserted->id(), false);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(MessageDifferencer::Equals(*got, changed)) << "got:\n"
                                                         << got->DebugString() << "expected:\n"
                                                         << changed.DebugString();
}

TEST_P(StorageConformanceTest, NanAndInfiniteValuesRoundTrip) {
  int64_t study_id = MakeStudy("nan");
  Trial t = NewTrial(study_id, 0);
  t.set_has_value(true);
  t.set_value(std::nan(""));
  Trial a = Insert(t);
  t.set_number(1);
  t.set_value(-INFINITY);
  Trial b = Insert(t);
  auto got_a = storage_->GetTrial(a.id(), false);
  auto got_b = storage_->GetTrial(b.id(), false);
  ASSERT_TRUE(got_a.ok() && got_b.ok());
  EXPECT_TRUE(got_a->has_value());
  EXPECT_TRUE(std::isnan(got_a->value()));
  EXPECT_EQ(got_b->value(), -INFINITY);
}

TEST_P(StorageConformanceTest, DuplicateNumberAndAttemptIsAlreadyExists) {
  int64_t s1 = MakeStudy("one");
  int64_t s2 = MakeStudy("two");
  Insert(NewTrial(s1, 5, 0));
  auto dup = storage_->InsertTrial(NewTrial(s1, 5, 0));
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(dup.status().message(), HasSubstr("trial 5 attempt 0"));
  // Another attempt, or the same number in another study, is fine.
  EXPECT_TRUE(storage_->InsertTrial(NewTrial(s1, 5, 1)).ok());
  EXPECT_TRUE(storage_->InsertTrial(NewTrial(s2, 5, 0)).ok());
  auto trials = storage_->ListTrials(s1, hpo::v1::TRIAL_STATE_UNSPECIFIED, 0, 0);
  ASSERT_TRUE(trials.ok());
  EXPECT_THAT(*trials, SizeIs(2));
}

TEST_P(StorageConformanceTest, TrialOfUnknownStudyOrIdIsNotFound) {
  auto insert = storage_->InsertTrial(NewTrial(31337, 0));
  EXPECT_EQ(insert.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(insert.status().message(), HasSubstr("31337"));

  auto get = storage_->GetTrial(555, true);
  EXPECT_EQ(get.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(get.status().message(), HasSubstr("555"));

  int64_t study_id = MakeStudy("s");
  Trial ghost = NewTrial(study_id, 0);
  ghost.set_id(555);
  absl::Status update = storage_->UpdateTrial(ghost);
  EXPECT_EQ(update.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(update.message(), HasSubstr("555"));
}

TEST_P(StorageConformanceTest, UpdateAndInsertTrialWritesBoth) {
  int64_t study_id = MakeStudy("retry");
  Trial first = Insert(NewTrial(study_id, 0));
  first.set_state(hpo::v1::LOST);
  first.set_failure_reason("lease expired");
  Trial retry = NewTrial(study_id, 0, /*attempt=*/1);
  ASSERT_TRUE(storage_->UpdateAndInsertTrial(first, &retry).ok());
  EXPECT_GT(retry.id(), first.id());
  EXPECT_EQ(retry.attempt(), 1);

  auto lost = storage_->GetTrial(first.id(), false);
  ASSERT_TRUE(lost.ok());
  EXPECT_EQ(lost->state(), hpo::v1::LOST);
  EXPECT_EQ(lost->failure_reason(), "lease expired");
  auto pending = storage_->GetTrial(retry.id(), false);
  ASSERT_TRUE(pending.ok());
  EXPECT_EQ(pending->state(), hpo::v1::PENDING);
  EXPECT_EQ(pending->number(), 0);
  EXPECT_EQ(pending->attempt(), 1);
}

TEST_P(StorageConformanceTest, UpdateAndInsertTrialRollsBackWhenInsertFails) {
  int64_t study_id = MakeStudy("atomic");
  Trial first = Insert(NewTrial(study_id, 0));
  Insert(NewTrial(study_id, 0, 1));  // the retry's (number, attempt) is taken
  Trial updated = first;
  updated.set_state(hpo::v1::LOST);
  updated.set_failure_reason("lease expired");
  Trial retry = NewTrial(study_id, 0, 1);
  absl::Status status = storage_->UpdateAndInsertTrial(updated, &retry);
  EXPECT_EQ(status.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(retry.id(), 0);  // untouched on failure

  auto stored = storage_->GetTrial(first.id(), false);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->state(), hpo::v1::PENDING);  // the update was rolled back
  EXPECT_EQ(stored->failure_reason(), "");

  // And the storage is usable afterwards (no transaction left open).
  ASSERT_TRUE(storage_->UpdateTrial(updated).ok());
  stored = storage_->GetTrial(first.id(), false);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->state(), hpo::v1::LOST);
}

TEST_P(StorageConformanceTest, UpdateAndInsertTrialWithUnknownUpdatedInsertsNothing) {
  int64_t study_id = MakeStudy("atomic2");
  Trial ghost = NewTrial(study_id, 0);
  ghost.set_id(999);
  Trial retry = NewTrial(study_id, 0, 1);
  absl::Status status = storage_->UpdateAndInsertTrial(ghost, &retry);
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  auto trials = storage_->ListTrials(study_id, hpo::v1::TRIAL_STATE_UNSPECIFIED, 0, 0);
  ASSERT_TRUE(trials.ok());
  EXPECT_TRUE(trials->empty());
}

TEST_P(StorageConformanceTest, ListTrialsFiltersAndPaginates) {
  int64_t study_id = MakeStudy("list");
  int64_t other_id = MakeStudy("other");
  std::vector<int64_t> all, completed;
  for (int i = 0; i < 10; ++i) {
    Trial t = NewTrial(study_id, i);
    if (i % 3 == 0) t.set_state(hpo::v1::COMPLETED);
    Trial stored = Insert(t);
    all.push_back(stored.id());
    if (i % 3 == 0) completed.push_back(stored.id());
    Insert(NewTrial(other_id, i));  // interleaved trials of another study
  }

  auto every = storage_->ListTrials(study_id, hpo::v1::TRIAL_STATE_UNSPECIFIED, 0, 0);
  ASSERT_TRUE(every.ok()) << every.status();
  EXPECT_EQ(Ids(*every), all);
  for (const Trial& t : *every) {
    EXPECT_EQ(t.study_id(), study_id);
    EXPECT_EQ(t.study_name(), "list");
    EXPECT_EQ(t.measurements_size(), 0);
  }

  auto done = storage_->ListTrials(study_id, hpo::v1::COMPLETED, 0, 0);
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(Ids(*done), completed);
  auto running = storage_->ListTrials(study_id, hpo::v1::RUNNING, 0, 0);
  ASSERT_TRUE(running.ok());
  EXPECT_TRUE(running->empty());

  // Pages of 4 via after_id.
  std::vector<int64_t> paged;
  int64_t after = 0;
  int pages = 0;
  while (true) {
    auto page = storage_->ListTrials(study_id, hpo::v1::TRIAL_STATE_UNSPECIFIED, after, 4);
    ASSERT_TRUE(page.ok());
    if (page->empty()) break;
    EXPECT_LE(page->size(), 4u);
    for (const Trial& t : *page) paged.push_back(t.id());
    after = page->back().id();
    ++pages;
  }
  EXPECT_EQ(paged, all);
  EXPECT_EQ(pages, 3);

  // State filter combined with after_id and limit.
  auto filtered = storage_->ListTrials(study_id, hpo::v1::COMPLETED, completed[0], 2);
  ASSERT_TRUE(filtered.ok());
  EXPECT_EQ(Ids(*filtered), std::vector<int64_t>({completed[1], completed[2]}));
}

// ---------------------------------------------------------------- measurements

TEST_P(StorageConformanceTest, AppendAndReadMeasurements) {
  int64_t study_id = MakeStudy("m");
  Trial t = Insert(NewTrial(study_id, 0));
  for (int step : {1, 2, 5}) {
    Measurement m;
    m.set_step(step);
    m.set_time_ms(100 * step);
    (*m.mutable_metrics())["loss"] = 1.0 / step;
    (*m.mutable_metrics())["acc"] = 0.1 * step;
    ASSERT_TRUE(storage_->AppendMeasurement(t.id(), m).ok());
  }
  Measurement no_metrics;
  no_metrics.set_step(3);  // steps need not grow; last_step follows the last append
  ASSERT_TRUE(storage_->AppendMeasurement(t.id(), no_metrics).ok());

  auto with = storage_->GetTrial(t.id(), /*with_measurements=*/true);
  ASSERT_TRUE(with.ok()) << with.status();
  EXPECT_EQ(with->last_step(), 3);
  ASSERT_EQ(with->measurements_size(), 4);
  EXPECT_EQ(with->measurements(0).step(), 1);
  EXPECT_EQ(with->measurements(0).time_ms(), 100);
  EXPECT_EQ(with->measurements(0).metrics().at("loss"), 1.0);
  EXPECT_EQ(with->measurements(1).step(), 2);
  EXPECT_EQ(with->measurements(2).step(), 5);
  EXPECT_EQ(with->measurements(2).metrics().at("loss"), 0.2);
  EXPECT_EQ(with->measurements(2).metrics().at("acc"), 0.1 * 5);
  EXPECT_EQ(with->measurements(3).step(), 3);
  EXPECT_TRUE(with->measurements(3).metrics().empty());

  auto without = storage_->GetTrial(t.id(), false);
  ASSERT_TRUE(without.ok());
  EXPECT_EQ(without->measurements_size(), 0);
  EXPECT_EQ(without->last_step(), 3);

  // UpdateTrial leaves last_step and measurements alone.
  Trial stale = t;  // last_step -1 in the caller's copy
  stale.set_state(hpo::v1::RUNNING);
  ASSERT_TRUE(storage_->UpdateTrial(stale).ok());
  with = storage_->GetTrial(t.id(), true);
  ASSERT_TRUE(with.ok());
  EXPECT_EQ(with->state(), hpo::v1::RUNNING);
  EXPECT_EQ(with->last_step(), 3);
  EXPECT_EQ(with->measurements_size(), 4);
}

TEST_P(StorageConformanceTest, AppendMeasurementToUnknownTrialIsNotFound) {
  Measurement m;
  m.set_step(1);
  absl::Status status = storage_->AppendMeasurement(8888, m);
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(status.message(), HasSubstr("8888"));
}

TEST_P(StorageConformanceTest, AppendMeasurementsStoresABatchInOrder) {
  int64_t id = MakeStudy("batch");
  Trial t = Insert(NewTrial(id, 0));
  Measurement first;
  first.set_step(0);
  (*first.mutable_metrics())["loss"] = 9;
  ASSERT_TRUE(storage_->AppendMeasurement(t.id(), first).ok());
  std::vector<Measurement> batch;
  for (int step : {4, 2, 7}) {
    Measurement m;
    m.set_step(step);
    m.set_time_ms(step * 10);
    (*m.mutable_metrics())["loss"] = 1.0 / step;
    batch.push_back(m);
  }
  ASSERT_TRUE(storage_->AppendMeasurements(t.id(), batch).ok());
  ASSERT_TRUE(storage_->AppendMeasurements(t.id(), {}).ok());  // changes nothing
  auto stored = storage_->GetTrial(t.id(), /*with_measurements=*/true);
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->last_step(), 7);
  ASSERT_EQ(stored->measurements_size(), 4);
  EXPECT_EQ(stored->measurements(0).step(), 0);
  EXPECT_EQ(stored->measurements(1).step(), 4);
  EXPECT_EQ(stored->measurements(2).step(), 2);
  EXPECT_EQ(stored->measurements(3).step(), 7);
  EXPECT_EQ(stored->measurements(3).time_ms(), 70);
  EXPECT_EQ(stored->measurements(2).metrics().at("loss"), 0.5);
  absl::Status unknown = storage_->AppendMeasurements(8888, batch);
  EXPECT_EQ(unknown.code(), absl::StatusCode::kNotFound);
}

TEST_P(StorageConformanceTest, ListStudyMeasurementsGroupsByTrial) {
  int64_t study_id = MakeStudy("sm");
  int64_t other_id = MakeStudy("other");
  Trial a = Insert(NewTrial(study_id, 0));
  Trial b = Insert(NewTrial(study_id, 1));
  Trial quiet = Insert(NewTrial(study_id, 2));
  Trial foreign = Insert(NewTrial(other_id, 0));
  auto append = [&](const Trial& t, int step, double loss) {
    Measurement m;
    m.set_step(step);
    m.set_time_ms(step * 10);
    (*m.mutable_metrics())["loss"] = loss;
    ASSERT_TRUE(storage_->AppendMeasurement(t.id(), m).ok());
  };
  append(b, 1, 0.9);  // interleaved appends keep per-trial order
  append(a, 1, 0.8);
  append(foreign, 1, 0.0);
  append(b, 2, 0.7);
  append(a, 2, 0.6);
  append(b, 3, 0.5);

  auto all = storage_->ListStudyMeasurements(study_id);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 2u);  // `quiet` has none; `foreign` is another study's
  EXPECT_EQ(all->count(quiet.id()), 0u);
  const auto& ma = all->at(a.id());
  const auto& mb = all->at(b.id());
  ASSERT_THAT(ma, SizeIs(2));
  ASSERT_THAT(mb, SizeIs(3));
  EXPECT_EQ(ma[0].step(), 1);
  EXPECT_EQ(ma[0].metrics().at("loss"), 0.8);
  EXPECT_EQ(ma[1].step(), 2);
  EXPECT_EQ(mb[0].metrics().at("loss"), 0.9);
  EXPECT_EQ(mb[1].metrics().at("loss"), 0.7);
  EXPECT_EQ(mb[2].step(), 3);
  EXPECT_EQ(mb[2].time_ms(), 30);

  auto empty = storage_->ListStudyMeasurements(MakeStudy("empty"));
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

// ---------------------------------------------------------------- workers

TEST_P(StorageConformanceTest, UpsertAndListWorkers) {
  auto none = storage_->ListWorkers();
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());

  WorkerRecord w2{"w2", "host-b", 2, {"0", "1"}, 10, 20};
  WorkerRecord w1{"w1", "host-a", 1, {}, 5, 6};
  ASSERT_TRUE(storage_->UpsertWorker(w2).ok());
  ASSERT_TRUE(storage_->UpsertWorker(w1).ok());
  auto workers = storage_->ListWorkers();
  ASSERT_TRUE(workers.ok());
  ASSERT_THAT(*workers, SizeIs(2));
  EXPECT_EQ((*workers)[0].id, "w1");  // id order
  EXPECT_EQ((*workers)[0].hostname, "host-a");
  EXPECT_EQ((*workers)[0].slots, 1);
  EXPECT_TRUE((*workers)[0].gpus.empty());
  EXPECT_EQ((*workers)[0].registered_ms, 5);
  EXPECT_EQ((*workers)[0].last_seen_ms, 6);
  EXPECT_EQ((*workers)[1].id, "w2");
  EXPECT_EQ((*workers)[1].gpus, std::vector<std::string>({"0", "1"}));

  WorkerRecord w2b{"w2", "host-c", 4, {"GPU-ab12"}, 10, 99};
  ASSERT_TRUE(storage_->UpsertWorker(w2b).ok());
  workers = storage_->ListWorkers();
  ASSERT_TRUE(workers.ok());
  ASSERT_THAT(*workers, SizeIs(2));
  EXPECT_EQ((*workers)[1].hostname, "host-c");
  EXPECT_EQ((*workers)[1].slots, 4);
  EXPECT_EQ((*workers)[1].gpus, std::vector<std::string>({"GPU-ab12"}));
  EXPECT_EQ((*workers)[1].last_seen_ms, 99);
}

TEST_P(StorageConformanceTest, WorkerGpuNameWithCommaIsInvalid) {
  WorkerRecord w{"w", "h", 1, {"0,1"}, 1, 1};
  absl::Status status = storage_->UpsertWorker(w);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("\"0,1\""));
  auto workers = storage_->ListWorkers();
  ASSERT_TRUE(workers.ok());
  EXPECT_TRUE(workers->empty());
}

// ---------------------------------------------------------------- concurrency

TEST_P(StorageConformanceTest, ConcurrentInsertsGetDistinctIds) {
  int64_t study_id = MakeStudy("concurrent");
  constexpr int kThreads = 4;
  constexpr int kPerThread = 200;
  std::vector<std::vector<int64_t>> ids(kThreads);
  std::vector<int> failures(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto trial = storage_->InsertTrial(NewTrial(study_id, t * kPerThread + i));
        if (!trial.ok()) {
          ++failures[t];
          continue;
        }
        ids[t].push_back(trial->id());
        Trial running = *trial;
        running.set_state(hpo::v1::RUNNING);
        if (!storage_->UpdateTrial(running).ok()) ++failures[t];
      }
    });
  }
  for (std::thread& th : threads) th.join();
  std::set<int64_t> distinct;
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(failures[t], 0) << "thread " << t;
    distinct.insert(ids[t].begin(), ids[t].end());
  }
  EXPECT_EQ(distinct.size(), static_cast<size_t>(kThreads * kPerThread));
  auto running = storage_->ListTrials(study_id, hpo::v1::RUNNING, 0, 0);
  ASSERT_TRUE(running.ok());
  EXPECT_THAT(*running, SizeIs(kThreads * kPerThread));
}

// ---------------------------------------------------------------- backends

absl::StatusOr<std::unique_ptr<Storage>> MakeSqlite(const std::string& path) {
  SqliteStorage::Options options;
  options.path = path;
  auto storage = SqliteStorage::Create(options);
  if (!storage.ok()) return storage.status();
  return std::unique_ptr<Storage>(*std::move(storage));
}

INSTANTIATE_TEST_SUITE_P(
    Backends, StorageConformanceTest,
    ::testing::Values(
        Backend{"SqliteMemory", [](const std::string&) { return MakeSqlite(":memory:"); }},
        Backend{"SqliteFile",
                [](const std::string& dir) { return MakeSqlite(dir + "/hpo.sqlite"); }}),
    [](const ::testing::TestParamInfo<Backend>& info) { return info.param.name; });

}  // namespace
}  // namespace hpo::storage
