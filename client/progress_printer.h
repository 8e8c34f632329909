// Prints a study's progress from its events: one line rewritten in place on a terminal, else a
// new line whenever another trial finishes. Not thread-safe (one watcher thread uses it).
#ifndef HPO_CLIENT_PROGRESS_PRINTER_H_
#define HPO_CLIENT_PROGRESS_PRINTER_H_

#include <ostream>
#include <string>

#include "hpo/v1/hpo.pb.h"

namespace hpo::client {

class ProgressPrinter {
 public:
  ProgressPrinter(std::ostream& out, bool tty) : out_(out), tty_(tty) {}
  void OnEvent(const hpo::v1::StudyEvent& event);

 private:
  std::ostream& out_;
  const bool tty_;
  std::string last_line_;
  int last_finished_ = -1;
};

}  // namespace hpo::client

#endif  // HPO_CLIENT_PROGRESS_PRINTER_H_
