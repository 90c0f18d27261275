#ifndef VAULTCA_COMMON_SYNC_H_
#define VAULTCA_COMMON_SYNC_H_

#include <condition_variable>
#include <mutex>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"

namespace vaultca {

// A mutex clang's -Wthread-safety analysis understands, built on std::mutex.
//
// Why not absl::Mutex: Debian ships Abseil as uninstrumented shared
// libraries, so ThreadSanitizer cannot see absl::Mutex's lock operations and
// reports false races on every ABSL_GUARDED_BY member. std::mutex goes
// through pthread, which TSan intercepts.
class ABSL_LOCKABLE Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock(); }
  // Tells the analysis the lock is held; a no-op at run time.
  void AssertHeld() const ABSL_ASSERT_EXCLUSIVE_LOCK() {}

 private:
  friend class CondVar;
  std::mutex mu_;
};

// Holds a Mutex for the lifetime of the scope.
class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) {
    mu_->Lock();
  }
  ~MutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

// A condition variable paired with vaultca::Mutex.
class CondVar {
 public:
  // Atomically releases `mu`, waits for a signal, and re-acquires `mu`.
  // Spurious wake-ups happen: call in a loop over the predicate.
  void Wait(Mutex* mu) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    std::unique_lock<std::mutex> lock(mu->mu_, std::adopt_lock);
    cv_.wait(lock);
    lock.release();
  }
  // Like Wait, bounded by `timeout`. Returns true if the timeout expired.
  bool WaitWithTimeout(Mutex* mu, absl::Duration timeout)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    // Clamp so an infinite or huge timeout cannot overflow the clock math.
    const absl::Duration kMaxWait = absl::Hours(24 * 365);
    if (timeout > kMaxWait) timeout = kMaxWait;
    std::unique_lock<std::mutex> lock(mu->mu_, std::adopt_lock);
    const bool timed_out =
        cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout)) ==
        std::cv_status::timeout;
    lock.release();
    return timed_out;
  }
  void Signal() { cv_.notify_one(); }
  void SignalAll() { cv_.notify_all(); }

 private:
  std::condition_variable cv_;
};

}  // namespace vaultca

#endif  // VAULTCA_COMMON_SYNC_H_
