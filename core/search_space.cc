#include "core/search_space.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/text_format.h"
#include "nlohmann/json.hpp"

namespace hpo::core {

using hpo::v1::CategoricalDomain;
using hpo::v1::FloatDomain;
using hpo::v1::IntDomain;
using hpo::v1::ParamMap;
using hpo::v1::ParamSpec;
using hpo::v1::ParamValue;
using hpo::v1::SearchSpace;

namespace {

// ------------------------------------------------------------------ random numbers
// Own helpers instead of std::uniform_*_distribution, whose algorithms differ between standard
// libraries: the same seed must give the same numbers everywhere.

// Uniform in [0, 1) with 53 random bits.
double Uniform01(Rng& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

// Uniform in [0, n) without modulo bias; n >= 1.
uint64_t UniformIndex(Rng& rng, uint64_t n) {
  if (n <= 1) return 0;
  const uint64_t limit =
      std::numeric_limits<uint64_t>::max() - std::numeric_limits<uint64_t>::max() % n;
  uint64_t x;
  do {
    x = rng();
  } while (x >= limit);
  return x % n;
}

// ------------------------------------------------------------------ domains

int64_t IntStep(const IntDomain& d) { return d.step() > 0 ? d.step() : 1; }

// Number of grid points above low: values are low + k * step for k in [0, IntGridMax].
int64_t IntGridMax(const IntDomain& d) {
  // high - low can overflow int64 for extreme bounds; compute in unsigned arithmetic.
  const uint64_t span = static_cast<uint64_t>(d.high()) - static_cast<uint64_t>(d.low());
  return static_cast<int64_t>(span / static_cast<uint64_t>(IntStep(d)));
}

int64_t FloatGridMax(const FloatDomain& d) {
  return static_cast<int64_t>(std::floor((d.high() - d.low()) / d.step() + 1e-9));
}

double FloatGridValue(const FloatDomain& d, int64_t k) {
  return std::min(d.low() + static_cast<double>(k) * d.step(), d.high());
}

// Int domains are encoded in [low - step/2, high + step/2] (in log space when log), so that every
// grid value owns an equally wide slice of [0, 1] and a uniform u decodes to a uniform value.
double IntEncodeLow(const IntDomain& d) {
  const double half = 0.5 * static_cast<double>(IntStep(d));
  const double lo = static_cast<double>(d.low()) - half;
  return d.log() ? std::log(lo) : lo;
}
double IntEncodeHigh(const IntDomain& d) {
  const double half = 0.5 * static_cast<double>(IntStep(d));
  // The top grid value, which is below high when high is off the grid.
  const double top = static_cast<double>(d.low()) +
                     static_cast<double>(IntGridMax(d)) * static_cast<double>(IntStep(d));
  const double hi = top + half;
  return d.log() ? std::log(hi) : hi;
}

bool IsIntegral(double v) {
  return std::isfinite(v) && std::floor(v) == v && v >= -0x1.0p63 && v < 0x1.0p63;
}

// Numeric view of an int_value or float_value; false for other kinds.
bool NumericValue(const ParamValue& v, double* out) {
  if (v.kind_case() == ParamValue::kFloatValue) {
    *out = v.float_value();
    return true;
  }
  if (v.kind_case() == ParamValue::kIntValue) {
    *out = static_cast<double>(v.int_value());
    return true;
  }
  return false;
}

// Like ValueEquals, but an int_value also matches an integral float_value (the way ValidateParams
// accepts int parameters given as floats).
bool ValueMatches(const ParamValue& a, const ParamValue& b) {
  if (ValueEquals(a, b)) return true;
  if (a.kind_case() == ParamValue::kIntValue && b.kind_case() == ParamValue::kFloatValue) {
    return IsIntegral(b.float_value()) && static_cast<int64_t>(b.float_value()) == a.int_value();
  }
  if (a.kind_case() == ParamValue::kFloatValue && b.kind_case() == ParamValue::kIntValue) {
    return ValueMatches(b, a);
  }
  return false;
}

std::string KindName(const ParamValue& v) {
  switch (v.kind_case()) {
    case ParamValue::kFloatValue:
      return "float";
    case ParamValue::kIntValue:
      return "int";
    case ParamValue::kStringValue:
      return "string";
    case ParamValue::kBoolValue:
      return "bool";
    default:
      return "no value";
  }
}

// "float 0.5", "string 'adam'" for messages.
std::string Describe(const ParamValue& v) {
  if (v.kind_case() == ParamValue::kStringValue) {
    return absl::StrCat("string '", v.string_value(), "'");
  }
  if (v.kind_case() == ParamValue::KIND_NOT_SET) return "no value";
  return absl::StrCat(KindName(v), " ", FormatValue(v));
}

// The value as a choice is shown in messages: strings quoted.
std::string Quoted(const ParamValue& v) { return absl::StrCat("'", FormatValue(v), "'"); }

std::string ChoiceList(const CategoricalDomain& d) {
  std::vector<std::string> parts;
  for (const ParamValue& c : d.choices()) parts.push_back(FormatValue(c));
  return absl::StrCat("[", absl::StrJoin(parts, ", "), "]");
}

std::string Num(double v) {
  ParamValue p;
  p.set_float_value(v);
  return FormatValue(p);
}

absl::Status SpaceError(absl::string_view name, absl::string_view msg) {
  return absl::InvalidArgumentError(absl::StrCat("space.", name, ": ", msg));
}

absl::Status ParamError(absl::string_view name, absl::string_view msg) {
  return absl::InvalidArgumentError(absl::StrCat("params.", name, ": ", msg));
}

absl::Status ValidateFloatDomain(const std::string& name, const FloatDomain& d) {
  if (!std::isfinite(d.low()) || !std::isfinite(d.high())) {
    return SpaceError(name, absl::StrCat("low (", Num(d.low()), ") and high (", Num(d.high()),
                                         ") must be finite"));
  }
  if (!(d.low() < d.high())) {
    return SpaceError(
        name, absl::StrCat("low (", Num(d.low()), ") must be < high (", Num(d.high()), ")"));
  }
  if (!std::isfinite(d.high() - d.low())) {
    return SpaceError(name, absl::StrCat("high - low (", Num(d.high()), " - ", Num(d.low()),
                                         ") is too large for a double"));
  }
  if (d.log() && d.low() <= 0) return SpaceError(name, "low must be > 0 on a log scale");
  if (!std::isfinite(d.step()) || d.step() < 0) {
    return SpaceError(name, absl::StrCat("step (", Num(d.step()), ") must be >= 0"));
  }
  if (d.step() > 0 && d.log()) return SpaceError(name, "step cannot be used with log");
  // Grid indices are int64 (and exact as doubles up to 2^53).
  if (d.step() > 0 && !((d.high() - d.low()) / d.step() < 0x1.0p53)) {
    return SpaceError(name,
                      absl::StrCat("step (", Num(d.step()),
                                   ") makes more than 2^53 grid values between low and high"));
  }
  return absl::OkStatus();
}

absl::Status ValidateIntDomain(const std::string& name, const IntDomain& d) {
  if (d.low() > d.high()) {
    return SpaceError(name, absl::StrCat("low (", d.low(), ") must be <= high (", d.high(), ")"));
  }
  if (d.log() && d.low() <= 0) return SpaceError(name, "low must be > 0 on a log scale");
  if (d.step() < 0) return SpaceError(name, absl::StrCat("step (", d.step(), ") must be >= 0"));
  if (d.step() > 1 && d.log()) return SpaceError(name, "step cannot be used with log");
  return absl::OkStatus();
}

absl::Status ValidateCategorical(const std::string& name, const CategoricalDomain& d) {
  if (d.choices().empty()) return SpaceError(name, "categorical needs at least one choice");
  const ParamValue::KindCase kind = d.choices(0).kind_case();
  for (int i = 0; i < d.choices_size(); ++i) {
    const ParamValue& c = d.choices(i);
    if (c.kind_case() == ParamValue::KIND_NOT_SET) {
      return SpaceError(name, absl::StrCat("choice ", i, " has no value"));
    }
    if (c.kind_case() != kind) {
      return SpaceError(
          name, absl::StrCat("choices must all be of one kind (", KindName(d.choices(0)), " ",
                             Quoted(d.choices(0)), " vs ", KindName(c), " ", Quoted(c), ")"));
    }
    if (c.kind_case() == ParamValue::kFloatValue && !std::isfinite(c.float_value())) {
      return SpaceError(name, absl::StrCat("choice ", Quoted(c), " is not finite"));
    }
    for (int j = 0; j < i; ++j) {
      if (ValueEquals(d.choices(j), c)) {
        return SpaceError(name, absl::StrCat("duplicate choice ", Quoted(c)));
      }
    }
  }
  return absl::OkStatus();
}

// Whether `v` is a valid value of `spec`; `why` says why not.
bool CheckValue(const ParamSpec& spec, const ParamValue& v, std::string* why) {
  switch (spec.domain_case()) {
    case ParamSpec::kFloatDomain: {
      const FloatDomain& d = spec.float_domain();
      if (v.kind_case() != ParamValue::kFloatValue) {
        *why = absl::StrCat("expected a float, got ", Describe(v));
        return false;
      }
      const double x = v.float_value();
      if (!std::isfinite(x)) {
        *why = absl::StrCat(Num(x), " is not finite");
        return false;
      }
      if (x < d.low()) {
        *why = absl::StrCat(Num(x), " is below low (", Num(d.low()), ")");
        return false;
      }
      if (x > d.high()) {
        *why = absl::StrCat(Num(x), " is above high (", Num(d.high()), ")");
        return false;
      }
      if (d.step() > 0) {
        const double k = (x - d.low()) / d.step();
        if (std::fabs(k - std::round(k)) > 1e-9 * std::max(1.0, std::fabs(k))) {
          *why = absl::StrCat(Num(x), " is not on the step grid (low ", Num(d.low()), ", step ",
                              Num(d.step()), ")");
          return false;
        }
      }
      return true;
    }
    case ParamSpec::kIntDomain: {
      const IntDomain& d = spec.int_domain();
      int64_t x;
      if (v.kind_case() == ParamValue::kIntValue) {
        x = v.int_value();
      } else if (v.kind_case() == ParamValue::kFloatValue && IsIntegral(v.float_value())) {
        x = static_cast<int64_t>(v.float_value());
      } else {
        *why = absl::StrCat("expected an int, got ", Describe(v));
        return false;
      }
      if (x < d.low()) {
        *why = absl::StrCat(x, " is below low (", d.low(), ")");
        return false;
      }
      if (x > d.high()) {
        *why = absl::StrCat(x, " is above high (", d.high(), ")");
        return false;
      }
      const uint64_t offset = static_cast<uint64_t>(x) - static_cast<uint64_t>(d.low());
      if (offset % static_cast<uint64_t>(IntStep(d)) != 0) {
        *why =
            absl::StrCat(x, " is not on the step grid (low ", d.low(), ", step ", IntStep(d), ")");
        return false;
      }
      return true;
    }
    case ParamSpec::kCategorical: {
      for (const ParamValue& c : spec.categorical().choices()) {
        if (ValueEquals(c, v)) return true;
      }
      *why = absl::StrCat(Describe(v), " is not one of ", ChoiceList(spec.categorical()));
      return false;
    }
    default:
      *why = "the parameter has no domain";
      return false;
  }
}

// A JSON string literal; invalid UTF-8 is replaced rather than thrown about.
std::string JsonString(const std::string& s) {
  return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// ------------------------------------------------------------------ float encoding

double FloatEncodeRaw(const FloatDomain& d, double v) {
  if (d.log()) {
    const double lo = std::log(d.low());
    const double hi = std::log(d.high());
    return (std::log(v) - lo) / (hi - lo);
  }
  return (v - d.low()) / (d.high() - d.low());
}

double Clamp01(double u) {
  if (!(u >= 0)) return 0;  // also NaN
  return u > 1 ? 1 : u;
}

double FloatDecodeContinuous(const FloatDomain& d, double u) {
  double v;
  if (d.log()) {
    const double lo = std::log(d.low());
    const double hi = std::log(d.high());
    v = std::exp(lo + u * (hi - lo));
  } else {
    v = d.low() + u * (d.high() - d.low());
  }
  v = std::clamp(v, d.low(), d.high());
  // The arithmetic above can land a few ulps off the value that was encoded; look nearby for the
  // double that encodes to exactly u, so that Decode(Encode(v)) == v.
  if (FloatEncodeRaw(d, v) == u) return v;
  double down = v;
  double up = v;
  for (int i = 0; i < 16; ++i) {
    down = std::nextafter(down, -std::numeric_limits<double>::infinity());
    up = std::nextafter(up, std::numeric_limits<double>::infinity());
    if (up <= d.high() && FloatEncodeRaw(d, up) == u) return up;
    if (down >= d.low() && FloatEncodeRaw(d, down) == u) return down;
  }
  return v;
}

}  // namespace

// ------------------------------------------------------------------ validation

absl::Status ValidateSearchSpace(const SearchSpace& space) {
  std::map<std::string, int> index;  // name -> position
  for (int i = 0; i < space.params_size(); ++i) {
    const ParamSpec& spec = space.params(i);
    const std::string& name = spec.name();
    if (name.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("space: parameter ", i, " has no name"));
    }
    if (index.count(name) > 0) return SpaceError(name, "duplicate parameter name");
    switch (spec.domain_case()) {
      case ParamSpec::kFloatDomain:
        if (auto s = ValidateFloatDomain(name, spec.float_domain()); !s.ok()) return s;
        break;
      case ParamSpec::kIntDomain:
        if (auto s = ValidateIntDomain(name, spec.int_domain()); !s.ok()) return s;
        break;
      case ParamSpec::kCategorical:
        if (auto s = ValidateCategorical(name, spec.categorical()); !s.ok()) return s;
        break;
      default:
        return SpaceError(name, "no domain set (expected float, int or categorical)");
    }
    if (spec.has_condition()) {
      const hpo::v1::Condition& cond = spec.condition();
      if (cond.parent().empty()) return SpaceError(name, "condition has no parent");
      auto it = index.find(cond.parent());
      if (it == index.end()) {
        if (FindParam(space, cond.parent()) != nullptr) {
          return SpaceError(name, absl::StrCat("condition parent '", cond.parent(),
                                               "' must be declared before '", name, "'"));
        }
        return SpaceError(name,
                          absl::StrCat("condition names unknown parameter '", cond.parent(), "'"));
      }
      const ParamSpec& parent = space.params(it->second);
      if (parent.domain_case() != ParamSpec::kCategorical &&
          parent.domain_case() != ParamSpec::kIntDomain) {
        return SpaceError(name, absl::StrCat("condition parent '", cond.parent(),
                                             "' must be categorical or int"));
      }
      if (cond.values().empty()) return SpaceError(name, "condition has no values");
      for (const ParamValue& v : cond.values()) {
        // An int parent's condition values must be ints: no float leniency here.
        std::string why;
        if ((parent.domain_case() == ParamSpec::kIntDomain &&
             v.kind_case() != ParamValue::kIntValue) ||
            !CheckValue(parent, v, &why)) {
          return SpaceError(name, absl::StrCat("condition value ", Describe(v),
                                               " is not a value of '", cond.parent(), "'"));
        }
      }
    }
    index[name] = i;
  }
  return absl::OkStatus();
}

bool IsActive(const ParamSpec& spec, const ParamMap& params) {
  if (!spec.has_condition()) return true;
  auto it = params.values().find(spec.condition().parent());
  if (it == params.values().end()) return false;
  for (const ParamValue& v : spec.condition().values()) {
    if (ValueMatches(v, it->second)) return true;
  }
  return false;
}

absl::Status ValidateParams(const SearchSpace& space, const ParamMap& params) {
  std::vector<std::string> names;
  for (const auto& [name, value] : params.values()) names.push_back(name);
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    if (FindParam(space, name) == nullptr) return ParamError(name, "unknown parameter");
  }
  for (const ParamSpec& spec : space.params()) {
    auto it = params.values().find(spec.name());
    const bool present = it != params.values().end();
    if (!IsActive(spec, params)) {
      if (present) {
        return ParamError(spec.name(), absl::StrCat("given but inactive (its condition on '",
                                                    spec.condition().parent(), "' does not hold)"));
      }
      continue;
    }
    if (!present) return ParamError(spec.name(), "missing");
    std::string why;
    if (!CheckValue(spec, it->second, &why)) return ParamError(spec.name(), why);
  }
  return absl::OkStatus();
}

ParamMap NormalizeParams(const SearchSpace& space, const ParamMap& params) {
  ParamMap out = params;
  for (auto& [name, value] : *out.mutable_values()) {
    const ParamSpec* spec = FindParam(space, name);
    if (spec != nullptr && spec->domain_case() == ParamSpec::kIntDomain &&
        value.kind_case() == ParamValue::kFloatValue && IsIntegral(value.float_value())) {
      value.set_int_value(static_cast<int64_t>(value.float_value()));
    }
  }
  return out;
}

// ------------------------------------------------------------------ sampling

ParamValue SampleParam(const ParamSpec& spec, Rng& rng) {
  ParamValue out;
  switch (spec.domain_case()) {
    case ParamSpec::kFloatDomain: {
      const FloatDomain& d = spec.float_domain();
      if (d.step() > 0) {
        const int64_t n = FloatGridMax(d);
        out.set_float_value(FloatGridValue(d, static_cast<int64_t>(UniformIndex(rng, n + 1))));
      } else if (d.log()) {
        const double lo = std::log(d.low());
        const double hi = std::log(d.high());
        out.set_float_value(
            std::clamp(std::exp(lo + Uniform01(rng) * (hi - lo)), d.low(), d.high()));
      } else {
        out.set_float_value(
            std::clamp(d.low() + Uniform01(rng) * (d.high() - d.low()), d.low(), d.high()));
      }
      break;
    }
    case ParamSpec::kIntDomain: {
      const IntDomain& d = spec.int_domain();
      if (d.log()) {
        // Log-uniform over [low - 0.5, high + 0.5], rounded: each value's chance is the width of
        // its slice in log space.
        const double lo = std::log(static_cast<double>(d.low()) - 0.5);
        const double hi = std::log(static_cast<double>(d.high()) + 0.5);
        const double v = std::round(std::exp(lo + Uniform01(rng) * (hi - lo)));
        out.set_int_value(std::clamp(static_cast<int64_t>(v), d.low(), d.high()));
      } else {
        const uint64_t n = static_cast<uint64_t>(IntGridMax(d));
        const uint64_t k =
            n == std::numeric_limits<uint64_t>::max() ? rng() : UniformIndex(rng, n + 1);
        out.set_int_value(static_cast<int64_t>(static_cast<uint64_t>(d.low()) +
                                               k * static_cast<uint64_t>(IntStep(d))));
      }
      break;
    }
    case ParamSpec::kCategorical: {
      const auto& choices = spec.categorical().choices();
      if (!choices.empty()) out = choices[static_cast<int>(UniformIndex(rng, choices.size()))];
      break;
    }
    default:
      break;
  }
  return out;
}

ParamMap SampleUniform(const SearchSpace& space, Rng& rng) {
  ParamMap out;
  // Parents come before children, so each condition sees its parent's value (or absence).
  for (const ParamSpec& spec : space.params()) {
    if (!IsActive(spec, out)) continue;
    (*out.mutable_values())[spec.name()] = SampleParam(spec, rng);
  }
  return out;
}

// ------------------------------------------------------------------ encoding

double Encode(const ParamSpec& spec, const ParamValue& value) {
  switch (spec.domain_case()) {
    case ParamSpec::kFloatDomain: {
      double v;
      if (!NumericValue(value, &v)) return 0.5;
      const FloatDomain& d = spec.float_domain();
      return Clamp01(FloatEncodeRaw(d, std::clamp(v, d.low(), d.high())));
    }
    case ParamSpec::kIntDomain: {
      double v;
      if (!NumericValue(value, &v)) return 0.5;
      const IntDomain& d = spec.int_domain();
      const double lo = IntEncodeLow(d);
      const double hi = IntEncodeHigh(d);
      v = std::clamp(v, static_cast<double>(d.low()), static_cast<double>(d.high()));
      return Clamp01(((d.log() ? std::log(v) : v) - lo) / (hi - lo));
    }
    case ParamSpec::kCategorical: {
      const auto& choices = spec.categorical().choices();
      for (int i = 0; i < choices.size(); ++i) {
        if (ValueEquals(choices[i], value)) return (i + 0.5) / choices.size();
      }
      return 0.5;
    }
    default:
      return 0.5;
  }
}

ParamValue Decode(const ParamSpec& spec, double u) {
  u = Clamp01(u);
  ParamValue out;
  switch (spec.domain_case()) {
    case ParamSpec::kFloatDomain: {
      const FloatDomain& d = spec.float_domain();
      if (d.step() > 0) {
        const int64_t n = FloatGridMax(d);
        const double pos = u * (d.high() - d.low()) / d.step();
        const int64_t k = std::clamp<int64_t>(static_cast<int64_t>(std::llround(pos)), 0, n);
        out.set_float_value(FloatGridValue(d, k));
      } else {
        out.set_float_value(FloatDecodeContinuous(d, u));
      }
      break;
    }
    case ParamSpec::kIntDomain: {
      const IntDomain& d = spec.int_domain();
      const double lo = IntEncodeLow(d);
      const double hi = IntEncodeHigh(d);
      double v = lo + u * (hi - lo);
      if (d.log()) v = std::exp(v);
      const double step = static_cast<double>(IntStep(d));
      const double n = static_cast<double>(IntGridMax(d));
      const double k = std::clamp(std::round((v - static_cast<double>(d.low())) / step), 0.0, n);
      int64_t x = d.low() + static_cast<int64_t>(k) * IntStep(d);
      out.set_int_value(std::clamp(x, d.low(), d.high()));
      break;
    }
    case ParamSpec::kCategorical: {
      const auto& choices = spec.categorical().choices();
      if (choices.empty()) break;
      const int n = choices.size();
      const int i = std::clamp(static_cast<int>(u * n), 0, n - 1);
      out = choices[i];
      break;
    }
    default:
      break;
  }
  return out;
}

// ------------------------------------------------------------------ values

bool ValueEquals(const ParamValue& a, const ParamValue& b) {
  if (a.kind_case() != b.kind_case()) return false;
  switch (a.kind_case()) {
    case ParamValue::kFloatValue:
      return a.float_value() == b.float_value();
    case ParamValue::kIntValue:
      return a.int_value() == b.int_value();
    case ParamValue::kStringValue:
      return a.string_value() == b.string_value();
    case ParamValue::kBoolValue:
      return a.bool_value() == b.bool_value();
    default:
      return true;
  }
}

std::string FormatValue(const ParamValue& value) {
  switch (value.kind_case()) {
    case ParamValue::kFloatValue:
      return RoundTripNumber(value.float_value());
    case ParamValue::kIntValue:
      return absl::StrCat(value.int_value());
    case ParamValue::kStringValue:
      return value.string_value();
    case ParamValue::kBoolValue:
      return value.bool_value() ? "true" : "false";
    default:
      return "";
  }
}

absl::StatusOr<ParamValue> ParseValue(const ParamSpec& spec, absl::string_view text) {
  ParamValue out;
  switch (spec.domain_case()) {
    case ParamSpec::kFloatDomain: {
      double v;
      if (!absl::SimpleAtod(text, &v) || !std::isfinite(v)) {
        return ParamError(spec.name(), absl::StrCat("'", text, "' is not a finite number"));
      }
      out.set_float_value(v);
      return out;
    }
    case ParamSpec::kIntDomain: {
      int64_t v;
      if (absl::SimpleAtoi(text, &v)) {
        out.set_int_value(v);
        return out;
      }
      double d;
      if (absl::SimpleAtod(text, &d) && IsIntegral(d)) {  // "1e3", "16.0"
        out.set_int_value(static_cast<int64_t>(d));
        return out;
      }
      return ParamError(spec.name(), absl::StrCat("'", text, "' is not an integer"));
    }
    case ParamSpec::kCategorical: {
      for (const ParamValue& c : spec.categorical().choices()) {
        if (FormatValue(c) == text) return c;
      }
      // Number choices also match the same number written another way ("2.0", "1E-5").
      double number;
      if (absl::SimpleAtod(text, &number)) {
        for (const ParamValue& c : spec.categorical().choices()) {
          if ((c.kind_case() == ParamValue::kFloatValue && c.float_value() == number) ||
              (c.kind_case() == ParamValue::kIntValue && IsIntegral(number) &&
               static_cast<int64_t>(number) == c.int_value())) {
            return c;
          }
        }
      }
      return ParamError(
          spec.name(), absl::StrCat("'", text, "' is not one of ", ChoiceList(spec.categorical())));
    }
    default:
      return ParamError(spec.name(), "the parameter has no domain");
  }
}

std::string ParamsToJson(const ParamMap& params) {
  std::map<std::string, const ParamValue*> sorted;
  for (const auto& [name, value] : params.values()) sorted[name] = &value;
  std::string out = "{";
  bool first = true;
  for (const auto& [name, value] : sorted) {
    if (!first) out += ",";
    first = false;
    out += JsonString(name);
    out += ":";
    switch (value->kind_case()) {
      case ParamValue::kFloatValue: {
        const double v = value->float_value();
        if (std::isnan(v)) {
          out += "NaN";  // as Python's json writes and reads it
        } else if (std::isinf(v)) {
          out += v > 0 ? "Infinity" : "-Infinity";
        } else {
          std::string text = RoundTripNumber(v);
          // Keep floats floats for readers that type numbers ("2" would read as an int).
          if (text.find_first_of(".e") == std::string::npos) text += ".0";
          out += text;
        }
        break;
      }
      case ParamValue::kIntValue:
        out += absl::StrCat(value->int_value());
        break;
      case ParamValue::kStringValue:
        out += JsonString(value->string_value());
        break;
      case ParamValue::kBoolValue:
        out += value->bool_value() ? "true" : "false";
        break;
      default:
        out += "null";
        break;
    }
  }
  out += "}";
  return out;
}

const ParamSpec* FindParam(const SearchSpace& space, absl::string_view name) {
  for (const ParamSpec& spec : space.params()) {
    if (spec.name() == name) return &spec;
  }
  return nullptr;
}

namespace {

std::string DomainText(const ParamSpec& spec) {
  switch (spec.domain_case()) {
    case ParamSpec::kFloatDomain: {
      const FloatDomain& d = spec.float_domain();
      return absl::StrCat("float [", Num(d.low()), ", ", Num(d.high()), "]",
                          d.step() > 0 ? absl::StrCat(" step ", Num(d.step())) : "");
    }
    case ParamSpec::kIntDomain: {
      const IntDomain& d = spec.int_domain();
      return absl::StrCat("int [", d.low(), ", ", d.high(), "]",
                          d.step() > 1 ? absl::StrCat(" step ", d.step()) : "");
    }
    case ParamSpec::kCategorical:
      return absl::StrCat("choices ", ChoiceList(spec.categorical()));
    default:
      return "no domain";
  }
}

// Whether `v` is among `values`, matched as IsActive matches a condition's values.
bool ContainsValue(const google::protobuf::RepeatedPtrField<ParamValue>& values,
                   const ParamValue& v) {
  for (const ParamValue& x : values) {
    if (ValueMatches(x, v)) return true;
  }
  return false;
}

// Every value of a finite domain with at most `limit` of them, in order; nullopt otherwise
// (continuous floats, big grids).
std::optional<std::vector<ParamValue>> FiniteValues(const ParamSpec& spec, int64_t limit) {
  std::vector<ParamValue> out;
  switch (spec.domain_case()) {
    case ParamSpec::kCategorical:
      return std::vector<ParamValue>(spec.categorical().choices().begin(),
                                     spec.categorical().choices().end());
    case ParamSpec::kIntDomain: {
      const IntDomain& d = spec.int_domain();
      if (IntGridMax(d) >= limit) return std::nullopt;
      for (int64_t k = 0; k <= IntGridMax(d); ++k) {
        out.emplace_back().set_int_value(d.low() + k * IntStep(d));
      }
      return out;
    }
    case ParamSpec::kFloatDomain: {
      const FloatDomain& d = spec.float_domain();
      if (d.step() <= 0 || FloatGridMax(d) >= limit) return std::nullopt;
      for (int64_t k = 0; k <= FloatGridMax(d); ++k) {
        out.emplace_back().set_float_value(FloatGridValue(d, k));
      }
      return out;
    }
    default:
      return std::nullopt;
  }
}

// `v` (a value of another space's parameter) as `spec` reads it when passed as text, the way a
// worker hands a builtin task its parameters (`--name=<FormatValue>`); nullopt when `spec` does
// not take it (unparsable, out of its domain).
std::optional<ParamValue> AsValueOf(const ParamSpec& spec, const ParamValue& v) {
  absl::StatusOr<ParamValue> parsed = ParseValue(spec, FormatValue(v));
  std::string why;
  if (!parsed.ok() || !CheckValue(spec, *parsed, &why)) return std::nullopt;
  return *parsed;
}

bool IsMultiple(double a, double b) {
  const double ratio = a / b;
  return ratio >= 1 - 1e-9 && std::fabs(ratio - std::round(ratio)) <= 1e-9 * ratio;
}

// Whether `outer` takes every value of `inner` (passed as text, see AsValueOf).
bool DomainWithin(const ParamSpec& inner, const ParamSpec& outer) {
  constexpr int64_t kEnumerated = 4096;
  if (std::optional<std::vector<ParamValue>> values = FiniteValues(inner, kEnumerated)) {
    for (const ParamValue& v : *values) {
      if (!AsValueOf(outer, v).has_value()) return false;
    }
    return true;
  }
  // A continuous or big numeric domain: its ends must fit, and so must the values between them,
  // which needs the outer grid (if any) to hold the inner one.
  ParamValue lo, top;
  double inner_step = 0;  // 0: continuous
  if (inner.has_int_domain()) {
    const IntDomain& d = inner.int_domain();
    lo.set_int_value(d.low());
    top.set_int_value(d.low() + IntGridMax(d) * IntStep(d));
    inner_step = static_cast<double>(IntStep(d));
  } else if (inner.has_float_domain()) {
    const FloatDomain& d = inner.float_domain();
    lo.set_float_value(d.low());
    top.set_float_value(d.step() > 0 ? FloatGridValue(d, FloatGridMax(d)) : d.high());
    inner_step = std::max(0.0, d.step());
  } else {
    return false;
  }
  if (!AsValueOf(outer, lo).has_value() || !AsValueOf(outer, top).has_value()) return false;
  if (outer.has_float_domain()) {
    const double step = outer.float_domain().step();
    return step <= 0 || (inner_step > 0 && IsMultiple(inner_step, step));
  }
  if (outer.has_int_domain()) {
    return inner_step > 0 &&
           IsMultiple(inner_step, static_cast<double>(IntStep(outer.int_domain())));
  }
  return false;  // a categorical cannot take a continuum
}

std::string ConditionText(const ParamSpec& p) {
  if (!p.has_condition()) return "always active";
  std::vector<std::string> values;
  for (const ParamValue& v : p.condition().values()) values.push_back(FormatValue(v));
  return absl::StrCat("active when ", p.condition().parent(), " in [", absl::StrJoin(values, ", "),
                      "]");
}

}  // namespace

absl::Status CheckSpaceWithin(const SearchSpace& inner, const SearchSpace& outer,
                              absl::string_view outer_name) {
  for (const ParamSpec& in : inner.params()) {
    const ParamSpec* out = FindParam(outer, in.name());
    if (out == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("space: ", outer_name, " has no parameter '", in.name(), "'"));
    }
    if (!DomainWithin(in, *out)) {
      return SpaceError(in.name(), absl::StrCat(DomainText(in), " does not fit ", outer_name,
                                                ", which takes ", DomainText(*out)));
    }
  }
  // Activity: for every value an inner parent can take, the inner space must give a parameter
  // exactly when the outer one expects it. Outer parameters are visited parents first.
  for (const ParamSpec& out : outer.params()) {
    const ParamSpec* in = FindParam(inner, out.name());
    auto mismatch = [&]() {
      if (in == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat("space: ", outer_name, " needs parameter '",
                                                       out.name(), "' (", ConditionText(out), ")"));
      }
      return SpaceError(out.name(), absl::StrCat(ConditionText(*in), ", but ", ConditionText(out),
                                                 " in ", outer_name));
    };
    if (!out.has_condition()) {
      if (in == nullptr) {
        return absl::InvalidArgumentError(
            absl::StrCat("space: ", outer_name, " needs parameter '", out.name(), "'"));
      }
      if (!in->has_condition()) continue;
    }
    // The parent whose values decide: the outer condition's, else the inner one's.
    const std::string& parent_name =
        out.has_condition() ? out.condition().parent() : in->condition().parent();
    if (in != nullptr && in->has_condition() && in->condition().parent() != parent_name) {
      return mismatch();
    }
    const ParamSpec* inner_parent = FindParam(inner, parent_name);
    const ParamSpec* outer_parent = FindParam(outer, parent_name);
    if (inner_parent == nullptr || outer_parent == nullptr) return mismatch();
    std::optional<std::vector<ParamValue>> reach = FiniteValues(*inner_parent, 4096);
    if (!reach.has_value()) {
      // Too many parent values to try: the conditions must name the same values.
      bool same = in != nullptr && in->has_condition() == out.has_condition();
      for (int k = 0; same && k < out.condition().values_size(); ++k) {
        same = ContainsValue(in->condition().values(), out.condition().values(k));
      }
      for (int k = 0; same && in->has_condition() && k < in->condition().values_size(); ++k) {
        same = ContainsValue(out.condition().values(), in->condition().values(k));
      }
      if (!same) return mismatch();
      continue;
    }
    for (const ParamValue& v : *reach) {
      const bool in_active =
          in != nullptr && (!in->has_condition() || ContainsValue(in->condition().values(), v));
      std::optional<ParamValue> as_outer = AsValueOf(*outer_parent, v);
      const bool out_active =
          !out.has_condition() ||
          (as_outer.has_value() && ContainsValue(out.condition().values(), *as_outer));
      if (in_active != out_active) return mismatch();
    }
  }
  return absl::OkStatus();
}

}  // namespace hpo::core
