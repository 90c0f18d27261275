// `vaultca rotate intermediate`: a new intermediate under the same root.

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "ca/generate.h"
#include "cli/flags.h"
#include "cli/internal/cert_checks.h"
#include "cli/root_guard.h"
#include "cli/rotate_flows.h"
#include "cli/vault_flags.h"
#include "vault/reference.h"

namespace vaultca {
namespace cli {
namespace {

// The root's key, from a file or a vault: reference.
absl::StatusOr<SecretData> LoadRootKey(const RotateContext& ctx) {
  const std::string& where = ctx.o.root_key;
  if (absl::StartsWith(where, "vault:")) {
    absl::StatusOr<vault::Reference> ref = vault::ParseReference(where);
    if (!ref.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--root-key ", where, ": ", ref.status().message()));
    }
    if (ref->path == ctx.o.path && ref->key == kKeyField) {
      // The write replaces that field with the intermediate's key: the
      // root's key would be gone from Vault.
      return absl::InvalidArgumentError(absl::StrCat(
          "--root-key ", where, " is the signing key this rotation replaces; "
          "keep the root's key elsewhere (a file, or another path)"));
    }
    absl::StatusOr<vault::KvSecret> secret = ctx.vault->ReadKv(ref->path, ref->version);
    if (!secret.ok()) {
      return absl::Status(secret.status().code(),
                          absl::StrCat("--root-key ", where, ": ", secret.status().message(),
                                       VaultErrorHint(secret.status())));
    }
    absl::StatusOr<SecretData> key = secret->Get(ref->key);
    if (!key.ok()) {
      return absl::Status(key.status().code(),
                          absl::StrCat("--root-key ", where, ": ", key.status().message()));
    }
    return *key;
  }
  std::ifstream in(where, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(absl::StrCat("--root-key ", where, ": cannot be read"));
  }
  std::stringstream text;
  text << in.rdbuf();
  std::string bytes = text.str();
  SecretData key(bytes);
  ::vaultca::internal::SecureWipe(bytes.data(), bytes.size());
  return key;
}

ca::KeyType KeyTypeOf(const std::string& flag) {
  return flag == "rsa-2048" ? ca::KeyType::kRsa : ca::KeyType::kEcP256;
}

std::string Subject(const std::string& cert_pem) {
  auto certs = internal::ParseCertificates(cert_pem);
  return certs.ok() ? certs->front().subject : "?";
}

int Confirm(const RotateContext& ctx, const CaRecord& record) {
  if (ctx.o.server.empty()) {
    *ctx.out << "confirm: skipped (no --server)\n";
    return kExitOk;
  }
  const ca::CaMaterialPem live = record.Live();
  if (absl::Status s = ConfirmServerSignsWith(ctx, live.cert_pem, live.root_bundle_pem);
      !s.ok()) {
    return ctx.Refuse(absl::StrCat("confirm: ", s.message()));
  }
  *ctx.out << "PASS  confirm: " << ctx.o.server
           << " issues under the intermediate in Vault and its leaf verifies "
              "against the root bundle\n";
  return kExitOk;
}

int Write(const RotateContext& ctx, const CaRecord& record) {
  const absl::Time now = absl::Now();
  const ca::CaMaterialPem current = record.Live();
  absl::StatusOr<SecretData> root_key = LoadRootKey(ctx);
  if (!root_key.ok()) return ctx.Refuse(std::string(root_key.status().message()));

  // The root the key belongs to must be the one the current intermediate
  // chains to: anything else is a root rotation.
  auto roots = internal::ParseCertificates(current.root_bundle_pem);
  if (!roots.ok()) {
    return ctx.Refuse(absl::StrCat(record.path, "#", kRootField, ": ",
                                   roots.status().message()));
  }
  const internal::CertInfo* root = nullptr;
  for (const internal::CertInfo& r : *roots) {
    if (internal::KeyMatchesCertificate(*root_key, r.pem).ok()) root = &r;
  }
  if (root == nullptr) {
    return ctx.Refuse(absl::StrCat(
        "--root-key matches none of the ", roots->size(), " root(s) in ", record.path,
        "#", kRootField, ": give the key of the current root (a new root is "
        "`vaultca rotate root`)"));
  }
  auto current_cert = internal::ParseCertificates(current.cert_pem);
  if (!current_cert.ok()) {
    return ctx.Refuse(absl::StrCat(record.path, "#", kCertField, ": ",
                                   current_cert.status().message()));
  }
  // An expired intermediate is the usual reason to rotate: check where it
  // chained while it was valid.
  const absl::Time chained_at =
      std::min(now, current_cert->front().not_after - absl::Seconds(1));
  if (!internal::VerifyChain(current.cert_pem, current.chain_pem, root->pem, chained_at).ok()) {
    return ctx.Refuse(absl::StrCat(
        "the current signing certificate ", current_cert->front().subject,
        " does not chain to the root of --root-key (", root->subject,
        "): that would change the root; use `vaultca rotate root`"));
  }

  ca::CaMaterialPem parent;
  parent.cert_pem = root->pem;
  parent.key_pem = *root_key;
  parent.root_bundle_pem = root->pem;
  auto parent_bundle = ca::KeyCertBundle::Create(parent, now);
  if (!parent_bundle.ok()) {
    return ctx.Refuse(absl::StrCat("the root cannot sign: ",
                                   parent_bundle.status().message()));
  }
  ca::IntermediateOptions options;
  options.organization = ctx.o.organization;
  options.common_name = ctx.o.common_name;
  options.key_type = KeyTypeOf(ctx.o.key_type);
  options.ttl = ctx.o.intermediate_ttl;
  options.now = now;
  absl::StatusOr<ca::CaMaterialPem> generated = ca::GenerateIntermediate(**parent_bundle, options);
  if (!generated.ok()) {
    return ctx.Refuse(absl::StrCat("generating the intermediate: ",
                                   generated.status().message()));
  }
  ca::CaMaterialPem next = *generated;
  next.root_bundle_pem = current.root_bundle_pem;

  // The checks before the write.
  Report report;
  if (absl::Status s = internal::VerifyChain(next.cert_pem, next.chain_pem, root->pem, now);
      s.ok()) {
    report.Pass("new chain", absl::StrCat("verifies to the current root ", root->subject));
  } else {
    report.Fail("new chain", absl::StrCat("does not verify to the current root: ", s.message()));
  }
  if (absl::Status s = internal::KeyMatchesCertificate(next.key_pem, next.cert_pem); s.ok()) {
    report.Pass("new key", "matches the new intermediate");
  } else {
    report.Fail("new key", std::string(s.message()));
  }
  auto next_cert = internal::ParseCertificates(next.cert_pem);
  if (next_cert.ok() && next_cert->front().not_before >= root->not_before &&
      next_cert->front().not_after <= root->not_after) {
    report.Pass("new validity", absl::StrCat("until ", FormatUtc(next_cert->front().not_after),
                                             ", inside the root's (until ",
                                             FormatUtc(root->not_after), ")"));
  } else {
    report.Fail("new validity", "lies outside the root's validity");
  }
  CheckCandidate(next, "new", &report);
  if (absl::Status guard = CheckRootTransition(current, next, false, now); guard.ok()) {
    report.Pass("root transition", "the root bundle is unchanged");
  } else {
    report.Fail("root transition", std::string(guard.message()));
  }
  *ctx.out << report.Render();
  if (report.failed()) {
    return ctx.Refuse(absl::StrCat("the new intermediate failed its checks; nothing was "
                                   "written: ", report.FirstFailure()));
  }

  std::map<std::string, SecretData> fields = record.fields;
  fields[kCertField] = SecretData(next.cert_pem);
  fields[kKeyField] = next.key_pem;
  fields[kChainField] = SecretData(next.chain_pem);
  fields[kRootField] = SecretData(next.root_bundle_pem);
  fields[kSwitchedAtField] = SecretData(FormatUtc(now));
  if (absl::Status s = ctx.Write(record, fields); !s.ok()) {
    return ctx.Refuse(std::string(s.message()));
  }
  if (ctx.o.dry_run) return kExitOk;
  *ctx.out << "write: " << record.path << " version " << record.version + 1
           << " signs with the new intermediate " << Subject(next.cert_pem) << " (until "
           << FormatUtc(next_cert->front().not_after) << ")\n";
  absl::StatusOr<CaRecord> written = ctx.Read();
  if (!written.ok()) return ctx.Refuse(std::string(written.status().message()));
  return Confirm(ctx, *written);
}

}  // namespace

int RotateIntermediate(const RotateContext& ctx) {
  if (!ctx.o.step.empty() && ctx.o.step != "write" && ctx.o.step != "confirm") {
    *ctx.err << "vaultca rotate intermediate: --step " << ctx.o.step
             << ": use write or confirm\n";
    return kExitUsage;
  }
  absl::StatusOr<CaRecord> record = ctx.Read();
  if (!record.ok()) return ctx.Refuse(std::string(record.status().message()));
  absl::StatusOr<RootPhase> phase = ClassifyRootPhase(*record);
  if (!phase.ok()) return ctx.Refuse(std::string(phase.status().message()));
  if (ctx.o.step == "confirm") return Confirm(ctx, *record);
  if (*phase == RootPhase::kBundlePublished) {
    return ctx.Refuse(
        "a root rotation is under way (its new intermediate is staged): finish it "
        "with `vaultca rotate root` first");
  }
  if (ctx.o.step.empty() && !ctx.o.force && record->Has(kSwitchedAtField)) {
    absl::StatusOr<absl::Time> at = ParseUtc(record->Text(kSwitchedAtField), kSwitchedAtField);
    if (at.ok() && absl::Now() - *at < ctx.o.min_interval) {
      *ctx.out << "write: already done: signing moved to "
               << Subject(record->Text(kCertField)) << " at " << FormatUtc(*at)
               << ", within --min-interval " << absl::FormatDuration(ctx.o.min_interval)
               << " (--force rotates again)\n";
      return Confirm(ctx, *record);
    }
  }
  return Write(ctx, *record);
}

}  // namespace cli
}  // namespace vaultca
