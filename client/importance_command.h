// `hpo importance STUDY [--format table|json|csv|yaml] [--method fanova|ped-anova] [--seed N]`:
// which parameters explain a study's objective values (importance/importance.h), from its
// completed trials.
#ifndef HPO_CLIENT_IMPORTANCE_COMMAND_H_
#define HPO_CLIENT_IMPORTANCE_COMMAND_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "backend/backend.h"
#include "importance/importance.h"

namespace hpo::client {

struct ImportanceFlags {
  std::string study;
  std::string format = "table";  // table | json | csv | yaml
  std::string method;            // fanova | ped-anova; empty: importance::kDefaultMethod
  uint64_t seed = 0;
};

// Adds the `importance` subcommand with its flags bound to `flags` (which must outlive `app`).
CLI::App* AddImportanceCommand(CLI::App& app, ImportanceFlags* flags);

// Fetches the study and its COMPLETED trials through `backend`, computes and prints. Errors go
// to `err` as "hpo: MESSAGE". Returns the exit code (0, or 1 on an error).
int RunImportanceCommand(const ImportanceFlags& flags, backend::Backend& backend, std::ostream& out,
                         std::ostream& err);

}  // namespace hpo::client

#endif  // HPO_CLIENT_IMPORTANCE_COMMAND_H_
