// The sizes hpo accepts, in one place: what a request, a study and a trial may hold. Beyond
// them a request is refused with an error that names the limit (INVALID_ARGUMENT, or
// RESOURCE_EXHAUSTED for what grows while a trial runs), never a crash or a stuck trial.
#ifndef HPO_CORE_LIMITS_H_
#define HPO_CORE_LIMITS_H_

#include <cstddef>

namespace hpo::core {

// One gRPC request (the coordinator refuses larger ones with RESOURCE_EXHAUSTED).
inline constexpr int kMaxRequestBytes = 4 << 20;
// Study, parameter and metric names, worker ids.
inline constexpr size_t kMaxNameLength = 128;
// A search space's parameters, and one categorical parameter's choices.
inline constexpr int kMaxParams = 1000;
inline constexpr int kMaxChoices = 10000;
// A command task's arguments (each at most kMaxArgBytes) and environment entries.
inline constexpr int kMaxArgs = 1000;
inline constexpr size_t kMaxArgBytes = 64 << 10;
inline constexpr int kMaxEnv = 1000;
// A path in a study (task.trial_dir_root): Linux's PATH_MAX.
inline constexpr size_t kMaxPathBytes = 4096;
// Metrics in one measurement, and measurements kept per trial (one per reported step).
inline constexpr int kMaxMetricsPerMeasurement = 100;
inline constexpr int kMaxMeasurementsPerTrial = 100000;
// One line of a trial's output (a metric line or a log line); a longer one is cut there.
inline constexpr size_t kMaxOutputLineBytes = 1 << 20;
// What a worker may list when it registers (command prefixes, studies).
inline constexpr int kMaxPolicyEntries = 1000;
// GPUs named in one trial's GPU use (each name at most kMaxNameLength).
inline constexpr int kMaxGpuDevices = 64;

}  // namespace hpo::core

#endif  // HPO_CORE_LIMITS_H_
