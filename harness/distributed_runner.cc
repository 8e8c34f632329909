#include "harness/distributed_runner.h"

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/search_space.h"
#include "core/status_macros.h"
#include "core/trial_states.h"
#include "harness/in_process_runner.h"

namespace hpo::harness {
namespace {

bool SameRun(const hpo::v1::StudySpec& a, const hpo::v1::StudySpec& b) {
  const std::map<std::string, std::string> a_options(a.optimizer().options().begin(),
                                                     a.optimizer().options().end());
  const std::map<std::string, std::string> b_options(b.optimizer().options().begin(),
                                                     b.optimizer().options().end());
  return a.optimizer().name() == b.optimizer().name() && a_options == b_options &&
         a.optimizer().seed() == b.optimizer().seed() &&
         a.budget().max_trials() == b.budget().max_trials() &&
         a.task().builtin() == b.task().builtin();
}

}  // namespace

absl::StatusOr<std::unique_ptr<DistributedRunner>> DistributedRunner::Create(Options options) {
  if (options.backend == nullptr || !options.task_factory) {
    return absl::InvalidArgumentError("DistributedRunner needs a backend and a task factory");
  }
  return std::unique_ptr<DistributedRunner>(new DistributedRunner(std::move(options)));
}

absl::StatusOr<hpo::v1::Study> DistributedRunner::CreateOrJoin(const hpo::v1::StudySpec& spec) {
  const std::string base = options_.study_prefix + spec.name();
  for (int retry = 0; retry < 1000; ++retry) {
    hpo::v1::StudySpec named = spec;
    named.set_name(retry == 0 ? base : absl::StrCat(base, "-r", retry));
    absl::StatusOr<hpo::v1::Study> created = options_.backend->CreateStudy(named);
    if (created.ok()) return created;
    if (created.status().code() != absl::StatusCode::kAlreadyExists) return created.status();
    HPO_ASSIGN_OR_RETURN(hpo::v1::Study existing, options_.backend->GetStudy(named.name()));
    if (CanServe(existing, named)) return existing;
  }
  return absl::AlreadyExistsError(absl::StrCat("study names ", base, "[-rN] are all taken"));
}

bool DistributedRunner::CanServe(const hpo::v1::Study& existing, const hpo::v1::StudySpec& spec) {
  if (!SameRun(existing.spec(), spec)) return false;
  if (existing.state() == hpo::v1::STUDY_RUNNING) return true;
  return existing.state() == hpo::v1::STUDY_COMPLETED &&
         existing.counts().completed() >= spec.budget().max_trials() &&
         existing.optimizer_revision() > 0 &&
         existing.optimizer_revision() == CurrentRevision(spec.optimizer().name());
}

int DistributedRunner::CurrentRevision(const std::string& optimizer) {
  absl::MutexLock lock(&mu_);
  if (!server_info_.has_value()) {
    absl::StatusOr<hpo::v1::ServerInfo> info = options_.backend->GetServerInfo();
    // Unknown (an older coordinator, or an error): finished studies are not reused.
    server_info_ = info.ok() ? *std::move(info) : hpo::v1::ServerInfo();
  }
  for (const hpo::v1::OptimizerInfo& o : server_info_->optimizers()) {
    if (o.name() == optimizer) return o.revision();
  }
  return 0;
}

absl::StatusOr<RunRecord> DistributedRunner::Run(const RunSpec& spec, RunRecord* partial) {
  auto annotate = [&spec](const absl::Status& s) { return core::Annotate(s, spec.Label()); };
  if (spec.trials < 1) {
    return annotate(
        absl::InvalidArgumentError(absl::StrCat("trials must be >= 1, got ", spec.trials)));
  }
  const absl::Time start = absl::Now();
  auto task = options_.task_factory(spec.task);
  if (!task.ok()) return annotate(task.status());
  const hpo::v1::StudySpec study_spec = BenchStudySpec(spec, (*task)->space());

  absl::StatusOr<hpo::v1::Study> study = CreateOrJoin(study_spec);
  if (!study.ok()) return annotate(study.status());
  const std::string name = study->spec().name();
  while (study->state() == hpo::v1::STUDY_RUNNING) {
    if (absl::Now() - start > options_.timeout) {
      return annotate(absl::DeadlineExceededError(absl::StrCat(
          "study ", name, " still running after ", absl::FormatDuration(options_.timeout))));
    }
    absl::SleepFor(options_.poll_interval);
    study = options_.backend->GetStudy(name);
    if (!study.ok()) return annotate(study.status());
  }

  auto trials = options_.backend->AllTrials(name, hpo::v1::TRIAL_STATE_UNSPECIFIED);
  if (!trials.ok()) return annotate(trials.status());
  // The completed attempt of each trial number.
  std::map<int, const hpo::v1::Trial*> completed;
  for (const hpo::v1::Trial& t : *trials) {
    if (t.state() == hpo::v1::COMPLETED && t.has_value()) completed[t.number()] = &t;
  }
  RunRecord record;
  record.spec = spec;
  record.optimum = (*task)->optimum();
  for (const auto& [number, trial] : completed) {
    if (number >= spec.trials) break;
    AppendEval(record, trial->value(), core::ParamsToJson(trial->params()));
  }
  record.wall_s = absl::ToDoubleSeconds(absl::Now() - start);
  if (static_cast<int>(completed.size()) < spec.trials) {
    if (partial != nullptr) *partial = std::move(record);
    return annotate(absl::AbortedError(absl::StrCat(
        "study ", name, " ended ", core::StudyStateName(study->state()), " with ", completed.size(),
        " of ", spec.trials, " trials completed (", study->counts().failed(), " failed, ",
        study->counts().pruned(), " pruned, ", study->counts().lost(), " lost)")));
  }
  return record;
}

}  // namespace hpo::harness
