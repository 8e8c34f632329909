#include "core/worker_policy.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hpo::core {
namespace {

using ::testing::HasSubstr;

TEST(NormalizePathTest, FoldsDotsAndSlashes) {
  EXPECT_EQ(NormalizePath("/a/./b//../c/"), "/a/c");
  EXPECT_EQ(NormalizePath("/../x"), "/x");
  EXPECT_EQ(NormalizePath("/"), "/");
  EXPECT_EQ(NormalizePath("a/../../b"), "../b");
  EXPECT_EQ(NormalizePath("./"), ".");
}

TEST(PathIsUnderTest, WholeComponentsOnly) {
  EXPECT_TRUE(PathIsUnder("/opt/a/train", "/opt/a"));
  EXPECT_TRUE(PathIsUnder("/opt/a", "/opt/a/"));
  EXPECT_FALSE(PathIsUnder("/opt/ab/train", "/opt/a"));
  EXPECT_FALSE(PathIsUnder("/opt/a/../b/train", "/opt/a"));
  EXPECT_TRUE(PathIsUnder("/usr/bin/x", "/"));
}

hpo::v1::StudySpec CommandStudy(const std::string& name, const std::string& program) {
  hpo::v1::StudySpec spec;
  spec.set_name(name);
  spec.mutable_task()->mutable_command()->add_argv(program);
  return spec;
}

TEST(WhyNotAcceptedTest, StudiesAndCommandPrefixes) {
  hpo::v1::RegisterWorkerRequest policy;
  hpo::v1::StudySpec builtin;
  builtin.set_name("b");
  builtin.mutable_task()->set_builtin("branin");
  EXPECT_EQ(WhyNotAccepted(policy, builtin), "");  // built-in tasks always
  EXPECT_THAT(WhyNotAccepted(policy, CommandStudy("c", "/opt/train")),
              HasSubstr("the worker runs no commands, and this study runs '/opt/train'"));

  policy.add_command_prefixes("/opt/ml");
  EXPECT_EQ(WhyNotAccepted(policy, CommandStudy("c", "/opt/ml/bin/train")), "");
  EXPECT_EQ(WhyNotAccepted(policy, CommandStudy("c", "python3")), "");  // the worker resolves it
  EXPECT_THAT(WhyNotAccepted(policy, CommandStudy("c", "/opt/ml/../evil")),
              HasSubstr("'/opt/ml/../evil' is not under the worker's --allow-command (/opt/ml)"));

  policy.set_any_command(true);
  EXPECT_EQ(WhyNotAccepted(policy, CommandStudy("c", "/anything")), "");

  policy.add_studies("mine");
  policy.add_studies("ours");
  EXPECT_THAT(WhyNotAccepted(policy, builtin),
              HasSubstr("study 'b' is not in the worker's --studies (mine,ours)"));
  builtin.set_name("ours");
  EXPECT_EQ(WhyNotAccepted(policy, builtin), "");
}

}  // namespace
}  // namespace hpo::core
