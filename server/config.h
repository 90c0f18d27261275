#ifndef VAULTCA_SERVER_CONFIG_H_
#define VAULTCA_SERVER_CONFIG_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "ca/caching/caching_ca.h"
#include "ca/key_cert_bundle.h"
#include "ca/issuance_policy.h"
#include "ca/registry/source_options.h"

namespace vaultca {
namespace server {

// Which SANs a workload certificate carries (see identity_policy.h).
enum class IdentityPolicy {
  // istiod: the caller's identities; the CSR's SANs are ignored.
  kIstiod,
  // istio-csr: the CSR's URI SANs must equal the caller's identities.
  kStrict,
};

// Looks up one environment variable; nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(absl::string_view)>;

// Addresses the server listens on.
struct ListenConfig {
  // The IstioCertificateService (istiod serves it on 15012).
  std::string grpc_address = "0.0.0.0:15012";
  // Plain text instead of TLS, as istiod's debug port 15010. Only for
  // istio-agent's ":15010" mode and tests.
  bool plaintext = false;
  // HTTP /ready, /live and /metrics (istiod's monitoring port 15014).
  // Empty: no HTTP server.
  std::string http_address = "0.0.0.0:15014";
};

struct CaConfig {
  // Where the CA material (or the signatures) come from: the name of a
  // source in ca::DefaultCaSources() (self-signed, istiod's default;
  // files; vault; vault-pki). VAULTCA_CA_SOURCE.
  std::string source = "self-signed";
  // Every registered source's own options (its ca.<block> and
  // environment), by the options type its factory declares, e.g.
  // source_options.Get<ca::FilesSourceConfig>().
  ca::CaSourceOptions source_options;
  // Where Vault-backed sources read their VAULT_* settings; empty: the
  // process environment. vaultca-server passes a copy taken at start, so
  // that it can remove the credentials from its own environment before
  // any thread runs.
  EnvLookup vault_environment;
  // DEFAULT_WORKLOAD_CERT_TTL / MAX_WORKLOAD_CERT_TTL.
  absl::Duration default_workload_cert_ttl = absl::Hours(24);
  absl::Duration max_workload_cert_ttl = absl::Hours(24 * 90);
  // Above the maximum: refuse (istiod) or lower to it (clamp).
  ca::TtlMode ttl_mode = ca::TtlMode::kIstiod;
  // Source polling and staleness (see ca/caching/caching_ca.h).
  absl::Duration refresh_interval = absl::Minutes(1);
  absl::Duration max_staleness = absl::Minutes(30);
  // Also fail readiness on stale material (see ca/caching/caching_ca.h:
  // off, staleness is a metric, a log line and an alert, not an outage).
  bool stale_means_not_ready = false;
  absl::Duration startup_deadline = absl::Seconds(30);
  // keep-trying: listen at once, not ready, and keep loading in the
  // background; Start waits for material at most startup_deadline and never
  // fails for lack of it (a restart during a Vault outage must not end in
  // CrashLoopBackOff). fail: Start fails after startup_deadline.
  ca::StartupPolicy startup_policy = ca::StartupPolicy::kKeepTrying;
  // ISTIO_MULTIROOT_MESH: accept material that drops a current root.
  bool multi_root = false;
  // Where the current root bundle is published (the content of
  // istio-ca-root-cert's root-cert.pem); rewritten atomically on rotation.
  // Empty: not published.
  std::string root_cert_file;
};

// One OIDC-style issuer whose JWTs are verified locally.
struct JwtIssuerConfig {
  // Must equal the token's "iss".
  std::string issuer;
  // Where the issuer's RS256 / ES256 keys come from, exactly one of:
  // a JWKS document ({"keys": [...]}) re-read when it changes; an https
  // URL of the JWKS; or OIDC discovery (the "jwks_uri" of
  // <issuer>/.well-known/openid-configuration). Fetched keys are refreshed
  // every 5 minutes and early (at most every 30 s) when a token names an
  // unknown key id; a failed fetch keeps the keys in use.
  std::string jwks_file;
  // The token's "aud" must contain one of these.
  std::vector<std::string> audiences = {"istio-ca"};
  // (After audiences so that {issuer, jwks_file, audiences} still
  // initialises the three fields it always did.)
  std::string jwks_uri;
  bool oidc_discovery = false;
  // CA bundle for fetching the JWKS; empty: the system trust store.
  std::string ca_file;
};

// Kubernetes TokenReview of bearer tokens (istiod's default authenticator).
struct TokenReviewConfig {
  bool enabled = false;
  // "https://host:port"; empty: in-cluster (KUBERNETES_SERVICE_HOST/PORT).
  std::string api_server;
  // The server's own credentials for the API server.
  std::string token_file =
      "/var/run/secrets/kubernetes.io/serviceaccount/token";
  std::string ca_file = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
  // TOKEN_AUDIENCES.
  std::vector<std::string> audiences = {"istio-ca"};
  // Positive results are cached until the token expires, at most this long.
  absl::Duration cache_ttl = absl::Seconds(10);
  int cache_max_entries = 100000;
  absl::Duration timeout = absl::Seconds(10);
  // Tokens the API server refused are refused from memory this long (zero:
  // never), so a flood of one bad token costs one review.
  absl::Duration negative_cache_ttl = absl::Seconds(5);
  int negative_cache_max_entries = 10000;
  // TokenReviews in flight at once; beyond it callers queue in arrival
  // order for at most review_queue_timeout, then get Unavailable.
  int max_concurrent_reviews = 8;
  absl::Duration review_queue_timeout = absl::Seconds(1);
};

struct AuthConfig {
  // Accept verified TLS client certificates (identities = every SAN).
  bool client_certificate = true;
  // Client certificates: only URI SANs spiffe://<trust_domain>/ns/*/sa/*
  // are identities (others are ignored; a certificate with none is
  // refused). Off by default, as istiod, which takes every SAN: a mesh
  // with VMs, gateways or trust-domain aliases has client certificates
  // whose identities are DNS names or another trust domain.
  // VAULTCA_CLIENT_CERT_SPIFFE_ONLY.
  bool client_certificate_spiffe_only = false;
  std::vector<JwtIssuerConfig> jwt;
  // Tolerance for exp / nbf.
  absl::Duration jwt_clock_skew = absl::Seconds(60);
  TokenReviewConfig token_review;
  // CA_TRUSTED_NODE_ACCOUNTS: "<ns>/<sa>" entries allowed to impersonate.
  std::vector<std::string> trusted_node_accounts;
  IdentityPolicy identity_policy = IdentityPolicy::kIstiod;
};

// The TLS certificate the gRPC server presents, issued by this CA.
struct ServingConfig {
  // SANs of the serving certificate. istio-agent checks a CA_ADDR holding
  // "localhost" as istiod.istio-system.svc.
  std::vector<std::string> dns_names = {"vaultca.istio-system.svc",
                                        "istiod.istio-system.svc"};
  // Where the serving key and certificate are written for gRPC's file
  // watcher (0700 directory).
  std::string cert_dir = "/var/run/vaultca/serving";
  absl::Duration ttl = absl::Hours(24);
};

struct LimitsConfig {
  // Requests being worked on or queued; beyond it ResourceExhausted.
  // A mass restart brings thousands of requests within a second; queued
  // ones cost a few KB each and are dropped without work once their caller
  // gave up, whereas a refused one burns one of istio-agent's 5 retries
  // (about 3 s of backoff in all). So the bound is generous.
  int max_concurrent_requests = 4096;
  // Threads doing the work (authentication, signing).
  int worker_threads = 8;
  // Requests that cannot wait on anything outside the process (client
  // certificate or JWKS-file authentication, a local CA, no
  // impersonation) are answered on gRPC's thread instead of the pool
  // under a light load (see CaServiceOptions): it spares them the
  // hand-off to the pool.
  bool inline_when_non_blocking = true;
  // Largest accepted request message.
  int max_request_bytes = 64 * 1024;
  // On SIGTERM, in-flight requests get this long to finish.
  absl::Duration shutdown_grace = absl::Seconds(30);
  // A connection that has not finished its TLS and HTTP/2 handshake by
  // then is closed, so stalled or half-open handshakes (slowloris) cannot
  // pile up. gRPC's own default is 120 s.
  absl::Duration handshake_timeout = absl::Seconds(10);
  // Concurrent calls one connection may open (HTTP/2
  // SETTINGS_MAX_CONCURRENT_STREAMS); istio-agent uses one at a time,
  // ztunnel one per workload it starts. Every open call holds server
  // memory (gRPC's call arena, HTTP/2 stream state, the request) and only
  // worker_threads of them sign at once, so a higher limit only moves the
  // queue from the client into server memory: a burst's peak RSS grows
  // with it while the burst takes as long (bench/run_all.sh's burst).
  // Clients wait for a free stream.
  int max_streams_per_connection = 4;
  // Connections without a call for this long are closed (istio-agent
  // reconnects when it next needs a certificate).
  absl::Duration max_connection_idle = absl::Minutes(15);
  // Connections older than this get a GOAWAY (gRPC adds +-10% jitter) and
  // max_connection_age_grace to finish their calls, so a client whose
  // certificate chains to a root since removed reconnects and is verified
  // against the current roots; TLS checks a client certificate only at the
  // handshake. istiod's Helm default (keepaliveMaxServerConnectionAge).
  absl::Duration max_connection_age = absl::Minutes(30);
  absl::Duration max_connection_age_grace = absl::Seconds(10);
};

// The istio-ca-root-cert ConfigMap in every namespace, which istiod stops
// writing when its own CA is off (ENABLE_CA_SERVER=false). Reaches the API
// server with auth.token_review's api_server, token_file, ca_file and
// timeout (in-cluster by default).
struct RootConfigMapConfig {
  // VAULTCA_ROOT_CONFIGMAP.
  bool enabled = false;
  // Kubernetes label selector of the namespaces to serve; empty: all.
  std::string namespace_selector;
  // Replicas elect one writer through this Lease. lease_namespace empty:
  // POD_NAMESPACE.
  std::string lease_namespace;
  std::string lease_name = "vaultca-root-publisher";
  // This replica's holderIdentity; empty: POD_NAME.
  std::string identity;
};

// istiod's serving certificate (XDS on 15012, webhooks on 15017) in the
// Secret istiod mounts at /var/run/secrets/istiod/tls when its own CA is
// off, issued by this CA (see server/mesh/istiod_cert.h). Reaches the API
// server as root_configmap does.
struct IstiodCertificateConfig {
  // VAULTCA_ISTIOD_CERT.
  bool enabled = false;
  // istiod's namespace; VAULTCA_ISTIOD_CERT_NAMESPACE.
  std::string istiod_namespace = "istio-system";
  std::string secret_name = "istiod-tls";
  // Revisions whose istiod-<rev>.<namespace>.svc the certificate names;
  // "default" adds nothing. VAULTCA_ISTIOD_CERT_REVISIONS (comma list).
  std::vector<std::string> revisions;
  // Further DNS SANs; VAULTCA_ISTIOD_CERT_DNS_NAMES (comma list).
  std::vector<std::string> dns_names;
  // Renewed at 2/3 of it; VAULTCA_ISTIOD_CERT_TTL.
  absl::Duration ttl = absl::Hours(24);
  // rsa-2048 (istiod's and istio-csr's) or ec-p256;
  // VAULTCA_ISTIOD_CERT_KEY_TYPE.
  ca::KeyType key_type = ca::KeyType::kRsa;
  // Its own Lease, in leader_election's namespace.
  std::string lease_name = "vaultca-istiod-cert";
};

// The Lease namespace and holder identity every mesh duty's election uses
// (root_configmap's own keys, when set, win for it).
struct LeaderElectionConfig {
  // Empty: POD_NAMESPACE.
  std::string lease_namespace;
  // Empty: POD_NAME.
  std::string identity;
};

// Parses an istiod certificate key type, "rsa-2048" or "ec-p256";
// InvalidArgument naming `what` otherwise.
absl::StatusOr<ca::KeyType> ParseIstiodCertKeyType(absl::string_view what,
                                                   absl::string_view text);

struct MeshConfig {
  RootConfigMapConfig root_configmap;
  IstiodCertificateConfig istiod_certificate;
  LeaderElectionConfig leader_election;
};

// Everything vaultca-server is configured with. Defaults match istiod.
struct ServerConfig {
  // TRUST_DOMAIN.
  std::string trust_domain = "cluster.local";
  // CLUSTER_ID; a "clusterid" request header must name it or an alias.
  std::string cluster_id = "Kubernetes";
  std::vector<std::string> cluster_aliases;
  ListenConfig listen;
  CaConfig ca;
  AuthConfig auth;
  ServingConfig serving;
  LimitsConfig limits;
  MeshConfig mesh;
  // debug (one line per request), info (per failure), warning or error.
  // VAULTCA_LOG_LEVEL.
  std::string log_level = "info";
};

// Parses a YAML (or JSON) configuration document over the defaults.
// Unknown keys are errors (they are usually typos). InvalidArgument naming
// the key path ("auth.jwt[0].issuer") and what was expected. ca.source
// and the ca.<block> of every source come from ca::DefaultCaSources().
absl::StatusOr<ServerConfig> ParseServerConfig(absl::string_view text);

// Reads and parses the file at `path`.
absl::StatusOr<ServerConfig> LoadServerConfigFile(const std::string& path);

// The process environment.
EnvLookup ProcessEnvironment();

// Overlays the environment variables istiod reads (TRUST_DOMAIN,
// CLUSTER_ID, DEFAULT_WORKLOAD_CERT_TTL, MAX_WORKLOAD_CERT_TTL,
// CA_TRUSTED_NODE_ACCOUNTS, TOKEN_AUDIENCES, ISTIO_MULTIROOT_MESH), each
// registered CA source's (ROOT_CA_DIR, VAULTCA_VAULT_*, ...) and vaultca's
// own (VAULTCA_*, see examples/server/vaultca.yaml) on `config`. Empty
// variables count as unset. InvalidArgument naming the variable when a
// value does not parse.
absl::Status ApplyEnvironment(const EnvLookup& env, ServerConfig* config);

// Checks `config` for contradictions: positive durations and limits,
// default TTL <= max TTL, a trust domain and serving names without
// wildcards, well-formed node accounts and JWT issuers, at least one
// authenticator, a registered ca.source whose own checks pass.
// InvalidArgument naming the option and the fix.
absl::Status ValidateServerConfig(const ServerConfig& config);

}  // namespace server
}  // namespace vaultca

#endif  // VAULTCA_SERVER_CONFIG_H_
