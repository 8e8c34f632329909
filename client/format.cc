#include "client/format.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/search_space.h"
#include "core/study_spec.h"
#include "core/trial_states.h"
#include "nlohmann/json.hpp"

namespace hpo::client {
namespace {

using Row = std::vector<std::string>;

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

nlohmann::json ToJson(const hpo::v1::Trial& t) {
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
  j["failure_reason"] = t.failure_reason();
  j["stop"] = t.has_stop() ? StopJson(t.stop()) : nlohmann::json(nullptr);
  j["prediction"] = t.has_prediction() ? PredictionJson(t.prediction()) : nlohmann::json(nullptr);
  j["enqueued"] = t.enqueued();
  j["start_time_ms"] = t.start_time_ms();
  j["end_time_ms"] = t.end_time_ms();
  return j;
}

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string Duration(const hpo::v1::Trial& t) {
  if (t.start_time_ms() == 0 || t.end_time_ms() < t.start_time_ms()) return "";
  return absl::StrFormat("%.1fs", (t.end_time_ms() - t.start_time_ms()) / 1000.0);
}

}  // namespace

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

std::string TrialJson(const hpo::v1::Trial& trial) {
  return ToJson(trial).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string TrialsJson(const std::vector<hpo::v1::Trial>& trials) {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& t : trials) arr.push_back(ToJson(t));
  return arr.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string TrialsCsv(const hpo::v1::StudySpec& spec, const std::vector<hpo::v1::Trial>& trials) {
  std::vector<std::string> header = {"id", "number", "attempt", "state", "value"};
  for (const auto& p : spec.space().params()) header.push_back(CsvField(p.name()));
  header.insert(header.end(), {"failure_reason", "stop_rule", "stop_step", "predicted_final",
                               "predicted_spread", "predicted_step", "p_better"});
  std::string out = absl::StrJoin(header, ",") + "\n";
  for (const auto& t : trials) {
    std::vector<std::string> f = {absl::StrCat(t.id()), absl::StrCat(t.number()),
                                  absl::StrCat(t.attempt()), core::TrialStateName(t.state()),
                                  t.has_value() ? FormatNumber(t.value()) : ""};
    for (const auto& p : spec.space().params()) f.push_back(CsvField(ParamText(t, p.name())));
    f.push_back(CsvField(t.failure_reason()));
    f.push_back(t.has_stop() ? CsvField(t.stop().rule()) : "");
    f.push_back(t.has_stop() ? absl::StrCat(t.stop().step()) : "");
    const bool p = t.has_prediction();
    f.push_back(p ? FormatNumber(t.prediction().mean()) : "");
    f.push_back(p ? FormatNumber(t.prediction().spread()) : "");
    f.push_back(p ? absl::StrCat(t.prediction().step()) : "");
    f.push_back(p ? FormatNumber(t.prediction().p_better()) : "");
    absl::StrAppend(&out, absl::StrJoin(f, ","), "\n");
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
  if (study.state() == hpo::v1::STUDY_RUNNING) {
    absl::StrAppend(&out, "workers: ", study.live_workers(), " live, ", study.accepting_workers(),
                    " accept its trials\n");
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
  if (const std::string d = Duration(t); !d.empty()) absl::StrAppend(&out, "ran: ", d, "\n");
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

}  // namespace hpo::client
