#include "worker/command_policy.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hpo::worker {
namespace {

using ::testing::HasSubstr;

hpo::v1::StudySpec Command(const std::string& program, const std::string& workdir = "") {
  hpo::v1::StudySpec spec;
  spec.set_name("s");
  spec.mutable_task()->mutable_command()->add_argv(program);
  spec.mutable_task()->mutable_command()->set_workdir(workdir);
  return spec;
}

hpo::v1::RegisterWorkerRequest Allowing(const std::vector<std::string>& prefixes) {
  hpo::v1::RegisterWorkerRequest policy;
  auto canonical = CanonicalPrefixes(prefixes);
  EXPECT_TRUE(canonical.ok()) << canonical.status();
  for (const std::string& p : canonical.value_or(std::vector<std::string>{})) {
    policy.add_command_prefixes(p);
  }
  return policy;
}

class CommandPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "/policy-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    char real[PATH_MAX];
    ASSERT_NE(::realpath(tmpl.c_str(), real), nullptr);
    dir_ = real;
    ::mkdir((dir_ + "/bin").c_str(), 0755);
    std::ofstream(dir_ + "/bin/run.sh") << "#!/bin/sh\necho hi\n";
    ::chmod((dir_ + "/bin/run.sh").c_str(), 0755);
    ASSERT_EQ(::symlink("/bin/sh", (dir_ + "/bin/escape").c_str()), 0);
  }
  std::string dir_;
};

TEST_F(CommandPolicyTest, ResolvesBareNamesAndSymlinksBeforeChecking) {
  // `sh` is found on PATH and followed to the file it is.
  EXPECT_TRUE(CheckAccepted(Allowing({"/bin/sh"}), Command("sh")).ok());
  absl::Status outside = CheckAccepted(Allowing({dir_}), Command("sh"));
  EXPECT_EQ(outside.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(outside.message(), HasSubstr("'sh' is /"));
  EXPECT_THAT(outside.message(), HasSubstr("on this worker, not under its --allow-command"));

  // A program inside the allowed directory runs, by absolute path or from the workdir.
  EXPECT_TRUE(CheckAccepted(Allowing({dir_}), Command(dir_ + "/bin/run.sh")).ok());
  EXPECT_TRUE(CheckAccepted(Allowing({dir_}), Command("bin/run.sh", dir_)).ok());
  // A symlink inside it that leads out is refused, though its name is under the prefix.
  absl::Status escape = CheckAccepted(Allowing({dir_}), Command(dir_ + "/bin/escape"));
  EXPECT_EQ(escape.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(escape.message(), HasSubstr("not under its --allow-command"));

  absl::Status missing = CheckAccepted(Allowing({dir_}), Command("no-such-program-hpo"));
  EXPECT_THAT(missing.message(), HasSubstr("cannot find 'no-such-program-hpo'"));
  // Built-in tasks need no allowance.
  hpo::v1::StudySpec builtin;
  builtin.mutable_task()->set_builtin("branin");
  EXPECT_TRUE(CheckAccepted(hpo::v1::RegisterWorkerRequest(), builtin).ok());
}

TEST_F(CommandPolicyTest, CanonicalPrefixesKeepTheGivenFormOfASymlink) {
  char real[PATH_MAX];
  ASSERT_NE(::realpath("/bin/sh", real), nullptr);
  auto prefixes = CanonicalPrefixes({"/bin/sh", dir_ + "/./bin/"});
  ASSERT_TRUE(prefixes.ok());
  std::vector<std::string> expected;
  if (std::string(real) != "/bin/sh") expected.push_back("/bin/sh");
  expected.push_back(real);
  expected.push_back(dir_ + "/bin");
  EXPECT_EQ(*prefixes, expected);
  EXPECT_EQ(CanonicalPrefixes({""}).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace hpo::worker
