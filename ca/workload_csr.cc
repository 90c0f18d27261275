#include "ca/workload_csr.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "x509/key_util.h"
#include "common/internal/ssl_error.h"
#include "common/internal/ssl_unique_ptr.h"

namespace vaultca {
namespace ca {
namespace {

using ::vaultca::internal::SslError;
using ::vaultca::internal::SslUniquePtr;

// Builds one GENERAL_NAME the way Istio's BuildSubjectAltNameExtension
// classifies identities.
absl::StatusOr<SslUniquePtr<GENERAL_NAME>> MakeName(const std::string& id) {
  SslUniquePtr<ASN1_OCTET_STRING> ip(a2i_IPADDRESS(id.c_str()));
  SslUniquePtr<GENERAL_NAME> name(GENERAL_NAME_new());
  if (name == nullptr) return absl::ResourceExhaustedError("out of memory");
  if (ip != nullptr) {
    GENERAL_NAME_set0_value(name.get(), GEN_IPADD, ip.release());
    return name;
  }
  ::vaultca::internal::ClearSslErrors();  // a2i_IPADDRESS leaves one for non-IPs
  ASN1_IA5STRING* text = ASN1_IA5STRING_new();
  if (text == nullptr ||
      !ASN1_STRING_set(text, id.data(), static_cast<int>(id.size()))) {
    ASN1_IA5STRING_free(text);
    return SslError(absl::StatusCode::kInternal, "encoding a SAN");
  }
  const int type = absl::StrContains(id, "://") ? GEN_URI : GEN_DNS;
  GENERAL_NAME_set0_value(name.get(), type, text);
  return name;
}

absl::Status AddSans(X509_REQ* req, const WorkloadCsrOptions& options) {
  SslUniquePtr<GENERAL_NAMES> names(sk_GENERAL_NAME_new_null());
  if (names == nullptr) return absl::ResourceExhaustedError("out of memory");
  for (const std::string& id : options.identities) {
    auto name = MakeName(id);
    if (!name.ok()) return name.status();
    if (!sk_GENERAL_NAME_push(names.get(), name->get())) {
      return absl::ResourceExhaustedError("out of memory");
    }
    name->release();
  }
  SslUniquePtr<X509_EXTENSION> ext(X509V3_EXT_i2d(
      NID_subject_alt_name, options.san_critical ? 1 : 0, names.get()));
  SslUniquePtr<STACK_OF(X509_EXTENSION)> exts(sk_X509_EXTENSION_new_null());
  if (ext == nullptr || exts == nullptr ||
      !sk_X509_EXTENSION_push(exts.get(), ext.get())) {
    return SslError(absl::StatusCode::kInternal, "building the SAN extension");
  }
  ext.release();
  if (!X509_REQ_add_extensions(req, exts.get())) {
    return SslError(absl::StatusCode::kInternal, "adding the SAN extension");
  }
  return absl::OkStatus();
}

absl::Status SetSubject(X509_REQ* req, const WorkloadCsrOptions& options) {
  X509_NAME* subject = X509_REQ_get_subject_name(req);
  if (!options.empty_subject) {
    // Go encodes the empty organisation as an empty PrintableString. A
    // plain ASN.1 type (not MBSTRING_*) skips OpenSSL's minimum-length
    // table, which would refuse it.
    const int type = options.organization.empty() ? V_ASN1_PRINTABLESTRING
                                                  : MBSTRING_UTF8;
    if (!X509_NAME_add_entry_by_txt(
            subject, "O", type,
            reinterpret_cast<const unsigned char*>(options.organization.data()),
            static_cast<int>(options.organization.size()), -1, 0)) {
      return SslError(absl::StatusCode::kInternal, "setting O=");
    }
  }
  if (!options.common_name.empty() &&
      !X509_NAME_add_entry_by_txt(
          subject, "CN", MBSTRING_UTF8,
          reinterpret_cast<const unsigned char*>(options.common_name.data()),
          static_cast<int>(options.common_name.size()), -1, 0)) {
    return SslError(absl::StatusCode::kInternal, "setting CN=");
  }
  return absl::OkStatus();
}

const EVP_MD* DigestFor(KeyType type) {
  switch (type) {
    case KeyType::kEcP384:
      return EVP_sha384();
    case KeyType::kEd25519:
      return nullptr;  // pure EdDSA
    default:
      return EVP_sha256();
  }
}

}  // namespace

absl::StatusOr<WorkloadCsr> GenerateWorkloadCsr(
    const WorkloadCsrOptions& options) {
  if (options.identities.empty()) {
    return absl::InvalidArgumentError("a workload CSR needs at least one identity");
  }
  auto key = x509::GenerateKey(options.key_type);
  if (!key.ok()) return key.status();

  SslUniquePtr<X509_REQ> req(X509_REQ_new());
  if (req == nullptr || !X509_REQ_set_version(req.get(), 0) ||
      !X509_REQ_set_pubkey(req.get(), key->get())) {
    return SslError(absl::StatusCode::kInternal, "building the CSR");
  }
  if (absl::Status s = SetSubject(req.get(), options); !s.ok()) return s;
  if (absl::Status s = AddSans(req.get(), options); !s.ok()) return s;
  if (X509_REQ_sign(req.get(), key->get(), DigestFor(options.key_type)) <= 0) {
    return SslError(absl::StatusCode::kInternal, "signing the CSR");
  }

  SslUniquePtr<BIO> csr_bio(BIO_new(BIO_s_mem()));
  SslUniquePtr<BIO> key_bio(BIO_new(BIO_s_secmem()));
  if (csr_bio == nullptr || key_bio == nullptr ||
      !PEM_write_bio_X509_REQ(csr_bio.get(), req.get()) ||
      !PEM_write_bio_PrivateKey(key_bio.get(), key->get(), nullptr, nullptr, 0,
                                nullptr, nullptr)) {
    return SslError(absl::StatusCode::kInternal, "PEM-encoding the CSR");
  }
  WorkloadCsr out;
  char* data = nullptr;
  long len = BIO_get_mem_data(csr_bio.get(), &data);
  out.csr_pem.assign(data, static_cast<size_t>(len));
  len = BIO_get_mem_data(key_bio.get(), &data);
  out.key_pem = SecretData(absl::string_view(data, static_cast<size_t>(len)));
  return out;
}

}  // namespace ca
}  // namespace vaultca
