#include "server/auth/client_cert_authenticator.h"

#include <arpa/inet.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/internal/ssl_error.h"
#include "common/internal/ssl_unique_ptr.h"
#include "server/auth/spiffe.h"

namespace vaultca {
namespace server {
namespace {

using ::vaultca::internal::SslUniquePtr;

std::string Asn1Text(const ASN1_STRING* s) {
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     ASN1_STRING_length(s));
}

// Returns the text form of an iPAddress SAN, or "" for a malformed one.
std::string IpText(const ASN1_OCTET_STRING* ip) {
  char buf[INET6_ADDRSTRLEN] = {0};
  const int len = ASN1_STRING_length(ip);
  const unsigned char* data = ASN1_STRING_get0_data(ip);
  if (len == 4 && inet_ntop(AF_INET, data, buf, sizeof(buf)) != nullptr) {
    return buf;
  }
  if (len == 16 && inet_ntop(AF_INET6, data, buf, sizeof(buf)) != nullptr) {
    return buf;
  }
  return "";
}

}  // namespace

absl::StatusOr<std::vector<std::string>> CertificateSans(
    absl::string_view pem) {
  SslUniquePtr<BIO> bio(BIO_new_mem_buf(pem.data(), pem.size()));
  if (bio == nullptr) {
    return vaultca::internal::SslError(absl::StatusCode::kInternal,
                                       "cannot allocate a BIO");
  }
  SslUniquePtr<X509> cert(
      PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (cert == nullptr) {
    return vaultca::internal::SslError(
        absl::StatusCode::kInvalidArgument,
        "the client certificate is not a PEM certificate");
  }
  SslUniquePtr<GENERAL_NAMES> names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr)));
  std::vector<std::string> out;
  for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names.get());
       ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    switch (name->type) {
      case GEN_URI:
        out.push_back(Asn1Text(name->d.uniformResourceIdentifier));
        break;
      case GEN_DNS:
        out.push_back(Asn1Text(name->d.dNSName));
        break;
      case GEN_IPADD: {
        std::string ip = IpText(name->d.iPAddress);
        if (!ip.empty()) out.push_back(std::move(ip));
        break;
      }
      default:
        break;
    }
  }
  vaultca::internal::ClearSslErrors();
  return out;
}

size_t ClientCertAuthenticator::remembered() const {
  MutexLock lock(&mu_);
  return sans_.size();
}

absl::StatusOr<std::vector<std::string>> ClientCertAuthenticator::Sans(
    const std::string& pem) {
  {
    MutexLock lock(&mu_);
    auto it = sans_.find(pem);
    if (it != sans_.end()) return it->second;
  }
  // Parsed unlocked; two callers with a new certificate may both parse it.
  absl::StatusOr<std::vector<std::string>> sans = CertificateSans(pem);
  if (!sans.ok()) return sans;  // Not remembered: failures are rare.
  MutexLock lock(&mu_);
  if (sans_.size() >= kMaxRemembered) sans_.clear();
  sans_.emplace(pem, *sans);
  return sans;
}

absl::StatusOr<Caller> ClientCertAuthenticator::Authenticate(
    const AuthRequest& request) {
  if (request.peer_cert_pem.empty()) {
    return absl::UnauthenticatedError("no verified TLS client certificate");
  }
  absl::StatusOr<std::vector<std::string>> sans =
      Sans(request.peer_cert_pem);
  if (!sans.ok()) {
    return absl::UnauthenticatedError(sans.status().message());
  }
  std::vector<std::string> identities;
  if (options_.spiffe_only) {
    for (std::string& san : *sans) {
      absl::StatusOr<ServiceAccountRef> sa = ParseSpiffeServiceAccount(san);
      if (sa.ok() && san == SpiffeIdForServiceAccount(options_.trust_domain,
                                                      *sa)) {
        identities.push_back(std::move(san));
      }
    }
    if (identities.empty()) {
      return absl::UnauthenticatedError(absl::StrCat(
          "the TLS client certificate has no spiffe://", options_.trust_domain,
          "/ns/<namespace>/sa/<service account> URI subject alternative "
          "name (auth.client_certificate_spiffe_only is on)"));
    }
  } else {
    identities = *std::move(sans);
  }
  if (identities.empty()) {
    return absl::UnauthenticatedError(
        "the TLS client certificate has no URI, DNS or IP subject "
        "alternative name to use as identity");
  }
  Caller caller;
  caller.identities = std::move(identities);
  caller.authenticator = std::string(Name());
  if (caller.identities.size() == 1) {
    absl::StatusOr<ServiceAccountRef> sa =
        ParseSpiffeServiceAccount(caller.identities[0]);
    if (sa.ok()) {
      caller.kube_namespace = sa->kube_namespace;
      caller.service_account = sa->name;
    }
  }
  return caller;
}

}  // namespace server
}  // namespace vaultca
