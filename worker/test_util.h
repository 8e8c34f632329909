// Helpers shared by the worker's tests (process, trial runner, daemon). Header-only; needs gtest.
#ifndef HPO_WORKER_TEST_UTIL_H_
#define HPO_WORKER_TEST_UTIL_H_

#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace hpo::worker::test_util {

// A new empty directory under the test's temporary directory, named `<prefix>.XXXXXX`.
inline std::string MakeTempDir(const std::string& prefix) {
  std::string base = ::testing::TempDir();
  while (!base.empty() && base.back() == '/') base.pop_back();
  std::string tmpl = base + "/" + prefix + ".XXXXXX";
  EXPECT_NE(::mkdtemp(tmpl.data()), nullptr);
  return tmpl;
}

// The whole file; empty when it cannot be read.
inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// While it lives, this process adopts orphaned descendants (PR_SET_CHILD_SUBREAPER), so that
// the end of a trial's background process can be observed with waitpid. Not thread-safe: one
// at a time.
class ScopedSubreaper {
 public:
  ScopedSubreaper() { ok_ = ::prctl(PR_SET_CHILD_SUBREAPER, 1) == 0; }
  ~ScopedSubreaper() { ::prctl(PR_SET_CHILD_SUBREAPER, 0); }
  ScopedSubreaper(const ScopedSubreaper&) = delete;
  ScopedSubreaper& operator=(const ScopedSubreaper&) = delete;
  bool ok() const { return ok_; }

 private:
  bool ok_ = false;
};

// Polls until `pid`, a child of this process (or an orphan it adopted), has ended, then reaps it
// and returns its wait status. std::nullopt when it is still running after `timeout`; it is
// then killed, so that a failing test leaves nothing behind.
inline std::optional<int> AwaitReaped(pid_t pid, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    int status = 0;
    const pid_t reaped = ::waitpid(pid, &status, WNOHANG);
    if (reaped == pid) return status;
    if (reaped < 0 || absl::Now() >= deadline) break;
    absl::SleepFor(absl::Milliseconds(5));
  }
  ::kill(pid, SIGKILL);
  return std::nullopt;
}

}  // namespace hpo::worker::test_util

#endif  // HPO_WORKER_TEST_UTIL_H_
