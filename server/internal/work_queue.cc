#include "server/internal/work_queue.h"

#include <utility>

namespace vaultca {
namespace server {
namespace internal {

WorkQueue::WorkQueue(int threads, int capacity) : capacity_(capacity) {
  threads_.reserve(threads);
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Loop(); });
}

WorkQueue::~WorkQueue() { Shutdown(); }

bool WorkQueue::TrySubmit(std::function<void()> task) {
  MutexLock lock(&mu_);
  if (stopping_ || admitted_ >= capacity_) return false;
  ++admitted_;
  tasks_.push_back(std::move(task));
  wake_.Signal();
  return true;
}

void WorkQueue::Shutdown() {
  MutexLock join_lock(&join_mu_);
  {
    MutexLock lock(&mu_);
    stopping_ = true;
    wake_.SignalAll();
  }
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

int WorkQueue::admitted() const {
  MutexLock lock(&mu_);
  return admitted_;
}

void WorkQueue::Loop() {
  while (true) {
    std::function<void()> task;
    {
      MutexLock lock(&mu_);
      // Even when stopping, drain what was admitted: each task owes a
      // caller an answer.
      while (tasks_.empty() && !stopping_) wake_.Wait(&mu_);
      if (tasks_.empty()) return;
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task();
    MutexLock lock(&mu_);
    --admitted_;
  }
}

}  // namespace internal
}  // namespace server
}  // namespace vaultca
