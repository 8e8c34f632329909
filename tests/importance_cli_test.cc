// `hpo importance` end to end: a study file created with `hpo study create` in a SQLite file,
// completed trials written into that file, then the command run against it with --db.
#include <cmath>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/importance_command.h"
#include "core/search_space.h"
#include "core/text_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "storage/sqlite_storage.h"
#include "tests/test_util.h"

namespace hpo {
namespace {

using ::hpo::testing::Cli;
using ::hpo::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// x0 and x1 decide the loss (10 x0 + x1 on their unit ranges); lr (log) and opt are ignored.
const char kStudy[] = R"(name: imp
objective: {metric: loss, direction: minimize}
optimizer: {name: random, seed: 1}
budget: {max_trials: 200, max_parallel: 1}
space:
  x0: {type: float, low: 0, high: 1}
  x1: {type: float, low: 0, high: 1}
  lr: {type: float, low: 1.0e-5, high: 1.0, log: true}
  opt: {type: categorical, choices: [sgd, adam]}
task:
  command: ["true"]
)";

class ImportanceCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = dir_.File("hpo.db");
    const std::string file = dir_.File("imp.yaml");
    std::ofstream(file) << kStudy;
    auto r = Cli({"--db", db_, "study", "create", "-f", file});
    ASSERT_EQ(r.code, 0) << r.err;
  }

  absl::StatusOr<std::unique_ptr<storage::SqliteStorage>> OpenDb() const {
    storage::SqliteStorage::Options options;
    options.path = db_;
    return storage::SqliteStorage::Create(options);
  }

  // Writes `n` COMPLETED trials drawn uniformly (seed 3) into the study, plus `failed` FAILED
  // ones, straight into the file.
  void AddTrials(int n, int failed) {
    auto storage = OpenDb();
    ASSERT_TRUE(storage.ok()) << storage.status();
    auto study = (*storage)->GetStudy("imp");
    ASSERT_TRUE(study.ok()) << study.status();
    core::Rng rng(3);
    for (int i = 0; i < n + failed; ++i) {
      hpo::v1::Trial t;
      t.set_study_id(study->id());
      t.set_number(i);
      *t.mutable_params() = core::SampleUniform(study->spec().space(), rng);
      if (i < n) {
        const auto& v = t.params().values();
        t.set_state(hpo::v1::COMPLETED);
        t.set_has_value(true);
        t.set_value(10 * v.at("x0").float_value() + v.at("x1").float_value());
      } else {
        t.set_state(hpo::v1::FAILED);
        t.set_failure_reason("exit code 1");
      }
      ASSERT_TRUE((*storage)->InsertTrial(t).ok());
    }
  }

  TempDir dir_;
  std::string db_;
};

TEST_F(ImportanceCliTest, TableRanksTheParametersThatDecideTheLoss) {
  AddTrials(200, 5);
  auto r = Cli({"--db", db_, "importance", "imp"});
  ASSERT_EQ(r.code, 0) << r.err;
  const std::vector<std::string> lines = absl::StrSplit(r.out, '\n');
  ASSERT_EQ(lines.size(), 7u) << r.out;  // heading, column names, 4 parameters, ""
  EXPECT_EQ(lines[0], "parameter importance in study imp (fanova, 200 completed trials)");
  EXPECT_THAT(lines[1], StartsWith("PARAM  IMPORTANCE"));
  EXPECT_THAT(lines[2], StartsWith("x0 "));
  EXPECT_THAT(lines[2], HasSubstr("%  " + std::string(40, '#')));  // >= 98.75%
  EXPECT_THAT(lines[3], StartsWith("x1 "));
  EXPECT_EQ(lines[6], "");

  r = Cli({"--db", db_, "importance", "imp", "--method", "ped-anova"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, StartsWith("parameter importance in study imp (ped-anova, 200 completed"));
  EXPECT_THAT(r.out, HasSubstr("\nx0 "));
}

TEST_F(ImportanceCliTest, JsonHasEveryParameterWithNumbersThatReadBackExactly) {
  AddTrials(200, 0);
  auto r = Cli({"--db", db_, "importance", "imp", "--format", "json", "--seed", "7"});
  ASSERT_EQ(r.code, 0) << r.err;
  const nlohmann::json doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["study"], "imp");
  EXPECT_EQ(doc["method"], "fanova");
  EXPECT_EQ(doc["trials"], 200);
  ASSERT_EQ(doc["importance"].size(), 4u);
  EXPECT_EQ(doc["importance"][0]["param"], "x0");
  EXPECT_EQ(doc["importance"][1]["param"], "x1");
  double sum = 0;
  for (const auto& p : doc["importance"]) sum += p["importance"].get<double>();
  EXPECT_NEAR(sum, 1.0, 1e-12);
  EXPECT_GT(doc["importance"][0]["importance"].get<double>(), 0.95);
  EXPECT_LT(doc["importance"][2]["importance"].get<double>(), 0.01);

  // The same seed, the same text; the numbers are the library's exactly.
  auto again = Cli({"--db", db_, "importance", "imp", "--format", "json", "--seed", "7"});
  EXPECT_EQ(again.out, r.out);
  auto storage = OpenDb();
  ASSERT_TRUE(storage.ok());
  auto study = (*storage)->GetStudy("imp");
  auto trials = (*storage)->ListTrials(study->id(), hpo::v1::COMPLETED, 0, 0);
  ASSERT_TRUE(study.ok() && trials.ok());
  importance::ImportanceOptions options;
  options.seed = 7;
  auto expected = importance::ComputeImportance(study->spec(), *trials, options);
  ASSERT_TRUE(expected.ok()) << expected.status();
  for (size_t i = 0; i < expected->size(); ++i) {
    EXPECT_EQ(doc["importance"][i]["param"], (*expected)[i].name);
    EXPECT_EQ(doc["importance"][i]["importance"].get<double>(), (*expected)[i].importance);
  }
  // CSV and YAML carry the same numbers.
  auto csv = Cli({"--db", db_, "importance", "imp", "--format", "csv", "--seed", "7"});
  ASSERT_EQ(csv.code, 0) << csv.err;
  EXPECT_THAT(csv.out,
              StartsWith(absl::StrCat("param,importance\nx0,",
                                      core::RoundTripNumber((*expected)[0].importance), "\n")));
  auto yaml = Cli({"--db", db_, "importance", "imp", "--format", "yaml", "--seed", "7"});
  ASSERT_EQ(yaml.code, 0) << yaml.err;
  EXPECT_THAT(yaml.out, HasSubstr(absl::StrCat(
                            "  - importance: ", core::RoundTripNumber((*expected)[0].importance),
                            "\n    param: x0\n")));
}

TEST_F(ImportanceCliTest, ErrorsNameTheProblem) {
  AddTrials(4, 2);
  auto r = Cli({"--db", db_, "importance", "imp"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err,
            "hpo: importance needs at least 10 completed trials with a value; study 'imp' has 4\n");
  r = Cli({"--db", db_, "importance", "nope"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("nope"));
  r = Cli({"--db", db_, "importance", "imp", "--method", "shap"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("--method"));
}

}  // namespace
}  // namespace hpo
