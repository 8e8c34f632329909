#include "tasks/lcbench_task.h"

#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/search_space.h"
#include "core/status_macros.h"
#include "tasks/lcbench_surrogate.h"

namespace hpo::tasks {
namespace {

using hpo::v1::ParamMap;
using hpo::v1::ParamValue;
using hpo::v1::SearchSpace;

// Reads a numeric parameter that ValidateParams and NormalizeParams accepted.
double Num(const ParamMap& params, const std::string& name) {
  const ParamValue& v = params.values().at(name);
  return v.kind_case() == ParamValue::kIntValue ? static_cast<double>(v.int_value())
                                                : v.float_value();
}

// Thread-safe: immutable, and the surrogate is.
class LcbenchTask final : public Task {
 public:
  LcbenchTask(std::string openml_id, int64_t code,
              std::shared_ptr<const LcbenchSurrogate> surrogate)
      : name_(absl::StrCat(kLcbenchPrefix, openml_id)),
        code_(code),
        space_(LcbenchSpace()),
        surrogate_(std::move(surrogate)) {}

  std::string name() const override { return name_; }
  SearchSpace space() const override { return space_; }
  double optimum() const override { return std::nan(""); }
  ParamMap optimum_params() const override { return ParamMap(); }

  absl::StatusOr<double> Evaluate(const ParamMap& params, const TaskOptions& options,
                                  Reporter& reporter) const override {
    if (options.steps < 1 || options.steps > kLcbenchEpochs) {
      return absl::InvalidArgumentError(
          absl::StrCat(name_, ": steps must be in [1, ", kLcbenchEpochs, "], got ", options.steps));
    }
    if (options.step_ms < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("step_ms must be >= 0, got ", options.step_ms));
    }
    HPO_RETURN_IF_ERROR(core::ValidateParams(space_, params));
    const ParamMap p = core::NormalizeParams(space_, params);

    // The space is declared in the surrogate's input order (after the epoch).
    LcbenchSurrogate::Input row{};
    for (int j = 0; j < space_.params_size(); ++j) {
      row[j + 1] = static_cast<float>(Num(p, space_.params(j).name()));
    }
    std::vector<int> epochs(options.steps);
    std::vector<LcbenchSurrogate::Input> rows(options.steps, row);
    for (int t = 1; t <= options.steps; ++t) {
      epochs[t - 1] = (kLcbenchEpochs * t + options.steps - 1) / options.steps;
      rows[t - 1][0] = static_cast<float>(epochs[t - 1]);
    }
    absl::StatusOr<std::vector<LcbenchSurrogate::Output>> out = surrogate_->Predict(code_, rows);
    if (!out.ok()) return core::Annotate(out.status(), name_);

    double value = 0;
    for (int t = 1; t <= options.steps; ++t) {
      if (t > 1 && options.step_ms > 0) absl::SleepFor(absl::Milliseconds(options.step_ms));
      const LcbenchSurrogate::Output& o = (*out)[t - 1];
      const double accuracy = o[LcbenchSurrogate::kValAccuracy];
      value = 100.0 - accuracy;
      core::MetricLine line;
      line.step = t;
      line.final = (t == options.steps);
      line.metrics[std::string(kValueMetric)] = value;
      line.metrics["epoch"] = epochs[t - 1];
      line.metrics["val_accuracy"] = accuracy;
      line.metrics["time"] = o[LcbenchSurrogate::kTime];
      if (!reporter.Report(line)) {
        return absl::CancelledError(absl::StrCat(name_, ": stopped at step ", t));
      }
    }
    return value;
  }

  absl::StatusOr<std::vector<std::vector<double>>> ValuesAtMany(
      const std::vector<EpochQuery>& queries) const override {
    std::vector<LcbenchSurrogate::Input> rows;
    for (const EpochQuery& q : queries) {
      HPO_RETURN_IF_ERROR(core::ValidateParams(space_, q.params));
      const ParamMap p = core::NormalizeParams(space_, q.params);
      LcbenchSurrogate::Input row{};
      for (int j = 0; j < space_.params_size(); ++j) {
        row[j + 1] = static_cast<float>(Num(p, space_.params(j).name()));
      }
      for (int epoch : q.epochs) {
        if (epoch < 1 || epoch > kLcbenchEpochs) {
          return absl::InvalidArgumentError(
              absl::StrCat(name_, ": epochs must be in [1, ", kLcbenchEpochs, "], got ", epoch));
        }
        row[0] = static_cast<float>(epoch);
        rows.push_back(row);
      }
    }
    std::vector<std::vector<double>> values;
    if (rows.empty()) {
      values.resize(queries.size());
      return values;
    }
    absl::StatusOr<std::vector<LcbenchSurrogate::Output>> out = surrogate_->Predict(code_, rows);
    if (!out.ok()) return core::Annotate(out.status(), name_);
    size_t next = 0;
    for (const EpochQuery& q : queries) {
      std::vector<double>& v = values.emplace_back();
      for (size_t i = 0; i < q.epochs.size(); ++i) {
        v.push_back(100.0 - (*out)[next++][LcbenchSurrogate::kValAccuracy]);
      }
    }
    return values;
  }

 private:
  const std::string name_;
  const int64_t code_;
  const SearchSpace space_;
  const std::shared_ptr<const LcbenchSurrogate> surrogate_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Task>> MakeLcbenchTask(const std::string& openml_task_id,
                                                      const std::string& model_dir) {
  HPO_RETURN_IF_ERROR(CheckLcbenchTaskIdFormat(openml_task_id));
  const std::string dir = model_dir.empty() ? DefaultLcbenchDir() : model_dir;
  HPO_RETURN_IF_ERROR(CheckLcbenchModel(dir));
  const std::string model_path = LcbenchModelPath(dir);

  HPO_ASSIGN_OR_RETURN(const auto codes, LcbenchTaskCodes(dir));
  HPO_ASSIGN_OR_RETURN(const std::vector<std::string> ids, LcbenchTaskIds(dir));
  bool known = false;
  for (const std::string& id : ids) known = known || id == openml_task_id;
  if (!known) {
    return absl::NotFoundError(absl::StrCat("unknown LCBench task '", openml_task_id,
                                            "'; OpenML task ids: ", absl::StrJoin(ids, ", ")));
  }
  HPO_ASSIGN_OR_RETURN(std::shared_ptr<const LcbenchSurrogate> surrogate,
                       LcbenchSurrogate::Load(model_path));
  return std::unique_ptr<Task>(
      std::make_unique<LcbenchTask>(openml_task_id, codes.at(openml_task_id), surrogate));
}

void RegisterLcbenchTasks() {
  TaskFamily family;
  family.prefix = std::string(kLcbenchPrefix);
  family.make = [](absl::string_view name) {
    name.remove_prefix(kLcbenchPrefix.size());
    return MakeLcbenchTask(std::string(name));
  };
  family.names = [] {
    std::vector<std::string> names;
    absl::StatusOr<std::vector<std::string>> ids = LcbenchTaskIds();
    if (!ids.ok()) return names;
    for (const std::string& id : *ids) names.push_back(absl::StrCat(kLcbenchPrefix, id));
    return names;
  };
  RegisterTaskFamily(std::move(family));
}

namespace {
// Linking this file makes MakeTask find the lcbench-<id> tasks.
[[maybe_unused]] const bool kRegistered = (RegisterLcbenchTasks(), true);
}  // namespace

}  // namespace hpo::tasks
