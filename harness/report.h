// Writes a bench's report: report.md, CSVs and SVG plots in one folder.
#ifndef HPO_HARNESS_REPORT_H_
#define HPO_HARNESS_REPORT_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "harness/analysis.h"

namespace hpo::harness {

struct ReportContext {
  std::string command;  // how the bench was called, shown at the top
  int seeds = 0;        // seeds asked for
  int first_seed = 0;
  std::vector<std::string> notes;  // skipped optimizers, failed runs: listed under "Notes"
};

// Writes into `dir` (which must exist):
//   report.md           tables: final regret / normalized score / rank per (task, optimizer),
//                       average rank, anytime plots, notes
//   final.csv           optimizer,task,seed,best,regret,score
//   anytime.csv         optimizer,task,fraction,normalized_incumbent (mean over seeds)
//   ranks.csv           optimizer,task,mean_score,rank  (+ task "average" rows)
//   rank_over_time.csv  optimizer,fraction,average_rank
//   anytime_<task>.svg  one per task;  rank_over_time.svg
// Returns the first file error (INTERNAL naming the file).
absl::Status WriteReport(const std::string& dir, const Analysis& analysis,
                         const ReportContext& context);

// A task name made safe for a file name: anything but [A-Za-z0-9._-] becomes '_'.
std::string FileSafe(const std::string& name);

// The markdown of report.md (what WriteReport writes there). Pure.
std::string ReportMarkdown(const Analysis& analysis, const ReportContext& context);

}  // namespace hpo::harness

#endif  // HPO_HARNESS_REPORT_H_
