// A child process spoken to in lines: we write its stdin and read its stdout.
#ifndef HPO_HARNESS_PIPE_PROCESS_H_
#define HPO_HARNESS_PIPE_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace hpo::harness {

// A spawned child whose stdin and stdout are both one end of a Unix socket pair (so a write to
// a child that has gone away returns an error instead of raising SIGPIPE in this process). Its
// stderr goes to a file, or is inherited. The destructor kills the child (SIGKILL) and reaps it
// unless Close() already did.
//
// Thread-compatible: one owner thread calls everything. Spawning is safe while other threads
// spawn too (descriptors are close-on-exec).
class PipeProcess {
 public:
  struct Options {
    std::vector<std::string> argv;  // argv[0] is a path or looked up in PATH
    std::string stderr_path;        // appended to; empty = inherit this process's stderr
  };
  // NOT_FOUND / PERMISSION_DENIED "cannot run 'x': ..." when the program cannot be started;
  // INVALID_ARGUMENT for an empty argv; FAILED_PRECONDITION when stderr_path cannot be opened.
  static absl::StatusOr<std::unique_ptr<PipeProcess>> Spawn(const Options& options);

  ~PipeProcess();
  PipeProcess(const PipeProcess&) = delete;
  PipeProcess& operator=(const PipeProcess&) = delete;

  pid_t pid() const { return pid_; }

  // Writes `line` and a '\n'. UNAVAILABLE when the child no longer reads (it exited).
  absl::Status WriteLine(absl::string_view line);

  // The next line of the child's stdout without its '\n'; std::nullopt at end of file.
  // DEADLINE_EXCEEDED when no full line arrived by `deadline`.
  absl::StatusOr<std::optional<std::string>> ReadLine(absl::Time deadline);

  // Closes our end (the child sees end of file on stdin), waits up to `grace` for it to exit,
  // then kills it. Returns the exit code (0..255), or minus the signal that ended it.
  absl::StatusOr<int> Close(absl::Duration grace);

 private:
  PipeProcess(pid_t pid, int fd) : pid_(pid), fd_(fd) {}

  const pid_t pid_;
  int fd_;  // -1 once closed
  std::string buffer_;
  bool eof_ = false;
  std::optional<int> exit_;
};

}  // namespace hpo::harness

#endif  // HPO_HARNESS_PIPE_PROCESS_H_
