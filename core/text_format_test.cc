#include "core/text_format.h"

#include <cstdlib>
#include <limits>

#include "gtest/gtest.h"

namespace hpo::core {
namespace {

TEST(RoundTripNumberTest, ShortestTextThatReadsBackExactly) {
  EXPECT_EQ(RoundTripNumber(0.1), "0.1");
  EXPECT_EQ(RoundTripNumber(3.0), "3");
  EXPECT_EQ(RoundTripNumber(-2.5e-7), "-2.5e-07");
  // Ten significant digits would lose this one; the round-trip text keeps all 17.
  const double third = 1.0 / 3.0;
  EXPECT_EQ(RoundTripNumber(third), "0.3333333333333333");
  EXPECT_EQ(std::strtod(RoundTripNumber(third).c_str(), nullptr), third);
  const double v = 0.39912345678901234;
  EXPECT_EQ(std::strtod(RoundTripNumber(v).c_str(), nullptr), v);
  EXPECT_EQ(RoundTripNumber(std::numeric_limits<double>::quiet_NaN()), "nan");
  EXPECT_EQ(RoundTripNumber(-std::numeric_limits<double>::infinity()), "-inf");
}

TEST(CsvTest, QuotesOnlyWhatNeedsIt) {
  EXPECT_EQ(CsvField("plain text"), "plain text");
  EXPECT_EQ(CsvField("a,b"), "\"a,b\"");
  EXPECT_EQ(CsvField("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(CsvField("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(CsvLine({"id", "a,b", ""}), "id,\"a,b\",\n");
}

}  // namespace
}  // namespace hpo::core
