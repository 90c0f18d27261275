#include "ca/vault_pki/testing/chain_checks.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/internal/ssl_unique_ptr.h"
#include "testing/signing.h"

namespace vaultca {
namespace ca {
namespace testing {
namespace {

using ::vaultca::internal::SslUniquePtr;

std::vector<SslUniquePtr<X509>> ReadAll(const std::string& pem) {
  std::vector<SslUniquePtr<X509>> out;
  SslUniquePtr<BIO> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    out.emplace_back(cert);
  }
  ERR_clear_error();
  return out;
}

}  // namespace

absl::Status CheckIstioChain(const SignedChain& chain,
                             const std::string& root_bundle_pem,
                             int intermediates,
                             const std::string& public_key_der,
                             const std::string& spiffe_id, absl::Time now) {
  const auto& elements = chain.cert_chain;
  if (elements.size() != static_cast<size_t>(intermediates) + 2) {
    return absl::InternalError(absl::StrCat("chain has ", elements.size(),
                                            " elements, want ",
                                            intermediates + 2));
  }
  if (elements.back() != root_bundle_pem) {
    return absl::InternalError("the last element is not the root bundle");
  }
  std::vector<SslUniquePtr<X509>> leaf = ReadAll(elements.front());
  if (leaf.size() != 1) {
    return absl::InternalError("the first element is not one certificate");
  }
  std::vector<SslUniquePtr<X509>> roots = ReadAll(root_bundle_pem);
  SslUniquePtr<STACK_OF(X509)> middle(sk_X509_new_null());
  for (size_t i = 1; i + 1 < elements.size(); ++i) {
    std::vector<SslUniquePtr<X509>> certs = ReadAll(elements[i]);
    if (certs.size() != 1) {
      return absl::InternalError(
          absl::StrCat("element ", i, " is not one certificate"));
    }
    for (const auto& root : roots) {
      if (X509_cmp(root.get(), certs[0].get()) == 0) {
        return absl::InternalError(
            absl::StrCat("element ", i, " repeats a root of the bundle"));
      }
    }
    for (int j = 0; j < sk_X509_num(middle.get()); ++j) {
      if (X509_cmp(sk_X509_value(middle.get(), j), certs[0].get()) == 0) {
        return absl::InternalError(absl::StrCat("element ", i, " is repeated"));
      }
    }
    sk_X509_push(middle.get(), certs[0].release());
  }
  absl::StatusOr<std::vector<std::string>> path =
      testkit::VerifyToBundle(elements, root_bundle_pem, now);
  if (!path.ok()) {
    return absl::InternalError(
        absl::StrCat("the leaf does not verify: ", path.status().message()));
  }
  // Every intermediate sent must be on the verified path (nothing stray).
  if (path->size() != static_cast<size_t>(intermediates) + 2) {
    return absl::InternalError("the verified path is not [leaf, "
                               "intermediates..., root]");
  }
  unsigned char* spki = nullptr;
  const int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(leaf[0].get()), &spki);
  const std::string key(reinterpret_cast<char*>(spki), len > 0 ? len : 0);
  OPENSSL_free(spki);
  if (key != public_key_der) {
    return absl::InternalError("the leaf's public key is not the CSR's");
  }
  SslUniquePtr<GENERAL_NAMES> names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(leaf[0].get(), NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names.get());
       ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type != GEN_URI) continue;
    const ASN1_STRING* uri = name->d.uniformResourceIdentifier;
    if (std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                    ASN1_STRING_length(uri)) == spiffe_id) {
      return absl::OkStatus();
    }
  }
  return absl::InternalError(
      absl::StrCat("the leaf lacks the URI SAN ", spiffe_id));
}

}  // namespace testing
}  // namespace ca
}  // namespace vaultca
