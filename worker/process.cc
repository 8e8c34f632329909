#include "worker/process.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "core/clock.h"
#include "core/limits.h"

extern char** environ;

namespace hpo::worker {
namespace {

// What the child writes to the status pipe when it fails before exec succeeds.
struct ChildError {
  int stage;  // kStageChdir or kStageExec
  int err;
};
constexpr int kStageChdir = 1;
constexpr int kStageExec = 2;

absl::Status ErrnoStatus(int err, std::string message) {
  absl::StatusCode code = absl::StatusCode::kFailedPrecondition;
  if (err == ENOENT || err == ENOTDIR) code = absl::StatusCode::kNotFound;
  if (err == EACCES || err == EPERM) code = absl::StatusCode::kPermissionDenied;
  return absl::Status(code, absl::StrCat(message, ": ", std::strerror(err)));
}

void CloseIfOpen(int fd) {
  if (fd >= 0) ::close(fd);
}

// Forks the guard of process group `group`: a process that holds nothing but the read end of a
// pipe whose only writer is this process (the "lifeline", returned in *lifeline, close-on-exec),
// and kills the group with SIGKILL once reading it ends. The read ends when this process closes
// the lifeline, and when this process dies in any way, SIGKILL included: the kernel closes its
// descriptors. PR_SET_PDEATHSIG alone reaches only the group's leader, so a `sh -c "python
// train.py"` trial would keep its python (and its GPU) after a SIGKILLed worker. Returns the
// guard's pid, or -1 with errno set.
pid_t SpawnGuard(pid_t group, int* lifeline) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return -1;
  struct rlimit files;
  const int max_fd = ::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur != RLIM_INFINITY
                         ? static_cast<int>(std::min<rlim_t>(files.rlim_cur, 1 << 30))
                         : 1 << 20;
  const pid_t guard = ::fork();
  if (guard == 0) {
    // Only async-signal-safe calls: this process may have other threads.
    // A group of its own: the terminal's Ctrl-C, Ctrl-Z (which would leave it stopped and the
    // spawner's waitpid on it hanging) and signals to the spawner's group do not reach it.
    ::setpgid(0, 0);
    struct sigaction ignore;
    std::memset(&ignore, 0, sizeof(ignore));
    ignore.sa_handler = SIG_IGN;
    // Nor does a SIGTERM sent to every process (a service manager stopping the worker): the
    // guard must stay armed until the spawner is gone.
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGTSTP, SIGTTIN, SIGTTOU}) {
      ::sigaction(sig, &ignore, nullptr);
    }
    // Keep only the lifeline (as fd 0): a descriptor held here would outlive its closing by the
    // spawner (a socket would not close, a pipe would not report end of file).
    ::dup2(pipe_fds[0], STDIN_FILENO);
    if (::syscall(SYS_close_range, 1u, ~0u, 0u) != 0) {
      for (int fd = 1; fd < max_fd; ++fd) ::close(fd);
    }
    char byte;
    while (::read(STDIN_FILENO, &byte, 1) < 0 && errno == EINTR) {
    }
    ::kill(-group, SIGKILL);
    ::_exit(0);
  }
  const int err = errno;
  ::close(pipe_fds[0]);
  if (guard < 0) {
    ::close(pipe_fds[1]);
    errno = err;
    return -1;
  }
  *lifeline = pipe_fds[1];
  return guard;
}

// Closes the guard's lifeline and reaps it; it kills its group on the way out, so call this
// while the group's leader is not yet reaped (its pid still names the group).
void StopGuard(pid_t guard, int lifeline) {
  ::close(lifeline);
  int status;
  while (::waitpid(guard, &status, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

absl::StatusOr<std::string> ResolveProgram(const std::string& name,
                                           std::optional<std::string> path) {
  if (name.empty()) return absl::InvalidArgumentError("cannot run an empty command");
  if (name.find('/') != std::string::npos) {
    if (::access(name.c_str(), X_OK) != 0) {
      return ErrnoStatus(errno, absl::StrCat("cannot run '", name, "'"));
    }
    return name;
  }
  if (!path.has_value()) {
    const char* env = std::getenv("PATH");
    path = env != nullptr ? env : "/usr/local/bin:/usr/bin:/bin";
  }
  int err = ENOENT;
  for (absl::string_view dir : absl::StrSplit(*path, ':')) {
    std::string candidate = absl::StrCat(dir.empty() ? "." : dir, "/", name);
    struct stat st;
    if (::stat(candidate.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    err = EACCES;
  }
  return ErrnoStatus(err, absl::StrCat("cannot run '", name, "'"));
}

std::string SiblingExecutable(const std::string& name) {
  char self[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n > 0) {
    const std::string exe(self, static_cast<size_t>(n));
    const size_t slash = exe.rfind('/');
    if (slash != std::string::npos) {
      std::string candidate = exe.substr(0, slash + 1) + name;
      if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
  }
  return name;
}

std::string DescribeExit(int exit) {
  if (exit >= 0) return absl::StrCat("exit code ", exit);
  return absl::StrCat("killed by signal ", -exit);
}

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Spawn(const SpawnOptions& options) {
  if (options.argv.empty() || options.argv[0].empty()) {
    return absl::InvalidArgumentError("cannot run an empty command");
  }
  // Everything the child needs is built before fork: after it, only
  // async-signal-safe calls.
  std::map<std::string, std::string> env_map;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    absl::string_view kv(*e);
    const size_t eq = kv.find('=');
    if (eq == absl::string_view::npos) continue;
    env_map.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
  }
  for (const auto& [k, v] : options.env) env_map[k] = v;
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env_map) env_strings.push_back(absl::StrCat(k, "=", v));
  std::vector<char*> envp;
  for (std::string& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_strings = options.argv;
  std::vector<char*> argv;
  for (std::string& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);

  auto path_it = env_map.find("PATH");
  absl::StatusOr<std::string> resolved = ResolveProgram(
      options.argv[0], path_it != env_map.end() ? path_it->second : "/usr/local/bin:/usr/bin:/bin");
  if (!resolved.ok()) return resolved.status();
  const std::string program = *std::move(resolved);

  int log_fd = -1;
  if (!options.log_path.empty()) {
    log_fd = ::open(options.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0) {
      return ErrnoStatus(errno, absl::StrCat("cannot open log file '", options.log_path, "'"));
    }
  }
  const int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  int out_pipe[2] = {-1, -1}, status_pipe[2] = {-1, -1};
  const int event_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK | EFD_SEMAPHORE);
  if (devnull < 0 || event_fd < 0 || ::pipe2(out_pipe, O_CLOEXEC) != 0 ||
      ::pipe2(status_pipe, O_CLOEXEC) != 0) {
    const int err = errno;
    for (int fd :
         {log_fd, devnull, event_fd, out_pipe[0], out_pipe[1], status_pipe[0], status_pipe[1]}) {
      CloseIfOpen(fd);
    }
    return ErrnoStatus(err, "cannot set up the child's pipes");
  }

  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    // Child.
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction dfl;
    std::memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) {
      if (sig != SIGKILL && sig != SIGSTOP) ::sigaction(sig, &dfl, nullptr);
    }
    ::dup2(devnull, STDIN_FILENO);
    ::dup2(out_pipe[1], STDOUT_FILENO);
    if (log_fd >= 0) ::dup2(log_fd, STDERR_FILENO);
    ChildError error{0, 0};
    if (!options.workdir.empty() && ::chdir(options.workdir.c_str()) != 0) {
      error = {kStageChdir, errno};
    } else {
      ::execve(program.c_str(), argv.data(), envp.data());
      error = {kStageExec, errno};
    }
    ssize_t ignored = ::write(status_pipe[1], &error, sizeof(error));
    (void)ignored;
    ::_exit(127);
  }
  const int fork_err = errno;
  for (int fd : {log_fd, devnull, out_pipe[1], status_pipe[1]}) CloseIfOpen(fd);
  if (pid < 0) {
    for (int fd : {event_fd, out_pipe[0], status_pipe[0]}) CloseIfOpen(fd);
    return ErrnoStatus(fork_err, "cannot fork");
  }
  ::setpgid(pid, pid);  // also in the child; whichever runs first wins the race
  // The guard starts before the exec is known to succeed: from here on, the group dies with this
  // process.
  int lifeline = -1;
  const pid_t guard = SpawnGuard(pid, &lifeline);
  if (guard < 0) {
    const int err = errno;
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
    int status;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    for (int fd : {out_pipe[0], status_pipe[0], event_fd}) ::close(fd);
    return ErrnoStatus(err, "cannot start the process group's guard");
  }

  // The status pipe closes on a successful exec, or carries the child's error.
  ChildError error{0, 0};
  ssize_t n;
  do {
    n = ::read(status_pipe[0], &error, sizeof(error));
  } while (n < 0 && errno == EINTR);
  ::close(status_pipe[0]);
  if (n > 0) {
    StopGuard(guard, lifeline);  // before the child is reaped, while its pid names the group
    int status;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    ::close(out_pipe[0]);
    ::close(event_fd);
    if (error.stage == kStageChdir) {
      return ErrnoStatus(error.err,
                         absl::StrCat("cannot change to directory '", options.workdir, "'"));
    }
    return ErrnoStatus(error.err, absl::StrCat("cannot run '", options.argv[0], "'"));
  }
  const int pid_fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pid_fd >= 0) ::fcntl(pid_fd, F_SETFD, FD_CLOEXEC);
  return std::unique_ptr<ChildProcess>(
      new ChildProcess(pid, out_pipe[0], event_fd, pid_fd, guard, lifeline, options.exit_drain));
}

ChildProcess::ChildProcess(pid_t pid, int stdout_fd, int event_fd, int pid_fd, pid_t guard_pid,
                           int lifeline_fd, absl::Duration exit_drain)
    : pid_(pid),
      stdout_fd_(stdout_fd),
      event_fd_(event_fd),
      pid_fd_(pid_fd),
      guard_pid_(guard_pid),
      lifeline_fd_(lifeline_fd),
      exit_drain_(exit_drain) {}

void ChildProcess::ReleaseGuard() {
  if (lifeline_fd_ < 0) return;
  StopGuard(guard_pid_, lifeline_fd_);
  lifeline_fd_ = -1;
}

ChildProcess::~ChildProcess() {
  if (!exit_.has_value()) {
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
    ReleaseGuard();
    int status;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  ::close(stdout_fd_);
  ::close(event_fd_);
  CloseIfOpen(pid_fd_);
}

absl::StatusOr<std::optional<std::string>> ChildProcess::ReadLine(absl::Time deadline) {
  while (true) {
    const size_t nl = buffer_.find('\n');
    if (nl != std::string::npos || buffer_.size() >= core::kMaxOutputLineBytes ||
        (eof_ && !buffer_.empty())) {
      const size_t len =
          nl != std::string::npos ? nl : std::min(buffer_.size(), core::kMaxOutputLineBytes);
      std::string line = buffer_.substr(0, len);
      buffer_.erase(0, nl != std::string::npos ? nl + 1 : len);
      return std::optional<std::string>(std::move(line));
    }
    if (eof_) return std::optional<std::string>();

    // Once the leader has exited, read what the pipe holds, then wait only exit_drain_ more
    // for new output: a background process of its group may hold the pipe open for ever.
    if (!drain_until_.has_value() && pid_fd_ < 0 && Exited()) StartDrain();
    const bool watch_pid_fd = pid_fd_ >= 0 && !drain_until_.has_value();
    int ms = core::PollTimeoutMs(drain_until_.has_value() ? std::min(deadline, *drain_until_)
                                                          : deadline);
    if (pid_fd_ < 0 && !drain_until_.has_value() && (ms < 0 || ms > 10)) {
      ms = 10;  // no pidfd: check the leader every 10 ms
    }
    struct pollfd fds[3] = {{event_fd_, POLLIN, 0}, {stdout_fd_, POLLIN, 0}, {pid_fd_, POLLIN, 0}};
    const int ready = ::poll(fds, watch_pid_fd ? 3 : 2, ms);
    if (ready < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(absl::StrCat("poll: ", std::strerror(errno)));
    }
    if (fds[0].revents & POLLIN) {
      uint64_t value;
      if (::read(event_fd_, &value, sizeof(value)) == sizeof(value)) {
        return absl::AbortedError("interrupted");
      }
    }
    // Checked before the output: a background process that writes without pause must not keep
    // the leader's exit from being noticed.
    if (watch_pid_fd && fds[2].revents != 0) StartDrain();
    if (fds[1].revents != 0) {
      char chunk[8192];
      const ssize_t n = ::read(stdout_fd_, chunk, sizeof(chunk));
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN) continue;
        return absl::InternalError(
            absl::StrCat("reading the child's stdout: ", std::strerror(errno)));
      }
      if (n == 0) {
        eof_ = true;
        continue;
      }
      buffer_.append(chunk, static_cast<size_t>(n));
      owed_ -= std::min(owed_, static_cast<size_t>(n));
    }
    const absl::Time now = absl::Now();
    // Nothing to read past the drain deadline: what was owed is gone (never expected).
    if (drain_until_.has_value() && now >= *drain_until_ && fds[1].revents == 0) owed_ = 0;
    if (drain_until_.has_value() && now >= *drain_until_ && owed_ == 0) {
      eof_ = true;  // the leader is gone; whatever still holds the pipe is ignored
      continue;
    }
    if (fds[1].revents != 0) continue;  // look for a line in what was read
    if (now >= deadline) {
      return absl::DeadlineExceededError("no line from the child before the deadline");
    }
  }
}

void ChildProcess::StartDrain() {
  // Everything the leader wrote is in the pipe by now (or already read): it has exited.
  int queued = 0;
  owed_ =
      ::ioctl(stdout_fd_, FIONREAD, &queued) == 0 && queued > 0 ? static_cast<size_t>(queued) : 0;
  drain_until_ = absl::Now() + exit_drain_;
}

void ChildProcess::Interrupt() {
  const uint64_t one = 1;
  ssize_t ignored = ::write(event_fd_, &one, sizeof(one));
  (void)ignored;
}

bool ChildProcess::Exited() {
  siginfo_t info;
  std::memset(&info, 0, sizeof(info));
  if (::waitid(P_PID, pid_, &info, WEXITED | WNOHANG | WNOWAIT) != 0) return errno == ECHILD;
  return info.si_pid == pid_;
}

void ChildProcess::Terminate(absl::Duration grace) {
  if (exit_.has_value()) return;
  ::kill(-pid_, SIGTERM);
  const absl::Time deadline = absl::Now() + grace;
  while (!Exited()) {
    const int ms = core::PollTimeoutMs(deadline);
    if (ms == 0) break;
    if (pid_fd_ >= 0) {
      struct pollfd fd = {pid_fd_, POLLIN, 0};
      ::poll(&fd, 1, ms);
    } else {
      absl::SleepFor(std::min(absl::Milliseconds(5), absl::Milliseconds(ms)));
    }
  }
  // The leader is at most a zombie here (not reaped), so its pid still names
  // this group.
  ::kill(-pid_, SIGKILL);
}

absl::StatusOr<int> ChildProcess::Wait() {
  if (exit_.has_value()) return *exit_;
  // Wait for the leader's exit without reaping it, so that its pid still names the group while
  // the group's remaining processes are killed.
  siginfo_t info;
  std::memset(&info, 0, sizeof(info));
  while (::waitid(P_PID, pid_, &info, WEXITED | WNOWAIT) != 0) {
    if (errno != EINTR) {
      return absl::InternalError(absl::StrCat("waitid(", pid_, "): ", std::strerror(errno)));
    }
  }
  ::kill(-pid_, SIGKILL);
  ReleaseGuard();
  int status;
  while (::waitpid(pid_, &status, 0) < 0) {
    if (errno != EINTR) {
      return absl::InternalError(absl::StrCat("waitpid(", pid_, "): ", std::strerror(errno)));
    }
  }
  exit_ = WIFSIGNALED(status) ? -WTERMSIG(status) : WEXITSTATUS(status);
  return *exit_;
}

absl::StatusOr<int> ChildProcess::WaitUntil(absl::Time deadline) {
  while (true) {
    if (exit_.has_value() || Exited()) return Wait();
    int ms = core::PollTimeoutMs(deadline);
    if (ms == 0) return absl::DeadlineExceededError("the child is still running");
    if (pid_fd_ < 0 && (ms < 0 || ms > 10)) ms = 10;  // no pidfd: check every 10 ms
    struct pollfd fds[2] = {{event_fd_, POLLIN, 0}, {pid_fd_, POLLIN, 0}};
    const int ready = ::poll(fds, pid_fd_ >= 0 ? 2 : 1, ms);
    if (ready < 0 && errno != EINTR) {
      return absl::InternalError(absl::StrCat("poll: ", std::strerror(errno)));
    }
    if (ready > 0 && (fds[0].revents & POLLIN)) {
      uint64_t value;
      if (::read(event_fd_, &value, sizeof(value)) == sizeof(value)) {
        return absl::AbortedError("interrupted");
      }
    }
  }
}

}  // namespace hpo::worker
