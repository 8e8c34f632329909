// Time source, injected so that lease expiry and heartbeats are tested without sleeping.
#ifndef HPO_CORE_CLOCK_H_
#define HPO_CORE_CLOCK_H_

#include <cstdint>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace hpo::core {

// Thread-safe: implementations may be called from any thread.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
  int64_t NowMs() const { return absl::ToUnixMillis(Now()); }

  // The process-wide wall clock.
  static Clock* Real();
};

// Milliseconds from now (the real clock) until `deadline`, rounded up, as poll(2) takes them:
// -1 for absl::InfiniteFuture(), 0 once it has passed, at most INT_MAX.
int PollTimeoutMs(absl::Time deadline);

// A clock that only moves when told to. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1'700'000'000)) : now_(start) {}
  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hpo::core

#endif  // HPO_CORE_CLOCK_H_
