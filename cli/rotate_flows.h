#ifndef VAULTCA_CLI_ROTATE_FLOWS_H_
#define VAULTCA_CLI_ROTATE_FLOWS_H_

// The two flows of `vaultca rotate` and what they share. Used by rotate.cc
// only; split out so each flow reads on its own.

#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ca/key_cert_bundle.h"
#include "cli/report.h"
#include "cli/rotate_kube.h"
#include "cli/rotate_state.h"
#include "common/secret_data.h"
#include "server/kube/kube_api.h"
#include "vault/client.h"

namespace vaultca {
namespace cli {

struct RotateOptions {
  std::string flow;  // "intermediate" or "root"
  std::string path;  // KV v2 data path of the CA
  std::string step;  // empty: the next one
  bool dry_run = false;

  // New material.
  std::string key_type = "ec-p256";
  std::string organization = "cluster.local";
  std::string common_name = "vaultca intermediate";
  absl::Duration root_ttl = absl::Hours(24 * 365 * 10);
  absl::Duration intermediate_ttl = absl::Hours(24 * 365);

  // intermediate: the root's key, a file or a vault:PATH#FIELD reference.
  std::string root_key;
  // intermediate: a rotation newer than this counts as done (re-runs only
  // confirm it) unless --force.
  absl::Duration min_interval = absl::Hours(1);
  bool force = false;

  // root: where the new root's key goes (written 0600, never overwritten).
  std::string root_key_out;
  // root: how long after switching signing the old root stays trusted.
  absl::Duration grace = absl::Hours(24);
  // root: the CA servers accept a bundle that drops a root.
  bool multi_root = false;
  TrustBundleTarget trust;

  // Polling a precondition (0: look once) and a write's confirmation.
  absl::Duration wait = absl::ZeroDuration();
  absl::Duration confirm_timeout = absl::Minutes(3);
  absl::Duration poll_interval = absl::Seconds(1);

  // A running CA to confirm against (`vaultca check --server`'s flags).
  std::string server;
  bool plaintext = false;
  std::string server_ca_pem;
  std::string server_name = "istiod.istio-system.svc";
  SecretData server_token;
  std::string trust_domain = "cluster.local";
  std::string cluster_id = "Kubernetes";
};

struct RotateContext {
  RotateOptions o;
  vault::VaultClient* vault = nullptr;
  // Null when no Kubernetes API was configured.
  std::shared_ptr<const server::KubeApiClient> kube;
  std::ostream* out = nullptr;
  std::ostream* err = nullptr;
  std::function<void()> before_write;

  // Prints "vaultca rotate <flow>: <message>" to err; returns kExitFailed.
  int Refuse(const std::string& message) const;
  // Re-reads the record.
  absl::StatusOr<CaRecord> Read() const;
  // Dry run: prints the request. Otherwise runs before_write and writes
  // with check-and-set on record.version.
  absl::Status Write(const CaRecord& record,
                     const std::map<std::string, SecretData>& fields) const;
};

// Checks `material` as `vaultca check` does and adds one line per check
// to `report` (prefixed with `label`); false when one failed.
bool CheckCandidate(const ca::CaMaterialPem& material, const std::string& label,
                    Report* report);

// What the --server CA answers one test CSR with.
struct ServedChain {
  std::string leaf_pem;
  std::string intermediates_pem;  // between the leaf and the roots
  std::string roots_pem;          // the last element: the trust bundle
};
// Asks the --server CA for a certificate; `tls_roots_pem` verifies its
// TLS certificate unless --server-ca-file was given.
absl::StatusOr<ServedChain> AskServer(const RotateOptions& o,
                                      const std::string& tls_roots_pem);

// Polls `condition` every poll_interval until it returns OK, an error that
// waiting cannot change (anything but FailedPrecondition, Unavailable,
// DeadlineExceeded), or `timeout` passed (0: once). Returns the last answer.
absl::Status PollUntil(const RotateOptions& o, absl::Duration timeout,
                       const std::function<absl::Status()>& condition);

// Confirms that the --server CA signs under `cert_pem` (its chain's first
// certificate after the leaf) and that the leaf verifies against
// `bundle_pem`, polling up to confirm_timeout.
absl::Status ConfirmServerSignsWith(const RotateContext& ctx,
                                    const std::string& cert_pem,
                                    const std::string& bundle_pem);

// `vaultca rotate intermediate` and `vaultca rotate root`.
int RotateIntermediate(const RotateContext& ctx);
int RotateRoot(const RotateContext& ctx);

}  // namespace cli
}  // namespace vaultca

#endif  // VAULTCA_CLI_ROTATE_FLOWS_H_
