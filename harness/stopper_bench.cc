#include "harness/stopper_bench.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <set>
#include <tuple>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "core/clock.h"
#include "core/search_space.h"
#include "core/status_macros.h"
#include "core/text_format.h"
#include "harness/parallel.h"
#include "harness/svg_plot.h"
#include "server/optimizers/optimizer.h"
#include "server/stoppers/early_stopper.h"
#include "server/stoppers/learning_curve_stopper.h"
#include "storage/sqlite_storage.h"

namespace hpo::harness {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

double Median(std::vector<double> v) {
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// The 2.5% and 97.5% points of the median of `v` over resamples with replacement.
std::pair<double, double> BootstrapMedian(const std::vector<double>& v, std::mt19937_64& rng) {
  if (v.empty()) return {std::numeric_limits<double>::quiet_NaN(), std::nan("")};
  std::uniform_int_distribution<size_t> pick(0, v.size() - 1);
  std::vector<double> medians;
  std::vector<double> sample(v.size());
  for (int b = 0; b < 1000; ++b) {
    for (double& s : sample) s = v[pick(rng)];
    medians.push_back(Median(sample));
  }
  std::sort(medians.begin(), medians.end());
  return {medians[25], medians[974]};
}

// Speed-up of `run` over `none` at regret `target`: 0 when `run` never reaches it.
double Speedup(const StopperRun& none, const StopperRun& run, double target) {
  const int64_t reference = none.EpochsToReach(target);
  const int64_t mine = run.EpochsToReach(target);
  if (mine <= 0 || reference <= 0) return 0;
  return static_cast<double>(reference) / static_cast<double>(mine);
}

absl::Status WriteTextFile(const std::string& path, const std::string& text) {
  std::ofstream file(path, std::ios::trunc);
  file << text;
  file.close();
  if (!file) return absl::FailedPreconditionError(absl::StrCat("cannot write '", path, "'"));
  return absl::OkStatus();
}

// One configuration's curve, read a chunk at a time (1, 2-3, 4-9, 10-27, 28-52 for 52 epochs);
// the first chunk brings the last epoch too (a stopped configuration's final value counts its
// false stops), one read fewer for most configurations. Thread-compatible.
class CurveReader {
 public:
  using Read = std::function<absl::StatusOr<std::vector<double>>(const std::vector<int>&)>;
  CurveReader(std::string what, int epochs, Read read)
      : what_(std::move(what)),
        epochs_(epochs),
        read_(std::move(read)),
        curve_(epochs + 1, std::nan("")) {}

  absl::StatusOr<double> At(int e) {
    if (!std::isnan(curve_[e])) return curve_[e];
    int end = 1;
    while (end < e) end *= 3;
    std::vector<int> chunk;
    for (int k = e; k <= std::min(end, epochs_); ++k) chunk.push_back(k);
    if (e == 1 && chunk.back() != epochs_) chunk.push_back(epochs_);
    HPO_ASSIGN_OR_RETURN(std::vector<double> values, read_(chunk));
    if (values.size() != chunk.size()) {
      return absl::InternalError(
          absl::StrCat(what_, ": ", values.size(), " values for ", chunk.size(), " epochs"));
    }
    for (size_t i = 0; i < chunk.size(); ++i) curve_[chunk[i]] = values[i];
    return curve_[e];
  }

 private:
  const std::string what_;
  const int epochs_;
  const Read read_;
  std::vector<double> curve_;  // NaN: not read yet
};

// A run of `method` on (source, seed) before it starts.
StopperRun NewRun(const CurveSource& source, const StopperMethod& method, uint64_t seed,
                  int64_t budget) {
  StopperRun run;
  run.task = source.name();
  run.method = method.name;
  run.seed = seed;
  run.budget = budget;
  return run;
}

// The study both tracks judge in: the objective "value", minimized, over the source's space.
hpo::v1::StudySpec BenchSpec(const CurveSource& source) {
  hpo::v1::StudySpec spec;
  spec.set_name(source.name());
  spec.mutable_objective()->set_metric("value");
  spec.mutable_objective()->set_direction(hpo::v1::MINIMIZE);
  *spec.mutable_space() = source.space();
  return spec;
}

std::string Number(double v) {
  if (std::isnan(v)) return "—";
  if (std::isinf(v)) return v > 0 ? "∞" : "-∞";
  return absl::StrFormat("%.3g", v);
}

}  // namespace

uint64_t StreamSeed(uint64_t seed, int index) {
  auto mix = [](uint64_t x) {  // SplitMix64's finalizer
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
  };
  return mix(mix(seed) ^ static_cast<uint64_t>(index));
}

hpo::v1::ParamMap CurveSource::Params(uint64_t seed, int index) const {
  core::Rng rng(StreamSeed(seed, index));
  return core::SampleUniform(space(), rng);
}

double StopperRun::RegretAt(int64_t at) const {
  double regret = kInf;
  for (const auto& [epochs, r] : trajectory) {
    if (epochs > at) break;
    regret = r;
  }
  return regret;
}

int64_t StopperRun::EpochsToReach(double regret) const {
  for (const auto& [epochs, r] : trajectory) {
    if (r <= regret) return epochs;
  }
  return -1;
}

absl::StatusOr<std::vector<StopperMethod>> ParseStopperMethods(const std::string& list,
                                                               int epochs) {
  const std::string all =
      "none,median,asha,hyperband,learning_curve,learning_curve-warm,3-epoch,9-epoch";
  std::vector<StopperMethod> methods;
  for (absl::string_view raw : absl::StrSplit(list == "default" ? all : list, ',')) {
    const std::string text(absl::StripAsciiWhitespace(raw));
    // NAME or NAME:key=value;key=value (the stopper's options; the whole text names it).
    const size_t colon = text.find(':');
    const std::string name = text.substr(0, colon);
    std::map<std::string, std::string> options;
    if (colon != std::string::npos) {
      for (absl::string_view item :
           absl::StrSplit(text.substr(colon + 1), ';', absl::SkipWhitespace())) {
        const std::pair<std::string, std::string> kv =
            absl::StrSplit(item, absl::MaxSplits('=', 1));
        const std::string key(absl::StripAsciiWhitespace(kv.first));
        if (item.find('=') == absl::string_view::npos || key.empty()) {
          return absl::InvalidArgumentError(
              absl::StrCat("--stoppers: '", text, "': expected NAME:key=value;key=value"));
        }
        options[key] = std::string(absl::StripAsciiWhitespace(kv.second));
      }
    }
    StopperMethod m;
    m.name = text;
    if (name == "none" || name == "median" || name == "asha" || name == "learning_curve") {
      m.stopping.set_name(name);
    } else if (name == "hyperband") {
      m.stopping.set_name(name);
      (*m.stopping.mutable_options())["max_step"] = absl::StrCat(epochs);
    } else if (name == "learning_curve-warm") {
      m.stopping.set_name("learning_curve");
      m.warm_from_other_seeds = true;
    } else if (absl::EndsWith(name, "-epoch") &&
               absl::SimpleAtoi(name.substr(0, name.size() - 6), &m.i_epoch) && m.i_epoch >= 1 &&
               m.i_epoch < epochs) {
      // the i-epoch baseline
    } else {
      return absl::InvalidArgumentError(absl::StrCat("--stoppers: unknown method '", name,
                                                     "' (known: ", all,
                                                     ", or I-epoch for 1 <= I < ", epochs, ")"));
    }
    if (!options.empty()) {
      if (m.i_epoch > 0 || name == "none") {
        return absl::InvalidArgumentError(
            absl::StrCat("--stoppers: '", text, "': ", name, " takes no options"));
      }
      for (const auto& [key, value] : options) (*m.stopping.mutable_options())[key] = value;
      // Checked now, with the stopper's own message, rather than at the first run.
      HPO_RETURN_IF_ERROR(
          core::Annotate(server::MakeEarlyStopper(m.stopping).status(), "--stoppers"));
    }
    methods.push_back(std::move(m));
  }
  return methods;
}

absl::StatusOr<StopperRun> RunStopperMethod(const CurveSource& source, const StopperMethod& method,
                                            uint64_t seed, int64_t budget,
                                            const std::vector<hpo::v1::Trial>& warm,
                                            const hpo::v1::OptimizerSpec& sampler) {
  const absl::Time start = absl::Now();
  StopperRun run = NewRun(source, method, seed, budget);
  HPO_ASSIGN_OR_RETURN(const double reference, source.ReferenceBest());
  hpo::v1::StudySpec spec = BenchSpec(source);

  std::unique_ptr<server::EarlyStopper> stopper;
  if (method.i_epoch == 0) {
    if (method.stopping.name() == "learning_curve") {
      HPO_ASSIGN_OR_RETURN(server::LearningCurveStopper::Options options,
                           server::LearningCurveStopper::ParseOptions(method.stopping));
      options.wait_for_fits = true;  // deterministic: each fit is awaited
      options.svr.seed = seed;
      auto lc = std::make_unique<server::LearningCurveStopper>(options);
      if (method.warm_from_other_seeds) lc->WarmStart(spec, {&warm});
      stopper = std::move(lc);
    } else {
      HPO_ASSIGN_OR_RETURN(stopper, server::MakeEarlyStopper(method.stopping));
    }
  }

  std::unique_ptr<server::Optimizer> optimizer;  // null: the seed's stream
  if (!sampler.name().empty() && sampler.name() != "random") {
    hpo::v1::OptimizerSpec seeded = sampler;
    seeded.set_seed(static_cast<int64_t>(seed));
    *spec.mutable_optimizer() = seeded;
    HPO_ASSIGN_OR_RETURN(optimizer, server::MakeOptimizer(seeded, spec.space()));
  }

  const int epochs = source.epochs();
  std::vector<hpo::v1::Trial> trials;
  std::vector<double> i_values;  // the i-epoch baseline's values so far
  double incumbent = kInf;       // best final value so far
  for (int index = 0; run.epochs < budget; ++index) {
    hpo::v1::ParamMap params;
    if (optimizer == nullptr) {
      params = source.Params(seed, index);
    } else {
      const server::StudyView view{&spec, &trials};
      HPO_ASSIGN_OR_RETURN(std::vector<hpo::v1::ParamMap> proposed,
                           optimizer->Suggest(view, {index}));
      params = proposed.at(0);
    }
    const hpo::v1::ParamMap params_of_trial = params;
    CurveReader reader(source.name(), epochs, [&](const std::vector<int>& chunk) {
      return optimizer == nullptr ? source.Values(seed, index, chunk)
                                  : source.ValuesOf(params_of_trial, chunk);
    });
    ++run.configs;
    hpo::v1::Trial t;
    t.set_id(index + 1);
    t.set_number(index);
    t.set_state(hpo::v1::RUNNING);
    *t.mutable_params() = std::move(params);
    trials.push_back(std::move(t));
    hpo::v1::Trial& trial = trials.back();
    bool stopped = false, complete = false;
    for (int e = 1; e <= epochs && run.epochs < budget; ++e) {
      HPO_ASSIGN_OR_RETURN(const double value, reader.At(e));
      hpo::v1::Measurement* m = trial.add_measurements();
      m->set_step(e);
      (*m->mutable_metrics())["value"] = value;
      trial.set_last_step(e);
      ++run.epochs;
      if (e == epochs) {
        complete = true;
        break;
      }
      if (method.i_epoch > 0) {
        if (e != method.i_epoch) continue;
        const double mine = value;
        i_values.push_back(mine);
        int rank = 1;
        for (double v : i_values) rank += v < mine ? 1 : 0;
        const int keep = static_cast<int>(std::ceil(0.1 * static_cast<double>(i_values.size())));
        stopped = rank > keep;
      } else {
        const server::StudyView view{&spec, &trials};
        const hpo::v1::StopJudgement judgement =
            stopper->Decide(view, trial, trial.measurements_size() - 1);
        if (judgement.has_prediction()) {
          *trial.mutable_prediction() = judgement.prediction();
          HPO_ASSIGN_OR_RETURN(const double truth, reader.At(epochs));
          const hpo::v1::Prediction& p = judgement.prediction();
          ++run.forecasts;
          run.covered += std::abs(truth - p.mean()) <= 1.96 * p.spread() ? 1 : 0;
        }
        stopped = judgement.decision() == hpo::v1::STOP;
      }
      if (stopped) break;
    }
    if (complete) {
      HPO_ASSIGN_OR_RETURN(const double final_value, reader.At(epochs));
      trial.set_state(hpo::v1::COMPLETED);
      trial.set_has_value(true);
      trial.set_value(final_value);
      ++run.completed;
      run.complete_trials.push_back(trial);
      if (final_value < incumbent) {
        incumbent = final_value;
        run.trajectory.emplace_back(run.epochs, final_value - reference);
      }
    } else if (stopped) {
      HPO_ASSIGN_OR_RETURN(const double final_value, reader.At(epochs));  // what it would have been
      trial.set_state(hpo::v1::PRUNED);
      trial.set_has_value(true);
      trial.set_value(trial.measurements().rbegin()->metrics().at("value"));
      ++run.stopped;
      if (final_value < incumbent) ++run.false_stops;
    } else {
      trial.set_state(hpo::v1::FAILED);  // the budget ran out during it
    }
  }
  run.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  return run;
}

absl::StatusOr<StopperRun> RunStopperStudy(server::Coordinator& coordinator,
                                           const CurveSource& source, const StopperMethod& method,
                                           uint64_t seed, int64_t budget,
                                           const std::vector<std::string>& warm_studies,
                                           const StudyTrack& track) {
  if (method.i_epoch > 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        method.name, ": the i-epoch baselines are not a coordinator's stopper (Track A only)"));
  }
  if (track.workers < 1) return absl::InvalidArgumentError("workers: must be >= 1");
  const absl::Time start = absl::Now();
  StopperRun run = NewRun(source, method, seed, budget);
  HPO_ASSIGN_OR_RETURN(const double reference, source.ReferenceBest());
  const int epochs = source.epochs();

  hpo::v1::StudySpec spec = BenchSpec(source);
  // A study name takes letters, digits and _.-; a variant's ":key=value;..." does not fit.
  std::string name = absl::StrCat(source.name(), "-", method.name, "-", seed);
  for (char& c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') {
      c = '_';
    }
  }
  spec.set_name(name);
  *spec.mutable_optimizer() = track.sampler;
  if (spec.optimizer().name().empty()) spec.mutable_optimizer()->set_name("random");
  spec.mutable_optimizer()->set_seed(static_cast<int64_t>(seed));
  *spec.mutable_early_stopping() = method.stopping;
  if (method.stopping.name() == "learning_curve") {
    (*spec.mutable_early_stopping()->mutable_options())["warm_start"] =
        method.warm_from_other_seeds && !warm_studies.empty() ? absl::StrJoin(warm_studies, ",")
                                                              : "none";
  }
  spec.mutable_budget()->set_max_trials(1000000);
  spec.mutable_budget()->set_max_parallel(track.workers);
  spec.mutable_task()->set_builtin(source.name());  // never run: the benchmark reads the curves
  HPO_RETURN_IF_ERROR(coordinator.CreateStudy(spec).status());

  struct Slot {
    std::string worker;
    int64_t trial_id = 0;
    int epoch = 0;
    std::unique_ptr<CurveReader> reader;
  };
  std::vector<Slot> slots(track.workers);
  for (int w = 0; w < track.workers; ++w) slots[w].worker = absl::StrCat("sim-", w);
  double incumbent = kInf;
  int completions = 0;
  auto complete = [&](Slot& slot, hpo::v1::TrialState state, double value) -> absl::Status {
    hpo::v1::CompleteTrialRequest request;
    request.set_worker_id(slot.worker);
    request.set_trial_id(slot.trial_id);
    request.set_request_id(absl::StrCat(slot.worker, "-", ++completions));
    request.set_state(state);
    if (state == hpo::v1::COMPLETED) (*request.mutable_final_metrics())["value"] = value;
    HPO_RETURN_IF_ERROR(coordinator.CompleteTrial(request).status());
    slot.trial_id = 0;
    slot.reader.reset();
    return absl::OkStatus();
  };
  while (run.epochs < budget) {
    bool any = false;
    for (Slot& slot : slots) {  // idle workers take a trial
      if (slot.trial_id != 0) continue;
      HPO_ASSIGN_OR_RETURN(hpo::v1::AcquireTrialResponse acquired,
                           coordinator.AcquireTrial(slot.worker, absl::ZeroDuration()));
      if (!acquired.found()) continue;
      ++run.configs;
      slot.trial_id = acquired.trial().id();
      slot.epoch = 0;
      const hpo::v1::ParamMap params = acquired.trial().params();
      slot.reader = std::make_unique<CurveReader>(source.name(), epochs,
                                                  [&source, params](const std::vector<int>& chunk) {
                                                    return source.ValuesOf(params, chunk);
                                                  });
    }
    for (Slot& slot : slots) {  // each busy worker trains one epoch and reports it
      if (slot.trial_id == 0 || run.epochs >= budget) continue;
      any = true;
      const int e = ++slot.epoch;
      HPO_ASSIGN_OR_RETURN(const double value, slot.reader->At(e));
      ++run.epochs;
      hpo::v1::ReportProgressRequest report;
      report.set_worker_id(slot.worker);
      report.set_trial_id(slot.trial_id);
      report.mutable_measurement()->set_step(e);
      (*report.mutable_measurement()->mutable_metrics())["value"] = value;
      HPO_ASSIGN_OR_RETURN(hpo::v1::ReportProgressResponse answer,
                           coordinator.ReportProgress(report));
      if (e == epochs) {
        ++run.completed;
        if (value < incumbent) {
          incumbent = value;
          run.trajectory.emplace_back(run.epochs, value - reference);
        }
        HPO_RETURN_IF_ERROR(complete(slot, hpo::v1::COMPLETED, value));
      } else if (answer.decision() == hpo::v1::STOP) {
        ++run.stopped;
        HPO_ASSIGN_OR_RETURN(const double final_value, slot.reader->At(epochs));
        if (final_value < incumbent) ++run.false_stops;
        HPO_RETURN_IF_ERROR(complete(slot, hpo::v1::PRUNED, value));
      }
    }
    if (!any) return absl::InternalError(absl::StrCat(spec.name(), ": no trial to run"));
  }
  (void)coordinator.StopStudy(spec.name());  // the trials cut short by the budget end with it
  run.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  return run;
}

std::vector<MethodSummary> SummarizeStopperRuns(const std::vector<StopperRun>& runs,
                                                uint64_t bootstrap_seed) {
  std::map<std::pair<std::string, uint64_t>, const StopperRun*> none;
  std::vector<std::string> order;
  for (const StopperRun& r : runs) {
    if (r.method == "none") none[{r.task, r.seed}] = &r;
    if (std::find(order.begin(), order.end(), r.method) == order.end()) order.push_back(r.method);
  }
  std::mt19937_64 rng(bootstrap_seed);
  std::vector<MethodSummary> out;
  for (const std::string& method : order) {
    MethodSummary s;
    s.method = method;
    std::vector<double> speedups, half, one, regret_q, regret_h, regret;
    int64_t stops = 0, false_stops = 0, configs = 0, censored = 0, forecasts = 0, covered = 0;
    for (const StopperRun& r : runs) {
      if (r.method != method) continue;
      auto it = none.find({r.task, r.seed});
      if (it == none.end()) continue;
      const StopperRun& base = *it->second;
      const double target = base.RegretAt(base.budget);
      if (!std::isfinite(target)) continue;
      const double sp = Speedup(base, r, target);
      censored += sp == 0 ? 1 : 0;
      speedups.push_back(sp);
      half.push_back(Speedup(base, r, target + 0.5));
      one.push_back(Speedup(base, r, target + 1));
      regret_q.push_back(r.RegretAt(r.budget / 4));
      regret_h.push_back(r.RegretAt(r.budget / 2));
      regret.push_back(r.RegretAt(r.budget));
      stops += r.stopped;
      false_stops += r.false_stops;
      forecasts += r.forecasts;
      covered += r.covered;
      configs += r.configs;
      ++s.pairs;
    }
    if (s.pairs == 0) continue;
    s.median_speedup = Median(speedups);
    std::tie(s.speedup_lo, s.speedup_hi) = BootstrapMedian(speedups, rng);
    s.censored_share = static_cast<double>(censored) / s.pairs;
    s.median_speedup_half = Median(half);
    s.median_speedup_one = Median(one);
    s.median_regret_q = Median(regret_q);
    s.median_regret_h = Median(regret_h);
    s.median_regret = Median(regret);
    std::tie(s.regret_lo, s.regret_hi) = BootstrapMedian(regret, rng);
    s.mean_configs = static_cast<double>(configs) / s.pairs;
    s.false_stop_rate = stops > 0 ? static_cast<double>(false_stops) / stops : 0;
    s.coverage = forecasts > 0 ? static_cast<double>(covered) / forecasts : -1;
    out.push_back(s);
  }
  return out;
}

std::string StopperReportMarkdown(const std::vector<MethodSummary>& summaries, int tasks, int seeds,
                                  int64_t budget, const std::string& title,
                                  const std::string& setup) {
  std::string out =
      absl::StrCat("# ", title, "\n\n", tasks, " task(s) × ", seeds,
                   " seed(s); budget B = ", budget, " epochs per (task, seed); ", setup, ".\n\n");
  absl::StrAppend(
      &out,
      "S: epochs `none` needs to reach r* (its regret at B) over the epochs the method needs "
      "(0 when it never does: censored); median over (task, seed) pairs with a 95% bootstrap "
      "interval. Regret: incumbent (best final value of configurations that ran to the end) "
      "minus the task's reference best.\n\n");
  absl::StrAppend(&out,
                  "| method | pairs | median S [95%] | censored | S at r*+0.5 | S at r*+1 | "
                  "regret B/4 | regret B/2 | regret B [95%] | configs | false stops | "
                  "95% coverage |\n");
  absl::StrAppend(&out, "|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (const MethodSummary& s : summaries) {
    absl::StrAppend(
        &out,
        absl::StrFormat("| %s | %d | %s [%s, %s] | %.0f%% | %s | %s | %s | %s | %s [%s, %s] | "
                        "%.0f | %.1f%% | %s |\n",
                        s.method, s.pairs, Number(s.median_speedup), Number(s.speedup_lo),
                        Number(s.speedup_hi), 100 * s.censored_share, Number(s.median_speedup_half),
                        Number(s.median_speedup_one), Number(s.median_regret_q),
                        Number(s.median_regret_h), Number(s.median_regret), Number(s.regret_lo),
                        Number(s.regret_hi), s.mean_configs, 100 * s.false_stop_rate,
                        s.coverage < 0 ? "—" : absl::StrFormat("%.0f%%", 100 * s.coverage)));
  }
  return out;
}

std::vector<Series> MedianRegretFront(const std::vector<StopperRun>& runs,
                                      const std::vector<double>& fractions) {
  std::vector<std::string> order;
  int64_t budget = 0;
  for (const StopperRun& r : runs) {
    if (std::find(order.begin(), order.end(), r.method) == order.end()) order.push_back(r.method);
    budget = std::max(budget, r.budget);
  }
  std::vector<Series> series;
  for (const std::string& method : order) {
    Series s;
    s.name = method;
    for (double fraction : fractions) {
      const int64_t at = static_cast<int64_t>(std::llround(fraction * static_cast<double>(budget)));
      std::vector<double> regrets;
      for (const StopperRun& r : runs) {
        if (r.method == method) regrets.push_back(r.RegretAt(at));
      }
      s.x.push_back(static_cast<double>(at));
      s.y.push_back(Median(regrets));
    }
    series.push_back(std::move(s));
  }
  return series;
}

namespace {

std::vector<double> SixtiethsOfTheBudget() {
  std::vector<double> fractions;
  for (int i = 1; i <= 60; ++i) fractions.push_back(i / 60.0);
  return fractions;
}

}  // namespace

std::string StopperRegretSvg(const std::vector<StopperRun>& runs, const std::string& title) {
  PlotOptions options;
  options.title = title;
  options.x_label = "epochs spent";
  options.y_label = "median regret";
  return LinePlotSvg(options, MedianRegretFront(runs, SixtiethsOfTheBudget()));
}

std::string StopperFrontMarkdown(const std::vector<StopperRun>& runs) {
  const std::vector<double> fractions = {1.0 / 32, 1.0 / 16, 1.0 / 8, 1.0 / 4, 1.0 / 2, 1.0};
  const std::vector<Series> front = MedianRegretFront(runs, fractions);
  std::string out =
      "The (epochs, regret) front: median regret once a share of B was spent (bold: the lowest "
      "at that budget; — before any configuration ran to the end).\n\n| method | B/32 | B/16 | "
      "B/8 | B/4 | B/2 | B |\n|---|---|---|---|---|---|---|\n";
  std::vector<double> lowest(fractions.size(), std::numeric_limits<double>::infinity());
  for (const Series& s : front) {
    for (size_t i = 0; i < fractions.size(); ++i) lowest[i] = std::min(lowest[i], s.y[i]);
  }
  for (const Series& s : front) {
    absl::StrAppend(&out, "| ", s.name, " |");
    for (size_t i = 0; i < fractions.size(); ++i) {
      if (!std::isfinite(s.y[i])) {
        absl::StrAppend(&out, " — |");
      } else if (s.y[i] == lowest[i]) {
        absl::StrAppend(&out, " **", Number(s.y[i]), "** |");
      } else {
        absl::StrAppend(&out, " ", Number(s.y[i]), " |");
      }
    }
    absl::StrAppend(&out, "\n");
  }
  return out;
}

std::string TaskFamily(const std::string& task) {
  return absl::StartsWith(task, "lcbench-") ? "lcbench" : task;
}

absl::StatusOr<std::vector<StopperRun>> RunStopperBench(const StopperBenchOptions& options) {
  if (options.tasks.empty()) return absl::InvalidArgumentError("--tasks: no task");
  if (options.seeds < 1) return absl::InvalidArgumentError("--seeds: must be >= 1");
  if (options.budget_evaluations < 1) return absl::InvalidArgumentError("--budget: must be >= 1");
  if (options.jobs < 1) return absl::InvalidArgumentError("--jobs: must be >= 1");
  std::error_code ec;
  std::filesystem::create_directories(options.out_dir, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create '", options.out_dir, "': ", ec.message()));
  }
  std::vector<StopperMethod> methods = options.methods;
  if (std::none_of(methods.begin(), methods.end(),
                   [](const StopperMethod& m) { return m.name == "none"; })) {
    StopperMethod none;
    none.name = "none";
    none.stopping.set_name("none");
    methods.insert(methods.begin(), none);
  }

  struct Job {
    const CurveSource* source;
    const StopperMethod* method;
    uint64_t seed;
  };
  std::unique_ptr<server::Coordinator> coordinator;  // Track B: the current task's
  absl::Mutex mu;
  std::vector<StopperRun> runs;
  absl::Status failure;
  // The `none` runs' complete curves by (task, seed), for the warm starts.
  std::map<std::pair<std::string, uint64_t>, std::vector<hpo::v1::Trial>> complete;
  auto run_phase = [&](const std::vector<Job>& jobs) {
    size_t next = 0;
    // Track B runs one study at a time: a coordinator leases any running study's trials to any
    // worker, so two runs at once would train each other's configurations.
    const int threads = options.workers > 0 ? 1 : options.jobs;
    RunOnThreads(std::min<int>(threads, static_cast<int>(jobs.size())), [&] {
      while (true) {
        Job job;
        std::vector<hpo::v1::Trial> warm;
        {
          absl::MutexLock lock(&mu);
          if (next >= jobs.size() || !failure.ok()) return;
          job = jobs[next++];
          if (job.method->warm_from_other_seeds) {
            for (const auto& [key, trials] : complete) {
              if (key.first == job.source->name() && key.second != job.seed) {
                warm.insert(warm.end(), trials.begin(), trials.end());
              }
            }
          }
        }
        const int64_t budget =
            static_cast<int64_t>(options.budget_evaluations) * job.source->epochs();
        absl::StatusOr<StopperRun> run;
        if (coordinator == nullptr) {
          run = RunStopperMethod(*job.source, *job.method, job.seed, budget, warm, options.sampler);
        } else {
          std::vector<std::string> warm_studies;
          for (int s = 0; s < options.seeds; ++s) {
            const uint64_t other = options.first_seed + s;
            if (other != job.seed) {
              warm_studies.push_back(absl::StrCat(job.source->name(), "-none-", other));
            }
          }
          run = RunStopperStudy(*coordinator, *job.source, *job.method, job.seed, budget,
                                warm_studies, {options.workers, options.sampler});
        }
        absl::MutexLock lock(&mu);
        if (!run.ok()) {
          failure = core::Annotate(run.status(), absl::StrCat(job.source->name(), " seed ",
                                                              job.seed, " ", job.method->name));
          return;
        }
        if (options.progress != nullptr) {
          *options.progress << absl::StrFormat(
              "%s seed %d %s: %d configs, %d stopped, regret %s (%.1f s)\n", run->task, run->seed,
              run->method, run->configs, run->stopped, Number(run->RegretAt(budget)), run->seconds);
        }
        if (run->method == "none") complete[{run->task, run->seed}] = run->complete_trials;
        run->complete_trials.clear();
        runs.push_back(*std::move(run));
      }
    });
  };
  // One task at a time (its source, with the curves it keeps, is dropped after it): first its
  // `none` runs, then the other methods.
  for (const std::string& task : options.tasks) {
    HPO_ASSIGN_OR_RETURN(std::unique_ptr<CurveSource> source, options.sources(task));
    HPO_RETURN_IF_ERROR(source->ReferenceBest().status());
    // Track B: a coordinator per task over an in-memory database, its learning-curve stoppers
    // awaiting their fits (deterministic runs), its clock still (no lease ever expires).
    std::unique_ptr<storage::SqliteStorage> storage;
    core::FakeClock clock;
    if (options.workers > 0) {
      storage::SqliteStorage::Options db;
      db.path = ":memory:";
      HPO_ASSIGN_OR_RETURN(storage, storage::SqliteStorage::Create(db));
      server::CoordinatorOptions co;
      co.clock = &clock;
      co.stopper_factory = [](const hpo::v1::EarlyStoppingSpec& spec)
          -> absl::StatusOr<std::unique_ptr<server::EarlyStopper>> {
        if (spec.name() != "learning_curve") return server::MakeEarlyStopper(spec);
        HPO_ASSIGN_OR_RETURN(server::LearningCurveStopper::Options lc,
                             server::LearningCurveStopper::ParseOptions(spec));
        lc.wait_for_fits = true;
        return std::unique_ptr<server::EarlyStopper>(
            std::make_unique<server::LearningCurveStopper>(lc));
      };
      HPO_ASSIGN_OR_RETURN(coordinator, server::Coordinator::Create(storage.get(), co));
    }
    std::vector<Job> baseline, rest;
    for (int s = 0; s < options.seeds; ++s) {
      for (const StopperMethod& m : methods) {
        if (options.workers > 0 && m.i_epoch > 0) continue;  // Track A only
        (m.name == "none" ? baseline : rest).push_back({source.get(), &m, options.first_seed + s});
      }
    }
    run_phase(baseline);
    if (failure.ok()) run_phase(rest);
    coordinator.reset();  // before its storage
    if (!failure.ok()) return failure;
  }
  // A fixed order: task, seed, method as listed.
  std::map<std::string, int> method_order;
  for (size_t i = 0; i < methods.size(); ++i) method_order[methods[i].name] = static_cast<int>(i);
  std::sort(runs.begin(), runs.end(), [&](const StopperRun& a, const StopperRun& b) {
    return std::make_tuple(a.task, a.seed, method_order[a.method]) <
           std::make_tuple(b.task, b.seed, method_order[b.method]);
  });

  // The report: one table per family, then over all tasks.
  std::map<std::string, std::vector<StopperRun>> by_family;
  std::map<std::string, std::set<std::string>> family_tasks;
  for (const StopperRun& r : runs) {
    by_family[TaskFamily(r.task)].push_back(r);
    family_tasks[TaskFamily(r.task)].insert(r.task);
  }
  const std::string sampler = options.sampler.name().empty() ? "random" : options.sampler.name();
  std::string setup =
      sampler == "random"
          ? "random configurations from one stream per (task, seed), shared by every method"
          : absl::StrCat("configurations proposed by ", sampler);
  for (const auto& [key, value] : options.sampler.options()) {
    absl::StrAppend(&setup, " ", key, "=", value);
  }
  absl::StrAppend(&setup, options.workers > 0
                              ? absl::StrCat("; through a coordinator with ", options.workers,
                                             " simulated workers (Track B)")
                              : "; one configuration at a time, in-process (Track A)");
  std::string md;
  std::string front_csv = "family,method,epochs,median_regret\n";
  for (const auto& [family, family_runs] : by_family) {
    absl::StrAppend(
        &md,
        StopperReportMarkdown(
            SummarizeStopperRuns(family_runs, 17), static_cast<int>(family_tasks[family].size()),
            options.seeds, family_runs.front().budget, absl::StrCat("Stoppers on ", family), setup),
        "\n", StopperFrontMarkdown(family_runs), "\n![regret](stoppers-", family, ".svg)\n\n");
    for (const Series& series : MedianRegretFront(family_runs, SixtiethsOfTheBudget())) {
      for (size_t i = 0; i < series.x.size(); ++i) {
        absl::StrAppend(&front_csv, core::CsvLine({family, series.name,
                                                   absl::StrCat(static_cast<int64_t>(series.x[i])),
                                                   core::RoundTripNumber(series.y[i])}));
      }
    }
    HPO_RETURN_IF_ERROR(
        WriteTextFile(absl::StrCat(options.out_dir, "/stoppers-", family, ".svg"),
                      StopperRegretSvg(family_runs, absl::StrCat("median regret, ", family))));
  }
  if (by_family.size() > 1) {
    absl::StrAppend(&md, StopperReportMarkdown(
                             SummarizeStopperRuns(runs, 17), static_cast<int>(options.tasks.size()),
                             options.seeds, runs.front().budget, "All tasks", setup));
  }
  HPO_RETURN_IF_ERROR(WriteTextFile(absl::StrCat(options.out_dir, "/stoppers.md"), md));
  HPO_RETURN_IF_ERROR(
      WriteTextFile(absl::StrCat(options.out_dir, "/stopper_front.csv"), front_csv));
  std::string csv =
      "task,seed,method,budget,epochs,configs,completed,stopped,false_stops,forecasts,covered,"
      "regret_q,regret_h,"
      "regret,seconds\n";
  for (const StopperRun& r : runs) {
    absl::StrAppend(
        &csv,
        core::CsvLine(
            {r.task, absl::StrCat(r.seed), r.method, absl::StrCat(r.budget), absl::StrCat(r.epochs),
             absl::StrCat(r.configs), absl::StrCat(r.completed), absl::StrCat(r.stopped),
             absl::StrCat(r.false_stops), absl::StrCat(r.forecasts), absl::StrCat(r.covered),
             core::RoundTripNumber(r.RegretAt(r.budget / 4)),
             core::RoundTripNumber(r.RegretAt(r.budget / 2)),
             core::RoundTripNumber(r.RegretAt(r.budget)), absl::StrFormat("%.3f", r.seconds)}));
  }
  HPO_RETURN_IF_ERROR(WriteTextFile(absl::StrCat(options.out_dir, "/stopper_runs.csv"), csv));
  return runs;
}

}  // namespace hpo::harness
