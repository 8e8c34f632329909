#include "proto/status_convert.h"

#include "absl/strings/str_cat.h"

namespace hpo::rpc {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

absl::Status FromGrpcStatus(const grpc::Status& status, const std::string& target) {
  if (status.ok()) return absl::OkStatus();
  const auto code = static_cast<absl::StatusCode>(status.error_code());
  if (code == absl::StatusCode::kUnavailable && !target.empty()) {
    return absl::UnavailableError(
        absl::StrCat("cannot reach coordinator at ", target, ": ", status.error_message()));
  }
  return absl::Status(code, status.error_message());
}

}  // namespace hpo::rpc
