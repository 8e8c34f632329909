#include "harness/optuna_runner.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/search_space.h"
#include "core/status_macros.h"
#include "harness/digest.h"
#include "harness/evaluate.h"
#include "harness/pipe_process.h"
#include "nlohmann/json.hpp"

#ifndef HPO_SOURCE_DIR
#define HPO_SOURCE_DIR "."
#endif
#ifndef HPO_INSTALL_DATADIR
#define HPO_INSTALL_DATADIR "/usr/local/share"
#endif

namespace hpo::harness {
namespace {

using nlohmann::json;

constexpr absl::string_view kPrefix = "optuna-";

json ValueToJson(const hpo::v1::ParamValue& v) {
  switch (v.kind_case()) {
    case hpo::v1::ParamValue::kFloatValue:
      return v.float_value();
    case hpo::v1::ParamValue::kIntValue:
      return v.int_value();
    case hpo::v1::ParamValue::kStringValue:
      return v.string_value();
    case hpo::v1::ParamValue::kBoolValue:
      return v.bool_value();
    default:
      return nullptr;
  }
}

// Index of `value` among a categorical's choices, or -1.
int ChoiceIndex(const hpo::v1::ParamSpec& spec, const hpo::v1::ParamValue& value) {
  const auto& choices = spec.categorical().choices();
  for (int i = 0; i < choices.size(); ++i) {
    if (core::ValueEquals(choices[i], value)) return i;
  }
  return -1;
}

// Runs one request: writes `request`, reads one reply line, returns it parsed. An {"error": ..}
// reply becomes INTERNAL with the adapter's message.
absl::StatusOr<json> Call(PipeProcess& proc, const json& request, absl::Duration timeout) {
  HPO_RETURN_IF_ERROR(proc.WriteLine(request.dump()));
  HPO_ASSIGN_OR_RETURN(std::optional<std::string> line, proc.ReadLine(absl::Now() + timeout));
  if (!line.has_value()) {
    return absl::UnavailableError("the Optuna adapter exited (see its log)");
  }
  json reply = json::parse(*line, nullptr, /*allow_exceptions=*/false);
  if (reply.is_discarded() || !reply.is_object()) {
    return absl::InternalError(
        absl::StrCat("the Optuna adapter wrote a line that is not a JSON "
                     "object: ",
                     line->substr(0, 200)));
  }
  if (reply.contains("error")) {
    return absl::InternalError(absl::StrCat("Optuna adapter: ", reply["error"].dump()));
  }
  return reply;
}

bool FileExists(const std::string& path) { return ::access(path.c_str(), R_OK) == 0; }

// Reads the adapter's first line: its version, or why Optuna cannot be used.
absl::StatusOr<std::string> ReadHello(PipeProcess& proc, const std::string& python,
                                      absl::Duration timeout) {
  absl::StatusOr<std::optional<std::string>> line = proc.ReadLine(absl::Now() + timeout);
  if (!line.ok()) return absl::FailedPreconditionError(line.status().message());
  if (!line->has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat(python, " ended without a word from the Optuna adapter"));
  }
  json hello = json::parse(**line, nullptr, /*allow_exceptions=*/false);
  if (hello.is_object() && hello.contains("error") && hello["error"].is_string()) {
    return absl::FailedPreconditionError(hello["error"].get<std::string>());
  }
  if (!hello.is_object() || !hello.value("ready", false)) {
    return absl::FailedPreconditionError(
        absl::StrCat("unexpected first line from the Optuna adapter: ", (*line)->substr(0, 200)));
  }
  return hello.value("optuna", std::string("?"));
}

}  // namespace

bool IsOptunaOptimizer(absl::string_view optimizer) {
  return optimizer == "optuna-tpe" || optimizer == "optuna-random";
}

std::string DefaultOptunaAdapterPath() {
  const char* env = std::getenv("HPO_OPTUNA_ADAPTER");
  if (env != nullptr && *env != '\0') return env;
  const std::string source = std::string(HPO_SOURCE_DIR) + "/harness/optuna_adapter.py";
  const std::string installed = std::string(HPO_INSTALL_DATADIR) + "/hpo/optuna_adapter.py";
  if (FileExists(source)) return source;
  if (FileExists(installed)) return installed;
  return source;
}

json SpaceToAdapterJson(const hpo::v1::SearchSpace& space) {
  json params = json::array();
  for (const hpo::v1::ParamSpec& spec : space.params()) {
    json p = {{"name", spec.name()}};
    switch (spec.domain_case()) {
      case hpo::v1::ParamSpec::kFloatDomain:
        p["type"] = "float";
        p["low"] = spec.float_domain().low();
        p["high"] = spec.float_domain().high();
        p["log"] = spec.float_domain().log();
        p["step"] = spec.float_domain().step();
        break;
      case hpo::v1::ParamSpec::kIntDomain:
        p["type"] = "int";
        p["low"] = spec.int_domain().low();
        p["high"] = spec.int_domain().high();
        p["log"] = spec.int_domain().log();
        p["step"] = spec.int_domain().step() == 0 ? 1 : spec.int_domain().step();
        break;
      case hpo::v1::ParamSpec::kCategorical:
        p["type"] = "categorical";
        p["n"] = spec.categorical().choices_size();
        break;
      default:
        break;
    }
    if (spec.has_condition()) {
      const hpo::v1::ParamSpec* parent = core::FindParam(space, spec.condition().parent());
      json values = json::array();
      for (const hpo::v1::ParamValue& v : spec.condition().values()) {
        if (parent != nullptr && parent->has_categorical()) {
          values.push_back(ChoiceIndex(*parent, v));
        } else {
          values.push_back(ValueToJson(v));
        }
      }
      p["condition"] = {{"parent", spec.condition().parent()}, {"values", values}};
    }
    params.push_back(std::move(p));
  }
  return params;
}

absl::StatusOr<hpo::v1::ParamMap> ParamsFromAdapterJson(const hpo::v1::SearchSpace& space,
                                                        const json& values) {
  if (!values.is_object()) return absl::InvalidArgumentError("params: not a JSON object");
  hpo::v1::ParamMap out;
  for (const hpo::v1::ParamSpec& spec : space.params()) {
    if (!core::IsActive(spec, out)) continue;
    auto it = values.find(spec.name());
    if (it == values.end()) {
      return absl::InvalidArgumentError(absl::StrCat("params.", spec.name(), ": missing"));
    }
    const json& v = *it;
    hpo::v1::ParamValue value;
    if (spec.has_float_domain()) {
      if (!v.is_number()) {
        return absl::InvalidArgumentError(absl::StrCat("params.", spec.name(), ": not a number"));
      }
      value.set_float_value(v.get<double>());
      const auto& d = spec.float_domain();
      const double x = value.float_value();
      if (d.step() > 0 || !(x >= d.low() && x <= d.high())) {
        value = core::Decode(spec, core::Encode(spec, value));
      }
    } else if (spec.has_int_domain()) {
      if (!v.is_number() || std::floor(v.get<double>()) != v.get<double>()) {
        return absl::InvalidArgumentError(
            absl::StrCat("params.", spec.name(), ": not an integer: ", v.dump()));
      }
      value.set_int_value(v.get<int64_t>());
    } else if (spec.has_categorical()) {
      if (!v.is_number_integer() || v.get<int64_t>() < 0 ||
          v.get<int64_t>() >= spec.categorical().choices_size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("params.", spec.name(), ": not a choice index: ", v.dump()));
      }
      value = spec.categorical().choices(static_cast<int>(v.get<int64_t>()));
    }
    (*out.mutable_values())[spec.name()] = std::move(value);
  }
  for (auto it = values.begin(); it != values.end(); ++it) {
    if (!out.values().contains(it.key())) {
      return absl::InvalidArgumentError(
          absl::StrCat("params.", it.key(), ": not an active parameter of the space"));
    }
  }
  HPO_RETURN_IF_ERROR(core::ValidateParams(space, out));
  return out;
}

absl::StatusOr<std::unique_ptr<OptunaRunner>> OptunaRunner::Create(Options options) {
  if (options.python.empty() || options.adapter.empty() || !options.task_factory) {
    return absl::InvalidArgumentError("OptunaRunner needs python, adapter and a task factory");
  }
  if (options.max_parallel <= 0) {
    options.max_parallel = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  }
  return std::unique_ptr<OptunaRunner>(new OptunaRunner(std::move(options)));
}

std::string OptunaRunner::AdapterDigest() const {
  std::ifstream in(options_.adapter, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return in ? Digest(text.str()) : "unreadable";
}

absl::StatusOr<std::string> OptunaRunner::Probe() const {
  if (!FileExists(options_.adapter)) {
    return absl::FailedPreconditionError(
        absl::StrCat("the Optuna adapter '", options_.adapter, "' is missing"));
  }
  PipeProcess::Options popts;
  popts.argv = {options_.python, options_.adapter};
  popts.stderr_path = "/dev/null";
  auto proc = PipeProcess::Spawn(popts);
  if (!proc.ok()) return absl::FailedPreconditionError(proc.status().message());
  absl::StatusOr<std::string> version = ReadHello(**proc, options_.python, absl::Seconds(60));
  (void)(*proc)->Close(absl::Seconds(5));
  return version;
}

absl::Status OptunaRunner::RunInto(const RunSpec& spec, RunRecord& record) {
  record.spec = spec;
  if (!IsOptunaOptimizer(spec.optimizer)) {
    return absl::InvalidArgumentError(
        absl::StrCat("not an Optuna optimizer (known: optuna-tpe, optuna-random)"));
  }
  if (spec.trials < 1) {
    return absl::InvalidArgumentError(absl::StrCat("trials must be >= 1, got ", spec.trials));
  }
  const absl::Time start = absl::Now();
  auto task = options_.task_factory(spec.task);
  if (!task.ok()) return task.status();
  record.optimum = (*task)->optimum();
  const hpo::v1::SearchSpace space = (*task)->space();

  PipeProcess::Options popts;
  popts.argv = {options_.python, options_.adapter};
  popts.stderr_path = options_.log_dir.empty()
                          ? "/dev/null"
                          : absl::StrCat(options_.log_dir, "/", spec.optimizer, "_", spec.task,
                                         "_s", spec.seed, ".log");
  auto proc_or = PipeProcess::Spawn(popts);
  if (!proc_or.ok()) return proc_or.status();
  PipeProcess& proc = **proc_or;
  auto hello = ReadHello(proc, options_.python, options_.reply_timeout);
  if (!hello.ok()) return hello.status();

  const json init = {{"cmd", "init"},
                     {"space", SpaceToAdapterJson(space)},
                     {"sampler", spec.optimizer.substr(kPrefix.size())},
                     {"seed", spec.seed}};
  if (auto r = Call(proc, init, options_.reply_timeout); !r.ok()) return r.status();

  for (int number = 0; number < spec.trials; ++number) {
    const std::string at = absl::StrCat("trial ", number);
    auto asked = Call(proc, json{{"cmd", "ask"}}, options_.reply_timeout);
    if (!asked.ok()) return core::Annotate(asked.status(), at);
    if (!asked->contains("params")) {
      return absl::InternalError(
          absl::StrCat(at, ": the Optuna adapter's reply has no params: ", asked->dump()));
    }
    auto params = ParamsFromAdapterJson(space, (*asked)["params"]);
    if (!params.ok()) {
      return absl::InternalError(
          absl::StrCat(at, ": Optuna suggested ", params.status().message()));
    }
    auto value = EvaluateTask(**task, space, *params);
    if (!value.ok()) return core::Annotate(value.status(), at);
    json tell = {{"cmd", "tell"}, {"value", *value}};
    if (!std::isfinite(*value)) tell["value"] = nullptr;
    if (auto r = Call(proc, tell, options_.reply_timeout); !r.ok()) {
      return core::Annotate(r.status(), at);
    }
    AppendEval(record, *value, core::ParamsToJson(*params));
    record.wall_s = absl::ToDoubleSeconds(absl::Now() - start);
  }
  (void)proc.Close(absl::Seconds(5));
  if (!options_.log_dir.empty()) {  // keep only logs that say something
    std::error_code ec;
    if (std::filesystem::file_size(popts.stderr_path, ec) == 0 && !ec) {
      std::filesystem::remove(popts.stderr_path, ec);
    }
  }
  record.wall_s = absl::ToDoubleSeconds(absl::Now() - start);
  return absl::OkStatus();
}

absl::StatusOr<RunRecord> OptunaRunner::Run(const RunSpec& spec, RunRecord* partial) {
  {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(this, &OptunaRunner::HasFreeSlot));
    ++running_;
  }
  RunRecord record;
  const absl::Status s = RunInto(spec, record);
  {
    absl::MutexLock lock(&mu_);
    --running_;
  }
  if (!s.ok()) {
    if (partial != nullptr) *partial = std::move(record);
    return core::Annotate(s, spec.Label());
  }
  return record;
}

}  // namespace hpo::harness
