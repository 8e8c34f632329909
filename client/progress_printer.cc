#include "client/progress_printer.h"

#include "client/format.h"
#include "core/trial_states.h"

namespace hpo::client {

void ProgressPrinter::OnEvent(const hpo::v1::StudyEvent& event) {
  const int finished = event.study().finished_trials();
  const bool ended = event.kind() == hpo::v1::StudyEvent::STUDY_ENDED;
  const std::string line = ProgressLine(event.study());
  if (tty_) {
    if (line != last_line_) out_ << "\r" << line << "\x1b[K" << std::flush;
    if (ended) out_ << "\n";
  } else if (finished != last_finished_ || ended ||
             event.kind() == hpo::v1::StudyEvent::STUDY_UPDATED) {
    if (line != last_line_) out_ << line << "\n" << std::flush;
  }
  last_line_ = line;
  last_finished_ = finished;
  if (ended) {
    out_ << "study " << event.study().spec().name() << " "
         << core::StudyStateName(event.study().state()) << "\n";
  }
}

}  // namespace hpo::client
