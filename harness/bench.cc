#include "harness/bench.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <functional>
#include <iostream>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "core/status_macros.h"
#include "harness/analysis.h"
#include "harness/digest.h"
#include "harness/parallel.h"
#include "harness/progress.h"
#include "harness/report.h"
#include "harness/results_db.h"
#include "harness/task_source.h"

namespace hpo::harness {
namespace {

absl::Status CheckOptions(const BenchOptions& o) {
  if (o.optimizers.empty()) return absl::InvalidArgumentError("--optimizers: none named");
  if (o.tasks.empty()) return absl::InvalidArgumentError("--tasks: none named");
  if (o.seeds < 1)
    return absl::InvalidArgumentError(absl::StrCat("--seeds must be >= 1, got ", o.seeds));
  if (o.first_seed > std::numeric_limits<int>::max() - o.seeds) {
    return absl::InvalidArgumentError(
        absl::StrCat("--first-seed ", o.first_seed, " + --seeds ", o.seeds, " is too large"));
  }
  if (o.first_seed < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--first-seed must be >= 0, got ", o.first_seed));
  }
  if (o.trials < 0) {
    return absl::InvalidArgumentError(absl::StrCat("--trials must be >= 0, got ", o.trials));
  }
  if (o.jobs < 1)
    return absl::InvalidArgumentError(absl::StrCat("--jobs must be >= 1, got ", o.jobs));
  if (o.out_dir.empty()) return absl::InvalidArgumentError("--out: no folder named");
  for (const auto* list : {&o.optimizers, &o.tasks}) {
    std::set<std::string> seen;
    for (const std::string& name : *list) {
      if (!seen.insert(name).second) {
        return absl::InvalidArgumentError(absl::StrCat("'", name, "' is named twice"));
      }
    }
  }
  return absl::OkStatus();
}

// One cell of the work list.
struct Job {
  RunSpec spec;
  Runner* runner = nullptr;
  std::string fingerprint;          // RunFingerprint of the route's and the task's
  std::optional<RunRecord> record;  // set when done or reused
};

}  // namespace

std::string RunFingerprint(absl::string_view route_fingerprint, absl::string_view task_digest) {
  return absl::StrCat(route_fingerprint, "; task ", task_digest);
}

absl::StatusOr<BenchSummary> RunBench(const BenchOptions& options, const Router& router) {
  HPO_RETURN_IF_ERROR(CheckOptions(options));
  BenchSummary summary;

  // Route each optimizer.
  std::map<std::string, Route> routes;
  for (const std::string& o : options.optimizers) {
    HPO_ASSIGN_OR_RETURN(Route route, router(o));
    if (route.runner == nullptr) {
      summary.notes.push_back(absl::StrCat(o, ": skipped: ", route.skip_reason));
    }
    if (route.runner != nullptr && route.fingerprint.empty()) {
      return absl::InternalError(
          absl::StrCat("the route of '", o, "' has no fingerprint (its runs could not be reused)"));
    }
    routes[o] = std::move(route);
  }
  // Trials per task. A task the factory cannot make for want of data (FAILED_PRECONDITION, e.g.
  // the LCBench model file is absent) is skipped: one note per reason, naming its tasks.
  std::map<std::string, int> trials;
  std::map<std::string, std::string> task_digest;
  std::vector<std::pair<std::string, std::unique_ptr<tasks::Task>>> made;
  std::vector<std::string> tasks;
  std::vector<std::pair<std::string, std::vector<std::string>>> skipped_tasks;  // reason, names
  for (const std::string& t : options.tasks) {
    auto task = options.task_factory(t);
    if (!task.ok() && absl::IsFailedPrecondition(task.status())) {
      const std::string reason(task.status().message());
      auto same = std::find_if(skipped_tasks.begin(), skipped_tasks.end(),
                               [&reason](const auto& s) { return s.first == reason; });
      if (same == skipped_tasks.end()) same = skipped_tasks.insert(same, {reason, {}});
      // A suite whose tasks cannot even be listed counts no runs: how many is unknown.
      same->second.push_back(IsTaskSuite(t) ? absl::StrCat(t, " (suite)") : t);
      if (!IsTaskSuite(t)) {
        const int runs = static_cast<int>(options.optimizers.size()) * options.seeds;
        summary.total += runs;
        summary.skipped += runs;
      }
      continue;
    }
    HPO_RETURN_IF_ERROR(task.status());
    trials[t] = options.trials > 0 ? options.trials : DefaultTrials((*task)->space().params_size());
    made.emplace_back(t, *std::move(task));
  }
  for (const auto& [reason, names] : skipped_tasks) {
    summary.notes.push_back(absl::StrCat(absl::StrJoin(names, ", "), ": skipped: ", reason));
  }
  // Each task's digest, options.jobs at a time (a surrogate's evaluations may start a helper
  // process). A task that cannot be evaluated fails its runs, not the bench.
  std::vector<absl::StatusOr<std::string>> digests(made.size(), absl::UnknownError("not run"));
  std::atomic<size_t> next_task{0};
  RunOnThreads(std::min<int>(options.jobs, static_cast<int>(made.size())), [&] {
    for (size_t i = next_task++; i < made.size(); i = next_task++) {
      digests[i] = TaskDigest(*made[i].second);
    }
  });
  for (size_t i = 0; i < made.size(); ++i) {
    const std::string& t = made[i].first;
    if (!digests[i].ok()) {
      const int runs = static_cast<int>(options.optimizers.size()) * options.seeds;
      summary.total += runs;
      summary.failed += runs;
      summary.notes.push_back(absl::StrCat("failed: ", t, ": cannot evaluate the task (",
                                           digests[i].status().message(), "); ", runs,
                                           " runs not made"));
      continue;
    }
    task_digest[t] = *std::move(digests[i]);
    tasks.push_back(t);
  }

  std::error_code ec;
  std::filesystem::create_directories(options.out_dir, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create ", options.out_dir, ": ", ec.message()));
  }
  std::filesystem::create_directories(std::filesystem::path(options.out_dir) / "logs", ec);
  HPO_ASSIGN_OR_RETURN(
      std::unique_ptr<ResultsDb> db,
      ResultsDb::Open((std::filesystem::path(options.out_dir) / "results.sqlite").string()));

  // The work list, seed-major so partial results cover every task early.
  std::vector<Job> jobs;
  for (int seed = options.first_seed; seed < options.first_seed + options.seeds; ++seed) {
    for (const std::string& t : tasks) {
      for (const std::string& o : options.optimizers) {
        ++summary.total;
        const Route& route = routes[o];
        if (route.runner == nullptr) {
          ++summary.skipped;
          continue;
        }
        jobs.push_back(Job{RunSpec{o, t, seed, trials[t]}, route.runner,
                           RunFingerprint(route.fingerprint, task_digest[t]), std::nullopt});
      }
    }
  }

  Progress progress(options.progress != nullptr ? *options.progress : std::cerr,
                    options.progress_tty, static_cast<int>(jobs.size()));
  std::atomic<size_t> next{0};
  absl::Mutex mu;
  int ran = 0, reused = 0, failed = 0;
  std::vector<std::string> failures;
  absl::Status fatal;  // a results.sqlite error stops the bench
  auto work = [&] {
    while (true) {
      {
        absl::MutexLock lock(&mu);
        if (!fatal.ok()) return;
      }
      const size_t i = next.fetch_add(1);
      if (i >= jobs.size()) return;
      Job& job = jobs[i];
      const std::string label = job.spec.Label();
      absl::StatusOr<std::optional<RunRecord>> found = db->FindDone(job.spec, job.fingerprint);
      if (!found.ok()) {
        absl::MutexLock lock(&mu);
        fatal.Update(found.status());
        return;
      }
      if (found->has_value()) {
        job.record = std::move(**found);
        {
          absl::MutexLock lock(&mu);
          ++reused;
        }
        if (options.progress != nullptr) {
          progress.Finished(Progress::Outcome::kReused, label,
                            absl::StrFormat("best %.6g", job.record->best()));
        }
        continue;
      }
      RunRecord partial;
      partial.spec = job.spec;
      absl::StatusOr<RunRecord> record = job.runner->Run(job.spec, &partial);
      absl::Status saved;
      std::string failure;
      if (record.ok()) {
        saved = db->SaveDone(*record, job.fingerprint);
      } else {
        // The attempt's trials are kept, unless a finished run (another fingerprint's) is.
        failure = std::string(record.status().message());
        absl::StatusOr<bool> kept = db->SaveFailed(partial, failure, job.fingerprint);
        saved = kept.status();
        if (kept.ok() && *kept) {
          absl::StrAppend(&failure, " (results.sqlite keeps the earlier finished run)");
        } else if (kept.ok() && !partial.evals.empty()) {
          absl::StrAppend(&failure, " (its ", partial.evals.size(),
                          " evaluated trials are in results.sqlite)");
        }
      }
      absl::MutexLock lock(&mu);
      if (!saved.ok()) {
        fatal.Update(saved);
        return;
      }
      if (record.ok()) {
        ++ran;
        job.record = std::move(*record);
      } else {
        ++failed;
        failures.push_back(failure);
      }
      if (options.progress != nullptr) {
        // Printed under mu: Progress has its own lock, and the order of lines follows counts.
        progress.Finished(record.ok() ? Progress::Outcome::kRan : Progress::Outcome::kFailed, label,
                          record.ok() ? absl::StrFormat("best %.6g, %.1f s", job.record->best(),
                                                        job.record->wall_s)
                                      : failure);
      }
    }
  };
  RunOnThreads(std::min<int>(options.jobs, static_cast<int>(jobs.size())), work);
  if (options.progress != nullptr) progress.Done();
  HPO_RETURN_IF_ERROR(fatal);

  summary.ran = ran;
  summary.reused = reused;
  summary.failed += failed;
  for (const std::string& f : failures) summary.notes.push_back(absl::StrCat("failed: ", f));

  std::vector<RunRecord> records;
  for (Job& job : jobs) {
    if (job.record.has_value()) records.push_back(std::move(*job.record));
  }
  const Analysis analysis = Analyze(records, options.optimizers, tasks);
  ReportContext context;
  context.command = options.command;
  context.seeds = options.seeds;
  context.first_seed = options.first_seed;
  context.notes = summary.notes;
  HPO_RETURN_IF_ERROR(WriteReport(options.out_dir, analysis, context));
  summary.report_path = (std::filesystem::path(options.out_dir) / "report.md").string();
  return summary;
}

}  // namespace hpo::harness
