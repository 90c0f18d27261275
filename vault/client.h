#ifndef VAULTCA_VAULT_CLIENT_H_
#define VAULTCA_VAULT_CLIENT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/secret_data.h"
#include "vault/auth.h"
#include "vault/config.h"
#include "vault/kv_secret.h"
#include "vault/reference.h"

namespace vaultca {
namespace vault {

// What GET /v1/sys/health said.
enum class HealthState {
  kActive,              // 200
  kStandby,             // 429
  kDrSecondary,         // 472
  kPerformanceStandby,  // 473
  kUninitialized,       // 501
  kSealed,              // 503
};

struct HealthReport {
  HealthState state = HealthState::kActive;
  int http_status = 0;
  bool initialized = false;
  bool sealed = false;
  bool standby = false;
  std::string version;
  std::string cluster_name;

  // Returns OK when Vault can serve reads (active, standby, performance
  // standby); FailedPrecondition for uninitialised and DR secondary;
  // Unavailable for sealed.
  absl::Status ToStatus() const;
};

// Returns "active", "standby", "dr-secondary", "performance-standby",
// "uninitialized" or "sealed".
absl::string_view HealthStateName(HealthState state);

// A snapshot of the client's token lifecycle, for metrics and tests. Never
// contains the token.
struct TokenInfo {
  bool has_token = false;
  absl::Duration ttl = absl::ZeroDuration();  // Zero: never expires.
  bool renewable = false;
  absl::Time expire_at = absl::InfiniteFuture();
  int64_t logins = 0;
  int64_t renewals = 0;
  int64_t renewal_failures = 0;
  int64_t login_failures = 0;
};

// Hooks for tests and embedding programs. Every field has a sane default.
struct ClientOptions {
  // Sleeps between retries. Default: absl::SleepFor.
  std::function<void(absl::Duration)> sleep;
  // Returns a uniformly random number in [0, 1) for retry jitter.
  // Default: a thread-safe absl::BitGen.
  std::function<double()> uniform01;
  // Receives warnings (skip_verify at start, background renewal trouble).
  // Never receives secrets. Default: one line on stderr.
  std::function<void(absl::string_view)> warn;
  // Renews the token in a thread the client owns (joined on destruction),
  // so a token survives idle periods longer than its TTL and renewal adds
  // no latency to reads. When false, renewal happens lazily inside calls.
  bool background_renewal = true;
  // Replaces the authenticator built from config.auth.
  std::shared_ptr<const Authenticator> authenticator;
};

// A Vault client over HTTPS: KV reads, raw reads and writes (e.g. PKI sign),
// health, with login, token renewal, re-login on 403 and retries handled
// inside. Thread-safe. Logs in lazily at the first call that needs a token.
class VaultClient {
 public:
  // Builds a client from `config` (checked with ValidateConfig). Makes no
  // network call. Fails with InvalidArgument for a bad configuration or an
  // unreadable CA/client-certificate file.
  static absl::StatusOr<std::unique_ptr<VaultClient>> New(
      const VaultConfig& config, ClientOptions options = ClientOptions());

  virtual ~VaultClient() = default;

  // Reads a KV v1 or v2 secret at API path `path` (e.g.
  // "secret/data/pki/istiod"), version `version` (0 = latest). Errors:
  // NotFound "path not found", NotFound for a deleted or destroyed version
  // (the message says which), PermissionDenied, Unavailable, ...
  virtual absl::StatusOr<KvSecret> ReadKv(absl::string_view path,
                                          int64_t version = 0) = 0;

  // Reads the value `reference` points at (one request).
  virtual absl::StatusOr<SecretData> ReadReference(
      const Reference& reference) = 0;

  // Reads several references with one request per distinct path#version;
  // returns the values in the order given. Fails on the first error, whose
  // message names the reference.
  virtual absl::StatusOr<std::vector<SecretData>> ReadReferences(
      absl::Span<const Reference> references) = 0;

  // Probes GET /v1/sys/health without a token and without retries. Returns
  // a report for every status Vault's health endpoint defines (200, 429,
  // 472, 473, 501, 503); an error for transport failures and other
  // statuses.
  virtual absl::StatusOr<HealthReport> Health() = 0;

  // GET /v1/<path>; returns the response body (JSON) of a 2xx answer.
  virtual absl::StatusOr<SecretData> Read(absl::string_view path) = 0;

  // POST /v1/<path> with the JSON `body`; returns the response body of a
  // 2xx answer (empty for 204). For PKI signing, config writes, KV puts.
  virtual absl::StatusOr<SecretData> Write(absl::string_view path,
                                           absl::string_view body) = 0;
  virtual absl::StatusOr<SecretData> WriteSecret(absl::string_view path,
                                                 const SecretData& body) = 0;

  // DELETE /v1/<path>.
  virtual absl::Status Delete(absl::string_view path) = 0;

  // Logs in now (or validates the configured token) instead of at the
  // first call; useful as a readiness check.
  virtual absl::Status Login() = 0;

  // Returns the token lifecycle state.
  virtual TokenInfo token_info() const = 0;
};

}  // namespace vault
}  // namespace vaultca

#endif  // VAULTCA_VAULT_CLIENT_H_
