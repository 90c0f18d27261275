#include "ca/vault_pki/testing/offline_ca.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "ca/generate.h"
#include "x509/pem.h"
#include "x509/x509_util.h"
#include "common/internal/ssl_unique_ptr.h"

namespace vaultca {
namespace ca {
namespace testing {
namespace {

using ::vaultca::internal::SslUniquePtr;

// Certifies `key` under `subject` as a CA of `issuer`.
absl::StatusOr<std::string> Certify(const CaMaterialPem& issuer, EVP_PKEY* key,
                                    const X509_NAME* subject,
                                    absl::Duration ttl) {
  absl::StatusOr<SslUniquePtr<X509>> issuer_cert =
      x509::ParseCertificate(issuer.cert_pem, "offline issuer");
  if (!issuer_cert.ok()) return issuer_cert.status();
  absl::StatusOr<SslUniquePtr<EVP_PKEY>> issuer_key =
      x509::ParsePrivateKey(issuer.key_pem, "offline issuer key");
  if (!issuer_key.ok()) return issuer_key.status();
  absl::StatusOr<absl::Time> issuer_not_after =
      x509::Asn1TimeToTime(X509_get0_notAfter(issuer_cert->get()));
  if (!issuer_not_after.ok()) return issuer_not_after.status();

  SslUniquePtr<X509> cert(X509_new());
  if (cert == nullptr || X509_set_version(cert.get(), 2) != 1 ||
      X509_set_subject_name(cert.get(), subject) != 1 ||
      X509_set_issuer_name(cert.get(),
                           X509_get_subject_name(issuer_cert->get())) != 1 ||
      X509_set_pubkey(cert.get(), key) != 1) {
    return absl::InternalError("building the offline CA certificate failed");
  }
  const absl::Time now = absl::Now();
  if (absl::Status s = x509::SetRandomSerial(cert.get()); !s.ok()) return s;
  if (absl::Status s = x509::SetValidity(
          cert.get(), now - absl::Minutes(1),
          std::min(now + ttl, *issuer_not_after));
      !s.ok()) {
    return s;
  }
  for (const auto& [nid, value] :
       {std::pair<int, const char*>{NID_basic_constraints, "critical,CA:TRUE"},
        {NID_key_usage, "critical,keyCertSign,cRLSign"},
        {NID_subject_key_identifier, "hash"},
        {NID_authority_key_identifier, "keyid:always"}}) {
    if (absl::Status s = x509::AddExtension(cert.get(), issuer_cert->get(),
                                                nid, value);
        !s.ok()) {
      return s;
    }
  }
  if (absl::Status s = x509::SignCertificate(
          cert.get(), issuer_key->get(),
          EVP_PKEY_id(issuer_key->get()) == EVP_PKEY_ED25519 ? nullptr
                                                             : EVP_sha256());
      !s.ok()) {
    return s;
  }
  return x509::CertificateToPem(cert.get());
}

}  // namespace

absl::StatusOr<std::string> SignIntermediateCsr(const CaMaterialPem& issuer,
                                                absl::string_view csr_pem,
                                                absl::Duration ttl) {
  SslUniquePtr<BIO> bio(
      BIO_new_mem_buf(csr_pem.data(), static_cast<int>(csr_pem.size())));
  SslUniquePtr<X509_REQ> req(
      bio == nullptr
          ? nullptr
          : PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  if (req == nullptr) return absl::InvalidArgumentError("CSR does not parse");
  SslUniquePtr<EVP_PKEY> key(X509_REQ_get_pubkey(req.get()));
  if (key == nullptr || X509_REQ_verify(req.get(), key.get()) != 1) {
    return absl::InvalidArgumentError("CSR signature does not verify");
  }
  return Certify(issuer, key.get(), X509_REQ_get_subject_name(req.get()), ttl);
}

absl::StatusOr<CaMaterialPem> OfflineIntermediate(const CaMaterialPem& issuer,
                                                  absl::string_view common_name,
                                                  absl::Duration ttl) {
  absl::StatusOr<SecretData> key_pem = GeneratePrivateKeyPem(KeyType::kEcP256);
  if (!key_pem.ok()) return key_pem.status();
  absl::StatusOr<SslUniquePtr<EVP_PKEY>> key =
      x509::ParsePrivateKey(*key_pem, "offline intermediate key");
  if (!key.ok()) return key.status();
  SslUniquePtr<X509_NAME> name(X509_NAME_new());
  const std::string cn(common_name);
  if (name == nullptr ||
      X509_NAME_add_entry_by_txt(
          name.get(), "CN", MBSTRING_UTF8,
          reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
          0) != 1) {
    return absl::InternalError("X509_NAME");
  }
  absl::StatusOr<std::string> cert = Certify(issuer, key->get(), name.get(), ttl);
  if (!cert.ok()) return cert.status();
  CaMaterialPem out;
  out.cert_pem = *cert;
  out.key_pem = *std::move(key_pem);
  out.chain_pem = *cert;
  out.root_bundle_pem = issuer.root_bundle_pem;
  return out;
}

}  // namespace testing
}  // namespace ca
}  // namespace vaultca
