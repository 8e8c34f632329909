#include "worker/trial_runner.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/logging.h"
#include "core/metric_line.h"
#include "core/search_space.h"
#include "core/study_spec.h"
#include "worker/gpu_stats.h"

namespace hpo::worker {
namespace {

// The last 16 KiB of the file at `path` (empty when it cannot be read or path is empty).
std::string LogTail(const std::string& path) {
  if (path.empty()) return "";
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return "";
  constexpr std::streamoff kTail = 16 << 10;
  const std::streamoff size = in.tellg();
  in.seekg(std::max<std::streamoff>(0, size - kTail));
  std::string text(static_cast<size_t>(std::min(size, kTail)), '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  return text;
}

std::string DescribeNonFinite(double v) {
  if (std::isnan(v)) return "NaN";
  return v > 0 ? "inf" : "-inf";
}

// `mkdir -p path` with `mode` for the directories it creates; the error names the path.
absl::Status MakeDirs(const std::string& path, mode_t mode) {
  auto error = [&path](int err) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create trial directory '", path, "': ", std::strerror(err)));
  };
  for (size_t end = path.find('/', 1);; end = path.find('/', end + 1)) {
    const std::string prefix = path.substr(0, end);
    if (!prefix.empty() && ::mkdir(prefix.c_str(), mode) != 0 && errno != EEXIST) {
      return error(errno);
    }
    if (end == std::string::npos) break;
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return error(errno);
  if (!S_ISDIR(st.st_mode)) return error(ENOTDIR);
  return absl::OkStatus();
}

// A batch is sent early once it is this large, well below gRPC's 4 MiB message limit.
constexpr size_t kMaxBatchBytes = 1 << 20;

// The measurements read since the last report: one per step, in the order the steps first
// appeared; a step read again merges its metrics into that step's measurement (later values win).
// Thread-compatible.
class PendingMeasurements {
 public:
  void Add(const hpo::v1::Measurement& m) {
    auto [it, inserted] = position_.emplace(m.step(), batch_.size());
    if (inserted) {
      batch_.push_back(m);
    } else {
      hpo::v1::Measurement& merged = batch_[it->second];
      for (const auto& [k, v] : m.metrics()) (*merged.mutable_metrics())[k] = v;
      merged.set_time_ms(m.time_ms());
    }
    bytes_ += m.ByteSizeLong();
  }
  bool empty() const { return batch_.empty(); }
  size_t bytes() const { return bytes_; }
  std::vector<hpo::v1::Measurement> Take() {
    position_.clear();
    bytes_ = 0;
    return std::exchange(batch_, {});
  }

 private:
  std::vector<hpo::v1::Measurement> batch_;
  std::map<int64_t, size_t> position_;  // step -> index in batch_
  size_t bytes_ = 0;
};

}  // namespace

TrialRunner::TrialRunner(hpo::v1::Trial trial, hpo::v1::StudySpec spec, TrialRunnerOptions options)
    : trial_(std::move(trial)), spec_(std::move(spec)), options_(std::move(options)) {}

absl::StatusOr<std::vector<std::string>> TrialRunner::BuildArgv(const hpo::v1::Trial& trial,
                                                                const hpo::v1::StudySpec& spec,
                                                                const std::string& hpo_task_path) {
  std::vector<std::string> argv;
  const hpo::v1::TaskSpec& task = spec.task();
  switch (task.kind_case()) {
    case hpo::v1::TaskSpec::kBuiltin: {
      argv = {hpo_task_path, task.builtin()};
      for (const hpo::v1::ParamSpec& p : spec.space().params()) {
        auto it = trial.params().values().find(p.name());
        if (it == trial.params().values().end()) continue;
        argv.push_back(absl::StrCat("--", p.name(), "=", core::FormatValue(it->second)));
      }
      std::vector<std::pair<std::string, std::string>> args(task.builtin_args().begin(),
                                                            task.builtin_args().end());
      std::sort(args.begin(), args.end());
      for (const auto& [k, v] : args) argv.push_back(absl::StrCat("--", k, "=", v));
      return argv;
    }
    case hpo::v1::TaskSpec::kCommand:
      if (task.command().argv().empty()) {
        return absl::InvalidArgumentError("task.command: empty argv");
      }
      for (const std::string& arg : task.command().argv()) {
        argv.push_back(core::SubstitutePlaceholders(arg, trial.params()));
      }
      return argv;
    case hpo::v1::TaskSpec::KIND_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError("task: neither builtin nor command");
}

std::string TrialRunner::TrialDir(const hpo::v1::Trial& trial, const hpo::v1::StudySpec& spec,
                                  const std::string& worker_root) {
  std::string root = spec.task().trial_dir_root();
  if (root.empty()) {
    if (worker_root.empty()) return "";
    std::error_code ec;
    std::filesystem::path absolute = std::filesystem::absolute(worker_root, ec);
    root = ec ? worker_root : absolute.lexically_normal().string();
  }
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  const std::string& name = spec.name();
  const bool safe = !name.empty() && name != "." && name != ".." &&
                    name.find_first_of(std::string("/\0", 2)) == std::string::npos;
  return absl::StrCat(root == "/" ? "" : root, "/",
                      safe ? name : absl::StrCat("study-", trial.study_id()), "/", trial.number());
}

std::map<std::string, std::string> TrialRunner::BuildEnv(const hpo::v1::Trial& trial,
                                                         const hpo::v1::StudySpec& spec,
                                                         const std::vector<std::string>& gpus,
                                                         const std::string& trial_dir) {
  std::map<std::string, std::string> env;
  if (spec.task().has_command()) {
    env.insert(spec.task().command().env().begin(), spec.task().command().env().end());
  }
  env["HPO_PARAMS"] = core::ParamsToJson(trial.params());
  env["HPO_TRIAL_ID"] = absl::StrCat(trial.id());
  env["HPO_TRIAL_NUMBER"] = absl::StrCat(trial.number());
  if (!trial_dir.empty()) env["HPO_TRIAL_DIR"] = trial_dir;
  env["HPO_STUDY"] = spec.name();
  env["CUDA_VISIBLE_DEVICES"] = absl::StrJoin(gpus, ",");
  return env;
}

void TrialRunner::Cancel(absl::string_view reason) {
  absl::MutexLock lock(&mu_);
  if (cancelled_) return;
  cancelled_ = true;
  cancel_reason_ = std::string(reason);
  if (process_ != nullptr) process_->Interrupt();
}

void TrialRunner::Prune() {
  absl::MutexLock lock(&mu_);
  if (pruned_) return;
  pruned_ = true;
  if (process_ != nullptr) process_->Interrupt();
}

void TrialRunner::Log(absl::string_view line) {
  if (log_fd_ < 0) return;
  const std::string text = absl::StrCat(line, "\n");
  ssize_t ignored = ::write(log_fd_, text.data(), text.size());
  (void)ignored;
}

TrialOutcome TrialRunner::Run(ProgressSink& sink) {
  TrialOutcome outcome;
  outcome.state = hpo::v1::FAILED;
  auto cancelled_reason = [this]() -> std::optional<std::string> {
    absl::MutexLock lock(&mu_);
    if (!cancelled_) return std::nullopt;
    return absl::StrCat("cancelled: ", cancel_reason_);
  };
  auto pruned = [this] {
    absl::MutexLock lock(&mu_);
    return pruned_;
  };
  if (std::optional<std::string> reason = cancelled_reason()) {
    outcome.failure_reason = *reason;
    outcome.cancelled = true;
    return outcome;
  }
  if (pruned()) {
    outcome.state = hpo::v1::PRUNED;
    return outcome;
  }

  absl::StatusOr<std::vector<std::string>> argv = BuildArgv(trial_, spec_, options_.hpo_task_path);
  if (!argv.ok()) {
    outcome.failure_reason = std::string(argv.status().message());
    return outcome;
  }
  const std::string trial_dir = TrialDir(trial_, spec_, options_.trial_dir_root);
  SpawnOptions spawn;
  spawn.argv = *std::move(argv);
  spawn.env = BuildEnv(trial_, spec_, options_.gpus, trial_dir);
  spawn.workdir = spec_.task().has_command() ? spec_.task().command().workdir() : "";
  spawn.log_path = options_.log_path;
  if (!options_.log_path.empty()) {
    log_fd_ = ::open(options_.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  }
  struct LogCloser {
    int& fd;
    ~LogCloser() {
      if (fd >= 0) ::close(fd);
      fd = -1;
    }
  } log_closer{log_fd_};

  if (!trial_dir.empty()) {
    if (absl::Status made = MakeDirs(trial_dir, 0750); !made.ok()) {
      outcome.failure_reason = std::string(made.message());
      Log(absl::StrCat("hpo-worker: ", outcome.failure_reason));
      return outcome;
    }
  }

  absl::StatusOr<std::unique_ptr<ChildProcess>> spawned = ChildProcess::Spawn(spawn);
  if (!spawned.ok()) {
    outcome.failure_reason = std::string(spawned.status().message());
    Log(absl::StrCat("hpo-worker: ", outcome.failure_reason));
    return outcome;
  }
  std::unique_ptr<ChildProcess> child = *std::move(spawned);
  {
    absl::MutexLock lock(&mu_);
    process_ = child.get();
    if (cancelled_ || pruned_) child->Interrupt();
  }
  HPO_LOG(DEBUG) << "trial " << trial_.id() << ": started pid " << child->pid() << ": "
                 << absl::StrJoin(spawn.argv, " ");
  if (options_.on_spawn) options_.on_spawn(child->pid());

  const double timeout_s = spec_.budget().trial_timeout_s();
  const absl::Time deadline =
      timeout_s > 0 ? absl::Now() + absl::Seconds(timeout_s) : absl::InfiniteFuture();
  enum class Stop { kNone, kPruned, kTimeout, kCancelled, kError };
  Stop stop = Stop::kNone;
  std::string error;
  std::map<std::string, double> latest;  // latest value of each metric
  bool have_final = false;
  int64_t reports = 0;

  auto on_status = [&](const absl::Status& s) {
    if (s.code() == absl::StatusCode::kAborted) {
      // Interrupt() is only called by Cancel and Prune.
      stop = cancelled_reason().has_value() ? Stop::kCancelled : Stop::kPruned;
    } else if (s.code() == absl::StatusCode::kDeadlineExceeded) {
      stop = Stop::kTimeout;
    } else {
      stop = Stop::kError;
      error = std::string(s.message());
    }
  };

  PendingMeasurements pending;
  absl::Time next_report = absl::InfinitePast();  // no report before this time
  // Sends what is pending; a STOP prunes the trial unless it already stops for another reason.
  auto report = [&] {
    if (pending.empty()) return;
    const hpo::v1::Decision decision = sink.Report(pending.Take());
    next_report = absl::Now() + options_.report_interval;
    if (decision == hpo::v1::STOP && stop == Stop::kNone) stop = Stop::kPruned;
  };

  int bad_lines = 0;      // metric lines that did not parse
  std::string first_bad;  // why the first did not
  while (stop == Stop::kNone) {
    // While measurements wait, wake up when they are due.
    const absl::Time wake = pending.empty() ? deadline : std::min(deadline, next_report);
    absl::StatusOr<std::optional<std::string>> line = child->ReadLine(wake);
    if (!line.ok()) {
      if (line.status().code() == absl::StatusCode::kDeadlineExceeded && wake < deadline) {
        report();
        continue;
      }
      on_status(line.status());
      break;
    }
    if (!line->has_value()) break;  // EOF
    const std::string& text = **line;
    if (!core::IsMetricLine(text)) {
      Log(text);
      continue;
    }
    absl::StatusOr<core::MetricLine> metric = core::ParseMetricLine(text);
    if (!metric.ok()) {
      if (bad_lines++ == 0) first_bad = std::string(metric.status().message());
      Log(absl::StrCat("hpo-worker: warning: ignored a bad metric line (",
                       metric.status().message(), "): ", text));
      HPO_LOG(WARNING) << "trial " << trial_.id()
                       << ": bad metric line: " << metric.status().message();
      continue;
    }
    hpo::v1::Measurement m;
    m.set_step(metric->step.has_value() ? *metric->step : reports);
    m.set_time_ms(options_.clock->NowMs());
    for (const auto& [k, v] : metric->metrics) (*m.mutable_metrics())[k] = v;
    ++reports;
    if (!have_final) {
      for (const auto& [k, v] : metric->metrics) latest[k] = v;
      have_final = metric->final;
    }
    pending.Add(m);
    if (absl::Now() >= next_report || pending.bytes() >= kMaxBatchBytes) report();
  }
  // What was read last (all of it, at end of output), unless the trial is cancelled: it is given
  // back to run again, and its measurements with it.
  if (stop != Stop::kCancelled) report();

  absl::StatusOr<int> exit = absl::UnknownError("not waited");
  if (stop == Stop::kNone) {
    exit = child->WaitUntil(deadline);  // stdout may close before the process ends
    if (!exit.ok()) on_status(exit.status());
  }
  if (stop != Stop::kNone) {
    child->Terminate(options_.kill_grace);
    exit = child->Wait();
  }
  {
    absl::MutexLock lock(&mu_);
    process_ = nullptr;
  }

  outcome.final_metrics = latest;
  const std::string& objective = spec_.objective().metric();
  switch (stop) {
    case Stop::kPruned:
      outcome.state = hpo::v1::PRUNED;
      break;
    case Stop::kCancelled:
      outcome.failure_reason = cancelled_reason().value_or("cancelled");
      outcome.cancelled = true;
      break;
    case Stop::kTimeout:
      outcome.failure_reason = absl::StrFormat("timed out after %g s", timeout_s);
      break;
    case Stop::kError:
      outcome.failure_reason = error;
      break;
    case Stop::kNone:
      if (!exit.ok()) {
        outcome.failure_reason = std::string(exit.status().message());
      } else if (*exit != 0) {
        outcome.failure_reason = DescribeExit(*exit);
        // A process that ran out of GPU memory says so in its log: that is the reason to give.
        if (const std::string oom = OutOfMemoryLine(LogTail(options_.log_path)); !oom.empty()) {
          absl::StrAppend(&outcome.failure_reason, ": ", oom);
        }
      } else if (auto it = latest.find(objective); it == latest.end()) {
        outcome.failure_reason = absl::StrCat("no metric '", objective, "' reported");
        if (bad_lines > 0) {
          absl::StrAppend(&outcome.failure_reason, "; ", bad_lines, " bad metric line",
                          bad_lines == 1 ? " was" : "s were", " ignored, the first: ", first_bad);
        }
      } else if (!std::isfinite(it->second)) {
        outcome.failure_reason =
            absl::StrCat("objective '", objective, "' is ", DescribeNonFinite(it->second));
      } else {
        outcome.state = hpo::v1::COMPLETED;
      }
      break;
  }
  if (outcome.state == hpo::v1::FAILED) {
    Log(absl::StrCat("hpo-worker: trial failed: ", outcome.failure_reason));
  }
  HPO_LOG(DEBUG) << "trial " << trial_.id() << ": " << hpo::v1::TrialState_Name(outcome.state)
                 << " " << outcome.failure_reason;
  return outcome;
}

}  // namespace hpo::worker
