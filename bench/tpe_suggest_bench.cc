// Suggest latency of the TPE optimizer: 10 float parameters, a history of N completed trials,
// one proposal per iteration (the work the coordinator does per new trial).
//   build/bin/tpe_suggest_bench
// Peer figure: bench/optuna_tpe_latency.py (Optuna 3.1 TPESampler, 10 floats, in-memory storage,
// ask+tell), run with /usr/bin/python3 on the same machine.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/search_space.h"
#include "server/optimizers/tpe/tpe_optimizer.h"

namespace hpo::server {
namespace {

constexpr int kParams = 10;

hpo::v1::SearchSpace TenFloats() {
  hpo::v1::SearchSpace space;
  for (int i = 0; i < kParams; ++i) {
    hpo::v1::ParamSpec* p = space.add_params();
    p->set_name(absl::StrCat("x", i));
    p->mutable_float_domain()->set_low(-5);
    p->mutable_float_domain()->set_high(5);
  }
  return space;
}

// n completed trials, uniform parameters, value = sphere function.
std::vector<hpo::v1::Trial> History(const hpo::v1::SearchSpace& space, int n) {
  std::vector<hpo::v1::Trial> trials;
  core::Rng rng(42);
  for (int i = 0; i < n; ++i) {
    hpo::v1::Trial t;
    t.set_id(i + 1);
    t.set_number(i);
    t.set_state(hpo::v1::COMPLETED);
    *t.mutable_params() = core::SampleUniform(space, rng);
    double value = 0;
    for (const auto& [name, v] : t.params().values()) value += v.float_value() * v.float_value();
    t.set_has_value(true);
    t.set_value(value);
    trials.push_back(std::move(t));
  }
  return trials;
}

// Args: {history size, multivariate (0/1)}.
void BM_TpeSuggest(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const bool multivariate = state.range(1) != 0;
  const hpo::v1::SearchSpace space = TenFloats();
  hpo::v1::StudySpec study;
  study.mutable_objective()->set_metric("value");
  study.mutable_objective()->set_direction(hpo::v1::MINIMIZE);
  *study.mutable_space() = space;
  hpo::v1::OptimizerSpec spec;
  spec.set_name("tpe");
  spec.set_seed(1);
  (*spec.mutable_options())["multivariate"] = multivariate ? "true" : "false";
  auto opt = TpeOptimizer::Create(spec, space);
  if (!opt.ok()) {
    state.SkipWithError(std::string(opt.status().message()).c_str());
    return;
  }
  const std::vector<hpo::v1::Trial> trials = History(space, n);
  const StudyView view{&study, &trials};
  int number = n;
  for (auto _ : state) {
    auto proposals = (*opt)->Suggest(view, {number++});
    benchmark::DoNotOptimize(proposals);
  }
  state.SetLabel(multivariate ? "multivariate (the default)" : "univariate");
}
BENCHMARK(BM_TpeSuggest)
    ->ArgNames({"trials", "mv"})
    ->ArgsProduct({{100, 1000}, {1, 0}})
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace hpo::server

BENCHMARK_MAIN();
