#include "harness/served_task.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <list>
#include <memory>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "core/search_space.h"
#include "core/status_macros.h"
#include "harness/pipe_process.h"
#include "nlohmann/json.hpp"
#include "tasks/lcbench_data.h"

namespace hpo::harness {
namespace {

using tasks::Task;

std::string DefaultExecutable() {
  if (const char* env = std::getenv("HPO_TASK_LCBENCH"); env != nullptr && *env != '\0') {
    return env;
  }
  char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) return "hpo-task-lcbench";
  const std::string path(self, static_cast<size_t>(n));
  return path.substr(0, path.rfind('/') + 1) + "hpo-task-lcbench";
}

// Idle helper processes per task name. Thread-safe.
class HelperPool {
 public:
  HelperPool(std::string executable, absl::Duration timeout, int max_idle)
      : executable_(std::move(executable)), timeout_(timeout), max_idle_(max_idle) {}

  ~HelperPool() {
    // End of input makes each helper exit; the PipeProcess destructor reaps (or kills) it.
    absl::MutexLock lock(&mu_);
    for (auto& [name, helper] : idle_) (void)helper->Close(absl::Seconds(2));
  }

  const std::string& executable() const { return executable_; }

  // Evaluates `request` (one JSON line) with a helper serving `task`: its answer, an object with
  // a numeric "value" or an array "values" or "batch" (and whatever else the request asked for).
  absl::StatusOr<nlohmann::json> Ask(const std::string& task, const std::string& request) {
    std::unique_ptr<PipeProcess> helper = Take(task);
    if (helper == nullptr) {
      PipeProcess::Options spawn;
      spawn.argv = {executable_, "--serve", task};
      absl::StatusOr<std::unique_ptr<PipeProcess>> started = PipeProcess::Spawn(spawn);
      if (!started.ok()) {
        return absl::UnavailableError(absl::StrCat(task, ": ", started.status().message()));
      }
      helper = std::move(*started);
    }
    const std::string who = absl::StrCat(executable_, " --serve ", task);
    if (absl::Status written = helper->WriteLine(request); !written.ok()) {
      return Dead(std::move(helper), who);
    }
    absl::StatusOr<std::optional<std::string>> line = helper->ReadLine(absl::Now() + timeout_);
    if (!line.ok()) return core::Annotate(line.status(), who);
    if (!line->has_value()) return Dead(std::move(helper), who);

    nlohmann::json answer = nlohmann::json::parse(**line, nullptr, /*allow_exceptions=*/false);
    absl::StatusOr<nlohmann::json> result;
    if (answer.is_object() && ((answer.contains("value") && answer["value"].is_number()) ||
                               (answer.contains("values") && answer["values"].is_array()) ||
                               (answer.contains("batch") && answer["batch"].is_array()))) {
      result = std::move(answer);
    } else if (answer.is_object() && answer.contains("error") && answer["error"].is_string()) {
      int code = answer.value("code", static_cast<int>(absl::StatusCode::kInternal));
      if (code <= 0 || code > static_cast<int>(absl::StatusCode::kUnauthenticated)) {
        code = static_cast<int>(absl::StatusCode::kInternal);
      }
      result =
          absl::Status(static_cast<absl::StatusCode>(code), answer["error"].get<std::string>());
    } else {
      // Not the protocol: do not reuse this helper.
      return absl::InternalError(absl::StrCat(who, ": unexpected answer '", **line, "'"));
    }
    Give(task, std::move(helper));
    return result;
  }

 private:
  std::unique_ptr<PipeProcess> Take(const std::string& task) {
    absl::MutexLock lock(&mu_);
    for (auto it = idle_.begin(); it != idle_.end(); ++it) {
      if (it->first != task) continue;
      std::unique_ptr<PipeProcess> helper = std::move(it->second);
      idle_.erase(it);
      return helper;
    }
    return nullptr;
  }

  // Keeps `helper` idle, most recently used first; beyond max_idle_, the least recently used
  // idle helper is closed (each holds ~180 MB: LibTorch and the model).
  void Give(const std::string& task, std::unique_ptr<PipeProcess> helper) {
    std::unique_ptr<PipeProcess> evicted;
    {
      absl::MutexLock lock(&mu_);
      idle_.emplace_front(task, std::move(helper));
      if (static_cast<int>(idle_.size()) > max_idle_) {
        evicted = std::move(idle_.back().second);
        idle_.pop_back();
      }
    }
    if (evicted != nullptr) (void)evicted->Close(absl::Seconds(2));
  }

  static absl::Status Dead(std::unique_ptr<PipeProcess> helper, const std::string& who) {
    absl::StatusOr<int> exit = helper->Close(absl::Seconds(2));
    return absl::UnavailableError(absl::StrCat(
        who, ": exited without answering",
        exit.ok() ? absl::StrCat(" (exit status ", *exit, "; its stderr says why)") : ""));
  }

  const std::string executable_;
  const absl::Duration timeout_;
  const int max_idle_;
  absl::Mutex mu_;
  // Idle helpers and the task each serves, most recently used first.
  std::list<std::pair<std::string, std::unique_ptr<PipeProcess>>> idle_ ABSL_GUARDED_BY(mu_);
};

// One parameter assignment as the JSON object `hpo-task --serve` reads.
nlohmann::json ParamsJson(const hpo::v1::ParamMap& params) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [name, v] : params.values()) {
    switch (v.kind_case()) {
      case hpo::v1::ParamValue::kFloatValue:
        out[name] = v.float_value();
        break;
      case hpo::v1::ParamValue::kIntValue:
        out[name] = v.int_value();
        break;
      case hpo::v1::ParamValue::kBoolValue:
        out[name] = v.bool_value();
        break;
      default:
        out[name] = v.string_value();
        break;
    }
  }
  return out;
}

// Thread-safe: immutable; the pool is.
class ServedLcbenchTask final : public Task {
 public:
  ServedLcbenchTask(std::string name, std::shared_ptr<HelperPool> pool)
      : name_(std::move(name)), space_(tasks::LcbenchSpace()), pool_(std::move(pool)) {}

  std::string name() const override { return name_; }
  hpo::v1::SearchSpace space() const override { return space_; }
  double optimum() const override { return std::nan(""); }
  hpo::v1::ParamMap optimum_params() const override { return hpo::v1::ParamMap(); }

  absl::StatusOr<double> Evaluate(const hpo::v1::ParamMap& params,
                                  const tasks::TaskOptions& options,
                                  tasks::Reporter& reporter) const override {
    if (options.steps < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat(name_, ": steps must be >= 1, got ", options.steps));
    }
    HPO_RETURN_IF_ERROR(core::ValidateParams(space_, params));
    nlohmann::json request{{"params", ParamsJson(params)}};
    if (options.steps > 1) request["steps"] = options.steps;
    HPO_ASSIGN_OR_RETURN(nlohmann::json answer, pool_->Ask(name_, request.dump()));
    if (!answer.contains("value")) {
      return absl::InternalError(absl::StrCat(name_, ": the helper's answer has no value"));
    }
    const double value = answer["value"].get<double>();
    std::vector<double> curve = {value};
    if (options.steps > 1) {
      if (!answer.contains("curve") || !answer["curve"].is_array() ||
          static_cast<int>(answer["curve"].size()) != options.steps) {
        return absl::InternalError(
            absl::StrCat(name_, ": the helper's answer has no curve of ", options.steps, " steps"));
      }
      curve.clear();
      for (const nlohmann::json& v : answer["curve"]) {
        if (!v.is_number()) return absl::InternalError(absl::StrCat(name_, ": bad curve value"));
        curve.push_back(v.get<double>());
      }
    }
    for (size_t t = 0; t < curve.size(); ++t) {
      core::MetricLine line;
      line.step = static_cast<int64_t>(t + 1);
      line.final = t + 1 == curve.size();
      line.metrics[std::string(tasks::kValueMetric)] = curve[t];
      if (!reporter.Report(line)) {
        return absl::CancelledError(absl::StrCat(name_, ": stopped at step ", t + 1));
      }
    }
    return value;
  }

  // One helper round trip for all of them.
  absl::StatusOr<std::vector<std::vector<double>>> ValuesAtMany(
      const std::vector<EpochQuery>& queries) const override {
    nlohmann::json batch = nlohmann::json::array();
    for (const EpochQuery& q : queries) {
      HPO_RETURN_IF_ERROR(core::ValidateParams(space_, q.params));
      batch.push_back({{"params", ParamsJson(q.params)}, {"epochs", q.epochs}});
    }
    const nlohmann::json request{{"batch", batch}};
    HPO_ASSIGN_OR_RETURN(nlohmann::json answer, pool_->Ask(name_, request.dump()));
    std::vector<std::vector<double>> values;
    if (answer.contains("batch") && answer["batch"].is_array()) {
      for (const nlohmann::json& row : answer["batch"]) {
        std::vector<double>& v = values.emplace_back();
        if (!row.is_array()) continue;
        for (const nlohmann::json& x : row) {
          if (x.is_number()) v.push_back(x.get<double>());
        }
      }
    }
    bool fits = values.size() == queries.size();
    for (size_t i = 0; fits && i < queries.size(); ++i) {
      fits = values[i].size() == queries[i].epochs.size();
    }
    if (!fits) {
      return absl::InternalError(
          absl::StrCat(name_, ": the helper's answer does not match the batch asked for"));
    }
    return values;
  }

 private:
  const std::string name_;
  const hpo::v1::SearchSpace space_;
  const std::shared_ptr<HelperPool> pool_;
};

}  // namespace

TaskFactory LcbenchTaskFactory(LcbenchFactoryOptions options) {
  const int max_idle = options.max_idle > 0
                           ? options.max_idle
                           : std::max(2, static_cast<int>(std::thread::hardware_concurrency()));
  auto pool = std::make_shared<HelperPool>(
      options.executable.empty() ? DefaultExecutable() : options.executable, options.timeout,
      max_idle);
  return [pool](absl::string_view name) -> absl::StatusOr<std::unique_ptr<Task>> {
    const absl::string_view prefix = tasks::kLcbenchPrefix;
    if (!absl::StartsWith(name, prefix)) {
      return absl::NotFoundError(
          absl::StrCat("'", name, "' is not an LCBench task (", prefix, "<OpenML task id>)"));
    }
    const std::string id(name.substr(prefix.size()));
    HPO_RETURN_IF_ERROR(tasks::CheckLcbenchTaskIdFormat(id));
    HPO_RETURN_IF_ERROR(tasks::CheckLcbenchModel());
    HPO_ASSIGN_OR_RETURN(const std::vector<std::string> ids, tasks::LcbenchTaskIds());
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) {
      return absl::NotFoundError(absl::StrCat("unknown LCBench task '", name,
                                              "'; OpenML task ids: ", absl::StrJoin(ids, ", ")));
    }
    if (::access(pool->executable().c_str(), X_OK) != 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("the LCBench tasks need ", pool->executable(),
                       " (built only where LibTorch is found; or set HPO_TASK_LCBENCH)"));
    }
    return std::unique_ptr<Task>(std::make_unique<ServedLcbenchTask>(std::string(name), pool));
  };
}

}  // namespace hpo::harness
