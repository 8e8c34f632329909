#include "core/worker_policy.h"

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace hpo::core {

std::string NormalizePath(absl::string_view path) {
  const bool absolute = absl::StartsWith(path, "/");
  std::vector<absl::string_view> parts;
  for (absl::string_view part : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    if (part == ".") continue;
    if (part == "..") {
      if (!parts.empty() && parts.back() != "..") {
        parts.pop_back();
      } else if (!absolute) {
        parts.push_back(part);  // a relative path may climb above its start
      }
      continue;
    }
    parts.push_back(part);
  }
  const std::string joined = absl::StrJoin(parts, "/");
  if (absolute) return absl::StrCat("/", joined);
  return joined.empty() ? "." : joined;
}

bool PathIsUnder(absl::string_view path, absl::string_view prefix) {
  const std::string p = NormalizePath(path);
  const std::string q = NormalizePath(prefix);
  if (q == "/") return absl::StartsWith(p, "/");
  return p == q || absl::StartsWith(p, absl::StrCat(q, "/"));
}

std::string WhyNotAccepted(const hpo::v1::RegisterWorkerRequest& policy,
                           const hpo::v1::StudySpec& spec) {
  if (!policy.studies().empty()) {
    bool listed = false;
    for (const std::string& name : policy.studies()) listed = listed || name == spec.name();
    if (!listed) {
      return absl::StrCat("study '", spec.name(), "' is not in the worker's --studies (",
                          absl::StrJoin(policy.studies(), ","), ")");
    }
  }
  if (!spec.task().has_command() || policy.any_command()) return "";
  const std::string program =
      spec.task().command().argv().empty() ? "" : spec.task().command().argv(0);
  if (policy.command_prefixes().empty()) {
    return absl::StrCat("the worker runs no commands, and this study runs '", program,
                        "' (start hpo-worker with --allow-command PREFIX)");
  }
  if (!absl::StartsWith(program, "/")) return "";  // resolved on the worker
  for (const std::string& prefix : policy.command_prefixes()) {
    if (PathIsUnder(program, prefix)) return "";
  }
  return absl::StrCat("'", program, "' is not under the worker's --allow-command (",
                      absl::StrJoin(policy.command_prefixes(), ", "), ")");
}

}  // namespace hpo::core
