#ifndef VAULTCA_CA_MANAGED_CA_H_
#define VAULTCA_CA_MANAGED_CA_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "ca/certificate_authority.h"
#include "ca/key_cert_bundle.h"

namespace vaultca {
namespace ca {

// What a managed CA does when nothing could be loaded by the start-up
// deadline.
enum class StartupPolicy {
  // New retries until startup_deadline, then returns the last error: the
  // process should exit.
  kFailAfterDeadline,
  // The first load runs in the background (with the refresh thread); New
  // waits for it at most startup_deadline and then returns a CA that may not
  // be ready yet (Sign answers Unavailable) and keeps retrying with backoff.
  kKeepTrying,
};

// Refresh failures by cause since start.
struct RefreshFailureCounts {
  int64_t fetch = 0;
  int64_t parse = 0;
  int64_t validation = 0;
  int64_t root_policy = 0;
  int64_t total() const { return fetch + parse + validation + root_policy; }
};

// A snapshot of a managed CA, for metrics, health, logs and publication.
struct CaStats {
  // What signs (the signing or issuing CA certificate); empty/zero before
  // the first load.
  bool has_material = false;
  std::string serial_hex;
  std::string subject;
  absl::Time not_before = absl::InfinitePast();
  absl::Time not_after = absl::InfinitePast();
  std::vector<std::string> root_fingerprints;
  // Changes whenever the roots or the signing chain change (0 before the
  // first load), so a reader re-reads RootBundlePem only then.
  uint64_t generation = 0;
  // The earliest NotAfter of the signing certificate and the CA
  // certificates between it and the roots.
  absl::Time chain_not_after = absl::InfinitePast();

  // Readiness (see ManagedCertificateAuthority::Readiness).
  bool ready = false;
  std::string not_ready_reason;
  // No successful refresh for longer than max_staleness (whatever
  // readiness says of it).
  bool stale = false;

  // Refresh history. Times are from the CA's clock.
  absl::Time last_refresh_attempt = absl::InfinitePast();
  absl::Time last_successful_refresh = absl::InfinitePast();
  absl::Time last_rotation = absl::InfinitePast();
  std::string last_error;  // Of the latest failed refresh; "" after success.
  int64_t refreshes = 0;   // Attempts.
  int64_t rotations = 0;   // Changes after the first load.
  RefreshFailureCounts failures;
};

// A CertificateAuthority that loads and refreshes what it signs with on its
// own (CA material from a source, or the issuer chain of a remote signer),
// and reports on it: what a server needs to decide readiness, export
// metrics, publish the roots and issue its own serving certificate,
// whatever does the signing. Thread-safe.
class ManagedCertificateAuthority : public CertificateAuthority {
 public:
  // OK when the CA can sign now; otherwise Unavailable (nothing loaded,
  // signer unreachable) or FailedPrecondition (expired, stale), with a
  // message naming the cause and the last refresh error.
  virtual absl::Status Readiness() const = 0;
  bool IsReady() const { return Readiness().ok(); }

  virtual CaStats Stats() const = 0;

  // The CA material in service when this CA signs in-process with a key it
  // holds; nullptr before the first load and for remote signers (the key
  // stays elsewhere: certificates come only from Sign).
  virtual std::shared_ptr<const KeyCertBundle> CurrentBundle() const = 0;

  // Where the material or the signatures come from, for logs.
  virtual const std::string& source_description() const = 0;
};

}  // namespace ca
}  // namespace vaultca

#endif  // VAULTCA_CA_MANAGED_CA_H_
