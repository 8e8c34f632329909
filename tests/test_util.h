// Helpers for the integration tests: temp dirs, polling with a deadline, child processes.
#ifndef HPO_TESTS_TEST_UTIL_H_
#define HPO_TESTS_TEST_UTIL_H_

#include <signal.h>
#include <stdlib.h>

#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/cli.h"
#include "gtest/gtest.h"
#include "worker/process.h"

namespace hpo::testing {

// A fresh directory, removed with its contents when the object goes away. Not thread-safe.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = "/tmp/hpo-test-XXXXXX";
    path_ = ::mkdtemp(tmpl.data()) ? tmpl : "";
  }
  ~TempDir() {
    if (!path_.empty()) (void)std::system(absl::StrCat("rm -rf '", path_, "'").c_str());
  }
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Calls `done` every `interval` until it returns true or `timeout` passes; returns its last answer.
inline bool PollUntil(const std::function<bool()>& done, absl::Duration timeout,
                      absl::Duration interval = absl::Milliseconds(25)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (done()) return true;
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(interval);
  }
}

// Starts a program (its stderr to `log_path`), or fails the test.
inline std::unique_ptr<worker::ChildProcess> StartProcess(std::vector<std::string> argv,
                                                          const std::string& log_path) {
  worker::SpawnOptions options;
  options.argv = std::move(argv);
  options.log_path = log_path;
  auto child = worker::ChildProcess::Spawn(options);
  EXPECT_TRUE(child.ok()) << child.status();
  return child.ok() ? std::move(child).value() : nullptr;
}

// Starts hpo-coordinator on `listen` over `db` and returns it with the port it printed.
inline std::unique_ptr<worker::ChildProcess> StartCoordinator(
    const std::string& listen, const std::string& db, double lease_timeout_s,
    const std::string& log_path, int* port, std::vector<std::string> extra = {}) {
  std::vector<std::string> argv = {
      HPO_COORDINATOR_BIN,          "--listen", listen, "--db", db, "--lease-timeout-s",
      absl::StrCat(lease_timeout_s)};
  argv.insert(argv.end(), extra.begin(), extra.end());
  auto child = StartProcess(std::move(argv), log_path);
  if (child == nullptr) return nullptr;
  auto line = child->ReadLine(absl::Now() + absl::Seconds(30));
  EXPECT_TRUE(line.ok() && line->has_value()) << "coordinator printed no port";
  if (!line.ok() || !line->has_value()) return nullptr;
  const std::string prefix = "listening on port ";
  EXPECT_EQ((**line).rfind(prefix, 0), 0u) << **line;
  EXPECT_TRUE(absl::SimpleAtoi((**line).substr(prefix.size()), port)) << **line;
  return child;
}

inline std::unique_ptr<worker::ChildProcess> StartWorker(const std::string& coordinator, int slots,
                                                         const std::string& id,
                                                         const std::string& log_dir,
                                                         std::vector<std::string> extra = {}) {
  std::vector<std::string> argv = {
      HPO_WORKER_BIN, "--coordinator", coordinator,   "--slots", absl::StrCat(slots),
      "--gpus",       "none",          "--worker-id", id,        "--log-dir",
      log_dir,        "--hpo-task",    HPO_TASK_BIN};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return StartProcess(std::move(argv), log_dir + "/" + id + ".log");
}

// What `hpo ARGS...` (run in this process) exited with and printed.
struct CliResult {
  int code;
  std::string out;
  std::string err;
};

inline CliResult Cli(std::vector<std::string> args) {
  args.insert(args.begin(), "hpo");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  std::ostringstream out, err;
  const int code = client::RunCli(static_cast<int>(argv.size()), argv.data(), out, err);
  return {code, out.str(), err.str()};
}

// SIGTERM, then the exit code (-1, with a test failure, when it does not exit within `timeout`).
inline int TerminateAndWait(worker::ChildProcess& child, absl::Duration timeout) {
  ::kill(child.pid(), SIGTERM);
  auto status = child.WaitUntil(absl::Now() + timeout);
  EXPECT_TRUE(status.ok()) << status.status();
  return status.ok() ? *status : -1;
}

}  // namespace hpo::testing

#endif  // HPO_TESTS_TEST_UTIL_H_
