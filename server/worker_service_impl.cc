#include "server/worker_service_impl.h"

#include <algorithm>

#include "absl/time/clock.h"
#include "grpcpp/support/time.h"
#include "proto/status_convert.h"
#include "server/grpc_reply.h"

namespace hpo::server {

grpc::Status WorkerServiceImpl::RegisterWorker(grpc::ServerContext* context,
                                               const hpo::v1::RegisterWorkerRequest* request,
                                               hpo::v1::RegisterWorkerResponse* response) {
  HPO_RPC_AUTHORIZE(context, auth::Service::kWorker);
  return Reply(coordinator_->RegisterWorker(*request), response);
}

grpc::Status WorkerServiceImpl::AcquireTrial(grpc::ServerContext* context,
                                             const hpo::v1::AcquireTrialRequest* request,
                                             hpo::v1::AcquireTrialResponse* response) {
  HPO_RPC_AUTHORIZE(context, auth::Service::kWorker);
  absl::Duration wait = std::min(absl::Milliseconds(request->wait_ms()), kMaxAcquireWait);
  // Answer a little before the caller's own deadline, so the answer is not lost to it.
  const absl::Time rpc_deadline = absl::FromChrono(context->deadline());
  const absl::Duration left = rpc_deadline - absl::Now() - absl::Milliseconds(200);
  wait = std::max(absl::ZeroDuration(), std::min(wait, left));
  auto acquired = coordinator_->AcquireTrial(request->worker_id(), wait);
  if (acquired.ok() && acquired->found() && context->IsCancelled()) {
    // The worker gave up waiting; it will never see this lease. Put the trial back.
    hpo::v1::ReleaseTrialRequest release;
    release.set_worker_id(request->worker_id());
    release.set_trial_id(acquired->trial().id());
    release.set_reason("the AcquireTrial call was cancelled");
    (void)coordinator_->ReleaseTrial(release);
    return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled by the caller");
  }
  return Reply(std::move(acquired), response);
}

grpc::Status WorkerServiceImpl::ReportProgress(grpc::ServerContext* context,
                                               const hpo::v1::ReportProgressRequest* request,
                                               hpo::v1::ReportProgressResponse* response) {
  HPO_RPC_AUTHORIZE(context, auth::Service::kWorker);
  return Reply(coordinator_->ReportProgress(*request), response);
}

grpc::Status WorkerServiceImpl::CompleteTrial(grpc::ServerContext* context,
                                              const hpo::v1::CompleteTrialRequest* request,
                                              hpo::v1::Trial* response) {
  HPO_RPC_AUTHORIZE(context, auth::Service::kWorker);
  return Reply(coordinator_->CompleteTrial(*request), response);
}

grpc::Status WorkerServiceImpl::ReleaseTrial(grpc::ServerContext* context,
                                             const hpo::v1::ReleaseTrialRequest* request,
                                             hpo::v1::Trial* response) {
  HPO_RPC_AUTHORIZE(context, auth::Service::kWorker);
  return Reply(coordinator_->ReleaseTrial(*request), response);
}

grpc::Status WorkerServiceImpl::Heartbeat(grpc::ServerContext* context,
                                          const hpo::v1::HeartbeatRequest* request,
                                          hpo::v1::HeartbeatResponse* response) {
  HPO_RPC_AUTHORIZE(context, auth::Service::kWorker);
  return Reply(coordinator_->Heartbeat(*request), response);
}

}  // namespace hpo::server
