#ifndef VAULTCA_SERVER_AUTH_INTERNAL_FIFO_SEMAPHORE_H_
#define VAULTCA_SERVER_AUTH_INTERNAL_FIFO_SEMAPHORE_H_

#include <cstdint>
#include <deque>
#include <set>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "common/sync.h"

namespace vaultca {
namespace server {
namespace internal {

// A counting semaphore whose waiters are served in arrival order, each
// waiting at most a given time. First come, first served bounds how long a
// caller waits by the queue ahead of it, whatever arrives after it.
// Thread-safe.
class FifoSemaphore {
 public:
  explicit FifoSemaphore(int permits);
  FifoSemaphore(const FifoSemaphore&) = delete;
  FifoSemaphore& operator=(const FifoSemaphore&) = delete;

  // Takes a permit, waiting up to `timeout` (real time) behind earlier
  // callers. False when none came in time (nothing is then held).
  bool Acquire(absl::Duration timeout) ABSL_LOCKS_EXCLUDED(mu_);
  // Returns a permit taken by Acquire; the longest waiter gets it.
  void Release() ABSL_LOCKS_EXCLUDED(mu_);

  // Permits currently held, and callers waiting for one.
  int in_use() const ABSL_LOCKS_EXCLUDED(mu_);
  int waiting() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  const int permits_;
  mutable Mutex mu_;
  CondVar changed_;
  int in_use_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t next_ticket_ ABSL_GUARDED_BY(mu_) = 0;
  // Tickets waiting, oldest first, and tickets handed a permit by Release
  // that their waiter has not picked up yet.
  std::deque<uint64_t> waiting_ ABSL_GUARDED_BY(mu_);
  std::set<uint64_t> granted_ ABSL_GUARDED_BY(mu_);
};

}  // namespace internal
}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_AUTH_INTERNAL_FIFO_SEMAPHORE_H_
