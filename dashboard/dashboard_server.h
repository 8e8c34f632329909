// The web dashboard: an HTTP server beside the coordinator's gRPC. It serves a JSON API over a
// Coordinator (studies, trials with their curves, parameter importance, CSV and JSON downloads),
// the studies' live events as server-sent events, and the pages of dashboard/web.
//
// Routes (GET only):
//   /                                 the studies page          /study/NAME   a study's page
//   /static/dashboard.js, .css        the pages' script, style  /static/chart.js  Chart.js
//   /api/studies                      every study (the CLI's --format json objects)
//   /api/studies/NAME                 one study
//   /api/studies/NAME/trials          its trials, each with "measurements" (its curve)
//   /api/studies/NAME/trials.csv      download: `hpo trials NAME --format csv`
//   /api/studies/NAME/trials.json     download: the trials as JSON, curves included
//   /api/studies/NAME/importance      {study, method, trials, importance: [{param, importance}]}
//                                     or 422 {error} while too few trials have completed
//   /api/studies/NAME/events          text/event-stream: SNAPSHOT, TRIAL_UPDATED,
//                                     STUDY_UPDATED, STUDY_ENDED (then the stream ends); each
//                                     data line {kind, study, trial (no curve, or null)}
//   /api/trials/ID                    one trial with its curve
// Errors are JSON {"error": MESSAGE} with 400, 401, 403, 404 or 422. With tokens, every /api/
// route needs one; the pages and static files (no data in them) do not.
#ifndef HPO_DASHBOARD_DASHBOARD_SERVER_H_
#define HPO_DASHBOARD_DASHBOARD_SERVER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/coordinator.h"

namespace httplib {
class Server;
}  // namespace httplib

namespace hpo::dashboard {

struct DashboardOptions {
  // host:port (port 0 picks one). Loopback unless the caller checked otherwise.
  std::string listen = "127.0.0.1:8080";
  // Decides whether a bearer token may read studies; empty: everyone may (no tokens configured).
  // A browser sends the token once as ?token=T on a page's URL: the page sets it as a cookie
  // (HttpOnly, SameSite=Strict) and later requests carry it.
  std::function<absl::Status(absl::string_view token)> authorize;
  // Chart.js, as Debian's libjs-chart.js installs it.
  std::string chart_js = "/usr/share/javascript/chart.js/chart.min.js";
};

// Thread-safe. Serves until destroyed; `coordinator` must outlive it.
class DashboardServer {
 public:
  // INVALID_ARGUMENT for a malformed address, UNAVAILABLE when it cannot be bound.
  static absl::StatusOr<std::unique_ptr<DashboardServer>> Start(server::Coordinator* coordinator,
                                                                DashboardOptions options);
  ~DashboardServer();  // ends live streams, then stops serving

  int port() const { return port_; }

 private:
  DashboardServer() = default;
  void Route();

  server::Coordinator* coordinator_ = nullptr;
  DashboardOptions options_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
};

}  // namespace hpo::dashboard

#endif  // HPO_DASHBOARD_DASHBOARD_SERVER_H_
