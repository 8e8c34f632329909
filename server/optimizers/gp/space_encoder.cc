#include "server/optimizers/gp/space_encoder.h"

#include <algorithm>
#include <cmath>

#include "core/search_space.h"

namespace hpo::server::gp {
namespace {

constexpr double kInvSqrt2 = 0.70710678118654752440;

}  // namespace

SpaceEncoder::SpaceEncoder(const hpo::v1::SearchSpace& space) {
  using hpo::v1::ParamSpec;
  int column = 0;
  for (int i = 0; i < space.params_size(); ++i) {
    const ParamSpec& spec = space.params(i);
    Param p;
    p.spec = spec;
    p.first_column = column;
    int width = 1;
    switch (spec.domain_case()) {
      case ParamSpec::kFloatDomain:
        p.kind = spec.float_domain().step() > 0 ? Kind::kDiscrete : Kind::kContinuous;
        break;
      case ParamSpec::kIntDomain:
        p.kind = Kind::kDiscrete;
        break;
      default:
        p.kind = Kind::kCategorical;
        p.num_choices = spec.categorical().choices_size();
        width = p.num_choices;
        break;
    }
    if (spec.has_condition()) {
      for (int j = 0; j < i; ++j) {
        if (space.params(j).name() == spec.condition().parent()) p.parent = j;
      }
      if (p.parent >= 0) {
        for (const hpo::v1::ParamValue& v : spec.condition().values()) {
          const Param& parent = params_[p.parent];
          p.parent_values.push_back(Snap(parent, core::Encode(parent.spec, v)));
        }
      }
      width += 1;  // the inactive flag / category
    }
    for (int c = 0; c < width; ++c) groups_.group.push_back(i);
    column += width;
    params_.push_back(std::move(p));
  }
  groups_.num_groups = static_cast<int>(params_.size());
  num_features_ = column;
}

double SpaceEncoder::Snap(const Param& p, double u) const {
  if (p.kind == Kind::kContinuous) return std::clamp(u, 0.0, 1.0);
  return core::Encode(p.spec, core::Decode(p.spec, u));
}

std::vector<double> SpaceEncoder::Raw(const hpo::v1::ParamMap& params) const {
  std::vector<double> raw(params_.size(), 0.5);
  for (size_t i = 0; i < params_.size(); ++i) {
    auto it = params.values().find(params_[i].spec.name());
    if (it != params.values().end()) raw[i] = core::Encode(params_[i].spec, it->second);
  }
  return raw;
}

void SpaceEncoder::Canonicalize(std::vector<double>* raw, std::vector<char>* active,
                                Eigen::Ref<Eigen::VectorXd> features) const {
  active->assign(params_.size(), 0);
  features.setZero();
  for (size_t i = 0; i < params_.size(); ++i) {
    const Param& p = params_[i];
    double& u = (*raw)[i];
    u = Snap(p, u);
    bool on = true;
    if (p.parent >= 0) {
      on = (*active)[p.parent] != 0 && std::find(p.parent_values.begin(), p.parent_values.end(),
                                                 (*raw)[p.parent]) != p.parent_values.end();
    }
    (*active)[i] = on;
    const int c = p.first_column;
    if (p.kind == Kind::kCategorical) {
      if (on) {
        const int index = std::clamp(static_cast<int>(u * p.num_choices), 0, p.num_choices - 1);
        features(c + index) = kInvSqrt2;
      } else {
        features(c + p.num_choices) = kInvSqrt2;
      }
    } else {
      features(c) = on ? u : 0.5;
      if (p.parent >= 0) features(c + 1) = on ? 0.0 : 1.0;
    }
  }
}

hpo::v1::ParamMap SpaceEncoder::Decode(const std::vector<double>& raw,
                                       const std::vector<char>& active) const {
  hpo::v1::ParamMap out;
  for (size_t i = 0; i < params_.size(); ++i) {
    if (!active[i]) continue;
    (*out.mutable_values())[params_[i].spec.name()] = core::Decode(params_[i].spec, raw[i]);
  }
  return out;
}

std::vector<double> SpaceEncoder::Neighbors(int i, double u) const {
  const Param& p = params_[i];
  std::vector<double> out;
  if (p.kind == Kind::kCategorical) {
    for (int k = 0; k < p.num_choices; ++k) out.push_back((k + 0.5) / p.num_choices);
  } else if (p.kind == Kind::kDiscrete) {
    const hpo::v1::ParamValue v = core::Decode(p.spec, u);
    hpo::v1::ParamValue w;
    for (int k : {-2, -1, 1, 2}) {
      if (p.spec.has_int_domain()) {
        const auto& d = p.spec.int_domain();
        const int64_t step = d.step() > 0 ? d.step() : 1;
        const int64_t x = v.int_value() + k * step;
        if (x < d.low() || x > d.high()) continue;
        w.set_int_value(x);
        out.push_back(Snap(p, core::Encode(p.spec, w)));
      } else {
        const auto& d = p.spec.float_domain();
        out.push_back(Snap(p, u + k * d.step() / (d.high() - d.low())));
      }
    }
    for (double delta : {-0.2, -0.05, 0.05, 0.2}) out.push_back(Snap(p, u + delta));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  out.erase(std::remove(out.begin(), out.end(), u), out.end());
  return out;
}

}  // namespace hpo::server::gp
