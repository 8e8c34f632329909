#include "core/study_spec.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "core/limits.h"
#include "core/search_space.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace hpo::core {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kMinimal[] = R"(
name: branin-random
objective: {metric: value, direction: minimize}
budget: {max_trials: 60}
space:
  x1: {type: float, low: -5, high: 10}
  x2: {type: float, low: 0, high: 15}
task: {builtin: branin}
)";

// Every feature the file format has.
constexpr char kFull[] = R"(
name: mlp-tpe.v2
objective: {metric: val_loss, direction: maximize}
optimizer: {name: tpe, seed: 7, options: {n_startup: 10, gamma: 0.25, kind: "fast mode"}}
early_stopping: {name: median, options: {warmup_steps: 2, min_trials: 5}}
budget: {max_trials: 60, max_parallel: 4, max_retries: 2, trial_timeout_s: 600.5}
space:
  x1: {type: float, low: -5, high: 10}
  lr: {type: float, low: 1.0e-5, high: 1.0e-1, log: true}
  drop: {type: float, low: 0, high: 0.5, step: 0.1}
  units: {type: int, low: 16, high: 512, log: true}
  layers: {type: int, low: 1, high: 4, step: 1}
  optimizer: {type: categorical, choices: [sgd, adam]}
  momentum: {type: float, low: 0, high: 0.99, condition: {parent: optimizer, values: [sgd]}}
  batch: {type: categorical, choices: [32, 64, 128]}
  scale: {type: categorical, choices: [0.5, 1, 2.0]}
  flag: {type: categorical, choices: [true, false]}
  tag: {type: categorical, choices: ["1", "true", "a b", plain]}
  extra: {type: int, low: 0, high: 3, condition: {parent: batch, values: [64, 128]}}
  deep: {type: float, low: 1, high: 2, condition: {parent: layers, values: [3, 4]}}
  fscale: {type: int, low: 0, high: 3, condition: {parent: scale, values: [1]}}
  ftag: {type: int, low: 0, high: 3, condition: {parent: tag, values: [1]}}
task:
  command: ["python3", "train.py", "--lr={lr}", "--units={units}", "{{momentum}}", "${HOME}/x"]
  env: {CUDA_LAUNCH_BLOCKING: "1", MODE: fast}
  workdir: /tmp/work dir
  trial_dir_root: /shared/hpo trials
)";

hpo::v1::StudySpec MustParse(const std::string& text) {
  auto spec = ParseStudyYaml(text);
  EXPECT_TRUE(spec.ok()) << spec.status();
  return spec.ok() ? *spec : hpo::v1::StudySpec();
}

void ExpectError(const std::string& text, absl::string_view message) {
  auto spec = ParseStudyYaml(text);
  ASSERT_FALSE(spec.ok()) << text;
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument) << text;
  EXPECT_EQ(spec.status().message(), message) << text;
}

// kMinimal with `from` replaced by `to` (which must occur).
std::string Edit(const std::string& from, const std::string& to,
                 const std::string& base = kMinimal) {
  EXPECT_NE(base.find(from), std::string::npos) << from;
  return absl::StrReplaceAll(base, {{from, to}});
}

TEST(ParseStudyYamlTest, MinimalWithDefaults) {
  const hpo::v1::StudySpec spec = MustParse(kMinimal);
  EXPECT_EQ(spec.name(), "branin-random");
  EXPECT_EQ(spec.objective().metric(), "value");
  EXPECT_EQ(spec.objective().direction(), hpo::v1::MINIMIZE);
  EXPECT_EQ(spec.optimizer().name(), "auto");
  EXPECT_EQ(spec.optimizer().seed(), 0);
  EXPECT_TRUE(spec.optimizer().options().empty());
  EXPECT_EQ(spec.early_stopping().name(), "none");
  EXPECT_EQ(spec.budget().max_trials(), 60);
  EXPECT_EQ(spec.budget().max_parallel(), 1);
  EXPECT_EQ(spec.budget().max_retries(), 0);
  EXPECT_EQ(spec.budget().trial_timeout_s(), 0);
  ASSERT_EQ(spec.space().params_size(), 2);
  EXPECT_EQ(spec.space().params(0).name(), "x1");
  EXPECT_EQ(spec.space().params(0).float_domain().low(), -5);
  EXPECT_EQ(spec.space().params(0).float_domain().high(), 10);
  EXPECT_FALSE(spec.space().params(0).has_condition());
  EXPECT_EQ(spec.task().builtin(), "branin");
  EXPECT_TRUE(spec.task().builtin_args().empty());
}

TEST(ParseStudyYamlTest, FullFile) {
  const hpo::v1::StudySpec spec = MustParse(kFull);
  EXPECT_EQ(spec.objective().direction(), hpo::v1::MAXIMIZE);
  EXPECT_EQ(spec.optimizer().name(), "tpe");
  EXPECT_EQ(spec.optimizer().seed(), 7);
  EXPECT_EQ(spec.optimizer().options().at("n_startup"), "10");
  EXPECT_EQ(spec.optimizer().options().at("gamma"), "0.25");
  EXPECT_EQ(spec.optimizer().options().at("kind"), "fast mode");
  EXPECT_EQ(spec.early_stopping().name(), "median");
  EXPECT_EQ(spec.early_stopping().options().at("warmup_steps"), "2");
  EXPECT_EQ(spec.budget().max_parallel(), 4);
  EXPECT_EQ(spec.budget().max_retries(), 2);
  EXPECT_EQ(spec.budget().trial_timeout_s(), 600.5);

  // Declaration order is kept.
  std::vector<std::string> names;
  for (const auto& p : spec.space().params()) names.push_back(p.name());
  EXPECT_EQ(names, (std::vector<std::string>{"x1", "lr", "drop", "units", "layers", "optimizer",
                                             "momentum", "batch", "scale", "flag", "tag", "extra",
                                             "deep", "fscale", "ftag"}));
  const auto& space = spec.space();
  EXPECT_EQ(FindParam(space, "lr")->float_domain().low(), 1e-5);
  EXPECT_TRUE(FindParam(space, "lr")->float_domain().log());
  EXPECT_EQ(FindParam(space, "drop")->float_domain().step(), 0.1);
  EXPECT_TRUE(FindParam(space, "units")->int_domain().log());
  EXPECT_EQ(FindParam(space, "units")->int_domain().high(), 512);
  EXPECT_EQ(FindParam(space, "layers")->int_domain().step(), 1);

  const auto& opt = FindParam(space, "optimizer")->categorical();
  ASSERT_EQ(opt.choices_size(), 2);
  EXPECT_EQ(opt.choices(0).string_value(), "sgd");
  const auto& momentum = *FindParam(space, "momentum");
  EXPECT_EQ(momentum.condition().parent(), "optimizer");
  ASSERT_EQ(momentum.condition().values_size(), 1);
  EXPECT_EQ(momentum.condition().values(0).string_value(), "sgd");

  // Scalars are typed: ints, floats (ints mixed with floats become floats), bools, and quoted
  // strings stay strings.
  const auto& batch = FindParam(space, "batch")->categorical();
  EXPECT_EQ(batch.choices(2).kind_case(), hpo::v1::ParamValue::kIntValue);
  EXPECT_EQ(batch.choices(2).int_value(), 128);
  const auto& scale = FindParam(space, "scale")->categorical();
  for (const auto& c : scale.choices()) {
    EXPECT_EQ(c.kind_case(), hpo::v1::ParamValue::kFloatValue);
  }
  EXPECT_EQ(scale.choices(1).float_value(), 1.0);
  const auto& flag = FindParam(space, "flag")->categorical();
  EXPECT_EQ(flag.choices(0).kind_case(), hpo::v1::ParamValue::kBoolValue);
  EXPECT_TRUE(flag.choices(0).bool_value());
  const auto& tag = FindParam(space, "tag")->categorical();
  for (const auto& c : tag.choices()) {
    EXPECT_EQ(c.kind_case(), hpo::v1::ParamValue::kStringValue);
  }
  EXPECT_EQ(tag.choices(0).string_value(), "1");
  EXPECT_EQ(tag.choices(1).string_value(), "true");

  // Condition values take the parent's kind.
  EXPECT_EQ(FindParam(space, "extra")->condition().values(1).int_value(), 128);
  EXPECT_EQ(FindParam(space, "deep")->condition().values(0).int_value(), 3);
  EXPECT_EQ(FindParam(space, "fscale")->condition().values(0).kind_case(),
            hpo::v1::ParamValue::kFloatValue);
  EXPECT_EQ(FindParam(space, "ftag")->condition().values(0).string_value(), "1");

  const auto& cmd = spec.task().command();
  EXPECT_EQ(cmd.argv_size(), 6);
  EXPECT_EQ(cmd.argv(2), "--lr={lr}");
  EXPECT_EQ(cmd.env().at("CUDA_LAUNCH_BLOCKING"), "1");
  EXPECT_EQ(cmd.workdir(), "/tmp/work dir");
  EXPECT_EQ(spec.task().trial_dir_root(), "/shared/hpo trials");
}

TEST(ParseStudyYamlTest, TrialDirRoot) {
  EXPECT_EQ(MustParse(kMinimal).task().trial_dir_root(), "");  // the worker's --trial-dir-root
  const auto spec = MustParse(
      Edit("task: {builtin: branin}", "task: {builtin: branin, trial_dir_root: /nfs/ckpt}"));
  EXPECT_EQ(spec.task().trial_dir_root(), "/nfs/ckpt");
  EXPECT_EQ(spec.task().builtin(), "branin");
  EXPECT_THAT(StudySpecToYaml(spec),
              HasSubstr("task: {builtin: branin, trial_dir_root: /nfs/ckpt}"));
  ExpectError(Edit("task: {builtin: branin}", "task: {builtin: branin, trial_dir_root: ckpt}"),
              "task.trial_dir_root: must be an absolute path, got 'ckpt'");
  ExpectError(Edit("task: {builtin: branin}", "task: {builtin: branin, trial_dir_root: [a]}"),
              "task.trial_dir_root: must be a string");
}

TEST(ParseStudyYamlTest, BuiltinArgs) {
  const auto spec = MustParse(
      Edit("task: {builtin: branin}", "task: {builtin: branin, args: {steps: 10, noise: 0.1}}"));
  EXPECT_EQ(spec.task().builtin(), "branin");
  EXPECT_EQ(spec.task().builtin_args().at("steps"), "10");
  EXPECT_EQ(spec.task().builtin_args().at("noise"), "0.1");
}

TEST(ParseStudyYamlTest, RoundTripsThroughYaml) {
  for (const char* text : {kMinimal, kFull}) {
    const hpo::v1::StudySpec spec = MustParse(text);
    const std::string yaml = StudySpecToYaml(spec);
    auto back = ParseStudyYaml(yaml);
    ASSERT_TRUE(back.ok()) << yaml << "\n" << back.status();
    std::string diff;
    MessageDifferencer differ;
    differ.ReportDifferencesToString(&diff);
    EXPECT_TRUE(differ.Compare(spec, *back)) << yaml << "\n" << diff;
    // Writing is deterministic.
    EXPECT_EQ(StudySpecToYaml(*back), yaml);
  }
}

TEST(ParseStudyYamlTest, YamlOfMinimal) {
  EXPECT_EQ(StudySpecToYaml(MustParse(kMinimal)),
            "name: branin-random\n"
            "objective: {metric: value, direction: minimize}\n"
            "optimizer: {name: auto, seed: 0}\n"
            "early_stopping: {name: none}\n"
            "budget: {max_trials: 60, max_parallel: 1, max_retries: 0, trial_timeout_s: 0}\n"
            "space:\n"
            "  x1: {type: float, low: -5.0, high: 10.0}\n"
            "  x2: {type: float, low: 0.0, high: 15.0}\n"
            "task: {builtin: branin}\n");
}

// ------------------------------------------------------------------ bad files

TEST(ParseStudyYamlTest, MissingFields) {
  ExpectError(Edit("name: branin-random\n", ""), "name: missing");
  ExpectError(Edit("objective: {metric: value, direction: minimize}\n", ""), "objective: missing");
  ExpectError(Edit("{metric: value, direction: minimize}", "{direction: minimize}"),
              "objective.metric: missing");
  ExpectError(Edit("{metric: value, direction: minimize}", "{metric: value}"),
              "objective.direction: missing");
  ExpectError(Edit("budget: {max_trials: 60}\n", ""), "budget: missing");
  ExpectError(Edit("{max_trials: 60}", "{max_parallel: 2}"), "budget.max_trials: missing");
  ExpectError(Edit("task: {builtin: branin}\n", ""), "task: missing");
  ExpectError(Edit("task: {builtin: branin}", "task: {}"), "task: needs builtin or command");
  ExpectError(Edit("x1: {type: float, low: -5, high: 10}", "x1: {type: float, high: 10}"),
              "space.x1.low: missing");
  ExpectError(Edit("x1: {type: float, low: -5, high: 10}", "x1: {low: -5, high: 10}"),
              "space.x1.type: missing");
  ExpectError(Edit("x1: {type: float, low: -5, high: 10}", "x1: {type: categorical}"),
              "space.x1.choices: missing");
  ExpectError(
      "name: a\nobjective: {metric: v, direction: minimize}\nbudget: {max_trials: 1}\n"
      "task: {builtin: b}\n",
      "space: missing");
  ExpectError(
      "name: a\nobjective: {metric: v, direction: minimize}\nbudget: {max_trials: 1}\n"
      "space: {}\ntask: {builtin: b}\n",
      "space: must have at least one parameter");
}

TEST(ParseStudyYamlTest, LowAboveHigh) {
  ExpectError(Edit("x1: {type: float, low: -5, high: 10}", "x1: {type: float, low: 3, high: 1}"),
              "space.x1: low (3) must be < high (1)");
  ExpectError(Edit("x1: {type: float, low: -5, high: 10}", "x1: {type: int, low: 3, high: 1}"),
              "space.x1: low (3) must be <= high (1)");
}

TEST(ParseStudyYamlTest, LogWithNonPositiveLow) {
  ExpectError(Edit("x1: {type: float, low: -5, high: 10}",
                   "lr: {type: float, low: 0, high: 0.1, log: true}"),
              "space.lr: low must be > 0 on a log scale");
}

TEST(ParseStudyYamlTest, ConditionOnUnknownParameter) {
  ExpectError(Edit("x2: {type: float, low: 0, high: 15}",
                   "optimizer: {type: categorical, choices: [sgd, adam]}\n"
                   "  momentum: {type: float, low: 0, high: 0.99, "
                   "condition: {parent: optim, values: [sgd]}}"),
              "space.momentum: condition names unknown parameter 'optim'");
  ExpectError(Edit("x2: {type: float, low: 0, high: 15}",
                   "layers: {type: int, low: 1, high: 4}\n"
                   "  deep: {type: float, low: 0, high: 1, condition: {parent: layers, "
                   "values: [2.5]}}"),
              "space.deep: condition value float 2.5 is not a value of 'layers'");
}

TEST(ParseStudyYamlTest, UnknownType) {
  ExpectError(Edit("x1: {type: float, low: -5, high: 10}", "x: {type: double, low: 0, high: 1}"),
              "space.x: unknown type 'double' (expected float, int or categorical)");
}

TEST(ParseStudyYamlTest, UnknownFields) {
  ExpectError(Edit("budget:", "budgte:"), "unknown field 'budgte'");
  ExpectError(Edit("{max_trials: 60}", "{max_trials: 60, max_trails: 3}"),
              "budget: unknown field 'max_trails'");
  ExpectError(Edit("x1: {type: float, low: -5, high: 10}", "x1: {type: float, lo: -5, high: 10}"),
              "space.x1: unknown field 'lo'");
  ExpectError(Edit("x1: {type: float, low: -5, high: 10}",
                   "x1: {type: float, low: -5, high: 10, choices: [1]}"),
              "space.x1: field 'choices' does not apply to type float");
  ExpectError(Edit("task: {builtin: branin}", "task: {builtin: branin, cmd: [a]}"),
              "task: unknown field 'cmd'");
}

TEST(ParseStudyYamlTest, BadValues) {
  ExpectError(Edit("direction: minimize", "direction: up"),
              "objective.direction: must be minimize or maximize, got 'up'");
  ExpectError(Edit("{max_trials: 60}", "{max_trials: many}"),
              "budget.max_trials: must be an integer, got 'many'");
  ExpectError(Edit("{max_trials: 60}", "{max_trials: 0}"),
              "budget.max_trials: must be >= 1, got 0");
  ExpectError(Edit("{max_trials: 60}", "{max_trials: 6, max_parallel: 0}"),
              "budget.max_parallel: must be >= 1, got 0");
  ExpectError(Edit("{max_trials: 60}", "{max_trials: 6, max_retries: -1}"),
              "budget.max_retries: must be >= 0, got -1");
  ExpectError(Edit("{max_trials: 60}", "{max_trials: 6, trial_timeout_s: -1}"),
              "budget.trial_timeout_s: must be a finite number >= 0, got -1");
  ExpectError(Edit("low: -5", "low: minus five"),
              "space.x1.low: must be a number, got 'minus five'");
  ExpectError(Edit("x1: {type: float, low: -5, high: 10}", "n: {type: int, low: 1.5, high: 10}"),
              "space.n.low: must be an integer, got '1.5'");
  ExpectError(Edit("x1: {type: float, low: -5, high: 10}",
                   "x1: {type: float, low: 1, high: 10, log: maybe}"),
              "space.x1.log: must be true or false, got 'maybe'");
  ExpectError(Edit("name: branin-random", "name: bad name!"),
              "name: must match [A-Za-z0-9][A-Za-z0-9_.-]{0,127}, got 'bad name!'");
  ExpectError(
      Edit("x1: {type: float, low: -5, high: 10}", "c: {type: categorical, choices: [a, 1]}"),
      "space.c: choices must all be of one kind (string 'a' vs int '1')");
  ExpectError(Edit("task: {builtin: branin}", "task: {builtin: branin, command: [a]}"),
              "task: give either builtin or command, not both");
  ExpectError(Edit("task: {builtin: branin}", "task: {command: python3}"),
              "task.command: must be a list of strings");
  ExpectError(Edit("task: {builtin: branin}", "task: {command: []}"),
              "task.command: must not be empty");
  ExpectError(Edit("space:\n  x1", "space:\n  x9: {type: float, low: 0, high: 1}\n  x9"),
              "space: duplicate parameter 'x9'");
  ExpectError("- a\n- b\n", "the study file must be a YAML map of fields");
  ExpectError("", "the study file must be a YAML map of fields");
}

TEST(ParseStudyYamlTest, PlaceholdersMustNameParameters) {
  ExpectError(Edit("task: {builtin: branin}", "task: {command: [python3, t.py, \"--lr={lrr}\"]}"),
              "task.command: placeholder {lrr} names no parameter");
  EXPECT_TRUE(ParseStudyYaml(Edit("task: {builtin: branin}",
                                  "task: {command: [sh, -c, \"echo {x1} ${HOME} {{x2}} {}\"]}"))
                  .ok());
}

TEST(ParseStudyYamlTest, BadYamlSyntax) {
  ExpectError("name: a\nobjective: {metric: v, direction: minimize\nbudget: {max_trials: 1}\n",
              "line 3: end of map flow not found");
  auto spec = ParseStudyYaml("name: a\n  bad: indent\n");
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(spec.status().message()), StartsWith("line 2: "));
}

// ------------------------------------------------------------------ ValidateStudySpec

TEST(ValidateStudySpecTest, ChecksSpecsFromRpc) {
  hpo::v1::StudySpec spec = MustParse(kMinimal);
  EXPECT_TRUE(ValidateStudySpec(spec).ok());
  hpo::v1::StudySpec s = spec;
  s.mutable_optimizer()->clear_name();
  EXPECT_EQ(ValidateStudySpec(s).message(), "optimizer.name: missing");
  s = spec;
  s.mutable_objective()->set_direction(hpo::v1::DIRECTION_UNSPECIFIED);
  EXPECT_EQ(ValidateStudySpec(s).message(), "objective.direction: must be minimize or maximize");
  s = spec;
  s.mutable_task()->Clear();
  EXPECT_EQ(ValidateStudySpec(s).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateStudySpec(s).message(), "task: missing (expected builtin or command)");
  s = spec;
  s.set_name(std::string(129, 'a'));
  EXPECT_THAT(std::string(ValidateStudySpec(s).message()), StartsWith("name: must match"));
  s.set_name(std::string(128, 'a'));
  EXPECT_TRUE(ValidateStudySpec(s).ok());
  s = spec;
  s.mutable_space()->mutable_params(0)->mutable_float_domain()->set_low(20);
  EXPECT_EQ(ValidateStudySpec(s).message(), "space.x1: low (20) must be < high (10)");
  s = spec;
  s.mutable_task()->set_trial_dir_root("../up");
  EXPECT_EQ(ValidateStudySpec(s).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateStudySpec(s).message(),
            "task.trial_dir_root: must be an absolute path, got '../up'");
  s.mutable_task()->set_trial_dir_root(std::string("/a\0b", 4));
  EXPECT_EQ(ValidateStudySpec(s).message(),
            "task.trial_dir_root: must not contain a NUL character");
  s.mutable_task()->set_trial_dir_root("/" + std::string(kMaxPathBytes, 'a'));
  EXPECT_EQ(ValidateStudySpec(s).message(),
            absl::StrCat("task.trial_dir_root: is ", kMaxPathBytes + 1,
                         " bytes; at most 4096 are allowed"));
  s.mutable_task()->set_trial_dir_root("/shared/trials");
  EXPECT_TRUE(ValidateStudySpec(s).ok());
}

TEST(CommandPlaceholdersTest, FindsAndSubstitutes) {
  EXPECT_EQ(CommandPlaceholders("--lr={lr} --u={units}"),
            (std::vector<std::string>{"lr", "units"}));
  EXPECT_EQ(CommandPlaceholders("{{lr}}"), (std::vector<std::string>{"lr"}));
  EXPECT_TRUE(CommandPlaceholders("${HOME} {} {a b} {\"k\": 1}").empty());
  hpo::v1::ParamMap params;
  (*params.mutable_values())["lr"].set_float_value(0.001);
  (*params.mutable_values())["units"].set_int_value(64);
  EXPECT_EQ(SubstitutePlaceholders("--lr={lr} --u={units} {other} ${HOME} {{lr}}", params),
            "--lr=0.001 --u=64 {other} ${HOME} {0.001}");
}

// ------------------------------------------------------------------ LoadStudyFile

TEST(LoadStudyFileTest, ReadsAndPrefixesErrors) {
  char dir_template[] = "/tmp/hpo_study_test_XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  const std::string good = dir + "/good.yaml";
  const std::string bad = dir + "/bad.yaml";
  std::ofstream(good) << kMinimal;
  std::ofstream(bad) << Edit("{max_trials: 60}", "{}");

  auto spec = LoadStudyFile(good);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->name(), "branin-random");

  auto bad_spec = LoadStudyFile(bad);
  EXPECT_EQ(bad_spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad_spec.status().message(), bad + ": budget.max_trials: missing");

  auto missing = LoadStudyFile(dir + "/nope.yaml");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr(dir + "/nope.yaml"));

  std::remove(good.c_str());
  std::remove(bad.c_str());
  rmdir(dir.c_str());
}

}  // namespace
}  // namespace hpo::core

namespace hpo::core {
namespace {

TEST(ValidateStudySpecTest, RefusesWhatIsBeyondTheLimitsByName) {
  hpo::v1::StudySpec spec = MustParse(kMinimal);
  hpo::v1::StudySpec many = spec;
  for (int i = 0; i < kMaxParams; ++i) {
    auto* p = many.mutable_space()->add_params();
    p->set_name(absl::StrCat("p", i));
    p->mutable_float_domain()->set_low(0);
    p->mutable_float_domain()->set_high(1);
  }
  absl::Status s = ValidateStudySpec(many);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("has 1002 parameters; at most 1000 are allowed"));

  hpo::v1::StudySpec long_name = spec;
  long_name.mutable_space()->mutable_params(0)->set_name(std::string(129, 'x'));
  EXPECT_THAT(ValidateStudySpec(long_name).message(), HasSubstr("is longer than 128 characters"));

  hpo::v1::StudySpec choices = spec;
  auto* c = choices.mutable_space()->add_params();
  c->set_name("c");
  for (int i = 0; i <= kMaxChoices; ++i) {
    c->mutable_categorical()->add_choices()->set_string_value(absl::StrCat(i));
  }
  EXPECT_THAT(ValidateStudySpec(choices).message(), HasSubstr("has 10001 choices"));

  hpo::v1::StudySpec args = spec;
  args.mutable_task()->mutable_command()->add_argv("/bin/true");
  for (int i = 0; i < kMaxArgs; ++i) args.mutable_task()->mutable_command()->add_argv("x");
  EXPECT_THAT(ValidateStudySpec(args).message(), HasSubstr("has 1001 arguments"));
  hpo::v1::StudySpec big_arg = spec;
  big_arg.mutable_task()->mutable_command()->add_argv("/bin/true");
  big_arg.mutable_task()->mutable_command()->add_argv(std::string(kMaxArgBytes + 1, 'a'));
  EXPECT_THAT(ValidateStudySpec(big_arg).message(), HasSubstr("bytes; at most 65536"));
}

}  // namespace
}  // namespace hpo::core

namespace hpo::core {
namespace {

// Found by tests/fuzz/study_file_fuzzer: a parameter name that is not UTF-8 was accepted, then
// written back as different text (and protobuf refuses such strings on the wire).
TEST(ValidateStudySpecTest, EveryStringMustBeUtf8) {
  hpo::v1::StudySpec spec = MustParse(kMinimal);
  spec.mutable_space()->mutable_params(0)->set_name("x\xff");
  absl::Status s = ValidateStudySpec(spec);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("space.params.name"));
  EXPECT_THAT(s.message(), HasSubstr("is not valid UTF-8"));
  hpo::v1::StudySpec argv = MustParse(kMinimal);
  argv.mutable_task()->mutable_command()->add_argv("/bin/echo");
  argv.mutable_task()->mutable_command()->add_argv("\xe2\x82");  // cut short
  EXPECT_THAT(ValidateStudySpec(argv).message(), HasSubstr("task.command.argv"));
  hpo::v1::StudySpec fine = MustParse(kMinimal);
  fine.mutable_space()->mutable_params(0)->set_name("\xce\xbb-rate");  // λ-rate
  EXPECT_TRUE(ValidateStudySpec(fine).ok());
  for (const char* bad : {"\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\x80"}) {
    hpo::v1::StudySpec b = MustParse(kMinimal);
    b.set_name(bad);
    EXPECT_THAT(ValidateStudySpec(b).message(), HasSubstr("not valid UTF-8")) << bad;
  }
}

}  // namespace
}  // namespace hpo::core
