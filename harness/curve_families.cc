#include "harness/curve_families.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/search_space.h"
#include "core/status_macros.h"

namespace hpo::harness {
namespace {

constexpr int kEpochs = 52;

uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

enum class Family { kExp, kCrossing, kPlateau };

class FamilySource final : public CurveSource {
 public:
  FamilySource(std::string name, Family family) : name_(std::move(name)), family_(family) {
    for (const char* p : {"a", "b", "c"}) {
      auto* spec = space_.add_params();
      spec->set_name(p);
      spec->mutable_float_domain()->set_low(0);
      spec->mutable_float_domain()->set_high(1);
    }
  }
  std::string name() const override { return name_; }
  hpo::v1::SearchSpace space() const override { return space_; }
  int epochs() const override { return kEpochs; }

  absl::StatusOr<CurveConfig> Get(uint64_t seed, int index) const override {
    core::Rng rng(StreamSeed(seed, index));
    CurveConfig config;
    config.params = core::SampleUniform(space_, rng);
    const double a = config.params.values().at("a").float_value();
    const double b = config.params.values().at("b").float_value();
    std::normal_distribution<double> noise(0, 0.004);
    for (int t = 1; t <= kEpochs; ++t) config.curve.push_back(Loss(a, b, t) + noise(rng));
    return config;
  }

  absl::StatusOr<double> ReferenceBest() const override {
    std::call_once(reference_once_, [this] {
      reference_ = std::numeric_limits<double>::infinity();
      for (int i = 0; i < 10000; ++i) {
        reference_ = std::min(reference_, Get(0x5EEDBE57ULL, i)->curve.back());
      }
    });
    return reference_;
  }

 private:
  // The noiseless curve of (a, b) at epoch t; c does nothing.
  double Loss(double a, double b, int t) const {
    switch (family_) {
      case Family::kExp: {
        const double f = 0.1 + 0.5 * (a - 0.7) * (a - 0.7);
        const double rate = 0.04 + 0.3 * b;
        return f + 0.8 * std::exp(-rate * t);
      }
      case Family::kCrossing: {
        // b speeds the curve up and raises its end: fast starters end worse.
        const double f = 0.1 + 0.4 * (1 - a) * (1 - a) + 0.3 * b;
        const double rate = 0.02 + 0.5 * b;
        return f + (1 - f) * std::exp(-rate * t);
      }
      case Family::kPlateau: {
        // Curves hold at 0.9 until epoch 5 + 30·b, then fall towards their end.
        const double f = 0.1 + 0.5 * (a - 0.3) * (a - 0.3);
        const double start = 5 + 30 * b;
        return t <= start ? 0.9 : f + (0.9 - f) * std::exp(-0.3 * (t - start));
      }
    }
    return 0;
  }

  const std::string name_;
  const Family family_;
  hpo::v1::SearchSpace space_;
  mutable std::once_flag reference_once_;
  mutable double reference_ = 0;  // set once, under reference_once_
};

}  // namespace

uint64_t StreamSeed(uint64_t seed, int index) {
  return Mix(Mix(seed) ^ static_cast<uint64_t>(index));
}

std::vector<std::string> CurveFamilyNames() {
  return {"curves-crossing", "curves-exp", "curves-plateau"};
}

absl::StatusOr<std::unique_ptr<CurveSource>> MakeCurveFamily(const std::string& name) {
  if (name == "curves-exp") return std::make_unique<FamilySource>(name, Family::kExp);
  if (name == "curves-crossing") return std::make_unique<FamilySource>(name, Family::kCrossing);
  if (name == "curves-plateau") return std::make_unique<FamilySource>(name, Family::kPlateau);
  return absl::NotFoundError(absl::StrCat(
      "no curve family named '", name, "' (known: ", absl::StrJoin(CurveFamilyNames(), ", "), ")"));
}

absl::StatusOr<std::vector<std::string>> ExpandCurveTasks(const std::string& list) {
  std::vector<std::string> out;
  auto add = [&out](const std::string& name) {
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
  };
  for (absl::string_view raw : absl::StrSplit(list, ',', absl::SkipWhitespace())) {
    const std::string name(absl::StripAsciiWhitespace(raw));
    if (name == "curves") {
      for (const std::string& family : CurveFamilyNames()) add(family);
      continue;
    }
    absl::StatusOr<std::unique_ptr<CurveSource>> source = MakeCurveTask(name);
    if (!source.ok()) return core::Annotate(source.status(), "--tasks");
    add(name);
  }
  if (out.empty()) return absl::InvalidArgumentError("--tasks: empty list");
  return out;
}

absl::StatusOr<std::unique_ptr<CurveSource>> MakeCurveTask(const std::string& name) {
  return MakeCurveFamily(name);
}

int CurveTaskEpochs(const std::vector<std::string>&) { return kEpochs; }

}  // namespace hpo::harness
