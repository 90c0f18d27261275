#include "ca/sources/self_signed/self_signed_vault_source.h"

#include <cstdio>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "ca/generate.h"
#include "common/log.h"

namespace vaultca {
namespace ca {
namespace {

constexpr char kCertField[] = "certificate";
constexpr char kKeyField[] = "privateKey";

// Appends `value` as a JSON string. PEM needs only the newline escaped; the
// rest is for completeness. Works in place so the key never leaves wiping
// memory.
void AppendJsonString(absl::string_view value, SecretData* out) {
  out->Append("\"");
  for (char c : value) {
    switch (c) {
      case '"':
        out->Append("\\\"");
        break;
      case '\\':
        out->Append("\\\\");
        break;
      case '\n':
        out->Append("\\n");
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof(escaped), "\\u%04x", c);
          out->Append(escaped);
        } else {
          out->Append(absl::string_view(&c, 1));
        }
    }
  }
  out->Append("\"");
}

}  // namespace

absl::StatusOr<std::unique_ptr<SelfSignedVaultSource>> SelfSignedVaultSource::New(
    std::shared_ptr<vault::VaultClient> client,
    SelfSignedVaultSourceOptions options) {
  if (client == nullptr) {
    return absl::InvalidArgumentError(
        "self-signed CA source in Vault: the Vault client is null");
  }
  // Check-and-set exists only in KV v2, whose API paths hold "/data/".
  if (!absl::StrContains(options.kv_path, "/data/") ||
      absl::StartsWith(options.kv_path, "/")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "self-signed CA source in Vault: '", options.kv_path,
        "' is not a KV v2 data path (like secret/data/vaultca/self-signed-root); "
        "replicas agree on one root through KV v2's check-and-set"));
  }
  if (options.trust_domain.empty() || options.ttl <= absl::ZeroDuration() ||
      options.renew_fraction <= 0 || options.renew_fraction >= 1) {
    return absl::InvalidArgumentError(
        "self-signed CA source in Vault: trust_domain must be set, ttl "
        "positive and renew_fraction in (0, 1)");
  }
  return std::unique_ptr<SelfSignedVaultSource>(
      new SelfSignedVaultSource(std::move(client), std::move(options)));
}

SelfSignedVaultSource::SelfSignedVaultSource(
    std::shared_ptr<vault::VaultClient> client,
    SelfSignedVaultSourceOptions options)
    : client_(std::move(client)), options_(std::move(options)) {}

std::string SelfSignedVaultSource::Description() const {
  return absl::StrCat("self-signed:vault:", options_.kv_path);
}

absl::StatusOr<CaMaterialPem> SelfSignedVaultSource::Fetch() {
  const absl::Time now = options_.clock();
  absl::StatusOr<vault::KvSecret> secret = client_->ReadKv(options_.kv_path);
  if (!secret.ok() && !absl::IsNotFound(secret.status())) {
    return absl::Status(secret.status().code(),
                        absl::StrCat(Description(), ": ", secret.status().message()));
  }
  if (!secret.ok() || (secret->values.empty() && secret->non_string_keys.empty())) {
    // No root yet (or a deleted latest version): generate one and race the
    // other replicas to create it.
    absl::StatusOr<SecretData> key = GeneratePrivateKeyPem(options_.key_type);
    if (!key.ok()) return key.status();
    RootOptions root;
    root.organization = options_.trust_domain;
    root.key_pem = *std::move(key);
    root.ttl = options_.ttl;
    root.now = now;
    absl::StatusOr<CaMaterialPem> generated = GenerateSelfSignedRoot(root);
    if (!generated.ok()) return generated.status();
    const int64_t cas = secret.ok() ? secret->version : 0;
    return WriteOrAdopt(*generated, cas, "generated a new root");
  }

  absl::StatusOr<SecretData> cert = secret->Get(kCertField);
  absl::StatusOr<SecretData> key = secret->Get(kKeyField);
  if (!cert.ok() || !key.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        Description(), ": the stored root is incomplete (",
        !cert.ok() ? cert.status().message() : key.status().message(),
        "); restore it, or delete the secret to generate a new root (every "
        "workload must then be given the new root)"));
  }
  CaMaterialPem material;
  material.cert_pem = std::string(cert->view());
  material.root_bundle_pem = material.cert_pem;
  material.key_pem = *std::move(key);
  absl::StatusOr<std::shared_ptr<const KeyCertBundle>> bundle =
      KeyCertBundle::Create(material, now);
  if (!bundle.ok()) {
    return absl::Status(
        bundle.status().code(),
        absl::StrCat(Description(), ": the stored root is unusable: ",
                     bundle.status().message(),
                     "; restore the matching certificate/privateKey pair"));
  }
  const absl::Duration lifetime = (*bundle)->not_after() - (*bundle)->not_before();
  if ((*bundle)->not_after() - now < lifetime * options_.renew_fraction) {
    RootOptions root;
    root.organization = options_.trust_domain;
    root.key_pem = material.key_pem;
    root.ttl = options_.ttl;
    root.now = now;
    absl::StatusOr<CaMaterialPem> renewed = GenerateSelfSignedRoot(root);
    if (!renewed.ok()) return renewed.status();
    return WriteOrAdopt(
        *renewed, secret->version,
        absl::StrCat("renewed the root with the same key: it expires ",
                     absl::FormatTime((*bundle)->not_after()), ", less than ",
                     options_.renew_fraction * 100, "% of its life left"));
  }
  return material;
}

absl::StatusOr<CaMaterialPem> SelfSignedVaultSource::WriteOrAdopt(
    const CaMaterialPem& material, int64_t cas, absl::string_view why) {
  SecretData body(absl::StrCat(R"({"options":{"cas":)", cas, R"(},"data":{")",
                               kCertField, R"(":)"));
  AppendJsonString(material.cert_pem, &body);
  body.Append(absl::StrCat(R"(,")", kKeyField, R"(":)"));
  AppendJsonString(material.key_pem.view(), &body);
  body.Append("}}");
  absl::StatusOr<SecretData> written =
      client_->WriteSecret(options_.kv_path, body);
  if (written.ok()) {
    VAULTCA_LOG(INFO) << Description() << ": " << why << " (version "
                      << cas + 1 << ")";
    return material;
  }
  // Another replica wrote first (Vault refuses a stale check-and-set): its
  // root is the one everybody uses.
  absl::StatusOr<vault::KvSecret> now = client_->ReadKv(options_.kv_path);
  if (now.ok() && now->version > cas) {
    VAULTCA_LOG(INFO) << Description() << ": another replica wrote version "
                      << now->version << " first; using it";
    return Fetch();
  }
  return absl::Status(written.status().code(),
                      absl::StrCat(Description(), ": cannot store the root (",
                                   why, "): ", written.status().message()));
}

}  // namespace ca
}  // namespace vaultca
