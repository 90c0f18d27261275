#ifndef VAULTCA_SERVER_MESH_ISTIOD_CERT_H_
#define VAULTCA_SERVER_MESH_ISTIOD_CERT_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ca/certificate_authority.h"
#include "ca/key_cert_bundle.h"
#include "server/kube/kube_api.h"

namespace vaultca {
namespace server {

struct IstiodCertOptions {
  // istiod's namespace, where the Secret lives.
  std::string istiod_namespace = "istio-system";
  // The Secret istiod mounts at /var/run/secrets/istiod/tls.
  std::string secret_name = "istiod-tls";
  // Istio revisions whose istiod-<rev> Service must be covered; "default"
  // adds nothing (its Service is istiod).
  std::vector<std::string> revisions;
  // Further DNS SANs (istiod-remote.<ns>.svc, an external name, ...).
  std::vector<std::string> dns_names;
  // Requested lifetime (the CA may shorten it).
  absl::Duration ttl = absl::Hours(24);
  // kRsa (2048 bits, what istiod and istio-csr issue) or kEcP256. A fresh
  // key for every certificate.
  ca::KeyType key_type = ca::KeyType::kRsa;
  // Renewed once this fraction of its lifetime has passed.
  double renew_fraction = 2.0 / 3.0;

  // Only the holder of this Lease writes; as RootPublisherOptions.
  std::string lease_namespace;
  std::string lease_name = "vaultca-istiod-cert";
  std::string identity;
  absl::Duration lease_duration = absl::Seconds(15);
  absl::Duration renew_deadline = absl::Seconds(10);
  absl::Duration retry_period = absl::Seconds(2);
  bool release_on_stop = true;

  // The API server ends each watch after this; it is resumed.
  absl::Duration watch_timeout = absl::Minutes(5);
  // A failed issue or write is retried after this (doubling up to 5 min).
  absl::Duration retry_backoff = absl::Milliseconds(500);
};

// The DNS SANs of istiod's certificate: istiod.<ns>.svc, then
// istiod-<rev>.<ns>.svc per revision, then the extra names, each once.
std::vector<std::string> IstiodDnsNames(const IstiodCertOptions& options);

// Keeps istiod's serving certificate, the one istiod reads when its own CA
// is off (ENABLE_CA_SERVER=false), in the kubernetes.io/tls Secret
// `secret_name`: tls.crt the leaf and intermediates (not the root), tls.key
// its PKCS#8 key, ca.crt the root bundle. The leaf carries exactly
// IstiodDnsNames, serverAuth, and is issued by `ca` (a workload profile,
// as istiod's own DNS certificate: serverAuth and clientAuth, no SPIFFE
// URI). A new certificate is written only when the Secret's is not usable
// (missing, edited, another root or signing certificate, other names or
// key type, expired) or has passed renew_fraction of its life; never one
// that does not verify to the current root. Works from a watch of the one
// Secret, so the steady state costs no requests; writes with
// resourceVersion preconditions; one writer per cluster through a Lease.
// Writes that follow each other within a minute (something keeps undoing
// them) are spaced ever wider, up to 5 minutes apart. Thread-safe.
class IstiodCertificate {
 public:
  // Starts watching and campaigning. `api` needs get, list, watch, create,
  // patch and delete on secrets in istiod_namespace, and get, create and
  // update on leases in lease_namespace. `ca` signs and must outlive the
  // returned object. Nothing is issued before SetCa.
  static absl::StatusOr<std::unique_ptr<IstiodCertificate>> New(
      std::shared_ptr<const KubeApiClient> api, IstiodCertOptions options,
      ca::CertificateAuthority* ca);

  // Stops at once (releasing the lease when configured to).
  virtual ~IstiodCertificate() = default;

  // The CA material in service: the root bundle workloads trust and the
  // signing certificate (PEM; empty when the CA does not expose it, as a
  // remote signer). A change re-issues the certificate; cheap and a no-op
  // when unchanged, so call it after every rotation check.
  virtual void SetCa(std::string root_bundle_pem,
                     std::string signing_cert_pem) = 0;

  // Whether this replica holds the lease and so writes.
  virtual bool IsLeader() const = 0;

  struct Stats {
    int checks = 0;      // times the leader checked the Secret
    int issued = 0;      // certificates issued by the CA
    int writes = 0;      // Secret creates and updates that succeeded
    int conflicts = 0;   // writes refused on a stale resourceVersion
    int failures = 0;    // failed issues or writes (retried)
    bool synced = false; // the watch has listed once
    // Of the certificate the Secret holds, when this replica last checked
    // it (the leader checks); InfinitePast before.
    absl::Time not_after = absl::InfinitePast();
  };
  virtual Stats stats() const = 0;

  // Waits until this replica, leading, has found the Secret usable for the
  // current CA and not yet due, or `timeout` passes; returns whether it
  // did.
  virtual bool WaitCurrent(absl::Duration timeout) const = 0;
};

}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_MESH_ISTIOD_CERT_H_
