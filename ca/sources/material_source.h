#ifndef VAULTCA_CA_SOURCES_MATERIAL_SOURCE_H_
#define VAULTCA_CA_SOURCES_MATERIAL_SOURCE_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ca/key_cert_bundle.h"

namespace vaultca {
namespace ca {

// Where CA material comes from: Vault KV, an Istio cacerts directory, a
// self-signed root in a state directory. A source only fetches; parsing,
// validation, caching and rotation belong to the caller (see
// ca/caching/caching_ca.h), so every source is checked the same way.
//
// Implementations are thread-safe.
class MaterialSource {
 public:
  virtual ~MaterialSource() = default;

  // Returns the material the source holds right now, unvalidated. Fails
  // with a message naming the source, what was missing or unreadable, and
  // what to do. Every call goes back to the source (no caching), so calling
  // it is how a caller notices a rotation.
  virtual absl::StatusOr<CaMaterialPem> Fetch() = 0;

  // Returns a short human-readable name for logs, e.g.
  // "files:/etc/cacerts" or "vault:secret/data/pki/istiod". Never secret.
  virtual std::string Description() const = 0;

  // Asks to have `on_change` called whenever the material may have changed
  // (a hint: the caller then calls Fetch). Replaces any earlier callback;
  // nullptr removes it. Once this returns, a replaced callback is neither
  // running nor called again, so its captures may be destroyed. The
  // callback runs on the source's own thread and must return quickly; it
  // must not call SetChangeCallback. Unimplemented when the source cannot
  // notice changes by itself (the caller then relies on polling).
  virtual absl::Status SetChangeCallback(std::function<void()> on_change) {
    return absl::UnimplementedError(
        "this CA material source does not report changes; rely on periodic "
        "refresh");
  }
};

}  // namespace ca
}  // namespace vaultca

#endif  // VAULTCA_CA_SOURCES_MATERIAL_SOURCE_H_
