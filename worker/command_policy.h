// The worker's own check of what it runs (hpo-worker --allow-command, --studies), made before
// each trial with the worker's file system at hand: the coordinator's check
// (core/worker_policy.h) cannot resolve a bare program name or follow a symlink.
#ifndef HPO_WORKER_COMMAND_POLICY_H_
#define HPO_WORKER_COMMAND_POLICY_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "hpo/v1/hpo.pb.h"

namespace hpo::worker {

// The forms of --allow-command prefixes a worker advertises and checks against: each canonical
// form (absolute, symlinks resolved), and, when it differs, the absolute form as given, so that
// the coordinator's check, which cannot follow symlinks, matches a command named through one
// (/bin/sh when /bin/sh is allowed and resolves to /usr/bin/dash). A resolved program path never
// passes through a symlink, so the given forms admit nothing the canonical ones do not.
// INVALID_ARGUMENT naming a prefix that does not exist. Thread-safe.
absl::StatusOr<std::vector<std::string>> CanonicalPrefixes(
    const std::vector<std::string>& prefixes);

// OK when a worker with `policy` (RegisterWorkerRequest's command_prefixes, any_command,
// studies) runs trials of `spec`: core::WhyNotAccepted, then, for a command, its argv[0] found
// the way the trial's process will find it (on the command's PATH, or the worker's; a relative
// path from the command's workdir), its symlinks followed, under one of the prefixes.
// PERMISSION_DENIED that says why otherwise. Thread-safe.
absl::Status CheckAccepted(const hpo::v1::RegisterWorkerRequest& policy,
                           const hpo::v1::StudySpec& spec);

}  // namespace hpo::worker

#endif  // HPO_WORKER_COMMAND_POLICY_H_
