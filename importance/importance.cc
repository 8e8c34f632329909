#include "importance/importance.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "importance/dataset.h"
#include "importance/fanova.h"
#include "importance/ped_anova.h"

namespace hpo::importance {

absl::StatusOr<Method> ParseMethod(absl::string_view text) {
  if (text == "fanova") return Method::kFanova;
  if (text == "ped-anova") return Method::kPedAnova;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown importance method '", text, "': expected fanova or ped-anova"));
}

std::string MethodName(Method method) { return method == Method::kFanova ? "fanova" : "ped-anova"; }

absl::StatusOr<std::vector<ParamImportance>> ComputeImportance(
    const hpo::v1::StudySpec& spec, const std::vector<hpo::v1::Trial>& trials,
    const ImportanceOptions& options) {
  absl::StatusOr<Dataset> data = BuildDataset(spec, trials, options.min_trials, options.seed);
  if (!data.ok()) return data.status();
  const std::vector<double> shares = options.method == Method::kFanova
                                         ? FanovaImportance(*data, options.fanova, options.seed)
                                         : PedAnovaImportance(*data, options.ped_anova);
  std::vector<ParamImportance> out(data->n_cols);
  for (int j = 0; j < data->n_cols; ++j) out[j] = {data->names[j], shares[j]};
  std::stable_sort(out.begin(), out.end(), [](const ParamImportance& a, const ParamImportance& b) {
    return a.importance > b.importance;
  });
  return out;
}

}  // namespace hpo::importance
