#ifndef VAULTCA_CA_SOURCES_SELF_SIGNED_SELF_SIGNED_SOURCE_H_
#define VAULTCA_CA_SOURCES_SELF_SIGNED_SELF_SIGNED_SOURCE_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "ca/key_cert_bundle.h"
#include "ca/sources/material_source.h"
#include "common/sync.h"

namespace vaultca {
namespace ca {

struct SelfSignedSourceOptions {
  // Directory that keeps the root across restarts: ca-key.pem (0600) and
  // ca-cert.pem (0644). Created (0700) when missing. Required.
  std::string state_dir;
  // The root's subject is O=<trust_domain>, as istiod's self-signed root.
  std::string trust_domain = "cluster.local";
  // Algorithm of a newly generated key (istiod: RSA 2048).
  KeyType key_type = KeyType::kRsa;
  // Lifetime of a generated or renewed root (istiod: ten years).
  absl::Duration ttl = absl::Hours(24 * 365 * 10);
  // The root is renewed, with the same key, when less than this fraction
  // of its lifetime remains (istiod: 20%).
  double renew_fraction = 0.2;
  // Time source; tests inject one.
  std::function<absl::Time()> clock = [] { return absl::Now(); };
};

// istiod's default CA: a self-signed root generated on first start and
// persisted in a state directory, re-used on restart, and renewed with the
// SAME key and subject when less than `renew_fraction` of its life remains,
// so certificates issued under the old root keep verifying with the new
// one and vice versa. The root bundle is the root itself; the chain is
// empty.
//
// Every Fetch re-reads the state directory (under an flock, so processes
// sharing it never generate two keys), so an operator's edit or another
// replica's renewal is picked up. A state directory that cannot be
// trusted (a cert without its key, a corrupt cert, a key that does not
// match) is an error telling the operator what to restore or delete; it is
// never silently replaced.
class SelfSignedSource : public MaterialSource {
 public:
  // Checks `options` and creates the state directory if needed. Generation
  // happens on the first Fetch.
  static absl::StatusOr<std::unique_ptr<SelfSignedSource>> New(
      SelfSignedSourceOptions options);

  // Loads the root, generating or renewing (and persisting) it as needed.
  absl::StatusOr<CaMaterialPem> Fetch() override;

  // "self-signed:<state_dir>".
  std::string Description() const override;

 private:
  explicit SelfSignedSource(SelfSignedSourceOptions options);
  absl::StatusOr<CaMaterialPem> FetchLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<CaMaterialPem> IssueAndPersist(const SecretData& key_pem,
                                                absl::Time now,
                                                absl::string_view why)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const SelfSignedSourceOptions options_;
  const std::string key_path_;
  const std::string cert_path_;
  const std::string lock_path_;
  // Serialises generation within the process; the flock covers processes.
  Mutex mu_;
};

}  // namespace ca
}  // namespace vaultca

#endif  // VAULTCA_CA_SOURCES_SELF_SIGNED_SELF_SIGNED_SOURCE_H_
