// Background threads for optimizers' suggestions, at a lower CPU priority than RPC handlers.
#ifndef HPO_SERVER_SUGGEST_POOL_H_
#define HPO_SERVER_SUGGEST_POOL_H_

#include <deque>
#include <thread>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/synchronization/mutex.h"

namespace hpo::server {

// A GP suggestion keeps a core busy for tens of milliseconds. Run on the RPC's thread, it
// competes with the threads serving every other study's calls on equal terms; here it runs on
// threads whose nice value is raised, so on a busy machine the scheduler serves those calls
// first and the suggestion takes what is left. The caller waits (blocked, not spinning).
//
// Thread-safe. Its lock is a leaf.
class SuggestPool {
 public:
  // `threads` >= 1; `nice` is added to each thread's nice value (Linux: per thread). A thread
  // whose priority cannot be changed runs at the normal one.
  SuggestPool(int threads, int nice);
  ~SuggestPool();  // waits for running work; later Run calls run inline

  SuggestPool(const SuggestPool&) = delete;
  SuggestPool& operator=(const SuggestPool&) = delete;

  // Runs `fn` on a pool thread and returns when it has returned.
  void Run(absl::FunctionRef<void()> fn);

 private:
  struct Job {
    absl::FunctionRef<void()> fn;
    bool done = false;
  };
  void Loop(int nice);

  absl::Mutex mu_;
  std::deque<Job*> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace hpo::server

#endif  // HPO_SERVER_SUGGEST_POOL_H_
