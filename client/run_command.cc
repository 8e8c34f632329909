#include "client/run_command.h"

#include <stdlib.h>
#include <unistd.h>

#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/format.h"
#include "client/progress_printer.h"
#include "core/logging.h"
#include "core/status_macros.h"
#include "core/study_spec.h"
#include "core/trial_states.h"
#include "google/protobuf/util/message_differencer.h"
#include "server/coordinator_server.h"
#include "tasks/task.h"
#include "worker/process.h"
#include "worker/worker.h"

namespace hpo::client {

absl::StatusOr<hpo::v1::StudySpec> LoadCheckedStudyFile(const std::string& path) {
  absl::StatusOr<hpo::v1::StudySpec> spec = core::LoadStudyFile(path);
  if (spec.ok() && spec->task().has_builtin()) {
    HPO_RETURN_IF_ERROR(tasks::CheckBuiltinStudy(spec->task().builtin(), spec->space()));
  }
  return spec;
}

int RunStudy(const RunOptions& options, std::ostream& out, std::ostream& err) {
  auto fail = [&](const absl::Status& s) {
    err << "hpo: " << s.message() << "\n";
    return 1;
  };
  auto spec = LoadCheckedStudyFile(options.study_file);
  if (!spec.ok()) return fail(spec.status());
  const std::string name = spec->name();
  std::string hpo_task =
      options.hpo_task_path.empty() ? worker::SiblingExecutable("hpo-task") : options.hpo_task_path;
  if (spec->task().has_builtin()) {
    absl::StatusOr<std::string> resolved = worker::ResolveProgram(hpo_task);
    if (!resolved.ok()) {
      return fail(absl::NotFoundError(
          absl::StrCat("cannot find the hpo-task executable ('", hpo_task,
                       "') that runs builtin tasks: install hpo, or pass --hpo-task PATH")));
    }
    hpo_task = *std::move(resolved);
  }
  // Progress lines are the output here; the parts' own logs only when something goes wrong.
  if (std::getenv("HPO_LOG_LEVEL") == nullptr) core::SetMinLogLevel(core::LogLevel::kWarning);

  server::CoordinatorServerOptions server_options;
  server_options.listen = "127.0.0.1:0";
  server_options.db_path = options.db_path;
  server_options.coordinator.lease_timeout = absl::Seconds(options.lease_timeout_s);
  server_options.coordinator.heartbeat_interval = absl::Seconds(options.lease_timeout_s / 6);
  auto server = server::CoordinatorServer::Start(server_options);
  if (!server.ok()) return fail(server.status());
  server::Coordinator* coordinator = (*server)->coordinator();

  auto created = coordinator->CreateStudy(*spec);
  if (absl::IsAlreadyExists(created.status())) {
    auto existing = coordinator->GetStudy(name);
    if (!existing.ok()) return fail(existing.status());
    if (existing->state() != hpo::v1::STUDY_RUNNING) {
      return fail(absl::FailedPreconditionError(absl::StrCat(
          "study '", name, "' already ended in ", options.db_path, " (",
          core::StudyStateName(existing->state()), "); see it with: hpo --db ", options.db_path,
          " study show ", name, " — or rename the study / use another --db")));
    }
    out << "resuming study " << name << " from " << options.db_path << "\n";
    if (!google::protobuf::util::MessageDifferencer::Equals(existing->spec(), *spec)) {
      err << "hpo: warning: " << options.study_file << " differs from the study stored in "
          << options.db_path << "; resuming with the stored one\n";
    }
    // This process holds the database's owner lock, so trials still RUNNING belong to an
    // earlier run that died: give them back now instead of waiting out their leases.
    auto orphans = coordinator->ListTrials(name, hpo::v1::RUNNING, 0, "");
    if (!orphans.ok()) return fail(orphans.status());
    for (const auto& t : orphans->trials) {
      hpo::v1::ReleaseTrialRequest release;
      release.set_worker_id(t.worker_id());
      release.set_trial_id(t.id());
      release.set_reason("its hpo run ended before the trial did");
      auto released = coordinator->ReleaseTrial(release);
      if (!released.ok()) return fail(released.status());
    }
  } else if (!created.ok()) {
    return fail(created.status());
  }

  auto watch = coordinator->Watch(name);
  if (!watch.ok()) return fail(watch.status());

  const std::string log_dir = options.db_path + ".logs";  // one file per trial
  std::vector<std::unique_ptr<worker::Worker>> workers;
  for (int i = 0; i < options.workers; ++i) {
    worker::Worker::Options w;
    w.coordinator = (*server)->local_address();
    w.slots = 1;
    w.allow_any_command = true;  // the user's own study file, run on the user's own machine
    w.worker_id = absl::StrCat("local-", ::getpid(), "-", i);
    w.hpo_task_path = hpo_task;
    w.log_dir = log_dir;
    // Beside the database, so that a run resumed from it finds its trials' checkpoints.
    w.trial_dir_root = options.db_path + ".trials";
    auto created_worker = worker::Worker::Create(w);
    if (!created_worker.ok()) return fail(created_worker.status());
    workers.push_back(std::move(created_worker).value());
    absl::Status started = workers.back()->Start();
    if (!started.ok()) return fail(started);
  }
  out << "running study " << name << " with " << options.workers << " local worker"
      << (options.workers == 1 ? "" : "s") << " (db " << options.db_path << ")\n";

  ProgressPrinter printer(out, ::isatty(STDOUT_FILENO) && &out == &std::cout);
  hpo::v1::StudyEvent event;
  while (true) {
    if (!(*watch)->Next(&event, absl::Now() + absl::Seconds(1))) {
      if ((*watch)->closed()) break;
      continue;
    }
    printer.OnEvent(event);
    if (event.kind() == hpo::v1::StudyEvent::STUDY_ENDED) break;
  }
  auto best = coordinator->GetBestTrial(name);
  // Without a best trial, the first failure says why; read before the shutdown (after it the
  // coordinator answers UNAVAILABLE).
  absl::StatusOr<server::Coordinator::TrialPage> page = absl::NotFoundError("not read");
  if (!best.ok()) page = coordinator->ListTrials(name, hpo::v1::FAILED, 1, "");
  // Stop the workers, then the server: its shutdown releases their long polls at once.
  for (auto& w : workers) w->Stop();
  (*server)->Shutdown();
  for (auto& w : workers) w->Wait();
  if (!best.ok()) {
    // Say why, with the first failure's reason: usually one mistake fails every trial.
    if (page.ok() && !page->trials.empty()) {
      const auto& t = page->trials[0];
      return fail(absl::FailedPreconditionError(
          absl::StrCat(best.status().message(), "; trial #", t.number(),
                       " failed: ", t.failure_reason(), " (log in ", log_dir, ")")));
    }
    return fail(best.status());
  }
  out << BestTrialText(*spec, *best);
  out << "history: hpo --db " << options.db_path << " trials " << name << "\n";
  return 0;
}

}  // namespace hpo::client
