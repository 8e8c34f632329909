#include "server/optimizers/option_parsing.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hpo::server {
namespace {

TEST(OptionParsingTest, IntegersAtOrAboveTheMinimum) {
  int v = 7;
  EXPECT_TRUE(ParseIntOption("n", "12", 1, &v).ok());
  EXPECT_EQ(v, 12);
  EXPECT_TRUE(ParseIntOption("n", "1", 1, &v).ok());
  EXPECT_EQ(v, 1);
  for (const char* bad : {"0", "-3", "ten", "", "1.5", "99999999999"}) {
    v = 7;
    const absl::Status s = ParseIntOption("n", bad, 1, &v);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(s.message(), absl::StrCat("optimizer.options.n: '", bad, "' is not an integer >= 1"));
    EXPECT_EQ(v, 7) << "left unchanged on error";
  }
}

TEST(OptionParsingTest, BooleansInAnyCase) {
  bool b = false;
  EXPECT_TRUE(ParseBoolOption("flag", "TRUE", &b).ok());
  EXPECT_TRUE(b);
  EXPECT_TRUE(ParseBoolOption("flag", "false", &b).ok());
  EXPECT_FALSE(b);
  const absl::Status s = ParseBoolOption("flag", "yes", &b);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "optimizer.options.flag: 'yes' is not true or false");
}

TEST(OptionParsingTest, ChoicesSpelledExactlyAndListedInOrder) {
  int v = 0;
  EXPECT_TRUE(ParseChoiceOption("mode", "b", {{"a", 1}, {"b", 2}, {"c", 3}}, &v).ok());
  EXPECT_EQ(v, 2);
  const absl::Status s = ParseChoiceOption("mode", "B", {{"a", 1}, {"b", 2}, {"c", 3}}, &v);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "optimizer.options.mode: 'B' is not one of a, b, c");
  EXPECT_EQ(v, 2);
}

TEST(OptionParsingTest, UnknownOptionsNameTheKnownOnes) {
  EXPECT_EQ(UnknownOptionError("x", {"alpha", "beta"}).message(),
            "optimizer.options.x: unknown option (known: alpha, beta)");
}

TEST(OptionParsingTest, OptionsComeSortedByKey) {
  hpo::v1::OptimizerSpec spec;
  for (const char* key : {"zeta", "alpha", "mu"}) (*spec.mutable_options())[key] = key;
  std::vector<std::string> keys;
  for (const auto& [key, value] : SortedOptions(spec)) keys.push_back(key);
  EXPECT_THAT(keys, testing::ElementsAre("alpha", "mu", "zeta"));
}

}  // namespace
}  // namespace hpo::server
