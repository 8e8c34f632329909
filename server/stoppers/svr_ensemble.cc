#include "server/stoppers/svr_ensemble.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

#include "absl/strings/str_cat.h"
#include "libsvm/svm.h"

namespace hpo::server {
namespace {

void Silent(const char*) {}

// The error term of a forecast averages at least this many out-of-fold residuals.
constexpr int kFewestNeighbours = 15;

// libsvm prints progress to stdout unless told otherwise; once per process.
void SilenceLibsvm() {
  static const bool once = [] {
    svm_set_print_string_function(&Silent);
    return true;
  }();
  (void)once;
}

// Rows in libsvm's sparse form (index 1..D, then -1), kept alive as long as a model that was
// trained on them: a libsvm model points into its training rows.
class SvmRows {
 public:
  void Add(const std::vector<double>& row) {
    starts_.push_back(nodes_.size());
    for (size_t j = 0; j < row.size(); ++j) nodes_.push_back({static_cast<int>(j + 1), row[j]});
    nodes_.push_back({-1, 0});
  }
  // Pointers into the nodes; valid until the next Add.
  std::vector<svm_node*> Pointers() {
    std::vector<svm_node*> p;
    for (size_t s : starts_) p.push_back(&nodes_[s]);
    return p;
  }
  size_t size() const { return starts_.size(); }

 private:
  std::vector<svm_node> nodes_;
  std::vector<size_t> starts_;
};

struct Params {
  double c, nu, gamma;
};

svm_parameter SvrParameter(const Params& p) {
  svm_parameter param{};
  param.svm_type = NU_SVR;
  param.kernel_type = RBF;
  param.gamma = p.gamma;
  param.C = p.c;
  param.nu = p.nu;
  param.cache_size = 40;
  param.eps = 1e-3;
  param.shrinking = 1;
  param.probability = 0;
  return param;
}

// A model with the rows it points into.
struct Trained {
  SvmRows rows;
  std::vector<svm_node*> pointers;
  std::vector<double> y;
  svm_model* model = nullptr;
  ~Trained() {
    if (model != nullptr) svm_free_and_destroy_model(&model);
  }
};

std::unique_ptr<Trained> Train(const std::vector<std::vector<double>>& x,
                               const std::vector<double>& y, const std::vector<int>& rows,
                               const Params& params) {
  auto t = std::make_unique<Trained>();
  for (int i : rows) {
    t->rows.Add(x[i]);
    t->y.push_back(y[i]);
  }
  t->pointers = t->rows.Pointers();
  svm_problem problem{static_cast<int>(rows.size()), t->y.data(), t->pointers.data()};
  const svm_parameter param = SvrParameter(params);
  t->model = svm_train(&problem, &param);
  return t;
}

double PredictOne(const svm_model* model, const std::vector<double>& row) {
  std::vector<svm_node> nodes;
  nodes.reserve(row.size() + 1);
  for (size_t j = 0; j < row.size(); ++j) nodes.push_back({static_cast<int>(j + 1), row[j]});
  nodes.push_back({-1, 0});
  return svm_predict(model, nodes.data());
}

// k of the n rows (all of them when k >= n): the share `low` of k with the lowest targets, the
// rest drawn at random.
std::vector<int> Sample(int n, int k, double low, std::mt19937_64& rng,
                        const std::vector<double>& y) {
  std::vector<int> all(n);
  std::iota(all.begin(), all.end(), 0);
  if (k >= n) return all;
  const int best = static_cast<int>(low * k);
  if (best > 0) {
    std::stable_sort(all.begin(), all.end(), [&](int a, int b) { return y[a] < y[b]; });
    std::shuffle(all.begin() + best, all.end(), rng);
  } else {
    std::shuffle(all.begin(), all.end(), rng);
  }
  all.resize(k);
  std::sort(all.begin(), all.end());
  return all;
}

}  // namespace

struct SvrEnsemble::Member {
  std::unique_ptr<Trained> trained;
};

SvrEnsemble::~SvrEnsemble() = default;

absl::StatusOr<std::unique_ptr<SvrEnsemble>> SvrEnsemble::Fit(
    const std::vector<std::vector<double>>& x_raw, const std::vector<double>& y_raw,
    const SvrEnsembleOptions& options) {
  SilenceLibsvm();
  const int n = static_cast<int>(x_raw.size());
  if (n != static_cast<int>(y_raw.size())) {
    return absl::InvalidArgumentError("svr ensemble: rows and targets differ in number");
  }
  if (options.folds < 2 || options.members < 1 || options.search_trials < options.members ||
      options.low_target_share < 0 || options.low_target_share > 1 ||
      options.error_neighbour_share <= 0 || options.error_neighbour_share > 1) {
    return absl::InvalidArgumentError("svr ensemble: bad options");
  }
  if (n < 2 * options.folds) {
    return absl::InvalidArgumentError(
        absl::StrCat("svr ensemble: ", n, " rows, need at least ", 2 * options.folds));
  }
  const size_t d = x_raw[0].size();
  for (int i = 0; i < n; ++i) {
    if (x_raw[i].size() != d) return absl::InvalidArgumentError("svr ensemble: ragged rows");
    for (double v : x_raw[i]) {
      if (!std::isfinite(v)) return absl::InvalidArgumentError("svr ensemble: non-finite feature");
    }
    if (!std::isfinite(y_raw[i])) return absl::InvalidArgumentError("svr ensemble: bad target");
  }

  std::unique_ptr<SvrEnsemble> e(new SvrEnsemble());
  e->rows_ = n;
  // Standardize features and targets (a feature that does not vary is left centred).
  e->x_mean_.assign(d, 0);
  e->x_scale_.assign(d, 1);
  for (size_t j = 0; j < d; ++j) {
    double sum = 0, sq = 0;
    for (int i = 0; i < n; ++i) sum += x_raw[i][j];
    const double mean = sum / n;
    for (int i = 0; i < n; ++i) sq += (x_raw[i][j] - mean) * (x_raw[i][j] - mean);
    const double sd = std::sqrt(sq / n);
    e->x_mean_[j] = mean;
    e->x_scale_[j] = sd > 1e-12 ? sd : 1;
  }
  {
    const double mean = std::accumulate(y_raw.begin(), y_raw.end(), 0.0) / n;
    double sq = 0;
    for (double v : y_raw) sq += (v - mean) * (v - mean);
    const double sd = std::sqrt(sq / n);
    e->y_mean_ = mean;
    e->y_scale_ = sd > 1e-12 ? sd : 1;
  }
  std::vector<std::vector<double>> x(n, std::vector<double>(d));
  std::vector<double> y(n);
  for (int i = 0; i < n; ++i) {
    for (size_t j = 0; j < d; ++j) x[i][j] = (x_raw[i][j] - e->x_mean_[j]) / e->x_scale_[j];
    y[i] = (y_raw[i] - e->y_mean_) / e->y_scale_;
  }

  std::mt19937_64 rng(options.seed);
  std::uniform_real_distribution<double> log_u(std::log(1e-5), std::log(10.0));
  std::uniform_real_distribution<double> unit(0.0, 1.0);

  // Random search, scored by k-fold cross-validation on (a subset of) the rows.
  const std::vector<int> search_rows =
      Sample(n, options.max_search_rows, options.low_target_share, rng, y);
  std::vector<int> fold_of(search_rows.size());
  for (size_t i = 0; i < fold_of.size(); ++i) fold_of[i] = static_cast<int>(i % options.folds);
  std::shuffle(fold_of.begin(), fold_of.end(), rng);
  struct Candidate {
    Params params;
    double mse;
  };
  std::vector<Candidate> candidates;
  std::vector<std::pair<double, double>> best_oof;  // (prediction, residual), standardized
  double best_mse = std::numeric_limits<double>::infinity();
  for (int t = 0; t < options.search_trials; ++t) {
    Params p{std::exp(log_u(rng)), std::max(1e-3, 1.0 - unit(rng)), std::exp(log_u(rng))};
    double sse = 0;
    std::vector<std::pair<double, double>> oof;
    for (int f = 0; f < options.folds; ++f) {
      std::vector<int> train;
      for (size_t i = 0; i < search_rows.size(); ++i) {
        if (fold_of[i] != f) train.push_back(search_rows[i]);
      }
      std::unique_ptr<Trained> m = Train(x, y, train, p);
      for (size_t i = 0; i < search_rows.size(); ++i) {
        if (fold_of[i] != f) continue;
        const double pred = PredictOne(m->model, x[search_rows[i]]);
        const double r = pred - y[search_rows[i]];
        sse += r * r;
        oof.emplace_back(pred, r);
      }
    }
    candidates.push_back({p, sse / search_rows.size()});
    if (candidates.back().mse < best_mse) {
      best_mse = candidates.back().mse;
      best_oof = std::move(oof);
    }
  }
  std::sort(candidates.begin(), candidates.end(),
            [](const Candidate& a, const Candidate& b) { return a.mse < b.mse; });
  e->cv_rmse_ = std::sqrt(candidates[0].mse) * e->y_scale_;
  std::sort(best_oof.begin(), best_oof.end());
  if (static_cast<int>(best_oof.size()) < options.min_local_rows) best_oof.clear();
  for (const auto& [pred, r] : best_oof) {
    e->oof_.emplace_back(pred * e->y_scale_ + e->y_mean_, r * r * e->y_scale_ * e->y_scale_);
  }
  const int n_oof = static_cast<int>(e->oof_.size());
  e->error_neighbours_ = std::min(
      n_oof, std::max(kFewestNeighbours, static_cast<int>(options.error_neighbour_share * n_oof)));

  // The members: the best candidates, each on the rows (a random subset of them when there are
  // more than max_member_rows).
  // Only candidates nearly as good as the best join: a mediocre one pulls the mean off.
  for (int k = 0; k < options.members && candidates[k].mse <= 1.5 * candidates[0].mse; ++k) {
    const std::vector<int> rows =
        Sample(n, options.max_member_rows, options.low_target_share, rng, y);
    auto member = std::make_unique<Member>();
    member->trained = Train(x, y, rows, candidates[k].params);
    e->members_.push_back(std::move(member));
  }
  return e;
}

SvrEnsemble::Forecast SvrEnsemble::Predict(const std::vector<double>& x_raw) const {
  std::vector<double> x(x_raw.size());
  for (size_t j = 0; j < x.size() && j < x_mean_.size(); ++j) {
    x[j] = (x_raw[j] - x_mean_[j]) / x_scale_[j];
  }
  std::vector<double> predictions;
  for (const auto& m : members_) {
    predictions.push_back(PredictOne(m->trained->model, x) * y_scale_ + y_mean_);
  }
  const double mean =
      std::accumulate(predictions.begin(), predictions.end(), 0.0) / predictions.size();
  double var = 0;
  for (double p : predictions) var += (p - mean) * (p - mean);
  var /= std::max<size_t>(1, predictions.size() - 1);
  if (oof_.empty()) return {mean, std::sqrt(var + cv_rmse_ * cv_rmse_)};
  // The mean squared out-of-fold residual of the k out-of-fold predictions nearest to `mean`.
  const int n = static_cast<int>(oof_.size());
  const int k = error_neighbours_;
  int hi = static_cast<int>(std::lower_bound(oof_.begin(), oof_.end(), std::make_pair(mean, -1.0)) -
                            oof_.begin());
  int lo = hi - 1;
  double sum = 0;
  for (int taken = 0; taken < k; ++taken) {
    if (lo >= 0 && (hi >= n || mean - oof_[lo].first <= oof_[hi].first - mean)) {
      sum += oof_[lo--].second;
    } else {
      sum += oof_[hi++].second;
    }
  }
  return {mean, std::sqrt(var + sum / k)};
}

}  // namespace hpo::server
