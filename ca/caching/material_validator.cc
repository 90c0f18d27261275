#include "ca/caching/material_validator.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "ca/caching/internal/probe.h"
#include "x509/pem.h"

namespace vaultca {
namespace ca {
namespace {

// Parses each part on its own, so a malformed input is told apart from
// well-formed material that fails validation, and named precisely.
absl::Status CheckWellFormed(const CaMaterialPem& material) {
  if (auto certs = x509::ParseCertificates(material.cert_pem, "signing cert");
      !certs.ok()) {
    return certs.status();
  }
  if (auto chain = x509::ParseCertificateStack(material.chain_pem, "chain",
                                                   /*allow_empty=*/true);
      !chain.ok()) {
    return chain.status();
  }
  if (auto roots =
          x509::ParseCertificates(material.root_bundle_pem, "root bundle");
      !roots.ok()) {
    return roots.status();
  }
  if (auto key = x509::ParsePrivateKey(material.key_pem, "key"); !key.ok()) {
    return key.status();
  }
  return absl::OkStatus();
}

}  // namespace

absl::string_view RefreshFailureCauseName(RefreshFailureCause cause) {
  switch (cause) {
    case RefreshFailureCause::kFetch:
      return "fetch";
    case RefreshFailureCause::kParse:
      return "parse";
    case RefreshFailureCause::kValidation:
      return "validation";
    case RefreshFailureCause::kRootPolicy:
      return "root_policy";
  }
  return "unknown";
}

absl::StatusOr<ServingMaterial> ValidateMaterial(
    const CaMaterialPem& material, std::shared_ptr<const IssuancePolicy> policy,
    absl::Time now, RefreshFailureCause* cause) {
  RefreshFailureCause ignored;
  if (cause == nullptr) cause = &ignored;

  *cause = RefreshFailureCause::kValidation;
  auto bundle = KeyCertBundle::Create(material, now);
  if (!bundle.ok()) {
    // Parsing again costs a few milliseconds, so only on this error path:
    // it tells malformed input apart from well-formed invalid material.
    if (absl::Status s = CheckWellFormed(material); !s.ok()) {
      *cause = RefreshFailureCause::kParse;
      return s;
    }
    return bundle.status();
  }
  auto local_ca =
      LocalCertificateAuthority::New(*bundle, std::move(policy));
  if (!local_ca.ok()) return local_ca.status();
  ServingMaterial serving;
  serving.bundle = *std::move(bundle);
  serving.ca = *std::move(local_ca);
  if (absl::Status s = internal::ProbeSigning(*serving.ca, *serving.bundle, now);
      !s.ok()) {
    return s;
  }
  return serving;
}

}  // namespace ca
}  // namespace vaultca
