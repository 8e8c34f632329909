#include "harness/report.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/status_macros.h"
#include "core/text_format.h"
#include "harness/svg_plot.h"

namespace hpo::harness {
namespace {

std::string G(double v) { return absl::StrFormat("%.4g", v); }

std::string PlusMinus(const MeanSd& m) { return absl::StrCat(G(m.mean), " ± ", G(m.sd)); }

// Regret is NaN where the task's optimum is not known (e.g. LCBench).
std::string Regret(const MeanSd& m) { return std::isnan(m.mean) ? "n/a" : PlusMinus(m); }

// Full precision for CSVs: the shortest text that reads back the same.
std::string Csv(double v) { return core::RoundTripNumber(v); }

absl::Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f)
    return absl::InternalError(absl::StrCat("cannot write ", path, ": ", std::strerror(errno)));
  f << text;
  f.close();
  if (!f) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

std::vector<double> FractionAxis() {
  std::vector<double> x;
  for (int k = 0; k < kFractions; ++k) x.push_back(Fraction(k));
  return x;
}

}  // namespace

std::string FileSafe(const std::string& name) {
  std::string out = name;
  for (char& c : out) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) {
      c = '_';
    }
  }
  return out;
}

std::string ReportMarkdown(const Analysis& a, const ReportContext& context) {
  std::string md = "# hpo bench report\n\n";
  if (!context.command.empty()) absl::StrAppend(&md, "`", context.command, "`\n\n");
  absl::StrAppend(&md, "Optimizers: ", absl::StrJoin(a.optimizers, ", "),
                  ". Tasks: ", absl::StrJoin(a.tasks, ", "), ". Seeds: ", context.seeds, " (",
                  context.first_seed, "..", context.first_seed + context.seeds - 1, ").\n\n");

  absl::StrAppend(
      &md, "## Final results per task\n\n",
      "Regret = best value found − the task's known optimum (mean ± sd over seeds; n/a where "
      "the optimum is not known, e.g. LCBench). Score is "
      "carps-style min–max normalized per task: the final best of every run on the task is "
      "mapped to [0, 1], 0 = the best final value seen by any optimizer and seed, 1 = the worst "
      "(lower is better). Rank orders the optimizers on each task by mean score (1 = best, ties "
      "share the average rank).\n\n",
      "| task | optimizer | seeds | trials | best value | regret | score | rank |\n",
      "|---|---|---:|---:|---:|---:|---:|---:|\n");
  for (const std::string& t : a.tasks) {
    for (const std::string& o : a.optimizers) {
      const Cell* c = a.Find(t, o);
      if (c == nullptr) continue;
      absl::StrAppend(&md, "| ", t, " | ", o, " | ", c->seeds.size(), " | ", a.trials.at(t), " | ",
                      PlusMinus(c->best), " | ", Regret(c->regret), " | ", PlusMinus(c->score),
                      " | ", G(c->rank), " |\n");
    }
  }

  absl::StrAppend(&md,
                  "\n## Average rank\n\nMean of the per-task ranks above (1 = best), over "
                  "the tasks each optimizer ran.\n\n| optimizer | average rank | tasks |\n"
                  "|---|---:|---:|\n");
  std::vector<std::string> by_rank = a.optimizers;
  std::stable_sort(by_rank.begin(), by_rank.end(),
                   [&a](const std::string& x, const std::string& y) {
                     return a.average_rank.at(x) < a.average_rank.at(y);
                   });
  for (const std::string& o : by_rank) {
    absl::StrAppend(&md, "| ", o, " | ", G(a.average_rank.at(o)), " | ", a.ranked_tasks.at(o),
                    " |\n");
  }

  absl::StrAppend(
      &md, "\n## Anytime performance\n\n",
      "Normalized incumbent (best value so far) at 21 budget fractions 0, 0.05, …, 1 of each "
      "run's trials (fraction f = after max(1, ceil(f·trials)) trials), mean over seeds; "
      "normalized like the score (0 = the best final value seen on the task, 1 = the worst final "
      "value), so a curve ends at the optimizer's mean score; the plots cut values above 1.25 "
      "(worse than every run's final value) at their top edge. Data: anytime.csv.\n\n");
  for (const std::string& t : a.tasks) {
    absl::StrAppend(&md, "![", t, "](anytime_", FileSafe(t), ".svg)\n\n");
  }
  absl::StrAppend(&md,
                  "### Rank over time\n\nAt each fraction, the optimizers are ranked per task "
                  "by mean normalized incumbent and the ranks averaged over tasks. Data: "
                  "rank_over_time.csv.\n\n![rank over time](rank_over_time.svg)\n\n",
                  "| optimizer |");
  for (int k : {1, 5, 10, 15, 20}) absl::StrAppend(&md, " ", G(Fraction(k)), " |");
  absl::StrAppend(&md, "\n|---|---:|---:|---:|---:|---:|\n");
  for (const std::string& o : a.optimizers) {
    absl::StrAppend(&md, "| ", o, " |");
    for (int k : {1, 5, 10, 15, 20}) absl::StrAppend(&md, " ", G(a.rank_over_time.at(o)[k]), " |");
    absl::StrAppend(&md, "\n");
  }

  if (!context.notes.empty()) {
    absl::StrAppend(&md, "\n## Notes\n\n");
    for (const std::string& n : context.notes) absl::StrAppend(&md, "- ", n, "\n");
  }
  absl::StrAppend(&md,
                  "\nFiles: results.sqlite (every trial), final.csv, anytime.csv, ranks.csv, "
                  "rank_over_time.csv.\n");
  return md;
}

absl::Status WriteReport(const std::string& dir, const Analysis& a, const ReportContext& context) {
  const std::string base = dir.empty() ? std::string(".") : dir;
  auto path = [&base](const std::string& name) { return absl::StrCat(base, "/", name); };

  std::string final_csv = "optimizer,task,seed,best,regret,score\n";
  for (const FinalRow& r : a.finals) {
    absl::StrAppend(&final_csv, core::CsvField(r.optimizer), ",", core::CsvField(r.task), ",",
                    r.seed, ",", Csv(r.best), ",", Csv(r.regret), ",", Csv(r.score), "\n");
  }
  std::string anytime_csv = "optimizer,task,fraction,normalized_incumbent\n";
  std::string ranks_csv = "optimizer,task,mean_score,rank\n";
  for (const std::string& t : a.tasks) {
    for (const std::string& o : a.optimizers) {
      const Cell* c = a.Find(t, o);
      if (c == nullptr) continue;
      for (int k = 0; k < kFractions; ++k) {
        absl::StrAppend(&anytime_csv, core::CsvField(o), ",", core::CsvField(t), ",",
                        Csv(Fraction(k)), ",", Csv(c->anytime[k]), "\n");
      }
      absl::StrAppend(&ranks_csv, core::CsvField(o), ",", core::CsvField(t), ",",
                      Csv(c->score.mean), ",", Csv(c->rank), "\n");
    }
  }
  for (const std::string& o : a.optimizers) {
    absl::StrAppend(&ranks_csv, core::CsvField(o), ",average,,", Csv(a.average_rank.at(o)), "\n");
  }
  std::string rot_csv = "optimizer,fraction,average_rank\n";
  for (const std::string& o : a.optimizers) {
    for (int k = 0; k < kFractions; ++k) {
      absl::StrAppend(&rot_csv, core::CsvField(o), ",", Csv(Fraction(k)), ",",
                      Csv(a.rank_over_time.at(o)[k]), "\n");
    }
  }

  for (const auto& [name, text] : std::vector<std::pair<std::string, std::string>>{
           {"final.csv", final_csv},
           {"anytime.csv", anytime_csv},
           {"ranks.csv", ranks_csv},
           {"rank_over_time.csv", rot_csv},
           {"report.md", ReportMarkdown(a, context)}}) {
    absl::Status s = WriteFile(path(name), text);
    if (!s.ok()) return s;
  }

  const std::vector<double> x = FractionAxis();
  for (const std::string& t : a.tasks) {
    std::vector<Series> series;
    for (const std::string& o : a.optimizers) {
      if (const Cell* c = a.Find(t, o)) series.push_back(Series{o, x, c->anytime});
    }
    PlotOptions opts;
    opts.title = absl::StrCat(t, ": normalized incumbent (mean over seeds)");
    opts.x_label = "fraction of the trial budget";
    opts.y_label = "normalized incumbent (0 = best final seen)";
    opts.x_lo = 0;
    opts.x_hi = 1;
    opts.y_lo = 0;
    opts.y_hi = 1.25;
    absl::Status s =
        WriteFile(path(absl::StrCat("anytime_", FileSafe(t), ".svg")), LinePlotSvg(opts, series));
    if (!s.ok()) return s;
  }
  std::vector<Series> ranks;
  for (const std::string& o : a.optimizers) ranks.push_back(Series{o, x, a.rank_over_time.at(o)});
  PlotOptions opts;
  opts.title = "average rank over time (1 = best)";
  opts.x_label = "fraction of the trial budget";
  opts.y_label = "average rank";
  opts.x_lo = 0;
  opts.x_hi = 1;
  opts.y_lo = 1;
  opts.y_hi = std::max<double>(2, static_cast<double>(a.optimizers.size()));
  return WriteFile(path("rank_over_time.svg"), LinePlotSvg(opts, ranks));
}

}  // namespace hpo::harness
