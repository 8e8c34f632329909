#include "harness/run_spec.h"

#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"

namespace hpo::harness {

std::string RunSpec::Label() const {
  return absl::StrCat(optimizer, "/", task, "/seed=", seed, "/trials=", trials);
}

double RunRecord::best() const {
  return evals.empty() ? std::numeric_limits<double>::infinity() : evals.back().best_so_far;
}

void AppendEval(RunRecord& record, double value, std::string params_json) {
  double best = value;
  if (!record.evals.empty()) {
    const double prev = record.evals.back().best_so_far;
    // NaN is never better; every number is better than NaN.
    if (std::isnan(value) || prev <= value) best = prev;
  }
  record.evals.push_back(Eval{value, best, std::move(params_json)});
}

int DefaultTrials(int dimensions) {
  return static_cast<int>(std::ceil(20.0 + 40.0 * std::sqrt(static_cast<double>(dimensions))));
}

}  // namespace hpo::harness
