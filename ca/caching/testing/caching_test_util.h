#ifndef VAULTCA_CA_CACHING_TESTING_CACHING_TEST_UTIL_H_
#define VAULTCA_CA_CACHING_TESTING_CACHING_TEST_UTIL_H_

// Fixtures shared by the caching CA's tests.

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "ca/caching/caching_ca.h"
#include "ca/caching/testing/fake_source.h"
#include "ca/generate.h"
#include "ca/key_cert_bundle.h"
#include "common/log.h"
#include "common/sync.h"
#include "testing/fake_clock.h"
#include "testing/test_pki.h"
#include "testing/wait.h"

namespace vaultca {
namespace ca {
namespace testing {

inline std::shared_ptr<const KeyCertBundle> MustBundle(
    const CaMaterialPem& material, absl::Time now = absl::Now()) {
  auto bundle = KeyCertBundle::Create(material, now);
  EXPECT_TRUE(bundle.ok()) << bundle.status();
  return bundle.ok() ? *bundle : nullptr;
}

// A root and intermediates under it with distinct names, so the issuer of
// each leaf tells which material signed it.
class Pki {
 public:
  explicit Pki(absl::Time now = absl::Now(), int root_slot = 0)
      : now_(now),
        root_(::vaultca::testkit::Root(KeyType::kRsa, now, root_slot)),
        root_bundle_(MustBundle(root_, now)) {}

  CaMaterialPem Intermediate(int n, absl::Duration ttl = absl::Hours(24 * 365)) {
    IntermediateOptions options;
    options.common_name = absl::StrCat("inter-", n);
    options.key_type = KeyType::kEcP256;
    options.ttl = ttl;
    options.now = now_;
    auto material = GenerateIntermediate(*root_bundle_, options);
    EXPECT_TRUE(material.ok()) << material.status();
    return *material;
  }
  const CaMaterialPem& root() const { return root_; }
  const std::string& root_pem() const { return root_.cert_pem; }

 private:
  absl::Time now_;
  CaMaterialPem root_;
  std::shared_ptr<const KeyCertBundle> root_bundle_;
};

inline CachingCaOptions ManualOptions(const testkit::FakeClock* clock = nullptr) {
  CachingCaOptions options;
  options.refresh_thread = false;
  options.startup_deadline = absl::ZeroDuration();
  options.min_retry_backoff = absl::Milliseconds(5);
  options.max_retry_backoff = absl::Milliseconds(50);
  if (clock != nullptr) {
    options.clock = clock->AsFunction();
    options.policy.clock = clock->AsFunction();
  }
  return options;
}

inline std::unique_ptr<CachingCertificateAuthority> MustNew(
    std::shared_ptr<FakeSourceState> state, CachingCaOptions options) {
  auto ca = CachingCertificateAuthority::New(std::make_unique<FakeSource>(state),
                                             std::move(options));
  EXPECT_TRUE(ca.ok()) << ca.status();
  return ca.ok() ? *std::move(ca) : nullptr;
}

// Collects WARNING lines while alive.
class LogCapture {
 public:
  LogCapture() {
    SetLogSinkForTesting([this](LogSeverity severity, absl::string_view line) {
      MutexLock lock(&mu_);
      if (severity != LogSeverity::kInfo) lines_.emplace_back(line);
    });
  }
  ~LogCapture() { SetLogSinkForTesting(nullptr); }
  int Count() {
    MutexLock lock(&mu_);
    return static_cast<int>(lines_.size());
  }
  std::string Joined() {
    MutexLock lock(&mu_);
    std::string all;
    for (const std::string& line : lines_) absl::StrAppend(&all, line, "\n");
    return all;
  }

 private:
  Mutex mu_;
  std::vector<std::string> lines_ ABSL_GUARDED_BY(mu_);
};

inline bool WaitUntil(const std::function<bool()>& done,
                      absl::Duration timeout = absl::Seconds(10)) {
  return testkit::WaitFor(done, timeout);
}

}  // namespace testing
}  // namespace ca
}  // namespace vaultca

#endif  // VAULTCA_CA_CACHING_TESTING_CACHING_TEST_UTIL_H_
