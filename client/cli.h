// The `hpo` command line. RunCli is main() made testable: it writes to the given streams and
// returns the exit code (0 ok, 1 failure, 2 bad usage).
#ifndef HPO_CLIENT_CLI_H_
#define HPO_CLIENT_CLI_H_

#include <ostream>

namespace hpo::client {

int RunCli(int argc, char** argv, std::ostream& out, std::ostream& err);

}  // namespace hpo::client

#endif  // HPO_CLIENT_CLI_H_
