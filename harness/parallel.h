// A minimal thread fan-out shared by the bench drivers.
#ifndef HPO_HARNESS_PARALLEL_H_
#define HPO_HARNESS_PARALLEL_H_

#include <functional>
#include <thread>
#include <vector>

namespace hpo::harness {

// Runs `work` on `threads` threads at once (the calling one among them, at least one) and
// returns when all have returned. `work` pulls its jobs from a shared queue of the caller's.
inline void RunOnThreads(int threads, const std::function<void()>& work) {
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();
}

}  // namespace hpo::harness

#endif  // HPO_HARNESS_PARALLEL_H_
