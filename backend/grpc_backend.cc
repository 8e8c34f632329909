// Backend over a coordinator's StudyService.
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "backend/backend.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/time.h"
#include "hpo/v1/hpo.grpc.pb.h"
#include "proto/status_convert.h"

namespace hpo::backend {
namespace {

constexpr absl::Duration kCallTimeout = absl::Seconds(30);

// Thread-safe: gRPC stubs are.
class GrpcBackend final : public Backend {
 public:
  GrpcBackend(std::string address, std::shared_ptr<grpc::Channel> channel)
      : address_(std::move(address)), stub_(hpo::v1::StudyService::NewStub(channel)) {}

  absl::StatusOr<hpo::v1::Study> CreateStudy(const hpo::v1::StudySpec& spec) override {
    hpo::v1::CreateStudyRequest req;
    *req.mutable_spec() = spec;
    return Call(&Stub::CreateStudy, req, hpo::v1::Study());
  }
  absl::StatusOr<hpo::v1::Study> GetStudy(const std::string& name) override {
    hpo::v1::GetStudyRequest req;
    req.set_name(name);
    return Call(&Stub::GetStudy, req, hpo::v1::Study());
  }
  absl::StatusOr<hpo::v1::ListStudiesResponse> ListStudies() override {
    return Call(&Stub::ListStudies, hpo::v1::ListStudiesRequest(), hpo::v1::ListStudiesResponse());
  }
  absl::StatusOr<hpo::v1::Study> StopStudy(const std::string& name) override {
    hpo::v1::StopStudyRequest req;
    req.set_name(name);
    return Call(&Stub::StopStudy, req, hpo::v1::Study());
  }
  absl::StatusOr<hpo::v1::ListTrialsResponse> ListTrials(
      const hpo::v1::ListTrialsRequest& request) override {
    return Call(&Stub::ListTrials, request, hpo::v1::ListTrialsResponse());
  }
  absl::StatusOr<hpo::v1::Trial> GetTrial(int64_t trial_id) override {
    hpo::v1::GetTrialRequest req;
    req.set_trial_id(trial_id);
    return Call(&Stub::GetTrial, req, hpo::v1::Trial());
  }
  absl::StatusOr<hpo::v1::Trial> EnqueueTrial(const std::string& study,
                                              const hpo::v1::ParamMap& params) override {
    hpo::v1::EnqueueTrialRequest req;
    req.set_study_name(study);
    *req.mutable_params() = params;
    return Call(&Stub::EnqueueTrial, req, hpo::v1::Trial());
  }
  absl::StatusOr<hpo::v1::Trial> GetBestTrial(const std::string& study) override {
    hpo::v1::GetBestTrialRequest req;
    req.set_study_name(study);
    return Call(&Stub::GetBestTrial, req, hpo::v1::Trial());
  }
  absl::StatusOr<hpo::v1::DeleteStudyResponse> DeleteStudy(const std::string& name) override {
    hpo::v1::DeleteStudyRequest req;
    req.set_name(name);
    return Call(&Stub::DeleteStudy, req, hpo::v1::DeleteStudyResponse());
  }
  absl::StatusOr<hpo::v1::Study> ExtendStudy(const std::string& name, int max_trials) override {
    hpo::v1::ExtendStudyRequest req;
    req.set_name(name);
    req.set_max_trials(max_trials);
    return Call(&Stub::ExtendStudy, req, hpo::v1::Study());
  }
  absl::StatusOr<hpo::v1::Trial> AddTrial(const hpo::v1::AddTrialRequest& request) override {
    return Call(&Stub::AddTrial, request, hpo::v1::Trial());
  }
  absl::StatusOr<hpo::v1::ServerInfo> GetServerInfo() override {
    return Call(&Stub::GetServerInfo, hpo::v1::GetServerInfoRequest(), hpo::v1::ServerInfo());
  }
  absl::Status Watch(const std::string& study,
                     const std::function<bool(const hpo::v1::StudyEvent&)>& on_event) override {
    grpc::ClientContext context;
    hpo::v1::WatchStudyRequest req;
    req.set_study_name(study);
    auto reader = stub_->WatchStudy(&context, req);
    hpo::v1::StudyEvent event;
    while (reader->Read(&event)) {
      if (!on_event(event)) {
        context.TryCancel();
        reader->Finish();
        return absl::OkStatus();
      }
    }
    return rpc::FromGrpcStatus(reader->Finish(), address_);
  }

 private:
  using Stub = hpo::v1::StudyService::Stub;

  template <typename Req, typename Resp>
  absl::StatusOr<Resp> Call(grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, Resp*),
                            const Req& request, Resp response) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kCallTimeout));
    grpc::Status s = (stub_.get()->*method)(&context, request, &response);
    if (!s.ok()) return rpc::FromGrpcStatus(s, address_);
    return response;
  }

  const std::string address_;
  std::unique_ptr<Stub> stub_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Backend>> ConnectGrpc(const std::string& address,
                                                     const auth::ClientSecurity& security,
                                                     absl::Duration connect_timeout) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = auth::Connect(address, security);
  if (!channel.ok()) return channel.status();
  if (!(*channel)->WaitForConnected(absl::ToChronoTime(absl::Now() + connect_timeout))) {
    return absl::UnavailableError(absl::StrCat(
        "cannot reach coordinator at ", address,
        " (is hpo-coordinator running there? set --coordinator or $HPO_COORDINATOR",
        security.tls.ca.empty()
            ? "; if it serves TLS, pass --tls-ca)"
            : "; does its certificate name this address and chain to --tls-ca? does it require a "
              "client certificate (--tls-cert/--tls-key)?)"));
  }
  return std::unique_ptr<Backend>(new GrpcBackend(address, *std::move(channel)));
}

absl::Status CheckHealth(const std::string& address, const auth::ClientSecurity& security,
                         absl::Duration timeout) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = auth::Connect(address, security);
  if (!channel.ok()) return channel.status();
  grpc::GenericStub stub(*channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  // HealthCheckRequest{service: ""} is the empty message; the answer's field 1 is the status.
  grpc::Slice empty("");
  grpc::ByteBuffer request(&empty, 1), response;
  absl::Notification done;
  grpc::Status status;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&](grpc::Status s) {
                   status = std::move(s);
                   done.Notify();
                 });
  done.WaitForNotification();
  if (!status.ok()) return rpc::FromGrpcStatus(status, address);
  std::vector<grpc::Slice> slices;
  std::string bytes;
  if (response.Dump(&slices).ok()) {
    for (const grpc::Slice& s : slices)
      bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  static constexpr const char* kStates[] = {"UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"};
  int state = 0;  // an absent field is UNKNOWN (0)
  if (bytes.size() == 2 && bytes[0] == '\x08') state = static_cast<unsigned char>(bytes[1]);
  if (state == 1) return absl::OkStatus();
  return absl::UnavailableError(
      absl::StrCat(address, " answers ", state < 4 ? kStates[state] : "an unknown status"));
}

}  // namespace hpo::backend
