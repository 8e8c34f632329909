// What a worker accepts to run (hpo-worker --allow-command, --studies), as it tells the
// coordinator at registration. The coordinator leases a worker only trials this says it accepts;
// the worker, which can see its own file system, checks again before it runs one
// (worker/command_policy.h).
#ifndef HPO_CORE_WORKER_POLICY_H_
#define HPO_CORE_WORKER_POLICY_H_

#include <string>

#include "absl/strings/string_view.h"
#include "hpo/v1/hpo.pb.h"

namespace hpo::core {

// "/a/./b//../c/" -> "/a/c": "." and ".." and repeated slashes folded, no symlinks resolved.
// A relative path stays relative. Thread-safe (a pure function).
std::string NormalizePath(absl::string_view path);

// Whether `path` is `prefix` or lies below it, after NormalizePath of both ("/opt/a" is not
// under "/opt/ab"). Thread-safe.
bool PathIsUnder(absl::string_view path, absl::string_view prefix);

// Why a worker with `policy` (command_prefixes, any_command, studies) will not run trials of
// `spec`, as far as can be told without the worker's file system; "" when it may. A command
// whose argv[0] is a bare name or a relative path passes here: only the worker can resolve it.
// Thread-safe.
std::string WhyNotAccepted(const hpo::v1::RegisterWorkerRequest& policy,
                           const hpo::v1::StudySpec& spec);

}  // namespace hpo::core

#endif  // HPO_CORE_WORKER_POLICY_H_
