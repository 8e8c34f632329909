// What the CLI and the bench harness talk to: a coordinator over gRPC, or an embedded one over a
// SQLite file.
#ifndef HPO_BACKEND_BACKEND_H_
#define HPO_BACKEND_BACKEND_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "auth/grpc_security.h"
#include "hpo/v1/hpo.pb.h"
#include "server/coordinator.h"
#include "storage/db_lock.h"
#include "storage/storage.h"

namespace hpo::backend {

// The StudyService calls, whatever carries them. Implementations are thread-safe.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual absl::StatusOr<hpo::v1::Study> CreateStudy(const hpo::v1::StudySpec& spec) = 0;
  virtual absl::StatusOr<hpo::v1::Study> GetStudy(const std::string& name) = 0;
  virtual absl::StatusOr<hpo::v1::ListStudiesResponse> ListStudies() = 0;
  virtual absl::StatusOr<hpo::v1::Study> StopStudy(const std::string& name) = 0;
  virtual absl::StatusOr<hpo::v1::ListTrialsResponse> ListTrials(
      const hpo::v1::ListTrialsRequest& request) = 0;
  virtual absl::StatusOr<hpo::v1::Trial> GetTrial(int64_t trial_id) = 0;
  virtual absl::StatusOr<hpo::v1::Trial> EnqueueTrial(const std::string& study,
                                                      const hpo::v1::ParamMap& params) = 0;
  virtual absl::StatusOr<hpo::v1::Trial> GetBestTrial(const std::string& study) = 0;
  virtual absl::StatusOr<hpo::v1::DeleteStudyResponse> DeleteStudy(const std::string& name) = 0;
  virtual absl::StatusOr<hpo::v1::Study> ExtendStudy(const std::string& name, int max_trials) = 0;
  virtual absl::StatusOr<hpo::v1::Trial> AddTrial(const hpo::v1::AddTrialRequest& request) = 0;
  // The optimizers the coordinator runs, with their implementation revisions.
  virtual absl::StatusOr<hpo::v1::ServerInfo> GetServerInfo() = 0;
  // Calls `on_event` for each event until the study ends (OK), `on_event` returns false (OK),
  // or the stream breaks (its error).
  virtual absl::Status Watch(const std::string& study,
                             const std::function<bool(const hpo::v1::StudyEvent&)>& on_event) = 0;

  // Every trial of a study (all pages), optionally of one state (TRIAL_STATE_UNSPECIFIED: all).
  absl::StatusOr<std::vector<hpo::v1::Trial>> AllTrials(const std::string& study,
                                                        hpo::v1::TrialState state);
};

// A coordinator at `address` (host:port), reached with `security` (its token and TLS files).
// UNAVAILABLE naming the address when it cannot be reached within `connect_timeout`.
absl::StatusOr<std::unique_ptr<Backend>> ConnectGrpc(const std::string& address,
                                                     const auth::ClientSecurity& security,
                                                     absl::Duration connect_timeout);

// Asks the standard gRPC health service (grpc.health.v1.Health/Check, no token needed) at
// `address` whether the server is SERVING: OK when it is, UNAVAILABLE naming what it said, or
// the call's error, within `timeout`. What a readiness probe runs (`hpo health`).
absl::Status CheckHealth(const std::string& address, const auth::ClientSecurity& security,
                         absl::Duration timeout);

// An embedded coordinator over a SQLite file, no server needed. NOT_FOUND when the file does not
// exist and `create` is false.
absl::StatusOr<std::unique_ptr<Backend>> OpenLocal(const std::string& db_path, bool create);

// What OpenLocal runs on: a Coordinator over the file (no reaper, curves read from the file),
// holding the file's owner lock when it is free. Thread-safe (the coordinator is).
struct LocalCoordinator {
  ~LocalCoordinator();                    // the coordinator goes first
  std::unique_ptr<storage::DbLock> lock;  // null when another process owns the file
  absl::Status read_only;                 // OK when writes are allowed
  std::unique_ptr<storage::Storage> storage;
  std::unique_ptr<server::Coordinator> coordinator;
};
absl::StatusOr<std::unique_ptr<LocalCoordinator>> OpenLocalCoordinator(const std::string& db_path,
                                                                       bool create);

}  // namespace hpo::backend

#endif  // HPO_BACKEND_BACKEND_H_
