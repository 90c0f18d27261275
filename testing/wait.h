#ifndef VAULTCA_TESTING_WAIT_H_
#define VAULTCA_TESTING_WAIT_H_

// Waiting for a condition instead of sleeping a fixed time: a test that
// waits for something to happen goes on as soon as it has, and fails after
// a generous timeout instead of flaking on a slow machine.

#include <utility>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace vaultca {
namespace testkit {

// Polls `condition` every `poll` until it returns true (then true) or
// `timeout` has passed (then false, after one last check).
template <typename Condition>
bool WaitFor(Condition&& condition, absl::Duration timeout = absl::Seconds(30),
             absl::Duration poll = absl::Milliseconds(5)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() >= deadline) return condition();
    absl::SleepFor(poll);
  }
  return true;
}

}  // namespace testkit
}  // namespace vaultca

#endif  // VAULTCA_TESTING_WAIT_H_
