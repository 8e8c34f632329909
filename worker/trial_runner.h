// Runs one trial as a child process: builds its command and environment, streams its metric
// lines to a ProgressSink, enforces its timeout and stop decisions, and classifies the outcome.
// gRPC-free.
#ifndef HPO_WORKER_TRIAL_RUNNER_H_
#define HPO_WORKER_TRIAL_RUNNER_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/clock.h"
#include "hpo/v1/hpo.pb.h"
#include "worker/process.h"

namespace hpo::worker {

// Receives a trial's measurements as they arrive, in batches. Called from the thread running the
// trial.
class ProgressSink {
 public:
  virtual ~ProgressSink() = default;
  // `batch` (never empty) holds what the trial printed since the previous call, one measurement
  // per step in the order the steps first appeared; a step printed twice carries the metrics of
  // both lines, the later line's values winning. STOP ends the trial (it is killed and becomes
  // PRUNED); anything else continues.
  virtual hpo::v1::Decision Report(const std::vector<hpo::v1::Measurement>& batch) = 0;
};

struct TrialOutcome {
  hpo::v1::TrialState state = hpo::v1::TRIAL_STATE_UNSPECIFIED;  // COMPLETED, PRUNED or FAILED
  // The metrics of the result: the latest value of each metric up to the last line marked
  // final, or up to the last line when none is. Filled for every state.
  std::map<std::string, double> final_metrics;
  std::string failure_reason;  // for FAILED
  // Cancel() ended the trial (state FAILED, failure_reason "cancelled: <reason>"): the result
  // says nothing about the parameters.
  bool cancelled = false;
};

struct TrialRunnerOptions {
  // The hpo-task executable, for builtin tasks (looked up in PATH when it has no '/').
  std::string hpo_task_path = "hpo-task";
  // GPUs of the slot, passed as CUDA_VISIBLE_DEVICES (empty string when none).
  std::vector<std::string> gpus;
  // The trial's log: the child's stderr, its stdout lines that are not metric lines, and
  // warnings about bad metric lines. Empty = the child's stderr is ours; lines are dropped.
  std::string log_path;
  // Where trial directories go when the study names no task.trial_dir_root (the worker's
  // --trial-dir-root); see TrialDir. Empty, with no root in the study either: the trial gets no
  // HPO_TRIAL_DIR.
  std::string trial_dir_root;
  // After a stop, timeout or cancel: SIGTERM to the group, then SIGKILL after this long.
  absl::Duration kill_grace = absl::Seconds(5);
  // At most one ProgressSink::Report per this interval: a line that comes after a quiet interval
  // is reported at once, lines that follow it closely wait (at most this long) and go together.
  // So a program that prints 20,000 metric lines costs a few reports, not 20,000; every line's
  // measurement is still reported. Zero reports each line on its own.
  absl::Duration report_interval = absl::Milliseconds(200);
  core::Clock* clock = core::Clock::Real();  // for Measurement.time_ms
  // Called from Run once the process runs, with its pid (its process group's id); e.g. to
  // measure its GPU use. Unset: nothing is called.
  std::function<void(int64_t pid)> on_spawn;
};

// Runs a single trial once.
//
// Thread-safety: Run is called once, from one thread; Cancel and Prune may be called from any
// thread, at any time (before, during or after Run).
class TrialRunner {
 public:
  TrialRunner(hpo::v1::Trial trial, hpo::v1::StudySpec spec, TrialRunnerOptions options);

  // The GPUs the trial's process sees (CUDA_VISIBLE_DEVICES).
  const std::vector<std::string>& gpus() const { return options_.gpus; }

  TrialRunner(const TrialRunner&) = delete;
  TrialRunner& operator=(const TrialRunner&) = delete;

  // Runs the trial to its end and classifies it. Everything the process printed before it exited
  // is read and reported (ChildProcess::ReadLine), the last batch before Run returns (unless the
  // trial was cancelled):
  //  - COMPLETED: exited 0 and reported the objective metric as a finite number;
  //  - PRUNED: `sink` answered STOP (the process group is killed first);
  //  - FAILED with failure_reason "exit code 3", "killed by signal 9", "timed out after 600 s",
  //    "no metric 'value' reported", "objective 'value' is NaN" (or inf, -inf),
  //    "cancelled: <reason>", the spawn error ("cannot run 'foo': No such file or
  //    directory"), or "cannot create trial directory '/x/s/0': Permission denied" (the trial
  //    directory, TrialDir, is created with mode 0750 before the process starts, and kept after
  //    it ends).
  // The process is gone when Run returns.
  TrialOutcome Run(ProgressSink& sink);

  // Kills the trial's process (SIGTERM, SIGKILL after the grace); Run returns FAILED
  // "cancelled: <reason>". A trial whose process already ended keeps its outcome.
  void Cancel(absl::string_view reason);

  // Kills the trial's process like a STOP decision does: Run returns PRUNED (unless Cancel was
  // also called). For stops ordered outside a report (a coordinator's heartbeat reply).
  void Prune();

  // The child's argv: for a builtin task `<hpo_task_path> NAME --p=v... --k=v...` (parameters
  // in space order, then builtin_args sorted by key; an inactive parameter is left out); for a
  // command its argv through core::SubstitutePlaceholders: each {param} of an active parameter
  // becomes its core::FormatValue, while a shell ${VAR} and the {param} of an inactive
  // conditional parameter stay as written (HPO_PARAMS lists only the active ones).
  static absl::StatusOr<std::vector<std::string>> BuildArgv(const hpo::v1::Trial& trial,
                                                            const hpo::v1::StudySpec& spec,
                                                            const std::string& hpo_task_path);

  // The trial's directory, the same for every attempt of one trial number, so that a retry
  // finds what the attempts before it saved: <root>/<study>/<number>, where root is the study's
  // task.trial_dir_root, else `worker_root` (made absolute against the current directory), and
  // <study> the study's name, or "study-<study id>" when the name is not one safe path
  // component (empty, ".", "..", or holding '/' or NUL: ValidateStudySpec refuses such names,
  // but the spec comes over the wire). Empty when both roots are empty.
  static std::string TrialDir(const hpo::v1::Trial& trial, const hpo::v1::StudySpec& spec,
                              const std::string& worker_root);

  // The variables added to the child's environment: the command's env, then HPO_PARAMS
  // (core::ParamsToJson), HPO_TRIAL_ID, HPO_TRIAL_NUMBER, HPO_TRIAL_DIR (`trial_dir`, when not
  // empty), HPO_STUDY and CUDA_VISIBLE_DEVICES.
  static std::map<std::string, std::string> BuildEnv(const hpo::v1::Trial& trial,
                                                     const hpo::v1::StudySpec& spec,
                                                     const std::vector<std::string>& gpus,
                                                     const std::string& trial_dir);

 private:
  // Appends a line to the trial log, if there is one.
  void Log(absl::string_view line);

  const hpo::v1::Trial trial_;
  const hpo::v1::StudySpec spec_;
  const TrialRunnerOptions options_;
  int log_fd_ = -1;  // used by the Run thread only

  absl::Mutex mu_;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  std::string cancel_reason_ ABSL_GUARDED_BY(mu_);
  bool pruned_ ABSL_GUARDED_BY(mu_) = false;
  ChildProcess* process_ ABSL_GUARDED_BY(mu_) = nullptr;  // while it runs
};

}  // namespace hpo::worker

#endif  // HPO_WORKER_TRIAL_RUNNER_H_
