#ifndef VAULTCA_CA_SOURCES_TESTING_FAKE_CLOCK_H_
#define VAULTCA_CA_SOURCES_TESTING_FAKE_CLOCK_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>

#include "absl/time/time.h"

namespace vaultca {
namespace ca {
namespace testing {

// A clock tests move by hand. Copies share one time, so a copy handed to a
// component keeps following the test's Advance calls. Thread-safe.
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

}  // namespace testing
}  // namespace ca
}  // namespace vaultca

#endif  // VAULTCA_CA_SOURCES_TESTING_FAKE_CLOCK_H_
