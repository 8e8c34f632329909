#include "metrics/grpc_metrics.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

namespace hpo::metrics {
namespace {

absl::string_view CodeName(grpc::StatusCode code) {
  static constexpr absl::string_view kNames[] = {"OK",
                                                 "CANCELLED",
                                                 "UNKNOWN",
                                                 "INVALID_ARGUMENT",
                                                 "DEADLINE_EXCEEDED",
                                                 "NOT_FOUND",
                                                 "ALREADY_EXISTS",
                                                 "PERMISSION_DENIED",
                                                 "RESOURCE_EXHAUSTED",
                                                 "FAILED_PRECONDITION",
                                                 "ABORTED",
                                                 "OUT_OF_RANGE",
                                                 "UNIMPLEMENTED",
                                                 "INTERNAL",
                                                 "UNAVAILABLE",
                                                 "DATA_LOSS",
                                                 "UNAUTHENTICATED"};
  const int i = static_cast<int>(code);
  return i >= 0 && i < static_cast<int>(std::size(kNames)) ? kNames[i] : "UNKNOWN";
}

class Interceptor final : public grpc::experimental::Interceptor {
 public:
  Interceptor(absl::string_view method, Registry* registry)
      : method_(method), registry_(registry), start_(absl::Now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      const grpc::Status status = methods->GetSendStatus();
      registry_->Add("hpo_rpc_total",
                     {{"method", method_}, {"code", std::string(CodeName(status.error_code()))}});
      registry_->Observe("hpo_rpc_duration_seconds", {{"method", method_}},
                         absl::ToDoubleSeconds(absl::Now() - start_));
    }
    methods->Proceed();
  }

 private:
  const std::string method_;
  Registry* const registry_;
  const absl::Time start_;
};

class Factory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit Factory(Registry* registry) : registry_(registry) {
    registry_->Describe("hpo_rpc_total", "counter", "RPCs answered, by method and status code");
    registry_->Describe("hpo_rpc_duration_seconds", "histogram",
                        "time from a call's arrival to its status, by method");
  }
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    absl::string_view method = info->method() != nullptr ? info->method() : "";
    absl::ConsumePrefix(&method, "/");
    absl::ConsumePrefix(&method, "hpo.v1.");
    return new Interceptor(method, registry_);
  }

 private:
  Registry* const registry_;
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> RpcMetricsInterceptor(
    Registry* registry) {
  return std::make_unique<Factory>(registry);
}

}  // namespace hpo::metrics
