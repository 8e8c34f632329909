// Counts every RPC a gRPC server answers, by method and status code, and times it, into a
// Registry: hpo_rpc_total{method,code} and hpo_rpc_duration_seconds{method}.
#ifndef HPO_METRICS_GRPC_METRICS_H_
#define HPO_METRICS_GRPC_METRICS_H_

#include <memory>

#include "grpcpp/support/server_interceptor.h"
#include "metrics/registry.h"

namespace hpo::metrics {

// For ServerBuilder::experimental().SetInterceptorCreators. `registry` is not owned and must
// outlive the server. Thread-safe.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> RpcMetricsInterceptor(
    Registry* registry);

}  // namespace hpo::metrics

#endif  // HPO_METRICS_GRPC_METRICS_H_
