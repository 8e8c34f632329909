#include "worker/gpu_monitor.h"

#include <unistd.h>

#include <algorithm>
#include <memory>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/logging.h"
#include "worker/process.h"

namespace hpo::worker {

absl::StatusOr<std::string> RunNvidiaSmi(const std::string& program,
                                         const std::vector<std::string>& args,
                                         absl::Duration timeout) {
  SpawnOptions options;
  options.argv = {program};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  absl::StatusOr<std::unique_ptr<ChildProcess>> child = ChildProcess::Spawn(options);
  if (!child.ok()) {
    return absl::UnavailableError(absl::StrCat(program, ": ", child.status().message()));
  }
  std::string out;
  const absl::Time deadline = absl::Now() + timeout;
  bool timed_out = false;
  while (true) {
    absl::StatusOr<std::optional<std::string>> line = (*child)->ReadLine(deadline);
    if (!line.ok()) {
      timed_out = absl::IsDeadlineExceeded(line.status());
      break;
    }
    if (!line->has_value()) break;
    absl::StrAppend(&out, **line, "\n");
  }
  if (timed_out) (*child)->Terminate(absl::Seconds(1));
  absl::StatusOr<int> exit = (*child)->Wait();
  if (timed_out) {
    return absl::UnavailableError(
        absl::StrCat(program, ": no answer in ", absl::FormatDuration(timeout)));
  }
  if (!exit.ok())
    return absl::UnavailableError(absl::StrCat(program, ": ", exit.status().message()));
  if (*exit != 0) return absl::UnavailableError(absl::StrCat(program, ": ", DescribeExit(*exit)));
  return out;
}

GpuMonitor::GpuMonitor(Options options) : options_(std::move(options)) {
  thread_ = std::thread([this] { Loop(); });
}

GpuMonitor::~GpuMonitor() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

void GpuMonitor::Track(int64_t trial_id, int64_t pgid, std::vector<std::string> devices) {
  absl::MutexLock lock(&mu_);
  tracked_.insert_or_assign(trial_id, Tracked{pgid, GpuUsage(std::move(devices))});
}

std::optional<hpo::v1::GpuUsage> GpuMonitor::Finish(int64_t trial_id) {
  absl::MutexLock lock(&mu_);
  auto it = tracked_.find(trial_id);
  if (it == tracked_.end()) return std::nullopt;
  const GpuUsage usage = std::move(it->second.usage);
  tracked_.erase(it);
  if (usage.polls() == 0) return std::nullopt;
  hpo::v1::GpuUsage out;
  for (const std::string& d : usage.devices()) out.add_devices(d);
  out.set_peak_memory_mib(usage.peak_memory_mib());
  out.set_mean_utilization_pct(usage.mean_utilization_pct());
  out.set_polls(usage.polls());
  return out;
}

std::string GpuMonitor::unhealthy() const {
  absl::MutexLock lock(&mu_);
  return unhealthy_;
}

void GpuMonitor::PollOnce() {
  absl::MutexLock poll_lock(&poll_mu_);
  bool any_tracked = false;
  {
    absl::MutexLock lock(&mu_);
    any_tracked = !tracked_.empty();
  }
  // nvidia-smi runs without the lock: Track and Finish do not wait for it.
  std::string problem;
  std::vector<GpuSample> gpus;
  std::vector<GpuProcess> processes;
  absl::StatusOr<std::string> text =
      RunNvidiaSmi(options_.nvidia_smi, {std::begin(kGpuQueryArgs), std::end(kGpuQueryArgs)});
  absl::StatusOr<std::vector<GpuSample>> parsed =
      text.ok() ? ParseGpuQuery(*text) : absl::StatusOr<std::vector<GpuSample>>(text.status());
  if (!parsed.ok()) {
    problem = std::string(parsed.status().message());
  } else {
    gpus = *std::move(parsed);
    std::vector<std::string> listed;
    for (const GpuSample& g : gpus) listed.push_back(g.index);
    for (const std::string& mine : options_.gpus) {
      if (std::none_of(gpus.begin(), gpus.end(),
                       [&mine](const GpuSample& g) { return NamesGpu(mine, g); })) {
        problem = absl::StrCat("GPU ", mine, " is gone: nvidia-smi lists ",
                               listed.empty() ? "none" : absl::StrJoin(listed, ","));
        break;
      }
    }
  }
  if (problem.empty() && any_tracked) {
    absl::StatusOr<std::string> apps = RunNvidiaSmi(
        options_.nvidia_smi, {std::begin(kComputeAppsArgs), std::end(kComputeAppsArgs)});
    absl::StatusOr<std::vector<GpuProcess>> parsed_apps =
        apps.ok() ? ParseComputeApps(*apps)
                  : absl::StatusOr<std::vector<GpuProcess>>(apps.status());
    if (parsed_apps.ok()) {
      processes = *std::move(parsed_apps);
    } else {
      HPO_LOG(WARNING) << "GPU accounting: " << parsed_apps.status().message();
    }
  }
  // Which of the reported processes belong to which process group.
  std::map<int64_t, std::set<int64_t>> groups;
  for (const GpuProcess& p : processes) {
    const pid_t pgid = ::getpgid(static_cast<pid_t>(p.pid));
    if (pgid > 0) groups[pgid].insert(p.pid);
  }
  std::function<void(const std::string&)> report;
  std::string why;
  {
    absl::MutexLock lock(&mu_);
    if (problem.empty()) {
      failed_polls_ = 0;
      for (auto& [id, t] : tracked_) t.usage.Add(gpus, processes, groups[t.pgid]);
      return;
    }
    HPO_LOG(WARNING) << "GPU poll failed: " << problem;
    if (++failed_polls_ < 2 || !unhealthy_.empty()) return;
    unhealthy_ = problem;
    report = options_.on_unhealthy;
    why = unhealthy_;
  }
  if (report) report(why);
}

void GpuMonitor::Loop() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      auto stop = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_; };
      mu_.AwaitWithTimeout(absl::Condition(&stop), options_.interval);
      if (stop_) return;
    }
    PollOnce();
  }
}

}  // namespace hpo::worker
