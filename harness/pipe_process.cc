#include "harness/pipe_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/clock.h"

extern char** environ;

namespace hpo::harness {
namespace {

constexpr size_t kMaxLine = 16 << 20;

int DecodeWaitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  return -1;
}

}  // namespace

absl::StatusOr<std::unique_ptr<PipeProcess>> PipeProcess::Spawn(const Options& options) {
  if (options.argv.empty() || options.argv[0].empty()) {
    return absl::InvalidArgumentError("PipeProcess: empty argv");
  }
  int err_fd = -1;
  if (!options.stderr_path.empty()) {
    err_fd = ::open(options.stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (err_fd < 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot open log file '", options.stderr_path, "': ", std::strerror(errno)));
    }
  }
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    const int e = errno;
    if (err_fd >= 0) ::close(err_fd);
    return absl::InternalError(absl::StrCat("socketpair: ", std::strerror(e)));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  if (err_fd >= 0) posix_spawn_file_actions_adddup2(&actions, err_fd, STDERR_FILENO);

  std::vector<char*> argv;
  for (const std::string& arg : options.argv) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  if (err_fd >= 0) ::close(err_fd);
  if (rc != 0) {
    ::close(fds[0]);
    absl::StatusCode code = absl::StatusCode::kFailedPrecondition;
    if (rc == ENOENT || rc == ENOTDIR) code = absl::StatusCode::kNotFound;
    if (rc == EACCES || rc == EPERM) code = absl::StatusCode::kPermissionDenied;
    return absl::Status(code,
                        absl::StrCat("cannot run '", options.argv[0], "': ", std::strerror(rc)));
  }
  return std::unique_ptr<PipeProcess>(new PipeProcess(pid, fds[0]));
}

PipeProcess::~PipeProcess() {
  if (fd_ >= 0) ::close(fd_);
  if (!exit_.has_value()) {
    ::kill(pid_, SIGKILL);
    int status;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
}

absl::Status PipeProcess::WriteLine(absl::string_view line) {
  if (fd_ < 0) return absl::FailedPreconditionError("PipeProcess: already closed");
  std::string data = absl::StrCat(line, "\n");
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::send(fd_, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EPIPE || errno == ECONNRESET) {
        return absl::UnavailableError("the child process no longer reads its input");
      }
      return absl::InternalError(absl::StrCat("write to child: ", std::strerror(errno)));
    }
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> PipeProcess::ReadLine(absl::Time deadline) {
  while (true) {
    const size_t newline = buffer_.find('\n');
    if (newline != std::string::npos || buffer_.size() >= kMaxLine) {
      const size_t len = newline == std::string::npos ? buffer_.size() : newline;
      std::string line = buffer_.substr(0, len);
      buffer_.erase(0, newline == std::string::npos ? len : len + 1);
      return std::optional<std::string>(std::move(line));
    }
    if (eof_ || fd_ < 0) {
      if (buffer_.empty()) return std::optional<std::string>();
      std::string line = std::move(buffer_);
      buffer_.clear();
      return std::optional<std::string>(std::move(line));
    }
    pollfd p{fd_, POLLIN, 0};
    const int ready = ::poll(&p, 1, core::PollTimeoutMs(deadline));
    if (ready < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(absl::StrCat("poll: ", std::strerror(errno)));
    }
    if (ready == 0) return absl::DeadlineExceededError("no line from the child process in time");
    char chunk[65536];
    const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      if (errno == ECONNRESET) {
        eof_ = true;
        continue;
      }
      return absl::InternalError(absl::StrCat("read from child: ", std::strerror(errno)));
    }
    if (n == 0) eof_ = true;
    buffer_.append(chunk, static_cast<size_t>(n));
  }
}

absl::StatusOr<int> PipeProcess::Close(absl::Duration grace) {
  if (exit_.has_value()) return *exit_;
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  const absl::Time deadline = absl::Now() + grace;
  int status = 0;
  while (true) {
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) break;
    if (r < 0 && errno != EINTR) {
      return absl::InternalError(absl::StrCat("waitpid: ", std::strerror(errno)));
    }
    if (absl::Now() >= deadline) {
      ::kill(pid_, SIGKILL);
      while (::waitpid(pid_, &status, 0) < 0) {
        if (errno != EINTR)
          return absl::InternalError(absl::StrCat("waitpid: ", std::strerror(errno)));
      }
      break;
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  exit_ = DecodeWaitStatus(status);
  return *exit_;
}

}  // namespace hpo::harness
