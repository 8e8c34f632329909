#include "server/optimizers/random_optimizer.h"

#include "core/search_space.h"
#include "core/study_spec.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hpo::server {
namespace {

hpo::v1::StudySpec MixedSpec(int seed) {
  auto spec = core::ParseStudyYaml(R"(
name: mixed
objective: {metric: value, direction: minimize}
optimizer: {name: random, seed: )" +
                                   std::to_string(seed) + R"(}
budget: {max_trials: 10}
space:
  lr: {type: float, low: 1.0e-5, high: 1.0, log: true}
  units: {type: int, low: 16, high: 512, log: true}
  layers: {type: int, low: 1, high: 9, step: 2}
  drop: {type: float, low: 0, high: 0.5, step: 0.1}
  opt: {type: categorical, choices: [sgd, adam]}
  momentum: {type: float, low: 0, high: 0.99, condition: {parent: opt, values: [sgd]}}
task: {builtin: mixed}
)");
  EXPECT_TRUE(spec.ok()) << spec.status();
  return *spec;
}

TEST(RandomOptimizerTest, ProposalsAreValidAndHonourConditions) {
  auto spec = MixedSpec(3);
  auto opt = MakeOptimizer(spec.optimizer(), spec.space());
  ASSERT_TRUE(opt.ok()) << opt.status();
  std::vector<int> numbers(200);
  for (int i = 0; i < 200; ++i) numbers[i] = i;
  std::vector<hpo::v1::Trial> none;
  StudyView view{&spec, &none};
  auto proposals = (*opt)->Suggest(view, numbers);
  ASSERT_TRUE(proposals.ok());
  ASSERT_EQ(proposals->size(), 200u);
  int with_momentum = 0;
  for (const auto& p : *proposals) {
    EXPECT_TRUE(core::ValidateParams(spec.space(), p).ok()) << p.DebugString();
    const bool sgd = p.values().at("opt").string_value() == "sgd";
    EXPECT_EQ(p.values().count("momentum"), sgd ? 1u : 0u);
    with_momentum += sgd;
    EXPECT_EQ(p.values().at("layers").int_value() % 2, 1);
  }
  EXPECT_GT(with_momentum, 60);
  EXPECT_LT(with_momentum, 140);
}

TEST(RandomOptimizerTest, SameSeedAndNumberGiveTheSameProposalInAnyOrder) {
  auto spec = MixedSpec(11);
  std::vector<hpo::v1::Trial> none;
  StudyView view{&spec, &none};
  auto a = MakeOptimizer(spec.optimizer(), spec.space());
  auto b = MakeOptimizer(spec.optimizer(), spec.space());
  auto pa = (*a)->Suggest(view, {0, 1, 2});
  auto pb = (*b)->Suggest(view, {2, 1, 0});
  EXPECT_EQ((*pa)[0].DebugString(), (*pb)[2].DebugString());
  EXPECT_EQ((*pa)[2].DebugString(), (*pb)[0].DebugString());
  EXPECT_NE((*pa)[0].DebugString(), (*pa)[1].DebugString());
  auto other = MixedSpec(12);
  auto c = MakeOptimizer(other.optimizer(), other.space());
  EXPECT_NE((*(*c)->Suggest(view, {0}))[0].DebugString(), (*pa)[0].DebugString());
}

TEST(RandomOptimizerTest, RejectsOptions) {
  auto spec = MixedSpec(1);
  (*spec.mutable_optimizer()->mutable_options())["n_startup"] = "3";
  auto opt = MakeOptimizer(spec.optimizer(), spec.space());
  EXPECT_EQ(opt.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(opt.status().message(), "optimizer.options.n_startup: random search takes no options");
}

}  // namespace
}  // namespace hpo::server
