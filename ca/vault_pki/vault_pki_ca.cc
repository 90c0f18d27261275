#include "ca/vault_pki/vault_pki_ca.h"

#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "ca/internal/leaf_names.h"
#include "x509/pem.h"
#include "x509/pem_codec.h"
#include "ca/vault_pki/internal/issued_chain.h"
#include "common/internal/ssl_unique_ptr.h"
#include "nlohmann/json.hpp"

namespace vaultca {
namespace ca {

struct VaultPkiCertificateAuthority::Roots {
  ::vaultca::internal::SslUniquePtr<STACK_OF(X509)> certs;
  // The configured bundle, re-encoded: one clean PEM block per root.
  std::string pem;
};

namespace {

// Vault mount paths, role and issuer names as plain path segments: no
// "..", no empty segment, no characters that would change the URL.
absl::Status CheckSegments(absl::string_view value, absl::string_view what,
                           bool allow_slash) {
  if (value.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " is empty"));
  }
  for (absl::string_view segment : absl::StrSplit(value, '/')) {
    if (segment.empty() || segment == "." || segment == "..") {
      return absl::InvalidArgumentError(absl::StrCat(
          what, " '", value, "' has an empty, '.' or '..' path segment"));
    }
  }
  for (const char c : value) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                    c == '.' || (allow_slash && c == '/');
    if (!ok) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, " '", value, "' may only hold letters, digits, '-', '_', '.'",
          allow_slash ? " and '/'" : ""));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> SignPath(const VaultPkiCaOptions& options) {
  absl::Status status = CheckSegments(options.mount, "mount", true);
  if (!status.ok()) return status;
  if (options.endpoint == VaultPkiEndpoint::kSignVerbatim) {
    if (!options.issuer.empty()) {
      return absl::InvalidArgumentError(
          "issuer is only supported with the sign endpoint");
    }
    if (options.role.empty()) {
      return absl::StrCat(options.mount, "/sign-verbatim");
    }
    status = CheckSegments(options.role, "role", false);
    if (!status.ok()) return status;
    return absl::StrCat(options.mount, "/sign-verbatim/", options.role);
  }
  status = CheckSegments(options.role, "role", false);
  if (!status.ok()) return status;
  if (options.issuer.empty()) {
    return absl::StrCat(options.mount, "/sign/", options.role);
  }
  status = CheckSegments(options.issuer, "issuer", false);
  if (!status.ok()) return status;
  return absl::StrCat(options.mount, "/issuer/", options.issuer, "/sign/",
                      options.role);
}

// The JSON body for the sign endpoints. The CSR goes as one clean PEM block
// (whatever surrounded it in the request is not Vault's business).
absl::StatusOr<std::string> SignBody(const SignRequest& request,
                                     absl::Duration ttl,
                                     bool exclude_cn_from_sans) {
  nlohmann::json body = nlohmann::json::object();
  body["csr"] =
      x509::EncodePem("CERTIFICATE REQUEST", request.csr->parsed().der());
  body["format"] = "pem";
  body["ttl"] = absl::StrCat(absl::ToInt64Seconds(ttl), "s");
  body["exclude_cn_from_sans"] = exclude_cn_from_sans;
  std::vector<std::string> uris, dns, ips;
  for (const std::string& id : request.identities) {
    std::string ip_bytes;
    switch (internal::ClassifySan(id, &ip_bytes)) {
      case internal::SanKind::kUri:
        uris.push_back(id);
        break;
      case internal::SanKind::kIp:
        ips.push_back(id);
        break;
      case internal::SanKind::kDns:
        // alt_names is one comma-separated string in Vault's API.
        if (absl::StrContains(id, ',')) {
          return absl::InvalidArgumentError(absl::StrCat(
              "identity '", id, "' holds a comma, which is not a DNS name"));
        }
        dns.push_back(id);
        break;
    }
  }
  if (!uris.empty()) body["uri_sans"] = uris;
  if (!ips.empty()) body["ip_sans"] = ips;
  if (!dns.empty()) body["alt_names"] = absl::StrJoin(dns, ",");
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Keeps the client's message (it names the request). A 400 (InvalidArgument) for a
// request that passed the local policy means Vault's role and vaultca's
// configuration disagree: the caller cannot fix that, the operator can.
absl::Status VaultError(const absl::Status& status) {
  const bool refused = status.code() == absl::StatusCode::kInvalidArgument;
  return absl::Status(
      refused ? absl::StatusCode::kFailedPrecondition : status.code(),
      absl::StrCat("Vault PKI signing failed: ", status.message(),
                   refused ? " (the request passed vaultca's policy; align "
                             "the Vault role with it)"
                           : ""));
}

}  // namespace

absl::Status VaultPkiCertificateAuthority::ValidateOptions(
    const VaultPkiCaOptions& options) {
  absl::StatusOr<std::string> path = SignPath(options);
  if (!path.ok()) return path.status();
  return IssuancePolicy::ValidateOptions(options.policy);
}

absl::StatusOr<std::unique_ptr<VaultPkiCertificateAuthority>>
VaultPkiCertificateAuthority::New(std::shared_ptr<vault::VaultClient> client,
                                  VaultPkiCaOptions options) {
  if (client == nullptr) {
    return absl::InvalidArgumentError(
        "VaultPkiCertificateAuthority needs a Vault client: it is null");
  }
  absl::StatusOr<std::string> path = SignPath(options);
  if (!path.ok()) return path.status();
  absl::StatusOr<std::shared_ptr<const IssuancePolicy>> policy =
      IssuancePolicy::New(options.policy);
  if (!policy.ok()) return policy.status();
  auto roots = std::make_unique<Roots>();
  absl::StatusOr<::vaultca::internal::SslUniquePtr<STACK_OF(X509)>> certs =
      x509::ParseCertificateStack(options.root_bundle_pem,
                                      "root_bundle_pem");
  if (!certs.ok()) return certs.status();
  roots->certs = *std::move(certs);
  absl::StatusOr<std::string> pem =
      x509::CertificatesToPem(roots->certs.get());
  if (!pem.ok()) return pem.status();
  roots->pem = *std::move(pem);
  return std::unique_ptr<VaultPkiCertificateAuthority>(
      new VaultPkiCertificateAuthority(std::move(client), std::move(options),
                                       *std::move(policy), *std::move(path),
                                       std::move(roots)));
}

VaultPkiCertificateAuthority::VaultPkiCertificateAuthority(
    std::shared_ptr<vault::VaultClient> client, VaultPkiCaOptions options,
    std::shared_ptr<const IssuancePolicy> policy, std::string sign_path,
    std::unique_ptr<Roots> roots)
    : client_(std::move(client)),
      options_(std::move(options)),
      policy_(std::move(policy)),
      sign_path_(std::move(sign_path)),
      roots_(std::move(roots)) {}

VaultPkiCertificateAuthority::~VaultPkiCertificateAuthority() = default;

absl::StatusOr<SignedChain> VaultPkiCertificateAuthority::Sign(
    const SignRequest& request) {
  absl::StatusOr<Issuance> checked =
      policy_->Check(request.csr, request.identities, request.requested_ttl,
                     absl::InfiniteFuture());
  if (!checked.ok()) return checked.status();
  absl::StatusOr<std::string> body =
      SignBody(request, checked->ttl, options_.exclude_cn_from_sans);
  if (!body.ok()) return body.status();

  absl::StatusOr<SecretData> answer = client_->Write(sign_path_, *body);
  if (!answer.ok()) return VaultError(answer.status());

  absl::StatusOr<internal::SignResponse> response =
      internal::ParseSignResponse(answer->view());
  if (!response.ok()) return response.status();
  internal::LeafExpectation expect;
  expect.public_key_der = request.csr->parsed().public_key_der();
  expect.identities = &request.identities;
  // The clock again: the round trip to Vault took time.
  expect.now = policy_->Now();
  absl::StatusOr<SignedChain> chain = internal::AssembleIstioChain(
      *response, roots_->certs.get(), roots_->pem, expect);
  if (!chain.ok()) {
    return absl::Status(chain.status().code(),
                        absl::StrCat("Vault PKI ", sign_path_, ": ",
                                     chain.status().message()));
  }
  return chain;
}

absl::StatusOr<std::string> VaultPkiCertificateAuthority::RootBundlePem() {
  return roots_->pem;
}

}  // namespace ca
}  // namespace vaultca
