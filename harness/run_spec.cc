#include "harness/run_spec.h"

#include <cmath>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

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

absl::StatusOr<OptimizerVariant> ParseOptimizerVariant(absl::string_view text) {
  auto error = [text](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("--optimizers: '", text, "': ", why));
  };
  OptimizerVariant variant;
  const size_t colon = text.find(':');
  variant.name = std::string(absl::StripAsciiWhitespace(text.substr(0, colon)));
  if (variant.name.empty()) return error("no optimizer name");
  if (colon == absl::string_view::npos) return variant;
  for (absl::string_view entry : absl::StrSplit(text.substr(colon + 1), ';')) {
    entry = absl::StripAsciiWhitespace(entry);
    if (entry.empty()) continue;
    const size_t eq = entry.find('=');
    if (eq == absl::string_view::npos) {
      return error(absl::StrCat("option '", entry, "' is not key=value"));
    }
    const std::string key(absl::StripAsciiWhitespace(entry.substr(0, eq)));
    if (key.empty()) return error(absl::StrCat("option '", entry, "' has no key"));
    const std::string value(absl::StripAsciiWhitespace(entry.substr(eq + 1)));
    if (!variant.options.emplace(key, value).second) {
      return error(absl::StrCat("option '", key, "' is given twice"));
    }
  }
  return variant;
}

int DefaultTrials(int dimensions) {
  return static_cast<int>(std::ceil(20.0 + 40.0 * std::sqrt(static_cast<double>(dimensions))));
}

}  // namespace hpo::harness
