// The learning_curve stopper's costs at 50, 200 and 1,000 complete curves: the time of one fit
// (every rung's nu-SVR ensemble; it runs on the stopper's own thread) and the latency of Decide
// (what a progress report waits for), p50 and p99 over 2,000 judged reports. Curves have 52
// steps (LCBench's epochs) and 7 hyperparameters. Run: build/bin/learning_curve_bench
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "server/stoppers/learning_curve_stopper.h"

namespace {

using hpo::server::LearningCurveStopper;
using hpo::server::StudyView;

constexpr int kParams = 7;
constexpr int kSteps = 52;

// A curve family: the parameters set the final loss and how fast the curve gets there.
hpo::v1::Trial MakeTrial(int64_t id, std::mt19937_64& rng, int steps, hpo::v1::TrialState state) {
  std::uniform_real_distribution<double> u(0, 1);
  hpo::v1::Trial t;
  t.set_id(id);
  t.set_number(static_cast<int32_t>(id));
  t.set_state(state);
  double final_loss = 0.1, rate = 0;
  for (int d = 0; d < kParams; ++d) {
    const double x = u(rng);
    (*t.mutable_params()->mutable_values())["x" + std::to_string(d)].set_float_value(x);
    final_loss += (x - 0.4) * (x - 0.4) / kParams;
    rate += x / kParams;
  }
  for (int s = 1; s <= steps; ++s) {
    auto* m = t.add_measurements();
    m->set_step(s);
    (*m->mutable_metrics())["value"] = final_loss + 0.8 * std::exp(-s * (0.05 + 0.3 * rate));
  }
  if (state == hpo::v1::COMPLETED) {
    t.set_has_value(true);
    t.set_value(t.measurements(steps - 1).metrics().at("value"));
  }
  return t;
}

}  // namespace

int main() {
  hpo::v1::StudySpec spec;
  spec.mutable_objective()->set_metric("value");
  spec.mutable_objective()->set_direction(hpo::v1::MINIMIZE);
  for (int d = 0; d < kParams; ++d) {
    auto* p = spec.mutable_space()->add_params();
    p->set_name("x" + std::to_string(d));
    p->mutable_float_domain()->set_low(0);
    p->mutable_float_domain()->set_high(1);
  }
  std::printf("%8s %10s %8s %14s %14s\n", "curves", "fit_s", "models", "decide_p50_us",
              "decide_p99_us");
  for (int n : {50, 200, 1000}) {
    std::mt19937_64 rng(n);
    std::vector<hpo::v1::Trial> trials;
    for (int i = 0; i < n; ++i) trials.push_back(MakeTrial(i + 1, rng, kSteps, hpo::v1::COMPLETED));
    LearningCurveStopper::Options options;
    options.wait_for_fits = true;  // the first Decide fits; its time is the fit's
    LearningCurveStopper stopper(options);
    StudyView view{&spec, &trials};
    hpo::v1::Trial probe = MakeTrial(n + 1, rng, 1, hpo::v1::RUNNING);
    stopper.Decide(view, probe, 0);
    const LearningCurveStopper::FitStats fit = stopper.fit_stats();

    // Reports of running trials at the rungs 1, 3, 9 and 27 (each judged by a model).
    std::vector<double> micros;
    const int rungs[] = {1, 3, 9, 27};
    for (int i = 0; i < 2000; ++i) {
      const int steps = rungs[i % 4];
      hpo::v1::Trial t = MakeTrial(n + 10 + i, rng, steps, hpo::v1::RUNNING);
      const auto start = std::chrono::steady_clock::now();
      const hpo::v1::StopJudgement j = stopper.Decide(view, t, steps - 1);
      const auto end = std::chrono::steady_clock::now();
      if (j.rule() != "learning_curve") {
        std::fprintf(stderr, "report %d was not judged by a model: %s\n", i, j.summary().c_str());
        return 1;
      }
      micros.push_back(std::chrono::duration<double, std::micro>(end - start).count());
    }
    std::sort(micros.begin(), micros.end());
    std::printf("%8d %10.3f %8d %14.1f %14.1f\n", fit.curves, absl::ToDoubleSeconds(fit.last),
                fit.models, micros[micros.size() / 2], micros[micros.size() * 99 / 100]);
  }
  return 0;
}
