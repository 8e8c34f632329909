#include "tasks/lcbench_data.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "nlohmann/json.hpp"
#include "tasks/space_builder.h"

namespace hpo::tasks {
namespace {

using hpo::v1::ParamSpec;
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

// The JSON document in `path`; FAILED_PRECONDITION when absent or malformed.
absl::StatusOr<nlohmann::json> ReadJson(const std::string& path) {
  std::ifstream in(path);
  if (!in) return LcbenchNotFound(path);
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json json = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    return absl::FailedPreconditionError(absl::StrCat(path, ": not valid JSON"));
  }
  return json;
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

std::string LcbenchModelPath(const std::string& model_dir) {
  return PathIn(ResolveDir(model_dir), kModelFile);
}

absl::Status LcbenchNotFound(const std::string& path) {
  return absl::FailedPreconditionError(
      absl::StrCat("LCBench surrogate not found at ", path, ": set HPO_LCBENCH_DIR"));
}

absl::Status CheckLcbenchTaskIdFormat(absl::string_view id) {
  if (id.empty() || !std::all_of(id.begin(), id.end(), absl::ascii_isdigit)) {
    return absl::NotFoundError(absl::StrCat("'", kLcbenchPrefix, id, "' is not an LCBench task (",
                                            kLcbenchPrefix, "<OpenML task id>)"));
  }
  return absl::OkStatus();
}

absl::Status CheckLcbenchModel(const std::string& model_dir) {
  const std::string path = LcbenchModelPath(model_dir);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return LcbenchNotFound(path);
  return absl::OkStatus();
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

absl::StatusOr<std::map<std::string, int64_t>> LcbenchTaskCodes(const std::string& model_dir) {
  const std::string path = PathIn(ResolveDir(model_dir), kEncodingFile);
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

absl::StatusOr<std::vector<std::string>> LcbenchTaskIds(const std::string& model_dir) {
  const std::string dir = ResolveDir(model_dir);
  HPO_ASSIGN_OR_RETURN(const auto codes, LcbenchTaskCodes(dir));
  HPO_ASSIGN_OR_RETURN(const std::vector<std::string> declared, ReadConfigSpaceIds(dir));
  std::vector<std::string> ids;
  for (const std::string& id : declared) {
    if (codes.count(id) > 0) ids.push_back(id);
  }
  return ids;
}

}  // namespace hpo::tasks
