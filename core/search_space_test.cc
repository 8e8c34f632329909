#include "core/search_space.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <vector>

#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace hpo::core {
namespace {

using hpo::v1::ParamMap;
using hpo::v1::ParamSpec;
using hpo::v1::ParamValue;
using hpo::v1::SearchSpace;

SearchSpace Space(const std::string& text) {
  SearchSpace space;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &space)) << text;
  return space;
}

ParamValue F(double v) {
  ParamValue p;
  p.set_float_value(v);
  return p;
}
ParamValue I(int64_t v) {
  ParamValue p;
  p.set_int_value(v);
  return p;
}
ParamValue S(const std::string& v) {
  ParamValue p;
  p.set_string_value(v);
  return p;
}
ParamValue B(bool v) {
  ParamValue p;
  p.set_bool_value(v);
  return p;
}

ParamMap Params(std::initializer_list<std::pair<const std::string, ParamValue>> values) {
  ParamMap m;
  for (const auto& [k, v] : values) (*m.mutable_values())[k] = v;
  return m;
}

// A space with every kind of parameter and a conditional one.
SearchSpace FullSpace() {
  return Space(R"pb(
    params {
      name: "x1"
      float_domain { low: -5 high: 10 }
    }
    params {
      name: "lr"
      float_domain { low: 1e-5 high: 0.1 log: true }
    }
    params {
      name: "units"
      int_domain { low: 16 high: 512 log: true }
    }
    params {
      name: "layers"
      int_domain { low: 1 high: 4 step: 1 }
    }
    params {
      name: "width"
      int_domain { low: 8 high: 100 step: 8 }
    }
    params {
      name: "drop"
      float_domain { low: 0 high: 0.5 step: 0.1 }
    }
    params {
      name: "optimizer"
      categorical {
        choices { string_value: "sgd" }
        choices { string_value: "adam" }
      }
    }
    params {
      name: "momentum"
      float_domain { low: 0 high: 0.99 }
      condition {
        parent: "optimizer"
        values { string_value: "sgd" }
      }
    }
  )pb");
}

void ExpectInvalid(const absl::Status& s, absl::string_view message) {
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_EQ(s.message(), message);
}

// ------------------------------------------------------------------ ValidateSearchSpace

TEST(ValidateSearchSpaceTest, AcceptsFullSpace) {
  EXPECT_TRUE(ValidateSearchSpace(FullSpace()).ok()) << ValidateSearchSpace(FullSpace());
}

TEST(ValidateSearchSpaceTest, RejectsMalformed) {
  ExpectInvalid(ValidateSearchSpace(Space(R"pb(params { float_domain { low: 0 high: 1 } })pb")),
                "space: parameter 0 has no name");
  ExpectInvalid(ValidateSearchSpace(Space(R"pb(
                  params {
                    name: "x"
                    float_domain { low: 0 high: 1 }
                  }
                  params {
                    name: "x"
                    float_domain { low: 0 high: 1 }
                  })pb")),
                "space.x: duplicate parameter name");
  ExpectInvalid(ValidateSearchSpace(Space(R"pb(params { name: "x" })pb")),
                "space.x: no domain set (expected float, int or categorical)");
  ExpectInvalid(ValidateSearchSpace(Space(R"pb(params {
                                                 name: "x"
                                                 float_domain { low: 3 high: 1 }
                                               })pb")),
                "space.x: low (3) must be < high (1)");
  ExpectInvalid(ValidateSearchSpace(Space(R"pb(params {
                                                 name: "x"
                                                 float_domain { low: 1 high: 1 }
                                               })pb")),
                "space.x: low (1) must be < high (1)");
  ExpectInvalid(ValidateSearchSpace(Space(R"pb(params {
                                                 name: "x"
                                                 float_domain { low: 0 high: inf }
                                               })pb")),
                "space.x: low (0) and high (inf) must be finite");
  ExpectInvalid(ValidateSearchSpace(Space(R"pb(params {
                                                 name: "x"
                                                 float_domain { low: -1e308 high: 1e308 }
                                               })pb")),
                "space.x: high - low (1e+308 - -1e+308) is too large for a double");
  ExpectInvalid(ValidateSearchSpace(Space(R"pb(params {
                                                 name: "x"
                                                 float_domain { low: 0 high: 1e10 step: 1e-10 }
                                               })pb")),
                "space.x: step (1e-10) makes more than 2^53 grid values between low and high");
  ExpectInvalid(ValidateSearchSpace(Space(R"pb(params {
                                                 name: "lr"
                                                 float_domain { low: 0 high: 1 log: true }
                                               })pb")),
                "space.lr: low must be > 0 on a log scale");
  ExpectInvalid(ValidateSearchSpace(Space(R"pb(params {
                                                 name: "x"
                                                 float_domain { low: 0 high: 1 step: -0.5 }
                                               })pb")),
                "space.x: step (-0.5) must be >= 0");
  ExpectInvalid(ValidateSearchSpace(Space(R"pb(params {
                                                 name: "x"
                                                 float_domain { low: 1 high: 2 step: 0.5 log: true }
                                               })pb")),
                "space.x: step cannot be used with log");
  ExpectInvalid(ValidateSearchSpace(Space(R"pb(params {
                                                 name: "n"
                                                 int_domain { low: 3 high: 1 }
                                               })pb")),
                "space.n: low (3) must be <= high (1)");
  ExpectInvalid(ValidateSearchSpace(Space(R"pb(params {
                                                 name: "n"
                                                 int_domain { low: 0 high: 8 log: true }
                                               })pb")),
                "space.n: low must be > 0 on a log scale");
  ExpectInvalid(ValidateSearchSpace(Space(R"pb(params {
                                                 name: "n"
                                                 int_domain { low: 0 high: 8 step: -2 }
                                               })pb")),
                "space.n: step (-2) must be >= 0");
  ExpectInvalid(ValidateSearchSpace(Space(R"pb(params {
                                                 name: "n"
                                                 int_domain { low: 1 high: 8 step: 2 log: true }
                                               })pb")),
                "space.n: step cannot be used with log");
  ExpectInvalid(ValidateSearchSpace(Space(R"pb(params {
                                                 name: "c"
                                                 categorical {}
                                               })pb")),
                "space.c: categorical needs at least one choice");
  ExpectInvalid(ValidateSearchSpace(Space(R"pb(params {
                                                 name: "c"
                                                 categorical {
                                                   choices { string_value: "a" }
                                                   choices { int_value: 1 }
                                                 }
                                               })pb")),
                "space.c: choices must all be of one kind (string 'a' vs int '1')");
  ExpectInvalid(ValidateSearchSpace(Space(R"pb(params {
                                                 name: "c"
                                                 categorical {
                                                   choices { string_value: "a" }
                                                   choices { string_value: "a" }
                                                 }
                                               })pb")),
                "space.c: duplicate choice 'a'");
  ExpectInvalid(ValidateSearchSpace(Space(R"pb(params {
                                                 name: "c"
                                                 categorical { choices {} }
                                               })pb")),
                "space.c: choice 0 has no value");
}

TEST(ValidateSearchSpaceTest, IntAllowsSingleValueAndLogWithUnitStep) {
  EXPECT_TRUE(ValidateSearchSpace(Space(R"pb(params {
                                               name: "n"
                                               int_domain { low: 4 high: 4 }
                                             })pb"))
                  .ok());
  EXPECT_TRUE(ValidateSearchSpace(Space(R"pb(params {
                                               name: "n"
                                               int_domain { low: 1 high: 8 step: 1 log: true }
                                             })pb"))
                  .ok());
}

TEST(ValidateSearchSpaceTest, RejectsBadConditions) {
  ExpectInvalid(ValidateSearchSpace(Space(R"pb(
                  params {
                    name: "optimizer"
                    categorical { choices { string_value: "sgd" } }
                  }
                  params {
                    name: "momentum"
                    float_domain { low: 0 high: 1 }
                    condition {
                      parent: "optim"
                      values { string_value: "sgd" }
                    }
                  })pb")),
                "space.momentum: condition names unknown parameter 'optim'");
  ExpectInvalid(ValidateSearchSpace(Space(R"pb(
                  params {
                    name: "momentum"
                    float_domain { low: 0 high: 1 }
                    condition {
                      parent: "optimizer"
                      values { string_value: "sgd" }
                    }
                  }
                  params {
                    name: "optimizer"
                    categorical { choices { string_value: "sgd" } }
                  })pb")),
                "space.momentum: condition parent 'optimizer' must be declared before 'momentum'");
  ExpectInvalid(ValidateSearchSpace(Space(R"pb(
                  params {
                    name: "x"
                    float_domain { low: 0 high: 1 }
                  }
                  params {
                    name: "y"
                    float_domain { low: 0 high: 1 }
                    condition {
                      parent: "x"
                      values { float_value: 0.5 }
                    }
                  })pb")),
                "space.y: condition parent 'x' must be categorical or int");
  ExpectInvalid(ValidateSearchSpace(Space(R"pb(
                  params {
                    name: "o"
                    categorical { choices { string_value: "sgd" } }
                  }
                  params {
                    name: "y"
                    float_domain { low: 0 high: 1 }
                    condition { parent: "o" }
                  })pb")),
                "space.y: condition has no values");
  ExpectInvalid(ValidateSearchSpace(Space(R"pb(
                  params {
                    name: "o"
                    categorical { choices { string_value: "sgd" } }
                  }
                  params {
                    name: "y"
                    float_domain { low: 0 high: 1 }
                    condition {
                      parent: "o"
                      values { string_value: "adam" }
                    }
                  })pb")),
                "space.y: condition value string 'adam' is not a value of 'o'");
  ExpectInvalid(ValidateSearchSpace(Space(R"pb(
                  params {
                    name: "n"
                    int_domain { low: 1 high: 4 }
                  }
                  params {
                    name: "y"
                    float_domain { low: 0 high: 1 }
                    condition {
                      parent: "n"
                      values { float_value: 2 }
                    }
                  })pb")),
                "space.y: condition value float 2 is not a value of 'n'");
  ExpectInvalid(ValidateSearchSpace(Space(R"pb(
                  params {
                    name: "n"
                    int_domain { low: 1 high: 4 }
                  }
                  params {
                    name: "y"
                    float_domain { low: 0 high: 1 }
                    condition {
                      parent: "n"
                      values { int_value: 5 }
                    }
                  })pb")),
                "space.y: condition value int 5 is not a value of 'n'");
  EXPECT_TRUE(ValidateSearchSpace(Space(R"pb(
                params {
                  name: "n"
                  int_domain { low: 1 high: 4 }
                }
                params {
                  name: "y"
                  float_domain { low: 0 high: 1 }
                  condition {
                    parent: "n"
                    values { int_value: 3 }
                    values { int_value: 4 }
                  }
                })pb"))
                  .ok());
}

// ------------------------------------------------------------------ IsActive / ValidateParams

TEST(IsActiveTest, FollowsParentValue) {
  const SearchSpace space = FullSpace();
  const ParamSpec* momentum = FindParam(space, "momentum");
  ASSERT_NE(momentum, nullptr);
  EXPECT_TRUE(IsActive(*momentum, Params({{"optimizer", S("sgd")}})));
  EXPECT_FALSE(IsActive(*momentum, Params({{"optimizer", S("adam")}})));
  EXPECT_FALSE(IsActive(*momentum, Params({})));
  EXPECT_TRUE(IsActive(*FindParam(space, "x1"), Params({})));
}

TEST(IsActiveTest, IntParentMatchesIntegralFloat) {
  const SearchSpace space = Space(R"pb(
    params {
      name: "n"
      int_domain { low: 1 high: 4 }
    }
    params {
      name: "y"
      float_domain { low: 0 high: 1 }
      condition {
        parent: "n"
        values { int_value: 3 }
      }
    })pb");
  EXPECT_TRUE(IsActive(space.params(1), Params({{"n", I(3)}})));
  EXPECT_TRUE(IsActive(space.params(1), Params({{"n", F(3.0)}})));
  EXPECT_FALSE(IsActive(space.params(1), Params({{"n", F(3.5)}})));
}

ParamMap ValidFull() {
  return Params({{"x1", F(2.5)},
                 {"lr", F(1e-3)},
                 {"units", I(64)},
                 {"layers", I(2)},
                 {"width", I(96)},
                 {"drop", F(0.3)},
                 {"optimizer", S("sgd")},
                 {"momentum", F(0.9)}});
}

TEST(ValidateParamsTest, AcceptsValid) {
  EXPECT_TRUE(ValidateParams(FullSpace(), ValidFull()).ok())
      << ValidateParams(FullSpace(), ValidFull());
  ParamMap adam = ValidFull();
  adam.mutable_values()->erase("momentum");
  (*adam.mutable_values())["optimizer"] = S("adam");
  EXPECT_TRUE(ValidateParams(FullSpace(), adam).ok());
  ParamMap float_int = ValidFull();
  (*float_int.mutable_values())["units"] = F(64.0);  // an int given as an integral float
  EXPECT_TRUE(ValidateParams(FullSpace(), float_int).ok());
}

TEST(ValidateParamsTest, Errors) {
  const SearchSpace space = FullSpace();
  auto with = [](const std::string& name, const ParamValue& v) {
    ParamMap m = ValidFull();
    (*m.mutable_values())[name] = v;
    return m;
  };
  auto without = [](const std::string& name) {
    ParamMap m = ValidFull();
    m.mutable_values()->erase(name);
    return m;
  };
  ExpectInvalid(ValidateParams(space, with("x1", F(11))), "params.x1: 11 is above high (10)");
  ExpectInvalid(ValidateParams(space, with("x1", F(-5.5))), "params.x1: -5.5 is below low (-5)");
  ExpectInvalid(ValidateParams(space, with("x1", F(NAN))), "params.x1: nan is not finite");
  ExpectInvalid(ValidateParams(space, with("x1", I(3))), "params.x1: expected a float, got int 3");
  ExpectInvalid(ValidateParams(space, with("units", F(64.5))),
                "params.units: expected an int, got float 64.5");
  ExpectInvalid(ValidateParams(space, with("units", S("64"))),
                "params.units: expected an int, got string '64'");
  ExpectInvalid(ValidateParams(space, with("units", I(1024))),
                "params.units: 1024 is above high (512)");
  ExpectInvalid(ValidateParams(space, with("width", I(20))),
                "params.width: 20 is not on the step grid (low 8, step 8)");
  ExpectInvalid(ValidateParams(space, with("width", I(104))),
                "params.width: 104 is above high (100)");
  ExpectInvalid(ValidateParams(space, with("drop", F(0.35))),
                "params.drop: 0.35 is not on the step grid (low 0, step 0.1)");
  ExpectInvalid(ValidateParams(space, with("optimizer", S("rmsprop"))),
                "params.optimizer: string 'rmsprop' is not one of [sgd, adam]");
  ExpectInvalid(ValidateParams(space, with("bogus", F(1))), "params.bogus: unknown parameter");
  ExpectInvalid(ValidateParams(space, without("lr")), "params.lr: missing");
  ExpectInvalid(ValidateParams(space, without("momentum")), "params.momentum: missing");
  ExpectInvalid(ValidateParams(space, with("optimizer", S("adam"))),
                "params.momentum: given but inactive (its condition on 'optimizer' does not "
                "hold)");
}

TEST(ValidateParamsTest, StepGridToleratesRounding) {
  const SearchSpace space = FullSpace();
  ParamMap m = ValidFull();
  (*m.mutable_values())["drop"] = F(0.1 + 0.2);  // 0.30000000000000004
  EXPECT_TRUE(ValidateParams(space, m).ok());
  (*m.mutable_values())["width"] = I(8);
  (*m.mutable_values())["drop"] = F(0.5);
  EXPECT_TRUE(ValidateParams(space, m).ok());
}

TEST(NormalizeParamsTest, TurnsIntegralFloatsIntoInts) {
  ParamMap m = ValidFull();
  (*m.mutable_values())["units"] = F(64.0);
  const ParamMap n = NormalizeParams(FullSpace(), m);
  EXPECT_EQ(n.values().at("units").kind_case(), ParamValue::kIntValue);
  EXPECT_EQ(n.values().at("units").int_value(), 64);
  EXPECT_EQ(n.values().at("x1").kind_case(), ParamValue::kFloatValue);  // floats stay floats
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(n, ValidFull()));
}

// ------------------------------------------------------------------ sampling

TEST(SampleTest, StaysInBoundsAndOnGrid) {
  const SearchSpace space = FullSpace();
  Rng rng(42);
  std::set<int64_t> layers_seen, width_seen;
  std::set<std::string> drop_seen;
  int momentum_count = 0;
  for (int i = 0; i < 5000; ++i) {
    const ParamMap p = SampleUniform(space, rng);
    ASSERT_TRUE(ValidateParams(space, p).ok()) << ValidateParams(space, p);
    const auto& v = p.values();
    const double x1 = v.at("x1").float_value();
    EXPECT_GE(x1, -5);
    EXPECT_LE(x1, 10);
    layers_seen.insert(v.at("layers").int_value());
    width_seen.insert(v.at("width").int_value());
    drop_seen.insert(FormatValue(v.at("drop")));
    EXPECT_EQ(v.at("width").int_value() % 8, 0);
    const bool sgd = v.at("optimizer").string_value() == "sgd";
    EXPECT_EQ(v.count("momentum"), sgd ? 1u : 0u);
    momentum_count += sgd;
  }
  EXPECT_EQ(layers_seen, (std::set<int64_t>{1, 2, 3, 4}));
  // 8, 16, ..., 96: the top value 100 is not on the grid.
  EXPECT_EQ(width_seen.size(), 12u);
  EXPECT_EQ(*width_seen.rbegin(), 96);
  EXPECT_EQ(drop_seen,
            (std::set<std::string>{"0", "0.1", "0.2", "0.30000000000000004", "0.4", "0.5"}));
  EXPECT_GT(momentum_count, 2200);
  EXPECT_LT(momentum_count, 2800);
}

TEST(SampleTest, LogUniformMedianIsGeometricMean) {
  const SearchSpace space = FullSpace();
  const ParamSpec& lr = *FindParam(space, "lr");
  Rng rng(7);
  std::vector<double> draws;
  for (int i = 0; i < 10000; ++i) draws.push_back(SampleParam(lr, rng).float_value());
  std::sort(draws.begin(), draws.end());
  const double median = draws[draws.size() / 2];
  const double geo_mean = std::sqrt(1e-5 * 0.1);  // 1e-3
  // On a log scale the median of 10k draws is within a few percent of the range's middle.
  EXPECT_NEAR(std::log10(median), std::log10(geo_mean), 0.1) << median;
  EXPECT_GE(draws.front(), 1e-5);
  EXPECT_LE(draws.back(), 0.1);
}

TEST(SampleTest, LogIntCoversRangeAndMedianIsGeometric) {
  const SearchSpace space = FullSpace();
  const ParamSpec& units = *FindParam(space, "units");
  Rng rng(3);
  std::vector<int64_t> draws;
  for (int i = 0; i < 10000; ++i) draws.push_back(SampleParam(units, rng).int_value());
  std::sort(draws.begin(), draws.end());
  EXPECT_EQ(draws.front(), 16);
  EXPECT_EQ(draws.back(), 512);
  EXPECT_NEAR(std::log2(static_cast<double>(draws[5000])), std::log2(std::sqrt(16.0 * 512)), 0.2);
}

TEST(SampleTest, CategoricalIsUniform) {
  const SearchSpace space = Space(R"pb(params {
                                         name: "c"
                                         categorical {
                                           choices { int_value: 1 }
                                           choices { int_value: 2 }
                                           choices { int_value: 3 }
                                         }
                                       })pb");
  Rng rng(11);
  std::map<int64_t, int> counts;
  for (int i = 0; i < 9000; ++i) ++counts[SampleParam(space.params(0), rng).int_value()];
  ASSERT_EQ(counts.size(), 3u);
  for (const auto& [v, n] : counts) {
    EXPECT_GT(n, 2700) << v;
    EXPECT_LT(n, 3300) << v;
  }
}

TEST(SampleTest, SameSeedSameSamples) {
  const SearchSpace space = FullSpace();
  Rng a(123), b(123), c(124);
  bool any_different = false;
  for (int i = 0; i < 50; ++i) {
    const ParamMap pa = SampleUniform(space, a);
    const ParamMap pb = SampleUniform(space, b);
    const ParamMap pc = SampleUniform(space, c);
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(pa, pb));
    any_different = any_different || !google::protobuf::util::MessageDifferencer::Equals(pa, pc);
  }
  EXPECT_TRUE(any_different);
}

TEST(SampleTest, KnownFirstDraw) {
  // Pins the sampler's arithmetic: a seed must give the same numbers on every platform.
  Rng rng(1);
  const ParamSpec spec = Space(R"pb(params {
                                      name: "u"
                                      float_domain { low: 0 high: 1 }
                                    })pb")
                             .params(0);
  Rng ref(1);
  const double expected = static_cast<double>(ref() >> 11) * 0x1.0p-53;
  EXPECT_EQ(SampleParam(spec, rng).float_value(), expected);
}

// ------------------------------------------------------------------ encoding

TEST(EncodeTest, RoundTripOfSampledValues) {
  const SearchSpace space = FullSpace();
  Rng rng(5);
  for (int i = 0; i < 10000; ++i) {
    const ParamMap p = SampleUniform(space, rng);
    for (const auto& [name, value] : p.values()) {
      const ParamSpec& spec = *FindParam(space, name);
      const double u = Encode(spec, value);
      ASSERT_GE(u, 0.0) << name;
      ASSERT_LE(u, 1.0) << name;
      const ParamValue back = Decode(spec, u);
      ASSERT_TRUE(ValueEquals(back, value))
          << name << ": " << FormatValue(value) << " -> " << u << " -> " << FormatValue(back);
    }
  }
}

TEST(EncodeTest, RoundTripOfEveryGridValue) {
  const SearchSpace space = FullSpace();
  for (const char* name : {"units", "layers", "width"}) {
    const ParamSpec& spec = *FindParam(space, name);
    const auto& d = spec.int_domain();
    const int64_t step = d.step() > 0 ? d.step() : 1;
    for (int64_t v = d.low(); v <= d.high(); v += step) {
      EXPECT_EQ(Decode(spec, Encode(spec, I(v))).int_value(), v) << name;
    }
  }
  const ParamSpec& drop = *FindParam(space, "drop");
  for (int k = 0; k <= 5; ++k) {
    const double v = 0 + k * 0.1;
    EXPECT_EQ(Decode(drop, Encode(drop, F(v))).float_value(), v);
  }
  const ParamSpec& x1 = *FindParam(space, "x1");
  for (double v : {-5.0, 10.0, 0.0, 2.5, 9.999999999999998, -4.999999999999999}) {
    EXPECT_EQ(Decode(x1, Encode(x1, F(v))).float_value(), v);
  }
  // Next to 0 many doubles share one u: they come back within rounding of the range.
  for (double v : {0.1, 1.0 / 3.0, -1e-10}) {
    EXPECT_NEAR(Decode(x1, Encode(x1, F(v))).float_value(), v, 15 * 1e-15);
  }
}

TEST(EncodeTest, DecodedValuesRoundTripExactly) {
  const SearchSpace space = FullSpace();
  for (const ParamSpec& spec : space.params()) {
    for (int i = 0; i <= 1000; ++i) {
      const ParamValue v = Decode(spec, i / 1000.0);
      ASSERT_TRUE(ValueEquals(Decode(spec, Encode(spec, v)), v))
          << spec.name() << " " << FormatValue(v);
    }
  }
}

TEST(EncodeTest, KnownPositions) {
  const SearchSpace space = FullSpace();
  EXPECT_EQ(Encode(*FindParam(space, "x1"), F(-5)), 0.0);
  EXPECT_EQ(Encode(*FindParam(space, "x1"), F(10)), 1.0);
  EXPECT_DOUBLE_EQ(Encode(*FindParam(space, "x1"), F(2.5)), 0.5);
  EXPECT_NEAR(Encode(*FindParam(space, "lr"), F(1e-3)), 0.5, 1e-12);
  EXPECT_DOUBLE_EQ(Encode(*FindParam(space, "optimizer"), S("sgd")), 0.25);
  EXPECT_DOUBLE_EQ(Encode(*FindParam(space, "optimizer"), S("adam")), 0.75);
  // Ints own equal slices: layers 1..4 are at 1/8, 3/8, 5/8, 7/8.
  EXPECT_DOUBLE_EQ(Encode(*FindParam(space, "layers"), I(1)), 0.125);
  EXPECT_DOUBLE_EQ(Encode(*FindParam(space, "layers"), I(4)), 0.875);
}

TEST(EncodeTest, DecodeClampsAndSnaps) {
  const SearchSpace space = FullSpace();
  EXPECT_EQ(Decode(*FindParam(space, "x1"), -0.5).float_value(), -5);
  EXPECT_EQ(Decode(*FindParam(space, "x1"), 7).float_value(), 10);
  EXPECT_EQ(Decode(*FindParam(space, "x1"), NAN).float_value(), -5);
  EXPECT_EQ(Decode(*FindParam(space, "layers"), 0.0).int_value(), 1);
  EXPECT_EQ(Decode(*FindParam(space, "layers"), 0.26).int_value(), 2);
  EXPECT_EQ(Decode(*FindParam(space, "layers"), 1.0).int_value(), 4);
  EXPECT_EQ(Decode(*FindParam(space, "width"), 1.0).int_value(), 96);
  EXPECT_EQ(Decode(*FindParam(space, "drop"), 0.33).float_value(), 0.2);  // 1.65 steps -> 2
  EXPECT_EQ(Decode(*FindParam(space, "optimizer"), 0.0).string_value(), "sgd");
  EXPECT_EQ(Decode(*FindParam(space, "optimizer"), 0.5).string_value(), "adam");
  EXPECT_EQ(Decode(*FindParam(space, "optimizer"), 1.0).string_value(), "adam");
  EXPECT_EQ(Decode(*FindParam(space, "units"), 0.0).int_value(), 16);
  EXPECT_EQ(Decode(*FindParam(space, "units"), 1.0).int_value(), 512);
}

TEST(EncodeTest, UniformUDecodesToUniformInts) {
  const ParamSpec spec = Space(R"pb(params {
                                      name: "n"
                                      int_domain { low: 0 high: 3 }
                                    })pb")
                             .params(0);
  std::map<int64_t, int> counts;
  for (int i = 0; i < 4000; ++i) ++counts[Decode(spec, (i + 0.5) / 4000).int_value()];
  EXPECT_EQ(counts, (std::map<int64_t, int>{{0, 1000}, {1, 1000}, {2, 1000}, {3, 1000}}));
  // Also when high is off the step grid: 0, 4 and 8 (not 10) own a third each.
  const ParamSpec off_grid = Space(R"pb(params {
                                          name: "n"
                                          int_domain { low: 0 high: 10 step: 4 }
                                        })pb")
                                 .params(0);
  counts.clear();
  for (int i = 0; i < 3000; ++i) ++counts[Decode(off_grid, (i + 0.5) / 3000).int_value()];
  EXPECT_EQ(counts, (std::map<int64_t, int>{{0, 1000}, {4, 1000}, {8, 1000}}));
  EXPECT_DOUBLE_EQ(Encode(off_grid, I(8)), 5.0 / 6);
}

// ------------------------------------------------------------------ values

TEST(ValueTest, EqualsNeedsSameKind) {
  EXPECT_TRUE(ValueEquals(F(1.5), F(1.5)));
  EXPECT_FALSE(ValueEquals(F(1), I(1)));
  EXPECT_FALSE(ValueEquals(S("1"), I(1)));
  EXPECT_TRUE(ValueEquals(B(true), B(true)));
  EXPECT_FALSE(ValueEquals(B(true), B(false)));
  EXPECT_TRUE(ValueEquals(ParamValue(), ParamValue()));
}

TEST(ValueTest, Format) {
  EXPECT_EQ(FormatValue(F(0.1)), "0.1");
  EXPECT_EQ(FormatValue(F(1e-5)), "1e-05");
  EXPECT_EQ(FormatValue(F(2.0)), "2");
  EXPECT_EQ(FormatValue(F(-2.5)), "-2.5");
  EXPECT_EQ(FormatValue(F(1.0 / 3.0)), "0.3333333333333333");
  EXPECT_EQ(FormatValue(F(10)), "10");
  EXPECT_EQ(FormatValue(F(1e22)), "1e+22");
  EXPECT_EQ(FormatValue(F(0.1 + 0.2)), "0.30000000000000004");
  EXPECT_EQ(FormatValue(I(-42)), "-42");
  EXPECT_EQ(FormatValue(S("adam")), "adam");
  EXPECT_EQ(FormatValue(B(true)), "true");
  EXPECT_EQ(FormatValue(B(false)), "false");
}

TEST(ValueTest, ParseValue) {
  const SearchSpace space = FullSpace();
  auto lr = ParseValue(*FindParam(space, "lr"), "0.01");
  ASSERT_TRUE(lr.ok());
  EXPECT_TRUE(ValueEquals(*lr, F(0.01)));
  auto units = ParseValue(*FindParam(space, "units"), "128");
  ASSERT_TRUE(units.ok());
  EXPECT_TRUE(ValueEquals(*units, I(128)));
  auto units_float = ParseValue(*FindParam(space, "units"), "1e2");
  ASSERT_TRUE(units_float.ok());
  EXPECT_TRUE(ValueEquals(*units_float, I(100)));
  auto opt = ParseValue(*FindParam(space, "optimizer"), "adam");
  ASSERT_TRUE(opt.ok());
  EXPECT_TRUE(ValueEquals(*opt, S("adam")));
  // Out of bounds still parses: bounds are ValidateParams' job.
  EXPECT_TRUE(ParseValue(*FindParam(space, "x1"), "100").ok());

  ExpectInvalid(ParseValue(*FindParam(space, "lr"), "fast").status(),
                "params.lr: 'fast' is not a finite number");
  ExpectInvalid(ParseValue(*FindParam(space, "lr"), "inf").status(),
                "params.lr: 'inf' is not a finite number");
  ExpectInvalid(ParseValue(*FindParam(space, "units"), "12.5").status(),
                "params.units: '12.5' is not an integer");
  ExpectInvalid(ParseValue(*FindParam(space, "optimizer"), "rmsprop").status(),
                "params.optimizer: 'rmsprop' is not one of [sgd, adam]");

  const SearchSpace typed = Space(R"pb(
    params {
      name: "f"
      categorical {
        choices { float_value: 0.5 }
        choices { float_value: 1e-05 }
      }
    }
    params {
      name: "b"
      categorical {
        choices { bool_value: true }
        choices { bool_value: false }
      }
    }
  )pb");
  auto f = ParseValue(typed.params(0), "1e-05");
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(ValueEquals(*f, F(1e-5)));
  auto f2 = ParseValue(typed.params(0), "1E-5");
  ASSERT_TRUE(f2.ok());
  EXPECT_TRUE(ValueEquals(*f2, F(1e-5)));
  ExpectInvalid(ParseValue(typed.params(0), "0.25").status(),
                "params.f: '0.25' is not one of [0.5, 1e-05]");
  auto b = ParseValue(typed.params(1), "false");
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(ValueEquals(*b, B(false)));
}

TEST(ValueTest, ParamsToJson) {
  EXPECT_EQ(ParamsToJson(Params({{"x", F(1.5)}, {"n", I(3)}, {"kind", S("b")}})),
            R"({"kind":"b","n":3,"x":1.5})");
  EXPECT_EQ(ParamsToJson(Params({{"lr", F(1e-5)},
                                 {"w", F(2)},
                                 {"on", B(true)},
                                 {"q", S("say \"hi\"")},
                                 {"t", F(0.1 + 0.2)}})),
            R"({"lr":1e-05,"on":true,"q":"say \"hi\"","t":0.30000000000000004,"w":2.0})");
  EXPECT_EQ(ParamsToJson(ParamMap()), "{}");
}

TEST(ValueTest, FindParam) {
  const SearchSpace space = FullSpace();
  ASSERT_NE(FindParam(space, "lr"), nullptr);
  EXPECT_EQ(FindParam(space, "lr")->name(), "lr");
  EXPECT_EQ(FindParam(space, "nope"), nullptr);
}

// The numeric parameters of both CheckSpaceWithin tests' outer spaces.
constexpr char kCheckedNumerics[] = R"pb(
  params {
    name: "x"
    float_domain { low: -5 high: 10 }
  }
  params {
    name: "q"
    float_domain { low: 0 high: 1 step: 0.25 }
  }
  params {
    name: "n"
    int_domain { low: 1 high: 9 step: 2 }
  }
)pb";

TEST(CheckSpaceWithinTest, AcceptsWhatTheOuterSpaceTakes) {
  const SearchSpace outer = Space(std::string(kCheckedNumerics) + R"pb(
    params {
      name: "opt"
      categorical {
        choices { string_value: "adam" }
        choices { string_value: "sgd" }
        choices { string_value: "rms" }
      }
    }
    params {
      name: "mom"
      float_domain { low: 0 high: 1 }
      condition {
        parent: "opt"
        values { string_value: "sgd" }
        values { string_value: "rms" }
      }
    }
  )pb");
  EXPECT_TRUE(CheckSpaceWithin(outer, outer, "task 't'").ok());
  // Narrower ranges, a coarser grid on the outer one, fewer choices: every value still fits.
  // Without "rms" among the choices, the condition needs only "sgd".
  const SearchSpace inner = Space(R"pb(
    params {
      name: "x"
      float_domain { low: 0.5 high: 2 log: true }
    }
    params {
      name: "q"
      float_domain { low: 0.25 high: 1 step: 0.5 }
    }
    params {
      name: "n"
      int_domain { low: 3 high: 7 step: 4 }
    }
    params {
      name: "opt"
      categorical {
        choices { string_value: "sgd" }
        choices { string_value: "adam" }
      }
    }
    params {
      name: "mom"
      float_domain { low: 0.5 high: 0.9 }
      condition {
        parent: "opt"
        values { string_value: "sgd" }
      }
    }
  )pb");
  EXPECT_TRUE(CheckSpaceWithin(inner, outer, "task 't'").ok());
}

TEST(CheckSpaceWithinTest, NamesWhatDoesNotFit) {
  const SearchSpace outer = Space(std::string(kCheckedNumerics) + R"pb(
    params {
      name: "c"
      categorical {
        choices { int_value: 1 }
        choices { int_value: 2 }
      }
    }
    params {
      name: "d"
      float_domain { low: 0 high: 1 }
      condition {
        parent: "c"
        values { int_value: 2 }
      }
    }
  )pb");
  auto check = [&](const std::string& name, const std::string& replacement) {
    SearchSpace inner = outer;
    for (ParamSpec& p : *inner.mutable_params()) {
      if (p.name() == name) {
        EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(replacement, &p)) << replacement;
      }
    }
    absl::Status s = CheckSpaceWithin(inner, outer, "task 't'");
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << replacement;
    return std::string(s.message());
  };
  EXPECT_EQ(check("x", R"pb(name: "x"
                            float_domain { low: -5 high: 11 })pb"),
            "space.x: float [-5, 11] does not fit task 't', which takes float [-5, 10]");
  EXPECT_EQ(check("q", R"pb(name: "q"
                            float_domain { low: 0 high: 1 })pb"),
            "space.q: float [0, 1] does not fit task 't', which takes float [0, 1] step 0.25");
  EXPECT_EQ(check("q", R"pb(name: "q"
                            float_domain { low: 0.1 high: 1 step: 0.25 })pb"),
            "space.q: float [0.1, 1] step 0.25 does not fit task 't', which takes float [0, 1] "
            "step 0.25");
  EXPECT_EQ(check("n", R"pb(name: "n"
                            int_domain { low: 2 high: 8 step: 2 })pb"),
            "space.n: int [2, 8] step 2 does not fit task 't', which takes int [1, 9] step 2");
  EXPECT_EQ(check("n", R"pb(name: "n"
                            int_domain { low: 1 high: 9 step: 3 })pb"),
            "space.n: int [1, 9] step 3 does not fit task 't', which takes int [1, 9] step 2");
  EXPECT_EQ(check("n", R"pb(name: "n"
                            float_domain { low: 1 high: 9 })pb"),
            "space.n: float [1, 9] does not fit task 't', which takes int [1, 9] step 2");
  EXPECT_EQ(check("c", R"pb(name: "c"
                            categorical { choices { int_value: 3 } })pb"),
            "space.c: choices [3] does not fit task 't', which takes choices [1, 2]");
  EXPECT_EQ(check("d", R"pb(name: "d"
                            float_domain { low: 0 high: 1 })pb"),
            "space.d: always active, but active when c in [2] in task 't'");
  EXPECT_EQ(check("d", R"pb(name: "d"
                            float_domain { low: 0 high: 1 }
                            condition {
                              parent: "c"
                              values { int_value: 1 }
                              values { int_value: 2 }
                            }
            )pb"),
            "space.d: active when c in [1, 2], but active when c in [2] in task 't'");
  EXPECT_EQ(check("x", R"pb(name: "y"
                            float_domain { low: -5 high: 10 })pb"),
            "space: task 't' has no parameter 'y'");
  SearchSpace fewer = outer;
  fewer.mutable_params()->RemoveLast();
  EXPECT_EQ(CheckSpaceWithin(fewer, outer, "task 't'").message(),
            "space: task 't' needs parameter 'd' (active when c in [2])");
}

// Values count, not how the study declares them: they reach the task as text.
TEST(CheckSpaceWithinTest, JudgesValuesAndReachableConditions) {
  const SearchSpace outer = Space(R"pb(
    params {
      name: "x"
      float_domain { low: -5 high: 10 }
    }
    params {
      name: "n"
      int_domain { low: 0 high: 9 }
    }
    params {
      name: "kind"
      categorical {
        choices { string_value: "a" }
        choices { string_value: "b" }
        choices { string_value: "c" }
      }
    }
    params {
      name: "y"
      float_domain { low: 0 high: 1 }
      condition {
        parent: "kind"
        values { string_value: "b" }
      }
    }
  )pb");
  // Numeric choices and an int range for a float; an int grid whose top value (8) fits though
  // its high (10) does not; no y where kind cannot be b.
  const SearchSpace no_b = Space(R"pb(
    params {
      name: "x"
      categorical {
        choices { float_value: -2.5 }
        choices { int_value: 0 }
        choices { float_value: 2.5 }
      }
    }
    params {
      name: "n"
      int_domain { low: 0 high: 10 step: 4 }
    }
    params {
      name: "kind"
      categorical {
        choices { string_value: "a" }
        choices { string_value: "c" }
      }
    }
  )pb");
  EXPECT_TRUE(CheckSpaceWithin(no_b, outer, "task 't'").ok())
      << CheckSpaceWithin(no_b, outer, "task 't'");
  // Where kind is always b, y may be unconditional.
  const SearchSpace only_b = Space(R"pb(
    params {
      name: "x"
      int_domain { low: -5 high: 10 }
    }
    params {
      name: "n"
      int_domain { low: 0 high: 9 }
    }
    params {
      name: "kind"
      categorical { choices { string_value: "b" } }
    }
    params {
      name: "y"
      float_domain { low: 0 high: 1 }
    }
  )pb");
  EXPECT_TRUE(CheckSpaceWithin(only_b, outer, "task 't'").ok())
      << CheckSpaceWithin(only_b, outer, "task 't'");
  // But not where kind can be a or b.
  SearchSpace a_or_b = only_b;
  a_or_b.mutable_params(2)->mutable_categorical()->add_choices()->set_string_value("a");
  EXPECT_EQ(CheckSpaceWithin(a_or_b, outer, "task 't'").message(),
            "space.y: always active, but active when kind in [b] in task 't'");
  // And y is needed where kind can be b.
  SearchSpace no_y = a_or_b;
  no_y.mutable_params()->RemoveLast();
  EXPECT_EQ(CheckSpaceWithin(no_y, outer, "task 't'").message(),
            "space: task 't' needs parameter 'y' (active when kind in [b])");
  // A choice the float cannot read, and a continuum for an int, do not fit.
  SearchSpace bad = no_b;
  bad.mutable_params(0)->mutable_categorical()->add_choices()->set_float_value(11);
  EXPECT_EQ(
      CheckSpaceWithin(bad, outer, "task 't'").message(),
      "space.x: choices [-2.5, 0, 2.5, 11] does not fit task 't', which takes float [-5, 10]");
  bad = no_b;
  bad.mutable_params(1)->mutable_float_domain()->set_low(0);
  bad.mutable_params(1)->mutable_float_domain()->set_high(9);
  EXPECT_EQ(CheckSpaceWithin(bad, outer, "task 't'").message(),
            "space.n: float [0, 9] does not fit task 't', which takes int [0, 9]");
}

}  // namespace
}  // namespace hpo::core
