#ifndef VAULTCA_TESTING_FAKE_CLOCK_H_
#define VAULTCA_TESTING_FAKE_CLOCK_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>

#include "absl/time/time.h"

namespace vaultca {
namespace testkit {

// A clock tests move by hand, for code that takes its time decisions from
// an injected `std::function<absl::Time()>` (CachingCaOptions::clock,
// SelfSignedSourceOptions::clock, ...). Copies share one time, so a copy
// handed to a component keeps following the test's Advance calls.
// Thread-safe.
class FakeClock {
 public:
  explicit FakeClock(absl::Time start)
      : nanos_(std::make_shared<std::atomic<int64_t>>(absl::ToUnixNanos(start))) {}

  absl::Time Now() const { return absl::FromUnixNanos(nanos_->load()); }
  void Advance(absl::Duration by) { *nanos_ += absl::ToInt64Nanoseconds(by); }

  // A std::function reading this clock, for options structs.
  std::function<absl::Time()> AsFunction() const {
    auto nanos = nanos_;
    return [nanos] { return absl::FromUnixNanos(nanos->load()); };
  }

 private:
  std::shared_ptr<std::atomic<int64_t>> nanos_;
};

}  // namespace testkit
}  // namespace vaultca

#endif  // VAULTCA_TESTING_FAKE_CLOCK_H_
