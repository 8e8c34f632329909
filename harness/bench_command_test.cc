#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/cli.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hpo::client {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

int Cli(std::vector<std::string> args, std::string* out, std::string* err) {
  args.insert(args.begin(), "hpo");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  std::ostringstream o, e;
  const int rc = RunCli(static_cast<int>(argv.size()), argv.data(), o, e);
  *out = o.str();
  *err = e.str();
  return rc;
}

TEST(BenchCommandTest, RunsThenReusesAndWritesTheReport) {
  const std::string dir = absl::StrCat("/tmp/hpo_bench_cli_", ::getpid());
  std::filesystem::remove_all(dir);
  std::string out, err;
  const std::vector<std::string> args = {
      "bench", "--optimizers", "random", "--tasks", "branin", "--seeds", "2", "--trials",
      "5",     "--out",        dir,      "--jobs",  "1"};
  ASSERT_EQ(Cli(args, &out, &err), 0) << err;
  EXPECT_THAT(out, HasSubstr("runs: 2 run, 0 reused, 0 failed, 0 skipped"));
  EXPECT_THAT(err, HasSubstr("[2/2] done random/branin/seed=1/trials=5"));
  std::ifstream report(dir + "/report.md");
  std::stringstream md;
  md << report.rdbuf();
  EXPECT_THAT(md.str(), HasSubstr("`hpo bench --optimizers random --tasks branin --seeds 2 "
                                  "--trials 5`"));
  EXPECT_THAT(md.str(), HasSubstr("| branin | random | 2 | 5 | "));

  ASSERT_EQ(Cli(args, &out, &err), 0) << err;
  EXPECT_THAT(out, HasSubstr("runs: 0 run, 2 reused"));
  std::filesystem::remove_all(dir);
}

TEST(BenchCommandTest, FirstSeedShiftsTheSeedsAndKeepsEarlierRuns) {
  const std::string dir = absl::StrCat("/tmp/hpo_bench_cli_seeds_", ::getpid());
  std::filesystem::remove_all(dir);
  std::string out, err;
  auto args = [&](const std::string& first) {
    return std::vector<std::string>{
        "bench", "--optimizers", "random", "--tasks", "branin", "--seeds", "2", "--first-seed",
        first,   "--trials",     "5",      "--out",   dir,      "--jobs",  "1"};
  };
  ASSERT_EQ(Cli(args("0"), &out, &err), 0) << err;
  ASSERT_EQ(Cli(args("1"), &out, &err), 0) << err;
  // Seed 1 is shared with the first call; seed 2 is new.
  EXPECT_THAT(out, HasSubstr("runs: 1 run, 1 reused"));
  EXPECT_THAT(err, HasSubstr("done random/branin/seed=2/trials=5"));
  EXPECT_THAT(err, Not(HasSubstr("seed=0")));
  std::ifstream report(dir + "/report.md");
  std::stringstream md;
  md << report.rdbuf();
  EXPECT_THAT(md.str(), HasSubstr("--seeds 2 --first-seed 1 --trials 5`"));
  EXPECT_THAT(md.str(), HasSubstr("Seeds: 2 (1..2)."));
  EXPECT_EQ(Cli({"bench", "--first-seed", "-1"}, &out, &err), 2);  // CLI11 range check
  EXPECT_THAT(err, HasSubstr("--first-seed"));
  std::filesystem::remove_all(dir);
}

TEST(BenchCommandTest, ExplainsBadArguments) {
  std::string out, err;
  EXPECT_EQ(Cli({"bench", "--tasks", "nope", "--out", "/tmp/unused"}, &out, &err), 1);
  EXPECT_THAT(err, HasSubstr("hpo bench: --tasks: unknown task 'nope'"));
  EXPECT_EQ(Cli({"bench", "--optimizers", "bogus", "--tasks", "branin", "--out",
                 absl::StrCat("/tmp/hpo_bench_cli_bad_", ::getpid())},
                &out, &err),
            1);
  EXPECT_THAT(err, HasSubstr("--optimizers: unknown optimizer 'bogus'"));
  EXPECT_EQ(Cli({"bench", "--seeds", "0"}, &out, &err), 2);  // CLI11 range check
}

}  // namespace
}  // namespace hpo::client
