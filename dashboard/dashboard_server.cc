#include "dashboard/dashboard_server.h"

#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "client/format.h"
#include "dashboard/web_assets.h"
#include "httplib.h"
#include "importance/importance.h"
#include "metrics/http_server.h"
#include "nlohmann/json.hpp"

namespace hpo::dashboard {
namespace {

constexpr char kTokenCookie[] = "hpo_token";
constexpr int kThreads = 32;  // live streams hold one each
constexpr absl::Duration kPing = absl::Seconds(15);

int HttpStatus(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kInvalidArgument:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kFailedPrecondition:
      return 422;
    default:
      return 500;
  }
}

void Error(httplib::Response& res, int status, absl::string_view message) {
  res.status = status;
  res.set_content(nlohmann::json({{"error", std::string(message)}}).dump() + "\n",
                  "application/json");
}

void Error(httplib::Response& res, const absl::Status& s) {
  Error(res, HttpStatus(s), s.message());
}

void Json(httplib::Response& res, const nlohmann::json& j) {
  res.set_header("Cache-Control", "no-store");
  res.set_content(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n",
                  "application/json");
}

std::string ContentType(absl::string_view name) {
  if (absl::EndsWith(name, ".html")) return "text/html; charset=utf-8";
  if (absl::EndsWith(name, ".js")) return "text/javascript; charset=utf-8";
  if (absl::EndsWith(name, ".css")) return "text/css; charset=utf-8";
  return "application/octet-stream";
}

const WebAsset* Asset(absl::string_view name) {
  for (const WebAsset& a : WebAssets()) {
    if (name == a.name) return &a;
  }
  return nullptr;
}

// The token a request carries: the Authorization header, else the cookie, else ?token=.
std::string RequestToken(const httplib::Request& req) {
  const std::string authorization = req.get_header_value("Authorization");  // returned by value
  absl::string_view header = authorization;
  if (absl::ConsumePrefix(&header, "Bearer ")) return std::string(header);
  const std::string cookies = req.get_header_value("Cookie");
  for (absl::string_view part : absl::StrSplit(cookies, ';')) {
    part = absl::StripAsciiWhitespace(part);
    if (absl::ConsumePrefix(&part, kTokenCookie) && absl::ConsumePrefix(&part, "=")) {
      return std::string(part);
    }
  }
  return req.has_param("token") ? req.get_param_value("token") : "";
}

// Every trial of a study in `state` (UNSPECIFIED: all), in id order.
absl::StatusOr<std::vector<hpo::v1::Trial>> AllTrials(server::Coordinator& c,
                                                      const std::string& study,
                                                      hpo::v1::TrialState state) {
  std::vector<hpo::v1::Trial> out;
  std::string token;
  do {
    absl::StatusOr<server::Coordinator::TrialPage> page = c.ListTrials(study, state, 1000, token);
    if (!page.ok()) return page.status();
    for (hpo::v1::Trial& t : page->trials) out.push_back(std::move(t));
    token = page->next_page_token;
  } while (!token.empty());
  return out;
}

// Every trial of a study with its curve: the curves in one read of storage, not one per trial.
absl::StatusOr<std::vector<hpo::v1::Trial>> TrialsWithCurves(server::Coordinator& c,
                                                             const std::string& study) {
  absl::StatusOr<std::vector<hpo::v1::Trial>> trials =
      AllTrials(c, study, hpo::v1::TRIAL_STATE_UNSPECIFIED);
  if (!trials.ok()) return trials.status();
  auto curves = c.StudyCurves(study);
  if (!curves.ok()) return curves.status();
  for (hpo::v1::Trial& t : *trials) {
    auto m = curves->find(t.id());
    if (m == curves->end()) continue;
    for (hpo::v1::Measurement& one : m->second) *t.add_measurements() = std::move(one);
  }
  return trials;
}

nlohmann::json TrialWithCurve(const hpo::v1::Trial& t) {
  nlohmann::json j = client::TrialToJson(t);
  if (!j.contains("measurements")) j["measurements"] = nlohmann::json::array();
  return j;
}

std::string EventText(const hpo::v1::StudyEvent& e) {
  const std::string kind = hpo::v1::StudyEvent::Kind_Name(e.kind());
  nlohmann::json j = {{"kind", kind},
                      {"study", client::StudyToJson(e.study())},
                      {"trial", e.has_trial() ? client::TrialToJson(e.trial()) : nullptr}};
  // One line of JSON: an SSE data field ends at a newline.
  return absl::StrCat("event: ", kind,
                      "\ndata: ", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                      "\n\n");
}

}  // namespace

absl::StatusOr<std::unique_ptr<DashboardServer>> DashboardServer::Start(
    server::Coordinator* coordinator, DashboardOptions options) {
  absl::StatusOr<metrics::HostPort> address = metrics::ParseHostPort("--http", options.listen);
  if (!address.ok()) return address.status();
  std::unique_ptr<DashboardServer> s(new DashboardServer());
  s->coordinator_ = coordinator;
  s->options_ = std::move(options);
  s->server_ = std::make_unique<httplib::Server>();
  s->server_->new_task_queue = [] { return new httplib::ThreadPool(kThreads); };
  // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, which would let a second server
  // share the port instead of failing.
  s->server_->set_socket_options([](int sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  s->Route();
  if (address->port == 0) {
    s->port_ = s->server_->bind_to_any_port(address->host);
  } else if (s->server_->bind_to_port(address->host, address->port)) {
    s->port_ = address->port;
  }
  if (s->port_ <= 0) {
    return absl::UnavailableError(
        absl::StrCat("--http ", s->options_.listen, ": cannot listen there (address in use?)"));
  }
  s->thread_ = std::thread([srv = s->server_.get()] { srv->listen_after_bind(); });
  // stop() before the loop runs would be lost, and the destructor would wait forever.
  while (!s->server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return s;
}

DashboardServer::~DashboardServer() {
  stopping_.store(true);  // live streams notice within a second and end
  if (server_ != nullptr) server_->stop();
  if (thread_.joinable()) thread_.join();
}

void DashboardServer::Route() {
  httplib::Server& srv = *server_;
  server::Coordinator& c = *coordinator_;

  srv.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (!options_.authorize) return httplib::Server::HandlerResponse::Unhandled;
    const std::string token = RequestToken(req);
    // The pages, their script and style hold no data: they load without a token, so that a
    // refused one is explained on the page. Everything under /api/ needs one.
    if (!absl::StartsWith(req.path, "/api/") && !req.has_param("token")) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    if (absl::Status s = options_.authorize(token); !s.ok()) {
      Error(res, s.code() == absl::StatusCode::kPermissionDenied ? 403 : 401,
            absl::StrCat(s.message(), token.empty() ? " (open the page with ?token=TOKEN)" : ""));
      return httplib::Server::HandlerResponse::Handled;
    }
    if (req.has_param("token") && !absl::StartsWith(req.path, "/api/")) {
      // Keep the token in a cookie and drop it from the address bar (and from history).
      res.set_header("Set-Cookie",
                     absl::StrCat(kTokenCookie, "=", token, "; Path=/; HttpOnly; SameSite=Strict"));
      res.set_redirect(req.path);
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });

  auto page = [](const char* name) {
    return [name](const httplib::Request&, httplib::Response& res) {
      const WebAsset* a = Asset(name);
      if (a == nullptr) return Error(res, 404, absl::StrCat("no page ", name, " in this build"));
      res.set_content(std::string(a->body), ContentType(a->name));
    };
  };
  srv.Get("/", page("index.html"));
  srv.Get(R"(/study/([^/]+))", page("study.html"));
  srv.Get(R"(/static/(dashboard\.(js|css)))",
          [](const httplib::Request& req, httplib::Response& res) {
            const WebAsset* a = Asset(req.matches[1].str());
            if (a == nullptr) return Error(res, 404, "not in this build");
            res.set_content(std::string(a->body), ContentType(a->name));
          });
  srv.Get("/static/chart.js", [this](const httplib::Request&, httplib::Response& res) {
    std::ifstream in(options_.chart_js, std::ios::binary);
    if (!in) {
      return Error(res, 404,
                   absl::StrCat("cannot read ", options_.chart_js,
                                ": install Debian's libjs-chart.js (deploy/install-deps.sh)"));
    }
    std::ostringstream body;
    body << in.rdbuf();
    res.set_header("Cache-Control", "max-age=3600");
    res.set_content(body.str(), "text/javascript; charset=utf-8");
  });

  srv.Get("/api/studies", [&c](const httplib::Request&, httplib::Response& res) {
    nlohmann::json out = nlohmann::json::array();
    for (const hpo::v1::Study& s : c.ListStudies()) out.push_back(client::StudyToJson(s));
    Json(res, out);
  });
  srv.Get(R"(/api/studies/([^/]+))", [&c](const httplib::Request& req, httplib::Response& res) {
    absl::StatusOr<hpo::v1::Study> s = c.GetStudy(req.matches[1].str());
    if (!s.ok()) return Error(res, s.status());
    Json(res, client::StudyToJson(*s));
  });
  srv.Get(R"(/api/studies/([^/]+)/trials(\.csv|\.json)?)",
          [&c](const httplib::Request& req, httplib::Response& res) {
            const std::string name = req.matches[1].str();
            const std::string download = req.matches[2].str();
            absl::StatusOr<hpo::v1::Study> study = c.GetStudy(name);
            if (!study.ok()) return Error(res, study.status());
            absl::StatusOr<std::vector<hpo::v1::Trial>> trials = TrialsWithCurves(c, name);
            if (!trials.ok()) return Error(res, trials.status());
            if (download == ".csv") {
              res.set_header("Content-Disposition",
                             absl::StrCat("attachment; filename=\"", name, "-trials.csv\""));
              res.set_content(client::TrialsCsv(study->spec(), *trials), "text/csv; charset=utf-8");
              return;
            }
            nlohmann::json out = nlohmann::json::array();
            for (const hpo::v1::Trial& t : *trials) out.push_back(TrialWithCurve(t));
            if (download == ".json") {
              res.set_header("Content-Disposition",
                             absl::StrCat("attachment; filename=\"", name, "-trials.json\""));
            }
            Json(res, out);
          });
  srv.Get(R"(/api/studies/([^/]+)/importance)", [&c](const httplib::Request& req,
                                                     httplib::Response& res) {
    const std::string name = req.matches[1].str();
    absl::StatusOr<hpo::v1::Study> study = c.GetStudy(name);
    if (!study.ok()) return Error(res, study.status());
    absl::StatusOr<std::vector<hpo::v1::Trial>> all = AllTrials(c, name, hpo::v1::COMPLETED);
    if (!all.ok()) return Error(res, all.status());
    const std::vector<hpo::v1::Trial>& completed = *all;
    importance::ImportanceOptions options;
    absl::StatusOr<std::vector<importance::ParamImportance>> result =
        importance::ComputeImportance(study->spec(), completed, options);
    if (!result.ok()) return Error(res, 422, result.status().message());
    const int used = static_cast<int>(std::count_if(
        completed.begin(), completed.end(),
        [](const hpo::v1::Trial& t) { return t.has_value() && std::isfinite(t.value()); }));
    res.set_header("Cache-Control", "no-store");
    res.set_content(client::ImportanceJson(name, options.method, used, *result),
                    "application/json");
  });
  srv.Get(R"(/api/trials/(\d+))", [&c](const httplib::Request& req, httplib::Response& res) {
    int64_t id = 0;
    if (!absl::SimpleAtoi(req.matches[1].str(), &id)) return Error(res, 400, "bad trial id");
    absl::StatusOr<hpo::v1::Trial> t = c.GetTrial(id);
    if (!t.ok()) return Error(res, t.status());
    Json(res, TrialWithCurve(*t));
  });

  srv.Get(R"(/api/studies/([^/]+)/events)", [this, &c](const httplib::Request& req,
                                                       httplib::Response& res) {
    absl::StatusOr<std::shared_ptr<server::StudyWatch>> watch = c.Watch(req.matches[1].str());
    if (!watch.ok()) return Error(res, watch.status());
    res.set_header("Cache-Control", "no-store");
    std::shared_ptr<server::StudyWatch> w = *std::move(watch);
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, w](size_t, httplib::DataSink& sink) {
          absl::Time last_write = absl::Now();
          hpo::v1::StudyEvent event;
          while (!stopping_.load()) {
            if (w->Next(&event, absl::Now() + absl::Seconds(1))) {
              const std::string text = EventText(event);
              if (!sink.write(text.data(), text.size())) return false;
              last_write = absl::Now();
              if (event.kind() == hpo::v1::StudyEvent::STUDY_ENDED) break;
              continue;
            }
            if (w->closed() || !sink.is_writable()) break;
            if (absl::Now() - last_write >= kPing) {
              static constexpr char kComment[] = ": ping\n\n";
              if (!sink.write(kComment, sizeof(kComment) - 1)) return false;
              last_write = absl::Now();
            }
          }
          sink.done();
          return true;
        },
        [w](bool) { w->Close(); });
  });
}

}  // namespace hpo::dashboard
