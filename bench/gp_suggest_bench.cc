// Suggest latency of the GP optimizer on a 10-dimensional float space with a history of N
// completed trials. "Fit" builds a fresh optimizer for every call, so the hyperparameter fit is
// timed too; "Cached" repeats the call on one optimizer (the fit memo hits, as it does for
// parallel workers asking between two completions).
#include <cmath>
#include <memory>
#include <random>
#include <vector>

#include "benchmark/benchmark.h"
#include "core/search_space.h"
#include "server/optimizers/gp/gaussian_process.h"
#include "server/optimizers/gp/gp_optimizer.h"

namespace {

using hpo::server::GpOptimizer;
using hpo::server::StudyView;

struct Fixture {
  hpo::v1::StudySpec spec;
  std::vector<hpo::v1::Trial> trials;
};

Fixture MakeFixture(int n) {
  Fixture f;
  f.spec.mutable_objective()->set_direction(hpo::v1::MINIMIZE);
  for (int d = 0; d < 10; ++d) {
    auto* p = f.spec.mutable_space()->add_params();
    p->set_name("x" + std::to_string(d));
    p->mutable_float_domain()->set_low(0);
    p->mutable_float_domain()->set_high(1);
  }
  hpo::core::Rng rng(17);
  for (int i = 0; i < n; ++i) {
    hpo::v1::Trial t;
    t.set_id(i + 1);
    t.set_number(i);
    *t.mutable_params() = hpo::core::SampleUniform(f.spec.space(), rng);
    double value = 0;
    for (int d = 0; d < 10; ++d) {
      const double x = t.params().values().at("x" + std::to_string(d)).float_value();
      value += std::sin(3 * x + d) + (x - 0.4) * (x - 0.4);  // smooth, several basins
    }
    t.set_state(hpo::v1::COMPLETED);
    t.set_has_value(true);
    t.set_value(value);
    f.trials.push_back(std::move(t));
  }
  return f;
}

hpo::v1::OptimizerSpec Spec() {
  hpo::v1::OptimizerSpec spec;
  spec.set_name("gp");
  spec.set_seed(1);
  return spec;
}

void BM_GpSuggestFit(benchmark::State& state) {
  const Fixture f = MakeFixture(static_cast<int>(state.range(0)));
  StudyView view{&f.spec, &f.trials};
  for (auto _ : state) {
    auto opt = GpOptimizer::Create(Spec(), f.spec.space());
    auto got = (*opt)->Suggest(view, {static_cast<int>(f.trials.size())});
    if (!got.ok()) state.SkipWithError(std::string(got.status().message()).c_str());
    benchmark::DoNotOptimize(got);
  }
}
BENCHMARK(BM_GpSuggestFit)
    ->Arg(100)
    ->Arg(500)
    ->Arg(1000)
    ->Arg(5000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_GpSuggestCached(benchmark::State& state) {
  const Fixture f = MakeFixture(static_cast<int>(state.range(0)));
  StudyView view{&f.spec, &f.trials};
  auto opt = GpOptimizer::Create(Spec(), f.spec.space());
  (void)(*opt)->Suggest(view, {static_cast<int>(f.trials.size())});
  for (auto _ : state) {
    auto got = (*opt)->Suggest(view, {static_cast<int>(f.trials.size())});
    if (!got.ok()) state.SkipWithError(std::string(got.status().message()).c_str());
    benchmark::DoNotOptimize(got);
  }
}
BENCHMARK(BM_GpSuggestCached)
    ->Arg(100)
    ->Arg(500)
    ->Arg(1000)
    ->Arg(5000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// One evaluation of the log marginal likelihood with its gradient (what a hyperparameter fit
// repeats a few dozen times) on N random points of 10 features, one group each.
void BM_LikelihoodEvaluate(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  hpo::core::Rng rng(5);
  std::uniform_real_distribution<double> u(0, 1);
  Eigen::MatrixXd x(10, n);
  Eigen::VectorXd y(n);
  for (int j = 0; j < n; ++j) {
    for (int c = 0; c < 10; ++c) x(c, j) = u(rng);
    y(j) = std::sin(6 * x(0, j)) + x(1, j);
  }
  hpo::server::gp::FeatureGroups groups;
  for (int c = 0; c < 10; ++c) groups.group.push_back(c);
  groups.num_groups = 10;
  hpo::server::gp::MarginalLikelihood likelihood(x, groups, y);
  Eigen::VectorXd theta = Eigen::VectorXd::Constant(12, -1.0);
  theta(11) = -6;
  Eigen::VectorXd grad;
  for (auto _ : state) benchmark::DoNotOptimize(likelihood.Evaluate(theta, &grad));
}
BENCHMARK(BM_LikelihoodEvaluate)->Arg(100)->Arg(200)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
