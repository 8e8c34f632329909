// tpe_ablation: runs TPE variants (the options Watanabe 2023 ablates: gamma, weights, bandwidth,
// plus multivariate and the prior) on the synthetic suite and prints, per task, the mean log10
// regret of the best value after N trials, and each variant's mean rank over (task, seed).
//   tpe_ablation [trials=0] [seeds=10] [batch=1]
// trials = 0 gives each task the carps budget the bench harness uses, 20 + 40 sqrt(dimension).
// With batch > 1, trials are asked `batch` at a time (the earlier ones of a batch are running
// while the later ones are proposed), which is where constant_liar matters.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/search_space.h"
#include "server/optimizers/tpe/tpe_optimizer.h"
#include "tasks/task.h"

namespace hpo::server {
namespace {

struct Variant {
  std::string name;
  std::map<std::string, std::string> options;
};

std::vector<Variant> Variants() {
  return {
      {"default", {}},
      {"univariate", {{"multivariate", "false"}}},
      {"bandwidth=scott", {{"bandwidth", "scott"}}},
      {"bandwidth=gaps", {{"bandwidth", "gaps"}}},
      {"kernel=optuna31", {{"kernel_normalization", "optuna31"}}},
      {"optuna3.1",
       {{"multivariate", "false"},
        {"gamma", "optuna"},
        {"kernel_normalization", "optuna31"},
        {"bandwidth", "gaps"}}},
      {"gamma=optuna", {{"gamma", "optuna"}}},
      {"gamma=sqrt", {{"gamma", "sqrt"}}},
      {"weights=uniform", {{"weights", "uniform"}}},
      {"no_magic_clip", {{"consider_magic_clip", "false"}}},
      {"endpoints", {{"consider_endpoints", "true"}}},
      {"prior=0.5", {{"prior_weight", "0.5"}}},
      {"prior=2", {{"prior_weight", "2"}}},
      {"no_liar", {{"constant_liar", "false"}}},
      {"random", {{"n_startup_trials", "1000000"}}},
  };
}

// Best value found in `trials` evaluations.
double Run(const tasks::SyntheticTask& task, const Variant& v, int seed, int trials, int batch) {
  const hpo::v1::SearchSpace space = task.space();
  hpo::v1::OptimizerSpec spec;
  spec.set_name("tpe");
  spec.set_seed(seed);
  for (const auto& [k, val] : v.options) (*spec.mutable_options())[k] = val;
  auto opt = TpeOptimizer::Create(spec, space);
  if (!opt.ok()) {
    std::fprintf(stderr, "%s\n", std::string(opt.status().message()).c_str());
    std::exit(1);
  }
  hpo::v1::StudySpec study;
  study.mutable_objective()->set_metric("value");
  study.mutable_objective()->set_direction(hpo::v1::MINIMIZE);
  *study.mutable_space() = space;
  std::vector<hpo::v1::Trial> history;
  double best = std::numeric_limits<double>::infinity();
  for (int start = 0; start < trials; start += batch) {
    std::vector<int> numbers;
    for (int i = start; i < std::min(trials, start + batch); ++i) numbers.push_back(i);
    const StudyView view{&study, &history};
    auto proposals = (*opt)->Suggest(view, numbers);
    if (!proposals.ok()) {
      std::fprintf(stderr, "%s\n", std::string(proposals.status().message()).c_str());
      std::exit(1);
    }
    for (size_t k = 0; k < numbers.size(); ++k) {
      const hpo::v1::ParamMap& p = (*proposals)[k];
      const double value = task.Value(core::NormalizeParams(space, p));
      best = std::min(best, value);
      hpo::v1::Trial t;
      t.set_id(numbers[k] + 1);
      t.set_number(numbers[k]);
      t.set_state(hpo::v1::COMPLETED);
      *t.mutable_params() = p;
      t.set_has_value(true);
      t.set_value(value);
      history.push_back(std::move(t));
    }
  }
  return best;
}

int Main(int argc, char** argv) {
  const int trials_arg = argc > 1 ? std::atoi(argv[1]) : 0;
  const int seeds = argc > 2 ? std::atoi(argv[2]) : 10;
  const int batch = argc > 3 ? std::max(1, std::atoi(argv[3])) : 1;
  const std::vector<Variant> variants = Variants();
  const size_t nv = variants.size();
  std::vector<double> rank_sum(nv, 0);
  int cases = 0;
  std::printf(
      "trials %d (0: 20 + 40 sqrt(d)), seeds %d, batch %d; "
      "mean log10(best - optimum + 1e-9) per task\n",
      trials_arg, seeds, batch);
  std::printf("%-17s", "task");
  for (const Variant& v : variants) std::printf(" %15s", v.name.c_str());
  std::printf("\n");
  for (const std::string& name : tasks::SuiteTaskNames()) {
    auto task = tasks::MakeTask(name);
    auto* synthetic = task.ok() ? dynamic_cast<tasks::SyntheticTask*>(task->get()) : nullptr;
    if (synthetic == nullptr) continue;
    const int trials =
        trials_arg > 0
            ? trials_arg
            : static_cast<int>(
                  20 + 40 * std::sqrt(static_cast<double>(synthetic->space().params_size())));
    std::vector<double> mean(nv, 0);
    for (int seed = 0; seed < seeds; ++seed) {
      std::vector<double> regret(nv);
      for (size_t v = 0; v < nv; ++v) {
        regret[v] =
            std::max(0.0, Run(*synthetic, variants[v], seed, trials, batch) - synthetic->optimum());
        mean[v] += std::log10(regret[v] + 1e-9) / seeds;
      }
      // Ranks within this (task, seed); ties share the mean rank.
      for (size_t v = 0; v < nv; ++v) {
        double r = 1;
        for (size_t u = 0; u < nv; ++u) {
          if (regret[u] < regret[v]) r += 1;
          if (u != v && regret[u] == regret[v]) r += 0.5;
        }
        rank_sum[v] += r;
      }
      ++cases;
    }
    std::printf("%-17s", name.c_str());
    for (size_t v = 0; v < nv; ++v) std::printf(" %15.3f", mean[v]);
    std::printf("\n");
  }
  std::printf("%-17s", "mean rank");
  for (size_t v = 0; v < nv; ++v) std::printf(" %15.2f", rank_sum[v] / cases);
  std::printf("\n");
  return 0;
}

}  // namespace
}  // namespace hpo::server

int main(int argc, char** argv) { return hpo::server::Main(argc, argv); }
