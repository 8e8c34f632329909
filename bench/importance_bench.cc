// importance_bench: fANOVA against PED-ANOVA (importance/) on synthetic studies whose relevant
// parameters are known: half of each study's parameters do not enter its objective. For each
// task family, dimension (4, 8, 16) and number of trials (100, 300, 1000: the first trials of one
// study of 1,000), over `seeds` seeds, prints per method the mean share of importance on the
// relevant parameters, how often the top d/2 parameters are exactly the relevant ones, and the
// mean time of one ComputeImportance call.
//   importance_bench [seeds=5] [sampler=random|tpe] [ped_quantile=0.1] [ped_reference=global|local]
// sampler: the trials are drawn uniformly (random search), or proposed by our TPE (default
// options, seeded), which crowds them where the relevant parameters are good. ped_reference:
// PED-ANOVA's PedAnovaOptions::local (true for local).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/search_space.h"
#include "importance/importance.h"
#include "server/optimizers/tpe/tpe_optimizer.h"

namespace hpo::importance {
namespace {

using hpo::v1::ParamMap;
using hpo::v1::ParamSpec;
using hpo::v1::StudySpec;

// A study space of d parameters, the objective, and which parameters it reads.
struct Task {
  std::string family;
  StudySpec spec;
  std::function<double(const ParamMap&)> objective;
  std::set<std::string> relevant;
};

double Num(const ParamMap& p, const std::string& name) {
  const hpo::v1::ParamValue& v = p.values().at(name);
  return v.has_int_value() ? static_cast<double>(v.int_value()) : v.float_value();
}

ParamSpec* Add(StudySpec* spec, const std::string& name) {
  ParamSpec* p = spec->mutable_space()->add_params();
  p->set_name(name);
  return p;
}

void Float(ParamSpec* p, double low, double high, bool log) {
  p->mutable_float_domain()->set_low(low);
  p->mutable_float_domain()->set_high(high);
  p->mutable_float_domain()->set_log(log);
}

std::string Name(int i) { return absl::StrCat("x", i); }

// sphere: floats in [0, 1]; f = sum over the first d/2 of (x_i - 0.3)^2. Additive, equal shares.
Task Sphere(int d) {
  Task t;
  t.family = "sphere";
  for (int i = 0; i < d; ++i) Float(Add(&t.spec, Name(i)), 0, 1, false);
  for (int i = 0; i < d / 2; ++i) t.relevant.insert(Name(i));
  t.objective = [d](const ParamMap& p) {
    double f = 0;
    for (int i = 0; i < d / 2; ++i) f += std::pow(Num(p, Name(i)) - 0.3, 2);
    return f;
  };
  return t;
}

// mixed: parameter i is a float [0, 1], a log float [1e-4, 1], an int [1, 16] or a categorical of
// 4 choices by (i / 2) % 4, and the even ones are relevant (so each kind is on both sides):
// float (x - 0.3)^2, log float ((log10 x + 2) / 4)^2, int ((n - 5) / 15)^2, categorical 0 for
// choice "c2", 0.25 for others. Additive, unequal shares.
Task Mixed(int d) {
  Task t;
  t.family = "mixed";
  for (int i = 0; i < d; ++i) {
    ParamSpec* p = Add(&t.spec, Name(i));
    switch ((i / 2) % 4) {
      case 0:
        Float(p, 0, 1, false);
        break;
      case 1:
        Float(p, 1e-4, 1, true);
        break;
      case 2:
        p->mutable_int_domain()->set_low(1);
        p->mutable_int_domain()->set_high(16);
        break;
      default:
        for (int c = 0; c < 4; ++c) {
          p->mutable_categorical()->add_choices()->set_string_value(absl::StrCat("c", c));
        }
    }
    if (i % 2 == 0) t.relevant.insert(Name(i));
  }
  t.objective = [d](const ParamMap& p) {
    double f = 0;
    for (int i = 0; i < d; i += 2) {
      const std::string n = Name(i);
      switch ((i / 2) % 4) {
        case 0:
          f += std::pow(Num(p, n) - 0.3, 2);
          break;
        case 1:
          f += std::pow((std::log10(Num(p, n)) + 2) / 4, 2);
          break;
        case 2:
          f += std::pow((Num(p, n) - 5) / 15, 2);
          break;
        default:
          f += p.values().at(n).string_value() == "c2" ? 0 : 0.25;
      }
    }
    return f;
  };
  return t;
}

// rosenbrock: floats in [-2, 2]; Rosenbrock's chain over the first d/2 (x_{i+1} - x_i^2 couples
// neighbours): strong interactions and a heavy-tailed value.
Task Rosenbrock(int d) {
  Task t;
  t.family = "rosenbrock";
  for (int i = 0; i < d; ++i) Float(Add(&t.spec, Name(i)), -2, 2, false);
  for (int i = 0; i < d / 2; ++i) t.relevant.insert(Name(i));
  t.objective = [d](const ParamMap& p) {
    double f = 0;
    for (int i = 0; i + 1 < d / 2; ++i) {
      const double x = Num(p, Name(i)), y = Num(p, Name(i + 1));
      f += 100 * (y - x * x) * (y - x * x) + (1 - x) * (1 - x);
    }
    return f;
  };
  return t;
}

// The study's first n trials, proposed by `sampler` with `seed`.
std::vector<hpo::v1::Trial> Study(const Task& task, const std::string& sampler, int n,
                                  uint64_t seed) {
  std::vector<hpo::v1::Trial> trials;
  core::Rng rng(seed);
  std::unique_ptr<server::Optimizer> tpe;
  if (sampler == "tpe") {
    hpo::v1::OptimizerSpec spec;
    spec.set_name("tpe");
    spec.set_seed(static_cast<int64_t>(seed));
    auto created = server::TpeOptimizer::Create(spec, task.spec.space());
    if (!created.ok()) {
      std::fprintf(stderr, "%s\n", std::string(created.status().message()).c_str());
      std::exit(1);
    }
    tpe = std::move(created).value();
  }
  for (int i = 0; i < n; ++i) {
    hpo::v1::Trial t;
    t.set_id(i + 1);
    t.set_number(i);
    if (tpe != nullptr) {
      const server::StudyView view{&task.spec, &trials};
      auto proposal = tpe->Suggest(view, {i});
      if (!proposal.ok()) {
        std::fprintf(stderr, "%s\n", std::string(proposal.status().message()).c_str());
        std::exit(1);
      }
      *t.mutable_params() = core::NormalizeParams(task.spec.space(), (*proposal)[0]);
    } else {
      *t.mutable_params() = core::SampleUniform(task.spec.space(), rng);
    }
    t.set_state(hpo::v1::COMPLETED);
    t.set_has_value(true);
    t.set_value(task.objective(t.params()));
    trials.push_back(std::move(t));
  }
  return trials;
}

struct Score {
  double share = 0;  // summed over seeds
  int exact = 0;     // seeds whose top d/2 is the relevant set
  double ms = 0;     // summed over seeds
};

void Run(int seeds, const std::string& sampler, double ped_quantile, bool ped_local) {
  const std::vector<std::function<Task(int)>> families = {Sphere, Mixed, Rosenbrock};
  const Method methods[] = {Method::kFanova, Method::kPedAnova};
  std::printf("seeds %d, sampler %s, PED-ANOVA quantile %g, reference %s\n\n", seeds,
              sampler.c_str(), ped_quantile, ped_local ? "local" : "global");
  std::printf(
      "| task | d | trials | fANOVA share | fANOVA top-k | fANOVA ms | PED-ANOVA share | "
      "PED-ANOVA top-k | PED-ANOVA ms |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  Score totals[2];
  int rows = 0;
  for (const auto& family : families) {
    for (int d : {4, 8, 16}) {
      Task task = family(d);
      task.spec.set_name(absl::StrCat(task.family, d));
      task.spec.mutable_objective()->set_direction(hpo::v1::MINIMIZE);
      std::vector<std::vector<hpo::v1::Trial>> studies;
      for (int seed = 0; seed < seeds; ++seed) {
        studies.push_back(Study(task, sampler, 1000, 1000 * seed + 7 * d));
      }
      for (int n : {100, 300, 1000}) {
        Score score[2];
        for (int seed = 0; seed < seeds; ++seed) {
          const std::vector<hpo::v1::Trial> trials(studies[seed].begin(),
                                                   studies[seed].begin() + n);
          for (int m = 0; m < 2; ++m) {
            ImportanceOptions options;
            options.method = methods[m];
            options.seed = static_cast<uint64_t>(seed);
            options.ped_anova.quantile = ped_quantile;
            options.ped_anova.local = ped_local;
            const auto start = std::chrono::steady_clock::now();
            auto imp = ComputeImportance(task.spec, trials, options);
            const auto stop = std::chrono::steady_clock::now();
            if (!imp.ok()) {
              std::fprintf(stderr, "%s: %s\n", task.spec.name().c_str(),
                           std::string(imp.status().message()).c_str());
              std::exit(1);
            }
            score[m].ms += std::chrono::duration<double, std::milli>(stop - start).count();
            std::set<std::string> top;
            for (size_t k = 0; k < imp->size(); ++k) {
              if (task.relevant.count((*imp)[k].name)) score[m].share += (*imp)[k].importance;
              if (k < task.relevant.size()) top.insert((*imp)[k].name);
            }
            score[m].exact += top == task.relevant;
          }
        }
        std::printf("| %s | %d | %d", task.family.c_str(), d, n);
        for (int m = 0; m < 2; ++m) {
          std::printf(" | %.3f | %d/%d | %.1f", score[m].share / seeds, score[m].exact, seeds,
                      score[m].ms / seeds);
          totals[m].share += score[m].share / seeds;
          totals[m].exact += score[m].exact;
          totals[m].ms += score[m].ms / seeds;
        }
        std::printf(" |\n");
        std::fflush(stdout);
        ++rows;
      }
    }
  }
  std::printf("| **all** | | ");
  for (int m = 0; m < 2; ++m) {
    std::printf(" | %.3f | %d/%d | %.1f", totals[m].share / rows, totals[m].exact, rows * seeds,
                totals[m].ms / rows);
  }
  std::printf(" |\n");
}

}  // namespace
}  // namespace hpo::importance

int main(int argc, char** argv) {
  const int seeds = argc > 1 ? std::atoi(argv[1]) : 5;
  const std::string sampler = argc > 2 ? argv[2] : "random";
  const double ped_quantile = argc > 3 ? std::atof(argv[3]) : 0.1;
  const std::string reference = argc > 4 ? argv[4] : "global";
  if (seeds < 1 || (sampler != "random" && sampler != "tpe") || !(ped_quantile > 0) ||
      ped_quantile > 1 || (reference != "local" && reference != "global")) {
    std::fprintf(stderr,
                 "usage: importance_bench [seeds=5] [sampler=random|tpe] "
                 "[ped_quantile=0.1]\n");
    return 2;
  }
  hpo::importance::Run(seeds, sampler, ped_quantile, reference == "local");
  return 0;
}
