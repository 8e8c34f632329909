// `hpo bench-stoppers`: the multi-fidelity benchmark of the early stoppers
// (harness/stopper_bench.h).
#ifndef HPO_CLIENT_STOPPER_BENCH_COMMAND_H_
#define HPO_CLIENT_STOPPER_BENCH_COMMAND_H_

#include <ostream>
#include <string>

#include "CLI/CLI.hpp"

namespace hpo::client {

struct StopperBenchFlags {
  std::string tasks = "curves";      // curves (the synthetic families), lcbench, or names
  std::string stoppers = "default";  // see harness::ParseStopperMethods
  int seeds = 10;
  int first_seed = 0;
  int budget = 126;  // full evaluations' worth of epochs per (task, seed)
  std::string sampler = "random";
  int workers = 0;  // 0: Track A; N: Track B through a coordinator with N simulated workers  //
                    // NAME or NAME:key=value;... (harness::ParseOptimizerVariant)
  std::string out = "bench-out/stoppers";
  int jobs = 0;  // 0 = hardware cores
};

// Adds the `bench-stoppers` subcommand with its flags bound to `flags` (which must outlive `app`).
CLI::App* AddStopperBenchCommand(CLI::App& app, StopperBenchFlags* flags);

// Runs it; progress goes to `err`, the report's path and tables to `out`. Returns the exit code.
int RunStopperBenchCommand(const StopperBenchFlags& flags, std::ostream& out, std::ostream& err);

}  // namespace hpo::client

#endif  // HPO_CLIENT_STOPPER_BENCH_COMMAND_H_
