#ifndef VAULTCA_SERVER_SERVING_CERT_H_
#define VAULTCA_SERVER_SERVING_CERT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "ca/certificate_authority.h"
#include "ca/key_cert_bundle.h"
#include "common/secret_data.h"

namespace vaultca {
namespace server {

struct ServingCertOptions {
  // Directory for key.pem (0600), cert-chain.pem and root-cert.pem;
  // created 0700 when missing. An existing one must be owned by the
  // process's user and not group- or world-writable.
  std::string dir;
  // SANs of the certificate (DNS names).
  std::vector<std::string> dns_names;
  // Requested lifetime (the CA may shorten it).
  absl::Duration ttl = absl::Hours(24);
  // Re-issued when less than this fraction of its lifetime remains.
  double renew_fraction = 0.5;
  std::function<absl::Time()> clock = [] { return absl::Now(); };
};

// The gRPC server's own TLS certificate, signed with this CA's material
// for server authentication only (extendedKeyUsage serverAuth; workload
// certificates also carry clientAuth). Keeps one EC P-256 key for the life
// of the process (so the key file never changes under gRPC's file watcher
// and key and certificate always match) and rewrites the certificate chain
// and the client-verification roots
// atomically whenever it re-issues: at the first Refresh, after the CA
// material changed, and past the renewal point. gRPC's
// FileWatcherCertificateProvider picks the files up; existing connections
// keep their handshake. Not thread-safe: one maintenance thread calls
// Refresh.
class ServingCert {
 public:
  // Creates the directory and writes a fresh key. FailedPrecondition,
  // naming the directory and the fix, when an existing directory belongs
  // to another user or others can write it.
  static absl::StatusOr<std::unique_ptr<ServingCert>> New(
      ServingCertOptions options);

  // Issues a certificate when needed (see the class comment): signed with
  // `material`, the CA material in service, when the CA holds its key in
  // process (`ca` is then not used: its Sign issues the workload profile,
  // which also allows client authentication); otherwise, for a remote
  // signer such as Vault's PKI engine (null `material`), through
  // `ca`.Sign with the DNS names as identities, so the signer's profile
  // applies (a Vault role's key usages), and the chain and roots it
  // returns. `generation` (ca::CaStats::generation) stands for the
  // material of a remote signer: a change re-issues. Returns true when new
  // files were written. On failure the previous files stay.
  absl::StatusOr<bool> Refresh(
      ca::CertificateAuthority& ca,
      const std::shared_ptr<const ca::KeyCertBundle>& material,
      uint64_t generation = 0);

  std::string key_file() const { return options_.dir + "/key.pem"; }
  // The leaf followed by the CA chain (without the separate root bundle).
  std::string cert_file() const { return options_.dir + "/cert-chain.pem"; }
  // The root bundle client certificates are verified against.
  std::string roots_file() const { return options_.dir + "/root-cert.pem"; }
  // Of the current certificate; InfinitePast before the first issue.
  absl::Time not_after() const { return not_after_; }
  int64_t issued_count() const { return issued_; }

 private:
  ServingCert(ServingCertOptions options, std::string csr_pem);

  const ServingCertOptions options_;
  const std::string csr_pem_;
  absl::StatusOr<bool> IssueThroughSign(ca::CertificateAuthority& ca,
                                        const char* why);
  // Writes the files and records the certificate; `why` is for the log.
  absl::StatusOr<bool> Install(const std::string& leaf,
                               const std::string& cert_chain,
                               const std::string& roots, const char* why);

  std::shared_ptr<const ca::KeyCertBundle> material_;
  uint64_t generation_ = 0;
  absl::Time not_before_ = absl::InfinitePast();
  absl::Time not_after_ = absl::InfinitePast();
  int64_t issued_ = 0;
};

}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_SERVING_CERT_H_
