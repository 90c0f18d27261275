#include "ca/vault_pki/internal/issued_chain.h"

#include <openssl/x509v3.h>

#include <set>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "x509/chain_verify.h"
#include "ca/internal/leaf_names.h"
#include "x509/pem.h"
#include "x509/x509_util.h"
#include "common/internal/ssl_error.h"
#include "common/internal/ssl_unique_ptr.h"
#include "nlohmann/json.hpp"

namespace vaultca {
namespace ca {
namespace internal {
namespace {

using ::vaultca::internal::SslError;
using ::vaultca::internal::SslUniquePtr;

// Vault back-dates NotBefore by 30 s; a Vault clock a little ahead of ours
// must not make every fresh leaf "not yet valid". Same grace istiod gives.
constexpr absl::Duration kClockSkewGrace = absl::Minutes(2);

absl::Status Unusable(absl::string_view what) {
  return absl::InternalError(
      absl::StrCat("Vault's sign response is unusable: ", what));
}

// A SAN as (kind, value): the text for URI and DNS, the address bytes for IP.
using San = std::pair<SanKind, std::string>;

std::string SanText(const San& san) {
  switch (san.first) {
    case SanKind::kUri:
      return absl::StrCat("URI:", san.second);
    case SanKind::kDns:
      return absl::StrCat("DNS:", san.second);
    case SanKind::kIp:
      return absl::StrCat("IP:", absl::BytesToHexString(san.second));
  }
  return san.second;
}

std::string Asn1Text(const ASN1_STRING* s) {
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     ASN1_STRING_length(s));
}

// Checks the leaf's subjectAltName holds exactly `identities`, and its CN
// (if any) is one of them: with a role's use_csr_sans / use_csr_common_name,
// or with sign-verbatim, Vault copies names from the CSR, which the workload
// wrote and vaultca never authorised.
absl::Status CheckNames(X509* leaf, const std::vector<std::string>& identities) {
  std::set<San> want;
  for (const std::string& id : identities) {
    std::string ip;
    const SanKind kind = ClassifySan(id, &ip);
    want.emplace(kind, kind == SanKind::kIp ? ip : id);
  }
  int critical = -1;
  SslUniquePtr<GENERAL_NAMES> names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(leaf, NID_subject_alt_name, &critical, nullptr)));
  if (names == nullptr && critical == -2) {
    return absl::InternalError(
        "the certificate Vault issued has more than one subjectAltName "
        "extension");
  }
  std::set<San> have;
  for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names.get());
       ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    switch (name->type) {
      case GEN_URI:
        have.emplace(SanKind::kUri, Asn1Text(name->d.uniformResourceIdentifier));
        break;
      case GEN_DNS:
        have.emplace(SanKind::kDns, Asn1Text(name->d.dNSName));
        break;
      case GEN_IPADD:
        have.emplace(SanKind::kIp, Asn1Text(name->d.iPAddress));
        break;
      default:
        return absl::InternalError(absl::StrCat(
            "the certificate Vault issued carries a subjectAltName of type ",
            name->type,
            " (email, otherName, ...) that vaultca did not request; set "
            "use_csr_sans=false on the Vault role"));
    }
  }
  for (const San& san : want) {
    if (have.count(san) == 0) {
      return absl::InternalError(absl::StrCat(
          "the certificate Vault issued lacks the requested SAN ",
          SanText(san),
          san.first == SanKind::kUri
              ? "; the role must allow it (allowed_uri_sans) and have "
                "use_csr_sans=false, or the CSR must ask for it"
              : "; the role must allow it and have use_csr_sans=false"));
    }
  }
  for (const San& san : have) {
    if (want.count(san) == 0) {
      return absl::InternalError(absl::StrCat(
          "the certificate Vault issued carries the SAN ", SanText(san),
          " that vaultca did not request (the caller's identities are the "
          "only names a workload certificate may hold); set "
          "use_csr_sans=false on the Vault role, or with sign-verbatim send "
          "CSRs naming exactly the caller's identities"));
    }
  }
  const X509_NAME* subject = X509_get_subject_name(leaf);
  for (int i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1); i >= 0;
       i = X509_NAME_get_index_by_NID(subject, NID_commonName, i)) {
    const std::string cn = Asn1Text(
        X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i)));
    bool known = false;
    for (const std::string& id : identities) known = known || id == cn;
    if (!known) {
      return absl::InternalError(absl::StrCat(
          "the certificate Vault issued has the common name '", cn,
          "', which is none of the requested identities; set "
          "use_csr_common_name=false on the Vault role"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckKey(X509* leaf, absl::string_view public_key_der) {
  unsigned char* spki = nullptr;
  const int spki_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(leaf), &spki);
  if (spki_len <= 0) {
    return SslError(absl::StatusCode::kInternal,
                    "cannot encode the public key of the certificate Vault "
                    "issued");
  }
  const bool same =
      absl::string_view(reinterpret_cast<char*>(spki), spki_len) ==
      public_key_der;
  OPENSSL_free(spki);
  if (!same) {
    return absl::InternalError(
        "the certificate Vault issued carries a public key other than the "
        "CSR's; the workload could not use it");
  }
  return absl::OkStatus();
}

bool SameCert(X509* a, X509* b) { return X509_cmp(a, b) == 0; }

}  // namespace

absl::StatusOr<SignResponse> ParseSignResponse(absl::string_view body) {
  const nlohmann::json json =
      nlohmann::json::parse(body.begin(), body.end(), nullptr,
                            /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    return Unusable("the body is not a JSON object");
  }
  auto data = json.find("data");
  if (data == json.end() || !data->is_object()) {
    return Unusable("no \"data\" object");
  }
  SignResponse response;
  auto certificate = data->find("certificate");
  if (certificate == data->end() || !certificate->is_string()) {
    return Unusable("no data.certificate string");
  }
  response.certificate = certificate->get<std::string>();
  // Vault omits ca_chain when empty; some versions send null.
  auto chain = data->find("ca_chain");
  if (chain != data->end() && !chain->is_null()) {
    if (!chain->is_array()) return Unusable("data.ca_chain is not an array");
    for (const nlohmann::json& element : *chain) {
      if (!element.is_string()) {
        return Unusable("data.ca_chain holds a non-string element");
      }
      response.ca_pems.push_back(element.get<std::string>());
    }
  }
  auto issuing = data->find("issuing_ca");
  if (issuing != data->end() && !issuing->is_null()) {
    if (!issuing->is_string()) return Unusable("data.issuing_ca is not a string");
    response.ca_pems.push_back(issuing->get<std::string>());
  }
  return response;
}

absl::StatusOr<SignedChain> AssembleIstioChain(
    const SignResponse& response, STACK_OF(X509) * roots,
    const std::string& root_bundle_pem, const LeafExpectation& expect) {
  absl::StatusOr<SslUniquePtr<X509>> leaf =
      x509::ParseCertificate(response.certificate, "data.certificate");
  if (!leaf.ok()) return Unusable(leaf.status().message());
  absl::Status status = CheckKey(leaf->get(), expect.public_key_der);
  if (!status.ok()) return status;
  if ((X509_get_extension_flags(leaf->get()) & EXFLAG_CA) != 0) {
    return absl::InternalError(
        "the certificate Vault issued is a CA certificate (basicConstraints "
        "CA:TRUE); a workload certificate must not be");
  }
  status = CheckNames(leaf->get(), *expect.identities);
  if (!status.ok()) return status;

  // Every CA certificate Vault sent, once: path building picks the ones the
  // leaf needs whatever their order, and a root among them is harmless.
  SslUniquePtr<STACK_OF(X509)> untrusted(sk_X509_new_null());
  if (untrusted == nullptr) {
    return SslError(absl::StatusCode::kInternal, "allocating a stack");
  }
  for (size_t i = 0; i < response.ca_pems.size(); ++i) {
    absl::StatusOr<std::vector<SslUniquePtr<X509>>> certs = x509::ParseCertificates(
        response.ca_pems[i], absl::StrCat("CA certificate element ", i + 1));
    if (!certs.ok()) return Unusable(certs.status().message());
    for (SslUniquePtr<X509>& cert : *certs) {
      bool seen = false;
      for (int j = 0; j < sk_X509_num(untrusted.get()); ++j) {
        seen = seen || SameCert(sk_X509_value(untrusted.get(), j), cert.get());
      }
      if (seen) continue;
      if (sk_X509_push(untrusted.get(), cert.get()) == 0) {
        return SslError(absl::StatusCode::kInternal, "growing a stack");
      }
      cert.release();  // Owned by the stack now.
    }
  }

  absl::Time at = expect.now;
  absl::StatusOr<absl::Time> not_before =
      x509::Asn1TimeToTime(X509_get0_notBefore(leaf->get()));
  if (not_before.ok() && *not_before > at &&
      *not_before - at <= kClockSkewGrace) {
    at = *not_before;
  }
  absl::StatusOr<SslUniquePtr<STACK_OF(X509)>> path = x509::VerifyToRoots(
      leaf->get(), untrusted.get(), roots, at, "the certificate Vault issued");
  if (!path.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        path.status().message(),
        " (checked against the configured root bundle; it must hold the root "
        "of the Vault PKI issuer, and Vault's ca_chain every intermediate)"));
  }

  SignedChain chain;
  absl::StatusOr<std::string> leaf_pem = x509::CertificateToPem(leaf->get());
  if (!leaf_pem.ok()) return leaf_pem.status();
  chain.cert_chain.push_back(*std::move(leaf_pem));
  // path = [leaf, intermediates..., anchor]. The anchor came from the
  // configured roots, which the last element carries: never repeat it.
  const int depth = sk_X509_num(path->get());
  for (int i = 1; i < depth - 1; ++i) {
    absl::StatusOr<std::string> pem =
        x509::CertificateToPem(sk_X509_value(path->get(), i));
    if (!pem.ok()) return pem.status();
    chain.cert_chain.push_back(*std::move(pem));
  }
  chain.cert_chain.push_back(root_bundle_pem);
  return chain;
}

}  // namespace internal
}  // namespace ca
}  // namespace vaultca
