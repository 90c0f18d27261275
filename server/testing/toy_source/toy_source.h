#ifndef VAULTCA_SERVER_TESTING_TOY_SOURCE_TOY_SOURCE_H_
#define VAULTCA_SERVER_TESTING_TOY_SOURCE_TOY_SOURCE_H_

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "ca/registry/ca_source_factory.h"

namespace vaultca {
namespace server {
namespace testing {

// ca.source toy: the ca.toy block. A CA source written the way a new one
// would be, to show what adding one takes: this folder, plus registering
// ToySourceFactory (see toy_source_test.cc).
struct ToySourceConfig {
  // The root's subject O=; VAULTCA_TOY_ORGANIZATION.
  std::string organization = "toy";
  // The root's lifetime, at least 1h.
  absl::Duration root_ttl = absl::Hours(24);
};

// ca.source toy: a P-256 root generated in memory at start (never
// persisted, never rotated), served by the caching CA. Tests only.
class ToySourceFactory : public ca::TypedCaSourceFactory<ToySourceConfig> {
 public:
  absl::string_view name() const override { return "toy"; }
  absl::string_view config_key() const override { return "toy"; }

 protected:
  void ReadOptions(ca::ConfigBlock& block,
                   ToySourceConfig* options) const override;
  void ReadEnvironmentOptions(ca::EnvironmentBlock& env,
                              ToySourceConfig* options) const override;
  absl::Status ValidateOptions(const ToySourceConfig& options) const override;
  std::string DescribeOptions(const ToySourceConfig& options) const override;
  absl::StatusOr<std::unique_ptr<ca::ManagedCertificateAuthority>> CreateCa(
      const ToySourceConfig& options,
      const ca::CaSourceContext& context) const override;
};

}  // namespace testing
}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_TESTING_TOY_SOURCE_TOY_SOURCE_H_
