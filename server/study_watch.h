// A subscription to one study's events.
#ifndef HPO_SERVER_STUDY_WATCH_H_
#define HPO_SERVER_STUDY_WATCH_H_

#include <deque>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "hpo/v1/hpo.pb.h"

namespace hpo::server {

// First a SNAPSHOT, then TRIAL_UPDATED per state change (and STUDY_UPDATED now and then), last
// STUDY_ENDED. Thread-safe; its lock is a leaf (nothing else is taken under it). Events beyond
// kMaxQueued are dropped, oldest first.
class StudyWatch {
 public:
  static constexpr size_t kMaxQueued = 10000;

  // Waits for the next event until `deadline`. False when the deadline passed with no event, or
  // when the watch is closed and drained.
  bool Next(hpo::v1::StudyEvent* event, absl::Time deadline);
  bool closed() const;

  void Push(hpo::v1::StudyEvent event);
  void Close();

 private:
  mutable absl::Mutex mu_;
  std::deque<hpo::v1::StudyEvent> queue_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace hpo::server

#endif  // HPO_SERVER_STUDY_WATCH_H_
