// `hpo bench`: compares optimizers on benchmark tasks over seeds (see harness/bench.h).
#ifndef HPO_CLIENT_BENCH_COMMAND_H_
#define HPO_CLIENT_BENCH_COMMAND_H_

#include <ostream>
#include <string>

#include "CLI/CLI.hpp"
#include "auth/grpc_security.h"

namespace hpo::client {

struct BenchFlags {
  std::string optimizers;  // comma list; empty = every registered optimizer + optuna-tpe,random
  std::string tasks = "synthetic";
  int seeds = 20;
  int first_seed = 0;
  int trials = 0;  // 0 = ceil(20 + 40 sqrt(d)) per task
  std::string out = "bench-out";
  int jobs = 0;  // 0 = hardware cores
  bool distributed = false;
  std::string coordinator;  // default $HPO_COORDINATOR, else localhost:50051
  std::string python = "/usr/bin/python3";
  std::string optuna_adapter;  // default: harness::DefaultOptunaAdapterPath()
};

// Adds the `bench` subcommand with its flags bound to `flags` (which must outlive `app`).
CLI::App* AddBenchCommand(CLI::App& app, BenchFlags* flags);

// Runs the bench; progress goes to `err`, the summary to `out`. Returns the exit code: 0, 1 on
// an error or when runs failed (the report is written all the same).
// `security` reaches the coordinator of --distributed.
int RunBenchCommand(const BenchFlags& flags, const auth::ClientSecurity& security,
                    std::ostream& out, std::ostream& err);

}  // namespace hpo::client

#endif  // HPO_CLIENT_BENCH_COMMAND_H_
