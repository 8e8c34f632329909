#include "metrics/registry.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "metrics/http_server.h"

namespace hpo::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(RegistryTest, RendersCountersGaugesAndHistograms) {
  Registry registry;
  registry.Describe("hpo_rpc_total", "counter", "RPCs served");
  registry.Add("hpo_rpc_total", {{"method", "AcquireTrial"}, {"code", "OK"}});
  registry.Add("hpo_rpc_total", {{"method", "AcquireTrial"}, {"code", "OK"}}, 2);
  registry.Observe("hpo_rpc_seconds", {{"method", "Get"}}, 0.003);
  registry.Observe("hpo_rpc_seconds", {{"method", "Get"}}, 100);
  registry.AddCollector([](GaugeWriter& out) {
    out.Set("hpo_trials", {{"study", "a \"quoted\"\nname"}, {"state", "RUNNING"}}, 4);
  });
  const std::string text = registry.Render();
  EXPECT_THAT(text, HasSubstr("# HELP hpo_rpc_total RPCs served\n# TYPE hpo_rpc_total counter\n"
                              "hpo_rpc_total{method=\"AcquireTrial\",code=\"OK\"} 3\n"));
  EXPECT_THAT(text,
              HasSubstr("hpo_trials{study=\"a \\\"quoted\\\"\\nname\",state=\"RUNNING\"} 4\n"));
  // Buckets are cumulative; the 100 s call is only in +Inf.
  EXPECT_THAT(text, HasSubstr("hpo_rpc_seconds_bucket{method=\"Get\",le=\"0.0025\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("hpo_rpc_seconds_bucket{method=\"Get\",le=\"0.005\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("hpo_rpc_seconds_bucket{method=\"Get\",le=\"30\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("hpo_rpc_seconds_bucket{method=\"Get\",le=\"+Inf\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("hpo_rpc_seconds_sum{method=\"Get\"} 100.003\n"));
  EXPECT_THAT(text, HasSubstr("hpo_rpc_seconds_count{method=\"Get\"} 2\n"));
}

TEST(MetricsServerTest, ServesMetricsAndHealthOverHttp) {
  Registry registry;
  registry.Add("hpo_up", {}, 1);
  absl::Status health = absl::OkStatus();
  auto server = MetricsServer::Start("127.0.0.1:0", &registry, [&] { return health; });
  ASSERT_TRUE(server.ok()) << server.status();
  httplib::Client client("127.0.0.1", (*server)->port());
  auto metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_EQ(metrics->body, "hpo_up 1\n");
  EXPECT_THAT(metrics->get_header_value("Content-Type"), HasSubstr("version=0.0.4"));
  auto ok = client.Get("/healthz");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  health = absl::UnavailableError("shutting down");
  auto down = client.Get("/healthz");
  ASSERT_TRUE(down);
  EXPECT_EQ(down->status, 503);
  EXPECT_EQ(down->body, "shutting down\n");
  auto missing = client.Get("/nothing");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);

  EXPECT_EQ(MetricsServer::Start("no-port", &registry, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MetricsServer::Start(absl::StrCat("127.0.0.1:", (*server)->port()), &registry, nullptr)
                .status()
                .code(),
            absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace hpo::metrics
