#include "vault/client.h"

#include <iostream>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "common/sync.h"
#include "vault/internal/client_impl.h"
#include "vault/internal/http_transport.h"

namespace vaultca {
namespace vault {
namespace {

// A process-wide jitter source for clients that do not inject one.
double DefaultUniform01() {
  static Mutex* mu = new Mutex;
  static absl::BitGen* gen = new absl::BitGen;
  MutexLock lock(mu);
  return absl::Uniform<double>(*gen, 0.0, 1.0);
}

}  // namespace

absl::string_view HealthStateName(HealthState state) {
  switch (state) {
    case HealthState::kActive:
      return "active";
    case HealthState::kStandby:
      return "standby";
    case HealthState::kDrSecondary:
      return "dr-secondary";
    case HealthState::kPerformanceStandby:
      return "performance-standby";
    case HealthState::kUninitialized:
      return "uninitialized";
    case HealthState::kSealed:
      return "sealed";
  }
  return "unknown";
}

absl::Status HealthReport::ToStatus() const {
  switch (state) {
    case HealthState::kActive:
    case HealthState::kStandby:
    case HealthState::kPerformanceStandby:
      return absl::OkStatus();
    case HealthState::kUninitialized:
      return absl::FailedPreconditionError(
          "Vault is not initialised: run vault operator init");
    case HealthState::kDrSecondary:
      return absl::FailedPreconditionError(
          "Vault is a DR secondary and serves no reads: point VAULT_ADDR at "
          "the primary cluster");
    case HealthState::kSealed:
      return absl::UnavailableError("Vault is sealed: unseal it");
  }
  return absl::UnknownError("unknown Vault health state");
}

absl::StatusOr<std::unique_ptr<VaultClient>> VaultClient::New(
    const VaultConfig& config, ClientOptions options) {
  absl::Status valid = ValidateConfig(config);
  if (!valid.ok()) return valid;
  if (!options.sleep) options.sleep = [](absl::Duration d) { absl::SleepFor(d); };
  if (!options.uniform01) options.uniform01 = &DefaultUniform01;
  if (!options.warn) {
    options.warn = [](absl::string_view message) {
      std::cerr << "WARNING " << message << std::endl;
    };
  }
  std::shared_ptr<const Authenticator> authenticator = options.authenticator;
  if (authenticator == nullptr) {
    absl::StatusOr<std::unique_ptr<Authenticator>> made =
        NewAuthenticator(config.auth);
    if (!made.ok()) return made.status();
    authenticator = *std::move(made);
  }
  absl::StatusOr<std::unique_ptr<internal::HttpTransport>> transport =
      internal::NewCurlTransport(config);
  if (!transport.ok()) return transport.status();
  if (config.tls.skip_verify) {
    options.warn(absl::StrCat(
        "vault: TLS verification of ", config.address,
        " is DISABLED (VAULT_SKIP_VERIFY): anyone on the network path can "
        "impersonate Vault and steal the token; set VAULT_CACERT instead"));
  }
  return std::unique_ptr<VaultClient>(new internal::VaultClientImpl(
      config, std::move(options), std::move(authenticator),
      *std::move(transport)));
}

}  // namespace vault
}  // namespace vaultca
