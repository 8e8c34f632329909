#include "worker/tasks/lcbench_task.h"

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
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
#include "nlohmann/json.hpp"
#include "worker/tasks/lcbench_surrogate.h"

namespace hpo::worker::tasks {
namespace {

using hpo::v1::ParamMap;
using hpo::v1::ParamSpec;
using hpo::v1::ParamValue;
using hpo::v1::SearchSpace;

constexpr char kModelFile[] = "lcbench.pt";
constexpr char kEncodingFile[] = "encoding.json";
constexpr char kConfigSpaceFile[] = "config_space.json";
constexpr char kTaskIdParam[] = "OpenML_task_id";

std::string ResolveDir(const std::string& model_dir) {
  return model_dir.empty() ? DefaultLcbenchDir() : model_dir;
}

std::string PathIn(const std::string& dir, const char* file) {
  return (std::filesystem::path(dir) / file).string();
}

absl::Status NotFoundAt(const std::string& path) {
  return absl::FailedPreconditionError(
      absl::StrCat("LCBench surrogate not found at ", path, ": set HPO_LCBENCH_DIR"));
}

// The JSON document in `path`; FAILED_PRECONDITION when absent or malformed.
absl::StatusOr<nlohmann::json> ReadJson(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFoundAt(path);
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json json = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    return absl::FailedPreconditionError(absl::StrCat(path, ": not valid JSON"));
  }
  return json;
}

// OpenML task id -> the surrogate's code for it, from encoding.json.
absl::StatusOr<std::map<std::string, int64_t>> ReadEncoding(const std::string& dir) {
  const std::string path = PathIn(dir, kEncodingFile);
  HPO_ASSIGN_OR_RETURN(nlohmann::json json, ReadJson(path));
  if (!json.is_object() || !json.contains(kTaskIdParam) || !json[kTaskIdParam].is_object()) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": expected {\"", kTaskIdParam, "\": {id: code, ...}}"));
  }
  std::map<std::string, int64_t> codes;
  for (const auto& [id, code] : json[kTaskIdParam].items()) {
    if (id == "#na#") continue;
    if (!code.is_number_integer()) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, ": the code of '", id, "' is not an integer"));
    }
    codes[id] = code.get<int64_t>();
  }
  return codes;
}

// The choices of OpenML_task_id in config_space.json, in order.
absl::StatusOr<std::vector<std::string>> ReadConfigSpaceIds(const std::string& dir) {
  const std::string path = PathIn(dir, kConfigSpaceFile);
  HPO_ASSIGN_OR_RETURN(nlohmann::json json, ReadJson(path));
  if (json.is_object() && json.contains("hyperparameters") && json["hyperparameters"].is_array()) {
    for (const nlohmann::json& hp : json["hyperparameters"]) {
      if (!hp.is_object() || !hp.contains("name") || hp["name"] != kTaskIdParam) continue;
      if (!hp.contains("choices") || !hp["choices"].is_array()) break;
      std::vector<std::string> ids;
      for (const nlohmann::json& c : hp["choices"]) {
        if (!c.is_string()) break;
        ids.push_back(c.get<std::string>());
      }
      if (ids.size() != hp["choices"].size()) break;
      return ids;
    }
  }
  return absl::FailedPreconditionError(
      absl::StrCat(path, ": no categorical hyperparameter ", kTaskIdParam, " with string choices"));
}

ParamSpec* AddFloat(SearchSpace& space, const std::string& name, double low, double high,
                    bool log) {
  ParamSpec* p = space.add_params();
  p->set_name(name);
  p->mutable_float_domain()->set_low(low);
  p->mutable_float_domain()->set_high(high);
  p->mutable_float_domain()->set_log(log);
  return p;
}

ParamSpec* AddInt(SearchSpace& space, const std::string& name, int64_t low, int64_t high,
                  bool log) {
  ParamSpec* p = space.add_params();
  p->set_name(name);
  p->mutable_int_domain()->set_low(low);
  p->mutable_int_domain()->set_high(high);
  p->mutable_int_domain()->set_log(log);
  return p;
}

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

 private:
  const std::string name_;
  const int64_t code_;
  const SearchSpace space_;
  const std::shared_ptr<const LcbenchSurrogate> surrogate_;
};

}  // namespace

std::string DefaultLcbenchDir() {
  if (const char* env = std::getenv("HPO_LCBENCH_DIR"); env != nullptr && *env != '\0') {
    return env;
  }
  std::error_code ec;
  if (std::filesystem::is_directory("../shared/benchmarks/lcbench", ec)) {
    return "../shared/benchmarks/lcbench";
  }
  return "/work/shared/benchmarks/lcbench";
}

SearchSpace LcbenchSpace() {
  SearchSpace s;
  AddInt(s, "batch_size", 16, 512, /*log=*/true);
  AddFloat(s, "learning_rate", 1e-4, 0.1, /*log=*/true);
  AddFloat(s, "momentum", 0.1, 0.99, /*log=*/false);
  AddFloat(s, "weight_decay", 1e-5, 0.1, /*log=*/false);
  AddInt(s, "num_layers", 1, 5, /*log=*/false);
  AddInt(s, "max_units", 64, 1024, /*log=*/true);
  AddFloat(s, "max_dropout", 0, 1, /*log=*/false);
  return s;
}

absl::StatusOr<std::vector<std::string>> LcbenchTaskIds(const std::string& model_dir) {
  const std::string dir = ResolveDir(model_dir);
  HPO_ASSIGN_OR_RETURN(const auto codes, ReadEncoding(dir));
  HPO_ASSIGN_OR_RETURN(const std::vector<std::string> declared, ReadConfigSpaceIds(dir));
  std::vector<std::string> ids;
  for (const std::string& id : declared) {
    if (codes.count(id) > 0) ids.push_back(id);
  }
  return ids;
}

absl::StatusOr<std::unique_ptr<Task>> MakeLcbenchTask(const std::string& openml_task_id,
                                                      const std::string& model_dir) {
  const std::string dir = ResolveDir(model_dir);
  const std::string model_path = PathIn(dir, kModelFile);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(model_path, ec)) return NotFoundAt(model_path);

  HPO_ASSIGN_OR_RETURN(const auto codes, ReadEncoding(dir));
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

}  // namespace hpo::worker::tasks
