#include "server/config.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ca/registry/builtin_ca_sources.h"
#include "server/internal/config_parse.h"
#include "server/internal/config_tree.h"

namespace vaultca {
namespace server {
namespace {

using internal::ConfigNode;

// Reads the typed fields of one map node, remembering which keys were
// consumed so unknown ones can be reported. The first error sticks.
class MapReader : public ca::ConfigBlock {
 public:
  MapReader(const ConfigNode* node, std::string path, absl::Status* status)
      : node_(node), path_(std::move(path)), status_(status) {
    if (node_ != nullptr && node_->kind != ConfigNode::Kind::kMap &&
        node_->kind != ConfigNode::Kind::kNull) {
      Fail(path_.empty() ? "the document" : path_, node_->line, "a map");
      node_ = nullptr;
    }
  }

  // Returns the value under `key`, or nullptr when absent or null.
  const ConfigNode* Get(absl::string_view key) {
    used_.insert(std::string(key));
    if (node_ == nullptr || node_->kind != ConfigNode::Kind::kMap) {
      return nullptr;
    }
    for (const auto& [k, v] : node_->entries) {
      if (k == key) {
        return v.kind == ConfigNode::Kind::kNull ? nullptr : &v;
      }
    }
    return nullptr;
  }

  std::string PathOf(absl::string_view key) const {
    return path_.empty() ? std::string(key) : absl::StrCat(path_, ".", key);
  }

  void String(absl::string_view key, std::string* out) override {
    const ConfigNode* v = Get(key);
    if (v == nullptr) return;
    if (v->kind != ConfigNode::Kind::kScalar) {
      return Fail(PathOf(key), v->line, "a string");
    }
    *out = v->scalar;
  }

  void Bool(absl::string_view key, bool* out) override {
    const ConfigNode* v = Get(key);
    if (v == nullptr) return;
    absl::StatusOr<bool> b =
        v->kind == ConfigNode::Kind::kScalar
            ? internal::ParseBoolValue(PathOf(key), v->scalar)
            : absl::InvalidArgumentError("");
    if (!b.ok()) return Fail(PathOf(key), v->line, "true or false");
    *out = *b;
  }

  void Int(absl::string_view key, int* out) override {
    const ConfigNode* v = Get(key);
    if (v == nullptr) return;
    int value;
    if (v->kind != ConfigNode::Kind::kScalar ||
        !absl::SimpleAtoi(v->scalar, &value)) {
      return Fail(PathOf(key), v->line, "an integer");
    }
    *out = value;
  }

  void Duration(absl::string_view key, absl::Duration* out) override {
    const ConfigNode* v = Get(key);
    if (v == nullptr) return;
    absl::StatusOr<absl::Duration> d =
        v->kind == ConfigNode::Kind::kScalar
            ? internal::ParseDurationValue(PathOf(key), v->scalar)
            : absl::InvalidArgumentError("");
    if (!d.ok()) {
      return Fail(PathOf(key), v->line,
                  "a duration such as 90s, 30m, 24h or 2160h");
    }
    *out = *d;
  }

  void StringList(absl::string_view key,
                  std::vector<std::string>* out) override {
    const ConfigNode* v = Get(key);
    if (v == nullptr) return;
    if (v->kind != ConfigNode::Kind::kSequence) {
      return Fail(PathOf(key), v->line, "a list of strings");
    }
    std::vector<std::string> values;
    for (const ConfigNode& item : v->items) {
      if (item.kind != ConfigNode::Kind::kScalar) {
        return Fail(PathOf(key), item.line, "a list of strings");
      }
      values.push_back(item.scalar);
    }
    *out = std::move(values);
  }

  void Parsed(absl::string_view key, const ca::OptionParser& parse) override {
    std::string text;
    String(key, &text);
    if (text.empty() || !status_->ok()) return;
    if (absl::Status s = parse(PathOf(key), text); !s.ok()) *status_ = s;
  }

  // Reports keys nobody asked for.
  void Finish() {
    if (node_ == nullptr || node_->kind != ConfigNode::Kind::kMap) return;
    for (const auto& [k, v] : node_->entries) {
      if (used_.count(k) == 0 && status_->ok()) {
        *status_ = absl::InvalidArgumentError(absl::StrCat(
            "configuration line ", v.line, ": unknown option '", PathOf(k),
            "'; known options here: ", absl::StrJoin(used_, ", ")));
      }
    }
  }

  void Fail(absl::string_view path, int line, absl::string_view expected) {
    if (!status_->ok()) return;
    *status_ = absl::InvalidArgumentError(absl::StrCat(
        "configuration line ", line, ": '", path, "' must be ", expected));
  }

 private:
  const ConfigNode* node_;
  const std::string path_;
  absl::Status* status_;
  std::set<std::string> used_;
};

void ReadCa(MapReader& parent, absl::Status* status, CaConfig* ca) {
  MapReader r(parent.Get("ca"), "ca", status);
  const ca::CaSourceRegistry& sources = ca::DefaultCaSources();
  r.Parsed("source", [&](absl::string_view what, absl::string_view text) {
    auto factory = sources.Lookup(what, text);
    if (!factory.ok()) return factory.status();
    ca->source = std::string((*factory)->name());
    return absl::OkStatus();
  });
  // Every source's block, selected or not: a typo is an error either way.
  for (const ca::CaSourceFactory* factory : sources.factories()) {
    const std::string key(factory->config_key());
    MapReader block(r.Get(key), absl::StrCat("ca.", key), status);
    factory->ReadConfig(block, &ca->source_options);
    block.Finish();
  }
  r.Duration("default_workload_cert_ttl", &ca->default_workload_cert_ttl);
  r.Duration("max_workload_cert_ttl", &ca->max_workload_cert_ttl);
  r.Value("ttl_mode", &ca->ttl_mode, internal::ParseTtlMode);
  r.Duration("refresh_interval", &ca->refresh_interval);
  r.Duration("max_staleness", &ca->max_staleness);
  r.Bool("stale_means_not_ready", &ca->stale_means_not_ready);
  r.Duration("startup_deadline", &ca->startup_deadline);
  r.Value("startup_policy", &ca->startup_policy, internal::ParseStartupPolicy);
  r.Bool("multi_root", &ca->multi_root);
  r.String("root_cert_file", &ca->root_cert_file);
  r.Finish();
}

void ReadAuth(MapReader& parent, absl::Status* status, AuthConfig* auth) {
  MapReader r(parent.Get("auth"), "auth", status);
  r.Bool("client_certificate", &auth->client_certificate);
  r.Bool("client_certificate_spiffe_only",
         &auth->client_certificate_spiffe_only);
  r.Duration("jwt_clock_skew", &auth->jwt_clock_skew);
  if (const ConfigNode* jwt = r.Get("jwt"); jwt != nullptr) {
    if (jwt->kind != ConfigNode::Kind::kSequence) {
      r.Fail("auth.jwt", jwt->line, "a list of issuers");
    } else {
      auth->jwt.clear();
      for (size_t i = 0; i < jwt->items.size(); ++i) {
        JwtIssuerConfig issuer;
        MapReader j(&jwt->items[i], absl::StrCat("auth.jwt[", i, "]"),
                    status);
        j.String("issuer", &issuer.issuer);
        j.String("jwks_file", &issuer.jwks_file);
        j.String("jwks_uri", &issuer.jwks_uri);
        j.Bool("oidc_discovery", &issuer.oidc_discovery);
        j.String("ca_file", &issuer.ca_file);
        j.StringList("audiences", &issuer.audiences);
        j.Finish();
        auth->jwt.push_back(std::move(issuer));
      }
    }
  }
  {
    TokenReviewConfig& tr = auth->token_review;
    MapReader t(r.Get("token_review"), "auth.token_review", status);
    t.Bool("enabled", &tr.enabled);
    t.String("api_server", &tr.api_server);
    t.String("token_file", &tr.token_file);
    t.String("ca_file", &tr.ca_file);
    t.StringList("audiences", &tr.audiences);
    t.Duration("cache_ttl", &tr.cache_ttl);
    t.Int("cache_max_entries", &tr.cache_max_entries);
    t.Duration("timeout", &tr.timeout);
    t.Duration("negative_cache_ttl", &tr.negative_cache_ttl);
    t.Int("negative_cache_max_entries", &tr.negative_cache_max_entries);
    t.Int("max_concurrent_reviews", &tr.max_concurrent_reviews);
    t.Duration("review_queue_timeout", &tr.review_queue_timeout);
    t.Finish();
  }
  r.StringList("trusted_node_accounts", &auth->trusted_node_accounts);
  r.Value("identity_policy", &auth->identity_policy,
          internal::ParseIdentityPolicy);
  r.Finish();
}

absl::StatusOr<ca::KeyType> ParseIstiodKeyType(absl::string_view what,
                                               absl::string_view text) {
  const std::string lower = absl::AsciiStrToLower(text);
  if (lower == "rsa-2048") return ca::KeyType::kRsa;
  if (lower == "ec-p256") return ca::KeyType::kEcP256;
  return absl::InvalidArgumentError(absl::StrCat(
      what, ": '", text, "' is not a key type: use rsa-2048 or ec-p256"));
}

void ReadMesh(MapReader& parent, absl::Status* status, MeshConfig* mesh) {
  MapReader m(parent.Get("mesh"), "mesh", status);
  {
    RootConfigMapConfig& rc = mesh->root_configmap;
    MapReader c(m.Get("root_configmap"), "mesh.root_configmap", status);
    c.Bool("enabled", &rc.enabled);
    c.String("namespace_selector", &rc.namespace_selector);
    c.String("lease_namespace", &rc.lease_namespace);
    c.String("lease_name", &rc.lease_name);
    c.String("identity", &rc.identity);
    c.Finish();
  }
  {
    IstiodCertificateConfig& ic = mesh->istiod_certificate;
    MapReader c(m.Get("istiod_certificate"), "mesh.istiod_certificate",
                status);
    c.Bool("enabled", &ic.enabled);
    c.String("namespace", &ic.istiod_namespace);
    c.String("secret_name", &ic.secret_name);
    c.StringList("revisions", &ic.revisions);
    c.StringList("dns_names", &ic.dns_names);
    c.Duration("ttl", &ic.ttl);
    c.Value("key_type", &ic.key_type, ParseIstiodKeyType);
    c.String("lease_name", &ic.lease_name);
    c.Finish();
  }
  {
    LeaderElectionConfig& le = mesh->leader_election;
    MapReader c(m.Get("leader_election"), "mesh.leader_election", status);
    c.String("lease_namespace", &le.lease_namespace);
    c.String("identity", &le.identity);
    c.Finish();
  }
  m.Finish();
}

}  // namespace

absl::StatusOr<ca::KeyType> ParseIstiodCertKeyType(absl::string_view what,
                                                   absl::string_view text) {
  return ParseIstiodKeyType(what, text);
}

absl::StatusOr<ServerConfig> ParseServerConfig(absl::string_view text) {
  absl::StatusOr<ConfigNode> tree = internal::ParseConfigTree(text);
  if (!tree.ok()) return tree.status();
  ServerConfig config;
  absl::Status status;
  MapReader root(&*tree, "", &status);
  root.String("trust_domain", &config.trust_domain);
  root.String("cluster_id", &config.cluster_id);
  root.StringList("cluster_aliases", &config.cluster_aliases);
  root.String("log_level", &config.log_level);
  {
    MapReader l(root.Get("listen"), "listen", &status);
    l.String("grpc", &config.listen.grpc_address);
    l.Bool("plaintext", &config.listen.plaintext);
    l.String("http", &config.listen.http_address);
    l.Finish();
  }
  ReadCa(root, &status, &config.ca);
  ReadAuth(root, &status, &config.auth);
  {
    MapReader s(root.Get("serving"), "serving", &status);
    s.StringList("dns_names", &config.serving.dns_names);
    s.String("cert_dir", &config.serving.cert_dir);
    s.Duration("ttl", &config.serving.ttl);
    s.Finish();
  }
  {
    LimitsConfig& limits = config.limits;
    MapReader l(root.Get("limits"), "limits", &status);
    l.Int("max_concurrent_requests", &limits.max_concurrent_requests);
    l.Int("worker_threads", &limits.worker_threads);
    l.Bool("inline_when_non_blocking", &limits.inline_when_non_blocking);
    l.Int("max_request_bytes", &limits.max_request_bytes);
    l.Duration("shutdown_grace", &limits.shutdown_grace);
    l.Duration("handshake_timeout", &limits.handshake_timeout);
    l.Int("max_streams_per_connection", &limits.max_streams_per_connection);
    l.Duration("max_connection_idle", &limits.max_connection_idle);
    l.Duration("max_connection_age", &limits.max_connection_age);
    l.Duration("max_connection_age_grace", &limits.max_connection_age_grace);
    l.Finish();
  }
  ReadMesh(root, &status, &config.mesh);
  root.Finish();
  if (!status.ok()) return status;
  return config;
}

absl::StatusOr<ServerConfig> LoadServerConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("cannot read configuration file ",
                                            path, ": ", std::strerror(errno)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  absl::StatusOr<ServerConfig> config = ParseServerConfig(text.str());
  if (!config.ok()) {
    return absl::Status(config.status().code(),
                        absl::StrCat(path, ": ", config.status().message()));
  }
  return config;
}

}  // namespace server
}  // namespace vaultca
