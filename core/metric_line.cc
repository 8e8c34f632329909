#include "core/metric_line.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace hpo::core {

namespace {

absl::string_view StripLineEnd(absl::string_view line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  return line;
}

absl::Status Bad(absl::string_view reason) { return absl::InvalidArgumentError(reason); }

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// True when `s` is well-formed UTF-8 (no overlong forms, surrogates or code points above
// U+10FFFF), as protobuf requires of string fields.
bool IsValidUtf8(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;  // a continuation byte, 0xC0/0xC1 (overlong) or 0xF5..0xFF
    }
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      const unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)) return false;  // overlong
    if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return false;
    i += len;
  }
  return true;
}

// A value of the flat object.
struct Value {
  enum Kind { kNumber, kBool } kind = kNumber;
  double number = 0;
  bool boolean = false;
  std::string text;  // the number as written, for integer checks of "step"
};

// Recursive-descent reader for one flat JSON object, plus the bare words NaN, Infinity and
// -Infinity that Python's json module writes for non-finite floats.
class Reader {
 public:
  // Reads `text` from `pos` on; offsets in messages count from the start of `text`.
  Reader(absl::string_view text, size_t pos) : text_(text), pos_(pos) {}

  void SkipSpace() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return AtEnd() ? '\0' : text_[pos_]; }
  bool Consume(char c) {
    if (Peek() != c || AtEnd()) return false;
    ++pos_;
    return true;
  }
  bool ConsumeWord(absl::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }
  absl::string_view Rest() const { return text_.substr(std::min(pos_, text_.size())); }
  size_t pos() const { return pos_; }

  absl::Status String(std::string* out) {
    if (!Consume('"')) return Bad(absl::StrCat("expected '\"' at offset ", pos_));
    while (true) {
      if (AtEnd()) return Bad("unterminated string");
      const char c = text_[pos_++];
      if (c == '"') return absl::OkStatus();
      if (static_cast<unsigned char>(c) < 0x20) return Bad("control character in string");
      if (c != '\\') {
        out->push_back(c);
        continue;
      }
      if (AtEnd()) return Bad("unterminated string");
      const char e = text_[pos_++];
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out->push_back(e);
          break;
        case 'b':
          out->push_back('\b');
          break;
        case 'f':
          out->push_back('\f');
          break;
        case 'n':
          out->push_back('\n');
          break;
        case 'r':
          out->push_back('\r');
          break;
        case 't':
          out->push_back('\t');
          break;
        case 'u': {
          uint32_t cp;
          if (!Hex4(&cp)) return Bad("bad \\u escape in string");
          if (cp >= 0xD800 && cp <= 0xDBFF) {  // high surrogate: a low one must follow
            uint32_t low;
            if (!ConsumeWord("\\u") || !Hex4(&low) || low < 0xDC00 || low > 0xDFFF) {
              return Bad("bad surrogate pair in string");
            }
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return Bad("bad surrogate pair in string");
          }
          AppendUtf8(cp, out);
          break;
        }
        default:
          return Bad(absl::StrCat("bad escape '\\", std::string(1, e), "' in string"));
      }
    }
  }

  // A value for `key`: a number, a boolean or NaN/Infinity/-Infinity.
  absl::Status ReadValue(const std::string& key, Value* out) {
    const char c = Peek();
    if (c == '"') return Bad(absl::StrCat("value of '", key, "' is a string, expected a number"));
    if (c == '{' || c == '[') {
      return Bad(absl::StrCat("value of '", key, "' is nested, expected a number"));
    }
    if (ConsumeWord("true")) {
      out->kind = Value::kBool;
      out->boolean = true;
      return absl::OkStatus();
    }
    if (ConsumeWord("false")) {
      out->kind = Value::kBool;
      out->boolean = false;
      return absl::OkStatus();
    }
    if (ConsumeWord("null")) return Bad(absl::StrCat("value of '", key, "' is null"));
    if (ConsumeWord("NaN")) {
      out->number = std::nan("");
      out->text = "NaN";
      return absl::OkStatus();
    }
    if (ConsumeWord("Infinity")) {
      out->number = HUGE_VAL;
      out->text = "Infinity";
      return absl::OkStatus();
    }
    if (ConsumeWord("-Infinity")) {
      out->number = -HUGE_VAL;
      out->text = "-Infinity";
      return absl::OkStatus();
    }
    // JSON number: -?digits(.digits)?([eE][+-]?digits)?
    const size_t start = pos_;
    Consume('-');
    const size_t int_start = pos_;
    while (absl::ascii_isdigit(Peek())) ++pos_;
    bool ok = pos_ > int_start;
    if (ok && Consume('.')) {
      const size_t frac_start = pos_;
      while (absl::ascii_isdigit(Peek())) ++pos_;
      ok = pos_ > frac_start;
    }
    if (ok && (Peek() == 'e' || Peek() == 'E')) {
      ++pos_;
      if (Peek() == '+' || Peek() == '-') ++pos_;
      const size_t exp_start = pos_;
      while (absl::ascii_isdigit(Peek())) ++pos_;
      ok = pos_ > exp_start;
    }
    if (!ok) {
      pos_ = start;
      return Bad(absl::StrCat("value of '", key, "' is not a number"));
    }
    out->text = std::string(text_.substr(start, pos_ - start));
    out->number = std::strtod(out->text.c_str(), nullptr);  // out of range gives +-HUGE_VAL
    return absl::OkStatus();
  }

 private:
  bool Hex4(uint32_t* out) {
    if (pos_ + 4 > text_.size()) return false;
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const char h = text_[pos_ + i];
      v <<= 4;
      if (h >= '0' && h <= '9') {
        v |= h - '0';
      } else if (h >= 'a' && h <= 'f') {
        v |= h - 'a' + 10;
      } else if (h >= 'A' && h <= 'F') {
        v |= h - 'A' + 10;
      } else {
        return false;
      }
    }
    pos_ += 4;
    *out = v;
    return true;
  }

  absl::string_view text_;
  size_t pos_ = 0;
};

absl::StatusOr<int64_t> StepValue(const Value& v) {
  if (v.kind != Value::kNumber) return Bad("step must be a non-negative integer, got a boolean");
  int64_t step;
  if (absl::SimpleAtoi(v.text, &step)) {
    if (step < 0) return Bad(absl::StrCat("step must be a non-negative integer, got ", v.text));
    return step;
  }
  // 3.0 or 1e3 are integers written as floats.
  const double d = v.number;
  if (std::isfinite(d) && d >= 0 && d < 0x1.0p63 && std::floor(d) == d) {
    return static_cast<int64_t>(d);
  }
  return Bad(absl::StrCat("step must be a non-negative integer, got ", v.text));
}

// Shortest text that reads back as exactly v; non-finite as Python's json writes them.
std::string FormatNumber(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  char buf[64];
  const auto result = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, result.ptr);
}

void AppendJsonString(absl::string_view s, std::string* out) {
  out->push_back('"');
  for (const char c : s) {
    switch (c) {
      case '"':
        *out += "\\\"";
        break;
      case '\\':
        *out += "\\\\";
        break;
      case '\n':
        *out += "\\n";
        break;
      case '\r':
        *out += "\\r";
        break;
      case '\t':
        *out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned char>(c));
          *out += buf;
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

}  // namespace

bool IsMetricLine(absl::string_view line) {
  line = StripLineEnd(line);
  if (line.size() <= kMetricPrefix.size()) return false;
  if (line.substr(0, kMetricPrefix.size()) != kMetricPrefix) return false;
  const char next = line[kMetricPrefix.size()];
  return next == ' ' || next == '\t';
}

absl::StatusOr<MetricLine> ParseMetricLine(absl::string_view line) {
  line = StripLineEnd(line);
  if (!IsMetricLine(line)) {
    return absl::InvalidArgumentError("not a metric line (expected 'hpo-metric {...}')");
  }
  Reader r(line, kMetricPrefix.size());
  r.SkipSpace();
  if (!r.Consume('{')) return Bad("payload is not a JSON object");
  MetricLine out;
  std::set<std::string> seen;
  r.SkipSpace();
  if (!r.Consume('}')) {
    while (true) {
      r.SkipSpace();
      std::string key;
      if (r.Peek() != '"') return Bad(absl::StrCat("expected a quoted key at offset ", r.pos()));
      if (auto s = r.String(&key); !s.ok()) return s;
      if (!IsValidUtf8(key)) return Bad("metric name is not valid UTF-8");
      if (!seen.insert(key).second) return Bad(absl::StrCat("duplicate key '", key, "'"));
      r.SkipSpace();
      if (!r.Consume(':')) return Bad(absl::StrCat("expected ':' after key '", key, "'"));
      r.SkipSpace();
      Value value;
      if (auto s = r.ReadValue(key, &value); !s.ok()) return s;
      if (key == "step") {
        auto step = StepValue(value);
        if (!step.ok()) return step.status();
        out.step = *step;
      } else if (key == "final") {
        if (value.kind != Value::kBool) return Bad("final must be true or false");
        out.final = value.boolean;
      } else {
        if (value.kind == Value::kBool) {
          return Bad(absl::StrCat("value of '", key, "' is a boolean, expected a number"));
        }
        out.metrics[key] = value.number;
      }
      r.SkipSpace();
      if (r.Consume(',')) continue;
      if (r.Consume('}')) break;
      if (r.AtEnd()) return Bad("unterminated object");
      return Bad(absl::StrCat("expected ',' or '}' after the value of '", key, "'"));
    }
  }
  r.SkipSpace();
  if (!r.AtEnd()) return Bad(absl::StrCat("trailing text after the object: '", r.Rest(), "'"));
  return out;
}

std::string FormatMetricLine(const MetricLine& line) {
  std::string out = absl::StrCat(kMetricPrefix, " {");
  bool first = true;
  auto sep = [&]() {
    if (!first) out += ", ";
    first = false;
  };
  if (line.step.has_value()) {
    sep();
    absl::StrAppend(&out, "\"step\": ", *line.step);
  }
  for (const auto& [key, value] : line.metrics) {
    sep();
    AppendJsonString(key, &out);
    absl::StrAppend(&out, ": ", FormatNumber(value));
  }
  if (line.final) {
    sep();
    out += "\"final\": true";
  }
  out += "}";
  return out;
}

}  // namespace hpo::core
