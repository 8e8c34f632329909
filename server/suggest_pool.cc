#include "server/suggest_pool.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/logging.h"

namespace hpo::server {

SuggestPool::SuggestPool(int threads, int nice) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this, nice] { Loop(nice); });
}

SuggestPool::~SuggestPool() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& t : threads_) t.join();
}

void SuggestPool::Run(absl::FunctionRef<void()> fn) {
  Job job{fn};
  absl::MutexLock lock(&mu_);
  if (stopping_) {
    fn();
    return;
  }
  queue_.push_back(&job);
  mu_.Await(absl::Condition(&job.done));
}

void SuggestPool::Loop(int nice) {
  // On Linux, nice values are per thread: PRIO_PROCESS with the thread's id.
  const pid_t tid = static_cast<pid_t>(::syscall(SYS_gettid));
  errno = 0;
  const int current = ::getpriority(PRIO_PROCESS, tid);
  if (errno == 0 && ::setpriority(PRIO_PROCESS, tid, current + nice) != 0) {
    HPO_LOG(WARNING) << "suggestion thread keeps its priority: " << std::strerror(errno);
  }
  absl::MutexLock lock(&mu_);
  while (true) {
    auto ready = [this]()
                     ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !queue_.empty() || stopping_; };
    mu_.Await(absl::Condition(&ready));
    if (queue_.empty()) return;  // stopping, nothing left
    Job* job = queue_.front();
    queue_.pop_front();
    mu_.Unlock();
    job->fn();
    mu_.Lock();
    job->done = true;
  }
}

}  // namespace hpo::server
