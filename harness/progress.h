// The bench's progress on stderr: one line redrawn in place on a terminal, else a line per
// finished run.
#ifndef HPO_HARNESS_PROGRESS_H_
#define HPO_HARNESS_PROGRESS_H_

#include <ostream>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace hpo::harness {

// Thread-safe: pool threads report finished runs concurrently.
class Progress {
 public:
  enum class Outcome { kRan, kReused, kFailed };

  Progress(std::ostream& out, bool tty, int total, absl::Time start = absl::Now())
      : out_(out), tty_(tty), total_(total), start_(start) {}

  // One run finished: `label` names it, `detail` says how ("best 0.3979, 1.2 s", the error).
  void Finished(Outcome outcome, const std::string& label, const std::string& detail,
                absl::Time now = absl::Now());
  // Ends the redrawn line (prints '\n' on a terminal once anything was drawn).
  void Done();

  // "[=====>    ]", `width` characters between the brackets. Pure.
  static std::string Bar(int done, int total, int width);

 private:
  std::ostream& out_;
  const bool tty_;
  const int total_;
  const absl::Time start_;
  absl::Mutex mu_;
  int done_ ABSL_GUARDED_BY(mu_) = 0;
  int reused_ ABSL_GUARDED_BY(mu_) = 0;
  int failed_ ABSL_GUARDED_BY(mu_) = 0;
  bool drawn_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace hpo::harness

#endif  // HPO_HARNESS_PROGRESS_H_
