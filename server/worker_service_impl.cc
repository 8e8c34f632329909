#include "server/worker_service_impl.h"

#include <algorithm>

#include "absl/time/clock.h"
#include "grpcpp/support/time.h"
#include "proto/status_convert.h"

namespace hpo::server {
namespace {

template <typename T>
grpc::Status Reply(absl::StatusOr<T> result, T* response) {
  if (!result.ok()) return rpc::ToGrpcStatus(result.status());
  *response = std::move(result).value();
  return grpc::Status::OK;
}

}  // namespace

grpc::Status WorkerServiceImpl::RegisterWorker(grpc::ServerContext*,
                                               const hpo::v1::RegisterWorkerRequest* request,
                                               hpo::v1::RegisterWorkerResponse* response) {
  return Reply(coordinator_->RegisterWorker(*request), response);
}

grpc::Status WorkerServiceImpl::AcquireTrial(grpc::ServerContext* context,
                                             const hpo::v1::AcquireTrialRequest* request,
                                             hpo::v1::AcquireTrialResponse* response) {
  absl::Duration wait = std::min(absl::Milliseconds(request->wait_ms()), kMaxAcquireWait);
  // Answer a little before the caller's own deadline, so the answer is not lost to it.
  const absl::Time rpc_deadline = absl::FromChrono(context->deadline());
  const absl::Duration left = rpc_deadline - absl::Now() - absl::Milliseconds(200);
  wait = std::max(absl::ZeroDuration(), std::min(wait, left));
  return Reply(coordinator_->AcquireTrial(request->worker_id(), wait), response);
}

grpc::Status WorkerServiceImpl::ReportProgress(grpc::ServerContext*,
                                               const hpo::v1::ReportProgressRequest* request,
                                               hpo::v1::ReportProgressResponse* response) {
  return Reply(coordinator_->ReportProgress(*request), response);
}

grpc::Status WorkerServiceImpl::CompleteTrial(grpc::ServerContext*,
                                              const hpo::v1::CompleteTrialRequest* request,
                                              hpo::v1::Trial* response) {
  return Reply(coordinator_->CompleteTrial(*request), response);
}

grpc::Status WorkerServiceImpl::Heartbeat(grpc::ServerContext*,
                                          const hpo::v1::HeartbeatRequest* request,
                                          hpo::v1::HeartbeatResponse* response) {
  return Reply(coordinator_->Heartbeat(*request), response);
}

}  // namespace hpo::server
