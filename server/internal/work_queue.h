#ifndef VAULTCA_SERVER_INTERNAL_WORK_QUEUE_H_
#define VAULTCA_SERVER_INTERNAL_WORK_QUEUE_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "common/sync.h"

namespace vaultca {
namespace server {
namespace internal {

// A fixed pool of threads fed by a bounded FIFO. At most `capacity` tasks
// are admitted at once (running plus waiting); beyond that TrySubmit says
// no instead of queueing without limit. Thread-safe.
class WorkQueue {
 public:
  WorkQueue(int threads, int capacity);
  // Runs every admitted task, then joins the threads.
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // Admits `task` unless `capacity` tasks are already admitted or the queue
  // is shutting down. Returns whether it was admitted.
  bool TrySubmit(std::function<void()> task) ABSL_LOCKS_EXCLUDED(mu_);

  // Refuses new tasks, waits until every admitted one has run, and joins the
  // threads. Idempotent.
  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_);

  // Tasks admitted and not yet finished.
  int admitted() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Loop() ABSL_LOCKS_EXCLUDED(mu_);

  const int capacity_;
  mutable Mutex mu_;
  CondVar wake_;
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  int admitted_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
  Mutex join_mu_ ABSL_ACQUIRED_BEFORE(mu_);
};

}  // namespace internal
}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_INTERNAL_WORK_QUEUE_H_
