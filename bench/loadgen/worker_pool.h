#ifndef VAULTCA_BENCH_LOADGEN_WORKER_POOL_H_
#define VAULTCA_BENCH_LOADGEN_WORKER_POOL_H_

// Fixed threads pulling jobs from one queue: how the blocking backends
// (cfssl over curl easy handles, raw OpenSSL) get N requests in flight.

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "common/sync.h"

namespace vaultca {
namespace bench {

class WorkerPool {
 public:
  // run(worker_index, job) runs on worker `worker_index`'s thread, so it can
  // use per-worker state without locks.
  using Job = std::function<void(int worker)>;
  explicit WorkerPool(int workers);
  ~WorkerPool();  // finishes queued jobs, then joins
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void Submit(Job job);

 private:
  void Loop(int worker);

  Mutex mu_;
  CondVar cv_;
  std::deque<Job> queue_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace bench
}  // namespace vaultca

#endif  // VAULTCA_BENCH_LOADGEN_WORKER_POOL_H_
