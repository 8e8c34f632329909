#include "server/stoppers/learning_curve_stopper.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "core/logging.h"
#include "server/stoppers/median_stopper.h"
#include "server/stoppers/stopper_options.h"

namespace hpo::server {
namespace {

constexpr int kMaxGrid = 16;

// P(X < incumbent) for X ~ N(mean, spread^2).
double ProbabilityBelow(double incumbent, double mean, double spread) {
  if (spread <= 0) return mean < incumbent ? 1.0 : 0.0;
  return 0.5 * std::erfc(-(incumbent - mean) / (spread * std::sqrt(2.0)));
}

}  // namespace

std::vector<double> CurveFeatures(const std::vector<double>& hyper,
                                  const std::vector<std::pair<int64_t, double>>& curve,
                                  int64_t tau) {
  std::vector<int64_t> grid;
  if (tau <= kMaxGrid) {
    for (int64_t k = 1; k <= tau; ++k) grid.push_back(k);
  } else {
    for (int i = 0; i < kMaxGrid; ++i) {
      grid.push_back(1 + static_cast<int64_t>(
                             std::llround(static_cast<double>(i) * (tau - 1) / (kMaxGrid - 1))));
    }
  }
  // By step, later reports of a step winning (stable sort keeps report order within a step).
  std::vector<std::pair<int64_t, double>> sorted = curve;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<double> values;
  size_t next = 0;
  double current = sorted.empty() ? 0 : sorted.front().second;
  for (int64_t k : grid) {
    while (next < sorted.size() && sorted[next].first <= k) current = sorted[next++].second;
    values.push_back(current);
  }
  std::vector<double> features = hyper;
  features.insert(features.end(), values.begin(), values.end());
  std::vector<double> d1;
  for (size_t i = 1; i < values.size(); ++i) d1.push_back(values[i] - values[i - 1]);
  features.insert(features.end(), d1.begin(), d1.end());
  for (size_t i = 1; i < d1.size(); ++i) features.push_back(d1[i] - d1[i - 1]);
  return features;
}

absl::StatusOr<std::unique_ptr<EarlyStopper>> LearningCurveStopper::Create(
    const hpo::v1::EarlyStoppingSpec& spec) {
  absl::StatusOr<Options> options = ParseOptions(spec);
  if (!options.ok()) return options.status();
  return std::unique_ptr<EarlyStopper>(new LearningCurveStopper(*std::move(options)));
}

absl::StatusOr<LearningCurveStopper::Options> LearningCurveStopper::ParseOptions(
    const hpo::v1::EarlyStoppingSpec& spec) {
  auto parsed =
      StopperOptions::Create(spec, {"eta", "fallback", "max_step", "min_curves", "min_step",
                                    "threshold", "warm_start", "warmup_steps"});
  if (!parsed.ok()) return parsed.status();
  Options options;
  auto threshold = parsed->Double("threshold", 0.05, 0, 1, /*min_open=*/true);
  if (!threshold.ok()) return threshold.status();
  options.threshold = *threshold;
  const int64_t fewest = 2 * options.svr.folds;
  auto min_curves = parsed->Int("min_curves", 20, fewest);
  if (!min_curves.ok()) return min_curves.status();
  options.min_curves = static_cast<int>(*min_curves);
  auto warmup = parsed->Int("warmup_steps", 0, 0);
  if (!warmup.ok()) return warmup.status();
  options.warmup_steps = *warmup;
  options.fallback = parsed->Text("fallback", "median");
  if (options.fallback != "median" && options.fallback != "asha" && options.fallback != "none") {
    return StopperOptionError(
        "fallback", absl::StrCat("'", options.fallback, "' is not one of median, asha, none"));
  }
  auto ladder = ParseAshaLadder(*parsed);
  if (!ladder.ok()) return ladder.status();
  options.ladder = *ladder;
  options.warm_start = std::string(absl::StripAsciiWhitespace(parsed->Text("warm_start", "auto")));
  if (options.warm_start.empty()) {
    return StopperOptionError("warm_start", "empty (use none, auto or a list of study names)");
  }
  for (absl::string_view name : absl::StrSplit(options.warm_start, ',')) {
    if (absl::StripAsciiWhitespace(name).empty()) {
      return StopperOptionError("warm_start",
                                absl::StrCat("empty study name in '", options.warm_start, "'"));
    }
  }
  return options;
}

LearningCurveStopper::LearningCurveStopper(Options options) : options_(std::move(options)) {
  hpo::v1::EarlyStoppingSpec median;
  median.set_name("median");
  median_ = *MedianStopper::Create(median);  // the defaults: warmup 0, min_trials 5
}

LearningCurveStopper::~LearningCurveStopper() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void LearningCurveStopper::EnsureEncoder(const hpo::v1::StudySpec& spec) {
  if (encoder_ == nullptr) encoder_ = std::make_unique<gp::SpaceEncoder>(spec.space());
}

std::optional<CurveRecord> LearningCurveStopper::RecordOf(const hpo::v1::Trial& trial,
                                                          const hpo::v1::StudySpec& spec) const {
  if (trial.state() != hpo::v1::COMPLETED || !trial.has_value() || !std::isfinite(trial.value())) {
    return std::nullopt;
  }
  const hpo::v1::Direction direction = spec.objective().direction();
  CurveRecord record;
  for (const CurvePoint& p : ObjectiveCurve(trial, spec.objective().metric(), direction)) {
    record.curve.emplace_back(p.step, p.loss);
  }
  if (record.curve.empty()) return std::nullopt;
  record.hyper = encoder_->Raw(trial.params());
  record.final_loss = direction == hpo::v1::MAXIMIZE ? -trial.value() : trial.value();
  return record;
}

int LearningCurveStopper::WarmStart(
    const hpo::v1::StudySpec& spec,
    const std::vector<const std::vector<hpo::v1::Trial>*>& sources) {
  EnsureEncoder(spec);
  for (const std::vector<hpo::v1::Trial>* trials : sources) {
    for (const hpo::v1::Trial& t : *trials) {
      if (std::optional<CurveRecord> record = RecordOf(t, spec)) warm_.push_back(*record);
    }
  }
  return static_cast<int>(warm_.size());
}

void LearningCurveStopper::MaybeRequestFit(const StudyView& view) {
  int own = 0;
  for (const hpo::v1::Trial& t : *view.trials) {
    own += t.state() == hpo::v1::COMPLETED && t.has_value() ? 1 : 0;
  }
  const int curves = own + static_cast<int>(warm_.size());
  if (curves < options_.min_curves) return;
  if (requested_curves_ > 0 && curves < requested_curves_ + std::max(3, requested_curves_ / 10)) {
    return;
  }
  requested_curves_ = curves;
  std::vector<CurveRecord> records = warm_;
  for (const hpo::v1::Trial& t : *view.trials) {
    if (std::optional<CurveRecord> record = RecordOf(t, *view.spec)) {
      records.push_back(std::move(*record));
    }
  }
  absl::MutexLock lock(&mu_);
  pending_ = std::move(records);  // replaces a waiting one: the newer is a superset
  if (!thread_.joinable()) thread_ = std::thread([this] { FitLoop(); });
}

void LearningCurveStopper::FitLoop() {
  while (true) {
    std::vector<CurveRecord> records;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return pending_.has_value() || stopping_;
      };
      mu_.Await(absl::Condition(&ready));
      if (stopping_) return;
      records = std::move(*pending_);
      pending_.reset();
      fitting_ = true;
    }
    const absl::Time start = absl::Now();
    std::shared_ptr<const Models> models = Fit(records);
    const absl::Duration took = absl::Now() - start;
    HPO_LOG(DEBUG) << "learning_curve: fitted " << models->by_rung.size() << " model(s) on "
                   << records.size() << " curves in " << took;
    absl::MutexLock lock(&mu_);
    models_ = std::move(models);
    fitting_ = false;
    stats_.fits++;
    stats_.curves = static_cast<int>(records.size());
    stats_.models = static_cast<int>(models_->by_rung.size());
    stats_.last = took;
  }
}

std::shared_ptr<const LearningCurveStopper::Models> LearningCurveStopper::Fit(
    const std::vector<CurveRecord>& records) const {
  auto models = std::make_shared<Models>();
  models->curves = static_cast<int>(records.size());
  int64_t longest = 0;
  for (const CurveRecord& r : records) {
    for (const auto& [step, loss] : r.curve) longest = std::max(longest, step);
  }
  for (int64_t rung : options_.ladder.RungsUpTo(longest)) {
    std::vector<std::vector<double>> x;
    std::vector<double> y;
    for (const CurveRecord& r : records) {
      bool reached = false;
      std::vector<std::pair<int64_t, double>> prefix;
      for (const auto& point : r.curve) {
        reached = reached || point.first >= rung;
        if (point.first <= rung) prefix.push_back(point);
      }
      if (!reached || prefix.empty()) continue;
      std::vector<double> features = CurveFeatures(r.hyper, prefix, rung);
      if (!std::all_of(features.begin(), features.end(),
                       [](double v) { return std::isfinite(v); })) {
        continue;
      }
      x.push_back(std::move(features));
      y.push_back(r.final_loss);
    }
    if (static_cast<int>(x.size()) < options_.min_curves) continue;
    SvrEnsembleOptions svr = options_.svr;
    svr.seed = options_.svr.seed * 1000003 + static_cast<uint64_t>(rung);
    absl::StatusOr<std::unique_ptr<SvrEnsemble>> fitted = SvrEnsemble::Fit(x, y, svr);
    if (!fitted.ok()) {
      HPO_LOG(WARNING) << "learning_curve: no model at step " << rung << ": " << fitted.status();
      continue;
    }
    models->by_rung[rung] = std::shared_ptr<const SvrEnsemble>(std::move(*fitted));
  }
  return models;
}

void LearningCurveStopper::AwaitFits() {
  absl::MutexLock lock(&mu_);
  auto idle = [this]()
                  ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !pending_.has_value() && !fitting_; };
  mu_.Await(absl::Condition(&idle));
}

LearningCurveStopper::FitStats LearningCurveStopper::fit_stats() {
  absl::MutexLock lock(&mu_);
  return stats_;
}

hpo::v1::StopJudgement LearningCurveStopper::Decide(const StudyView& view,
                                                    const hpo::v1::Trial& trial, int first_new) {
  EnsureEncoder(*view.spec);
  MaybeRequestFit(view);
  if (options_.wait_for_fits) AwaitFits();
  std::shared_ptr<const Models> models;
  {
    absl::MutexLock lock(&mu_);
    models = models_;
  }
  const hpo::v1::Direction direction = view.spec->objective().direction();
  const std::vector<CurvePoint> curve =
      ObjectiveCurve(trial, view.spec->objective().metric(), direction);
  hpo::v1::StopJudgement judgement = ContinueUnjudged();
  if (curve.empty() || curve.back().index < first_new) return judgement;

  std::optional<double> incumbent;  // best own final loss
  for (const hpo::v1::Trial& t : *view.trials) {
    if (t.state() != hpo::v1::COMPLETED || !t.has_value() || !std::isfinite(t.value())) continue;
    const double loss = direction == hpo::v1::MAXIMIZE ? -t.value() : t.value();
    if (!incumbent || loss < *incumbent) incumbent = loss;
  }
  int64_t longest = std::numeric_limits<int64_t>::min();
  for (const CurvePoint& p : curve) longest = std::max(longest, p.step);
  std::vector<double> hyper;
  for (int64_t rung : options_.ladder.RungsUpTo(longest)) {
    const CurvePoint* mine = FirstAtOrPast(curve, rung);
    if (mine == nullptr || mine->index < first_new) continue;
    if (mine->step < options_.warmup_steps) continue;  // nothing stops a trial this early
    std::shared_ptr<const SvrEnsemble> model;
    if (models != nullptr) {
      auto it = models->by_rung.find(rung);
      if (it != models->by_rung.end()) model = it->second;
    }
    std::vector<double> features;
    if (model != nullptr) {
      if (hyper.empty()) hyper = encoder_->Raw(trial.params());
      std::vector<std::pair<int64_t, double>> prefix;
      for (const CurvePoint& p : curve) {
        if (p.step <= rung) prefix.emplace_back(p.step, p.loss);
      }
      if (!prefix.empty()) features = CurveFeatures(hyper, prefix, rung);
    }
    const bool usable = !features.empty() && std::all_of(features.begin(), features.end(),
                                                         [](double v) { return std::isfinite(v); });
    if (!usable) {
      if (options_.fallback == "asha") {
        // ASHA's rule at this one rung.
        AshaLadder one = options_.ladder;
        one.min_step = rung;
        one.max_step = rung + 1;
        judgement = JudgeAtRungs(
            one, view, trial, first_new, [](const hpo::v1::Trial&) { return true; },
            "learning_curve/asha");
      } else if (options_.fallback == "median") {
        // The median rule at the report's step (the same for every rung it reached).
        hpo::v1::StopJudgement median = median_->Decide(view, trial, first_new);
        if (!median.rule().empty()) {
          median.set_rule("learning_curve/median");
          median.set_summary(absl::StrCat("learning_curve (no model yet), ", median.summary()));
          judgement = std::move(median);
        }
      }
      if (judgement.decision() == hpo::v1::STOP) return judgement;
      continue;
    }
    const SvrEnsemble::Forecast forecast = model->Predict(features);
    const double p_better =
        incumbent ? ProbabilityBelow(*incumbent, forecast.mean, forecast.spread) : 1.0;
    const bool stop = incumbent.has_value() && p_better < options_.threshold;
    judgement = hpo::v1::StopJudgement();
    judgement.set_decision(stop ? hpo::v1::STOP : hpo::v1::CONTINUE);
    judgement.set_rule("learning_curve");
    judgement.set_step(mine->step);
    judgement.set_value(LossToValue(mine->loss, direction));
    hpo::v1::Prediction* p = judgement.mutable_prediction();
    p->set_step(mine->step);
    p->set_mean(LossToValue(forecast.mean, direction));
    p->set_spread(forecast.spread);
    p->set_p_better(p_better);
    p->set_incumbent(incumbent ? LossToValue(*incumbent, direction)
                               : std::numeric_limits<double>::quiet_NaN());
    p->set_curves(models->curves);
    if (incumbent) {
      judgement.set_summary(absl::StrFormat(
          "learning_curve: at step %d (value %.6g) the predicted final value is %.6g ± %.3g "
          "(a model of %d curves); P(beats the best %.6g) = %.3g %s %g",
          mine->step, judgement.value(), p->mean(), p->spread(), p->curves(), p->incumbent(),
          p_better, stop ? "<" : ">=", options_.threshold));
    } else {
      judgement.set_summary(absl::StrFormat(
          "learning_curve: at step %d (value %.6g) the predicted final value is %.6g ± %.3g "
          "(a model of %d curves); no completed trial to beat yet",
          mine->step, judgement.value(), p->mean(), p->spread(), p->curves()));
    }
    if (stop) return judgement;
  }
  return judgement;
}

}  // namespace hpo::server
