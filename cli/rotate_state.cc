#include "cli/rotate_state.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cli/bootstrap_plan.h"
#include "cli/internal/cert_checks.h"
#include "cli/vault_flags.h"

namespace vaultca {
namespace cli {

bool CaRecord::Has(absl::string_view field) const {
  auto it = fields.find(std::string(field));
  return it != fields.end() && !it->second.empty();
}

std::string CaRecord::Text(absl::string_view field) const {
  auto it = fields.find(std::string(field));
  return it == fields.end() ? std::string() : std::string(it->second.view());
}

ca::CaMaterialPem CaRecord::Live() const {
  ca::CaMaterialPem m;
  m.cert_pem = Text(kCertField);
  if (auto it = fields.find(kKeyField); it != fields.end()) m.key_pem = it->second;
  m.chain_pem = Text(kChainField);
  m.root_bundle_pem = Has(kRootField) ? Text(kRootField) : m.cert_pem;
  return m;
}

ca::CaMaterialPem CaRecord::Next() const {
  ca::CaMaterialPem m;
  m.cert_pem = Text(kNextCertField);
  if (auto it = fields.find(kNextKeyField); it != fields.end()) m.key_pem = it->second;
  m.chain_pem = Text(kNextChainField);
  m.root_bundle_pem = Live().root_bundle_pem;
  return m;
}

absl::StatusOr<CaRecord> ReadCaRecord(vault::VaultClient* client,
                                      const std::string& path) {
  absl::StatusOr<vault::KvSecret> secret = client->ReadKv(path);
  if (absl::IsNotFound(secret.status())) {
    return absl::NotFoundError(absl::StrCat(
        "no CA at ", path, ": put one there first (vaultca bootstrap)"));
  }
  if (!secret.ok()) {
    return absl::Status(secret.status().code(),
                        absl::StrCat("reading ", path, ": ", secret.status().message(),
                                     VaultErrorHint(secret.status())));
  }
  if (!secret->v2) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, " is not a KV version 2 secret: rotation needs check-and-set"));
  }
  CaRecord record;
  record.path = path;
  record.version = secret->version;
  record.fields = std::move(secret->values);
  if (!record.Has(kCertField) || !record.Has(kKeyField)) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, " has no ", kCertField, " and ", kKeyField,
        " fields: it does not hold a CA written by vaultca bootstrap"));
  }
  return record;
}

absl::Status WriteCaRecord(vault::VaultClient* client, const std::string& path,
                           const std::map<std::string, SecretData>& fields,
                           int64_t cas) {
  SecretData body = KvWriteBody(fields, cas);
  absl::StatusOr<SecretData> written = client->WriteSecret(path, body);
  body.Clear();
  if (written.ok()) return absl::OkStatus();
  if (absl::StrContains(written.status().message(), "check-and-set")) {
    return absl::AbortedError(absl::StrCat(
        path, " changed since it was read (check-and-set conflict on version ",
        cas, "): nothing was written; run the command again"));
  }
  return absl::Status(written.status().code(),
                      absl::StrCat("writing ", path, ": ", written.status().message(),
                                   VaultErrorHint(written.status())));
}

absl::string_view RootPhaseName(RootPhase phase) {
  switch (phase) {
    case RootPhase::kSteady:
      return "steady";
    case RootPhase::kBundlePublished:
      return "bundle published";
    case RootPhase::kSwitched:
      return "signing switched";
  }
  return "unknown";
}

absl::StatusOr<RootPhase> ClassifyRootPhase(const CaRecord& record) {
  const bool staged = record.Has(kNextCertField) || record.Has(kNextKeyField);
  const bool retiring = record.Has(kRetiringRootField);
  if (staged && retiring) {
    return absl::InvalidArgumentError(absl::StrCat(
        record.path, " holds both a staged intermediate (", kNextCertField,
        ") and a retiring root (", kRetiringRootField,
        "): not written by vaultca rotate; fix the secret by hand"));
  }
  if (staged) {
    if (!record.Has(kNextCertField) || !record.Has(kNextKeyField)) {
      return absl::InvalidArgumentError(absl::StrCat(
          record.path, ": ", kNextCertField, " and ", kNextKeyField,
          " must be present together"));
    }
    return RootPhase::kBundlePublished;
  }
  return retiring ? RootPhase::kSwitched : RootPhase::kSteady;
}

absl::StatusOr<std::vector<std::string>> SplitCertificates(absl::string_view pem) {
  auto certs = internal::ParseCertificates(pem);
  if (!certs.ok()) return certs.status();
  std::vector<std::string> out;
  for (const internal::CertInfo& c : *certs) out.push_back(c.pem);
  return out;
}

bool HoldsAll(absl::string_view have, absl::string_view wanted) {
  auto h = SplitCertificates(have);
  auto w = SplitCertificates(wanted);
  if (!h.ok() || !w.ok()) return false;
  for (const std::string& cert : *w) {
    bool found = false;
    for (const std::string& other : *h) found = found || other == cert;
    if (!found) return false;
  }
  return true;
}

std::vector<std::string> RootsOf(absl::string_view cert_pem,
                                 absl::string_view chain_pem,
                                 absl::string_view bundle_pem, absl::Time at) {
  std::vector<std::string> out;
  auto roots = SplitCertificates(bundle_pem);
  if (!roots.ok()) return out;
  for (const std::string& root : *roots) {
    if (internal::VerifyChain(cert_pem, chain_pem, root, at).ok()) out.push_back(root);
  }
  return out;
}

std::string WithoutCertificates(absl::string_view bundle_pem,
                                absl::string_view drop_pem) {
  auto all = SplitCertificates(bundle_pem);
  auto drop = SplitCertificates(drop_pem);
  if (!all.ok()) return std::string(bundle_pem);
  std::string out;
  for (const std::string& cert : *all) {
    bool dropped = false;
    if (drop.ok()) {
      for (const std::string& d : *drop) dropped = dropped || d == cert;
    }
    if (!dropped) out += cert;
  }
  return out;
}

std::string FormatUtc(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

absl::StatusOr<absl::Time> ParseUtc(absl::string_view text, absl::string_view what) {
  absl::Time t;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, std::string(text), &t, &error)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " \"", text, "\" is not an RFC 3339 time: ", error));
  }
  return t;
}

}  // namespace cli
}  // namespace vaultca
