// Backend over an embedded Coordinator on a SQLite file: no server, no network.
#include <sys/stat.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "backend/backend.h"
#include "core/status_macros.h"
#include "server/coordinator.h"
#include "server/optimizers/optimizer.h"
#include "storage/db_lock.h"
#include "storage/sqlite_storage.h"

namespace hpo::backend {
namespace {

// Thread-safe: the coordinator is. Holds the database's owner lock while it may write; when a
// running coordinator holds it instead, reads work and writes are refused (a second writer would
// hand out the same trial numbers).
class LocalBackend final : public Backend {
 public:
  explicit LocalBackend(std::unique_ptr<LocalCoordinator> local)
      : local_(std::move(local)),
        read_only_(local_->read_only),
        coordinator_(local_->coordinator.get()) {}

  absl::StatusOr<hpo::v1::Study> CreateStudy(const hpo::v1::StudySpec& spec) override {
    HPO_RETURN_IF_ERROR(read_only_);
    return coordinator_->CreateStudy(spec);
  }
  absl::StatusOr<hpo::v1::Study> GetStudy(const std::string& name) override {
    return coordinator_->GetStudy(name);
  }
  absl::StatusOr<hpo::v1::ListStudiesResponse> ListStudies() override {
    hpo::v1::ListStudiesResponse out;
    for (auto& s : coordinator_->ListStudies()) *out.add_studies() = std::move(s);
    return out;
  }
  absl::StatusOr<hpo::v1::Study> StopStudy(const std::string& name) override {
    HPO_RETURN_IF_ERROR(read_only_);
    return coordinator_->StopStudy(name);
  }
  absl::StatusOr<hpo::v1::ListTrialsResponse> ListTrials(
      const hpo::v1::ListTrialsRequest& request) override {
    HPO_ASSIGN_OR_RETURN(auto page,
                         coordinator_->ListTrials(request.study_name(), request.state(),
                                                  request.page_size(), request.page_token()));
    hpo::v1::ListTrialsResponse out;
    for (auto& t : page.trials) *out.add_trials() = std::move(t);
    out.set_next_page_token(page.next_page_token);
    return out;
  }
  absl::StatusOr<hpo::v1::Trial> GetTrial(int64_t trial_id) override {
    return coordinator_->GetTrial(trial_id);
  }
  absl::StatusOr<hpo::v1::Trial> EnqueueTrial(const std::string& study,
                                              const hpo::v1::ParamMap& params) override {
    HPO_RETURN_IF_ERROR(read_only_);
    return coordinator_->EnqueueTrial(study, params);
  }
  absl::StatusOr<hpo::v1::Trial> GetBestTrial(const std::string& study) override {
    return coordinator_->GetBestTrial(study);
  }
  absl::StatusOr<hpo::v1::DeleteStudyResponse> DeleteStudy(const std::string& name) override {
    HPO_RETURN_IF_ERROR(read_only_);
    return coordinator_->DeleteStudy(name);
  }
  absl::StatusOr<hpo::v1::Study> ExtendStudy(const std::string& name, int max_trials) override {
    HPO_RETURN_IF_ERROR(read_only_);
    return coordinator_->ExtendStudy(name, max_trials);
  }
  absl::StatusOr<hpo::v1::Trial> AddTrial(const hpo::v1::AddTrialRequest& request) override {
    HPO_RETURN_IF_ERROR(read_only_);
    return coordinator_->AddTrial(request);
  }
  absl::StatusOr<hpo::v1::ServerInfo> GetServerInfo() override {
    return server::OptimizerServerInfo();
  }
  absl::Status Watch(const std::string& study,
                     const std::function<bool(const hpo::v1::StudyEvent&)>& on_event) override {
    // Nothing in this process runs trials, and another process's progress never reaches this
    // private coordinator: a running study would be watched forever without a change.
    HPO_ASSIGN_OR_RETURN(const hpo::v1::Study current, coordinator_->GetStudy(study));
    if (current.state() == hpo::v1::STUDY_RUNNING) {
      return absl::FailedPreconditionError(absl::StrCat(
          "study '", study,
          "' is running: watch it through the coordinator that runs it (--coordinator ADDR); "
          "--db shows a snapshot (hpo --db FILE study show ",
          study, ")"));
    }
    HPO_ASSIGN_OR_RETURN(auto watch, coordinator_->Watch(study));
    hpo::v1::StudyEvent event;
    while (!watch->closed()) {
      if (!watch->Next(&event, absl::Now() + absl::Seconds(1))) continue;
      if (!on_event(event)) break;
    }
    return absl::OkStatus();
  }

 private:
  std::unique_ptr<LocalCoordinator> local_;
  const absl::Status read_only_;  // OK when writes are allowed
  server::Coordinator* const coordinator_;
};

}  // namespace

LocalCoordinator::~LocalCoordinator() { coordinator.reset(); }

absl::StatusOr<std::unique_ptr<LocalCoordinator>> OpenLocalCoordinator(const std::string& db_path,
                                                                       bool create) {
  struct stat st;
  if (!create && ::stat(db_path.c_str(), &st) != 0) {
    return absl::NotFoundError(absl::StrCat("no database file at ", db_path));
  }
  auto local = std::make_unique<LocalCoordinator>();
  auto lock = storage::DbLock::Acquire(db_path);
  if (lock.ok()) {
    local->lock = std::move(lock).value();
  } else {
    local->read_only = absl::FailedPreconditionError(
        absl::StrCat(lock.status().message(),
                     ": change it through that coordinator (--coordinator ADDR), not --db"));
  }
  storage::SqliteStorage::Options options;
  options.path = db_path;
  auto storage = storage::SqliteStorage::Create(options);
  if (!storage.ok()) return core::Annotate(storage.status(), absl::StrCat("opening ", db_path));
  local->storage = std::move(storage).value();
  HPO_ASSIGN_OR_RETURN(local->coordinator, server::Coordinator::Create(local->storage.get(), [] {
                         server::CoordinatorOptions options;
                         options.keep_curves = false;  // no worker reports to it
                         return options;
                       }()));
  return local;
}

absl::StatusOr<std::unique_ptr<Backend>> OpenLocal(const std::string& db_path, bool create) {
  HPO_ASSIGN_OR_RETURN(std::unique_ptr<LocalCoordinator> local,
                       OpenLocalCoordinator(db_path, create));
  return std::unique_ptr<Backend>(new LocalBackend(std::move(local)));
}

}  // namespace hpo::backend
