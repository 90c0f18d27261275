#include "server/components.h"

#include <fstream>
#include <sstream>
#include <utility>

#include "ca/sources/files/files_source.h"
#include "ca/sources/self_signed/self_signed_source.h"
#include "ca/sources/self_signed/self_signed_vault_source.h"
#include "absl/strings/str_cat.h"
#include "ca/sources/vault_kv/vault_kv_source.h"
#include "ca/vault_pki/managed_vault_pki_ca.h"
#include "vault/client.h"
#include "vault/config.h"
#include "server/auth/client_cert_authenticator.h"
#include "server/auth/jwt_authenticator.h"
#include "server/auth/kube_node_authorizer.h"
#include "server/auth/token_review_authenticator.h"
#include "server/kube/kube_api.h"
#include "server/kube/pod_index.h"

namespace vaultca {
namespace server {
namespace {

vault::EnvLookup VaultEnvironment(const ServerConfig& config) {
  if (config.ca.vault.environment) return config.ca.vault.environment;
  return vault::ProcessEnvironment();
}

// The Vault client every Vault-backed source uses: address, TLS and auth
// follow the Vault CLI / vault-env variables.
absl::StatusOr<std::shared_ptr<vault::VaultClient>> VaultClientFor(
    const ServerConfig& config) {
  auto vault_config = vault::ConfigFromEnvironment(VaultEnvironment(config));
  if (!vault_config.ok()) return vault_config.status();
  auto client = vault::VaultClient::New(*vault_config);
  if (!client.ok()) return client.status();
  return std::shared_ptr<vault::VaultClient>(*std::move(client));
}

// The Kubernetes API client of auth.token_review's connection settings,
// which every Kubernetes duty of the server shares; errors name `user`.
absl::StatusOr<std::unique_ptr<KubeApiClient>> KubeClientFor(
    const ServerConfig& config, absl::string_view user) {
  const TokenReviewConfig& tr = config.auth.token_review;
  KubeApiOptions api;
  api.api_server = tr.api_server;
  api.token_file = tr.token_file;
  api.ca_file = tr.ca_file;
  api.timeout = tr.timeout;
  auto client = KubeApiClient::New(api);
  if (!client.ok()) {
    return absl::Status(client.status().code(),
                        absl::StrCat(user, ": ", client.status().message()));
  }
  return client;
}


}  // namespace

absl::StatusOr<std::unique_ptr<ca::MaterialSource>> BuildMaterialSource(
    const ServerConfig& config) {
  switch (config.ca.source) {
    case CaSourceKind::kSelfSigned: {
      if (!config.ca.self_signed_vault_path.empty()) {
        auto client = VaultClientFor(config);
        if (!client.ok()) return client.status();
        ca::SelfSignedVaultSourceOptions options;
        options.kv_path = config.ca.self_signed_vault_path;
        options.trust_domain = config.trust_domain;
        options.key_type = config.ca.self_signed_key_type;
        auto source = ca::SelfSignedVaultSource::New(*std::move(client), options);
        if (!source.ok()) return source.status();
        return std::unique_ptr<ca::MaterialSource>(*std::move(source));
      }
      ca::SelfSignedSourceOptions options;
      options.state_dir = config.ca.self_signed_dir;
      options.trust_domain = config.trust_domain;
      options.key_type = config.ca.self_signed_key_type;
      auto source = ca::SelfSignedSource::New(options);
      if (!source.ok()) return source.status();
      return std::unique_ptr<ca::MaterialSource>(*std::move(source));
    }
    case CaSourceKind::kFiles: {
      ca::FilesSourceOptions options;
      options.dir = config.ca.cacerts_dir;
      auto source = ca::FilesSource::New(options);
      if (!source.ok()) return source.status();
      return std::unique_ptr<ca::MaterialSource>(*std::move(source));
    }
    case CaSourceKind::kVault: {
      auto client = VaultClientFor(config);
      if (!client.ok()) return client.status();
      ca::VaultKvSourceOptions options;
      options.cert_ref = config.ca.vault.cert_ref;
      options.key_ref = config.ca.vault.key_ref;
      options.chain_ref = config.ca.vault.chain_ref;
      options.root_ref = config.ca.vault.root_ref;
      auto source = ca::VaultKvSource::New(*std::move(client), options);
      if (!source.ok()) return source.status();
      return std::unique_ptr<ca::MaterialSource>(*std::move(source));
    }
    case CaSourceKind::kVaultPki:
      return absl::InvalidArgumentError(
          "ca.source vault-pki signs in Vault: it has no material source");
  }
  return absl::InvalidArgumentError("unknown CA source");
}

namespace {

// ca.source vault-pki: the Vault connection of the KV source, the request
// policy of the local CA, the roots pinned by file or read from Vault.
absl::StatusOr<std::unique_ptr<ca::ManagedCertificateAuthority>> BuildVaultPki(
    const ServerConfig& config) {
  const VaultPkiConfig& pki = config.ca.vault_pki;
  ca::ManagedVaultPkiCaOptions options;
  options.pki.mount = pki.mount;
  options.pki.role = pki.role;
  options.pki.issuer = pki.issuer;
  options.pki.endpoint = pki.endpoint == "sign-verbatim"
                             ? ca::VaultPkiEndpoint::kSignVerbatim
                             : ca::VaultPkiEndpoint::kSign;
  if (!pki.root_cert_file.empty()) {
    std::ifstream in(pki.root_cert_file, std::ios::binary);
    if (!in) {
      return absl::NotFoundError(absl::StrCat(
          "ca.vault_pki.root_cert_file: cannot read ", pki.root_cert_file));
    }
    std::ostringstream text;
    text << in.rdbuf();
    options.pki.root_bundle_pem = text.str();
  }
  const ca::CachingCaOptions caching = BuildCachingCaOptions(config);
  options.pki.policy = caching.policy;
  options.refresh_interval = caching.refresh_interval;
  options.max_staleness = caching.max_staleness;
  options.startup_policy = caching.startup_policy;
  options.startup_deadline = caching.startup_deadline;
  auto client = VaultClientFor(config);
  if (!client.ok()) return client.status();
  auto ca = ca::ManagedVaultPkiCa::New(*std::move(client), std::move(options));
  if (!ca.ok()) return ca.status();
  return std::unique_ptr<ca::ManagedCertificateAuthority>(*std::move(ca));
}

}  // namespace

absl::StatusOr<std::unique_ptr<ca::ManagedCertificateAuthority>>
BuildCertificateAuthority(const ServerConfig& config,
                          std::unique_ptr<ca::MaterialSource> source) {
  if (source == nullptr && config.ca.source == CaSourceKind::kVaultPki) {
    return BuildVaultPki(config);
  }
  if (source == nullptr) {
    auto built = BuildMaterialSource(config);
    if (!built.ok()) return built.status();
    source = *std::move(built);
  }
  auto ca = ca::CachingCertificateAuthority::New(std::move(source),
                                                 BuildCachingCaOptions(config));
  if (!ca.ok()) return ca.status();
  return std::unique_ptr<ca::ManagedCertificateAuthority>(*std::move(ca));
}

ca::CachingCaOptions BuildCachingCaOptions(const ServerConfig& config) {
  ca::CachingCaOptions options;
  options.policy.default_ttl = config.ca.default_workload_cert_ttl;
  options.policy.max_ttl = config.ca.max_workload_cert_ttl;
  options.policy.ttl_mode = config.ca.ttl_mode;
  options.refresh_interval = config.ca.refresh_interval;
  options.max_staleness = config.ca.max_staleness;
  options.stale_means_not_ready = config.ca.stale_means_not_ready;
  // The server waits for the first material itself, after it listens.
  options.startup_policy = config.ca.startup_policy;
  options.startup_deadline =
      config.ca.startup_policy == ca::StartupPolicy::kKeepTrying
          ? absl::ZeroDuration()
          : config.ca.startup_deadline;
  options.multi_root = config.ca.multi_root;
  return options;
}

absl::StatusOr<AuthComponents> BuildAuthComponents(const ServerConfig& config) {
  AuthComponents out;
  if (config.auth.client_certificate && !config.listen.plaintext) {
    ClientCertAuthenticatorOptions options;
    options.spiffe_only = config.auth.client_certificate_spiffe_only;
    options.trust_domain = config.trust_domain;
    out.authenticators.push_back(
        std::make_unique<ClientCertAuthenticator>(options));
  }
  for (const JwtIssuerConfig& issuer : config.auth.jwt) {
    JwtAuthenticatorOptions options;
    options.issuer = issuer.issuer;
    options.jwks_file = issuer.jwks_file;
    options.jwks_uri = issuer.jwks_uri;
    options.oidc_discovery = issuer.oidc_discovery;
    options.jwks_ca_file = issuer.ca_file;
    options.audiences = issuer.audiences;
    options.trust_domain = config.trust_domain;
    options.clock_skew = config.auth.jwt_clock_skew;
    auto auth = JwtAuthenticator::New(options);
    if (!auth.ok()) return auth.status();
    out.authenticators.push_back(*std::move(auth));
  }
  const TokenReviewConfig& tr = config.auth.token_review;
  if (tr.enabled) {
    auto client = KubeClientFor(config, "auth.token_review");
    if (!client.ok()) return client.status();
    std::shared_ptr<const KubeApiClient> shared = *std::move(client);
    TokenReviewOptions options;
    options.audiences = tr.audiences;
    options.trust_domain = config.trust_domain;
    options.cache_ttl = tr.cache_ttl;
    options.cache_max_entries = tr.cache_max_entries;
    options.negative_cache_ttl = tr.negative_cache_ttl;
    options.negative_cache_max_entries = tr.negative_cache_max_entries;
    options.max_concurrent_reviews = tr.max_concurrent_reviews;
    options.review_queue_timeout = tr.review_queue_timeout;
    out.authenticators.push_back(
        std::make_unique<TokenReviewAuthenticator>(shared, options));
    if (!config.auth.trusted_node_accounts.empty()) {
      // Checked against a watched pod index, as istiod's informers do; it
      // starts loading now, without holding up the server's start.
      auto pods = PodIndex::New(shared);
      if (!pods.ok()) return pods.status();
      out.impersonation =
          std::make_unique<KubeNodeAuthorizer>(*std::move(pods));
    }
  }
  if (out.authenticators.empty()) {
    return absl::InvalidArgumentError(
        "no authenticator is enabled (client certificates need TLS); "
        "configure auth.jwt or auth.token_review");
  }
  return out;
}

absl::StatusOr<std::unique_ptr<RootPublisher>> BuildRootPublisher(
    const ServerConfig& config) {
  const RootConfigMapConfig& rc = config.mesh.root_configmap;
  if (!rc.enabled) return nullptr;
  auto client = KubeClientFor(config, "mesh.root_configmap");
  if (!client.ok()) return client.status();
  RootPublisherOptions options;
  options.namespace_selector = rc.namespace_selector;
  options.lease_namespace = rc.lease_namespace;
  options.lease_name = rc.lease_name;
  options.identity = rc.identity;
  return RootPublisher::New(*std::move(client), options, "");
}

absl::StatusOr<std::unique_ptr<IstiodCertificate>> BuildIstiodCertificate(
    const ServerConfig& config, ca::CertificateAuthority* ca) {
  const IstiodCertificateConfig& ic = config.mesh.istiod_certificate;
  if (!ic.enabled) return nullptr;
  auto client = KubeClientFor(config, "mesh.istiod_certificate");
  if (!client.ok()) return client.status();
  const LeaderElectionConfig& le = config.mesh.leader_election;
  IstiodCertOptions options;
  options.istiod_namespace = ic.istiod_namespace;
  options.secret_name = ic.secret_name;
  options.revisions = ic.revisions;
  options.dns_names = ic.dns_names;
  options.ttl = ic.ttl;
  options.key_type = ic.key_type;
  options.lease_name = ic.lease_name;
  options.lease_namespace = le.lease_namespace.empty()
                                ? config.mesh.root_configmap.lease_namespace
                                : le.lease_namespace;
  options.identity = le.identity.empty() ? config.mesh.root_configmap.identity
                                         : le.identity;
  return IstiodCertificate::New(*std::move(client), options, ca);
}

CertificateHandlerOptions BuildHandlerOptions(const ServerConfig& config) {
  CertificateHandlerOptions options;
  options.trust_domain = config.trust_domain;
  options.cluster_id = config.cluster_id;
  options.cluster_aliases = config.cluster_aliases;
  options.identity_policy = config.auth.identity_policy;
  options.trusted_node_accounts = config.auth.trusted_node_accounts;
  return options;
}

}  // namespace server
}  // namespace vaultca
