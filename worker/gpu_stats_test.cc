#include "worker/gpu_stats.h"

#include <cmath>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hpo::worker {
namespace {

using ::testing::HasSubstr;

// Recorded on a host with two H100s (uuids shortened).
constexpr char kGpuQuery[] =
    "0, GPU-5f1c2a, 87, 30512, 81559\n"
    "1, GPU-9b7e40, [N/A], 4, 81559\n";
constexpr char kComputeApps[] =
    "4242, GPU-5f1c2a, 20480\n"
    "4243, GPU-5f1c2a, 10030\n"
    "5150, GPU-9b7e40, [N/A]\n";

TEST(GpuStatsTest, ParsesRecordedQueries) {
  absl::StatusOr<std::vector<GpuSample>> gpus = ParseGpuQuery(kGpuQuery);
  ASSERT_TRUE(gpus.ok()) << gpus.status();
  ASSERT_EQ(gpus->size(), 2u);
  EXPECT_EQ((*gpus)[0].index, "0");
  EXPECT_EQ((*gpus)[0].uuid, "GPU-5f1c2a");
  EXPECT_EQ((*gpus)[0].utilization_pct, 87);
  EXPECT_EQ((*gpus)[0].memory_used_mib, 30512);
  EXPECT_EQ((*gpus)[0].memory_total_mib, 81559);
  EXPECT_TRUE(std::isnan((*gpus)[1].utilization_pct));

  absl::StatusOr<std::vector<GpuProcess>> apps = ParseComputeApps(kComputeApps);
  ASSERT_TRUE(apps.ok()) << apps.status();
  ASSERT_EQ(apps->size(), 3u);
  EXPECT_EQ((*apps)[1].pid, 4243);
  EXPECT_EQ((*apps)[1].gpu_uuid, "GPU-5f1c2a");
  EXPECT_EQ((*apps)[1].used_memory_mib, 10030);
  EXPECT_TRUE(std::isnan((*apps)[2].used_memory_mib));
  EXPECT_TRUE(ParseComputeApps("No running processes found\n")->empty());
  EXPECT_TRUE(ParseComputeApps("\n")->empty());
}

TEST(GpuStatsTest, MalformedOutputIsRefusedNamingTheLine) {
  absl::StatusOr<std::vector<GpuSample>> gpus = ParseGpuQuery("0, GPU-1, 5\n");
  EXPECT_EQ(gpus.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(gpus.status().message(), HasSubstr("expected 5 fields, got '0, GPU-1, 5'"));
  gpus = ParseGpuQuery("0, GPU-1, busy, 1, 2\n");
  EXPECT_THAT(gpus.status().message(), HasSubstr("'busy' is not a number"));
  absl::StatusOr<std::vector<GpuProcess>> apps = ParseComputeApps("x, GPU-1, 5\n");
  EXPECT_THAT(apps.status().message(), HasSubstr("pid 'x' is not a number"));
}

TEST(GpuStatsTest, ATrialCountsItsOwnProcessesOnItsOwnDevices) {
  const std::vector<GpuSample> gpus = *ParseGpuQuery(kGpuQuery);
  const std::vector<GpuProcess> apps = *ParseComputeApps(kComputeApps);
  GpuUsage usage({"0"});
  EXPECT_TRUE(std::isnan(usage.mean_utilization_pct()));
  usage.Add(gpus, apps, {4242, 5150});  // 5150 is its process too, but on GPU 1
  EXPECT_EQ(usage.peak_memory_mib(), 20480);
  EXPECT_EQ(usage.mean_utilization_pct(), 87);
  // A later poll with less memory keeps the peak; utilization is averaged over polls.
  std::vector<GpuSample> later = gpus;
  later[0].utilization_pct = 43;
  usage.Add(later, {{4242, "GPU-5f1c2a", 100}}, {4242});
  EXPECT_EQ(usage.peak_memory_mib(), 20480);
  EXPECT_EQ(usage.mean_utilization_pct(), 65);
  EXPECT_EQ(usage.polls(), 2);
  // A device given by uuid; a poll without a utilization figure does not count toward its mean.
  GpuUsage by_uuid({"GPU-9b7e40"});
  by_uuid.Add(gpus, apps, {5150});
  EXPECT_EQ(by_uuid.peak_memory_mib(), 0);
  EXPECT_TRUE(std::isnan(by_uuid.mean_utilization_pct()));
}

TEST(GpuStatsTest, FindsTheOutOfMemoryLine) {
  EXPECT_EQ(OutOfMemoryLine("step 3\nhpo-task: GPU out of memory: CUDA out of memory. Tried\n"),
            "hpo-task: GPU out of memory: CUDA out of memory. Tried");
  EXPECT_EQ(OutOfMemoryLine("RuntimeError: CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling"),
            "RuntimeError: CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling");
  EXPECT_EQ(OutOfMemoryLine("Traceback\nValueError: bad shape\n"), "");
  EXPECT_EQ(OutOfMemoryLine(std::string(500, 'x') + " out of memory").size(), 300u);
}

}  // namespace
}  // namespace hpo::worker
