#include "server/internal/csr_usage.h"

#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "absl/strings/str_cat.h"
#include "common/internal/ssl_error.h"
#include "common/internal/ssl_unique_ptr.h"

namespace vaultca {
namespace server {
namespace internal {
namespace {

using ::vaultca::internal::SslUniquePtr;

absl::Status CheckKeyUsage(X509_EXTENSION* ext) {
  SslUniquePtr<ASN1_STRING> bits(
      static_cast<ASN1_BIT_STRING*>(X509V3_EXT_d2i(ext)));
  if (bits == nullptr) {
    return absl::InvalidArgumentError("its keyUsage extension is malformed");
  }
  // Bits 0 (digitalSignature) and 2 (keyEncipherment) only.
  for (int bit = 0; bit < ASN1_STRING_length(bits.get()) * 8; ++bit) {
    if (bit == 0 || bit == 2) continue;
    if (ASN1_BIT_STRING_get_bit(bits.get(), bit)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "it requests keyUsage bit ", bit,
          "; only digitalSignature and keyEncipherment are allowed"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckExtKeyUsage(X509_EXTENSION* ext) {
  SslUniquePtr<EXTENDED_KEY_USAGE> usages(
      static_cast<EXTENDED_KEY_USAGE*>(X509V3_EXT_d2i(ext)));
  if (usages == nullptr) {
    return absl::InvalidArgumentError(
        "its extendedKeyUsage extension is malformed");
  }
  for (int i = 0; i < sk_ASN1_OBJECT_num(usages.get()); ++i) {
    const int nid = OBJ_obj2nid(sk_ASN1_OBJECT_value(usages.get(), i));
    if (nid != NID_server_auth && nid != NID_client_auth) {
      char oid[80];
      OBJ_obj2txt(oid, sizeof(oid), sk_ASN1_OBJECT_value(usages.get(), i), 1);
      return absl::InvalidArgumentError(absl::StrCat(
          "it requests extendedKeyUsage ", oid,
          "; only serverAuth and clientAuth are allowed"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckWorkloadUsages(absl::string_view csr_pem) {
  SslUniquePtr<BIO> bio(BIO_new_mem_buf(csr_pem.data(), csr_pem.size()));
  SslUniquePtr<X509_REQ> req(
      bio == nullptr
          ? nullptr
          : PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  if (req == nullptr) {
    return ::vaultca::internal::SslError(absl::StatusCode::kInvalidArgument,
                                         "CSR does not parse");
  }
  SslUniquePtr<STACK_OF(X509_EXTENSION)> exts(
      X509_REQ_get_extensions(req.get()));
  ::vaultca::internal::ClearSslErrors();
  for (int i = 0; exts != nullptr && i < sk_X509_EXTENSION_num(exts.get());
       ++i) {
    X509_EXTENSION* ext = sk_X509_EXTENSION_value(exts.get(), i);
    const int nid = OBJ_obj2nid(X509_EXTENSION_get_object(ext));
    absl::Status s;
    if (nid == NID_key_usage) s = CheckKeyUsage(ext);
    if (nid == NID_ext_key_usage) s = CheckExtKeyUsage(ext);
    ::vaultca::internal::ClearSslErrors();
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace internal
}  // namespace server
}  // namespace vaultca
