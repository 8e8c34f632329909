#include "worker/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "worker/test_util.h"

namespace hpo::worker {
namespace {

using test_util::ReadFile;
using ::testing::HasSubstr;

absl::Time Soon() { return absl::Now() + absl::Seconds(5); }

std::unique_ptr<ChildProcess> SpawnSh(const std::string& script, SpawnOptions options = {}) {
  options.argv = {"/bin/sh", "-c", script};
  absl::StatusOr<std::unique_ptr<ChildProcess>> child = ChildProcess::Spawn(options);
  EXPECT_TRUE(child.ok()) << child.status();
  return child.ok() ? std::move(*child) : nullptr;
}

std::optional<std::string> Line(ChildProcess& child) {
  absl::StatusOr<std::optional<std::string>> line = child.ReadLine(Soon());
  EXPECT_TRUE(line.ok()) << line.status();
  return line.ok() ? *line : std::optional<std::string>("<error>");
}

std::string MakeTempDir() { return test_util::MakeTempDir("process_test"); }

TEST(ChildProcessTest, ReadsLinesThenEof) {
  auto child = SpawnSh("echo first; echo; echo 'third line'; printf 'no newline'");
  ASSERT_NE(child, nullptr);
  EXPECT_GT(child->pid(), 0);
  EXPECT_EQ(Line(*child), "first");
  EXPECT_EQ(Line(*child), "");
  EXPECT_EQ(Line(*child), "third line");
  EXPECT_EQ(Line(*child), "no newline");
  EXPECT_EQ(Line(*child), std::nullopt);
  EXPECT_EQ(Line(*child), std::nullopt);
  EXPECT_EQ(child->Wait().value(), 0);
  EXPECT_EQ(child->Wait().value(), 0);  // cached
}

TEST(ChildProcessTest, ExitCodesAndSignals) {
  auto child = SpawnSh("exit 3");
  EXPECT_EQ(Line(*child), std::nullopt);
  EXPECT_EQ(child->Wait().value(), 3);
  EXPECT_EQ(DescribeExit(3), "exit code 3");

  child = SpawnSh("kill -9 $$");
  EXPECT_EQ(child->Wait().value(), -9);
  EXPECT_EQ(DescribeExit(-9), "killed by signal 9");
}

TEST(ChildProcessTest, EnvironmentIsInheritedAndExtended) {
  ::setenv("HPO_PROCESS_TEST_INHERITED", "from-parent", 1);
  ::setenv("HPO_PROCESS_TEST_OVERRIDDEN", "old", 1);
  SpawnOptions options;
  options.env = {{"HPO_PROCESS_TEST_ADDED", "a b=c"}, {"HPO_PROCESS_TEST_OVERRIDDEN", "new"}};
  auto child = SpawnSh(
      "echo \"$HPO_PROCESS_TEST_INHERITED\"; echo \"$HPO_PROCESS_TEST_ADDED\"; "
      "echo \"$HPO_PROCESS_TEST_OVERRIDDEN\"",
      options);
  EXPECT_EQ(Line(*child), "from-parent");
  EXPECT_EQ(Line(*child), "a b=c");
  EXPECT_EQ(Line(*child), "new");
  EXPECT_EQ(Line(*child), std::nullopt);
  EXPECT_EQ(child->Wait().value(), 0);
}

TEST(ChildProcessTest, ProgramIsFoundInPathAndArgvPassed) {
  SpawnOptions options;
  options.argv = {"echo", "a", "b c"};
  auto child = ChildProcess::Spawn(options);
  ASSERT_TRUE(child.ok()) << child.status();
  EXPECT_EQ(Line(**child), "a b c");
  EXPECT_EQ((*child)->Wait().value(), 0);
}

TEST(ChildProcessTest, WorkdirAndLogFile) {
  const std::string dir = MakeTempDir();
  SpawnOptions options;
  options.workdir = dir;
  options.log_path = dir + "/trial.log";
  auto child = SpawnSh("pwd; echo to-stderr >&2", options);
  EXPECT_EQ(Line(*child), dir);
  EXPECT_EQ(Line(*child), std::nullopt);
  EXPECT_EQ(child->Wait().value(), 0);
  child = SpawnSh("echo again >&2", options);
  EXPECT_EQ(child->Wait().value(), 0);
  EXPECT_EQ(ReadFile(dir + "/trial.log"), "to-stderr\nagain\n");
}

TEST(ChildProcessTest, ExecFailureIsReported) {
  SpawnOptions options;
  options.argv = {"/nonexistent/foo"};
  auto child = ChildProcess::Spawn(options);
  EXPECT_EQ(child.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(child.status().message(), "cannot run '/nonexistent/foo': No such file or directory");

  options.argv = {"hpo-no-such-program"};
  child = ChildProcess::Spawn(options);
  EXPECT_EQ(child.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(child.status().message(),
            "cannot run 'hpo-no-such-program': No such file or directory");

  const std::string dir = MakeTempDir();
  const std::string script = dir + "/not-executable";
  std::ofstream(script) << "#!/bin/sh\necho hi\n";
  options.argv = {script};
  child = ChildProcess::Spawn(options);
  EXPECT_EQ(child.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(child.status().message(), "cannot run '" + script + "': Permission denied");

  // Fails in the child, at execve: reported through the status pipe.
  const std::string garbage = dir + "/garbage";
  std::ofstream(garbage) << "\x7f\x01\x02 not a program";
  ASSERT_EQ(::chmod(garbage.c_str(), 0755), 0);
  options.argv = {garbage};
  child = ChildProcess::Spawn(options);
  EXPECT_EQ(child.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(child.status().message(), "cannot run '" + garbage + "': Exec format error");

  options.argv = {"/bin/true"};
  options.workdir = dir + "/missing";
  child = ChildProcess::Spawn(options);
  EXPECT_EQ(child.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(child.status().message(),
            "cannot change to directory '" + dir + "/missing': No such file or directory");

  options = {};
  options.argv = {"/bin/true"};
  options.log_path = dir + "/missing/log";
  child = ChildProcess::Spawn(options);
  EXPECT_EQ(child.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(child.status().message(), HasSubstr("cannot open log file"));

  options = {};
  child = ChildProcess::Spawn(options);
  EXPECT_EQ(child.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ResolveProgramTest, SearchesThePathLikeExecvp) {
  const std::string dir = MakeTempDir();
  std::ofstream(dir + "/prog") << "#!/bin/sh\n";
  ASSERT_EQ(::chmod((dir + "/prog").c_str(), 0755), 0);
  std::ofstream(dir + "/plain") << "data\n";
  ASSERT_EQ(::mkdir((dir + "/sub").c_str(), 0755), 0);
  std::ofstream(dir + "/sub/prog") << "#!/bin/sh\n";  // not executable: skipped for the next
  const std::string path = dir + "/sub:" + dir;
  EXPECT_EQ(ResolveProgram("prog", path).value(), dir + "/prog");

  absl::StatusOr<std::string> r = ResolveProgram("plain", path);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(r.status().message(), "cannot run 'plain': Permission denied");
  r = ResolveProgram("missing", path);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(r.status().message(), "cannot run 'missing': No such file or directory");

  // A name with a '/' is not searched, only checked.
  EXPECT_EQ(ResolveProgram(dir + "/prog", "").value(), dir + "/prog");
  r = ResolveProgram(dir + "/plain");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied);
  r = ResolveProgram(dir + "/missing");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);

  // This process's PATH by default.
  r = ResolveProgram("sh");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->substr(r->size() - 3), "/sh");
  EXPECT_EQ(::access(r->c_str(), X_OK), 0);
}

TEST(SiblingExecutableTest, FindsAProgramNextToThisOne) {
  char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  ASSERT_GT(n, 0);
  const std::string exe(self, static_cast<size_t>(n));
  const std::string base = exe.substr(exe.rfind('/') + 1);
  EXPECT_EQ(SiblingExecutable(base), exe);
  EXPECT_EQ(SiblingExecutable("hpo-no-such-program"), "hpo-no-such-program");
}

TEST(ChildProcessTest, ReadLineDeadline) {
  auto child = SpawnSh("echo ready; exec sleep 30");
  EXPECT_EQ(Line(*child), "ready");
  const absl::Time start = absl::Now();
  auto line = child->ReadLine(start + absl::Milliseconds(50));
  EXPECT_EQ(line.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(50));
  child->Terminate(absl::Seconds(5));
  EXPECT_EQ(child->Wait().value(), -SIGTERM);
}

TEST(ChildProcessTest, InterruptEndsOneReadLine) {
  auto child = SpawnSh("exec sleep 30");
  child->Interrupt();  // before the read: the next ReadLine returns at once
  EXPECT_EQ(child->ReadLine(absl::InfiniteFuture()).status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(child->ReadLine(absl::Now()).status().code(), absl::StatusCode::kDeadlineExceeded);

  std::thread interrupter([&] { child->Interrupt(); });
  EXPECT_EQ(child->ReadLine(absl::InfiniteFuture()).status().code(), absl::StatusCode::kAborted);
  interrupter.join();
}

TEST(ChildProcessTest, TerminateKillsAChildThatIgnoresSigterm) {
  auto child = SpawnSh("trap '' TERM; echo ready; while :; do sleep 0.05; done");
  EXPECT_EQ(Line(*child), "ready");
  const absl::Time start = absl::Now();
  child->Terminate(absl::Milliseconds(200));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(200));
  EXPECT_EQ(child->Wait().value(), -SIGKILL);
  EXPECT_EQ(Line(*child), std::nullopt);
}

TEST(ChildProcessTest, TerminateReturnsEarlyWhenTheChildExits) {
  auto child = SpawnSh("echo ready; exec sleep 30");
  EXPECT_EQ(Line(*child), "ready");
  const absl::Time start = absl::Now();
  child->Terminate(absl::Seconds(20));
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_EQ(child->Wait().value(), -SIGTERM);
}

TEST(ChildProcessTest, TerminateKillsTheWholeGroup) {
  // Become the reaper of orphans so the grandchild's end is observable here.
  test_util::ScopedSubreaper subreaper;
  ASSERT_TRUE(subreaper.ok());
  auto child = SpawnSh("trap '' TERM; sleep 30 & echo $!; wait");
  std::optional<std::string> line = Line(*child);
  pid_t grandchild = 0;
  ASSERT_TRUE(line.has_value() && absl::SimpleAtoi(*line, &grandchild)) << *line;
  EXPECT_EQ(::getpgid(grandchild), child->pid());
  child->Terminate(absl::Milliseconds(100));
  EXPECT_EQ(child->Wait().value(), -SIGKILL);
  std::optional<int> status = test_util::AwaitReaped(grandchild, absl::Seconds(5));
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFSIGNALED(*status));
  EXPECT_EQ(WTERMSIG(*status), SIGKILL);
}

// A background process that keeps stdout open must not hold ReadLine (or the trial) after the
// leader exited; Wait removes it with the rest of the group.
TEST(ChildProcessTest, LeaderExitEndsOutputAndWaitKillsTheGroup) {
  // Become the reaper of orphans so the grandchild's end is observable here.
  test_util::ScopedSubreaper subreaper;
  ASSERT_TRUE(subreaper.ok());
  SpawnOptions options;
  options.exit_drain = absl::Milliseconds(300);
  auto child = SpawnSh("sleep 1000 & echo $!; echo last; exit 0", options);
  std::optional<std::string> line = Line(*child);
  pid_t grandchild = 0;
  ASSERT_TRUE(line.has_value() && absl::SimpleAtoi(*line, &grandchild)) << *line;
  EXPECT_EQ(Line(*child), "last");
  const absl::Time start = absl::Now();
  absl::StatusOr<std::optional<std::string>> eof = child->ReadLine(start + absl::Seconds(10));
  ASSERT_TRUE(eof.ok()) << eof.status();
  EXPECT_EQ(*eof, std::nullopt);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(250));  // the drain, measured from the exit
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ(child->Wait().value(), 0);
  std::optional<int> status = test_util::AwaitReaped(grandchild, absl::Seconds(5));
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFSIGNALED(*status));
  EXPECT_EQ(WTERMSIG(*status), SIGKILL);
  EXPECT_EQ(::kill(grandchild, 0), -1);
  EXPECT_EQ(errno, ESRCH);
}

// Also when what is left behind writes without pause.
TEST(ChildProcessTest, LeaderExitEndsEvenNonStopOutput) {
  SpawnOptions options;
  options.exit_drain = absl::Milliseconds(200);
  auto child = SpawnSh("yes spam & exit 0", options);
  const absl::Time start = absl::Now();
  const absl::Time deadline = start + absl::Seconds(10);
  absl::StatusOr<std::optional<std::string>> line;
  do {
    line = child->ReadLine(deadline);
  } while (line.ok() && line->has_value() && absl::Now() < deadline);
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_EQ(*line, std::nullopt);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ(child->Wait().value(), 0);
}

// The drain bounds only the wait for output written after the leader's exit: what the leader
// wrote before it is read to the end by a consumer far slower than the drain, with or without
// a background process holding the pipe open.
TEST(ChildProcessTest, SlowConsumerReadsEverythingTheLeaderWrote) {
  for (const std::string background : {"", "sleep 1000 & "}) {
    SCOPED_TRACE(background.empty() ? "no background process" : "a background process");
    SpawnOptions options;
    options.exit_drain = absl::Milliseconds(50);
    // ~110 kB, more than a pipe holds: the leader exits with the last 64 kB still unread.
    auto child = SpawnSh(background + "seq 1 20000; echo final; exit 0", options);
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    int lines = 0;
    std::string last;
    while (true) {
      absl::StatusOr<std::optional<std::string>> line = child->ReadLine(deadline);
      ASSERT_TRUE(line.ok()) << line.status();
      if (!line->has_value()) break;
      last = **line;
      // A deliberately slow consumer: about 1 s for the whole output, 20 drains.
      if (++lines % 20 == 0) absl::SleepFor(absl::Milliseconds(1));
    }
    EXPECT_EQ(lines, 20001);
    EXPECT_EQ(last, "final");
    EXPECT_EQ(child->Wait().value(), 0);
  }
}

TEST(ChildProcessTest, ChildStartsWithDefaultSignals) {
  sigset_t term, old;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, &term, &old), 0);
  auto child = SpawnSh("echo ready; exec sleep 30");
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  EXPECT_EQ(Line(*child), "ready");
  child->Terminate(absl::Seconds(20));
  EXPECT_EQ(child->Wait().value(), -SIGTERM);
}

TEST(ChildProcessTest, WaitUntilHonorsDeadlineAndInterrupt) {
  // stdout closed early: ReadLine sees EOF while the child still runs.
  auto child = SpawnSh("exec >&-; exec sleep 30");
  EXPECT_EQ(Line(*child), std::nullopt);
  EXPECT_EQ(child->WaitUntil(absl::Now() + absl::Milliseconds(20)).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  child->Interrupt();
  EXPECT_EQ(child->WaitUntil(absl::InfiniteFuture()).status().code(), absl::StatusCode::kAborted);
  child->Terminate(absl::Seconds(5));
  EXPECT_EQ(child->WaitUntil(Soon()).value(), -SIGTERM);

  child = SpawnSh("exit 4");
  EXPECT_EQ(child->WaitUntil(Soon()).value(), 4);
  EXPECT_EQ(child->Wait().value(), 4);
}

// PR_SET_PDEATHSIG reaches only the leader; the guard takes the rest of the group down when the
// spawner is SIGKILLed.
TEST(ChildProcessTest, GroupDiesWithASigkilledSpawner) {
  test_util::ScopedSubreaper subreaper;  // the orphans come here when the spawner dies
  ASSERT_TRUE(subreaper.ok());
  int report[2];
  ASSERT_EQ(::pipe(report), 0);
  const pid_t spawner = ::fork();
  ASSERT_GE(spawner, 0);
  if (spawner == 0) {
    ::close(report[0]);
    SpawnOptions options;
    options.argv = {"/bin/sh", "-c", "sleep 1000 & echo $$ $!; wait"};
    absl::StatusOr<std::unique_ptr<ChildProcess>> child = ChildProcess::Spawn(options);
    if (!child.ok()) ::_exit(1);
    absl::StatusOr<std::optional<std::string>> line = (*child)->ReadLine(Soon());
    if (!line.ok() || !line->has_value()) ::_exit(2);
    const std::string text = **line + "\n";
    if (::write(report[1], text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
      ::_exit(3);
    }
    while (true) ::pause();
  }
  ::close(report[1]);
  std::string text;
  char buf[64];
  ssize_t n;
  while (text.find('\n') == std::string::npos && (n = ::read(report[0], buf, sizeof(buf))) > 0) {
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(report[0]);
  std::vector<std::string> pids = absl::StrSplit(absl::StripSuffix(text, "\n"), ' ');
  pid_t leader = 0, grandchild = 0;
  ASSERT_EQ(pids.size(), 2u) << text;
  ASSERT_TRUE(absl::SimpleAtoi(pids[0], &leader) && absl::SimpleAtoi(pids[1], &grandchild)) << text;
  ASSERT_EQ(::kill(grandchild, 0), 0);

  ASSERT_EQ(::kill(spawner, SIGKILL), 0);
  ASSERT_TRUE(test_util::AwaitReaped(spawner, absl::Seconds(5)).has_value());
  for (pid_t pid : {leader, grandchild}) {
    std::optional<int> status = test_util::AwaitReaped(pid, absl::Seconds(10));
    ASSERT_TRUE(status.has_value()) << "pid " << pid << " outlived its spawner";
    EXPECT_TRUE(WIFSIGNALED(*status));
    EXPECT_EQ(WTERMSIG(*status), SIGKILL);
  }
  // The guard exits once it has killed the group: nothing is left to reap.
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  int status;
  while (::waitpid(-1, &status, WNOHANG) >= 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ(::waitpid(-1, &status, WNOHANG), -1) << "the guard did not exit";
  EXPECT_EQ(errno, ECHILD);
}

// The guard keeps no descriptor of the spawner's but its lifeline: a pipe the spawner closes
// must report end of file to its reader while the child runs.
TEST(ChildProcessTest, GuardHoldsNoOtherDescriptor) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  auto child = SpawnSh("echo ready; exec sleep 30");
  ASSERT_NE(child, nullptr);
  EXPECT_EQ(Line(*child), "ready");
  ::close(fds[1]);
  struct pollfd pfd = {fds[0], POLLIN, 0};
  ASSERT_EQ(::poll(&pfd, 1, 5000), 1);
  char byte;
  EXPECT_EQ(::read(fds[0], &byte, 1), 0);
  ::close(fds[0]);
  child->Terminate(absl::Seconds(5));
  EXPECT_EQ(child->Wait().value(), -SIGTERM);
}

TEST(ChildProcessTest, DestructorKillsAndReaps) {
  pid_t pid;
  {
    auto child = SpawnSh("echo ready; exec sleep 30");
    EXPECT_EQ(Line(*child), "ready");
    pid = child->pid();
  }
  EXPECT_EQ(::kill(pid, 0), -1);
  EXPECT_EQ(errno, ESRCH);
}

}  // namespace
}  // namespace hpo::worker
