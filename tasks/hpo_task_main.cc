// hpo-task: runs one built-in task as a process and prints its learning curve
// as metric lines.
//
//   hpo-task NAME --x1=0.5 --x2=3 [--steps=N] [--step_ms=M]
//   hpo-task fmnist-cnn --lr=0.01 ... [--epochs=N] [--seed=S] [--max-train-samples=N]
//            [--bf16=1] [--cuda-graph=0]     (the trainers' options, TaskOptions)
//   hpo-task NAME --param x1=0.5 --param=x2=3
//   HPO_PARAMS='{"x1": 0.5, "x2": 3}' hpo-task NAME
//   hpo-task --list
//   hpo-task --serve NAME
//
// --serve keeps the task loaded and evaluates it once per request: it reads one
// JSON object a line on stdin, {"params": {"x1": 0.5, "x2": 3}}, and answers
// each with one line on stdout, {"value": f(x)} (the blackbox value: one step,
// no learning curve) or {"error": "...", "code": N} (N an absl::StatusCode);
// a request with "steps": N (N >= 1) gets the learning curve too,
// {"value": f(x), "curve": [v1, ..., vN]} (the value at each step), and one with
// "epochs": [e1, ...] only the values at those epochs of the task's full curve
// (Task::ValuesAt), {"values": [...]}; and {"batch": [{"params": ..., "epochs":
// [...]}, ...]} the same for several configurations at once (Task::ValuesAtMany),
// {"batch": [[...], ...]};
// blank lines are ignored, and it exits 0 at end of input. The bench harness
// uses it to evaluate lcbench-<id> tasks without linking LibTorch itself.
//
// The lcbench-<id> tasks and the fmnist-* trainers need LibTorch, which costs ~0.6 s of startup:
// they live in hpo-task-lcbench and hpo-task-train, and hpo-task hands such names over to them
// (exec, same arguments), so the synthetic tasks stay fast.
//
// Exit status: 0 when the task ran, 2 on bad input (message on stderr), 1
// otherwise.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "core/metric_line.h"
#include "core/search_space.h"
#include "core/status_macros.h"
#include "nlohmann/json.hpp"
#include "tasks/fmnist_data.h"
#include "tasks/lcbench_data.h"
#include "tasks/task.h"

namespace hpo::tasks {
namespace {

constexpr int kBadInput = 2;

struct Invocation {
  bool list = false;
  bool serve = false;
  std::string task;
  TaskOptions options;
  std::vector<std::pair<std::string, std::string>> params;  // name, text, in order given
};

absl::Status ParseIntFlag(absl::string_view name, absl::string_view text, int min, int* out) {
  if (!absl::SimpleAtoi(text, out) || *out < min) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, ": expected an integer >= ", min, ", got '", text, "'"));
  }
  return absl::OkStatus();
}

absl::Status ParseBoolFlag(absl::string_view name, absl::string_view text, bool* out) {
  if (text == "1" || text == "true") {
    *out = true;
  } else if (text == "0" || text == "false") {
    *out = false;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, ": expected true, false, 1 or 0, got '", text, "'"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Invocation> ParseArgs(int argc, char** argv) {
  Invocation inv;
  std::vector<std::string> args(argv + 1, argv + argc);
  for (size_t i = 0; i < args.size(); ++i) {
    absl::string_view arg = args[i];
    if (arg == "--list") {
      inv.list = true;
      continue;
    }
    if (arg == "--help" || arg == "-h") {
      return absl::InvalidArgumentError(
          "usage: hpo-task NAME --PARAM=VALUE... [--steps=N] [--step_ms=M] [--epochs=N] [--seed=S] "
          "[--max-train-samples=N] [--bf16=0|1] [--cuda-graph=0|1] | "
          "hpo-task --serve NAME | hpo-task --list");
    }
    if (!absl::ConsumePrefix(&arg, "--")) {
      if (!inv.task.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("unexpected argument '", arg, "' (the task is '", inv.task, "')"));
      }
      inv.task = std::string(arg);
      continue;
    }
    // --name=value or --name value.
    std::string name, value;
    if (size_t eq = arg.find('='); eq != absl::string_view::npos) {
      name = std::string(arg.substr(0, eq));
      value = std::string(arg.substr(eq + 1));
    } else {
      name = std::string(arg);
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(absl::StrCat("--", name, ": missing value"));
      }
      value = args[++i];
    }
    if (name.empty()) return absl::InvalidArgumentError(absl::StrCat("bad flag '", args[i], "'"));
    if (name == "serve") {  // --serve NAME: NAME is the task
      if (!inv.task.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("--serve ", value, ": the task is already '", inv.task, "'"));
      }
      inv.serve = true;
      inv.task = value;
    } else if (name == "steps" || name == "epochs") {
      HPO_RETURN_IF_ERROR(ParseIntFlag(name, value, 1, &inv.options.steps));
    } else if (name == "seed") {
      int seed = 0;
      HPO_RETURN_IF_ERROR(ParseIntFlag(name, value, 0, &seed));
      inv.options.seed = seed;
    } else if (name == "max-train-samples" || name == "max_train_samples") {
      HPO_RETURN_IF_ERROR(ParseIntFlag(name, value, 0, &inv.options.max_train_samples));
    } else if (name == "bf16") {
      HPO_RETURN_IF_ERROR(ParseBoolFlag(name, value, &inv.options.bf16));
    } else if (name == "cuda-graph" || name == "cuda_graph") {
      HPO_RETURN_IF_ERROR(ParseBoolFlag(name, value, &inv.options.cuda_graph));
    } else if (name == "step_ms" || name == "step-ms") {
      HPO_RETURN_IF_ERROR(ParseIntFlag(name, value, 0, &inv.options.step_ms));
    } else if (name == "param") {
      const size_t eq = value.find('=');
      if (eq == std::string::npos || eq == 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("--param: expected NAME=VALUE, got '", value, "'"));
      }
      inv.params.emplace_back(value.substr(0, eq), value.substr(eq + 1));
    } else {
      inv.params.emplace_back(name, value);
    }
  }
  if (!inv.list && inv.task.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("missing task name; known tasks: ", absl::StrJoin(TaskNames(), ", ")));
  }
  return inv;
}

const hpo::v1::ParamSpec* FindOrNull(const hpo::v1::SearchSpace& space, const std::string& name) {
  return core::FindParam(space, name);
}

absl::Status UnknownParam(const Task& task, const std::string& name) {
  const hpo::v1::SearchSpace space = task.space();
  std::vector<std::string> names;
  for (const hpo::v1::ParamSpec& p : space.params()) names.push_back(p.name());
  return absl::InvalidArgumentError(absl::StrCat("unknown parameter '", name, "' for task ",
                                                 task.name(),
                                                 "; parameters: ", absl::StrJoin(names, ", ")));
}

absl::StatusOr<hpo::v1::ParamMap> ParamsFromFlags(
    const Task& task, const std::vector<std::pair<std::string, std::string>>& flags) {
  const hpo::v1::SearchSpace space = task.space();
  hpo::v1::ParamMap params;
  for (const auto& [name, text] : flags) {
    const hpo::v1::ParamSpec* spec = FindOrNull(space, name);
    if (spec == nullptr) return UnknownParam(task, name);
    HPO_ASSIGN_OR_RETURN(hpo::v1::ParamValue value, core::ParseValue(*spec, text));
    (*params.mutable_values())[name] = value;
  }
  return params;
}

// `json` is an object of parameter values; `what` names its source in errors.
absl::StatusOr<hpo::v1::ParamMap> ParamsFromJsonObject(const Task& task, const nlohmann::json& json,
                                                       absl::string_view what) {
  if (!json.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": not a JSON object"));
  }
  const hpo::v1::SearchSpace space = task.space();
  hpo::v1::ParamMap params;
  for (const auto& [name, v] : json.items()) {
    const hpo::v1::ParamSpec* spec = FindOrNull(space, name);
    if (spec == nullptr) return core::Annotate(UnknownParam(task, name), what);
    hpo::v1::ParamValue value;
    if (spec->has_float_domain() && v.is_number()) {
      value.set_float_value(v.get<double>());
    } else if (spec->has_int_domain() && v.is_number_integer()) {
      value.set_int_value(v.get<int64_t>());
    } else if (v.is_string() || v.is_number() || v.is_boolean()) {
      HPO_ASSIGN_OR_RETURN(
          value, core::ParseValue(*spec, v.is_string() ? v.get<std::string>() : v.dump()));
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": parameter '", name, "' has a non-scalar value"));
    }
    (*params.mutable_values())[name] = value;
  }
  return params;
}

absl::StatusOr<hpo::v1::ParamMap> ParamsFromJson(const Task& task, const char* text) {
  nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return absl::InvalidArgumentError("HPO_PARAMS: not a JSON object");
  return ParamsFromJsonObject(task, json, "HPO_PARAMS");
}

// The answer to one --serve request line.
nlohmann::json ServeOne(const Task& task, const std::string& line) {
  auto error = [](const absl::Status& status) {
    return nlohmann::json{{"error", std::string(status.message())},
                          {"code", static_cast<int>(status.code())}};
  };
  nlohmann::json request = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  auto epochs_of = [](const nlohmann::json& list) -> absl::StatusOr<std::vector<int>> {
    std::vector<int> epochs;
    if (list.is_array()) {
      for (const nlohmann::json& e : list) {
        if (!e.is_number_integer()) break;
        epochs.push_back(e.get<int>());
      }
    }
    if (!list.is_array() || epochs.size() != list.size()) {
      return absl::InvalidArgumentError("epochs: expected an array of integers");
    }
    return epochs;
  };
  if (!request.is_discarded() && request.is_object() && request.contains("batch")) {
    if (!request["batch"].is_array()) {
      return error(absl::InvalidArgumentError("batch: expected an array"));
    }
    std::vector<Task::EpochQuery> queries;
    for (const nlohmann::json& item : request["batch"]) {
      if (!item.is_object() || !item.contains("params") || !item.contains("epochs")) {
        return error(absl::InvalidArgumentError(
            "batch: each item is {\"params\": {...}, \"epochs\": [...]}"));
      }
      absl::StatusOr<hpo::v1::ParamMap> params =
          ParamsFromJsonObject(task, item["params"], "params");
      if (!params.ok()) return error(params.status());
      absl::StatusOr<std::vector<int>> epochs = epochs_of(item["epochs"]);
      if (!epochs.ok()) return error(epochs.status());
      queries.push_back({*std::move(params), *std::move(epochs)});
    }
    absl::StatusOr<std::vector<std::vector<double>>> values = task.ValuesAtMany(queries);
    if (!values.ok()) return error(values.status());
    return nlohmann::json{{"batch", *values}};
  }
  if (request.is_discarded() || !request.is_object() || !request.contains("params")) {
    return error(absl::InvalidArgumentError(
        "expected a JSON object {\"params\": {NAME: VALUE, ...}} on one line"));
  }
  absl::StatusOr<hpo::v1::ParamMap> params =
      ParamsFromJsonObject(task, request["params"], "params");
  if (!params.ok()) return error(params.status());
  if (request.contains("epochs")) {
    absl::StatusOr<std::vector<int>> epochs = epochs_of(request["epochs"]);
    if (!epochs.ok()) return error(epochs.status());
    absl::StatusOr<std::vector<double>> values = task.ValuesAt(*params, *epochs);
    if (!values.ok()) return error(values.status());
    return nlohmann::json{{"values", *values}};
  }
  TaskOptions options;
  if (request.contains("steps")) {
    if (!request["steps"].is_number_integer() || request["steps"].get<int64_t>() < 1 ||
        request["steps"].get<int64_t>() > 100000) {
      return error(absl::InvalidArgumentError("steps: expected an integer in [1, 100000]"));
    }
    options.steps = request["steps"].get<int>();
  }
  nlohmann::json curve = nlohmann::json::array();
  CallbackReporter collect([&curve](const core::MetricLine& line) {
    auto it = line.metrics.find(std::string(kValueMetric));
    if (it != line.metrics.end()) curve.push_back(it->second);
    return true;
  });
  absl::StatusOr<double> value = task.Evaluate(*params, options, collect);
  if (!value.ok()) return error(value.status());
  if (!request.contains("steps")) return nlohmann::json{{"value", *value}};
  return nlohmann::json{{"value", *value}, {"curve", curve}};
}

// --serve: answers requests on stdin until end of input.
int Serve(const Task& task) {
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string answer = ServeOne(task, line).dump() + "\n";
    if (std::fwrite(answer.data(), 1, answer.size(), stdout) != answer.size() ||
        std::fflush(stdout) != 0) {
      return 1;  // the reader went away
    }
  }
  return 0;
}

int Run(int argc, char** argv) {
  if (argc == 2 && std::string(argv[1]) == "--version") {
    std::cout << "hpo-task " << HPO_VERSION << "\n";
    return 0;
  }
  absl::StatusOr<Invocation> inv = ParseArgs(argc, argv);
  if (!inv.ok()) {
    std::cerr << "hpo-task: " << inv.status().message() << "\n";
    return kBadInput;
  }
  if (inv->list) {
    for (const std::string& name : AllTaskNames()) std::cout << name << "\n";
    return 0;
  }
  absl::StatusOr<std::unique_ptr<Task>> task = MakeTask(inv->task);
#ifdef HPO_TASK_DISPATCH_LCBENCH
  // The tasks that need LibTorch live in helper programs beside this one.
  const char* helper = nullptr;
  if (absl::StartsWith(inv->task, kLcbenchPrefix)) helper = "hpo-task-lcbench";
  if (absl::StartsWith(inv->task, kFmnistPrefix)) helper = "hpo-task-train";
  if (!task.ok() && helper != nullptr) {
    char self[4096];
    const ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0) {
      std::string path(self, n);
      path = path.substr(0, path.rfind('/') + 1) + helper;
      ::execv(path.c_str(), argv);
      std::cerr << "hpo-task: " << inv->task << " needs " << path << ": " << std::strerror(errno)
                << "\n";
      return 1;
    }
  }
#endif
  if (!task.ok()) {
    if (absl::IsFailedPrecondition(task.status())) {  // e.g. the LCBench model file is missing
      std::cerr << "hpo-task: " << task.status().message() << "\n";
      return 1;
    }
    std::cerr << "hpo-task: " << task.status().message() << "\n";
    return kBadInput;
  }
  if (inv->serve) {
    if (!inv->params.empty()) {
      std::cerr << "hpo-task: --serve takes the parameters on stdin, not as flags\n";
      return kBadInput;
    }
    return Serve(**task);
  }
  absl::StatusOr<hpo::v1::ParamMap> params;
  const char* env = std::getenv("HPO_PARAMS");
  if (inv->params.empty() && env != nullptr) {
    params = ParamsFromJson(**task, env);
  } else {
    params = ParamsFromFlags(**task, inv->params);
  }
  if (!params.ok()) {
    std::cerr << "hpo-task: " << params.status().message() << "\n";
    return kBadInput;
  }

  CallbackReporter reporter([](const core::MetricLine& line) {
    const std::string text = core::FormatMetricLine(line) + "\n";
    return std::fwrite(text.data(), 1, text.size(), stdout) == text.size() &&
           std::fflush(stdout) == 0;
  });
  absl::StatusOr<double> value = (*task)->Evaluate(*params, inv->options, reporter);
  if (!value.ok()) {
    std::cerr << "hpo-task: " << value.status().message() << "\n";
    return value.status().code() == absl::StatusCode::kInvalidArgument ? kBadInput : 1;
  }
  return 0;
}

}  // namespace
}  // namespace hpo::tasks

int main(int argc, char** argv) { return hpo::tasks::Run(argc, argv); }
