// The shared head and tail of every gRPC adapter method.
#ifndef HPO_SERVER_GRPC_REPLY_H_
#define HPO_SERVER_GRPC_REPLY_H_

#include <utility>

#include "absl/status/statusor.h"
#include "grpcpp/support/status.h"
#include "proto/status_convert.h"

namespace hpo::server {

// Moves a StatusOr's value into the response, or converts its error. Thread-safe.
template <typename T>
grpc::Status Reply(absl::StatusOr<T> result, T* response) {
  if (!result.ok()) return rpc::ToGrpcStatus(result.status());
  *response = std::move(result).value();
  return grpc::Status::OK;
}

}  // namespace hpo::server

// The first line of every handler: returns the call's authentication or permission failure
// (auth::CallAuthenticator::Check against `service`) before the handler does anything.
#define HPO_RPC_AUTHORIZE(context, service)                                        \
  if (grpc::Status hpo_auth_status = authenticator_->Check(*(context), (service)); \
      !hpo_auth_status.ok())                                                       \
  return hpo_auth_status

#endif  // HPO_SERVER_GRPC_REPLY_H_
