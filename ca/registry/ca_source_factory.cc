#include "ca/registry/ca_source_factory.h"

#include <utility>

namespace vaultca {
namespace ca {

absl::StatusOr<std::unique_ptr<ManagedCertificateAuthority>> CachingCaOver(
    absl::StatusOr<std::unique_ptr<MaterialSource>> source,
    const CaSourceContext& context) {
  if (!source.ok()) return source.status();
  auto ca = CachingCertificateAuthority::New(*std::move(source),
                                             context.caching);
  if (!ca.ok()) return ca.status();
  return std::unique_ptr<ManagedCertificateAuthority>(*std::move(ca));
}

}  // namespace ca
}  // namespace vaultca
