#include "server/optimizers/gp/gp_optimizer.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>
#include <numeric>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/search_space.h"
#include "nlopt.hpp"
#include "server/optimizers/gp/acquisition.h"
#include "server/optimizers/gp/power_transform.h"
#include "server/optimizers/gp/sobol.h"
#include "server/optimizers/option_parsing.h"

namespace hpo::server {
namespace {

using gp::SpaceEncoder;

// Salts that keep the random streams of one (seed, number) apart.
constexpr uint32_t kAcquisitionSalt = 0x61637175;  // "acqu"
constexpr uint32_t kSubsetSalt = 0x73756273;       // "subs"
constexpr uint32_t kModelSalt = 0x6d6f646c;        // "modl"

// Past fit_max_points observations, hyperparameters are refit when the history has grown by
// this factor since the last refit (on the history as it was then), not on every call.
constexpr double kRefitGrowth = 1.05;

// Variance floor (relative to the signal variance) for the acquisition's standard deviation.
constexpr double kMinRelativeVariance = 1e-12;
constexpr int kIncumbentStarts = 3;
constexpr int kLocalSearchRounds = 5;
constexpr int kAcquisitionMaxEvals = 100;
// Trust regions: centres farther apart than this (in lengthscale units), boxes of this
// half-width relative to the geometric-mean lengthscale, and the improvement (standardized) that
// counts against a stall.
constexpr double kRegionSeparation = 1.5;
constexpr double kRegionHalfWidth = 0.2;
constexpr double kStallTolerance = 1e-3;

core::Rng MakeRng(int64_t seed, int64_t number, uint32_t salt) {
  std::seed_seq seq{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32),
                    static_cast<uint32_t>(number), salt};
  return core::Rng(seq);
}

double SdOf(double var, double floor_var) { return std::sqrt(std::max(var, floor_var)); }

// Replaces the NaNs (observations without a usable value) among `values` by the worst (largest)
// other value.
void ImputeWorst(std::vector<double>* values) {
  double worst = -std::numeric_limits<double>::infinity();
  for (double v : *values) {
    if (!std::isnan(v)) worst = std::max(worst, v);
  }
  if (worst == -std::numeric_limits<double>::infinity()) worst = 0;  // no usable value at all
  for (double& v : *values) {
    if (std::isnan(v)) v = worst;
  }
}

}  // namespace

int GpFitHistorySize(int n, int fit_max_points) {
  if (n <= fit_max_points) return n;
  double size = fit_max_points;
  int fit = fit_max_points;
  while (true) {
    size *= kRefitGrowth;
    const int next = static_cast<int>(std::ceil(size));
    if (next > n) return fit;
    fit = next;
  }
}

namespace {}  // namespace

absl::StatusOr<std::unique_ptr<Optimizer>> GpOptimizer::Create(const hpo::v1::OptimizerSpec& spec,
                                                               const hpo::v1::SearchSpace& space) {
  if (absl::Status s = core::ValidateSearchSpace(space); !s.ok()) return s;
  Options options;
  for (const auto& [key, value] : SortedOptions(spec)) {
    absl::Status s;
    if (key == "n_startup_trials") {
      s = ParseIntOption(key, value, 1, &options.n_startup_trials);
    } else if (key == "n_candidates") {
      s = ParseIntOption(key, value, 1, &options.n_candidates);
    } else if (key == "n_restarts") {
      s = ParseIntOption(key, value, 1, &options.n_restarts);
    } else if (key == "fit_max_points") {
      s = ParseIntOption(key, value, 10, &options.fit_max_points);
    } else if (key == "model_max_points") {
      s = ParseIntOption(key, value, 10, &options.model_max_points);
    } else if (key == "fit_max_evals") {
      s = ParseIntOption(key, value, 1, &options.fit_max_evals);
    } else if (key == "trust_regions") {
      s = ParseIntOption(key, value, 0, &options.trust_regions);
    } else if (key == "stall_trials") {
      s = ParseIntOption(key, value, 1, &options.stall_trials);
    } else if (key == "power_transform") {
      s = ParseBoolOption(key, value, &options.power_transform);
    } else if (key == "pending") {
      s = ParseChoiceOption(key, value, {{"believer", true}, {"ignore", false}}, &options.believer);
    } else if (key == "pruned") {
      using P = Options::Pruned;
      s = ParseChoiceOption(
          key, value, {{"worst", P::kWorst}, {"last", P::kLast}, {"predicted", P::kPredicted}},
          &options.pruned);
    } else {
      s = UnknownOptionError(key, {"fit_max_evals", "fit_max_points", "model_max_points",
                                   "n_candidates", "n_restarts", "n_startup_trials", "pending",
                                   "power_transform", "pruned", "stall_trials", "trust_regions"});
    }
    if (!s.ok()) return s;
  }
  if (options.n_startup_trials == 0) {
    options.n_startup_trials = std::max(10, 3 * space.params_size() + 2);
  }
  return std::unique_ptr<Optimizer>(new GpOptimizer(space, spec.seed(), options));
}

GpOptimizer::GpOptimizer(hpo::v1::SearchSpace space, int64_t seed, Options options)
    : space_(std::move(space)), seed_(seed), options_(options), encoder_(space_) {
  // Lengthscale prior after Hvarfner et al. (2024), LogNormal(sqrt2 + log(d)/2, sqrt3) on the
  // lengthscale, here as a normal on log l centred on that density's mode in log l.
  const double d = std::max(1, encoder_.num_params());
  prior_.log_lengthscale_sd = std::sqrt(3.0);
  prior_.log_lengthscale_mean = std::sqrt(2.0) + 0.5 * std::log(d) - 3.0;
}

hpo::v1::ParamMap GpOptimizer::RandomProposal(int number) const {
  // The same stream as RandomOptimizer's for this (seed, number).
  std::seed_seq seq{static_cast<uint32_t>(seed_), static_cast<uint32_t>(seed_ >> 32),
                    static_cast<uint32_t>(number)};
  core::Rng rng(seq);
  return core::SampleUniform(space_, rng);
}

Eigen::VectorXd GpOptimizer::FitTheta(const Eigen::MatrixXd& features, const Eigen::VectorXd& y) {
  if (memo_theta_.size() > 0 && memo_features_.rows() == features.rows() &&
      memo_features_.cols() == features.cols() && memo_features_ == features && memo_y_ == y) {
    return memo_theta_;
  }
  gp::MarginalLikelihood likelihood(features, encoder_.groups(), y);
  const std::vector<Eigen::VectorXd> starts = {prior_.Mode(encoder_.groups().num_groups)};
  memo_theta_ = gp::FitHyperparameters(likelihood, prior_, starts, options_.fit_max_evals);
  memo_features_ = features;
  memo_y_ = y;
  return memo_theta_;
}

absl::StatusOr<std::vector<hpo::v1::ParamMap>> GpOptimizer::Suggest(
    const StudyView& view, const std::vector<int>& numbers) {
  std::vector<hpo::v1::ParamMap> out;
  out.reserve(numbers.size());
  if (numbers.empty()) return out;

  const bool maximize =
      view.spec != nullptr && view.spec->objective().direction() == hpo::v1::MAXIMIZE;
  // Observed points in history order: COMPLETED with a finite value, and, with the worst such
  // value imputed, the ones that ended without one (FAILED, PRUNED, COMPLETED with NaN or inf).
  std::vector<Point> completed;
  std::vector<double> values;  // NaN marks an imputed one until the worst value is known
  std::vector<Point> pending;
  int usable = 0;
  // A warm start's trials come first, as the oldest history.
  const size_t n_prior = view.prior != nullptr ? view.prior->size() : 0;
  const size_t n_history = n_prior + (view.trials != nullptr ? view.trials->size() : 0);
  {
    for (size_t k = 0; k < n_history; ++k) {
      const hpo::v1::Trial& t = k < n_prior ? (*view.prior)[k] : (*view.trials)[k - n_prior];
      // A PRUNED trial counted by a value of its own (option pruned), when it has a finite one.
      std::optional<double> pruned_value;
      if (t.state() == hpo::v1::PRUNED && options_.pruned != Options::Pruned::kWorst) {
        if (options_.pruned == Options::Pruned::kPredicted && t.has_prediction() &&
            std::isfinite(t.prediction().mean())) {
          pruned_value = t.prediction().mean();
        } else if (t.has_value() && std::isfinite(t.value())) {
          pruned_value = t.value();
        }
      }
      const bool done =
          (t.state() == hpo::v1::COMPLETED && t.has_value() && std::isfinite(t.value())) ||
          pruned_value.has_value();
      const bool valueless = t.state() == hpo::v1::FAILED || t.state() == hpo::v1::PRUNED ||
                             (t.state() == hpo::v1::COMPLETED && !done);
      const bool running = t.state() == hpo::v1::RUNNING || t.state() == hpo::v1::PENDING;
      if (!done && !valueless && !running) continue;
      if (!core::ValidateParams(space_, t.params()).ok()) continue;
      Point p;
      p.raw = encoder_.Raw(t.params());
      p.features.resize(encoder_.num_features());
      encoder_.Canonicalize(&p.raw, &p.active, p.features);
      if (running) {
        pending.push_back(std::move(p));
        continue;
      }
      completed.push_back(std::move(p));
      const double value = pruned_value.value_or(t.value());
      values.push_back(!done ? std::numeric_limits<double>::quiet_NaN()
                             : (maximize ? -value : value));
      usable += done;
    }
  }
  if (usable < options_.n_startup_trials || encoder_.num_params() == 0) {
    for (int number : numbers) out.push_back(RandomProposal(number));
    return out;
  }
  const int n = static_cast<int>(completed.size());

  // Hyperparameters from the history as it was at the last refit (every call up to
  // fit_max_points observations; then each time it has grown by kRefitGrowth), on a
  // deterministic subset of fit_max_points of those observations beyond that. A function of
  // the history alone, so the memo serves every call between two refits. Past the last refit
  // the fitted values are imputed and standardized over the refit's observations alone.
  const int fit_n = GpFitHistorySize(n, options_.fit_max_points);
  std::vector<double> prefix;
  if (fit_n < n) prefix.assign(values.begin(), values.begin() + fit_n);

  // Standardized (and power-transformed) values of the whole history.
  ImputeWorst(&values);
  const Eigen::VectorXd y = gp::TransformOutputs(
      Eigen::Map<const Eigen::VectorXd>(values.data(), n), options_.power_transform);

  Eigen::VectorXd theta;
  {
    Eigen::VectorXd fit_y;
    if (fit_n < n) {
      ImputeWorst(&prefix);
      fit_y = gp::TransformOutputs(Eigen::Map<const Eigen::VectorXd>(prefix.data(), fit_n),
                                   options_.power_transform);
    }
    const Eigen::VectorXd& fitted = fit_n < n ? fit_y : y;
    std::vector<int> index(fit_n);
    std::iota(index.begin(), index.end(), 0);
    if (fit_n > options_.fit_max_points) {
      core::Rng rng = MakeRng(seed_, fit_n, kSubsetSalt);
      std::shuffle(index.begin(), index.end(), rng);
      index.resize(options_.fit_max_points);
      std::sort(index.begin(), index.end());
    }
    Eigen::MatrixXd f(encoder_.num_features(), index.size());
    Eigen::VectorXd v(index.size());
    for (size_t k = 0; k < index.size(); ++k) {
      f.col(k) = completed[index[k]].features;
      v(k) = fitted(index[k]);
    }
    theta = FitTheta(f, v);
  }

  // The model conditions on at most model_max_points observations: beyond that, the half
  // nearest the best one (in lengthscale units) and a deterministic draw from the rest.
  const std::vector<int> model_points = ModelPoints(completed, y, theta);
  Eigen::MatrixXd features(encoder_.num_features(), model_points.size());
  Eigen::VectorXd model_y(model_points.size());
  for (size_t k = 0; k < model_points.size(); ++k) {
    features.col(k) = completed[model_points[k]].features;
    model_y(k) = y(model_points[k]);
  }
  absl::StatusOr<gp::GaussianProcess> model =
      gp::GaussianProcess::Create(features, encoder_.groups(), model_y, theta);
  if (!model.ok()) return model.status();
  // Kriging believer: a pending point enters the model as an observation of its posterior mean,
  // and, like any observation, can be the incumbent that later proposals must improve on
  // (otherwise a point whose mean beats the best completed value keeps its expected improvement
  // and attracts the next proposal again).
  std::vector<std::pair<std::vector<double>, double>> believed;  // raw values, standardized value
  auto believe = [&](const Point& p) {
    Eigen::VectorXd m, v;
    model->Predict(p.features, &m, &v);
    model->AddPoint(p.features, m(0));
    believed.emplace_back(p.raw, m(0));
  };
  if (options_.believer) {
    for (const Point& p : pending) believe(p);
  }
  // The value to improve on: the best completed or believed value, inside `box` when non-null.
  auto incumbent_value = [&](double completed_best, const Box* box) {
    double v = completed_best;
    for (const auto& [raw, value] : believed) {
      bool inside = true;
      for (size_t i = 0; box != nullptr && i < raw.size() && inside; ++i) {
        inside = raw[i] >= box->lo[i] && raw[i] <= box->hi[i];
      }
      if (inside) v = std::min(v, value);
    }
    return v;
  };

  // The best completed points seed the local searches.
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return y(a) < y(b); });
  std::vector<Point> incumbents;
  for (int k = 0; k < std::min(n, kIncumbentStarts); ++k) incumbents.push_back(completed[order[k]]);

  for (size_t k = 0; k < numbers.size(); ++k) {
    core::Rng rng = MakeRng(seed_, numbers[k], kAcquisitionSalt);
    const std::optional<Region> region = PickRegion(completed, order, y, theta, numbers[k]);
    Point chosen =
        region.has_value()
            ? MaximizeAcquisition(*model, incumbent_value(y(region->center), &region->box),
                                  {completed[region->center]}, &region->box, rng)
            : MaximizeAcquisition(*model, incumbent_value(y.minCoeff(), nullptr), incumbents,
                                  nullptr, rng);
    hpo::v1::ParamMap params = encoder_.Decode(chosen.raw, chosen.active);
    if (absl::Status s = core::ValidateParams(space_, params); !s.ok()) {
      return absl::InternalError(absl::StrCat("gp proposed an invalid assignment: ", s.message()));
    }
    out.push_back(std::move(params));
    if (options_.believer && k + 1 < numbers.size()) believe(chosen);
  }
  return out;
}

std::vector<int> GpOptimizer::ModelPoints(const std::vector<Point>& completed,
                                          const Eigen::VectorXd& y,
                                          const Eigen::VectorXd& theta) const {
  const int n = static_cast<int>(completed.size());
  std::vector<int> chosen(n);
  std::iota(chosen.begin(), chosen.end(), 0);
  if (n <= options_.model_max_points) return chosen;
  int best = 0;
  for (int i = 1; i < n; ++i) {
    if (y(i) < y(best)) best = i;
  }
  Eigen::VectorXd inv_lengthscale(encoder_.num_features());
  for (int c = 0; c < inv_lengthscale.size(); ++c) {
    inv_lengthscale(c) = std::exp(-theta(encoder_.groups().group[c]));
  }
  std::vector<double> distance(n);
  for (int i = 0; i < n; ++i) {
    distance[i] = (completed[i].features - completed[best].features)
                      .cwiseProduct(inv_lengthscale)
                      .squaredNorm();
  }
  const int near = options_.model_max_points / 2;
  std::partial_sort(chosen.begin(), chosen.begin() + near, chosen.end(), [&](int a, int b) {
    return distance[a] < distance[b] || (distance[a] == distance[b] && a < b);
  });
  core::Rng rng = MakeRng(seed_, n, kModelSalt);
  std::shuffle(chosen.begin() + near, chosen.end(), rng);
  chosen.resize(options_.model_max_points);
  std::sort(chosen.begin(), chosen.end());
  return chosen;
}

std::optional<GpOptimizer::Region> GpOptimizer::PickRegion(const std::vector<Point>& completed,
                                                           const std::vector<int>& order,
                                                           const Eigen::VectorXd& y,
                                                           const Eigen::VectorXd& theta,
                                                           int number) const {
  const int n = static_cast<int>(completed.size());
  if (options_.trust_regions <= 1) return std::nullopt;
  // A stall: no improvement over the last stall_trials completed trials (once that many have
  // completed after the startup ones).
  const int before = n - options_.stall_trials;
  if (before >= options_.n_startup_trials &&
      y.head(before).minCoeff() - y.minCoeff() < kStallTolerance) {
    return std::nullopt;
  }
  const int d = encoder_.num_params();
  std::vector<double> lengthscale(d);
  double log_mean = 0;
  for (int i = 0; i < d; ++i) {
    lengthscale[i] = std::exp(theta(encoder_.groups().group[encoder_.value_column(i)]));
    log_mean += std::log(lengthscale[i]) / d;
  }
  std::vector<int> centers;
  for (int index : order) {
    bool distinct = true;
    for (int c : centers) {
      double r2 = 0;
      for (int i = 0; i < d; ++i) {
        const double u = (completed[index].raw[i] - completed[c].raw[i]) / lengthscale[i];
        r2 += u * u;
      }
      if (r2 <= kRegionSeparation * kRegionSeparation) {
        distinct = false;
        break;
      }
    }
    if (distinct) centers.push_back(index);
    if (static_cast<int>(centers.size()) == options_.trust_regions) break;
  }
  Region region;
  region.center = centers[static_cast<size_t>(number) % centers.size()];
  const Point& c = completed[region.center];
  region.box.lo.resize(d);
  region.box.hi.resize(d);
  for (int i = 0; i < d; ++i) {
    const double half = std::min(0.5, kRegionHalfWidth * lengthscale[i] / std::exp(log_mean));
    region.box.lo[i] = std::max(0.0, c.raw[i] - half);
    region.box.hi[i] = std::min(1.0, c.raw[i] + half);
  }
  return region;
}

double GpOptimizer::Score(const gp::GaussianProcess& model, double best, Point* point) const {
  point->features.resize(encoder_.num_features());
  encoder_.Canonicalize(&point->raw, &point->active, point->features);
  Eigen::VectorXd m, v;
  model.Predict(point->features, &m, &v);
  const double floor_var = kMinRelativeVariance * model.signal_variance();
  return gp::LogExpectedImprovement(m(0), SdOf(v(0), floor_var), best);
}

namespace {

struct ContinuousState {
  const gp::GaussianProcess* model = nullptr;
  const SpaceEncoder* encoder = nullptr;
  double best = 0;
  double floor_var = 0;
  const std::vector<int>* params = nullptr;  // optimized parameter indices
  Eigen::VectorXd features;
  std::vector<double> best_x;
  double best_value = -std::numeric_limits<double>::infinity();
};

double ContinuousObjective(const std::vector<double>& x, std::vector<double>& grad, void* data) {
  auto* s = static_cast<ContinuousState*>(data);
  const std::vector<int>& params = *s->params;
  for (size_t k = 0; k < params.size(); ++k) {
    s->features(s->encoder->value_column(params[k])) = x[k];
  }
  double mean, var;
  Eigen::VectorXd d_mean, d_var;
  s->model->PredictWithGradient(s->features, &mean, &var, &d_mean, &d_var);
  const double sd = SdOf(var, s->floor_var);
  double dl_dmean, dl_dsd;
  const double value = gp::LogExpectedImprovement(mean, sd, s->best, &dl_dmean, &dl_dsd);
  if (!grad.empty()) {
    const double dsd_dvar = var > s->floor_var ? 0.5 / sd : 0.0;
    for (size_t k = 0; k < params.size(); ++k) {
      const int c = s->encoder->value_column(params[k]);
      const double g = dl_dmean * d_mean(c) + dl_dsd * dsd_dvar * d_var(c);
      grad[k] = std::isfinite(g) ? g : 0.0;
    }
  }
  if (value > s->best_value) {
    s->best_value = value;
    s->best_x = x;
  }
  return std::isfinite(value) ? value : -1e300;
}

}  // namespace

double GpOptimizer::ContinuousSearch(const gp::GaussianProcess& model, double best, const Box* box,
                                     Point* point) const {
  const double start = Score(model, best, point);
  std::vector<int> params;
  for (int i = 0; i < encoder_.num_params(); ++i) {
    if (point->active[i] && encoder_.kind(i) == SpaceEncoder::Kind::kContinuous) {
      params.push_back(i);
    }
  }
  if (params.empty()) return start;
  ContinuousState state;
  state.model = &model;
  state.encoder = &encoder_;
  state.best = best;
  state.floor_var = kMinRelativeVariance * model.signal_variance();
  state.params = &params;
  state.features = point->features;
  // The starts lie inside the box (the region's centre and Sobol points drawn in it).
  std::vector<double> x(params.size());
  std::vector<double> lo(params.size(), 0.0), hi(params.size(), 1.0);
  for (size_t k = 0; k < params.size(); ++k) {
    x[k] = point->raw[params[k]];
    if (box != nullptr) {
      lo[k] = box->lo[params[k]];
      hi[k] = box->hi[params[k]];
    }
  }
  state.best_x = x;
  state.best_value = start;
  nlopt::opt opt(nlopt::LD_LBFGS, static_cast<unsigned>(params.size()));
  opt.set_lower_bounds(lo);
  opt.set_upper_bounds(hi);
  opt.set_max_objective(ContinuousObjective, &state);
  opt.set_maxeval(kAcquisitionMaxEvals);
  opt.set_ftol_abs(1e-10);
  opt.set_xtol_abs(1e-9);
  double f = 0;
  try {
    opt.optimize(x, f);
  } catch (const std::exception&) {
    // The state kept the best point seen.
  }
  for (size_t k = 0; k < params.size(); ++k) point->raw[params[k]] = state.best_x[k];
  return Score(model, best, point);
}

double GpOptimizer::LocalSearch(const gp::GaussianProcess& model, double best, const Box* box,
                                Point* point) const {
  double value = ContinuousSearch(model, best, box, point);
  for (int round = 0; round < kLocalSearchRounds; ++round) {
    bool improved = false;
    for (int i = 0; i < encoder_.num_params(); ++i) {
      if (!point->active[i] || encoder_.kind(i) == SpaceEncoder::Kind::kContinuous) continue;
      Point best_neighbor;
      double best_value = value;
      for (double u : encoder_.Neighbors(i, point->raw[i])) {
        Point candidate = *point;
        candidate.raw[i] = u;
        const double v = Score(model, best, &candidate);
        if (v > best_value + 1e-12) {
          best_value = v;
          best_neighbor = std::move(candidate);
        }
      }
      if (!best_neighbor.raw.empty()) {
        *point = std::move(best_neighbor);
        value = best_value;
        improved = true;
      }
    }
    if (!improved) break;
    value = ContinuousSearch(model, best, box, point);
  }
  return value;
}

GpOptimizer::Point GpOptimizer::MaximizeAcquisition(const gp::GaussianProcess& model, double best,
                                                    const std::vector<Point>& incumbents,
                                                    const Box* box, core::Rng& rng) const {
  const int d = encoder_.num_params();
  const int m = options_.n_candidates;
  gp::SobolSequence sobol(d, rng());
  std::vector<Point> candidates(m);
  Eigen::MatrixXd features(encoder_.num_features(), m);
  for (int j = 0; j < m; ++j) {
    Point& p = candidates[j];
    p.raw.resize(d);
    sobol.Next(p.raw.data());
    if (box != nullptr) {
      for (int i = 0; i < d; ++i) p.raw[i] = box->lo[i] + (box->hi[i] - box->lo[i]) * p.raw[i];
    }
    p.features.resize(encoder_.num_features());
    encoder_.Canonicalize(&p.raw, &p.active, p.features);
    features.col(j) = p.features;
  }
  Eigen::VectorXd mean, var;
  model.Predict(features, &mean, &var);
  const double floor_var = kMinRelativeVariance * model.signal_variance();
  std::vector<double> score(m);
  for (int j = 0; j < m; ++j) {
    score[j] = gp::LogExpectedImprovement(mean(j), SdOf(var(j), floor_var), best);
  }
  std::vector<int> order(m);
  std::iota(order.begin(), order.end(), 0);
  const int starts = std::min(m, options_.n_restarts);
  std::partial_sort(order.begin(), order.begin() + starts, order.end(), [&](int a, int b) {
    return score[a] > score[b] || (score[a] == score[b] && a < b);
  });

  std::vector<Point> seeds;
  for (int k = 0; k < starts; ++k) seeds.push_back(candidates[order[k]]);
  for (const Point& p : incumbents) seeds.push_back(p);
  Point winner = seeds.front();
  double winner_value = -std::numeric_limits<double>::infinity();
  for (Point& p : seeds) {
    const double v = LocalSearch(model, best, box, &p);
    if (v > winner_value) {
      winner_value = v;
      winner = p;
    }
  }
  return winner;
}

}  // namespace hpo::server
