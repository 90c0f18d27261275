#ifndef VAULTCA_CLI_ROTATE_STATE_H_
#define VAULTCA_CLI_ROTATE_STATE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "ca/key_cert_bundle.h"
#include "common/secret_data.h"
#include "vault/client.h"

namespace vaultca {
namespace cli {

// Fields `vaultca rotate` keeps beside bootstrap's four while a rotation is
// under way. The CA's own readers (vaultca-server's Vault source, `sync`,
// `check`) read only the fields they reference, so these never change
// what is served; they make every run resumable from Vault alone.
//
// The next signing material, staged by `rotate root` until the new root is
// trusted everywhere.
inline constexpr char kNextCertField[] = "nextCertificate";
inline constexpr char kNextKeyField[] = "nextPrivateKey";
inline constexpr char kNextChainField[] = "nextCertChain";
// The root being retired (PEM) once signing moved to the new root.
inline constexpr char kRetiringRootField[] = "retiringRootCert";
// When signing last moved to new material (RFC 3339, UTC).
inline constexpr char kSwitchedAtField[] = "rotationSwitchedAt";
// When the last root rotation dropped its old root (RFC 3339, UTC).
inline constexpr char kRootDoneAtField[] = "rootRotationDoneAt";

// The CA's KV v2 secret as read, with the version for check-and-set.
struct CaRecord {
  std::string path;
  // 0 when the secret does not exist.
  int64_t version = 0;
  std::map<std::string, SecretData> fields;

  bool Has(absl::string_view field) const;
  // The field's text; empty when absent.
  std::string Text(absl::string_view field) const;
  // The material served now (certificate, privateKey, certChain, rootCert;
  // a missing rootCert means the certificate is its own root).
  ca::CaMaterialPem Live() const;
  // The staged material: the next* fields with the live root bundle.
  ca::CaMaterialPem Next() const;
};

// Reads the secret at the KV v2 data path `path`. NotFound (with what to
// do) when nothing is there; Vault's error otherwise.
absl::StatusOr<CaRecord> ReadCaRecord(vault::VaultClient* client,
                                      const std::string& path);

// Writes `fields` as the whole new version of the secret with
// check-and-set on `cas` (the version read). Aborted naming the path when
// another writer changed it since; Vault's error otherwise.
absl::Status WriteCaRecord(vault::VaultClient* client, const std::string& path,
                           const std::map<std::string, SecretData>& fields,
                           int64_t cas);

// Where a root rotation stands, from the record alone.
enum class RootPhase {
  // No rotation under way.
  kSteady,
  // Step publish-bundle done: the root bundle holds the old and the new
  // root, signing still uses the old intermediate, the new one is staged.
  kBundlePublished,
  // Step switch-signing done: the new intermediate signs, the bundle still
  // holds the retiring root.
  kSwitched,
};

// Returns "steady", "bundle published", "signing switched".
absl::string_view RootPhaseName(RootPhase phase);

// Returns the phase; InvalidArgument when the fields contradict each
// other (a staged intermediate and a retiring root at once).
absl::StatusOr<RootPhase> ClassifyRootPhase(const CaRecord& record);

// The certificates of a PEM bundle, each re-encoded as one PEM block (so
// two spellings of one certificate compare equal). InvalidArgument when a
// block does not parse.
absl::StatusOr<std::vector<std::string>> SplitCertificates(absl::string_view pem);

// True when every certificate of `wanted` is in `have` (both PEM bundles).
// False when either does not parse.
bool HoldsAll(absl::string_view have, absl::string_view wanted);

// The roots of `bundle_pem` that `cert_pem` verifies to through
// `chain_pem` at `at` (each re-encoded as by SplitCertificates).
std::vector<std::string> RootsOf(absl::string_view cert_pem,
                                 absl::string_view chain_pem,
                                 absl::string_view bundle_pem, absl::Time at);

// The bundle without the certificates of `drop`.
std::string WithoutCertificates(absl::string_view bundle_pem,
                                absl::string_view drop_pem);

// RFC 3339 in UTC, and back (InvalidArgument naming `what`).
std::string FormatUtc(absl::Time t);
absl::StatusOr<absl::Time> ParseUtc(absl::string_view text, absl::string_view what);

}  // namespace cli
}  // namespace vaultca

#endif  // VAULTCA_CLI_ROTATE_STATE_H_
