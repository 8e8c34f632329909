#include "worker/command_policy.h"

#include <limits.h>
#include <stdlib.h>

#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/worker_policy.h"
#include "worker/process.h"

namespace hpo::worker {
namespace {

std::optional<std::string> RealPath(const std::string& path) {
  char resolved[PATH_MAX];
  if (::realpath(path.c_str(), resolved) == nullptr) return std::nullopt;
  return std::string(resolved);
}

}  // namespace

absl::StatusOr<std::vector<std::string>> CanonicalPrefixes(
    const std::vector<std::string>& prefixes) {
  std::vector<std::string> canonical;
  for (const std::string& prefix : prefixes) {
    std::optional<std::string> real = prefix.empty() ? std::nullopt : RealPath(prefix);
    if (!real.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--allow-command '", prefix, "': no such file or directory"));
    }
    const std::string given = core::NormalizePath(prefix);
    if (given[0] == '/' && given != *real) canonical.push_back(given);
    canonical.push_back(*std::move(real));
  }
  return canonical;
}

absl::Status CheckAccepted(const hpo::v1::RegisterWorkerRequest& policy,
                           const hpo::v1::StudySpec& spec) {
  if (std::string why = core::WhyNotAccepted(policy, spec); !why.empty()) {
    return absl::PermissionDeniedError(why);
  }
  if (!spec.task().has_command() || policy.any_command()) return absl::OkStatus();
  const hpo::v1::CommandTask& command = spec.task().command();
  std::string program = command.argv().empty() ? "" : command.argv(0);
  if (program.find('/') != std::string::npos && program[0] != '/' && !command.workdir().empty()) {
    program = absl::StrCat(command.workdir(), "/", program);
  }
  std::optional<std::string> path;
  if (auto it = command.env().find("PATH"); it != command.env().end()) path = it->second;
  absl::StatusOr<std::string> found = ResolveProgram(program, path);
  std::optional<std::string> real = found.ok() ? RealPath(*found) : std::nullopt;
  if (!real.has_value()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "cannot find '", program, "' on this worker to check it against --allow-command"));
  }
  for (const std::string& prefix : policy.command_prefixes()) {
    if (core::PathIsUnder(*real, prefix)) return absl::OkStatus();
  }
  return absl::PermissionDeniedError(
      absl::StrCat("'", program, "' is ", *real, " on this worker, not under its --allow-command (",
                   absl::StrJoin(policy.command_prefixes(), ", "), ")"));
}

}  // namespace hpo::worker
