#include "metrics/http_server.h"

#include <sys/socket.h>

#include <chrono>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "httplib.h"

namespace hpo::metrics {

absl::StatusOr<HostPort> ParseHostPort(absl::string_view flag, const std::string& listen) {
  const size_t colon = listen.rfind(':');
  HostPort out;
  out.port = -1;
  if (colon == std::string::npos || !absl::SimpleAtoi(listen.substr(colon + 1), &out.port) ||
      out.port < 0 || out.port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " ", listen, ": expected HOST:PORT, e.g. 127.0.0.1:9464"));
  }
  out.host = listen.substr(0, colon);
  if (out.host.size() >= 2 && out.host.front() == '[' && out.host.back() == ']') {
    out.host = out.host.substr(1, out.host.size() - 2);
  }
  if (out.host.empty()) out.host = "0.0.0.0";
  return out;
}

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const std::string& listen, Registry* registry, std::function<absl::Status()> health) {
  absl::StatusOr<HostPort> address = ParseHostPort("--metrics-listen", listen);
  if (!address.ok()) return address.status();
  const std::string& host = address->host;
  const int port = address->port;

  std::unique_ptr<MetricsServer> s(new MetricsServer());
  s->server_ = std::make_unique<httplib::Server>();
  // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, which would let a second daemon
  // share the port instead of failing.
  s->server_->set_socket_options([](int sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  s->server_->Get("/metrics", [registry](const httplib::Request&, httplib::Response& response) {
    response.set_content(registry->Render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  s->server_->Get("/healthz", [health](const httplib::Request&, httplib::Response& response) {
    const absl::Status status = health ? health() : absl::OkStatus();
    response.status = status.ok() ? 200 : 503;
    response.set_content(status.ok() ? std::string("ok\n") : absl::StrCat(status.message(), "\n"),
                         "text/plain");
  });
  if (port == 0) {
    s->port_ = s->server_->bind_to_any_port(host);
  } else if (s->server_->bind_to_port(host, port)) {
    s->port_ = port;
  }
  if (s->port_ <= 0) {
    return absl::UnavailableError(
        absl::StrCat("--metrics-listen ", listen, ": cannot listen there (address in use?)"));
  }
  s->thread_ = std::thread([srv = s->server_.get()] { srv->listen_after_bind(); });
  // stop() before the loop runs would be lost, and the destructor would wait forever.
  while (!s->server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return s;
}

MetricsServer::~MetricsServer() {
  if (server_ != nullptr) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace hpo::metrics
