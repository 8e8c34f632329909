#include "client/format.h"

#include <cmath>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hpo::client {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

hpo::v1::Trial MeasuredTrial(double utilization) {
  hpo::v1::Trial t;
  t.set_id(12);
  t.set_study_name("fmnist");
  t.set_state(hpo::v1::COMPLETED);
  hpo::v1::GpuUsage* g = t.mutable_gpu_usage();
  g->add_devices("3");
  g->set_peak_memory_mib(2150.4);
  g->set_mean_utilization_pct(utilization);
  g->set_polls(12);
  return t;
}

TEST(FormatTest, TrialDetailsShowTheGpuUse) {
  hpo::v1::StudySpec spec;
  EXPECT_THAT(TrialDetails(spec, MeasuredTrial(63.4)),
              HasSubstr("gpu: GPU 3, peak memory 2.1 GiB, mean utilization 63% (12 polls)\n"));
  hpo::v1::Trial small = MeasuredTrial(std::nan(""));
  small.mutable_gpu_usage()->set_peak_memory_mib(300);
  small.mutable_gpu_usage()->set_polls(1);
  EXPECT_THAT(TrialDetails(spec, small), HasSubstr("gpu: GPU 3, peak memory 300 MiB (1 poll)\n"));
  hpo::v1::Trial cpu = MeasuredTrial(1);
  cpu.clear_gpu_usage();
  EXPECT_THAT(TrialDetails(spec, cpu), Not(HasSubstr("gpu:")));
}

TEST(FormatTest, TrialJsonCarriesTheGpuUse) {
  const nlohmann::json j = TrialToJson(MeasuredTrial(std::nan("")));
  ASSERT_TRUE(j.contains("gpu_usage"));
  EXPECT_EQ(j["gpu_usage"]["devices"], nlohmann::json::array({"3"}));
  EXPECT_EQ(j["gpu_usage"]["peak_memory_mib"], 2150.4);
  EXPECT_EQ(j["gpu_usage"]["mean_utilization_pct"], "NaN");
  EXPECT_EQ(j["gpu_usage"]["polls"], 12);
  hpo::v1::Trial cpu = MeasuredTrial(1);
  cpu.clear_gpu_usage();
  EXPECT_FALSE(TrialToJson(cpu).contains("gpu_usage"));
}

}  // namespace
}  // namespace hpo::client
