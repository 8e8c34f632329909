#include "client/run_command.h"

#include <limits.h>
#include <unistd.h>

#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/format.h"
#include "core/study_spec.h"
#include "core/trial_states.h"
#include "server/coordinator_server.h"
#include "worker/worker.h"

namespace hpo::client {

std::string SiblingExecutable(const std::string& name) {
  char self[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n > 0) {
    self[n] = '\0';
    std::string dir(self);
    dir.resize(dir.rfind('/') + 1);
    const std::string candidate = dir + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return name;
}

int RunStudy(const RunOptions& options, std::ostream& out, std::ostream& err) {
  auto fail = [&](const absl::Status& s) {
    err << "hpo: " << s.message() << "\n";
    return 1;
  };
  auto spec = core::LoadStudyFile(options.study_file);
  if (!spec.ok()) return fail(spec.status());
  const std::string name = spec->name();

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
  } else if (!created.ok()) {
    return fail(created.status());
  }

  auto watch = coordinator->Watch(name);
  if (!watch.ok()) return fail(watch.status());

  std::vector<std::unique_ptr<worker::Worker>> workers;
  for (int i = 0; i < options.workers; ++i) {
    worker::Worker::Options w;
    w.coordinator = (*server)->local_address();
    w.slots = 1;
    w.worker_id = absl::StrCat("local-", ::getpid(), "-", i);
    w.hpo_task_path =
        options.hpo_task_path.empty() ? SiblingExecutable("hpo-task") : options.hpo_task_path;
    auto created_worker = worker::Worker::Create(w);
    if (!created_worker.ok()) return fail(created_worker.status());
    workers.push_back(std::move(created_worker).value());
    absl::Status started = workers.back()->Start();
    if (!started.ok()) return fail(started);
  }
  out << "running study " << name << " with " << options.workers << " local worker"
      << (options.workers == 1 ? "" : "s") << " (db " << options.db_path << ")\n";

  const bool tty = ::isatty(STDOUT_FILENO) && &out == &std::cout;
  std::string last;
  hpo::v1::StudyEvent event;
  hpo::v1::Study final_study;
  while (true) {
    if (!(*watch)->Next(&event, absl::Now() + absl::Seconds(1))) {
      if ((*watch)->closed()) break;
      continue;
    }
    final_study = event.study();
    std::string line = ProgressLine(event.study());
    if (line != last) {
      out << (tty ? "\r" : "") << line << (tty ? "" : "\n") << std::flush;
      last = line;
    }
    if (event.kind() == hpo::v1::StudyEvent::STUDY_ENDED) break;
  }
  if (tty) out << "\n";
  auto best = coordinator->GetBestTrial(name);
  // Stop the workers, then the server: its shutdown releases their long polls at once.
  for (auto& w : workers) w->Stop();
  (*server)->Shutdown();
  for (auto& w : workers) w->Wait();
  out << "study " << name << " " << core::StudyStateName(final_study.state()) << "\n";
  if (!best.ok()) return fail(best.status());
  out << BestTrialText(*spec, *best);
  out << "history: hpo --db " << options.db_path << " trials " << name << "\n";
  return 0;
}

}  // namespace hpo::client
