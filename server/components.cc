#include "server/components.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "ca/registry/builtin_ca_sources.h"
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

// The Vault client every Vault-backed source uses: address, TLS and auth
// follow the Vault CLI / vault-env variables.
absl::StatusOr<std::shared_ptr<vault::VaultClient>> VaultClientFor(
    const EnvLookup& environment) {
  auto vault_config = vault::ConfigFromEnvironment(
      environment ? environment : vault::ProcessEnvironment());
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

absl::StatusOr<std::unique_ptr<ca::ManagedCertificateAuthority>>
BuildCertificateAuthority(const ServerConfig& config,
                          std::unique_ptr<ca::MaterialSource> source) {
  ca::CaSourceContext context;
  context.trust_domain = config.trust_domain;
  context.caching = BuildCachingCaOptions(config);
  context.vault_client = [environment = config.ca.vault_environment] {
    return VaultClientFor(environment);
  };
  if (source != nullptr) return ca::CachingCaOver(std::move(source), context);
  auto factory = ca::DefaultCaSources().Lookup("ca.source", config.ca.source);
  if (!factory.ok()) return factory.status();
  return (*factory)->Create(config.ca.source_options, context);
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
