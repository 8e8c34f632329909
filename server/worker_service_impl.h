#ifndef HPO_SERVER_WORKER_SERVICE_IMPL_H_
#define HPO_SERVER_WORKER_SERVICE_IMPL_H_

#include "auth/grpc_security.h"
#include "hpo/v1/hpo.grpc.pb.h"
#include "server/coordinator.h"

namespace hpo::server {

// Thin gRPC adapter over the Coordinator's worker calls. Thread-safe.
class WorkerServiceImpl final : public hpo::v1::WorkerService::Service {
 public:
  // A long poll never waits longer than this, whatever the worker asks.
  static constexpr absl::Duration kMaxAcquireWait = absl::Seconds(30);

  explicit WorkerServiceImpl(Coordinator* coordinator, const auth::CallAuthenticator* authenticator)
      : coordinator_(coordinator), authenticator_(authenticator) {}

  grpc::Status RegisterWorker(grpc::ServerContext*, const hpo::v1::RegisterWorkerRequest* request,
                              hpo::v1::RegisterWorkerResponse* response) override;
  grpc::Status AcquireTrial(grpc::ServerContext* context,
                            const hpo::v1::AcquireTrialRequest* request,
                            hpo::v1::AcquireTrialResponse* response) override;
  grpc::Status ReportProgress(grpc::ServerContext*, const hpo::v1::ReportProgressRequest* request,
                              hpo::v1::ReportProgressResponse* response) override;
  grpc::Status CompleteTrial(grpc::ServerContext*, const hpo::v1::CompleteTrialRequest* request,
                             hpo::v1::Trial* response) override;
  grpc::Status ReleaseTrial(grpc::ServerContext*, const hpo::v1::ReleaseTrialRequest* request,
                            hpo::v1::Trial* response) override;
  grpc::Status Heartbeat(grpc::ServerContext*, const hpo::v1::HeartbeatRequest* request,
                         hpo::v1::HeartbeatResponse* response) override;

 private:
  Coordinator* const coordinator_;
  const auth::CallAuthenticator* const authenticator_;
};

}  // namespace hpo::server

#endif  // HPO_SERVER_WORKER_SERVICE_IMPL_H_
