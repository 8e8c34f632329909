#include "harness/digest.h"

#include <cstdint>
#include <cstdio>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "core/search_space.h"
#include "core/status_macros.h"
#include "harness/evaluate.h"

namespace hpo::harness {

std::string Digest(absl::string_view bytes) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  char text[17];
  std::snprintf(text, sizeof(text), "%016llx", static_cast<unsigned long long>(h));
  return text;
}

absl::StatusOr<std::string> TaskDigest(const tasks::Task& task) {
  constexpr int kMinProbes = 3;
  constexpr int kMaxProbes = 64;
  const hpo::v1::SearchSpace space = task.space();
  // What the probes must reach: every choice of every categorical, and every conditional
  // parameter active, so that no branch of the function goes unseen (as far as kMaxProbes
  // random draws find them).
  std::set<std::string> unseen;
  for (const hpo::v1::ParamSpec& p : space.params()) {
    if (p.has_condition()) unseen.insert(p.name());
    for (const hpo::v1::ParamValue& c : p.categorical().choices()) {
      unseen.insert(absl::StrCat(p.name(), "=", core::FormatValue(c)));
    }
  }
  // The space has no map fields, so its serialization is deterministic.
  std::string text = space.SerializeAsString();
  std::seed_seq seq{0x64696765u, 0x73740000u};  // "digest"
  core::Rng rng(seq);
  for (int i = 0; i < kMaxProbes && (i < kMinProbes || !unseen.empty()); ++i) {
    const hpo::v1::ParamMap params = core::SampleUniform(space, rng);
    size_t before = unseen.size();
    for (const auto& [name, value] : params.values()) {
      unseen.erase(name);
      unseen.erase(absl::StrCat(name, "=", core::FormatValue(value)));
    }
    // Past the first few, only probes that reach something new are evaluated.
    if (i >= kMinProbes && unseen.size() == before) continue;
    HPO_ASSIGN_OR_RETURN(const double value, EvaluateTask(task, space, params));
    char number[32];
    std::snprintf(number, sizeof(number), "%.17g", value);
    absl::StrAppend(&text, "|", core::ParamsToJson(params), "=", number);
  }
  return Digest(text);
}

}  // namespace hpo::harness
