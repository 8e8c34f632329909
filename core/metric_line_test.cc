#include "core/metric_line.h"

#include <cmath>
#include <limits>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hpo::core {
namespace {

using ::testing::HasSubstr;

MetricLine MustParse(absl::string_view line) {
  auto parsed = ParseMetricLine(line);
  EXPECT_TRUE(parsed.ok()) << line << ": " << parsed.status();
  return parsed.ok() ? *parsed : MetricLine{};
}

void ExpectBad(absl::string_view line, absl::string_view message) {
  auto parsed = ParseMetricLine(line);
  ASSERT_FALSE(parsed.ok()) << line;
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << line;
  EXPECT_EQ(parsed.status().message(), message) << line;
}

TEST(MetricLineTest, IsMetricLine) {
  EXPECT_TRUE(IsMetricLine("hpo-metric {}"));
  EXPECT_TRUE(IsMetricLine("hpo-metric\t{\"a\": 1}\r\n"));
  EXPECT_FALSE(IsMetricLine("hpo-metric"));
  EXPECT_FALSE(IsMetricLine("hpo-metric\n"));
  EXPECT_FALSE(IsMetricLine("hpo-metrics {}"));
  EXPECT_FALSE(IsMetricLine(" hpo-metric {}"));
  EXPECT_FALSE(IsMetricLine("epoch 3 loss 0.5"));
  EXPECT_FALSE(IsMetricLine(""));
}

TEST(MetricLineTest, ParsesValidLine) {
  MetricLine m = MustParse(R"(hpo-metric {"step": 3, "loss": 0.52, "accuracy": 0.81})");
  ASSERT_TRUE(m.step.has_value());
  EXPECT_EQ(*m.step, 3);
  EXPECT_FALSE(m.final);
  EXPECT_EQ(m.metrics.size(), 2u);
  EXPECT_EQ(m.metrics["loss"], 0.52);
  EXPECT_EQ(m.metrics["accuracy"], 0.81);
}

TEST(MetricLineTest, StepIsOptionalAndNumbersVary) {
  MetricLine m = MustParse(R"(hpo-metric {"value":-1.5e-3,"n":0,"big":12345678901234})");
  EXPECT_FALSE(m.step.has_value());
  EXPECT_EQ(m.metrics["value"], -1.5e-3);
  EXPECT_EQ(m.metrics["n"], 0.0);
  EXPECT_EQ(m.metrics["big"], 12345678901234.0);
  EXPECT_TRUE(MustParse("hpo-metric {}").metrics.empty());
  EXPECT_TRUE(MustParse("hpo-metric   {  }  ").metrics.empty());
}

TEST(MetricLineTest, NaNAndInfinity) {
  MetricLine m = MustParse(R"(hpo-metric {"a": NaN, "b": Infinity, "c": -Infinity})");
  EXPECT_TRUE(std::isnan(m.metrics["a"]));
  EXPECT_EQ(m.metrics["b"], std::numeric_limits<double>::infinity());
  EXPECT_EQ(m.metrics["c"], -std::numeric_limits<double>::infinity());
}

TEST(MetricLineTest, Final) {
  MetricLine m = MustParse(R"(hpo-metric {"loss": 0.1, "final": true})");
  EXPECT_TRUE(m.final);
  EXPECT_EQ(m.metrics.count("final"), 0u);
  EXPECT_EQ(m.metrics["loss"], 0.1);
  EXPECT_FALSE(MustParse(R"(hpo-metric {"loss": 0.1, "final": false})").final);
  ExpectBad(R"(hpo-metric {"final": 1})", "final must be true or false");
}

TEST(MetricLineTest, Step) {
  EXPECT_EQ(*MustParse(R"(hpo-metric {"step": 0})").step, 0);
  EXPECT_EQ(*MustParse(R"(hpo-metric {"step": 7.0})").step, 7);
  EXPECT_EQ(*MustParse(R"(hpo-metric {"step": 9007199254740993})").step, 9007199254740993);
  ExpectBad(R"(hpo-metric {"step": -1})", "step must be a non-negative integer, got -1");
  ExpectBad(R"(hpo-metric {"step": 1.5})", "step must be a non-negative integer, got 1.5");
  ExpectBad(R"(hpo-metric {"step": NaN})", "step must be a non-negative integer, got NaN");
  ExpectBad(R"(hpo-metric {"step": true})", "step must be a non-negative integer, got a boolean");
}

TEST(MetricLineTest, CrLfIsIgnored) {
  MetricLine m = MustParse("hpo-metric {\"loss\": 2}\r\n");
  EXPECT_EQ(m.metrics["loss"], 2.0);
  m = MustParse("hpo-metric {\"loss\": 3}\n");
  EXPECT_EQ(m.metrics["loss"], 3.0);
}

TEST(MetricLineTest, EscapedKeys) {
  MetricLine m = MustParse(R"(hpo-metric {"a\"b": 1, "\u00e9\ud83d\ude00": 2, "x\\y": 3})");
  EXPECT_EQ(m.metrics["a\"b"], 1.0);
  EXPECT_EQ(m.metrics["\xc3\xa9\xf0\x9f\x98\x80"], 2.0);
  EXPECT_EQ(m.metrics["x\\y"], 3.0);
}

// Metric names become protobuf string fields, which must be UTF-8.
TEST(MetricLineTest, KeysMustBeValidUtf8) {
  const char* bad[] = {
      "hpo-metric {\"\xff\": 1}",              // never valid
      "hpo-metric {\"lo\xe9ss\": 1}",          // Latin-1 e-acute
      "hpo-metric {\"\xc3\": 1}",              // truncated sequence
      "hpo-metric {\"\xc0\xaf\": 1}",          // overlong '/'
      "hpo-metric {\"\xed\xa0\x80\": 1}",      // UTF-16 surrogate U+D800
      "hpo-metric {\"\xf4\x90\x80\x80\": 1}",  // above U+10FFFF
      "hpo-metric {\"\x80z\": 1}",             // stray continuation byte
  };
  for (const char* line : bad) ExpectBad(line, "metric name is not valid UTF-8");
  MetricLine m =
      MustParse("hpo-metric {\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\": 1}");
  EXPECT_EQ(m.metrics.size(), 1u);
}

TEST(MetricLineTest, NotAMetricLine) {
  ExpectBad("loss 0.5", "not a metric line (expected 'hpo-metric {...}')");
  ExpectBad("hpo-metric", "not a metric line (expected 'hpo-metric {...}')");
}

TEST(MetricLineTest, BadJson) {
  ExpectBad("hpo-metric loss=0.5", "payload is not a JSON object");
  ExpectBad("hpo-metric [1, 2]", "payload is not a JSON object");
  ExpectBad(R"(hpo-metric {"loss": 0.5)", "unterminated object");
  ExpectBad(R"(hpo-metric {"loss" 0.5})", "expected ':' after key 'loss'");
  ExpectBad(R"(hpo-metric {loss: 0.5})", "expected a quoted key at offset 12");
  ExpectBad(R"(hpo-metric {"loss": 0.5,})", "expected a quoted key at offset 24");
  ExpectBad(R"(hpo-metric {"loss": .5})", "value of 'loss' is not a number");
  ExpectBad(R"(hpo-metric {"loss": 1e})", "value of 'loss' is not a number");
  ExpectBad(R"(hpo-metric {"loss": nan})", "value of 'loss' is not a number");
  ExpectBad(R"(hpo-metric {"loss": null})", "value of 'loss' is null");
  ExpectBad(R"(hpo-metric {"lo)", "unterminated string");
  ExpectBad(R"(hpo-metric {"a": 1 "b": 2})", "expected ',' or '}' after the value of 'a'");
}

TEST(MetricLineTest, StringValue) {
  ExpectBad(R"(hpo-metric {"loss": "0.5"})", "value of 'loss' is a string, expected a number");
}

TEST(MetricLineTest, BooleanValueOtherThanFinal) {
  ExpectBad(R"(hpo-metric {"ok": true})", "value of 'ok' is a boolean, expected a number");
}

TEST(MetricLineTest, Nested) {
  ExpectBad(R"(hpo-metric {"m": {"a": 1}})", "value of 'm' is nested, expected a number");
  ExpectBad(R"(hpo-metric {"m": [1]})", "value of 'm' is nested, expected a number");
}

TEST(MetricLineTest, DuplicateKeys) {
  ExpectBad(R"(hpo-metric {"loss": 1, "loss": 2})", "duplicate key 'loss'");
  ExpectBad(R"(hpo-metric {"step": 1, "step": 2})", "duplicate key 'step'");
}

TEST(MetricLineTest, TrailingText) {
  ExpectBad(R"(hpo-metric {"loss": 1} extra)", "trailing text after the object: 'extra'");
  ExpectBad(R"(hpo-metric {"loss": 1}{})", "trailing text after the object: '{}'");
}

TEST(MetricLineTest, FormatRoundTrip) {
  MetricLine m;
  m.step = 12;
  m.final = true;
  m.metrics["loss"] = 0.1;
  m.metrics["acc"] = 1.0 / 3.0;
  m.metrics["tiny"] = 1e-300;
  m.metrics["neg"] = -2.5;
  m.metrics["nan"] = std::numeric_limits<double>::quiet_NaN();
  m.metrics["inf"] = std::numeric_limits<double>::infinity();
  m.metrics["ninf"] = -std::numeric_limits<double>::infinity();
  m.metrics["we\"ird\n"] = 7;
  const std::string text = FormatMetricLine(m);
  EXPECT_TRUE(IsMetricLine(text));
  auto back = ParseMetricLine(text);
  ASSERT_TRUE(back.ok()) << text << ": " << back.status();
  EXPECT_EQ(back->step, m.step);
  EXPECT_EQ(back->final, m.final);
  ASSERT_EQ(back->metrics.size(), m.metrics.size());
  for (const auto& [key, value] : m.metrics) {
    ASSERT_EQ(back->metrics.count(key), 1u) << key;
    if (std::isnan(value)) {
      EXPECT_TRUE(std::isnan(back->metrics[key]));
    } else {
      EXPECT_EQ(back->metrics[key], value) << key;
    }
  }
}

TEST(MetricLineTest, FormatExactText) {
  MetricLine m;
  m.step = 3;
  m.metrics["loss"] = 0.52;
  m.metrics["accuracy"] = 0.81;
  EXPECT_EQ(FormatMetricLine(m), R"(hpo-metric {"step": 3, "accuracy": 0.81, "loss": 0.52})");
  MetricLine only_final;
  only_final.final = true;
  EXPECT_EQ(FormatMetricLine(only_final), R"(hpo-metric {"final": true})");
  EXPECT_EQ(FormatMetricLine(MetricLine{}), "hpo-metric {}");
}

}  // namespace
}  // namespace hpo::core
