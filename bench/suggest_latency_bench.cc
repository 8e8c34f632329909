// suggest_latency_bench: the latency of every Suggest call over one growing study, as the
// coordinator makes them (one optimizer object, one call per trial), with percentiles per window
// of the study's size.
//   suggest_latency_bench OPTIMIZER TRIALS [RUNNING=0] [TASK]
// OPTIMIZER is NAME or NAME:key=value;key=value (as hpo bench takes it). RUNNING trials stay in
// flight: each call sees them RUNNING, and the oldest completes after each call. TASK is a
// synthetic task (hpo-task --list); the default is a 10-dimensional sum of sines on [0, 1]^10, the
// space gp_suggest_bench uses. Prints, per window of 500 trials and for the whole study, the
// median, the 99th percentile and the largest latency in milliseconds.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "core/search_space.h"
#include "harness/run_spec.h"
#include "server/optimizers/optimizer.h"
#include "tasks/task.h"

namespace hpo::server {
namespace {

hpo::v1::SearchSpace SinesSpace() {
  hpo::v1::SearchSpace space;
  for (int d = 0; d < 10; ++d) {
    auto* p = space.add_params();
    p->set_name("x" + std::to_string(d));
    p->mutable_float_domain()->set_low(0);
    p->mutable_float_domain()->set_high(1);
  }
  return space;
}

double Sines(const hpo::v1::ParamMap& params) {
  double value = 0;
  for (int d = 0; d < 10; ++d) {
    const double x = params.values().at("x" + std::to_string(d)).float_value();
    value += std::sin(3 * x + d) + (x - 0.4) * (x - 0.4);
  }
  return value;
}

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t k = static_cast<size_t>(std::ceil(q * v.size())) - 1;
  return v[std::min(k, v.size() - 1)];
}

void PrintRow(const std::string& label, const std::vector<double>& ms) {
  std::printf("%-14s %6zu calls  p50 %8.2f ms  p99 %8.2f ms  max %8.2f ms\n", label.c_str(),
              ms.size(), Percentile(ms, 0.5), Percentile(ms, 0.99),
              ms.empty() ? 0.0 : *std::max_element(ms.begin(), ms.end()));
}

int Main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: suggest_latency_bench OPTIMIZER TRIALS [RUNNING=0] [TASK]\n");
    return 2;
  }
  const absl::StatusOr<harness::OptimizerVariant> variant = harness::ParseOptimizerVariant(argv[1]);
  if (!variant.ok()) {
    std::fprintf(stderr, "%s\n", std::string(variant.status().message()).c_str());
    return 2;
  }
  hpo::v1::StudySpec spec;
  spec.set_name("latency");
  spec.mutable_objective()->set_metric("value");
  spec.mutable_optimizer()->set_name(variant->name);
  spec.mutable_optimizer()->set_seed(1);
  for (const auto& [key, value] : variant->options) {
    (*spec.mutable_optimizer()->mutable_options())[key] = value;
  }
  const int trials = std::atoi(argv[2]);
  const int running = argc > 3 ? std::atoi(argv[3]) : 0;
  std::unique_ptr<tasks::Task> task;
  const tasks::SyntheticTask* synthetic = nullptr;
  if (argc > 4) {
    auto made = tasks::MakeTask(argv[4]);
    if (!made.ok()) {
      std::fprintf(stderr, "%s\n", std::string(made.status().message()).c_str());
      return 2;
    }
    task = std::move(*made);
    synthetic = dynamic_cast<const tasks::SyntheticTask*>(task.get());
    if (synthetic == nullptr) {
      std::fprintf(stderr, "%s is not a synthetic task\n", argv[4]);
      return 2;
    }
    *spec.mutable_space() = task->space();
  } else {
    *spec.mutable_space() = SinesSpace();
  }
  spec.mutable_budget()->set_max_trials(trials);
  auto optimizer = MakeOptimizer(spec.optimizer(), spec.space());
  if (!optimizer.ok()) {
    std::fprintf(stderr, "%s\n", std::string(optimizer.status().message()).c_str());
    return 2;
  }
  std::vector<hpo::v1::Trial> history;
  history.reserve(trials);
  std::deque<int> in_flight;
  std::vector<double> ms;
  auto complete = [&](int index) {
    hpo::v1::Trial& t = history[index];
    double value = 0;
    if (synthetic != nullptr) {
      value = synthetic->Value(t.params());
    } else {
      value = Sines(t.params());
    }
    t.set_state(hpo::v1::COMPLETED);
    t.set_has_value(true);
    t.set_value(value);
  };
  for (int i = 0; i < trials; ++i) {
    StudyView view{&spec, &history};
    const auto start = std::chrono::steady_clock::now();
    auto got = (*optimizer)->Suggest(view, {i});
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                     .count());
    if (!got.ok()) {
      std::fprintf(stderr, "trial %d: %s\n", i, std::string(got.status().message()).c_str());
      return 1;
    }
    hpo::v1::Trial t;
    t.set_id(i + 1);
    t.set_number(i);
    t.set_state(hpo::v1::RUNNING);
    *t.mutable_params() = (*got)[0];
    history.push_back(std::move(t));
    in_flight.push_back(i);
    if (static_cast<int>(in_flight.size()) > running) {
      complete(in_flight.front());
      in_flight.pop_front();
    }
  }
  std::printf("%s, %d trials, %d running, %s\n", argv[1], trials, running,
              task != nullptr ? task->name().c_str() : "10-d sines");
  constexpr int kWindow = 500;
  for (int lo = 0; lo < trials; lo += kWindow) {
    const int hi = std::min(trials, lo + kWindow);
    PrintRow("trials " + std::to_string(lo) + "-" + std::to_string(hi - 1),
             std::vector<double>(ms.begin() + lo, ms.begin() + hi));
  }
  PrintRow("all", ms);
  return 0;
}

}  // namespace
}  // namespace hpo::server

int main(int argc, char** argv) { return hpo::server::Main(argc, argv); }
