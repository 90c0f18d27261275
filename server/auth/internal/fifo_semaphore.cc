#include "server/auth/internal/fifo_semaphore.h"

#include <algorithm>

#include "absl/time/clock.h"

namespace vaultca {
namespace server {
namespace internal {

FifoSemaphore::FifoSemaphore(int permits) : permits_(std::max(permits, 1)) {}

bool FifoSemaphore::Acquire(absl::Duration timeout) {
  MutexLock lock(&mu_);
  // Nobody may overtake a waiter, so a free permit is taken directly only
  // when the queue is empty.
  if (waiting_.empty() && in_use_ < permits_) {
    ++in_use_;
    return true;
  }
  const uint64_t ticket = next_ticket_++;
  waiting_.push_back(ticket);
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    // A permit handed over by Release stays counted in in_use_.
    if (granted_.erase(ticket) > 0) return true;
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) break;
    changed_.WaitWithTimeout(&mu_, left);
  }
  waiting_.erase(std::find(waiting_.begin(), waiting_.end(), ticket));
  return false;
}

void FifoSemaphore::Release() {
  MutexLock lock(&mu_);
  if (waiting_.empty()) {
    --in_use_;
    return;
  }
  granted_.insert(waiting_.front());
  waiting_.pop_front();
  // Waiters share one condition variable; each checks its own ticket.
  changed_.SignalAll();
}

int FifoSemaphore::in_use() const {
  MutexLock lock(&mu_);
  return in_use_;
}

int FifoSemaphore::waiting() const {
  MutexLock lock(&mu_);
  return static_cast<int>(waiting_.size());
}

}  // namespace internal
}  // namespace server
}  // namespace vaultca
