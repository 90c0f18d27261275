#ifndef VAULTCA_CA_CACHING_TESTING_FAKE_SOURCE_H_
#define VAULTCA_CA_CACHING_TESTING_FAKE_SOURCE_H_

#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ca/key_cert_bundle.h"
#include "ca/sources/material_source.h"
#include "common/sync.h"

namespace vaultca {
namespace ca {
namespace testing {

// What a FakeSource serves; shared between the test and the source the
// caching CA owns.
class FakeSourceState {
 public:
  void Set(absl::StatusOr<CaMaterialPem> material) {
    MutexLock lock(&mu_);
    material_ = std::move(material);
  }
  // Sets the material and fires the change callback, as a watcher would.
  void SetAndNotify(absl::StatusOr<CaMaterialPem> material) {
    Set(std::move(material));
    Notify();
  }
  void Notify() {
    MutexLock lock(&callback_mu_);
    if (callback_) callback_();
  }
  int fetches() const {
    MutexLock lock(&mu_);
    return fetches_;
  }
  bool has_callback() {
    MutexLock lock(&callback_mu_);
    return callback_ != nullptr;
  }

 private:
  friend class FakeSource;
  absl::StatusOr<CaMaterialPem> Fetch() {
    MutexLock lock(&mu_);
    ++fetches_;
    if (material_.ok()) return *material_;
    // A fresh Status, not a copy sharing the stored one's refcounted rep:
    // Debian's Abseil is uninstrumented, so TSan cannot see that refcount
    // and would report a false race when the test replaces the status.
    return absl::Status(material_.status().code(), material_.status().message());
  }
  void SetCallback(std::function<void()> callback) {
    MutexLock lock(&callback_mu_);
    callback_ = std::move(callback);
  }

  mutable Mutex mu_;
  absl::StatusOr<CaMaterialPem> material_ ABSL_GUARDED_BY(mu_) =
      absl::UnavailableError("fake source: nothing set");
  int fetches_ ABSL_GUARDED_BY(mu_) = 0;
  Mutex callback_mu_;
  std::function<void()> callback_ ABSL_GUARDED_BY(callback_mu_);
};

// A MaterialSource serving whatever its FakeSourceState holds.
class FakeSource : public MaterialSource {
 public:
  explicit FakeSource(std::shared_ptr<FakeSourceState> state)
      : state_(std::move(state)) {}
  absl::StatusOr<CaMaterialPem> Fetch() override { return state_->Fetch(); }
  std::string Description() const override { return "fake:test"; }
  absl::Status SetChangeCallback(std::function<void()> on_change) override {
    state_->SetCallback(std::move(on_change));
    return absl::OkStatus();
  }

 private:
  std::shared_ptr<FakeSourceState> state_;
};

}  // namespace testing
}  // namespace ca
}  // namespace vaultca

#endif  // VAULTCA_CA_CACHING_TESTING_FAKE_SOURCE_H_
