// GpuMonitor: polls nvidia-smi while the worker runs, for each running trial's GPU use and for
// the health of the worker's GPUs.
#ifndef HPO_WORKER_GPU_MONITOR_H_
#define HPO_WORKER_GPU_MONITOR_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "hpo/v1/hpo.pb.h"
#include "worker/gpu_stats.h"

namespace hpo::worker {

// Runs `program args...` (nvidia-smi; looked up in PATH) and returns its standard output.
// UNAVAILABLE when it cannot start, exits non-zero ("nvidia-smi: exit code 9") or takes longer
// than `timeout`.
absl::StatusOr<std::string> RunNvidiaSmi(const std::string& program,
                                         const std::vector<std::string>& args,
                                         absl::Duration timeout = absl::Seconds(30));

// Every `interval` it runs nvidia-smi's GPU query (and, while trials are tracked, its
// compute-apps query) and
//   - adds the poll to each tracked trial's GpuUsage: the processes of the trial's process group
//     on its devices (nvidia-smi must report this PID namespace's pids, as it does outside
//     containers and in containers that share the host's);
//   - checks the worker's GPUs: when two polls in a row fail, or find one of `gpus` missing (by
//     index or uuid), it calls on_unhealthy once with the reason ("GPU 1 is gone: nvidia-smi
//     lists 0", "nvidia-smi: exit code 9"). One bad poll alone is taken for a hiccup.
// Thread-safe.
class GpuMonitor {
 public:
  struct Options {
    std::vector<std::string> gpus;  // the worker's GPUs
    absl::Duration interval = absl::Seconds(2);
    std::string nvidia_smi = "nvidia-smi";
    std::function<void(const std::string& why)> on_unhealthy;  // from the monitor's thread
  };

  // Starts the polling thread.
  explicit GpuMonitor(Options options);
  // Stops and joins the thread.
  ~GpuMonitor();
  GpuMonitor(const GpuMonitor&) = delete;
  GpuMonitor& operator=(const GpuMonitor&) = delete;

  // Measures trial `trial_id`, whose processes form the group `pgid`, on `devices`.
  void Track(int64_t trial_id, int64_t pgid, std::vector<std::string> devices);
  // Stops measuring it; its usage, or nullopt when no poll saw it run.
  std::optional<hpo::v1::GpuUsage> Finish(int64_t trial_id);
  // Why the GPUs were found unhealthy; empty while they are fine.
  std::string unhealthy() const;

  // One poll, as the thread does it (tests call it to poll at a moment of their choosing).
  void PollOnce();

 private:
  struct Tracked {
    int64_t pgid;
    GpuUsage usage;
  };
  void Loop();

  const Options options_;
  mutable absl::Mutex mu_;
  std::map<int64_t, Tracked> tracked_ ABSL_GUARDED_BY(mu_);
  int failed_polls_ ABSL_GUARDED_BY(mu_) = 0;
  std::string unhealthy_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  absl::Mutex poll_mu_;  // one poll at a time (the thread's and a test's)
  std::thread thread_;
};

}  // namespace hpo::worker

#endif  // HPO_WORKER_GPU_MONITOR_H_
