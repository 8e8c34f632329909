#include "server/study_service_impl.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "proto/status_convert.h"
#include "server/grpc_reply.h"
#include "server/optimizers/optimizer.h"

namespace hpo::server {
namespace {

using rpc::ToGrpcStatus;

}  // namespace

grpc::Status StudyServiceImpl::CreateStudy(grpc::ServerContext* context,
                                           const hpo::v1::CreateStudyRequest* request,
                                           hpo::v1::Study* response) {
  HPO_RPC_AUTHORIZE(context, auth::Service::kStudy);
  return Reply(coordinator_->CreateStudy(request->spec()), response);
}

grpc::Status StudyServiceImpl::GetStudy(grpc::ServerContext* context,
                                        const hpo::v1::GetStudyRequest* request,
                                        hpo::v1::Study* response) {
  HPO_RPC_AUTHORIZE(context, auth::Service::kStudy);
  return Reply(coordinator_->GetStudy(request->name()), response);
}

grpc::Status StudyServiceImpl::ListStudies(grpc::ServerContext* context,
                                           const hpo::v1::ListStudiesRequest*,
                                           hpo::v1::ListStudiesResponse* response) {
  HPO_RPC_AUTHORIZE(context, auth::Service::kStudy);
  for (auto& s : coordinator_->ListStudies()) *response->add_studies() = std::move(s);
  return grpc::Status::OK;
}

grpc::Status StudyServiceImpl::StopStudy(grpc::ServerContext* context,
                                         const hpo::v1::StopStudyRequest* request,
                                         hpo::v1::Study* response) {
  HPO_RPC_AUTHORIZE(context, auth::Service::kStudy);
  return Reply(coordinator_->StopStudy(request->name()), response);
}

grpc::Status StudyServiceImpl::ListTrials(grpc::ServerContext* context,
                                          const hpo::v1::ListTrialsRequest* request,
                                          hpo::v1::ListTrialsResponse* response) {
  HPO_RPC_AUTHORIZE(context, auth::Service::kStudy);
  auto page = coordinator_->ListTrials(request->study_name(), request->state(),
                                       request->page_size(), request->page_token());
  if (!page.ok()) return ToGrpcStatus(page.status());
  for (auto& t : page->trials) *response->add_trials() = std::move(t);
  response->set_next_page_token(page->next_page_token);
  return grpc::Status::OK;
}

grpc::Status StudyServiceImpl::GetTrial(grpc::ServerContext* context,
                                        const hpo::v1::GetTrialRequest* request,
                                        hpo::v1::Trial* response) {
  HPO_RPC_AUTHORIZE(context, auth::Service::kStudy);
  return Reply(coordinator_->GetTrial(request->trial_id()), response);
}

grpc::Status StudyServiceImpl::EnqueueTrial(grpc::ServerContext* context,
                                            const hpo::v1::EnqueueTrialRequest* request,
                                            hpo::v1::Trial* response) {
  HPO_RPC_AUTHORIZE(context, auth::Service::kStudy);
  return Reply(coordinator_->EnqueueTrial(request->study_name(), request->params()), response);
}

grpc::Status StudyServiceImpl::GetBestTrial(grpc::ServerContext* context,
                                            const hpo::v1::GetBestTrialRequest* request,
                                            hpo::v1::Trial* response) {
  HPO_RPC_AUTHORIZE(context, auth::Service::kStudy);
  return Reply(coordinator_->GetBestTrial(request->study_name()), response);
}

grpc::Status StudyServiceImpl::GetServerInfo(grpc::ServerContext* context,
                                             const hpo::v1::GetServerInfoRequest*,
                                             hpo::v1::ServerInfo* response) {
  HPO_RPC_AUTHORIZE(context, auth::Service::kStudy);
  *response = OptimizerServerInfo();
  return grpc::Status::OK;
}

grpc::Status StudyServiceImpl::AskTrial(grpc::ServerContext* context,
                                        const hpo::v1::AskTrialRequest* request,
                                        hpo::v1::Trial* response) {
  HPO_RPC_AUTHORIZE(context, auth::Service::kStudy);
  return Reply(coordinator_->AskTrial(*request), response);
}

grpc::Status StudyServiceImpl::TellTrial(grpc::ServerContext* context,
                                         const hpo::v1::CompleteTrialRequest* request,
                                         hpo::v1::Trial* response) {
  HPO_RPC_AUTHORIZE(context, auth::Service::kStudy);
  return Reply(coordinator_->TellTrial(*request), response);
}

grpc::Status StudyServiceImpl::DeleteStudy(grpc::ServerContext* context,
                                           const hpo::v1::DeleteStudyRequest* request,
                                           hpo::v1::DeleteStudyResponse* response) {
  HPO_RPC_AUTHORIZE(context, auth::Service::kStudy);
  return Reply(coordinator_->DeleteStudy(request->name()), response);
}

grpc::Status StudyServiceImpl::ExtendStudy(grpc::ServerContext* context,
                                           const hpo::v1::ExtendStudyRequest* request,
                                           hpo::v1::Study* response) {
  HPO_RPC_AUTHORIZE(context, auth::Service::kStudy);
  return Reply(coordinator_->ExtendStudy(request->name(), request->max_trials()), response);
}

grpc::Status StudyServiceImpl::AddTrial(grpc::ServerContext* context,
                                        const hpo::v1::AddTrialRequest* request,
                                        hpo::v1::Trial* response) {
  HPO_RPC_AUTHORIZE(context, auth::Service::kStudy);
  return Reply(coordinator_->AddTrial(*request), response);
}

grpc::Status StudyServiceImpl::WatchStudy(grpc::ServerContext* context,
                                          const hpo::v1::WatchStudyRequest* request,
                                          grpc::ServerWriter<hpo::v1::StudyEvent>* writer) {
  HPO_RPC_AUTHORIZE(context, auth::Service::kStudy);
  auto watch = coordinator_->Watch(request->study_name());
  if (!watch.ok()) return ToGrpcStatus(watch.status());
  hpo::v1::StudyEvent event;
  // What the watcher last heard about who accepts the study's trials, and when that was checked.
  auto acceptance = [](const hpo::v1::Study& s) {
    return absl::StrCat(s.live_workers(), "/", s.accepting_workers(), "/", s.not_accepted());
  };
  std::string told;
  absl::Time checked = absl::Now();
  while (!context->IsCancelled()) {
    // Wake up now and then to notice a client that went away.
    if (!(*watch)->Next(&event, absl::Now() + absl::Milliseconds(500))) {
      if ((*watch)->closed()) break;
      if (absl::Now() - checked < absl::Seconds(2)) continue;
      checked = absl::Now();
      absl::StatusOr<hpo::v1::Study> study = coordinator_->GetStudy(request->study_name());
      if (!study.ok() || acceptance(*study) == told) continue;
      event.Clear();
      event.set_kind(hpo::v1::StudyEvent::STUDY_UPDATED);
      *event.mutable_study() = *std::move(study);
    }
    told = acceptance(event.study());
    if (!writer->Write(event)) break;
    if (event.kind() == hpo::v1::StudyEvent::STUDY_ENDED) break;
  }
  return grpc::Status::OK;
}

}  // namespace hpo::server
