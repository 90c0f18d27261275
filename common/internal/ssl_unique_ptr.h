#ifndef VAULTCA_COMMON_INTERNAL_SSL_UNIQUE_PTR_H_
#define VAULTCA_COMMON_INTERNAL_SSL_UNIQUE_PTR_H_

// One owning smart pointer for every OpenSSL handle vaultca touches.
// Internal: public headers never include OpenSSL.

#include <memory>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace vaultca {
namespace internal {

template <typename T>
struct SslDeleter;

#define VAULTCA_SSL_DELETER(type, free_fn)        \
  template <>                                     \
  struct SslDeleter<type> {                       \
    void operator()(type* ptr) const { free_fn(ptr); } \
  }

// ASN1_INTEGER, ASN1_OCTET_STRING, ASN1_TIME, ASN1_IA5STRING... are all one
// type (asn1_string_st) in OpenSSL, freed by ASN1_STRING_free.
VAULTCA_SSL_DELETER(ASN1_STRING, ASN1_STRING_free);
VAULTCA_SSL_DELETER(AUTHORITY_KEYID, AUTHORITY_KEYID_free);
VAULTCA_SSL_DELETER(BASIC_CONSTRAINTS, BASIC_CONSTRAINTS_free);
VAULTCA_SSL_DELETER(BIGNUM, BN_free);
VAULTCA_SSL_DELETER(BIO, BIO_free_all);
VAULTCA_SSL_DELETER(ECDSA_SIG, ECDSA_SIG_free);
VAULTCA_SSL_DELETER(EVP_MD, EVP_MD_free);
VAULTCA_SSL_DELETER(EVP_MD_CTX, EVP_MD_CTX_free);
VAULTCA_SSL_DELETER(EVP_PKEY, EVP_PKEY_free);
VAULTCA_SSL_DELETER(EVP_PKEY_CTX, EVP_PKEY_CTX_free);
VAULTCA_SSL_DELETER(EXTENDED_KEY_USAGE, EXTENDED_KEY_USAGE_free);
VAULTCA_SSL_DELETER(GENERAL_NAME, GENERAL_NAME_free);
VAULTCA_SSL_DELETER(PKCS8_PRIV_KEY_INFO, PKCS8_PRIV_KEY_INFO_free);
VAULTCA_SSL_DELETER(SSL, SSL_free);
VAULTCA_SSL_DELETER(SSL_CTX, SSL_CTX_free);
VAULTCA_SSL_DELETER(X509, X509_free);
VAULTCA_SSL_DELETER(X509_EXTENSION, X509_EXTENSION_free);
VAULTCA_SSL_DELETER(X509_NAME, X509_NAME_free);
VAULTCA_SSL_DELETER(X509_PUBKEY, X509_PUBKEY_free);
VAULTCA_SSL_DELETER(X509_REQ, X509_REQ_free);
VAULTCA_SSL_DELETER(X509_STORE, X509_STORE_free);
VAULTCA_SSL_DELETER(X509_STORE_CTX, X509_STORE_CTX_free);

#undef VAULTCA_SSL_DELETER

// Stacks own their elements: free each, then the stack.
template <>
struct SslDeleter<STACK_OF(X509)> {
  void operator()(STACK_OF(X509) * stack) const {
    sk_X509_pop_free(stack, X509_free);
  }
};
template <>
struct SslDeleter<STACK_OF(X509_EXTENSION)> {
  void operator()(STACK_OF(X509_EXTENSION) * stack) const {
    sk_X509_EXTENSION_pop_free(stack, X509_EXTENSION_free);
  }
};
template <>
struct SslDeleter<GENERAL_NAMES> {
  void operator()(GENERAL_NAMES* names) const { GENERAL_NAMES_free(names); }
};

template <typename T>
using SslUniquePtr = std::unique_ptr<T, SslDeleter<T>>;

}  // namespace internal
}  // namespace vaultca

#endif  // VAULTCA_COMMON_INTERNAL_SSL_UNIQUE_PTR_H_
