// libFuzzer target: every call the coordinator's RPC handlers make, fed arbitrary requests. An
// input is a method name on its first line and the request in protobuf text format after it;
// one coordinator (on an in-memory SQLite database) lives across inputs, so that sequences of
// calls reach deep states. Every request must end in an answer or an error, never a crash.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/clock.h"
#include "core/logging.h"
#include "google/protobuf/text_format.h"
#include "server/coordinator.h"
#include "storage/sqlite_storage.h"

namespace {

struct State {
  std::unique_ptr<hpo::storage::SqliteStorage> storage;
  std::unique_ptr<hpo::server::Coordinator> coordinator;
  hpo::core::FakeClock clock;
};

State* Get() {
  static State* state = [] {
    hpo::core::SetMinLogLevel(hpo::core::LogLevel::kError);
    auto* s = new State();
    hpo::storage::SqliteStorage::Options options;
    options.path = ":memory:";
    s->storage = std::move(hpo::storage::SqliteStorage::Create(options)).value();
    hpo::server::CoordinatorOptions c;
    c.clock = &s->clock;
    c.lease_timeout = absl::Seconds(10);
    s->coordinator = std::move(hpo::server::Coordinator::Create(s->storage.get(), c)).value();
    return s;
  }();
  return state;
}

template <typename Request>
bool Parse(absl::string_view text, Request* request) {
  return google::protobuf::TextFormat::ParseFromString(std::string(text), request);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t newline = input.find('\n');
  const absl::string_view method = input.substr(0, newline);
  const absl::string_view body =
      newline == absl::string_view::npos ? "" : input.substr(newline + 1);
  State* s = Get();
  hpo::server::Coordinator& c = *s->coordinator;
  if (method == "CreateStudy") {
    hpo::v1::CreateStudyRequest r;
    if (Parse(body, &r)) (void)c.CreateStudy(r.spec());
  } else if (method == "GetStudy") {
    hpo::v1::GetStudyRequest r;
    if (Parse(body, &r)) (void)c.GetStudy(r.name());
  } else if (method == "ListStudies") {
    (void)c.ListStudies();
  } else if (method == "StopStudy") {
    hpo::v1::StopStudyRequest r;
    if (Parse(body, &r)) (void)c.StopStudy(r.name());
  } else if (method == "ListTrials") {
    hpo::v1::ListTrialsRequest r;
    if (Parse(body, &r)) {
      (void)c.ListTrials(r.study_name(), r.state(), r.page_size(), r.page_token());
    }
  } else if (method == "GetTrial") {
    hpo::v1::GetTrialRequest r;
    if (Parse(body, &r)) (void)c.GetTrial(r.trial_id());
  } else if (method == "EnqueueTrial") {
    hpo::v1::EnqueueTrialRequest r;
    if (Parse(body, &r)) (void)c.EnqueueTrial(r.study_name(), r.params());
  } else if (method == "GetBestTrial") {
    hpo::v1::GetBestTrialRequest r;
    if (Parse(body, &r)) (void)c.GetBestTrial(r.study_name());
  } else if (method == "RegisterWorker") {
    hpo::v1::RegisterWorkerRequest r;
    if (Parse(body, &r)) (void)c.RegisterWorker(r);
  } else if (method == "AcquireTrial") {
    hpo::v1::AcquireTrialRequest r;
    if (Parse(body, &r)) (void)c.AcquireTrial(r.worker_id(), absl::ZeroDuration());
  } else if (method == "ReportProgress") {
    hpo::v1::ReportProgressRequest r;
    if (Parse(body, &r)) (void)c.ReportProgress(r);
  } else if (method == "AskTrial") {
    hpo::v1::AskTrialRequest r;
    if (Parse(body, &r)) (void)c.AskTrial(r);
  } else if (method == "DeleteStudy") {
    hpo::v1::DeleteStudyRequest r;
    if (Parse(body, &r)) (void)c.DeleteStudy(r.name());
  } else if (method == "ExtendStudy") {
    hpo::v1::ExtendStudyRequest r;
    if (Parse(body, &r)) (void)c.ExtendStudy(r.name(), r.max_trials());
  } else if (method == "AddTrial") {
    hpo::v1::AddTrialRequest r;
    if (Parse(body, &r)) (void)c.AddTrial(r);
  } else if (method == "TellTrial") {
    hpo::v1::CompleteTrialRequest r;
    if (Parse(body, &r)) (void)c.TellTrial(r);
  } else if (method == "CompleteTrial") {
    hpo::v1::CompleteTrialRequest r;
    if (Parse(body, &r)) (void)c.CompleteTrial(r);
  } else if (method == "ReleaseTrial") {
    hpo::v1::ReleaseTrialRequest r;
    if (Parse(body, &r)) (void)c.ReleaseTrial(r);
  } else if (method == "Heartbeat") {
    hpo::v1::HeartbeatRequest r;
    if (Parse(body, &r)) (void)c.Heartbeat(r);
  } else if (method == "Advance") {  // time passes: leases expire
    s->clock.Advance(absl::Seconds(11));
    (void)c.ExpireLeases();
  }
  return 0;
}
