// The HTTP side of a daemon: GET /metrics (Prometheus text) and GET /healthz, beside its gRPC.
#ifndef HPO_METRICS_HTTP_SERVER_H_
#define HPO_METRICS_HTTP_SERVER_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "metrics/registry.h"

namespace httplib {
class Server;
}  // namespace httplib

namespace hpo::metrics {

// An HTTP listen address as the daemons' flags take it: host:port or [v6]:port, port 0 picking
// one, an empty host meaning every interface. INVALID_ARGUMENT naming `flag` otherwise.
struct HostPort {
  std::string host;
  int port = 0;
};
absl::StatusOr<HostPort> ParseHostPort(absl::string_view flag, const std::string& listen);

// Thread-safe.
class MetricsServer {
 public:
  // Serves `registry` (not owned; must outlive the server) on `listen` (host:port, port 0
  // picks one; [v6]:port). /healthz answers 200 "ok" while `health` returns OK (or when it is
  // empty), 503 with its message otherwise. INVALID_ARGUMENT for a malformed address,
  // UNAVAILABLE when it cannot be bound.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(const std::string& listen,
                                                              Registry* registry,
                                                              std::function<absl::Status()> health);
  ~MetricsServer();  // stops serving

  int port() const { return port_; }

 private:
  MetricsServer() = default;

  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace hpo::metrics

#endif  // HPO_METRICS_HTTP_SERVER_H_
