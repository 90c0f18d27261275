#ifndef VAULTCA_CA_REGISTRY_CA_SOURCE_REGISTRY_H_
#define VAULTCA_CA_REGISTRY_CA_SOURCE_REGISTRY_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ca/registry/ca_source_factory.h"
#include "common/sync.h"

namespace vaultca {
namespace ca {

// The CA sources a server can be configured with, by ca.source name.
// Factories are never removed, so the pointers handed out stay valid for
// the registry's life. Thread-safe.
class CaSourceRegistry {
 public:
  CaSourceRegistry() = default;
  CaSourceRegistry(const CaSourceRegistry&) = delete;
  CaSourceRegistry& operator=(const CaSourceRegistry&) = delete;

  // Adds `factory`. InvalidArgument when its name or config key is empty;
  // AlreadyExists when its name, an alias or its config key is taken.
  absl::Status Register(std::unique_ptr<CaSourceFactory> factory)
      ABSL_LOCKS_EXCLUDED(mu_);

  // The factory answering to `name` or an alias (ASCII case ignored);
  // nullptr when none does.
  const CaSourceFactory* Find(absl::string_view name) const
      ABSL_LOCKS_EXCLUDED(mu_);

  // Find, or InvalidArgument "<what>='<name>' is invalid: expected a, b or
  // c" listing the registered names.
  absl::StatusOr<const CaSourceFactory*> Lookup(absl::string_view what,
                                                absl::string_view name) const
      ABSL_LOCKS_EXCLUDED(mu_);

  // Every factory, in registration order.
  std::vector<const CaSourceFactory*> factories() const
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  mutable Mutex mu_;
  std::vector<std::unique_ptr<CaSourceFactory>> factories_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace ca
}  // namespace vaultca

#endif  // VAULTCA_CA_REGISTRY_CA_SOURCE_REGISTRY_H_
