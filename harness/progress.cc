#include "harness/progress.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace hpo::harness {
namespace {

std::string Clock(absl::Duration d) {
  const int64_t s = absl::ToInt64Seconds(d);
  if (s >= 3600) return absl::StrFormat("%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60);
  return absl::StrFormat("%d:%02d", s / 60, s % 60);
}

}  // namespace

std::string Progress::Bar(int done, int total, int width) {
  const int filled = total <= 0 ? width : std::min(width, done * width / total);
  std::string bar = "[";
  for (int i = 0; i < width; ++i) bar += i < filled ? '=' : (i == filled ? '>' : ' ');
  if (filled == width) bar.back() = '=';
  return bar + "]";
}

void Progress::Finished(Outcome outcome, const std::string& label, const std::string& detail,
                        absl::Time now) {
  absl::MutexLock lock(&mu_);
  ++done_;
  if (outcome == Outcome::kReused) ++reused_;
  if (outcome == Outcome::kFailed) ++failed_;
  const char* verb = outcome == Outcome::kRan      ? "done"
                     : outcome == Outcome::kReused ? "reused"
                                                   : "FAILED";
  if (!tty_) {
    out_ << "[" << done_ << "/" << total_ << "] " << verb << " " << label;
    if (!detail.empty()) out_ << ": " << detail;
    out_ << "\n";
    out_.flush();
    return;
  }
  const absl::Duration elapsed = now - start_;
  const int ran = done_ - reused_;
  std::string eta;
  if (ran > 0 && done_ < total_) {
    eta = absl::StrCat(", ETA ", Clock(elapsed / ran * (total_ - done_)));
  }
  if (outcome == Outcome::kFailed) {
    out_ << "\r\033[K" << verb << " " << label << ": " << detail << "\n";
  }
  out_ << "\r\033[K" << Bar(done_, total_, 30) << " " << done_ << "/" << total_ << " runs ("
       << reused_ << " reused, " << failed_ << " failed) " << Clock(elapsed) << eta << "  "
       << label;
  out_.flush();
  drawn_ = true;
}

void Progress::Done() {
  absl::MutexLock lock(&mu_);
  if (tty_ && drawn_) {
    out_ << "\n";
    out_.flush();
  }
  drawn_ = false;
}

}  // namespace hpo::harness
