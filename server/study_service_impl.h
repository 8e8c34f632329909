#ifndef HPO_SERVER_STUDY_SERVICE_IMPL_H_
#define HPO_SERVER_STUDY_SERVICE_IMPL_H_

#include "auth/grpc_security.h"
#include "hpo/v1/hpo.grpc.pb.h"
#include "server/coordinator.h"

namespace hpo::server {

// Thin gRPC adapter: decode, call the Coordinator, convert the status. Thread-safe (the
// coordinator is).
class StudyServiceImpl final : public hpo::v1::StudyService::Service {
 public:
  explicit StudyServiceImpl(Coordinator* coordinator, const auth::CallAuthenticator* authenticator)
      : coordinator_(coordinator), authenticator_(authenticator) {}

  grpc::Status CreateStudy(grpc::ServerContext*, const hpo::v1::CreateStudyRequest* request,
                           hpo::v1::Study* response) override;
  grpc::Status GetStudy(grpc::ServerContext*, const hpo::v1::GetStudyRequest* request,
                        hpo::v1::Study* response) override;
  grpc::Status ListStudies(grpc::ServerContext*, const hpo::v1::ListStudiesRequest* request,
                           hpo::v1::ListStudiesResponse* response) override;
  grpc::Status StopStudy(grpc::ServerContext*, const hpo::v1::StopStudyRequest* request,
                         hpo::v1::Study* response) override;
  grpc::Status ListTrials(grpc::ServerContext*, const hpo::v1::ListTrialsRequest* request,
                          hpo::v1::ListTrialsResponse* response) override;
  grpc::Status GetTrial(grpc::ServerContext*, const hpo::v1::GetTrialRequest* request,
                        hpo::v1::Trial* response) override;
  grpc::Status EnqueueTrial(grpc::ServerContext*, const hpo::v1::EnqueueTrialRequest* request,
                            hpo::v1::Trial* response) override;
  grpc::Status GetBestTrial(grpc::ServerContext*, const hpo::v1::GetBestTrialRequest* request,
                            hpo::v1::Trial* response) override;
  grpc::Status WatchStudy(grpc::ServerContext* context, const hpo::v1::WatchStudyRequest* request,
                          grpc::ServerWriter<hpo::v1::StudyEvent>* writer) override;
  grpc::Status GetServerInfo(grpc::ServerContext*, const hpo::v1::GetServerInfoRequest* request,
                             hpo::v1::ServerInfo* response) override;
  grpc::Status AskTrial(grpc::ServerContext*, const hpo::v1::AskTrialRequest* request,
                        hpo::v1::Trial* response) override;
  grpc::Status TellTrial(grpc::ServerContext*, const hpo::v1::CompleteTrialRequest* request,
                         hpo::v1::Trial* response) override;
  grpc::Status DeleteStudy(grpc::ServerContext*, const hpo::v1::DeleteStudyRequest* request,
                           hpo::v1::DeleteStudyResponse* response) override;
  grpc::Status ExtendStudy(grpc::ServerContext*, const hpo::v1::ExtendStudyRequest* request,
                           hpo::v1::Study* response) override;
  grpc::Status AddTrial(grpc::ServerContext*, const hpo::v1::AddTrialRequest* request,
                        hpo::v1::Trial* response) override;

 private:
  Coordinator* const coordinator_;
  const auth::CallAuthenticator* const authenticator_;
};

}  // namespace hpo::server

#endif  // HPO_SERVER_STUDY_SERVICE_IMPL_H_
