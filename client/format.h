// Text, JSON and CSV renderings of studies and trials for the CLI. Pure functions, thread-safe.
#ifndef HPO_CLIENT_FORMAT_H_
#define HPO_CLIENT_FORMAT_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "hpo/v1/hpo.pb.h"
#include "importance/importance.h"
#include "nlohmann/json.hpp"

namespace hpo::client {

// For tables, people's reading: the shortest text that reads back the same, at most 10
// significant digits. CSV, JSON and YAML carry every number at full precision (round-trip text).
std::string FormatNumber(double v);

// A trial and a study as JSON objects (what --format json prints, and the dashboard's API). A
// trial's fields: id, study, number, attempt, state, value (null when none), params, metrics,
// last_step, worker, log_path ("HOST:PATH" of its output), failure_reason, stop (null, or the
// stopper's judgement: rule, step, value, summary and its evidence), prediction (null, or mean,
// spread, p_better, ...), enqueued, start_time_ms, end_time_ms, and measurements [{step, time_ms,
// metrics}] when it carries any. Non-finite numbers are the strings "NaN", "Infinity", "-Infinity".
nlohmann::json TrialToJson(const hpo::v1::Trial& trial);
nlohmann::json StudyToJson(const hpo::v1::Study& study);

// The formats every command that prints a record takes with --format.
inline constexpr const char* kFormats[] = {"table", "json", "csv", "yaml"};
// A study list, one study, trials, one trial, in `format` (one of kFormats). JSON and YAML hold
// the same fields; a study's are id, name, state, optimizer, optimizer_revision, objective,
// finished_trials, max_trials, counts, best_trial (a trial, or null), create_time_ms,
// end_time_ms, live_workers, accepting_workers, not_accepted, warm_start_studies,
// warm_start_curves and spec (protobuf's JSON mapping). CSV has one line per study or trial.
std::string RenderStudies(absl::string_view format, const std::vector<hpo::v1::Study>& studies);
std::string RenderStudy(absl::string_view format, const hpo::v1::Study& study);
std::string RenderTrials(absl::string_view format, const hpo::v1::StudySpec& spec,
                         const std::vector<hpo::v1::Trial>& trials);
// A single trial: in a table, TrialDetails.
std::string RenderTrial(absl::string_view format, const hpo::v1::StudySpec& spec,
                        const hpo::v1::Trial& trial);
// Header then one line per study: id,name,state,optimizer,metric,direction,finished_trials,
// max_trials,pending,running,completed,pruned,failed,lost,best_trial_id,best_value,
// create_time_ms,end_time_ms.
std::string StudiesCsv(const std::vector<hpo::v1::Study>& studies);
// A JSON document as block-style YAML that reads back to the same values (strings that YAML
// would read as numbers, booleans or null are quoted).
std::string JsonToYaml(const std::string& json);

// One row per trial: ID, NUMBER, ATTEMPT, STATE, VALUE, one column per parameter, STEP, REASON.
std::string TrialsTable(const hpo::v1::StudySpec& spec, const std::vector<hpo::v1::Trial>& trials);
// A JSON array; each trial an object with id, number, attempt, state, value (null when none),
// params, metrics, worker, failure_reason, stop (null, or the stopper's judgement: rule, step,
// value, summary and its evidence), prediction (null, or mean, spread, p_better, ...),
// start_time_ms, end_time_ms.
std::string TrialsJson(const std::vector<hpo::v1::Trial>& trials);
std::string TrialJson(const hpo::v1::Trial& trial);
// Header then one line per trial: id,number,attempt,state,value,<params in space order>,
// failure_reason,stop_rule,stop_step,predicted_final,predicted_spread,predicted_step,p_better
// (the stop columns empty unless a stopper stopped it, the prediction ones unless a
// learning-curve model forecast its final value).
std::string TrialsCsv(const hpo::v1::StudySpec& spec, const std::vector<hpo::v1::Trial>& trials);

// Everything about one trial, for people: parameters, worker, run time, its last measurement,
// why it stopped or failed, and its latest forecast.
std::string TrialDetails(const hpo::v1::StudySpec& spec, const hpo::v1::Trial& trial);

std::string StudiesTable(const std::vector<hpo::v1::Study>& studies);
std::string StudyDetails(const hpo::v1::Study& study);
// "[ 37/60] running 4, completed 35, pruned 0, failed 2, lost 0; best 0.3991 (trial #17)"
std::string ProgressLine(const hpo::v1::Study& study);
// "best trial #17 (id 42): value 0.3991\n  x1 = 3.14\n  x2 = 2.27\n"
std::string BestTrialText(const hpo::v1::StudySpec& spec, const hpo::v1::Trial& trial);

// What `hpo importance` prints (and the dashboard's API serves). The table: a heading line, then
// one row per parameter with its importance as a percentage and a bar of '#' (40 for 100%). The
// JSON: {"study", "method", "trials" (how many were used), "importance": [{"param", "importance"},
// ...]} with numbers in the shortest text that reads back the same. Pure; thread-safe.
std::string ImportanceTable(const std::string& study, importance::Method method, int trials,
                            const std::vector<importance::ParamImportance>& importance);
std::string ImportanceJson(const std::string& study, importance::Method method, int trials,
                           const std::vector<importance::ParamImportance>& importance);

}  // namespace hpo::client

#endif  // HPO_CLIENT_FORMAT_H_
