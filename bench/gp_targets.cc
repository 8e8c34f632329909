// Runs GP-BO sequentially on built-in synthetic tasks and prints the mean and standard deviation
// over seeds of the best value found, e.g.
//   gp_targets                       # branin@50 and hartmann6@100, seeds 0..9
//   gp_targets hartmann6 100 10 opt=value ...   # task, evaluations, seeds, optimizer options
// GP_TARGETS_TRACE=1 in the environment prints every trial.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/search_space.h"
#include "server/optimizers/gp/gp_optimizer.h"
#include "tasks/task.h"

namespace {

using hpo::server::GpOptimizer;
using hpo::server::StudyView;

int Run(const std::string& task_name, int evaluations, int first_seed, int seeds,
        const std::vector<std::pair<std::string, std::string>>& options) {
  auto task = hpo::tasks::MakeTask(task_name);
  if (!task.ok()) {
    std::fprintf(stderr, "%s\n", std::string(task.status().message()).c_str());
    return 1;
  }
  const auto* synthetic = dynamic_cast<const hpo::tasks::SyntheticTask*>(task->get());
  if (synthetic == nullptr) {
    std::fprintf(stderr, "%s is not a synthetic task\n", task_name.c_str());
    return 1;
  }
  hpo::v1::StudySpec spec;
  spec.set_name(task_name);
  spec.mutable_objective()->set_metric("value");
  spec.mutable_objective()->set_direction(hpo::v1::MINIMIZE);
  *spec.mutable_space() = synthetic->space();
  std::vector<double> bests;
  double seconds = 0;
  for (int seed = first_seed; seed < first_seed + seeds; ++seed) {
    hpo::v1::OptimizerSpec opt_spec;
    opt_spec.set_name("gp");
    opt_spec.set_seed(seed);
    for (const auto& [k, v] : options) (*opt_spec.mutable_options())[k] = v;
    auto optimizer = GpOptimizer::Create(opt_spec, spec.space());
    if (!optimizer.ok()) {
      std::fprintf(stderr, "%s\n", std::string(optimizer.status().message()).c_str());
      return 1;
    }
    std::vector<hpo::v1::Trial> trials;
    double best = INFINITY;
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < evaluations; ++i) {
      StudyView view{&spec, &trials};
      auto proposals = (*optimizer)->Suggest(view, {i});
      if (!proposals.ok()) {
        std::fprintf(stderr, "seed %d trial %d: %s\n", seed, i,
                     std::string(proposals.status().message()).c_str());
        return 1;
      }
      hpo::v1::Trial t;
      t.set_id(i + 1);
      t.set_number(i);
      *t.mutable_params() = hpo::core::NormalizeParams(spec.space(), (*proposals)[0]);
      t.set_state(hpo::v1::COMPLETED);
      t.set_has_value(true);
      t.set_value(synthetic->Value(t.params()));
      best = std::min(best, t.value());
      if (std::getenv("GP_TARGETS_TRACE") != nullptr) {
        std::printf("    trial %d: %.6f (best %.6f) %s\n", i, t.value(), best,
                    hpo::core::ParamsToJson(t.params()).c_str());
      }
      trials.push_back(std::move(t));
    }
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    bests.push_back(best);
    std::printf("  %s seed %d: best %.6f\n", task_name.c_str(), seed, best);
    std::fflush(stdout);
  }
  double mean = 0;
  for (double b : bests) mean += b;
  mean /= bests.size();
  double var = 0;
  for (double b : bests) var += (b - mean) * (b - mean);
  const double sd = bests.size() > 1 ? std::sqrt(var / (bests.size() - 1)) : 0.0;
  std::printf("%s @%d evaluations, %d seeds: best %.4f +- %.4f (optimum %.6f), %.1f s per run\n",
              task_name.c_str(), evaluations, seeds, mean, sd, synthetic->optimum(),
              seconds / seeds);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 1) {
    int rc = Run("branin", 50, 0, 10, {});
    if (rc != 0) return rc;
    return Run("hartmann6", 100, 0, 10, {});
  }
  if (argc < 4) {
    std::fprintf(stderr,
                 "usage: gp_targets [TASK EVALUATIONS SEEDS|FIRST:COUNT [option=value ...]]\n");
    return 2;
  }
  std::vector<std::pair<std::string, std::string>> options;
  for (int i = 4; i < argc; ++i) {
    std::string a = argv[i];
    const auto eq = a.find('=');
    if (eq == std::string::npos) {
      std::fprintf(stderr, "option '%s' is not key=value\n", a.c_str());
      return 2;
    }
    options.emplace_back(a.substr(0, eq), a.substr(eq + 1));
  }
  // SEEDS is a count (seeds 0..N-1) or FIRST:COUNT.
  const std::string seeds = argv[3];
  const auto colon = seeds.find(':');
  const int first = colon == std::string::npos ? 0 : std::atoi(seeds.substr(0, colon).c_str());
  const int count =
      std::atoi(colon == std::string::npos ? seeds.c_str() : seeds.c_str() + colon + 1);
  return Run(argv[1], std::atoi(argv[2]), first, count, options);
}
