// The shared tail of every unary gRPC adapter method.
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

#endif  // HPO_SERVER_GRPC_REPLY_H_
