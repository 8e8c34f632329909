#include "importance/dataset.h"

#include <algorithm>
#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/search_space.h"

namespace hpo::importance {
namespace {

int Levels(const hpo::v1::ParamSpec& spec) {
  switch (spec.domain_case()) {
    case hpo::v1::ParamSpec::kCategorical:
      return spec.categorical().choices_size();
    case hpo::v1::ParamSpec::kIntDomain: {
      const auto& d = spec.int_domain();
      if (d.log()) return 0;
      const uint64_t step = d.step() > 0 ? static_cast<uint64_t>(d.step()) : 1;
      const uint64_t span = static_cast<uint64_t>(d.high()) - static_cast<uint64_t>(d.low());
      const uint64_t n = span / step + 1;
      return n > (1u << 30) ? 0 : static_cast<int>(n);
    }
    default:
      return 0;
  }
}

}  // namespace

absl::StatusOr<Dataset> BuildDataset(const hpo::v1::StudySpec& spec,
                                     const std::vector<hpo::v1::Trial>& trials, int min_trials,
                                     uint64_t seed) {
  const hpo::v1::SearchSpace& space = spec.space();
  if (space.params_size() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("study '", spec.name(), "' has no parameters to rank"));
  }
  if (absl::Status s = core::ValidateSearchSpace(space); !s.ok()) return s;

  Dataset data;
  data.n_cols = space.params_size();
  for (const auto& p : space.params()) {
    data.names.push_back(p.name());
    data.levels.push_back(Levels(p));
    data.categorical.push_back(p.has_categorical());
  }
  const double sign = spec.objective().direction() == hpo::v1::MAXIMIZE ? -1 : 1;
  core::Rng rng(seed);
  for (const hpo::v1::Trial& t : trials) {
    if (t.state() != hpo::v1::COMPLETED || !t.has_value() || !std::isfinite(t.value())) continue;
    if (absl::Status s = core::ValidateParams(space, t.params()); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("trial #", t.number(), ": ", s.message()));
    }
    for (const auto& p : space.params()) {
      auto it = t.params().values().find(p.name());
      // Drawn for every inactive parameter, in space order, so that the rows depend only on
      // the trials and the seed.
      data.x.push_back(it != t.params().values().end()
                           ? core::Encode(p, it->second)
                           : core::Encode(p, core::SampleParam(p, rng)));
    }
    data.loss.push_back(sign * t.value());
    ++data.n_rows;
  }
  min_trials = std::max(min_trials, 2);  // one value has no variation to explain
  if (data.n_rows < min_trials) {
    return absl::FailedPreconditionError(absl::StrCat("importance needs at least ", min_trials,
                                                      " completed trials with a value; study '",
                                                      spec.name(), "' has ", data.n_rows));
  }
  bool all_equal = true;
  for (double v : data.loss) all_equal = all_equal && v == data.loss[0];
  if (all_equal) {
    return absl::FailedPreconditionError(
        absl::StrCat("all ", data.n_rows, " completed trials of study '", spec.name(),
                     "' have the same value, so no parameter explains any of it"));
  }
  return data;
}

}  // namespace hpo::importance
