#include "client/importance_command.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/format.h"
#include "core/text_format.h"
#include "nlohmann/json.hpp"

namespace hpo::client {

CLI::App* AddImportanceCommand(CLI::App& app, ImportanceFlags* flags) {
  CLI::App* cmd = app.add_subcommand(
      "importance", "which parameters explain a study's values, from its completed trials");
  cmd->add_option("name", flags->study, "study name")->required();
  cmd->add_option("--format", flags->format)
      ->check(CLI::IsMember(std::vector<std::string>(std::begin(kFormats), std::end(kFormats))))
      ->capture_default_str();
  cmd->add_option("--method", flags->method,
                  "fanova (a random forest's variance decomposition) or ped-anova (Parzen "
                  "densities of the best trials against all); default " +
                      importance::MethodName(importance::kDefaultMethod))
      ->check(CLI::IsMember({"fanova", "ped-anova"}));
  cmd->add_option("--seed", flags->seed, "seeds the random forest (the same seed, the same answer)")
      ->capture_default_str();
  return cmd;
}

int RunImportanceCommand(const ImportanceFlags& flags, backend::Backend& backend, std::ostream& out,
                         std::ostream& err) {
  auto fail = [&err](const absl::Status& s) {
    err << "hpo: " << s.message() << "\n";
    return 1;
  };
  importance::ImportanceOptions options;
  options.seed = flags.seed;
  if (!flags.method.empty()) {
    absl::StatusOr<importance::Method> method = importance::ParseMethod(flags.method);
    if (!method.ok()) return fail(method.status());
    options.method = *method;
  }
  absl::StatusOr<hpo::v1::Study> study = backend.GetStudy(flags.study);
  if (!study.ok()) return fail(study.status());
  absl::StatusOr<std::vector<hpo::v1::Trial>> trials =
      backend.AllTrials(flags.study, hpo::v1::COMPLETED);
  if (!trials.ok()) return fail(trials.status());
  absl::StatusOr<std::vector<importance::ParamImportance>> result =
      importance::ComputeImportance(study->spec(), *trials, options);
  if (!result.ok()) return fail(result.status());
  const int used =
      static_cast<int>(std::count_if(trials->begin(), trials->end(), [](const hpo::v1::Trial& t) {
        return t.state() == hpo::v1::COMPLETED && t.has_value() && std::isfinite(t.value());
      }));
  if (flags.format == "json") {
    out << ImportanceJson(flags.study, options.method, used, *result);
  } else if (flags.format == "yaml") {
    out << JsonToYaml(ImportanceJson(flags.study, options.method, used, *result));
  } else if (flags.format == "csv") {
    out << core::CsvLine({"param", "importance"});
    for (const auto& p : *result)
      out << core::CsvLine({p.name, core::RoundTripNumber(p.importance)});
  } else {
    out << ImportanceTable(flags.study, options.method, used, *result);
  }
  return 0;
}

}  // namespace hpo::client
