// The dashboard's HTTP API against a real coordinator, over a real socket.
#include "dashboard/dashboard_server.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "core/study_spec.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "nlohmann/json.hpp"
#include "storage/sqlite_storage.h"

namespace hpo::dashboard {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kStudy[] = R"(name: dash
objective: {metric: loss, direction: minimize}
optimizer: {name: random, seed: 3}
budget: {max_trials: 14, max_parallel: 14}
space:
  a: {type: float, low: 0, high: 1}
  b: {type: float, low: 0, high: 1}
task: {builtin: branin}
)";

class DashboardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    storage::SqliteStorage::Options o;
    o.path = ":memory:";
    storage_ = std::move(storage::SqliteStorage::Create(o)).value();
    coordinator_ = std::move(server::Coordinator::Create(storage_.get(), {})).value();
    auto spec = core::ParseStudyYaml(kStudy);
    ASSERT_TRUE(spec.ok()) << spec.status();
    ASSERT_TRUE(coordinator_->CreateStudy(*spec).ok());
  }

  // Leases a trial, reports a 3-step curve, completes it with loss = 10a + b.
  void RunOne() {
    auto r = coordinator_->AcquireTrial("w", absl::ZeroDuration());
    ASSERT_TRUE(r.ok() && r->found()) << r.status();
    const hpo::v1::Trial& t = r->trial();
    const double loss =
        10 * t.params().values().at("a").float_value() + t.params().values().at("b").float_value();
    for (int step = 1; step <= 3; ++step) {
      hpo::v1::ReportProgressRequest report;
      report.set_worker_id("w");
      report.set_trial_id(t.id());
      report.mutable_measurement()->set_step(step);
      (*report.mutable_measurement()->mutable_metrics())["loss"] = loss + 3 - step;
      ASSERT_TRUE(coordinator_->ReportProgress(report).ok());
    }
    hpo::v1::CompleteTrialRequest done;
    done.set_worker_id("w");
    done.set_trial_id(t.id());
    done.set_request_id(absl::StrCat("r", t.id()));
    done.set_state(hpo::v1::COMPLETED);
    (*done.mutable_final_metrics())["loss"] = loss;
    ASSERT_TRUE(coordinator_->CompleteTrial(done).ok());
  }

  std::unique_ptr<DashboardServer> Serve(DashboardOptions options = {}) {
    options.listen = "127.0.0.1:0";
    auto s = DashboardServer::Start(coordinator_.get(), options);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? std::move(s).value() : nullptr;
  }

  std::unique_ptr<storage::SqliteStorage> storage_;
  std::unique_ptr<server::Coordinator> coordinator_;
};

TEST_F(DashboardTest, ApiServesStudiesTrialsCurvesImportanceAndDownloads) {
  for (int i = 0; i < 12; ++i) RunOne();
  auto server = Serve();
  ASSERT_NE(server, nullptr);
  httplib::Client http("127.0.0.1", server->port());

  auto res = http.Get("/api/studies");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  nlohmann::json studies = nlohmann::json::parse(res->body);
  ASSERT_EQ(studies.size(), 1u);
  EXPECT_EQ(studies[0]["name"], "dash");
  EXPECT_EQ(studies[0]["counts"]["completed"], 12);

  res = http.Get("/api/studies/dash/trials");
  ASSERT_TRUE(res && res->status == 200);
  nlohmann::json trials = nlohmann::json::parse(res->body);
  ASSERT_EQ(trials.size(), 12u);
  ASSERT_EQ(trials[0]["measurements"].size(), 3u);
  EXPECT_EQ(trials[0]["measurements"][2]["step"], 3);
  EXPECT_EQ(trials[0]["measurements"][2]["metrics"]["loss"], trials[0]["value"]);

  res = http.Get(absl::StrCat("/api/trials/", trials[5]["id"].get<int64_t>()));
  ASSERT_TRUE(res && res->status == 200);
  EXPECT_EQ(nlohmann::json::parse(res->body)["measurements"].size(), 3u);

  // `a` weighs ten times `b` in the loss.
  res = http.Get("/api/studies/dash/importance");
  ASSERT_TRUE(res && res->status == 200) << (res ? res->body : "no answer");
  nlohmann::json importance = nlohmann::json::parse(res->body);
  EXPECT_EQ(importance["trials"], 12);
  EXPECT_EQ(importance["importance"][0]["param"], "a");
  EXPECT_GT(importance["importance"][0]["importance"].get<double>(), 0.8);

  res = http.Get("/api/studies/dash/trials.csv");
  ASSERT_TRUE(res && res->status == 200);
  EXPECT_THAT(res->get_header_value("Content-Disposition"), HasSubstr("dash-trials.csv"));
  EXPECT_THAT(res->body, StartsWith("id,number,attempt,state,value,a,b,"));
  EXPECT_EQ(std::vector<std::string>(absl::StrSplit(res->body, '\n', absl::SkipEmpty())).size(),
            13u);
  res = http.Get("/api/studies/dash/trials.json");
  ASSERT_TRUE(res && res->status == 200);
  EXPECT_THAT(res->get_header_value("Content-Disposition"), HasSubstr("dash-trials.json"));
  EXPECT_EQ(nlohmann::json::parse(res->body).size(), 12u);

  res = http.Get("/api/studies/nope");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  EXPECT_EQ(nlohmann::json::parse(res->body)["error"], "no study named 'nope'");
  res = http.Get("/");
  ASSERT_TRUE(res && res->status == 200);
  EXPECT_THAT(res->get_header_value("Content-Type"), StartsWith("text/html"));
  res = http.Get("/study/dash");
  ASSERT_TRUE(res && res->status == 200);
  res = http.Get("/static/dashboard.js");
  ASSERT_TRUE(res && res->status == 200);
}

TEST_F(DashboardTest, ImportanceNamesWhatIsMissingBeforeEnoughTrials) {
  RunOne();
  auto server = Serve();
  ASSERT_NE(server, nullptr);
  httplib::Client http("127.0.0.1", server->port());
  auto res = http.Get("/api/studies/dash/importance");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 422);
  EXPECT_THAT(nlohmann::json::parse(res->body)["error"].get<std::string>(),
              HasSubstr("at least 10 completed trials"));
}

TEST_F(DashboardTest, TokensGuardEveryRouteAndAPageSetsTheCookie) {
  DashboardOptions options;
  options.authorize = [](absl::string_view token) {
    return token == "s3cret" ? absl::OkStatus() : absl::UnauthenticatedError("unknown token");
  };
  auto server = Serve(options);
  ASSERT_NE(server, nullptr);
  httplib::Client http("127.0.0.1", server->port());
  for (const char* path : {"/api/studies", "/api/studies/dash", "/api/studies/dash/trials.csv",
                           "/api/studies/dash/events", "/api/trials/1"}) {
    auto res = http.Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 401) << path;
    EXPECT_THAT(res->body, HasSubstr("?token=TOKEN")) << path;
  }
  // The pages hold no data: they load, and say why the API refused.
  for (const char* path : {"/", "/study/dash", "/static/dashboard.js"}) {
    auto res = http.Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 200) << path;
  }
  auto wrong = http.Get("/study/dash?token=wrong");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  auto res = http.Get("/api/studies", {{"Authorization", "Bearer s3cret"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  res = http.Get("/api/studies", {{"Authorization", "Bearer wrong"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  res = http.Get("/study/dash?token=s3cret");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 302);
  EXPECT_EQ(res->get_header_value("Location"), "/study/dash");
  EXPECT_THAT(res->get_header_value("Set-Cookie"), StartsWith("hpo_token=s3cret; Path=/;"));
  res = http.Get("/api/studies", {{"Cookie", "theme=dark; hpo_token=s3cret"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

// Live events: the snapshot first, a TRIAL_UPDATED per change while the page watches, and the
// stream ends after STUDY_ENDED.
TEST_F(DashboardTest, EventsStreamTheStudyUntilItEnds) {
  for (int i = 0; i < 12; ++i) RunOne();
  auto server = Serve();
  ASSERT_NE(server, nullptr);
  absl::Mutex mu;
  std::string received;
  std::thread reader([&] {
    httplib::Client http("127.0.0.1", server->port());
    http.set_read_timeout(30, 0);
    http.Get("/api/studies/dash/events", [&](const char* data, size_t n) {
      absl::MutexLock lock(&mu);
      received.append(data, n);
      return true;
    });
  });
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (true) {
    {
      absl::MutexLock lock(&mu);
      if (received.find("event: SNAPSHOT\n") != std::string::npos) break;
    }
    ASSERT_LT(absl::Now(), deadline) << "no snapshot";
    absl::SleepFor(absl::Milliseconds(5));  // polled, with a deadline
  }
  RunOne();
  RunOne();  // the last of 14: the study ends
  reader.join();
  absl::MutexLock lock(&mu);
  std::vector<std::string> kinds;
  for (absl::string_view line : absl::StrSplit(received, '\n')) {
    if (absl::ConsumePrefix(&line, "event: ")) kinds.emplace_back(line);
    if (absl::ConsumePrefix(&line, "data: ")) {
      nlohmann::json j = nlohmann::json::parse(line);
      EXPECT_EQ(j["study"]["name"], "dash");
    }
  }
  ASSERT_GE(kinds.size(), 3u);
  EXPECT_EQ(kinds.front(), "SNAPSHOT");
  EXPECT_EQ(kinds.back(), "STUDY_ENDED");
  // Each of the two trials was leased and completed while the stream was open.
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), "TRIAL_UPDATED"), 4);
}

}  // namespace
}  // namespace hpo::dashboard
