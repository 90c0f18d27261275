#include "server/mesh/internal/tls_secret_check.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <ctime>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/internal/ssl_error.h"
#include "common/internal/ssl_unique_ptr.h"

namespace vaultca {
namespace server {
namespace mesh_internal {
namespace {

using ::vaultca::internal::ClearSslErrors;
using ::vaultca::internal::SslUniquePtr;

constexpr char kPkcs8Header[] = "-----BEGIN PRIVATE KEY-----";

// Every certificate in `pem`, in order; stops at the first that does not
// parse (so trailing junk is a short list, not an error).
std::vector<SslUniquePtr<X509>> ParseCerts(absl::string_view pem) {
  std::vector<SslUniquePtr<X509>> certs;
  SslUniquePtr<BIO> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (bio == nullptr) return certs;
  while (true) {
    SslUniquePtr<X509> cert(
        PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (cert == nullptr) break;
    certs.push_back(std::move(cert));
  }
  ClearSslErrors();
  return certs;
}

// Refuses any passphrase, so an encrypted key fails instead of prompting.
int NoPassphrase(char*, int, int, void*) { return -1; }

absl::Time ToTime(const ASN1_TIME* t) {
  struct tm tm {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return absl::InfinitePast();
  return absl::FromTimeT(timegm(&tm));
}

bool SelfSigned(X509* cert) {
  return (X509_get_extension_flags(cert) & EXFLAG_SS) != 0;
}

bool InList(X509* cert, const std::vector<SslUniquePtr<X509>>& list) {
  for (const auto& c : list) {
    if (X509_cmp(cert, c.get()) == 0) return true;
  }
  return false;
}

std::string PemOf(X509* cert) {
  SslUniquePtr<BIO> out(BIO_new(BIO_s_mem()));
  if (out == nullptr || PEM_write_bio_X509(out.get(), cert) != 1) return "";
  char* data = nullptr;
  const long len = BIO_get_mem_data(out.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

// The leaf's SANs: its DNS names, and whether it has any other kind.
std::set<std::string> DnsNames(X509* leaf, bool* other) {
  std::set<std::string> names;
  *other = false;
  GENERAL_NAMES* sans = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(leaf, NID_subject_alt_name, nullptr, nullptr));
  if (sans == nullptr) return names;
  for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans, i);
    if (name->type != GEN_DNS) {
      *other = true;
      continue;
    }
    const ASN1_IA5STRING* dns = name->d.dNSName;
    names.emplace(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                  static_cast<size_t>(ASN1_STRING_length(dns)));
  }
  GENERAL_NAMES_free(sans);
  return names;
}

bool KeyTypeIs(EVP_PKEY* key, ca::KeyType type) {
  switch (type) {
    case ca::KeyType::kRsa:
      return EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA &&
             EVP_PKEY_get_bits(key) == 2048;
    case ca::KeyType::kEcP256: {
      if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC) return false;
      char group[64];
      size_t len = 0;
      return EVP_PKEY_get_group_name(key, group, sizeof(group), &len) == 1 &&
             absl::string_view(group, len) == "prime256v1";
    }
    default:
      return false;
  }
}

constexpr char kBase64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

void Base64EncodeSecret(absl::string_view in, SecretData* out) {
  // Small pieces at a time: the wiping buffer grows, nothing escapes it.
  char quad[4];
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const uint32_t v = (static_cast<unsigned char>(in[i]) << 16) |
                       (static_cast<unsigned char>(in[i + 1]) << 8) |
                       static_cast<unsigned char>(in[i + 2]);
    quad[0] = kBase64[(v >> 18) & 63];
    quad[1] = kBase64[(v >> 12) & 63];
    quad[2] = kBase64[(v >> 6) & 63];
    quad[3] = kBase64[v & 63];
    out->Append(absl::string_view(quad, 4));
  }
  const size_t rest = in.size() - i;
  if (rest > 0) {
    uint32_t v = static_cast<unsigned char>(in[i]) << 16;
    if (rest == 2) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    quad[0] = kBase64[(v >> 18) & 63];
    quad[1] = kBase64[(v >> 12) & 63];
    quad[2] = rest == 2 ? kBase64[(v >> 6) & 63] : '=';
    quad[3] = '=';
    out->Append(absl::string_view(quad, 4));
  }
  ::vaultca::internal::SecureWipe(quad, sizeof(quad));
}

bool Base64DecodeSecret(absl::string_view in, SecretData* out) {
  if (in.size() % 4 != 0) return false;
  char triple[3];
  bool ok = true;
  for (size_t i = 0; i < in.size() && ok; i += 4) {
    int v[4];
    int pad = 0;
    for (int j = 0; j < 4; ++j) {
      const char c = in[i + j];
      if (c == '=' && i + 4 == in.size() && j >= 2) {
        v[j] = 0;
        ++pad;
      } else if (pad > 0 || (v[j] = Base64Value(c)) < 0) {
        ok = false;
      }
    }
    if (!ok) break;
    const uint32_t n = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    triple[0] = static_cast<char>(n >> 16);
    triple[1] = static_cast<char>(n >> 8);
    triple[2] = static_cast<char>(n);
    out->Append(absl::string_view(triple, 3 - pad));
  }
  ::vaultca::internal::SecureWipe(triple, sizeof(triple));
  if (!ok) out->Clear();
  return ok;
}

absl::StatusOr<std::string> ServingChainPem(
    const std::vector<std::string>& cert_chain,
    const std::string& root_bundle_pem) {
  if (cert_chain.size() < 2) {
    return absl::InvalidArgumentError(
        "the CA answered without a chain and root bundle");
  }
  const std::vector<SslUniquePtr<X509>> roots = ParseCerts(root_bundle_pem);
  std::string out;
  // The last element is the root bundle.
  for (size_t i = 0; i + 1 < cert_chain.size(); ++i) {
    std::vector<SslUniquePtr<X509>> certs = ParseCerts(cert_chain[i]);
    if (certs.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("element ", i, " of the CA's answer does not parse"));
    }
    for (auto& cert : certs) {
      if (i > 0 && (SelfSigned(cert.get()) || InList(cert.get(), roots))) {
        continue;
      }
      absl::StrAppend(&out, PemOf(cert.get()));
    }
  }
  return out;
}

TlsVerdict CheckTlsSecret(const TlsSecretData& data, const TlsWanted& wanted,
                          absl::Time now) {
  TlsVerdict verdict;
  std::vector<SslUniquePtr<X509>> certs = ParseCerts(data.tls_crt);
  if (certs.empty()) {
    verdict.problem = "tls.crt holds no certificate";
    return verdict;
  }
  X509* leaf = certs[0].get();
  verdict.not_before = ToTime(X509_get0_notBefore(leaf));
  verdict.not_after = ToTime(X509_get0_notAfter(leaf));
  if (data.ca_crt != wanted.root_bundle_pem) {
    verdict.problem = "ca.crt is not the current root bundle";
    return verdict;
  }
  const std::vector<SslUniquePtr<X509>> roots =
      ParseCerts(wanted.root_bundle_pem);
  if (roots.empty()) {
    verdict.problem = "no root bundle to verify against";
    return verdict;
  }
  for (size_t i = 1; i < certs.size(); ++i) {
    if (SelfSigned(certs[i].get()) || InList(certs[i].get(), roots)) {
      verdict.problem = "tls.crt carries a root certificate";
      return verdict;
    }
  }
  if (X509_check_ca(leaf) != 0) {
    verdict.problem = "the leaf of tls.crt is a CA certificate";
    return verdict;
  }
  if ((X509_get_extension_flags(leaf) & EXFLAG_XKUSAGE) == 0 ||
      (X509_get_extended_key_usage(leaf) & XKU_SSL_SERVER) == 0) {
    verdict.problem = "the leaf of tls.crt lacks extendedKeyUsage serverAuth";
    return verdict;
  }
  bool other = false;
  const std::set<std::string> names = DnsNames(leaf, &other);
  const std::set<std::string> want(wanted.dns_names.begin(),
                                   wanted.dns_names.end());
  if (other || names != want) {
    verdict.problem = absl::StrCat(
        "the leaf's SANs are [", absl::StrJoin(names, ", "),
        other ? ", and non-DNS names" : "", "], not [",
        absl::StrJoin(want, ", "), "]");
    return verdict;
  }
  EVP_PKEY* public_key = X509_get0_pubkey(leaf);
  if (public_key == nullptr || !KeyTypeIs(public_key, wanted.key_type)) {
    verdict.problem = absl::StrCat("the leaf's key is not ",
                                   ca::KeyTypeName(wanted.key_type),
                                   wanted.key_type == ca::KeyType::kRsa
                                       ? " 2048"
                                       : "");
    return verdict;
  }
  {
    const absl::string_view key_pem = data.tls_key.view();
    const size_t start = key_pem.find_first_not_of(" \t\r\n");
    if (start == absl::string_view::npos ||
        !absl::StartsWith(key_pem.substr(start), kPkcs8Header)) {
      verdict.problem = "tls.key is not a PKCS#8 PEM private key";
      return verdict;
    }
    SslUniquePtr<BIO> bio(
        BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())));
    SslUniquePtr<EVP_PKEY> key(
        bio == nullptr ? nullptr
                       : PEM_read_bio_PrivateKey(bio.get(), nullptr,
                                                 NoPassphrase, nullptr));
    ClearSslErrors();
    if (key == nullptr || EVP_PKEY_eq(public_key, key.get()) != 1) {
      verdict.problem = "tls.key does not match the leaf of tls.crt";
      return verdict;
    }
  }

  SslUniquePtr<X509_STORE> store(X509_STORE_new());
  SslUniquePtr<STACK_OF(X509)> untrusted(sk_X509_new_null());
  SslUniquePtr<X509_STORE_CTX> ctx(X509_STORE_CTX_new());
  if (store == nullptr || untrusted == nullptr || ctx == nullptr) {
    verdict.problem = "out of memory verifying tls.crt";
    return verdict;
  }
  for (const auto& root : roots) X509_STORE_add_cert(store.get(), root.get());
  for (size_t i = 1; i < certs.size(); ++i) {
    if (sk_X509_push(untrusted.get(), certs[i].get()) == 0) {
      verdict.problem = "out of memory verifying tls.crt";
      return verdict;
    }
    X509_up_ref(certs[i].get());
  }
  if (X509_STORE_CTX_init(ctx.get(), store.get(), leaf, untrusted.get()) != 1) {
    verdict.problem = "cannot set up the verification of tls.crt";
    ClearSslErrors();
    return verdict;
  }
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_time(param, absl::ToTimeT(now));
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_SERVER);
  if (X509_verify_cert(ctx.get()) != 1) {
    verdict.problem = absl::StrCat(
        "tls.crt does not verify to the current roots: ",
        X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get())));
    ClearSslErrors();
    return verdict;
  }
  if (!wanted.signing_cert_pem.empty()) {
    std::vector<SslUniquePtr<X509>> signer =
        ParseCerts(wanted.signing_cert_pem);
    STACK_OF(X509)* path = X509_STORE_CTX_get0_chain(ctx.get());
    if (signer.empty() || path == nullptr || sk_X509_num(path) < 2 ||
        X509_cmp(sk_X509_value(path, 1), signer[0].get()) != 0) {
      verdict.problem =
          "the leaf was not issued by the current signing certificate";
      return verdict;
    }
  }
  return verdict;
}

}  // namespace mesh_internal
}  // namespace server
}  // namespace vaultca
