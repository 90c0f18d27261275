#ifndef VAULTCA_CA_REGISTRY_CA_SOURCE_FACTORY_H_
#define VAULTCA_CA_REGISTRY_CA_SOURCE_FACTORY_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ca/caching/caching_ca.h"
#include "ca/managed_ca.h"
#include "ca/registry/config_block.h"
#include "ca/registry/source_options.h"
#include "ca/sources/material_source.h"

namespace vaultca {
namespace vault {
class VaultClient;
}  // namespace vault

namespace ca {

// What every source shares, from the server's configuration.
struct CaSourceContext {
  // The mesh's trust domain (TRUST_DOMAIN).
  std::string trust_domain = "cluster.local";
  // The request policy (TTLs), refresh, staleness, start-up and root
  // policy a caching CA applies; a CA that is not a cache applies what
  // fits it.
  CachingCaOptions caching;
  // A Vault client from the standard VAULT_* settings (address, TLS,
  // auth), for Vault-backed sources; each call builds a new one.
  std::function<absl::StatusOr<std::shared_ptr<vault::VaultClient>>()>
      vault_client;
};

// Makes one kind of CA from its own configuration: the `ca.source` value
// it answers to, its `ca.<config_key>` block and environment variables,
// their checks, and the CA. Stateless; registered once in a
// CaSourceRegistry (see builtin_ca_sources.h). Derive from
// TypedCaSourceFactory rather than from this class.
class CaSourceFactory {
 public:
  virtual ~CaSourceFactory() = default;

  // The ca.source value (VAULTCA_CA_SOURCE), e.g. "files".
  virtual absl::string_view name() const = 0;
  // Other spellings ca.source accepts.
  virtual std::vector<std::string> aliases() const { return {}; }
  // The key of the block under ca: holding its options, e.g. "files".
  virtual absl::string_view config_key() const = 0;
  // Whether every signature is a call to another service (which keeps
  // the key): the server's readiness probe then signs less often.
  virtual bool signs_remotely() const { return false; }

  // Reads the ca.<config_key> block into its options in `options`.
  virtual void ReadConfig(ConfigBlock& block,
                          CaSourceOptions* options) const = 0;
  // Overlays its environment variables on its options in `options`.
  virtual void ReadEnvironment(EnvironmentBlock& env,
                               CaSourceOptions* options) const = 0;
  // Checks its options when it is the selected source; InvalidArgument
  // naming the option (and variable) and the fix.
  virtual absl::Status Validate(const CaSourceOptions& options) const = 0;
  // One line for --check-config: where the material or signatures come
  // from.
  virtual std::string Describe(const CaSourceOptions& options) const = 0;
  // Builds the CA, loading the first material (or issuer chain) as
  // context.caching's start-up policy says.
  virtual absl::StatusOr<std::unique_ptr<ManagedCertificateAuthority>> Create(
      const CaSourceOptions& options, const CaSourceContext& context) const = 0;
};

// A CaSourceFactory over its own options struct `Options`, whose member
// initialisers are the defaults.
template <typename Options>
class TypedCaSourceFactory : public CaSourceFactory {
 public:
  void ReadConfig(ConfigBlock& block, CaSourceOptions* options) const final {
    ReadOptions(block, &options->Mutable<Options>());
  }
  void ReadEnvironment(EnvironmentBlock& env,
                       CaSourceOptions* options) const final {
    ReadEnvironmentOptions(env, &options->Mutable<Options>());
  }
  absl::Status Validate(const CaSourceOptions& options) const final {
    return ValidateOptions(options.Get<Options>());
  }
  std::string Describe(const CaSourceOptions& options) const final {
    return DescribeOptions(options.Get<Options>());
  }
  absl::StatusOr<std::unique_ptr<ManagedCertificateAuthority>> Create(
      const CaSourceOptions& options,
      const CaSourceContext& context) const final {
    return CreateCa(options.Get<Options>(), context);
  }

 protected:
  virtual void ReadOptions(ConfigBlock& block, Options* options) const = 0;
  virtual void ReadEnvironmentOptions(EnvironmentBlock& env,
                                      Options* options) const = 0;
  virtual absl::Status ValidateOptions(const Options& options) const = 0;
  virtual std::string DescribeOptions(const Options& options) const = 0;
  virtual absl::StatusOr<std::unique_ptr<ManagedCertificateAuthority>>
  CreateCa(const Options& options, const CaSourceContext& context) const = 0;
};

// The caching CA over `source` (or its error), with context.caching: what
// a factory of a MaterialSource returns from CreateCa.
absl::StatusOr<std::unique_ptr<ManagedCertificateAuthority>> CachingCaOver(
    absl::StatusOr<std::unique_ptr<MaterialSource>> source,
    const CaSourceContext& context);

}  // namespace ca
}  // namespace vaultca

#endif  // VAULTCA_CA_REGISTRY_CA_SOURCE_FACTORY_H_
