// What nvidia-smi says about the GPUs and the processes on them, parsed, and one trial's GPU use
// accumulated from successive polls. No process is run here: the worker runs nvidia-smi and hands
// its output to these functions, so they are tested on recorded output.
#ifndef HPO_WORKER_GPU_STATS_H_
#define HPO_WORKER_GPU_STATS_H_

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace hpo::worker {

// The arguments that produce what ParseGpuQuery and ParseComputeApps read.
inline constexpr const char* kGpuQueryArgs[] = {
    "--query-gpu=index,uuid,utilization.gpu,memory.used,memory.total",
    "--format=csv,noheader,nounits"};
inline constexpr const char* kComputeAppsArgs[] = {"--query-compute-apps=pid,gpu_uuid,used_memory",
                                                   "--format=csv,noheader,nounits"};

// One GPU at one poll. A value nvidia-smi reports as "[N/A]" or "[Not Supported]" is NaN.
struct GpuSample {
  std::string index;
  std::string uuid;
  double utilization_pct = 0;
  double memory_used_mib = 0;
  double memory_total_mib = 0;
};

// Whether `name` (as --gpus or CUDA_VISIBLE_DEVICES give it: an index or a uuid) names `gpu`.
inline bool NamesGpu(const std::string& name, const GpuSample& gpu) {
  return name == gpu.index || name == gpu.uuid;
}

// One process using a GPU at one poll.
struct GpuProcess {
  int64_t pid = 0;
  std::string gpu_uuid;
  double used_memory_mib = 0;  // NaN when not reported
};

// Lines of `index, uuid, utilization.gpu, memory.used, memory.total` (blank lines skipped).
// INVALID_ARGUMENT naming the line when one has another number of fields or a field that is
// neither a number nor a bracketed "[...]" placeholder.
absl::StatusOr<std::vector<GpuSample>> ParseGpuQuery(absl::string_view text);

// Lines of `pid, gpu_uuid, used_memory`; the same rules ("No running processes found" and
// blank lines mean none).
absl::StatusOr<std::vector<GpuProcess>> ParseComputeApps(absl::string_view text);

// One trial's GPU use over its run. Thread-compatible.
class GpuUsage {
 public:
  // `devices`: the indices the trial sees (its CUDA_VISIBLE_DEVICES).
  explicit GpuUsage(std::vector<std::string> devices) : devices_(std::move(devices)) {}

  // One poll: the trial's memory is the sum of used_memory over the processes in `trial_pids`
  // (its process group) on its devices; its utilization is the mean over its devices of the
  // device's utilization, which counts every process on the device (trials that share a GPU
  // share its figure).
  void Add(const std::vector<GpuSample>& gpus, const std::vector<GpuProcess>& processes,
           const std::set<int64_t>& trial_pids);

  const std::vector<std::string>& devices() const { return devices_; }
  double peak_memory_mib() const { return peak_memory_mib_; }
  // NaN before a poll that reported a utilization.
  double mean_utilization_pct() const;
  int polls() const { return polls_; }

 private:
  std::vector<std::string> devices_;
  double peak_memory_mib_ = 0;
  double utilization_sum_ = 0;
  int utilization_polls_ = 0;
  int polls_ = 0;
};

// The line of a failed trial's log tail that says it ran out of memory ("CUDA out of memory",
// "GPU out of memory: ...", torch.OutOfMemoryError, CUBLAS_STATUS_ALLOC_FAILED), trimmed to 300
// characters; empty when none does. The last such line wins.
std::string OutOfMemoryLine(absl::string_view log_tail);

}  // namespace hpo::worker

#endif  // HPO_WORKER_GPU_STATS_H_
