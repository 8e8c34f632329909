#include "importance/importance.h"

#include <cmath>
#include <functional>
#include <map>
#include <numeric>

#include "core/search_space.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hpo::importance {
namespace {

using hpo::v1::ParamSpec;
using hpo::v1::ParamValue;
using hpo::v1::StudySpec;
using hpo::v1::Trial;
using ::testing::HasSubstr;

ParamSpec* AddFloat(StudySpec* spec, const std::string& name, double low, double high,
                    bool log = false) {
  ParamSpec* p = spec->mutable_space()->add_params();
  p->set_name(name);
  p->mutable_float_domain()->set_low(low);
  p->mutable_float_domain()->set_high(high);
  p->mutable_float_domain()->set_log(log);
  return p;
}

StudySpec FourFloats() {
  StudySpec spec;
  spec.set_name("s");
  spec.mutable_objective()->set_direction(hpo::v1::MINIMIZE);
  for (const char* name : {"x0", "x1", "x2", "x3"}) AddFloat(&spec, name, 0, 1);
  return spec;
}

// n trials drawn uniformly from the space with `seed`, COMPLETED with value f(params).
std::vector<Trial> Trials(const StudySpec& spec, int n, uint64_t seed,
                          const std::function<double(const hpo::v1::ParamMap&)>& f) {
  core::Rng rng(seed);
  std::vector<Trial> trials;
  for (int i = 0; i < n; ++i) {
    Trial t;
    t.set_number(i);
    *t.mutable_params() = core::SampleUniform(spec.space(), rng);
    t.set_state(hpo::v1::COMPLETED);
    t.set_has_value(true);
    t.set_value(f(t.params()));
    trials.push_back(t);
  }
  return trials;
}

double F(const hpo::v1::ParamMap& p, const std::string& name) {
  const ParamValue& v = p.values().at(name);
  return v.has_int_value() ? static_cast<double>(v.int_value()) : v.float_value();
}

std::map<std::string, double> ByName(const std::vector<ParamImportance>& imp) {
  std::map<std::string, double> m;
  for (const auto& p : imp) m[p.name] = p.importance;
  return m;
}

ImportanceOptions With(Method method) {
  ImportanceOptions options;
  options.method = method;
  return options;
}

class BothMethodsTest : public ::testing::TestWithParam<Method> {};

TEST_P(BothMethodsTest, TenX0PlusX1SortedDescendingSummingToOne) {
  const StudySpec spec = FourFloats();
  const auto trials =
      Trials(spec, 500, 1, [](const auto& p) { return 10 * F(p, "x0") + F(p, "x1"); });
  auto imp = ComputeImportance(spec, trials, With(GetParam()));
  ASSERT_TRUE(imp.ok()) << imp.status();
  ASSERT_EQ(imp->size(), 4u);
  EXPECT_EQ((*imp)[0].name, "x0");
  EXPECT_EQ((*imp)[1].name, "x1");
  double sum = 0;
  for (size_t i = 0; i < imp->size(); ++i) {
    sum += (*imp)[i].importance;
    if (i > 0) {
      EXPECT_GE((*imp)[i - 1].importance, (*imp)[i].importance);
    }
  }
  EXPECT_NEAR(sum, 1.0, 1e-12);
  const auto m = ByName(*imp);
  EXPECT_LT(m.at("x2"), 0.05);
  EXPECT_LT(m.at("x3"), 0.05);
}

TEST_P(BothMethodsTest, LogFloatIntAndCategoricalThatMatterRankAboveThoseThatDoNot) {
  StudySpec spec;
  spec.set_name("mixed");
  spec.mutable_objective()->set_direction(hpo::v1::MINIMIZE);
  AddFloat(&spec, "lr", 1e-5, 1, /*log=*/true);
  ParamSpec* units = spec.mutable_space()->add_params();
  units->set_name("units");
  units->mutable_int_domain()->set_low(1);
  units->mutable_int_domain()->set_high(8);
  ParamSpec* opt = spec.mutable_space()->add_params();
  opt->set_name("opt");
  for (const char* c : {"sgd", "adam", "rmsprop"}) {
    opt->mutable_categorical()->add_choices()->set_string_value(c);
  }
  AddFloat(&spec, "noise_f", 1e-3, 1e3, /*log=*/true);
  ParamSpec* noise_i = spec.mutable_space()->add_params();
  noise_i->set_name("noise_i");
  noise_i->mutable_int_domain()->set_low(0);
  noise_i->mutable_int_domain()->set_high(100);
  ParamSpec* noise_c = spec.mutable_space()->add_params();
  noise_c->set_name("noise_c");
  for (const char* c : {"a", "b"})
    noise_c->mutable_categorical()->add_choices()->set_string_value(c);
  const auto trials = Trials(spec, 400, 2, [](const hpo::v1::ParamMap& p) {
    const double lr = std::log10(F(p, "lr")) + 2.5;  // best at 10^-2.5
    const double u = F(p, "units") - 6;
    const double o = p.values().at("opt").string_value() == "adam" ? 0 : 2;
    return lr * lr / 6 + u * u / 12 + o;
  });
  auto imp = ComputeImportance(spec, trials, With(GetParam()));
  ASSERT_TRUE(imp.ok()) << imp.status();
  const auto m = ByName(*imp);
  for (const char* relevant : {"lr", "units", "opt"}) {
    for (const char* ignored : {"noise_f", "noise_i", "noise_c"}) {
      EXPECT_GT(m.at(relevant), m.at(ignored)) << relevant << " vs " << ignored;
    }
  }
  EXPECT_LT(m.at("noise_f") + m.at("noise_i") + m.at("noise_c"), 0.15);
}

TEST_P(BothMethodsTest, ConditionalParametersCountWhereActive) {
  // `momentum` is active only with opt = sgd and matters there; `beta` only with adam and is
  // ignored.
  StudySpec spec;
  spec.set_name("cond");
  spec.mutable_objective()->set_direction(hpo::v1::MINIMIZE);
  ParamSpec* opt = spec.mutable_space()->add_params();
  opt->set_name("opt");
  for (const char* c : {"sgd", "adam"})
    opt->mutable_categorical()->add_choices()->set_string_value(c);
  ParamSpec* momentum = AddFloat(&spec, "momentum", 0, 1);
  momentum->mutable_condition()->set_parent("opt");
  momentum->mutable_condition()->add_values()->set_string_value("sgd");
  ParamSpec* beta = AddFloat(&spec, "beta", 0, 1);
  beta->mutable_condition()->set_parent("opt");
  beta->mutable_condition()->add_values()->set_string_value("adam");
  AddFloat(&spec, "x", 0, 1);
  const auto trials = Trials(spec, 400, 3, [](const hpo::v1::ParamMap& p) {
    const bool sgd = p.values().at("opt").string_value() == "sgd";
    return (sgd ? 4 * std::abs(F(p, "momentum") - 0.9) : 1.5) + 0.5 * F(p, "x");
  });
  int with_momentum = 0;
  for (const Trial& t : trials) with_momentum += t.params().values().contains("momentum");
  ASSERT_GT(with_momentum, 150);
  ASSERT_LT(with_momentum, 250);
  auto imp = ComputeImportance(spec, trials, With(GetParam()));
  ASSERT_TRUE(imp.ok()) << imp.status();
  const auto m = ByName(*imp);
  EXPECT_GT(m.at("momentum"), m.at("x"));
  EXPECT_GT(m.at("x"), m.at("beta"));
  EXPECT_LT(m.at("beta"), 0.05);
}

TEST_P(BothMethodsTest, SameSeedSameAnswer) {
  const StudySpec spec = FourFloats();
  const auto trials = Trials(spec, 60, 4, [](const auto& p) { return F(p, "x0") * F(p, "x1"); });
  auto a = ComputeImportance(spec, trials, With(GetParam()));
  auto b = ComputeImportance(spec, trials, With(GetParam()));
  ASSERT_TRUE(a.ok() && b.ok());
  for (size_t i = 0; i < a->size(); ++i) {
    EXPECT_EQ((*a)[i].name, (*b)[i].name);
    EXPECT_EQ((*a)[i].importance, (*b)[i].importance);
  }
}

INSTANTIATE_TEST_SUITE_P(Methods, BothMethodsTest,
                         ::testing::Values(Method::kFanova, Method::kPedAnova),
                         [](const auto& info) {
                           return info.param == Method::kFanova ? "Fanova" : "PedAnova";
                         });

TEST(PedAnovaDirectionTest, TheBestTrialsDependOnTheDirection) {
  // value = 5 [x0 > 0.9] + x1. Maximized, the best tenth is the trials with x0 > 0.9: x0 matters
  // most. Minimized, the best tenth has small x1 and any x0 up to 0.9: x1 matters most.
  StudySpec spec = FourFloats();
  const auto trials =
      Trials(spec, 600, 5, [](const auto& p) { return 5.0 * (F(p, "x0") > 0.9) + F(p, "x1"); });
  spec.mutable_objective()->set_direction(hpo::v1::MAXIMIZE);
  auto up = ComputeImportance(spec, trials, With(Method::kPedAnova));
  ASSERT_TRUE(up.ok()) << up.status();
  EXPECT_EQ((*up)[0].name, "x0");
  spec.mutable_objective()->set_direction(hpo::v1::MINIMIZE);
  auto down = ComputeImportance(spec, trials, With(Method::kPedAnova));
  ASSERT_TRUE(down.ok()) << down.status();
  EXPECT_EQ((*down)[0].name, "x1");
}

TEST(ComputeImportanceTest, TooFewCompletedTrialsSaysHowManyAreNeeded) {
  const StudySpec spec = FourFloats();
  auto trials = Trials(spec, 12, 6, [](const auto& p) { return F(p, "x0"); });
  trials[0].set_state(hpo::v1::FAILED);
  trials[1].set_state(hpo::v1::PRUNED);
  trials[2].set_has_value(false);
  trials[3].set_value(std::nan(""));
  auto imp = ComputeImportance(spec, trials, ImportanceOptions{});
  EXPECT_EQ(imp.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(imp.status().message(),
            "importance needs at least 10 completed trials with a value; study 's' has 8");
  ImportanceOptions options;
  options.min_trials = 8;
  EXPECT_TRUE(ComputeImportance(spec, trials, options).ok());
  // Two is the least anything can be computed from.
  options.min_trials = 0;
  imp = ComputeImportance(spec, {trials[4]}, options);
  EXPECT_EQ(imp.status().message(),
            "importance needs at least 2 completed trials with a value; study 's' has 1");
}

TEST(ComputeImportanceTest, EqualValuesNoParametersAndBadTrialsAreNamed) {
  StudySpec spec = FourFloats();
  auto flat = Trials(spec, 20, 7, [](const auto&) { return 1.0; });
  auto imp = ComputeImportance(spec, flat, ImportanceOptions{});
  EXPECT_EQ(imp.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(imp.status().message(),
              HasSubstr("all 20 completed trials of study 's' have the same value"));

  auto trials = Trials(spec, 20, 7, [](const auto& p) { return F(p, "x0"); });
  (*trials[4].mutable_params()->mutable_values())["x1"].set_float_value(3);
  imp = ComputeImportance(spec, trials, ImportanceOptions{});
  EXPECT_EQ(imp.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(imp.status().message(), HasSubstr("trial #4: params.x1"));

  StudySpec empty;
  empty.set_name("e");
  imp = ComputeImportance(empty, trials, ImportanceOptions{});
  EXPECT_EQ(imp.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(imp.status().message(), "study 'e' has no parameters to rank");
}

TEST(ParseMethodTest, NamesRoundTripAndUnknownIsRefused) {
  for (Method m : {Method::kFanova, Method::kPedAnova}) EXPECT_EQ(*ParseMethod(MethodName(m)), m);
  auto bad = ParseMethod("shap");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(),
            "unknown importance method 'shap': expected fanova or ped-anova");
}

}  // namespace
}  // namespace hpo::importance
