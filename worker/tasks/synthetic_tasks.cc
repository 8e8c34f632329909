#include "worker/tasks/synthetic_tasks.h"

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace hpo::worker::tasks {
namespace {

using hpo::v1::ParamMap;
using hpo::v1::ParamSpec;
using hpo::v1::ParamValue;
using hpo::v1::SearchSpace;

constexpr double kPi = 3.14159265358979323846;

ParamSpec* AddFloat(SearchSpace& space, const std::string& name, double low, double high) {
  ParamSpec* p = space.add_params();
  p->set_name(name);
  p->mutable_float_domain()->set_low(low);
  p->mutable_float_domain()->set_high(high);
  return p;
}

void SetFloat(ParamMap& params, const std::string& name, double v) {
  (*params.mutable_values())[name].set_float_value(v);
}

// Reads a numeric parameter that ValidateParams accepted.
double Num(const ParamMap& params, const std::string& name) {
  const ParamValue& v = params.values().at(name);
  return v.kind_case() == ParamValue::kIntValue ? static_cast<double>(v.int_value())
                                                : v.float_value();
}

class Branin final : public SyntheticTask {
 public:
  std::string name() const override { return "branin"; }
  SearchSpace space() const override {
    SearchSpace s;
    AddFloat(s, "x1", -5, 10);
    AddFloat(s, "x2", 0, 15);
    return s;
  }
  double optimum() const override { return 0.397887; }
  ParamMap optimum_params() const override {
    ParamMap p;
    SetFloat(p, "x1", kPi);
    SetFloat(p, "x2", 2.275);
    return p;
  }
  double Value(const ParamMap& params) const override {
    const double x1 = Num(params, "x1"), x2 = Num(params, "x2");
    const double b = 5.1 / (4 * kPi * kPi), c = 5 / kPi, t = 1 / (8 * kPi);
    const double a = x2 - b * x1 * x1 + c * x1 - 6;
    return a * a + 10 * (1 - t) * std::cos(x1) + 10;
  }
};

class Hartmann6 final : public SyntheticTask {
 public:
  std::string name() const override { return "hartmann6"; }
  SearchSpace space() const override {
    SearchSpace s;
    for (int i = 1; i <= 6; ++i) AddFloat(s, absl::StrCat("x", i), 0, 1);
    return s;
  }
  double optimum() const override { return -3.32237; }
  ParamMap optimum_params() const override {
    static constexpr double kArgmin[6] = {0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573};
    ParamMap p;
    for (int i = 0; i < 6; ++i) SetFloat(p, absl::StrCat("x", i + 1), kArgmin[i]);
    return p;
  }
  double Value(const ParamMap& params) const override {
    static constexpr double kAlpha[4] = {1.0, 1.2, 3.0, 3.2};
    static constexpr double kA[4][6] = {{10, 3, 17, 3.5, 1.7, 8},
                                        {0.05, 10, 17, 0.1, 8, 14},
                                        {3, 3.5, 1.7, 10, 17, 8},
                                        {17, 8, 0.05, 10, 0.1, 14}};
    static constexpr double kP[4][6] = {{1312, 1696, 5569, 124, 8283, 5886},
                                        {2329, 4135, 8307, 3736, 1004, 9991},
                                        {2348, 1451, 3522, 2883, 3047, 6650},
                                        {4047, 8828, 8732, 5743, 1091, 381}};
    double x[6];
    for (int j = 0; j < 6; ++j) x[j] = Num(params, absl::StrCat("x", j + 1));
    double sum = 0;
    for (int i = 0; i < 4; ++i) {
      double inner = 0;
      for (int j = 0; j < 6; ++j) {
        const double d = x[j] - kP[i][j] * 1e-4;
        inner += kA[i][j] * d * d;
      }
      sum += kAlpha[i] * std::exp(-inner);
    }
    return -sum;
  }
};

class Rosenbrock final : public SyntheticTask {
 public:
  static constexpr int kDim = 4;
  std::string name() const override { return "rosenbrock"; }
  SearchSpace space() const override {
    SearchSpace s;
    for (int i = 1; i <= kDim; ++i) AddFloat(s, absl::StrCat("x", i), -5, 10);
    return s;
  }
  double optimum() const override { return 0; }
  ParamMap optimum_params() const override {
    ParamMap p;
    for (int i = 1; i <= kDim; ++i) SetFloat(p, absl::StrCat("x", i), 1.0);
    return p;
  }
  double Value(const ParamMap& params) const override {
    double x[kDim];
    for (int j = 0; j < kDim; ++j) x[j] = Num(params, absl::StrCat("x", j + 1));
    double sum = 0;
    for (int i = 0; i + 1 < kDim; ++i) {
      const double a = x[i + 1] - x[i] * x[i], b = 1 - x[i];
      sum += 100 * a * a + b * b;
    }
    return sum;
  }
};

class Mixed final : public SyntheticTask {
 public:
  std::string name() const override { return "mixed"; }
  SearchSpace space() const override {
    SearchSpace s;
    AddFloat(s, "x", -5, 5);
    ParamSpec* n = s.add_params();
    n->set_name("n");
    n->mutable_int_domain()->set_low(1);
    n->mutable_int_domain()->set_high(10);
    ParamSpec* kind = s.add_params();
    kind->set_name("kind");
    for (const char* c : {"a", "b", "c"}) {
      kind->mutable_categorical()->add_choices()->set_string_value(c);
    }
    ParamSpec* y = AddFloat(s, "y", 0, 1);
    y->mutable_condition()->set_parent("kind");
    y->mutable_condition()->add_values()->set_string_value("b");
    return s;
  }
  double optimum() const override { return 0; }
  ParamMap optimum_params() const override {
    ParamMap p;
    SetFloat(p, "x", 1.0);
    (*p.mutable_values())["n"].set_int_value(3);
    (*p.mutable_values())["kind"].set_string_value("b");
    SetFloat(p, "y", 0.3);
    return p;
  }
  double Value(const ParamMap& params) const override {
    const double x = Num(params, "x"), n = Num(params, "n");
    const std::string& kind = params.values().at("kind").string_value();
    double term = 0.5;  // "c"
    if (kind == "a") {
      term = 1.0;
    } else if (kind == "b") {
      const double y = Num(params, "y");
      term = 4 * (y - 0.3) * (y - 0.3);
    }
    return (x - 1) * (x - 1) + 0.1 * (n - 3) * (n - 3) + term;
  }
};

}  // namespace

std::unique_ptr<SyntheticTask> MakeBranin() { return std::make_unique<Branin>(); }
std::unique_ptr<SyntheticTask> MakeHartmann6() { return std::make_unique<Hartmann6>(); }
std::unique_ptr<SyntheticTask> MakeRosenbrock() { return std::make_unique<Rosenbrock>(); }
std::unique_ptr<SyntheticTask> MakeMixed() { return std::make_unique<Mixed>(); }

}  // namespace hpo::worker::tasks
