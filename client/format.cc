#include "client/format.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/search_space.h"
#include "core/study_spec.h"
#include "core/text_format.h"
#include "core/trial_states.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"

namespace hpo::client {
namespace {

using Row = std::vector<std::string>;
using core::CsvField;
using core::RoundTripNumber;

std::string RenderTable(const Row& header, const std::vector<Row>& rows) {
  std::vector<size_t> width(header.size(), 0);
  for (size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  for (const Row& r : rows) {
    for (size_t i = 0; i < r.size() && i < width.size(); ++i) {
      width[i] = std::max(width[i], r[i].size());
    }
  }
  std::string out;
  auto emit = [&](const Row& r) {
    std::string line;
    for (size_t i = 0; i < header.size(); ++i) {
      const std::string cell = i < r.size() ? r[i] : "";
      absl::StrAppend(&line, cell,
                      i + 1 < header.size() ? std::string(width[i] - cell.size() + 2, ' ') : "");
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    absl::StrAppend(&out, line, "\n");
  };
  emit(header);
  for (const Row& r : rows) emit(r);
  return out;
}

std::string ValueText(const hpo::v1::Trial& t) {
  return t.has_value() ? FormatNumber(t.value()) : "-";
}

std::string ParamText(const hpo::v1::Trial& t, const std::string& name) {
  auto it = t.params().values().find(name);
  return it == t.params().values().end() ? "" : core::FormatValue(it->second);
}

nlohmann::json ValueJson(const hpo::v1::ParamValue& v) {
  switch (v.kind_case()) {
    case hpo::v1::ParamValue::kFloatValue:
      return v.float_value();
    case hpo::v1::ParamValue::kIntValue:
      return v.int_value();
    case hpo::v1::ParamValue::kBoolValue:
      return v.bool_value();
    case hpo::v1::ParamValue::kStringValue:
      return v.string_value();
    default:
      return nullptr;
  }
}

nlohmann::json NumberJson(double v) {
  if (std::isfinite(v)) return v;
  return std::isnan(v) ? "NaN" : (v > 0 ? "Infinity" : "-Infinity");
}

nlohmann::json PredictionJson(const hpo::v1::Prediction& p) {
  return {{"step", p.step()},
          {"mean", NumberJson(p.mean())},
          {"spread", NumberJson(p.spread())},
          {"p_better", NumberJson(p.p_better())},
          {"incumbent", NumberJson(p.incumbent())},
          {"curves", p.curves()}};
}

nlohmann::json StopJson(const hpo::v1::StopJudgement& s) {
  nlohmann::json j = {{"rule", s.rule()},
                      {"step", s.step()},
                      {"value", NumberJson(s.value())},
                      {"summary", s.summary()}};
  if (s.compared() > 0) {
    j["cutoff"] = NumberJson(s.cutoff());
    j["compared"] = s.compared();
  }
  if (s.rung() > 0) {
    j["rung"] = s.rung();
    j["rank"] = s.rank();
    j["keep"] = s.keep();
  }
  if (s.rule() == "hyperband") j["bracket"] = s.bracket();
  if (s.has_prediction()) j["prediction"] = PredictionJson(s.prediction());
  return j;
}

std::string Dump(const nlohmann::json& j) {
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

// YAML's plain scalars that would read back as something other than this string.
bool NeedsQuotes(const std::string& s) {
  if (s.empty()) return true;
  static const char* const kReserved[] = {"true", "false", "yes",   "no",   "on",
                                          "off",  "null",  "~",     "y",    "n",
                                          ".nan", ".inf",  "-.inf", ".NaN", ".Inf"};
  std::string lower = absl::AsciiStrToLower(s);
  for (const char* r : kReserved) {
    if (lower == r) return true;
  }
  double d;
  if (absl::SimpleAtod(s, &d)) return true;  // would read back as a number
  if (absl::ascii_isspace(s.front()) || absl::ascii_isspace(s.back())) return true;
  if (std::string("-?:,[]{}#&*!|>'\"%@`").find(s.front()) != std::string::npos) return true;
  if (s.find(": ") != std::string::npos || s.find(" #") != std::string::npos) return true;
  for (char ch : s) {
    if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) return true;
  }
  return false;
}

std::string YamlScalar(const nlohmann::json& j) {
  if (j.is_null()) return "null";
  if (j.is_string()) {
    const std::string& s = j.get_ref<const std::string&>();
    // A JSON string literal is a YAML double-quoted scalar with the same meaning.
    return NeedsQuotes(s) ? Dump(j).substr(0, Dump(j).size() - 1) : s;
  }
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void AppendYaml(const nlohmann::json& j, int indent, std::string* out) {
  const std::string pad(indent, ' ');
  if (j.is_object()) {
    for (const auto& [key, value] : j.items()) {
      absl::StrAppend(out, pad, YamlScalar(nlohmann::json(key)), ":");
      if ((value.is_object() || value.is_array()) && !value.empty()) {
        absl::StrAppend(out, "\n");
        AppendYaml(value, indent + 2, out);
      } else {
        absl::StrAppend(out, " ",
                        value.is_object()  ? "{}"
                        : value.is_array() ? "[]"
                                           : YamlScalar(value),
                        "\n");
      }
    }
  } else if (j.is_array()) {
    for (const nlohmann::json& value : j) {
      if ((value.is_object() || value.is_array()) && !value.empty()) {
        // "- " then the first line of the nested block on the same line.
        std::string nested;
        AppendYaml(value, indent + 2, &nested);
        absl::StrAppend(out, pad, "- ", nested.substr(indent + 2));
      } else {
        absl::StrAppend(out, pad, "- ",
                        value.is_object()  ? "{}"
                        : value.is_array() ? "[]"
                                           : YamlScalar(value),
                        "\n");
      }
    }
  } else {
    absl::StrAppend(out, pad, YamlScalar(j), "\n");
  }
}

std::string Yaml(const nlohmann::json& j) {
  if ((j.is_array() || j.is_object()) && j.empty()) return j.is_array() ? "[]\n" : "{}\n";
  std::string out;
  AppendYaml(j, 0, &out);
  return out;
}

std::string Duration(const hpo::v1::Trial& t) {
  if (t.start_time_ms() == 0 || t.end_time_ms() < t.start_time_ms()) return "";
  return absl::StrFormat("%.1fs", (t.end_time_ms() - t.start_time_ms()) / 1000.0);
}

}  // namespace

nlohmann::json TrialToJson(const hpo::v1::Trial& t) {
  nlohmann::json j;
  j["id"] = t.id();
  j["study"] = t.study_name();
  j["number"] = t.number();
  j["attempt"] = t.attempt();
  j["state"] = core::TrialStateName(t.state());
  j["value"] = t.has_value() ? NumberJson(t.value()) : nlohmann::json(nullptr);
  nlohmann::json params = nlohmann::json::object();
  for (const auto& [k, v] : t.params().values()) params[k] = ValueJson(v);
  j["params"] = params;
  nlohmann::json metrics = nlohmann::json::object();
  for (const auto& [k, v] : t.final_metrics()) metrics[k] = NumberJson(v);
  j["metrics"] = metrics;
  j["last_step"] = t.last_step();
  j["worker"] = t.worker_id();
  j["log_path"] = t.log_path();
  j["failure_reason"] = t.failure_reason();
  if (t.has_gpu_usage()) {
    const hpo::v1::GpuUsage& g = t.gpu_usage();
    j["gpu_usage"] = {{"devices", std::vector<std::string>(g.devices().begin(), g.devices().end())},
                      {"peak_memory_mib", NumberJson(g.peak_memory_mib())},
                      {"mean_utilization_pct", NumberJson(g.mean_utilization_pct())},
                      {"polls", g.polls()}};
  }
  j["stop"] = t.has_stop() ? StopJson(t.stop()) : nlohmann::json(nullptr);
  j["prediction"] = t.has_prediction() ? PredictionJson(t.prediction()) : nlohmann::json(nullptr);
  j["enqueued"] = t.enqueued();
  j["start_time_ms"] = t.start_time_ms();
  j["end_time_ms"] = t.end_time_ms();
  if (t.measurements_size() > 0) {
    nlohmann::json curve = nlohmann::json::array();
    for (const hpo::v1::Measurement& m : t.measurements()) {
      nlohmann::json metrics = nlohmann::json::object();
      for (const auto& [k, v] : m.metrics()) metrics[k] = NumberJson(v);
      curve.push_back({{"step", m.step()}, {"time_ms", m.time_ms()}, {"metrics", metrics}});
    }
    j["measurements"] = curve;
  }
  return j;
}

nlohmann::json StudyToJson(const hpo::v1::Study& s) {
  nlohmann::json j;
  j["id"] = s.id();
  j["name"] = s.spec().name();
  j["state"] = core::StudyStateName(s.state());
  j["optimizer"] = s.spec().optimizer().name();
  j["optimizer_revision"] = s.optimizer_revision();
  if (!s.optimizer_plan().empty()) j["optimizer_plan"] = s.optimizer_plan();
  j["objective"] = {
      {"metric", s.spec().objective().metric()},
      {"direction",
       s.spec().objective().direction() == hpo::v1::MAXIMIZE ? "maximize" : "minimize"}};
  j["finished_trials"] = s.finished_trials();
  j["max_trials"] = s.spec().budget().max_trials();
  const hpo::v1::TrialCounts& c = s.counts();
  j["counts"] = {{"pending", c.pending()}, {"running", c.running()}, {"completed", c.completed()},
                 {"pruned", c.pruned()},   {"failed", c.failed()},   {"lost", c.lost()}};
  j["best_trial"] = s.has_best_trial() ? TrialToJson(s.best_trial()) : nlohmann::json(nullptr);
  j["create_time_ms"] = s.create_time_ms();
  j["end_time_ms"] = s.end_time_ms();
  j["live_workers"] = s.live_workers();
  j["accepting_workers"] = s.accepting_workers();
  j["not_accepted"] = s.not_accepted();
  j["warm_start_studies"] =
      std::vector<std::string>(s.warm_start_studies().begin(), s.warm_start_studies().end());
  j["warm_start_curves"] = s.warm_start_curves();
  j["warm_start_trials"] = s.warm_start_trials();
  // The spec as protobuf's JSON mapping (field names as in the .proto).
  std::string spec_json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  if (google::protobuf::util::MessageToJsonString(s.spec(), &spec_json, options).ok()) {
    j["spec"] = nlohmann::json::parse(spec_json, nullptr, /*allow_exceptions=*/false);
  }
  return j;
}

std::string FormatNumber(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  for (int precision = 6; precision <= 10; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (precision == 10 || std::abs(std::strtod(buf, nullptr) - v) <= 1e-12 * std::abs(v)) break;
  }
  return buf;
}

std::string TrialsTable(const hpo::v1::StudySpec& spec, const std::vector<hpo::v1::Trial>& trials) {
  Row header = {"ID", "NUMBER", "ATTEMPT", "STATE", "VALUE"};
  for (const auto& p : spec.space().params()) header.push_back(p.name());
  header.insert(header.end(), {"STEP", "TIME", "REASON"});
  std::vector<Row> rows;
  for (const auto& t : trials) {
    Row r = {absl::StrCat(t.id()), absl::StrCat(t.number()), absl::StrCat(t.attempt()),
             core::TrialStateName(t.state()), ValueText(t)};
    for (const auto& p : spec.space().params()) r.push_back(ParamText(t, p.name()));
    r.push_back(t.last_step() >= 0 ? absl::StrCat(t.last_step()) : "");
    r.push_back(Duration(t));
    r.push_back(t.failure_reason());
    rows.push_back(std::move(r));
  }
  return RenderTable(header, rows);
}

std::string TrialJson(const hpo::v1::Trial& trial) { return Dump(TrialToJson(trial)); }

std::string TrialsJson(const std::vector<hpo::v1::Trial>& trials) {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& t : trials) arr.push_back(TrialToJson(t));
  return Dump(arr);
}

std::string TrialsCsv(const hpo::v1::StudySpec& spec, const std::vector<hpo::v1::Trial>& trials) {
  std::vector<std::string> header = {"id", "number", "attempt", "state", "value"};
  for (const auto& p : spec.space().params()) header.push_back(p.name());
  header.insert(header.end(), {"failure_reason", "stop_rule", "stop_step", "predicted_final",
                               "predicted_spread", "predicted_step", "p_better"});
  std::string out = core::CsvLine(header);
  for (const auto& t : trials) {
    std::vector<std::string> f = {absl::StrCat(t.id()), absl::StrCat(t.number()),
                                  absl::StrCat(t.attempt()), core::TrialStateName(t.state()),
                                  t.has_value() ? RoundTripNumber(t.value()) : ""};
    for (const auto& p : spec.space().params()) f.push_back(ParamText(t, p.name()));
    f.push_back(t.failure_reason());
    f.push_back(t.has_stop() ? t.stop().rule() : "");
    f.push_back(t.has_stop() ? absl::StrCat(t.stop().step()) : "");
    const bool p = t.has_prediction();
    f.push_back(p ? RoundTripNumber(t.prediction().mean()) : "");
    f.push_back(p ? RoundTripNumber(t.prediction().spread()) : "");
    f.push_back(p ? absl::StrCat(t.prediction().step()) : "");
    f.push_back(p ? RoundTripNumber(t.prediction().p_better()) : "");
    absl::StrAppend(&out, core::CsvLine(f));
  }
  return out;
}

std::string StudiesTable(const std::vector<hpo::v1::Study>& studies) {
  Row header = {"NAME", "STATE", "OPTIMIZER", "DONE", "RUNNING", "PENDING", "BEST"};
  std::vector<Row> rows;
  for (const auto& s : studies) {
    const auto& c = s.counts();
    // Trial numbers whose last attempt is final, as the progress line counts them (a LOST
    // attempt that is retried does not finish its number).
    rows.push_back({s.spec().name(), core::StudyStateName(s.state()), s.spec().optimizer().name(),
                    absl::StrCat(s.finished_trials(), "/", s.spec().budget().max_trials()),
                    absl::StrCat(c.running()), absl::StrCat(c.pending()),
                    s.has_best_trial() ? FormatNumber(s.best_trial().value()) : "-"});
  }
  return RenderTable(header, rows);
}

std::string ProgressLine(const hpo::v1::Study& study) {
  const auto& c = study.counts();
  std::string line =
      absl::StrFormat("[%*d/%d] running %d, completed %d, pruned %d, failed %d, lost %d",
                      static_cast<int>(absl::StrCat(study.spec().budget().max_trials()).size()),
                      study.finished_trials(), study.spec().budget().max_trials(), c.running(),
                      c.completed(), c.pruned(), c.failed(), c.lost());
  if (study.has_best_trial()) {
    absl::StrAppend(&line, "; best ", FormatNumber(study.best_trial().value()), " (trial #",
                    study.best_trial().number(), ")");
  }
  if (!study.not_accepted().empty() && study.state() == hpo::v1::STUDY_RUNNING) {
    absl::StrAppend(&line, "; waiting: ", study.not_accepted());
  }
  return line;
}

std::string BestTrialText(const hpo::v1::StudySpec& spec, const hpo::v1::Trial& trial) {
  std::string out = absl::StrCat("best trial #", trial.number(), " (id ", trial.id(),
                                 "): ", spec.objective().metric(), " = ", ValueText(trial), "\n");
  for (const auto& p : spec.space().params()) {
    auto it = trial.params().values().find(p.name());
    if (it == trial.params().values().end()) continue;
    absl::StrAppend(&out, "  ", p.name(), " = ", core::FormatValue(it->second), "\n");
  }
  return out;
}

std::string StudyDetails(const hpo::v1::Study& study) {
  std::string out = absl::StrCat("study ", study.spec().name(), " (id ", study.id(),
                                 "): ", core::StudyStateName(study.state()), "\n");
  absl::StrAppend(&out, ProgressLine(study), "\n");
  absl::StrAppend(&out, "optimizer: ", study.spec().optimizer().name(),
                  study.optimizer_revision() > 0
                      ? absl::StrCat(" revision ", study.optimizer_revision())
                      : std::string(" (revision not recorded)"),
                  "\n");
  if (!study.optimizer_plan().empty()) {
    absl::StrAppend(&out, "  ", study.optimizer_plan(), "\n");
  }
  if (study.state() == hpo::v1::STUDY_RUNNING) {
    absl::StrAppend(&out, "workers: ", study.live_workers(), " live, ", study.accepting_workers(),
                    " accept its trials\n");
  }
  if (study.warm_start_trials() > 0) {
    absl::StrAppend(&out, "optimizer starts from: ",
                    absl::StrJoin(study.spec().optimizer().warm_start_from(), ", "), " (",
                    study.warm_start_trials(), " completed trials)\n");
  }
  if (study.warm_start_studies_size() > 0) {
    absl::StrAppend(&out, "stopper learns from: ", absl::StrJoin(study.warm_start_studies(), ", "),
                    " (", study.warm_start_curves(), " complete curves)\n");
  }
  if (study.has_best_trial())
    absl::StrAppend(&out, BestTrialText(study.spec(), study.best_trial()));
  absl::StrAppend(&out, "--- spec\n", core::StudySpecToYaml(study.spec()));
  return out;
}

namespace {

// "GPU 0, peak memory 2.0 GiB, mean utilization 63% (12 polls)".
std::string GpuUsageText(const hpo::v1::GpuUsage& g) {
  std::string out = absl::StrCat(g.devices_size() == 1 ? "GPU " : "GPUs ",
                                 absl::StrJoin(g.devices(), ","), ", peak memory ");
  if (g.peak_memory_mib() >= 1024) {
    absl::StrAppend(&out, absl::StrFormat("%.1f GiB", g.peak_memory_mib() / 1024));
  } else {
    absl::StrAppend(&out, absl::StrFormat("%.0f MiB", g.peak_memory_mib()));
  }
  if (!std::isnan(g.mean_utilization_pct())) {
    absl::StrAppend(&out, absl::StrFormat(", mean utilization %.0f%%", g.mean_utilization_pct()));
  }
  absl::StrAppend(&out, " (", g.polls(), g.polls() == 1 ? " poll)" : " polls)");
  return out;
}

}  // namespace

std::string TrialDetails(const hpo::v1::StudySpec& spec, const hpo::v1::Trial& t) {
  std::string out =
      absl::StrCat("trial #", t.number(), " (id ", t.id(), ", attempt ", t.attempt(), ") of study ",
                   t.study_name(), ": ", core::TrialStateName(t.state()));
  if (t.has_value()) absl::StrAppend(&out, ", value ", FormatNumber(t.value()));
  absl::StrAppend(&out, "\n");
  for (const auto& p : spec.space().params()) {
    const std::string text = ParamText(t, p.name());
    if (!text.empty()) absl::StrAppend(&out, "  ", p.name(), " = ", text, "\n");
  }
  if (!t.worker_id().empty()) absl::StrAppend(&out, "worker: ", t.worker_id(), "\n");
  if (!t.log_path().empty()) absl::StrAppend(&out, "log: ", t.log_path(), "\n");
  if (const std::string d = Duration(t); !d.empty()) absl::StrAppend(&out, "ran: ", d, "\n");
  if (t.has_gpu_usage()) absl::StrAppend(&out, "gpu: ", GpuUsageText(t.gpu_usage()), "\n");
  if (t.measurements_size() > 0) {
    const hpo::v1::Measurement& last = *t.measurements().rbegin();
    absl::StrAppend(&out, "measurements: ", t.measurements_size(), ", last at step ", last.step());
    std::vector<std::string> metrics;
    for (const auto& [k, v] :
         std::map<std::string, double>(last.metrics().begin(), last.metrics().end())) {
      metrics.push_back(absl::StrCat(k, " ", FormatNumber(v)));
    }
    if (!metrics.empty()) absl::StrAppend(&out, " (", absl::StrJoin(metrics, ", "), ")");
    absl::StrAppend(&out, "\n");
  }
  if (t.has_stop()) {
    absl::StrAppend(&out, "stopped: ", t.stop().summary(), "\n");
  } else if (!t.failure_reason().empty()) {
    absl::StrAppend(&out, "reason: ", t.failure_reason(), "\n");
  }
  if (t.has_prediction()) {
    const hpo::v1::Prediction& p = t.prediction();
    absl::StrAppend(&out, "predicted final value at step ", p.step(), ": ", FormatNumber(p.mean()),
                    " ± ", FormatNumber(p.spread()), ", P(beats the best) ",
                    FormatNumber(p.p_better()), "\n");
  }
  return out;
}

std::string StudiesCsv(const std::vector<hpo::v1::Study>& studies) {
  std::string out =
      core::CsvLine({"id", "name", "state", "optimizer", "metric", "direction", "finished_trials",
                     "max_trials", "pending", "running", "completed", "pruned", "failed", "lost",
                     "best_trial_id", "best_value", "create_time_ms", "end_time_ms"});
  for (const hpo::v1::Study& s : studies) {
    const hpo::v1::TrialCounts& c = s.counts();
    absl::StrAppend(
        &out,
        core::CsvLine(
            {absl::StrCat(s.id()), s.spec().name(), core::StudyStateName(s.state()),
             s.spec().optimizer().name(), s.spec().objective().metric(),
             s.spec().objective().direction() == hpo::v1::MAXIMIZE ? "maximize" : "minimize",
             absl::StrCat(s.finished_trials()), absl::StrCat(s.spec().budget().max_trials()),
             absl::StrCat(c.pending()), absl::StrCat(c.running()), absl::StrCat(c.completed()),
             absl::StrCat(c.pruned()), absl::StrCat(c.failed()), absl::StrCat(c.lost()),
             s.has_best_trial() ? absl::StrCat(s.best_trial().id()) : "",
             s.has_best_trial() ? RoundTripNumber(s.best_trial().value()) : "",
             absl::StrCat(s.create_time_ms()), absl::StrCat(s.end_time_ms())}));
  }
  return out;
}

std::string RenderStudies(absl::string_view format, const std::vector<hpo::v1::Study>& studies) {
  if (format == "table") return StudiesTable(studies);
  if (format == "csv") return StudiesCsv(studies);
  nlohmann::json arr = nlohmann::json::array();
  for (const hpo::v1::Study& s : studies) arr.push_back(StudyToJson(s));
  return format == "yaml" ? Yaml(arr) : Dump(arr);
}

std::string RenderStudy(absl::string_view format, const hpo::v1::Study& study) {
  if (format == "table") return StudyDetails(study);
  if (format == "csv") return StudiesCsv({study});
  return format == "yaml" ? Yaml(StudyToJson(study)) : Dump(StudyToJson(study));
}

std::string RenderTrials(absl::string_view format, const hpo::v1::StudySpec& spec,
                         const std::vector<hpo::v1::Trial>& trials) {
  if (format == "table") return TrialsTable(spec, trials);
  if (format == "csv") return TrialsCsv(spec, trials);
  if (format == "json") return TrialsJson(trials);
  nlohmann::json arr = nlohmann::json::array();
  for (const hpo::v1::Trial& t : trials) arr.push_back(TrialToJson(t));
  return Yaml(arr);
}

std::string RenderTrial(absl::string_view format, const hpo::v1::StudySpec& spec,
                        const hpo::v1::Trial& trial) {
  if (format == "table") return TrialDetails(spec, trial);
  if (format == "csv") return TrialsCsv(spec, {trial});
  return format == "yaml" ? Yaml(TrialToJson(trial)) : TrialJson(trial);
}

std::string JsonToYaml(const std::string& json) {
  return Yaml(nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false));
}

std::string ImportanceTable(const std::string& study, importance::Method method, int trials,
                            const std::vector<importance::ParamImportance>& importance) {
  std::string out =
      absl::StrCat("parameter importance in study ", study, " (", importance::MethodName(method),
                   ", ", trials, " completed trials)\n");
  size_t width = 5;  // "PARAM"
  for (const auto& p : importance) width = std::max(width, p.name.size());
  absl::StrAppend(&out, absl::StrFormat("%-*s  %10s\n", width, "PARAM", "IMPORTANCE"));
  for (const auto& p : importance) {
    const int bar = static_cast<int>(std::lround(std::clamp(p.importance, 0.0, 1.0) * 40));
    absl::StrAppend(&out, absl::StrFormat("%-*s  %9.1f%%  %s\n", width, p.name, 100 * p.importance,
                                          std::string(bar, '#')));
  }
  return out;
}

std::string ImportanceJson(const std::string& study, importance::Method method, int trials,
                           const std::vector<importance::ParamImportance>& importance) {
  nlohmann::ordered_json params = nlohmann::ordered_json::array();
  for (const auto& p : importance)
    params.push_back({{"param", p.name}, {"importance", p.importance}});
  const nlohmann::ordered_json doc = {{"study", study},
                                      {"method", importance::MethodName(method)},
                                      {"trials", trials},
                                      {"importance", params}};
  return doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace hpo::client
