// The environment overlay and the consistency check of ServerConfig.

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "ca/registry/builtin_ca_sources.h"
#include "common/log.h"
#include "server/config.h"
#include "server/internal/config_parse.h"

namespace vaultca {
namespace server {
namespace {

// Applies one variable when set and non-empty; the first error sticks.
class EnvOverlay : public ca::EnvironmentBlock {
 public:
  EnvOverlay(const EnvLookup& env, absl::Status* status)
      : env_(env), status_(status) {}

  std::optional<std::string> Get(absl::string_view name) {
    std::optional<std::string> value = env_(name);
    if (!value.has_value() || value->empty() || !status_->ok()) {
      return std::nullopt;
    }
    return value;
  }
  void String(absl::string_view name, std::string* out) override {
    if (auto v = Get(name)) *out = *v;
  }
  void Parsed(absl::string_view name, const ca::OptionParser& parse) override {
    if (auto v = Get(name)) {
      if (absl::Status s = parse(name, *v); !s.ok()) *status_ = s;
    }
  }
  void List(absl::string_view name, std::vector<std::string>* out) {
    if (auto v = Get(name)) *out = internal::SplitList(*v);
  }
  void Int(absl::string_view name, int* out) {
    if (auto v = Get(name)) {
      if (!absl::SimpleAtoi(*v, out)) {
        *status_ = absl::InvalidArgumentError(
            absl::StrCat(name, "='", *v, "' is invalid: expected an integer"));
      }
    }
  }

 private:
  const EnvLookup& env_;
  absl::Status* status_;
};

absl::Status Invalid(absl::string_view option, absl::string_view problem) {
  return absl::InvalidArgumentError(
      absl::StrCat("configuration option ", option, ": ", problem));
}

bool IsDnsName(absl::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  for (absl::string_view label : absl::StrSplit(name, '.')) {
    if (label.empty() || label.size() > 63) return false;
    for (char c : label) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      (c >= '0' && c <= '9') || c == '-';
      if (!ok) return false;
    }
  }
  return true;
}

absl::Status ValidateAuth(const AuthConfig& auth) {
  for (size_t i = 0; i < auth.jwt.size(); ++i) {
    const JwtIssuerConfig& j = auth.jwt[i];
    const std::string where = absl::StrCat("auth.jwt[", i, "]");
    if (j.issuer.empty()) return Invalid(where, "issuer is required");
    const int sources =
        !j.jwks_file.empty() + !j.jwks_uri.empty() + j.oidc_discovery;
    if (sources != 1) {
      return Invalid(where, "set exactly one of jwks_file (a JWKS JSON file), "
                            "jwks_uri (its https URL) or oidc_discovery: true");
    }
    if (!j.jwks_uri.empty() && !absl::StartsWith(j.jwks_uri, "https://")) {
      return Invalid(where, "jwks_uri must be an https:// URL");
    }
    if (j.oidc_discovery && !absl::StartsWith(j.issuer, "https://")) {
      return Invalid(where, "oidc_discovery needs an https:// issuer");
    }
    if (j.audiences.empty()) {
      return Invalid(where, "audiences must not be empty (istio-agent "
                            "requests tokens for 'istio-ca')");
    }
  }
  if (!auth.client_certificate && auth.jwt.empty() &&
      !auth.token_review.enabled) {
    return Invalid("auth", "every authenticator is off, so no request could "
                           "succeed: enable client_certificate, jwt or "
                           "token_review");
  }
  const TokenReviewConfig& tr = auth.token_review;
  if (tr.enabled) {
    if (tr.audiences.empty()) {
      return Invalid("auth.token_review.audiences (TOKEN_AUDIENCES)",
                     "must not be empty");
    }
    if (tr.timeout <= absl::ZeroDuration()) {
      return Invalid("auth.token_review.timeout", "must be positive");
    }
    if (tr.cache_max_entries < 0) {
      return Invalid("auth.token_review.cache_max_entries",
                     "must not be negative");
    }
    if (tr.negative_cache_ttl < absl::ZeroDuration() ||
        tr.negative_cache_ttl > absl::Minutes(1)) {
      // Long enough to absorb a flood; longer would keep refusing a token
      // whose pod the API server has only just seen.
      return Invalid("auth.token_review.negative_cache_ttl",
                     "must be in [0s, 1m]");
    }
    if (tr.negative_cache_max_entries < 0) {
      return Invalid("auth.token_review.negative_cache_max_entries",
                     "must not be negative");
    }
    if (tr.max_concurrent_reviews < 1 || tr.max_concurrent_reviews > 1024) {
      return Invalid("auth.token_review.max_concurrent_reviews",
                     "must be in [1, 1024]");
    }
    if (tr.review_queue_timeout < absl::ZeroDuration() ||
        tr.review_queue_timeout > absl::Minutes(1)) {
      return Invalid("auth.token_review.review_queue_timeout",
                     "must be in [0s, 1m]");
    }
  }
  if (auth.jwt_clock_skew > absl::Minutes(10)) {
    return Invalid("auth.jwt_clock_skew", "must be at most 10m");
  }
  for (const std::string& account : auth.trusted_node_accounts) {
    std::vector<std::string> parts = absl::StrSplit(account, '/');
    if (parts.size() != 2 || parts[0].empty() || parts[1].empty()) {
      return Invalid("auth.trusted_node_accounts (CA_TRUSTED_NODE_ACCOUNTS)",
                     absl::StrCat("'", account,
                                  "' is not <namespace>/<serviceaccount>"));
    }
  }
  if (!auth.trusted_node_accounts.empty() && !tr.enabled) {
    return Invalid("auth.trusted_node_accounts",
                   "impersonation checks pods through the Kubernetes API: "
                   "enable auth.token_review too");
  }
  return absl::OkStatus();
}

bool IsLabel(absl::string_view s) {
  if (s.empty() || s.size() > 63 || s.front() == '-' || s.back() == '-') {
    return false;
  }
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
      return false;
    }
  }
  return true;
}

absl::Status ValidateIstiodCertificate(const ServerConfig& config) {
  const IstiodCertificateConfig& ic = config.mesh.istiod_certificate;
  if (!ic.enabled) return absl::OkStatus();
  if (!IsLabel(ic.istiod_namespace)) {
    return Invalid("mesh.istiod_certificate.namespace "
                   "(VAULTCA_ISTIOD_CERT_NAMESPACE)",
                   absl::StrCat("'", ic.istiod_namespace,
                                "' is not a namespace name"));
  }
  if (!IsDnsName(ic.secret_name) ||
      ic.secret_name != absl::AsciiStrToLower(ic.secret_name)) {
    return Invalid("mesh.istiod_certificate.secret_name",
                   absl::StrCat("'", ic.secret_name,
                                "' is not a Secret name (istiod reads "
                                "istiod-tls)"));
  }
  for (const std::string& revision : ic.revisions) {
    if (revision != "default" && !IsLabel(absl::StrCat("istiod-", revision))) {
      return Invalid("mesh.istiod_certificate.revisions "
                     "(VAULTCA_ISTIOD_CERT_REVISIONS)",
                     absl::StrCat("'", revision,
                                  "' cannot name the Service istiod-<rev>"));
    }
  }
  for (const std::string& name : ic.dns_names) {
    if (!IsDnsName(name)) {
      return Invalid("mesh.istiod_certificate.dns_names "
                     "(VAULTCA_ISTIOD_CERT_DNS_NAMES)",
                     absl::StrCat("'", name, "' is not a DNS name"));
    }
  }
  if (ic.ttl < absl::Minutes(10)) {
    return Invalid("mesh.istiod_certificate.ttl (VAULTCA_ISTIOD_CERT_TTL)",
                   "must be at least 10m");
  }
  if (config.ca.ttl_mode == ca::TtlMode::kIstiod &&
      ic.ttl > config.ca.max_workload_cert_ttl) {
    return Invalid(
        "mesh.istiod_certificate.ttl (VAULTCA_ISTIOD_CERT_TTL)",
        absl::StrCat("is ", absl::FormatDuration(ic.ttl),
                     ", above ca.max_workload_cert_ttl (",
                     absl::FormatDuration(config.ca.max_workload_cert_ttl),
                     "), which the CA would refuse"));
  }
  if (ic.key_type != ca::KeyType::kRsa && ic.key_type != ca::KeyType::kEcP256) {
    return Invalid("mesh.istiod_certificate.key_type", "rsa-2048 or ec-p256");
  }
  const LeaderElectionConfig& le = config.mesh.leader_election;
  const std::string& identity =
      le.identity.empty() ? config.mesh.root_configmap.identity : le.identity;
  const std::string& lease_namespace =
      le.lease_namespace.empty() ? config.mesh.root_configmap.lease_namespace
                                 : le.lease_namespace;
  if (identity.empty() || lease_namespace.empty() || ic.lease_name.empty()) {
    return Invalid("mesh.istiod_certificate",
                   "mesh.leader_election.identity (POD_NAME), "
                   "mesh.leader_election.lease_namespace (POD_NAMESPACE) and "
                   "lease_name must be set: replicas elect one writer");
  }
  return absl::OkStatus();
}

}  // namespace

EnvLookup ProcessEnvironment() {
  return [](absl::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

absl::Status ApplyEnvironment(const EnvLookup& env, ServerConfig* config) {
  absl::Status status;
  EnvOverlay e(env, &status);
  // istiod's names.
  e.String("TRUST_DOMAIN", &config->trust_domain);
  e.String("CLUSTER_ID", &config->cluster_id);
  e.Value("DEFAULT_WORKLOAD_CERT_TTL", &config->ca.default_workload_cert_ttl,
          internal::ParseDurationValue);
  e.Value("MAX_WORKLOAD_CERT_TTL", &config->ca.max_workload_cert_ttl,
          internal::ParseDurationValue);
  e.List("CA_TRUSTED_NODE_ACCOUNTS", &config->auth.trusted_node_accounts);
  e.List("TOKEN_AUDIENCES", &config->auth.token_review.audiences);
  e.Value("ISTIO_MULTIROOT_MESH", &config->ca.multi_root,
          internal::ParseBoolValue);
  // vaultca's own.
  e.List("VAULTCA_CLUSTER_ALIASES", &config->cluster_aliases);
  e.String("VAULTCA_LOG_LEVEL", &config->log_level);
  e.String("VAULTCA_GRPC_ADDRESS", &config->listen.grpc_address);
  e.String("VAULTCA_HTTP_ADDRESS", &config->listen.http_address);
  e.Value("VAULTCA_PLAINTEXT", &config->listen.plaintext,
          internal::ParseBoolValue);
  const ca::CaSourceRegistry& sources = ca::DefaultCaSources();
  e.Parsed("VAULTCA_CA_SOURCE",
           [&](absl::string_view what, absl::string_view text) {
             auto factory = sources.Lookup(what, text);
             if (!factory.ok()) return factory.status();
             config->ca.source = std::string((*factory)->name());
             return absl::OkStatus();
           });
  for (const ca::CaSourceFactory* factory : sources.factories()) {
    factory->ReadEnvironment(e, &config->ca.source_options);
  }
  e.Value("VAULTCA_TTL_MODE", &config->ca.ttl_mode, internal::ParseTtlMode);
  e.Value("VAULTCA_STARTUP_POLICY", &config->ca.startup_policy,
          internal::ParseStartupPolicy);
  e.String("VAULTCA_ROOT_CERT_FILE", &config->ca.root_cert_file);
  e.Value("VAULTCA_IDENTITY_POLICY", &config->auth.identity_policy,
          internal::ParseIdentityPolicy);
  e.Value("VAULTCA_TOKEN_REVIEW", &config->auth.token_review.enabled,
          internal::ParseBoolValue);
  e.Value("VAULTCA_CLIENT_CERT_SPIFFE_ONLY",
          &config->auth.client_certificate_spiffe_only,
          internal::ParseBoolValue);
  e.List("VAULTCA_SERVING_DNS_NAMES", &config->serving.dns_names);
  e.String("VAULTCA_SERVING_CERT_DIR", &config->serving.cert_dir);
  e.Int("VAULTCA_MAX_CONCURRENT_REQUESTS",
        &config->limits.max_concurrent_requests);
  RootConfigMapConfig& rc = config->mesh.root_configmap;
  e.Value("VAULTCA_ROOT_CONFIGMAP", &rc.enabled, internal::ParseBoolValue);
  IstiodCertificateConfig& ic = config->mesh.istiod_certificate;
  e.Value("VAULTCA_ISTIOD_CERT", &ic.enabled, internal::ParseBoolValue);
  e.String("VAULTCA_ISTIOD_CERT_NAMESPACE", &ic.istiod_namespace);
  e.List("VAULTCA_ISTIOD_CERT_REVISIONS", &ic.revisions);
  e.List("VAULTCA_ISTIOD_CERT_DNS_NAMES", &ic.dns_names);
  e.Value("VAULTCA_ISTIOD_CERT_TTL", &ic.ttl, internal::ParseDurationValue);
  e.Value("VAULTCA_ISTIOD_CERT_KEY_TYPE", &ic.key_type,
          ParseIstiodCertKeyType);
  // The downward API's pod name and namespace fill what the file left out,
  // for every mesh duty's election.
  LeaderElectionConfig& le = config->mesh.leader_election;
  if (le.identity.empty()) e.String("POD_NAME", &le.identity);
  if (le.lease_namespace.empty()) e.String("POD_NAMESPACE", &le.lease_namespace);
  if (rc.identity.empty()) rc.identity = le.identity;
  if (rc.lease_namespace.empty()) rc.lease_namespace = le.lease_namespace;
  return status;
}

absl::Status ValidateServerConfig(const ServerConfig& config) {
  if (config.trust_domain.empty() ||
      absl::StrContains(config.trust_domain, "/") ||
      absl::StrContains(config.trust_domain, ":")) {
    return Invalid("trust_domain (TRUST_DOMAIN)",
                   absl::StrCat("'", config.trust_domain,
                                "' is not a trust domain such as "
                                "cluster.local"));
  }
  if (LogSeverity severity; !ParseLogSeverity(config.log_level, &severity)) {
    return Invalid("log_level (VAULTCA_LOG_LEVEL)",
                   absl::StrCat("'", config.log_level,
                                "' is not one of debug, info, warning, error"));
  }
  if (config.cluster_id.empty()) {
    return Invalid("cluster_id (CLUSTER_ID)",
                   "must not be empty (istio-agent's default is Kubernetes)");
  }
  if (config.listen.grpc_address.empty()) {
    return Invalid("listen.grpc", "must name host:port");
  }
  const CaConfig& ca = config.ca;
  auto source = ca::DefaultCaSources().Lookup("ca.source",
                                              ca.source);
  if (!source.ok()) return source.status();
  if (absl::Status s = (*source)->Validate(ca.source_options); !s.ok()) {
    return s;
  }
  if (ca.default_workload_cert_ttl <= absl::ZeroDuration()) {
    return Invalid("ca.default_workload_cert_ttl (DEFAULT_WORKLOAD_CERT_TTL)",
                   "must be positive");
  }
  if (ca.max_workload_cert_ttl < ca.default_workload_cert_ttl) {
    return Invalid(
        "ca.max_workload_cert_ttl (MAX_WORKLOAD_CERT_TTL)",
        absl::StrCat("is ", absl::FormatDuration(ca.max_workload_cert_ttl),
                     ", below the default TTL ",
                     absl::FormatDuration(ca.default_workload_cert_ttl)));
  }
  for (absl::Duration d :
       {ca.refresh_interval, ca.max_staleness, ca.startup_deadline}) {
    if (d <= absl::ZeroDuration()) {
      return Invalid("ca.refresh_interval/max_staleness/startup_deadline",
                     "must be positive");
    }
  }
  if (absl::Status s = ValidateAuth(config.auth); !s.ok()) return s;
  if (!config.listen.plaintext) {
    if (config.serving.dns_names.empty()) {
      return Invalid("serving.dns_names",
                     "must name the DNS names clients use in CA_ADDR");
    }
    for (const std::string& name : config.serving.dns_names) {
      if (!IsDnsName(name)) {
        return Invalid("serving.dns_names",
                       absl::StrCat("'", name, "' is not a DNS name"));
      }
    }
    if (config.serving.cert_dir.empty()) {
      return Invalid("serving.cert_dir", "must name a directory");
    }
    if (config.serving.ttl < absl::Minutes(10)) {
      return Invalid("serving.ttl", "must be at least 10m");
    }
  }
  const LimitsConfig& limits = config.limits;
  if (limits.worker_threads < 1 || limits.worker_threads > 1024) {
    return Invalid("limits.worker_threads", "must be in [1, 1024]");
  }
  if (limits.max_concurrent_requests < limits.worker_threads) {
    return Invalid("limits.max_concurrent_requests",
                   "must be at least limits.worker_threads");
  }
  if (limits.max_request_bytes < 4096) {
    return Invalid("limits.max_request_bytes",
                   "must be at least 4096 (a CSR alone is about 1 KiB)");
  }
  if (limits.handshake_timeout <= absl::ZeroDuration() ||
      limits.max_connection_idle <= absl::ZeroDuration()) {
    return Invalid("limits.handshake_timeout/max_connection_idle",
                   "must be positive");
  }
  if (limits.max_connection_age <= absl::ZeroDuration() ||
      limits.max_connection_age_grace < absl::ZeroDuration()) {
    return Invalid("limits.max_connection_age/max_connection_age_grace",
                   "the age must be positive and the grace not negative");
  }
  if (limits.max_streams_per_connection < 1) {
    return Invalid("limits.max_streams_per_connection", "must be at least 1");
  }
  if (limits.shutdown_grace <= absl::ZeroDuration()) {
    return Invalid("limits.shutdown_grace", "must be positive");
  }
  const RootConfigMapConfig& rc = config.mesh.root_configmap;
  if (rc.enabled && (rc.identity.empty() || rc.lease_namespace.empty() ||
                     rc.lease_name.empty())) {
    return Invalid("mesh.root_configmap",
                   "identity (POD_NAME), lease_namespace (POD_NAMESPACE) and "
                   "lease_name must be set: replicas elect one writer");
  }
  return ValidateIstiodCertificate(config);
}

}  // namespace server
}  // namespace vaultca
