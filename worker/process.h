// A child process in its own process group, with its stdout read line by line.
#ifndef HPO_WORKER_PROCESS_H_
#define HPO_WORKER_PROCESS_H_

#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace hpo::worker {

struct SpawnOptions {
  // argv[0] is looked up in PATH (the child's PATH when `env` sets one) unless
  // it has a '/'.
  std::vector<std::string> argv;
  // Added to (and overriding) the environment the child inherits from this
  // process.
  std::map<std::string, std::string> env;
  // The child's working directory; empty = this process's.
  std::string workdir;
  // The child's stderr is appended to this file (created if missing); empty =
  // inherit ours.
  std::string log_path;
  // Once the child (the group leader) has exited, ReadLine waits this long for new output, then
  // reports end of file even when a background process of its group keeps the pipe open. It
  // bounds only the wait for output written after the exit: whatever the pipe held when the
  // exit was noticed (everything the leader wrote) is read first, however long that takes.
  absl::Duration exit_drain = absl::Seconds(1);
};

// A spawned child. It runs in a new process group (its pid is the group id),
// gets SIGKILL when the thread that spawned it exits (PR_SET_PDEATHSIG), reads
// stdin from /dev/null, writes stdout to a pipe read by ReadLine, and starts
// with default signal dispositions and an empty signal mask. The group does not
// outlive the child: Wait() kills what is left in it before reaping the child,
// and the destructor kills the group with SIGKILL and reaps the child if Wait()
// has not. Nor does it outlive this process: a small guard process, a second
// child of this one outside the group, kills the whole group with SIGKILL when
// this process dies, however it dies (SIGKILL and crashes included), so that a
// trial's own children (a shell's python, a launcher's workers) end with it.
//
// Thread-safety: ReadLine, Terminate and Wait must be called from one thread at
// a time (the owner); pid() and Interrupt() may be called from any thread.
class ChildProcess {
 public:
  // Starts the child. INVALID_ARGUMENT for an empty argv; NOT_FOUND /
  // PERMISSION_DENIED / FAILED_PRECONDITION with a message like "cannot run
  // 'foo': No such file or directory" when the program cannot be executed,
  // "cannot open log file '...': ..." and "cannot change to directory '...':
  // ..." for the other setup failures.
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Spawn(const SpawnOptions& options);

  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }

  // The next line of the child's stdout without its '\n'; std::nullopt at end
  // of file (a last line without '\n' is returned before that). End of file
  // is also reported once everything the pipe held when the child's exit was
  // noticed has been read and SpawnOptions::exit_drain has passed since, when
  // something it left running in its group still holds the pipe open: all the
  // child wrote is read, however slowly the caller consumes it.
  // DEADLINE_EXCEEDED when no full line arrived by `deadline`; ABORTED when
  // Interrupt() was called (each Interrupt ends one ReadLine, even one that
  // starts later). Lines longer than 1 MiB are split.
  absl::StatusOr<std::optional<std::string>> ReadLine(absl::Time deadline);

  // Makes a ReadLine in progress (or the next one) return ABORTED. Thread-safe,
  // never blocks.
  void Interrupt();

  // SIGTERM to the process group; waits up to `grace` for the child to exit,
  // then SIGKILL to the group (which also removes anything left in the group).
  // Does not reap: call Wait() after. Does nothing once Wait() has returned.
  void Terminate(absl::Duration grace);

  // Waits for the child to exit, kills with SIGKILL whatever it left running in
  // its process group (before reaping it, while its pid still names the
  // group), and reaps it (later calls return the same value). The result is
  // the exit code (0..255) when it exited, or minus the signal number when a
  // signal killed it (-9 for SIGKILL). INTERNAL if waitid or waitpid fails.
  absl::StatusOr<int> Wait();

  // Like Wait, but gives up at `deadline` (DEADLINE_EXCEEDED) or on Interrupt() (ABORTED),
  // leaving the child running.
  absl::StatusOr<int> WaitUntil(absl::Time deadline);

 private:
  ChildProcess(pid_t pid, int stdout_fd, int event_fd, int pid_fd, pid_t guard_pid, int lifeline_fd,
               absl::Duration exit_drain);
  // Called when ReadLine first sees the child exited: sets drain_until_ and owed_.
  void StartDrain();
  // True when the child has exited (not reaped). Never blocks.
  bool Exited();
  // Closes the lifeline and reaps the guard (which kills the group on its way out). Call before
  // reaping the leader. Does nothing the second time.
  void ReleaseGuard();

  const pid_t pid_;
  const int stdout_fd_;
  const int event_fd_;  // eventfd written by Interrupt()
  const int pid_fd_;    // pidfd of the child, or -1 when the kernel has none
  const pid_t guard_pid_;
  int lifeline_fd_;  // write end of the guard's pipe; -1 once released
  const absl::Duration exit_drain_;
  // Set when ReadLine saw the child exit: it reports end of file from this time on, once
  // `owed_` is 0.
  std::optional<absl::Time> drain_until_;
  // Bytes the pipe held when the exit was noticed that are not read yet: the leader's output
  // (and perhaps a background process's), read whatever the drain deadline says.
  size_t owed_ = 0;
  std::string buffer_;
  bool eof_ = false;
  std::optional<int> exit_;  // set by Wait
};

// "exit code 3", "killed by signal 9" for a value returned by
// ChildProcess::Wait.
std::string DescribeExit(int exit);

// Finds the program `name` the way execvp does: `name` itself when it has a
// '/', else the first executable regular file `name` in a directory of
// `path` (':'-separated; an empty entry is the current directory), which
// defaults to this process's PATH ("/usr/local/bin:/usr/bin:/bin" when unset).
// NOT_FOUND "cannot run 'foo': No such file or directory", or
// PERMISSION_DENIED "cannot run 'foo': Permission denied" when only files that
// are not executable match. ChildProcess::Spawn looks up argv[0] with it.
absl::StatusOr<std::string> ResolveProgram(const std::string& name,
                                           std::optional<std::string> path = std::nullopt);

// The executable `name` in the directory of the running program (as
// /proc/self/exe names it) when there is one, else `name` itself (for a PATH
// lookup). How hpo-worker and hpo run find the hpo-task installed beside them.
std::string SiblingExecutable(const std::string& name);

}  // namespace hpo::worker

#endif  // HPO_WORKER_PROCESS_H_
