#include "server/study_watch.h"

#include <utility>

namespace hpo::server {

bool StudyWatch::Next(hpo::v1::StudyEvent* event, absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return !queue_.empty() || closed_; };
  mu_.AwaitWithDeadline(absl::Condition(&ready), deadline);
  if (queue_.empty()) return false;
  *event = std::move(queue_.front());
  queue_.pop_front();
  return true;
}

bool StudyWatch::closed() const {
  absl::MutexLock lock(&mu_);
  return closed_ && queue_.empty();
}

void StudyWatch::Push(hpo::v1::StudyEvent event) {
  absl::MutexLock lock(&mu_);
  if (closed_) return;
  if (queue_.size() >= kMaxQueued) queue_.pop_front();
  queue_.push_back(std::move(event));
}

void StudyWatch::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
}

}  // namespace hpo::server
