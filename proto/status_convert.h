// The one place where absl::Status and grpc::Status meet (both directions). Pure, thread-safe.
#ifndef HPO_PROTO_STATUS_CONVERT_H_
#define HPO_PROTO_STATUS_CONVERT_H_

#include <string>

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace hpo::rpc {

grpc::Status ToGrpcStatus(const absl::Status& status);

// A gRPC failure as an absl::Status. UNAVAILABLE and DEADLINE_EXCEEDED keep their codes, so
// callers can retry them; `target` (an address) is named in UNAVAILABLE messages.
absl::Status FromGrpcStatus(const grpc::Status& status, const std::string& target = "");

}  // namespace hpo::rpc

#endif  // HPO_PROTO_STATUS_CONVERT_H_
