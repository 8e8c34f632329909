// Tasks evaluated in a helper process: the harness's way to run the LCBench
// surrogate (lcbench-<id>) without linking LibTorch. The helper is
// `hpo-task-lcbench --serve NAME` (see tasks/hpo_task_main.cc): one JSON
// request a line on its stdin, {"params": {...}}, one answer a line on its
// stdout, {"value": v} or {"error": "...", "code": N}.
#ifndef HPO_HARNESS_SERVED_TASK_H_
#define HPO_HARNESS_SERVED_TASK_H_

#include <string>

#include "absl/time/time.h"
#include "harness/task_source.h"

namespace hpo::harness {

struct LcbenchFactoryOptions {
  // The helper program. Empty: $HPO_TASK_LCBENCH when set, else hpo-task-lcbench next to
  // this program (/proc/self/exe), where both are built and installed.
  std::string executable;
  // How long one answer may take (the first includes loading LibTorch and the model).
  absl::Duration timeout = absl::Seconds(120);
  // Idle helpers kept, over all task names (each holds ~180 MB); the least recently used beyond
  // this are closed. 0 = the hardware cores (at least 2).
  int max_idle = 0;
};

// A factory for the names "lcbench-<OpenML task id>". The tasks it makes have LcbenchSpace(),
// an unknown optimum (NaN) and evaluate the blackbox (100 - val_accuracy at epoch 52) through
// helper processes (`hpo-task-lcbench --serve NAME`, one per task name): an Evaluate takes an
// idle helper of its task (or starts one, ~0.5 s) and gives it back, so there is at most one
// busy helper per evaluating thread, and up to max_idle idle ones are kept across runs, shared
// by every task the factory (or a copy of it) made, until the last copy of the factory and its
// tasks is gone (then they see end of input and exit).
// The model directory is DefaultLcbenchDir() ($HPO_LCBENCH_DIR), read by the helpers too.
//
// The factory's errors: NOT_FOUND for a name without the prefix or an id the surrogate does
// not serve; FAILED_PRECONDITION "LCBench surrogate not found at <dir>/lcbench.pt: set
// HPO_LCBENCH_DIR" when the model is absent (RunBench skips such tasks with that message), or
// naming the helper when it is missing. Making a task starts no process.
//
// Evaluate: steps = 1 is the blackbox (one metric line), steps = N > 1 the learning curve of N
// steps, reported line by line once the helper answered (the stopper benchmark draws curves).
// INVALID_ARGUMENT for bad params (checked here) or steps < 1; the helper's error with its code;
// UNAVAILABLE when the helper cannot be started or exits without answering; DEADLINE_EXCEEDED
// after `timeout`.
// Thread-safe (factory and tasks).
TaskFactory LcbenchTaskFactory(LcbenchFactoryOptions options = {});

}  // namespace hpo::harness

#endif  // HPO_HARNESS_SERVED_TASK_H_
