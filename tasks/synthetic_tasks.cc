#include "tasks/synthetic_tasks.h"

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tasks/space_builder.h"

namespace hpo::tasks {
namespace {

using hpo::v1::ParamMap;
using hpo::v1::ParamSpec;
using hpo::v1::ParamValue;
using hpo::v1::SearchSpace;

constexpr double kPi = 3.14159265358979323846;

// x1..xd, each in [low, high].
SearchSpace Box(int d, double low, double high) {
  SearchSpace s;
  for (int i = 1; i <= d; ++i) AddFloat(s, absl::StrCat("x", i), low, high);
  return s;
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

// x1..xd of a box space, as a vector.
std::vector<double> Xs(const ParamMap& params, int d) {
  std::vector<double> x(d);
  for (int j = 0; j < d; ++j) x[j] = Num(params, absl::StrCat("x", j + 1));
  return x;
}

ParamMap PointParams(const std::vector<double>& x) {
  ParamMap p;
  for (size_t i = 0; i < x.size(); ++i) SetFloat(p, absl::StrCat("x", i + 1), x[i]);
  return p;
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
  double optimum() const override { return 0.39788735772973834; }
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
  // Published: -3.32237 at (0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573); refined
  // by Newton's method in 40-digit arithmetic (mpmath).
  double optimum() const override { return -3.3223680114155148; }
  ParamMap optimum_params() const override {
    return PointParams({0.20168951100670542, 0.15001069182345797, 0.47687397422189699,
                        0.27533243049405607, 0.31165161660011324, 0.65730053406562031});
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

// Hartmann-3 (Dixon & Szego 1978) on [0, 1]^3.
class Hartmann3 final : public SyntheticTask {
 public:
  std::string name() const override { return "hartmann3"; }
  SearchSpace space() const override { return Box(3, 0, 1); }
  // Published: -3.86278 at (0.114614, 0.555649, 0.852547); refined by Newton's method in 40-digit
  // arithmetic.
  double optimum() const override { return -3.8627797873326627; }
  ParamMap optimum_params() const override {
    return PointParams({0.11458887665506896, 0.55564889461693005, 0.85254698468667744});
  }
  double Value(const ParamMap& params) const override {
    static constexpr double kAlpha[4] = {1.0, 1.2, 3.0, 3.2};
    static constexpr double kA[4][3] = {{3, 10, 30}, {0.1, 10, 35}, {3, 10, 30}, {0.1, 10, 35}};
    static constexpr double kP[4][3] = {
        {3689, 1170, 2673}, {4699, 4387, 7470}, {1091, 8732, 5547}, {381, 5743, 8828}};
    const std::vector<double> x = Xs(params, 3);
    double sum = 0;
    for (int i = 0; i < 4; ++i) {
      double inner = 0;
      for (int j = 0; j < 3; ++j) {
        const double d = x[j] - kP[i][j] * 1e-4;
        inner += kA[i][j] * d * d;
      }
      sum += kAlpha[i] * std::exp(-inner);
    }
    return -sum;
  }
};

// Levy on [-10, 10]^5: with w_i = 1 + (x_i - 1) / 4,
//   f = sin^2(pi w_1) + sum_{i<d} (w_i - 1)^2 (1 + 10 sin^2(pi w_i + 1))
//       + (w_d - 1)^2 (1 + sin^2(2 pi w_d));
// optimum 0 at all ones.
class Levy5 final : public SyntheticTask {
 public:
  static constexpr int kDim = 5;
  std::string name() const override { return "levy5"; }
  SearchSpace space() const override { return Box(kDim, -10, 10); }
  double optimum() const override { return 0; }
  ParamMap optimum_params() const override { return PointParams(std::vector<double>(kDim, 1.0)); }
  double Value(const ParamMap& params) const override {
    const std::vector<double> x = Xs(params, kDim);
    std::vector<double> w(kDim);
    for (int i = 0; i < kDim; ++i) w[i] = 1 + (x[i] - 1) / 4;
    const double s1 = std::sin(kPi * w[0]);
    double sum = s1 * s1;
    for (int i = 0; i + 1 < kDim; ++i) {
      const double s = std::sin(kPi * w[i] + 1);
      sum += (w[i] - 1) * (w[i] - 1) * (1 + 10 * s * s);
    }
    const double wd = w[kDim - 1], sd = std::sin(2 * kPi * wd);
    return sum + (wd - 1) * (wd - 1) * (1 + sd * sd);
  }
};

// Ackley (a = 20, b = 0.2, c = 2 pi) on [-32.768, 32.768]^5; optimum 0 at the origin.
class Ackley5 final : public SyntheticTask {
 public:
  static constexpr int kDim = 5;
  std::string name() const override { return "ackley5"; }
  SearchSpace space() const override { return Box(kDim, -32.768, 32.768); }
  double optimum() const override { return 0; }
  ParamMap optimum_params() const override { return PointParams(std::vector<double>(kDim, 0.0)); }
  double Value(const ParamMap& params) const override {
    const std::vector<double> x = Xs(params, kDim);
    double sq = 0, cos_sum = 0;
    for (double v : x) {
      sq += v * v;
      cos_sum += std::cos(2 * kPi * v);
    }
    // Written as two terms that are each >= 0 in floating point too (exp is monotone and
    // cos_sum / kDim <= 1), so the origin gives exactly 0 and no point goes below it.
    return 20 * (1 - std::exp(-0.2 * std::sqrt(sq / kDim))) +
           (std::exp(1.0) - std::exp(cos_sum / kDim));
  }
};

// Styblinski-Tang on [-5, 5]^4: f = sum (x^4 - 16 x^2 + 5 x) / 2; optimum -39.16616570377142 * 4
// at x_i = -2.903534027771177 (the root of 4 x^3 - 32 x + 5 = 0 in [-5, 0]).
class StyblinskiTang4 final : public SyntheticTask {
 public:
  static constexpr int kDim = 4;
  static constexpr double kArgmin = -2.9035340277711771;
  std::string name() const override { return "styblinski_tang4"; }
  SearchSpace space() const override { return Box(kDim, -5, 5); }
  double optimum() const override { return -156.66466281508566; }
  ParamMap optimum_params() const override {
    return PointParams(std::vector<double>(kDim, kArgmin));
  }
  double Value(const ParamMap& params) const override {
    double sum = 0;
    for (double v : Xs(params, kDim)) sum += v * v * v * v - 16 * v * v + 5 * v;
    return sum / 2;
  }
};

// Michalewicz (m = 10) on [0, pi]^5: f = -sum_i sin(x_i) sin^20(i x_i^2 / pi). The function is
// separable; each coordinate's minimizer was found by Newton's method in 40-digit arithmetic.
// Published optimum: -4.687658.
class Michalewicz5 final : public SyntheticTask {
 public:
  static constexpr int kDim = 5;
  std::string name() const override { return "michalewicz5"; }
  SearchSpace space() const override { return Box(kDim, 0, kPi); }
  double optimum() const override { return -4.6876581790881463; }
  ParamMap optimum_params() const override {
    return PointParams({2.2029055201726093, 1.5707963267948966, 1.2849915705529244,
                        1.9230584698663628, 1.7204697725658413});
  }
  double Value(const ParamMap& params) const override {
    const std::vector<double> x = Xs(params, kDim);
    double sum = 0;
    for (int i = 0; i < kDim; ++i) {
      const double s = std::sin((i + 1) * x[i] * x[i] / kPi);
      const double s2 = s * s, s4 = s2 * s2, s8 = s4 * s4, s16 = s8 * s8;
      sum += std::sin(x[i]) * s16 * s4;
    }
    return -sum;
  }
};

// Shekel (m = 10) on [0, 10]^4 with the standard tables (beta = (1,2,2,4,4,6,3,7,5,5) / 10 and
// the 4 x 10 matrix C below): f = -sum_i 1 / (sum_j (x_j - C_ji)^2 + beta_i). Published optimum
// -10.5364 near (4, 4, 4, 4) (where f = -10.536283726); refined by Newton's method in 40-digit
// arithmetic.
class Shekel4 final : public SyntheticTask {
 public:
  std::string name() const override { return "shekel4"; }
  SearchSpace space() const override { return Box(4, 0, 10); }
  double optimum() const override { return -10.536443153483528; }
  ParamMap optimum_params() const override {
    return PointParams(
        {4.0007468682706344, 3.9995094800857736, 4.0007468682706344, 3.9995094800857736});
  }
  double Value(const ParamMap& params) const override {
    static constexpr double kBeta[10] = {0.1, 0.2, 0.2, 0.4, 0.4, 0.6, 0.3, 0.7, 0.5, 0.5};
    static constexpr double kC[4][10] = {{4, 1, 8, 6, 3, 2, 5, 8, 6, 7},
                                         {4, 1, 8, 6, 7, 9, 3, 1, 2, 3.6},
                                         {4, 1, 8, 6, 3, 2, 5, 8, 6, 7},
                                         {4, 1, 8, 6, 7, 9, 3, 1, 2, 3.6}};
    const std::vector<double> x = Xs(params, 4);
    double sum = 0;
    for (int i = 0; i < 10; ++i) {
      double d = kBeta[i];
      for (int j = 0; j < 4; ++j) d += (x[j] - kC[j][i]) * (x[j] - kC[j][i]);
      sum += 1 / d;
    }
    return -sum;
  }
};

// Six-hump camel on x1 in [-3, 3], x2 in [-2, 2]:
//   f = (4 - 2.1 x1^2 + x1^4 / 3) x1^2 + x1 x2 + (-4 + 4 x2^2) x2^2;
// optimum -1.0316284534898774 at +-(0.0898420131, -0.7126564030).
class SixHumpCamel final : public SyntheticTask {
 public:
  std::string name() const override { return "six_hump_camel"; }
  SearchSpace space() const override {
    SearchSpace s;
    AddFloat(s, "x1", -3, 3);
    AddFloat(s, "x2", -2, 2);
    return s;
  }
  double optimum() const override { return -1.0316284534898774; }
  ParamMap optimum_params() const override {
    return PointParams({0.089842013100318062, -0.71265640302073963});
  }
  double Value(const ParamMap& params) const override {
    const double a = Num(params, "x1"), b = Num(params, "x2");
    const double a2 = a * a, b2 = b * b;
    return (4 - 2.1 * a2 + a2 * a2 / 3) * a2 + a * b + (-4 + 4 * b2) * b2;
  }
};

// A mixed space shaped like a small training job, with a known optimum:
//   lr        float, log scale, [1e-4, 1]
//   units     int, log scale, [16, 1024]
//   layers    int [1, 6]
//   optimizer categorical {sgd, adam, rmsprop}
//   momentum  float [0, 1], active only when optimizer == sgd   (categorical parent)
//   dropout   float [0, 0.8], active only when layers >= 3       (int parent)
// f = (log10(lr) + 2 + 0.5 [optimizer == adam])^2
//     + (log2(units) - 7)^2 / 4
//     + 0.1 (layers - 4)^2
//     + {sgd: 2 (momentum - 0.9)^2, adam: 0.05, rmsprop: 0.3}
//     + {layers >= 3: 4 (dropout - 0.2)^2, layers <= 2: 0.5}.
// Every term is >= 0 and all are 0 at lr = 0.01, units = 128, layers = 4, optimizer = sgd,
// momentum = 0.9, dropout = 0.2, a point of the space; so the minimum is 0, reached there and
// only there (adam's best is 0.05 at lr = 10^-2.5; rmsprop's 0.3).
class Mixed2 final : public SyntheticTask {
 public:
  std::string name() const override { return "mixed2"; }
  SearchSpace space() const override {
    SearchSpace s;
    AddFloat(s, "lr", 1e-4, 1)->mutable_float_domain()->set_log(true);
    AddInt(s, "units", 16, 1024, /*log=*/true);
    AddInt(s, "layers", 1, 6);
    ParamSpec* opt = s.add_params();
    opt->set_name("optimizer");
    for (const char* c : {"sgd", "adam", "rmsprop"}) {
      opt->mutable_categorical()->add_choices()->set_string_value(c);
    }
    ParamSpec* momentum = AddFloat(s, "momentum", 0, 1);
    momentum->mutable_condition()->set_parent("optimizer");
    momentum->mutable_condition()->add_values()->set_string_value("sgd");
    ParamSpec* dropout = AddFloat(s, "dropout", 0, 0.8);
    dropout->mutable_condition()->set_parent("layers");
    for (int layers = 3; layers <= 6; ++layers) {
      dropout->mutable_condition()->add_values()->set_int_value(layers);
    }
    return s;
  }
  double optimum() const override { return 0; }
  ParamMap optimum_params() const override {
    ParamMap p;
    SetFloat(p, "lr", 0.01);
    (*p.mutable_values())["units"].set_int_value(128);
    (*p.mutable_values())["layers"].set_int_value(4);
    (*p.mutable_values())["optimizer"].set_string_value("sgd");
    SetFloat(p, "momentum", 0.9);
    SetFloat(p, "dropout", 0.2);
    return p;
  }
  double Value(const ParamMap& params) const override {
    const double lr = Num(params, "lr"), units = Num(params, "units");
    const double layers = Num(params, "layers");
    const std::string& optimizer = params.values().at("optimizer").string_value();
    const double a = std::log10(lr) + 2 + (optimizer == "adam" ? 0.5 : 0.0);
    const double b = std::log2(units) - 7;
    double f = a * a + b * b / 4 + 0.1 * (layers - 4) * (layers - 4);
    if (optimizer == "sgd") {
      const double m = Num(params, "momentum") - 0.9;
      f += 2 * m * m;
    } else {
      f += optimizer == "adam" ? 0.05 : 0.3;
    }
    if (layers >= 3) {
      const double d = Num(params, "dropout") - 0.2;
      f += 4 * d * d;
    } else {
      f += 0.5;
    }
    return f;
  }
};

}  // namespace

std::unique_ptr<SyntheticTask> MakeBranin() { return std::make_unique<Branin>(); }
std::unique_ptr<SyntheticTask> MakeHartmann6() { return std::make_unique<Hartmann6>(); }
std::unique_ptr<SyntheticTask> MakeRosenbrock() { return std::make_unique<Rosenbrock>(); }
std::unique_ptr<SyntheticTask> MakeMixed() { return std::make_unique<Mixed>(); }
std::unique_ptr<SyntheticTask> MakeHartmann3() { return std::make_unique<Hartmann3>(); }
std::unique_ptr<SyntheticTask> MakeLevy5() { return std::make_unique<Levy5>(); }
std::unique_ptr<SyntheticTask> MakeAckley5() { return std::make_unique<Ackley5>(); }
std::unique_ptr<SyntheticTask> MakeStyblinskiTang4() { return std::make_unique<StyblinskiTang4>(); }
std::unique_ptr<SyntheticTask> MakeMichalewicz5() { return std::make_unique<Michalewicz5>(); }
std::unique_ptr<SyntheticTask> MakeShekel4() { return std::make_unique<Shekel4>(); }
std::unique_ptr<SyntheticTask> MakeSixHumpCamel() { return std::make_unique<SixHumpCamel>(); }
std::unique_ptr<SyntheticTask> MakeMixed2() { return std::make_unique<Mixed2>(); }

}  // namespace hpo::tasks
