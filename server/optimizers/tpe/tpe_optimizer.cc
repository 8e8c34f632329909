#include "server/optimizers/tpe/tpe_optimizer.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/search_space.h"
#include "server/optimizers/option_parsing.h"

namespace hpo::server {

using hpo::v1::ParamMap;
using hpo::v1::ParamSpec;
using hpo::v1::ParamValue;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Rounds a double to int64, saturating instead of overflowing.
int64_t SaturatingRound(double x) {
  if (!(x > -0x1.0p63)) return std::numeric_limits<int64_t>::min();
  if (x >= 0x1.0p63) return std::numeric_limits<int64_t>::max();
  return static_cast<int64_t>(std::round(x));
}

// Appends to `cand` (k rows of dims.size() values) a copy of every row with each continuous
// value that lies within `fraction` of its range from a bound moved onto that bound; rows with no
// such value get no copy. Returns the new number of rows.
int AppendBoundCopies(const std::vector<tpe::Dim>& dims, double fraction, int k,
                      std::vector<double>* cand) {
  const size_t g = dims.size();
  int rows = k;
  std::vector<double> copy(g);
  for (int c = 0; c < k; ++c) {
    bool moved = false;
    for (size_t t = 0; t < g; ++t) {
      double x = (*cand)[c * g + t];
      const tpe::Dim& d = dims[t];
      if (d.kind == tpe::Dim::Kind::kContinuous) {
        const double width = fraction * (d.high - d.low);
        if (x != d.low && x - d.low < width) {
          x = d.low;
          moved = true;
        } else if (x != d.high && d.high - x < width) {
          x = d.high;
          moved = true;
        }
      }
      copy[t] = x;
    }
    if (!moved) continue;
    cand->insert(cand->end(), copy.begin(), copy.end());
    ++rows;
  }
  return rows;
}

// The RNG of trial `number`: the same stream RandomOptimizer uses.
core::Rng TrialRng(int64_t seed, int number) {
  std::seed_seq seq{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32),
                    static_cast<uint32_t>(number)};
  return core::Rng(seq);
}

}  // namespace

// ------------------------------------------------------------------ construction

absl::StatusOr<TpeOptimizer::Options> TpeOptimizer::ParseOptions(
    const hpo::v1::OptimizerSpec& spec) {
  Options o;
  for (const auto& [key, value] : SortedOptions(spec)) {
    absl::Status s;
    if (key == "n_startup_trials") {
      s = ParseIntOption(key, value, 0, &o.n_startup_trials);
    } else if (key == "n_ei_candidates") {
      s = ParseIntOption(key, value, 1, &o.n_ei_candidates);
    } else if (key == "gamma") {
      double fraction;
      if (value == "optuna") {
        o.sqrt_gamma = false;
        o.gamma_fraction = 0.1;
      } else if (value == "sqrt") {
        o.sqrt_gamma = true;
      } else if (absl::SimpleAtod(value, &fraction) && fraction > 0 && fraction <= 1) {
        o.sqrt_gamma = false;
        o.gamma_fraction = fraction;
      } else {
        s = OptionError(key,
                        absl::StrCat("'", value, "' is not optuna, sqrt or a fraction in (0, 1]"));
      }
    } else if (key == "bandwidth") {
      double t;
      if (value == "scott") {
        o.scott_bandwidth = true;
        o.gap_weight = 1;  // parameters sampled alone outside multivariate mode: plain gaps
      } else if (value == "gaps") {
        o.scott_bandwidth = false;
        o.gap_weight = 1;
      } else if (absl::SimpleAtod(value, &t) && t >= 0 && t <= 1) {
        o.scott_bandwidth = false;
        o.gap_weight = t;
      } else {
        s = OptionError(key,
                        absl::StrCat("'", value, "' is not scott, gaps or a weight in [0, 1]"));
      }
    } else if (key == "weights") {
      s = ParseChoiceOption(key, value, {{"optuna", true}, {"uniform", false}}, &o.ramp_weights);
    } else if (key == "kernel_normalization") {
      s = ParseChoiceOption(key, value, {{"exact", false}, {"optuna31", true}}, &o.optuna31_kernel);
    } else if (key == "prior_weight") {
      double v;
      if (absl::SimpleAtod(value, &v) && std::isfinite(v) && v > 0) {
        o.prior_weight = v;
      } else {
        s = OptionError(key, absl::StrCat("'", value, "' is not a finite number > 0"));
      }
    } else if (key == "bound_candidates") {
      double v;
      if (absl::SimpleAtod(value, &v) && v >= 0 && v < 0.5) {
        o.bound_candidates = v;
      } else {
        s = OptionError(key, absl::StrCat("'", value, "' is not a fraction in [0, 0.5)"));
      }
    } else if (key == "multivariate") {
      s = ParseBoolOption(key, value, &o.multivariate);
    } else if (key == "pruned") {
      s = ParseChoiceOption(key, value,
                            {{"last", Options::Pruned::kLast},
                             {"worst", Options::Pruned::kWorst},
                             {"predicted", Options::Pruned::kPredicted}},
                            &o.pruned);
    } else if (key == "constant_liar") {
      s = ParseBoolOption(key, value, &o.constant_liar);
    } else if (key == "consider_magic_clip") {
      s = ParseBoolOption(key, value, &o.consider_magic_clip);
    } else if (key == "consider_endpoints") {
      s = ParseBoolOption(key, value, &o.consider_endpoints);
    } else {
      s = UnknownOptionError(
          key, {"bandwidth", "bound_candidates", "consider_endpoints", "consider_magic_clip",
                "constant_liar", "gamma", "kernel_normalization", "multivariate", "n_ei_candidates",
                "n_startup_trials", "prior_weight", "pruned", "weights"});
    }
    if (!s.ok()) return s;
  }
  return o;
}

absl::StatusOr<std::unique_ptr<Optimizer>> TpeOptimizer::Create(const hpo::v1::OptimizerSpec& spec,
                                                                const hpo::v1::SearchSpace& space) {
  absl::StatusOr<Options> options = ParseOptions(spec);
  if (!options.ok()) return options.status();
  if (absl::Status s = core::ValidateSearchSpace(space); !s.ok()) return s;
  return std::unique_ptr<Optimizer>(new TpeOptimizer(space, spec.seed(), *options));
}

TpeOptimizer::TpeOptimizer(hpo::v1::SearchSpace space, int64_t seed, Options options)
    : space_(std::move(space)), seed_(seed), options_(options) {
  for (const ParamSpec& spec : space_.params()) {
    Param p;
    p.spec = &spec;
    tpe::Dim& dim = p.dim;
    switch (spec.domain_case()) {
      case ParamSpec::kFloatDomain: {
        const auto& d = spec.float_domain();
        if (d.log()) {
          p.repr = Repr::kFloatLog;
          dim.low = std::log(d.low());
          dim.high = std::log(d.high());
        } else if (d.step() > 0) {
          p.repr = Repr::kFloatStep;
          p.grid_max = static_cast<int64_t>(std::floor((d.high() - d.low()) / d.step() + 1e-9));
          const double top =
              std::min(d.low() + static_cast<double>(p.grid_max) * d.step(), d.high());
          dim.kind = tpe::Dim::Kind::kDiscrete;
          dim.q = d.step();
          dim.low = d.low() - 0.5 * d.step();
          dim.high = top + 0.5 * d.step();
        } else {
          p.repr = Repr::kFloat;
          dim.low = d.low();
          dim.high = d.high();
        }
        break;
      }
      case ParamSpec::kIntDomain: {
        const auto& d = spec.int_domain();
        if (d.log()) {
          p.repr = Repr::kIntLog;
          dim.low = std::log(static_cast<double>(d.low()) - 0.5);
          dim.high = std::log(static_cast<double>(d.high()) + 0.5);
        } else {
          p.repr = Repr::kInt;
          const int64_t step = d.step() > 0 ? d.step() : 1;
          const uint64_t span = static_cast<uint64_t>(d.high()) - static_cast<uint64_t>(d.low());
          p.grid_max = static_cast<int64_t>(span / static_cast<uint64_t>(step));
          const double top = static_cast<double>(d.low()) + static_cast<double>(p.grid_max) * step;
          dim.kind = tpe::Dim::Kind::kDiscrete;
          dim.q = static_cast<double>(step);
          dim.low = static_cast<double>(d.low()) - 0.5 * dim.q;
          dim.high = top + 0.5 * dim.q;
        }
        break;
      }
      default:  // categorical (the space is valid)
        p.repr = Repr::kCategorical;
        dim.kind = tpe::Dim::Kind::kCategorical;
        dim.n_choices = spec.categorical().choices_size();
        break;
    }
    if (!spec.has_condition()) unconditional_.push_back(static_cast<int>(params_.size()));
    params_.push_back(p);
  }
}

// ------------------------------------------------------------------ representation

double TpeOptimizer::ToInternal(int i, const ParamValue& v) const {
  const Param& p = params_[i];
  if (p.repr == Repr::kCategorical) {
    const auto& choices = p.spec->categorical().choices();
    for (int k = 0; k < choices.size(); ++k) {
      if (core::ValueEquals(choices[k], v)) return k;
    }
    return kNaN;
  }
  double x;
  if (v.kind_case() == ParamValue::kFloatValue) {
    x = v.float_value();
  } else if (v.kind_case() == ParamValue::kIntValue) {
    x = static_cast<double>(v.int_value());
  } else {
    return kNaN;
  }
  if (!std::isfinite(x)) return kNaN;
  switch (p.repr) {
    case Repr::kFloatLog:
      x = std::log(std::clamp(x, p.spec->float_domain().low(), p.spec->float_domain().high()));
      break;
    case Repr::kIntLog:
      x = std::log(std::clamp(x, static_cast<double>(p.spec->int_domain().low()),
                              static_cast<double>(p.spec->int_domain().high())));
      break;
    default:
      break;
  }
  return std::clamp(x, p.dim.low, p.dim.high);
}

double TpeOptimizer::Snap(int i, double x, ParamValue* out) const {
  const Param& p = params_[i];
  switch (p.repr) {
    case Repr::kFloat: {
      const auto& d = p.spec->float_domain();
      const double v = std::clamp(x, d.low(), d.high());
      if (out != nullptr) out->set_float_value(v);
      return v;
    }
    case Repr::kFloatLog: {
      const auto& d = p.spec->float_domain();
      const double v = std::clamp(std::exp(x), d.low(), d.high());
      if (out != nullptr) out->set_float_value(v);
      return std::log(v);
    }
    case Repr::kFloatStep: {
      const auto& d = p.spec->float_domain();
      const double k =
          std::clamp(std::round((x - d.low()) / d.step()), 0.0, static_cast<double>(p.grid_max));
      const double v = std::min(d.low() + k * d.step(), d.high());
      if (out != nullptr) out->set_float_value(v);
      return v;
    }
    case Repr::kInt: {
      const auto& d = p.spec->int_domain();
      const int64_t step = d.step() > 0 ? d.step() : 1;
      const double kd = std::clamp(std::round((x - static_cast<double>(d.low())) / step), 0.0,
                                   static_cast<double>(p.grid_max));
      const int64_t k = std::min(SaturatingRound(kd), p.grid_max);
      const int64_t v = static_cast<int64_t>(
          static_cast<uint64_t>(d.low()) + static_cast<uint64_t>(k) * static_cast<uint64_t>(step));
      if (out != nullptr) out->set_int_value(v);
      return static_cast<double>(v);
    }
    case Repr::kIntLog: {
      const auto& d = p.spec->int_domain();
      const int64_t v = std::clamp(SaturatingRound(std::exp(x)), d.low(), d.high());
      if (out != nullptr) out->set_int_value(v);
      return std::log(static_cast<double>(v));
    }
    case Repr::kCategorical: {
      const int n = p.dim.n_choices;
      const int k =
          std::isfinite(x) ? static_cast<int>(std::clamp(std::round(x), 0.0, n - 1.0)) : 0;
      if (out != nullptr) *out = p.spec->categorical().choices(k);
      return k;
    }
  }
  return x;
}

// ------------------------------------------------------------------ history

int TpeOptimizer::Collect(const StudyView& view, const std::vector<int>& numbers) {
  obs_.clear();
  rows_.clear();
  if (view.trials == nullptr) return 0;
  std::vector<int> asked = numbers;
  std::sort(asked.begin(), asked.end());
  const std::string metric = view.spec != nullptr ? view.spec->objective().metric() : "";
  const double sign =
      view.spec != nullptr && view.spec->objective().direction() == hpo::v1::MAXIMIZE ? -1 : 1;
  const size_t n_params = params_.size();
  int finished = 0;
  // A warm start's trials come first, as the oldest history (numbers of their own study).
  const size_t n_prior = view.prior != nullptr ? view.prior->size() : 0;
  const size_t n_history = n_prior + view.trials->size();
  for (size_t k = 0; k < n_history; ++k) {
    const hpo::v1::Trial& t = k < n_prior ? (*view.prior)[k] : (*view.trials)[k - n_prior];
    // A trial being proposed again is not part of its own history.
    if (k >= n_prior && std::binary_search(asked.begin(), asked.end(), t.number())) continue;
    Observation o{0, 0, false};
    switch (t.state()) {
      case hpo::v1::COMPLETED:
        if (!t.has_value() || std::isnan(t.value())) continue;
        o.key1 = -kInf;
        o.key2 = sign * t.value();
        break;
      case hpo::v1::PRUNED: {
        // Ranked after every completed trial: by the last step reached (further is better), then
        // by the objective reported there.
        bool found = false;
        int64_t step = 0;
        double value = 0;
        for (const hpo::v1::Measurement& m : t.measurements()) {
          auto it = m.metrics().find(metric);
          if (it == m.metrics().end()) continue;
          if (!found || m.step() >= step) {
            found = true;
            step = m.step();
            value = it->second;
          }
        }
        if (!found && t.has_value()) {
          found = true;
          step = std::max<int64_t>(t.last_step(), 0);
          value = t.value();
        }
        if (options_.pruned == Options::Pruned::kPredicted && t.has_prediction() &&
            std::isfinite(t.prediction().mean())) {
          o.key1 = -kInf;  // among the completed trials, by its forecast
          o.key2 = sign * t.prediction().mean();
        } else if (options_.pruned == Options::Pruned::kWorst) {
          o.key1 = 0;  // after every completed trial, all alike
          o.key2 = 0;
        } else if (found) {
          o.key1 = -static_cast<double>(step);
          o.key2 = std::isnan(value) ? kInf : sign * value;
        } else {
          o.key1 = 1;
          o.key2 = 0;
        }
        break;
      }
      case hpo::v1::RUNNING:
      case hpo::v1::PENDING:
        if (!options_.constant_liar) continue;
        o.key1 = kInf;
        o.key2 = kInf;
        o.liar = true;
        break;
      default:  // FAILED, LOST
        continue;
    }
    if (!o.liar) ++finished;
    obs_.push_back(o);
    const auto& values = t.params().values();
    for (size_t i = 0; i < n_params; ++i) {
      auto it = values.find(params_[i].spec->name());
      rows_.push_back(it == values.end() ? kNaN : ToInternal(static_cast<int>(i), it->second));
    }
  }
  return finished;
}

// ------------------------------------------------------------------ sampling

void TpeOptimizer::SampleGroup(const std::vector<int>& group, bool scott, core::Rng& rng,
                               double* chosen) {
  const size_t g = group.size();
  const size_t n_params = params_.size();
  std::vector<tpe::Dim> dims(g);
  for (size_t t = 0; t < g; ++t) dims[t] = params_[group[t]].dim;

  // Rows of the group's values, for the trials that have all of them.
  auto gather = [&](const std::vector<int>& indices, std::vector<double>* out) {
    out->clear();
    for (int o : indices) {
      const double* row = &rows_[static_cast<size_t>(o) * n_params];
      bool complete = true;
      for (size_t t = 0; t < g && complete; ++t) complete = !std::isnan(row[group[t]]);
      if (!complete) continue;
      for (size_t t = 0; t < g; ++t) out->push_back(row[group[t]]);
    }
  };
  std::vector<double> below, above;
  gather(below_, &below);
  gather(above_, &above);

  tpe::ParzenOptions po;
  po.prior_weight = options_.prior_weight;
  po.consider_magic_clip = options_.consider_magic_clip;
  po.consider_endpoints = options_.consider_endpoints;
  po.scott_bandwidth = scott;
  po.gap_weight = options_.gap_weight;
  po.ramp_weights = options_.ramp_weights;
  po.optuna31_kernel = options_.optuna31_kernel;
  const tpe::ParzenEstimator l(dims, below.data(), static_cast<int>(below.size() / g), po);
  const tpe::ParzenEstimator gx(dims, above.data(), static_cast<int>(above.size() / g), po);

  const int k = options_.n_ei_candidates;
  std::vector<double> cand(static_cast<size_t>(k) * g);
  l.Sample(rng, k, cand.data());
  for (int c = 0; c < k; ++c) {
    for (size_t t = 0; t < g; ++t) cand[c * g + t] = Snap(group[t], cand[c * g + t], nullptr);
  }
  const int rows = options_.bound_candidates > 0
                       ? AppendBoundCopies(dims, options_.bound_candidates, k, &cand)
                       : k;
  std::vector<double> log_l(rows), log_g(rows);
  l.LogPdf(cand.data(), rows, log_l.data());
  gx.LogPdf(cand.data(), rows, log_g.data());
  int best = 0;
  double best_score = -kInf;
  for (int c = 0; c < rows; ++c) {
    const double score = log_l[c] - log_g[c];
    if (score > best_score) {  // NaN never wins
      best_score = score;
      best = c;
    }
  }
  std::copy(cand.begin() + best * g, cand.begin() + (best + 1) * g, chosen);
}

absl::StatusOr<std::vector<ParamMap>> TpeOptimizer::Suggest(const StudyView& view,
                                                            const std::vector<int>& numbers) {
  std::vector<ParamMap> out;
  out.reserve(numbers.size());
  const int finished = Collect(view, numbers);
  if (finished < options_.n_startup_trials) {
    for (int number : numbers) {
      core::Rng rng = TrialRng(seed_, number);
      out.push_back(core::SampleUniform(space_, rng));
    }
    return out;
  }

  // Split: the gamma(n) best finished trials are "below" (good), the rest and every liar "above".
  std::vector<int> ranked;
  below_.clear();
  above_.clear();
  for (size_t o = 0; o < obs_.size(); ++o) {
    if (obs_[o].liar) {
      above_.push_back(static_cast<int>(o));
    } else {
      ranked.push_back(static_cast<int>(o));
    }
  }
  std::stable_sort(ranked.begin(), ranked.end(), [&](int a, int b) {
    if (obs_[a].key1 != obs_[b].key1) return obs_[a].key1 < obs_[b].key1;
    return obs_[a].key2 < obs_[b].key2;
  });
  const int n_below = options_.sqrt_gamma ? tpe::SqrtGamma(finished)
                                          : tpe::LinearGamma(finished, options_.gamma_fraction);
  below_.assign(ranked.begin(), ranked.begin() + n_below);
  above_.insert(above_.end(), ranked.begin() + n_below, ranked.end());
  std::sort(below_.begin(), below_.end());
  std::sort(above_.begin(), above_.end());

  const size_t n_params = params_.size();
  std::vector<double> row(n_params), chosen(n_params);
  std::vector<int> single(1);
  for (int number : numbers) {
    core::Rng rng = TrialRng(seed_, number);
    ParamMap proposal;
    auto& values = *proposal.mutable_values();
    std::fill(row.begin(), row.end(), kNaN);
    std::vector<bool> done(n_params, false);
    if (options_.multivariate && !unconditional_.empty()) {
      SampleGroup(unconditional_, options_.scott_bandwidth, rng, chosen.data());
      for (size_t t = 0; t < unconditional_.size(); ++t) {
        const int i = unconditional_[t];
        row[i] = Snap(i, chosen[t], &values[params_[i].spec->name()]);
        done[i] = true;
      }
    }
    // The rest one by one, in declaration order: a parent is decided before its children.
    for (size_t i = 0; i < n_params; ++i) {
      if (done[i] || !core::IsActive(*params_[i].spec, proposal)) continue;
      single[0] = static_cast<int>(i);
      SampleGroup(single, options_.multivariate && options_.scott_bandwidth, rng, chosen.data());
      row[i] = Snap(static_cast<int>(i), chosen[0], &values[params_[i].spec->name()]);
    }
    out.push_back(std::move(proposal));
    if (options_.constant_liar) {
      // Later numbers of this call see this proposal as a running trial.
      above_.push_back(static_cast<int>(obs_.size()));
      obs_.push_back(Observation{kInf, kInf, true});
      rows_.insert(rows_.end(), row.begin(), row.end());
    }
  }
  return out;
}

}  // namespace hpo::server
