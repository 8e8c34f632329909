#include "harness/in_process_runner.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/search_space.h"
#include "core/status_macros.h"
#include "harness/evaluate.h"

namespace hpo::harness {

hpo::v1::StudySpec BenchStudySpec(const RunSpec& spec, const hpo::v1::SearchSpace& space) {
  hpo::v1::StudySpec study;
  // Study names allow [A-Za-z0-9_.-]: a variant's ':', ';', '=' become '_'.
  std::string optimizer = spec.optimizer;
  for (char& c : optimizer) {
    if (!absl::ascii_isalnum(c) && c != '_' && c != '.' && c != '-') c = '_';
  }
  if (optimizer.size() > 64) optimizer.resize(64);  // names are at most 128 characters
  study.set_name(
      absl::StrCat("bench-", optimizer, "-", spec.task, "-s", spec.seed, "-n", spec.trials));
  study.mutable_objective()->set_metric(std::string(tasks::kValueMetric));
  study.mutable_objective()->set_direction(hpo::v1::MINIMIZE);
  absl::StatusOr<OptimizerVariant> variant = ParseOptimizerVariant(spec.optimizer);
  if (variant.ok()) {
    study.mutable_optimizer()->set_name(variant->name);
    study.mutable_optimizer()->mutable_options()->insert(variant->options.begin(),
                                                         variant->options.end());
  } else {
    study.mutable_optimizer()->set_name(spec.optimizer);  // fails as an unknown optimizer
  }
  study.mutable_optimizer()->set_seed(spec.seed);
  study.mutable_budget()->set_max_trials(spec.trials);
  study.mutable_budget()->set_max_parallel(1);
  *study.mutable_space() = space;
  study.mutable_task()->set_builtin(spec.task);
  return study;
}

absl::StatusOr<std::unique_ptr<InProcessRunner>> InProcessRunner::Create(Options options) {
  if (!options.task_factory || !options.optimizer_factory) {
    return absl::InvalidArgumentError("InProcessRunner needs a task and an optimizer factory");
  }
  return std::unique_ptr<InProcessRunner>(new InProcessRunner(std::move(options)));
}

namespace {

// Runs `spec` into `record`: spec, optimum, and the evals as they are made (wall_s up to the
// last one).
absl::Status RunOnce(const RunSpec& spec, const InProcessRunner::Options& options,
                     RunRecord& record) {
  record.spec = spec;
  if (spec.trials < 1) {
    return absl::InvalidArgumentError(absl::StrCat("trials must be >= 1, got ", spec.trials));
  }
  const absl::Time start = absl::Now();
  HPO_ASSIGN_OR_RETURN(std::unique_ptr<tasks::Task> task, options.task_factory(spec.task));
  record.optimum = task->optimum();
  const hpo::v1::SearchSpace space = task->space();
  const hpo::v1::StudySpec study = BenchStudySpec(spec, space);
  HPO_ASSIGN_OR_RETURN(std::unique_ptr<server::Optimizer> optimizer,
                       options.optimizer_factory(study.optimizer(), space));

  std::vector<hpo::v1::Trial> history;
  history.reserve(spec.trials);
  for (int number = 0; number < spec.trials; ++number) {
    const server::StudyView view{&study, &history};
    HPO_ASSIGN_OR_RETURN(std::vector<hpo::v1::ParamMap> suggested,
                         optimizer->Suggest(view, {number}));
    if (suggested.size() != 1) {
      return absl::InternalError(absl::StrCat("trial ", number, ": the optimizer returned ",
                                              suggested.size(), " suggestions for 1"));
    }
    absl::Status valid = core::ValidateParams(space, suggested[0]);
    if (!valid.ok()) {
      return absl::InternalError(
          absl::StrCat("trial ", number, ": the optimizer suggested ", valid.message()));
    }
    absl::StatusOr<double> value = EvaluateTask(*task, space, suggested[0]);
    if (!value.ok()) return core::Annotate(value.status(), absl::StrCat("trial ", number));

    hpo::v1::Trial& trial = history.emplace_back();
    trial.set_id(number + 1);
    trial.set_number(number);
    trial.set_state(hpo::v1::COMPLETED);
    *trial.mutable_params() = std::move(suggested[0]);
    trial.set_has_value(true);
    trial.set_value(*value);
    (*trial.mutable_final_metrics())[study.objective().metric()] = *value;
    trial.set_study_name(study.name());
    trial.set_last_step(1);
    hpo::v1::Measurement* m = trial.add_measurements();
    m->set_step(1);
    (*m->mutable_metrics())[study.objective().metric()] = *value;
    AppendEval(record, *value, core::ParamsToJson(trial.params()));
    record.wall_s = absl::ToDoubleSeconds(absl::Now() - start);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<RunRecord> InProcessRunner::Run(const RunSpec& spec, RunRecord* partial) {
  RunRecord record;
  if (absl::Status s = RunOnce(spec, options_, record); !s.ok()) {
    if (partial != nullptr) *partial = std::move(record);
    return core::Annotate(s, spec.Label());
  }
  return record;
}

}  // namespace hpo::harness
