#include "cli/bootstrap.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "cli/bootstrap_material.h"
#include "cli/bootstrap_plan.h"
#include "cli/flags.h"
#include "cli/material_check.h"
#include "cli/root_guard.h"
#include "cli/vault_flags.h"
#include "nlohmann/json.hpp"
#include "vault/client.h"

namespace vaultca {
namespace cli {
namespace {

constexpr char kUsage[] =
    R"(vaultca bootstrap [flags]

The seed's "Configure Vault" and "Add secrets in Vault" steps in one
idempotent command, run with a Vault token that may write policies, auth
roles and the KV path (e.g. VAULT_TOKEN=<root token>):
  1. the KV v2 engine at the path's mount (enabled when missing);
  2. the policy allow_istiod_secrets, exactly as the seed writes it:
       path "secret/data/pki/istiod" { capabilities = ["read", "list"] }
  3. the kubernetes auth method (enabled when missing; configured when
     --kubernetes-host is given) and its role istiod bound to istiod's
     service account and namespace, with that policy, ttl 1h;
  4. the CA in KV v2 (fields certificate, privateKey, certChain, rootCert),
     generated (root + intermediate) or imported with --cert/--key
     [--chain] [--root], written with check-and-set (options.cas).
Nothing is written that is already as wanted; a re-run says "nothing
changed". Different material already at the path is never overwritten
without --force (a generated CA keeps the existing one). --dry-run prints
the policy and every request instead of sending any.

Exit codes: 0 done (or nothing to do), 1 refused or failed (the message
says what to fix), 2 bad flags or configuration.)";

struct Options {
  VaultFlags vault;
  VaultSetup setup;
  std::string service_accounts = "istiod-service-account-cp-v115x";
  std::string namespaces = "istio-system";
  std::string kubernetes_ca_file;
  std::string token_reviewer_jwt_file;
  MaterialInput material;
  // Where a generated root's key goes (a new 0600 file); empty: dropped.
  std::string root_key_out;
  bool force = false;
  bool dry_run = false;
};

absl::StatusOr<std::string> ReadFile(const std::string& flag, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("--", flag, " ", path, ": cannot be read"));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> SplitList(const std::string& text) {
  return absl::StrSplit(text, ',', absl::SkipWhitespace());
}

// A JSON body from Vault; null JSON when it does not parse.
nlohmann::json ParseJson(const SecretData& body) {
  return nlohmann::json::parse(body.view(), nullptr, /*allow_exceptions=*/false);
}

std::set<std::string> StringSet(const nlohmann::json& value) {
  std::set<std::string> out;
  if (value.is_array()) {
    for (const auto& v : value) {
      if (v.is_string()) out.insert(v.get<std::string>());
    }
  } else if (value.is_string()) {
    for (absl::string_view part : absl::StrSplit(value.get<std::string>(), ',', absl::SkipEmpty())) {
      out.emplace(part);
    }
  }
  return out;
}

// One write the run decided on.
struct Step {
  std::string what;      // "policy allow_istiod_secrets"
  std::string outcome;   // "created", "updated", "enabled"
  std::string path;
  SecretData body;
  bool writes_ca = false;  // the KV write of the CA material
};

class Bootstrapper {
 public:
  Bootstrapper(const Options& options, vault::VaultClient* client,
               std::ostream& out, std::ostream& err)
      : o_(options), client_(client), out_(out), err_(err) {}

  // Reads Vault's state, decides every write, then writes. Returns the
  // exit code.
  int Run(const std::map<std::string, SecretData>& fields,
          const ca::CaMaterialPem& material, bool generated,
          const SecretData& root_key,
          const std::function<void()>& before_writes) {
    absl::StatusOr<std::vector<Step>> steps = Decide(fields, material, generated);
    if (!steps.ok()) {
      err_ << "vaultca bootstrap: " << steps.status().message() << "\n";
      return kExitFailed;
    }
    const bool writes_ca = std::any_of(steps->begin(), steps->end(),
                                       [](const Step& s) { return s.writes_ca; });
    // The root key is written before anything reaches Vault, so a CA in
    // Vault never has a root whose key was lost on the way; it is removed
    // again when that CA does not get written.
    bool key_file_pending = false;
    if (generated && writes_ca) {
      if (o_.root_key_out.empty()) {
        out_ << "WARN: the generated root's key is not kept; pass "
                "--root-key-out FILE to sign later intermediates under this "
                "root (vaultca rotate intermediate)\n";
      } else if (absl::Status s = WriteNewKeyFile("root-key-out", o_.root_key_out, root_key);
                 !s.ok()) {
        err_ << "vaultca bootstrap: " << s.message() << "; nothing was sent to Vault\n";
        return kExitFailed;
      } else {
        key_file_pending = true;
      }
    } else if (generated && !o_.root_key_out.empty()) {
      out_ << "--root-key-out " << o_.root_key_out
           << ": not written, the CA in Vault was kept\n";
    }
    absl::Cleanup drop_key_file = [&] {
      if (key_file_pending) unlink(o_.root_key_out.c_str());
    };
    if (before_writes) before_writes();
    for (Step& step : *steps) {
      absl::StatusOr<SecretData> written = client_->WriteSecret(step.path, step.body);
      step.body.Clear();
      if (written.ok() && step.writes_ca && key_file_pending) {
        key_file_pending = false;
        out_ << "root key: written to " << o_.root_key_out << " (0600; keep it offline)\n";
      }
      if (!written.ok()) {
        std::string message(written.status().message());
        if (absl::StrContains(message, "check-and-set")) {
          message = absl::StrCat(
              "the CA at ", o_.setup.kv_path,
              " changed while bootstrap ran (check-and-set conflict): "
              "nothing of it was overwritten; run bootstrap again");
        }
        err_ << "vaultca bootstrap: " << step.what << ": " << message
             << VaultErrorHint(written.status()) << "\n";
        return kExitFailed;
      }
      out_ << step.what << ": " << step.outcome << "\n";
    }
    if (steps->empty()) {
      out_ << "nothing changed: Vault already holds this setup\n";
    }
    return kExitOk;
  }

 private:
  // Returns the JSON of GET `path`, null JSON for 404.
  absl::StatusOr<nlohmann::json> Get(const std::string& path) {
    absl::StatusOr<SecretData> body = client_->Read(path);
    if (absl::IsNotFound(body.status())) return nlohmann::json();
    if (!body.ok()) {
      return absl::Status(body.status().code(),
                          absl::StrCat(body.status().message(),
                                       body.status().code() ==
                                               absl::StatusCode::kPermissionDenied
                                           ? " (bootstrap needs a token that may "
                                             "manage mounts, policies, auth roles "
                                             "and the KV path, e.g. the root token)"
                                           : VaultErrorHint(body.status())));
    }
    return ParseJson(*body);
  }

  absl::StatusOr<std::vector<Step>> Decide(
      const std::map<std::string, SecretData>& fields,
      const ca::CaMaterialPem& material, bool generated) {
    std::vector<Step> steps;
    const VaultSetup& s = o_.setup;

    // 1. The KV v2 engine.
    absl::StatusOr<std::string> mount = KvMount(s.kv_path);
    if (!mount.ok()) return mount.status();
    absl::StatusOr<nlohmann::json> mounts = Get("sys/mounts");
    if (!mounts.ok()) return mounts.status();
    const nlohmann::json* table = &*mounts;
    if (mounts->contains("data")) table = &(*mounts)["data"];
    const std::string mount_key = *mount + "/";
    if (!table->contains(mount_key)) {
      steps.push_back({absl::StrCat("secrets engine ", mount_key), "enabled (kv version 2)",
                       absl::StrCat("sys/mounts/", *mount),
                       SecretData(R"({"type":"kv","options":{"version":"2"}})")});
    } else {
      const nlohmann::json& m = (*table)[mount_key];
      const std::string type = m.value("type", "");
      const nlohmann::json opts = m.value("options", nlohmann::json::object());
      const std::string version =
          opts.is_object() ? opts.value("version", "1") : std::string("1");
      if (type != "kv" || version != "2") {
        return absl::FailedPreconditionError(absl::StrCat(
            "the mount ", mount_key, " is ", type, " version ", version,
            ", not KV version 2: check-and-set needs KV v2; use --path on a KV v2 mount"));
      }
    }

    // 2. The policy.
    absl::StatusOr<nlohmann::json> policy = Get(absl::StrCat("sys/policies/acl/", s.policy_name));
    if (!policy.ok()) return policy.status();
    const std::string wanted_policy = PolicyText(s);
    std::string current_policy;
    if (policy->is_object()) {
      const nlohmann::json& d = policy->contains("data") ? (*policy)["data"] : *policy;
      current_policy = d.value("policy", "");
    }
    if (policy->is_null() || current_policy != wanted_policy) {
      steps.push_back({absl::StrCat("policy ", s.policy_name),
                       policy->is_null() ? "created" : "updated",
                       absl::StrCat("sys/policies/acl/", s.policy_name),
                       SecretData(PolicyBody(s))});
    }

    // 3. The kubernetes auth method, its configuration and the role.
    absl::StatusOr<nlohmann::json> auths = Get("sys/auth");
    if (!auths.ok()) return auths.status();
    const nlohmann::json* auth_table = auths->contains("data") ? &(*auths)["data"] : &*auths;
    const std::string auth_key = s.auth_mount + "/";
    const bool auth_exists = auth_table->contains(auth_key);
    if (!auth_exists) {
      steps.push_back({absl::StrCat("auth method ", auth_key), "enabled (kubernetes)",
                       absl::StrCat("sys/auth/", s.auth_mount),
                       SecretData(R"({"type":"kubernetes"})")});
    } else if ((*auth_table)[auth_key].value("type", "") != "kubernetes") {
      return absl::FailedPreconditionError(absl::StrCat(
          "auth/", auth_key, " is a ", (*auth_table)[auth_key].value("type", ""),
          " auth method, not kubernetes: choose another --kubernetes-mount"));
    }
    if (!s.kubernetes_host.empty()) {
      nlohmann::json config;
      if (auth_exists) {
        absl::StatusOr<nlohmann::json> got = Get(absl::StrCat("auth/", s.auth_mount, "/config"));
        if (!got.ok()) return got.status();
        config = got->is_object() ? got->value("data", nlohmann::json()) : nlohmann::json();
      }
      const bool same = config.is_object() &&
                        config.value("kubernetes_host", "") == s.kubernetes_host &&
                        (s.kubernetes_ca_pem.empty() ||
                         config.value("kubernetes_ca_cert", "") == s.kubernetes_ca_pem);
      if (!same || o_.force) {
        steps.push_back({absl::StrCat("auth ", s.auth_mount, " config"),
                         config.is_object() ? "updated" : "written",
                         absl::StrCat("auth/", s.auth_mount, "/config"),
                         KubernetesConfigBody(s)});
      }
    }
    nlohmann::json role;
    if (auth_exists) {
      absl::StatusOr<nlohmann::json> got =
          Get(absl::StrCat("auth/", s.auth_mount, "/role/", s.role));
      if (!got.ok()) return got.status();
      role = got->is_object() ? got->value("data", nlohmann::json()) : nlohmann::json();
    }
    absl::Duration ttl;
    if (!absl::ParseDuration(s.ttl, &ttl)) {
      return absl::InvalidArgumentError(absl::StrCat("--ttl ", s.ttl, ": not a duration"));
    }
    std::set<std::string> policies = StringSet(role.is_object() ? role.value("token_policies", nlohmann::json()) : nlohmann::json());
    const bool role_same =
        role.is_object() &&
        StringSet(role.value("bound_service_account_names", nlohmann::json())) ==
            std::set<std::string>(s.service_accounts.begin(), s.service_accounts.end()) &&
        StringSet(role.value("bound_service_account_namespaces", nlohmann::json())) ==
            std::set<std::string>(s.namespaces.begin(), s.namespaces.end()) &&
        policies == std::set<std::string>{s.policy_name} &&
        role.value("token_ttl", int64_t{-1}) == absl::ToInt64Seconds(ttl);
    if (!role_same) {
      steps.push_back({absl::StrCat("role ", s.role), role.is_object() ? "updated" : "created",
                       absl::StrCat("auth/", s.auth_mount, "/role/", s.role),
                       SecretData(RoleBody(s))});
    }

    // 4. The CA, with check-and-set on the version read here.
    int64_t version = 0;
    std::map<std::string, SecretData> existing;
    if (table->contains(mount_key)) {
      absl::StatusOr<std::string> metadata_path = KvMetadataPath(s.kv_path);
      if (!metadata_path.ok()) return metadata_path.status();
      absl::StatusOr<nlohmann::json> metadata = Get(*metadata_path);
      if (!metadata.ok()) return metadata.status();
      if (metadata->is_object()) {
        version = (*metadata)["data"].value("current_version", int64_t{0});
      }
      if (version > 0) {
        absl::StatusOr<vault::KvSecret> secret = client_->ReadKv(s.kv_path);
        if (secret.ok()) {
          existing = secret->values;
        } else if (!absl::IsNotFound(secret.status())) {
          return absl::Status(secret.status().code(),
                              absl::StrCat(secret.status().message(),
                                           VaultErrorHint(secret.status())));
        }
      }
    }
    const std::string kv_what = absl::StrCat("CA at ", s.kv_path);
    bool same = existing.size() == fields.size();
    for (const auto& [name, value] : fields) {
      auto it = existing.find(name);
      same = same && it != existing.end() && SecretEquals(it->second, value);
    }
    if (same) return steps;
    if (!existing.empty() && !o_.force) {
      if (generated) {
        out_ << kv_what << ": holds a CA already (version " << version
             << "); kept (--force replaces it with a newly generated CA)\n";
        return steps;
      }
      return absl::FailedPreconditionError(absl::StrCat(
          kv_what, " holds different material (version ", version,
          "): nothing was changed; re-run with --force to replace it"));
    }
    if (!existing.empty()) {
      ca::CaMaterialPem previous;
      auto get = [&](const char* field) -> std::string {
        auto it = existing.find(field);
        return it == existing.end() ? "" : std::string(it->second.view());
      };
      previous.cert_pem = get(kCertField);
      previous.key_pem = existing.count(kKeyField) ? existing[kKeyField] : SecretData();
      previous.chain_pem = get(kChainField);
      previous.root_bundle_pem = get(kRootField);
      if (previous.root_bundle_pem.empty()) previous.root_bundle_pem = previous.cert_pem;
      if (absl::Status guard = CheckRootTransition(previous, material, false, absl::Now());
          !guard.ok()) {
        out_ << "WARNING: " << guard.message()
             << "\n  (--force writes it anyway; every workload must trust the new "
                "root before istiod signs with it)\n";
      }
    }
    steps.push_back({kv_what,
                     existing.empty() ? "written (version " + std::to_string(version + 1) + ")"
                                      : "replaced (--force; version " +
                                            std::to_string(version + 1) + ")",
                     s.kv_path, KvWriteBody(fields, version), /*writes_ca=*/true});
    return steps;
  }

  const Options& o_;
  vault::VaultClient* client_;
  std::ostream& out_;
  std::ostream& err_;
};

}  // namespace

int RunBootstrap(const std::vector<std::string>& args,
                 const vault::EnvLookup& env, std::ostream& out,
                 std::ostream& err, const std::function<void()>& before_writes) {
  Options o;
  FlagSet flags(kUsage);
  o.vault.RegisterConnection(&flags, /*login_role=*/false);
  flags.String("path", &o.setup.kv_path, "KV v2 API path of the CA");
  flags.String("policy", &o.setup.policy_name, "policy name");
  flags.String("kubernetes-mount", &o.setup.auth_mount,
               "mount of the kubernetes auth method holding the role");
  flags.String("role", &o.setup.role, "kubernetes auth role to create or update");
  flags.String("service-account", &o.service_accounts,
               "bound service account names (comma-separated)");
  flags.String("namespace", &o.namespaces,
               "bound namespaces (comma-separated)");
  flags.String("ttl", &o.setup.ttl, "the role's token ttl");
  flags.String("kubernetes-host", &o.setup.kubernetes_host,
               "also configure the auth method: the API server Vault asks "
               "TokenReview (e.g. https://kubernetes.default.svc)");
  flags.String("kubernetes-ca-file", &o.kubernetes_ca_file,
               "the API server's CA (with --kubernetes-host)");
  flags.String("token-reviewer-jwt-file", &o.token_reviewer_jwt_file,
               "token Vault reviews logins with (with --kubernetes-host; "
               "default: Vault's own pod token)");
  flags.String("key-type", &o.material.key_type,
               "generated CA keys: ec-p256 or rsa-2048");
  flags.String("organization", &o.material.organization,
               "O= of the generated root and intermediate (the trust domain)");
  flags.Duration("root-ttl", &o.material.root_ttl, "lifetime of a generated root");
  flags.Duration("intermediate-ttl", &o.material.intermediate_ttl,
                 "lifetime of a generated intermediate");
  flags.String("cert", &o.material.cert_file,
               "import: the signing certificate (optionally followed by its chain)");
  flags.String("key", &o.material.key_file, "import: its private key");
  flags.String("chain", &o.material.chain_file, "import: cert-chain.pem");
  flags.String("root", &o.material.root_file, "import: root-cert.pem");
  flags.String("root-key-out", &o.root_key_out,
               "generate: write the new root's key to this new file (0600) "
               "for `vaultca rotate intermediate`; otherwise it is dropped");
  flags.Bool("force", &o.force, "replace different material at the path");
  flags.Bool("dry-run", &o.dry_run,
             "print the policy and every request; send none");
  if (absl::Status s = flags.Parse(args); !s.ok()) {
    err << "vaultca bootstrap: " << s.message() << "\n";
    return kExitUsage;
  }
  if (flags.help_requested()) {
    out << flags.Help();
    return kExitOk;
  }
  if (!flags.positional().empty()) {
    err << "vaultca bootstrap: unexpected argument " << flags.positional()[0] << "\n";
    return kExitUsage;
  }
  o.setup.service_accounts = SplitList(o.service_accounts);
  o.setup.namespaces = SplitList(o.namespaces);
  if (o.setup.service_accounts.empty() || o.setup.namespaces.empty()) {
    err << "vaultca bootstrap: --service-account and --namespace must name at least one\n";
    return kExitUsage;
  }
  if (absl::StatusOr<std::string> mount = KvMount(o.setup.kv_path); !mount.ok()) {
    err << "vaultca bootstrap: " << mount.status().message() << "\n";
    return kExitUsage;
  }
  if (!o.kubernetes_ca_file.empty()) {
    absl::StatusOr<std::string> pem = ReadFile("kubernetes-ca-file", o.kubernetes_ca_file);
    if (!pem.ok()) {
      err << "vaultca bootstrap: " << pem.status().message() << "\n";
      return kExitUsage;
    }
    o.setup.kubernetes_ca_pem = *pem;
  }
  if (!o.token_reviewer_jwt_file.empty()) {
    absl::StatusOr<std::string> jwt = ReadFile("token-reviewer-jwt-file", o.token_reviewer_jwt_file);
    if (!jwt.ok()) {
      err << "vaultca bootstrap: " << jwt.status().message() << "\n";
      return kExitUsage;
    }
    o.setup.token_reviewer_jwt = SecretData(absl::StripAsciiWhitespace(*jwt));
  }

  if (!o.root_key_out.empty() && !o.material.cert_file.empty()) {
    err << "vaultca bootstrap: --root-key-out keeps a generated root's key; "
           "an imported CA (--cert) has its keys with you already\n";
    return kExitUsage;
  }
  SecretData root_key;
  absl::StatusOr<ca::CaMaterialPem> material = LoadOrGenerateMaterial(o.material, &root_key);
  if (!material.ok()) {
    err << "vaultca bootstrap: " << material.status().message() << "\n";
    return kExitFailed;
  }
  Report report;
  MaterialCheckOptions check;
  if (!CheckMaterial(*material, check, &report)) {
    err << "vaultca bootstrap: the CA material does not pass its checks; "
           "nothing was sent to Vault:\n";
    for (const ReportLine& line : report.lines()) {
      if (line.verdict == Verdict::kFail) err << "  " << RenderLine(line) << "\n";
    }
    return kExitFailed;
  }
  const std::map<std::string, SecretData> fields = MaterialFields(*material);
  if (o.dry_run) {
    PrintDryRun(o.setup, fields, out);
    return kExitOk;
  }

  absl::StatusOr<std::unique_ptr<vault::VaultClient>> client = NewVaultClient(o.vault, env);
  if (!client.ok()) {
    err << "vaultca bootstrap: " << client.status().message() << "\n";
    return kExitUsage;
  }
  Bootstrapper bootstrapper(o, client->get(), out, err);
  return bootstrapper.Run(fields, *material, o.material.cert_file.empty(), root_key,
                         before_writes);
}

}  // namespace cli
}  // namespace vaultca
