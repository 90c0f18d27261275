#include "x509/internal/csr_key.h"

#include <openssl/core_names.h>
#include <openssl/objects.h>
#include <openssl/params.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "x509/der.h"
#include "x509/internal/ecdsa_verify.h"
#include "x509/internal/rsa_pkcs1_verify.h"
#include "common/internal/ssl_error.h"

namespace vaultca {
namespace x509 {
namespace internal {
namespace {

using ::vaultca::internal::ClearSslErrors;
using ::vaultca::internal::SslError;
using ::vaultca::internal::SslUniquePtr;

// OBJECT IDENTIFIER contents.
constexpr absl::string_view kRsaEncryption(
    "\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01", 9);
constexpr absl::string_view kEcPublicKey("\x2a\x86\x48\xce\x3d\x02\x01", 7);
constexpr absl::string_view kEd25519("\x2b\x65\x70", 3);
constexpr absl::string_view kPrime256v1(
    "\x2a\x86\x48\xce\x3d\x03\x01\x07", 8);
constexpr absl::string_view kSecp384r1("\x2b\x81\x04\x00\x22", 5);
constexpr absl::string_view kDerNullElement("\x05\x00", 2);

// Public-key-only EC keys, one per accepted curve. A CSR key is a copy with
// its point replaced: copying the group is cheap, creating it from its
// name is not (BN_MONT_CTX setup with modular inversions).
struct KeyTemplates {
  SslUniquePtr<EVP_PKEY> p256;
  SslUniquePtr<EVP_PKEY> p384;
  // Any RSA public key: it only lends its key manager to new contexts, so
  // that building a key does not fetch one by name.
  SslUniquePtr<EVP_PKEY> rsa;
};

SslUniquePtr<EVP_PKEY> PublicOnlyCopy(const char* type, const char* curve) {
  SslUniquePtr<EVP_PKEY> pair(EVP_PKEY_Q_keygen(nullptr, nullptr, type, curve));
  if (pair == nullptr) return nullptr;
  unsigned char point[256];
  size_t point_len = 0;
  if (!EVP_PKEY_get_octet_string_param(pair.get(),
                                       OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
                                       point, sizeof(point), &point_len)) {
    return nullptr;
  }
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                       const_cast<char*>(curve), 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point,
                                        point_len),
      OSSL_PARAM_construct_end()};
  SslUniquePtr<EVP_PKEY_CTX> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* key = nullptr;
  if (ctx == nullptr || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params) != 1) {
    return nullptr;
  }
  return SslUniquePtr<EVP_PKEY>(key);
}

SslUniquePtr<EVP_PKEY> RsaTemplate() {
  unsigned char n[] = {0xc5, 0x01};  // native-endian, any odd modulus
  unsigned char e[] = {0x03};
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_BN(OSSL_PKEY_PARAM_RSA_N, n, sizeof(n)),
      OSSL_PARAM_construct_BN(OSSL_PKEY_PARAM_RSA_E, e, sizeof(e)),
      OSSL_PARAM_construct_end()};
  SslUniquePtr<EVP_PKEY_CTX> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* key = nullptr;
  if (ctx == nullptr || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params) != 1) {
    return nullptr;
  }
  return SslUniquePtr<EVP_PKEY>(key);
}

// Built on first use, never freed: shared read-only by every thread.
const KeyTemplates* Templates() {
  static const KeyTemplates* const templates = [] {
    auto* t = new KeyTemplates;
    t->p256 = PublicOnlyCopy("EC", "P-256");
    t->p384 = PublicOnlyCopy("EC", "P-384");
    t->rsa = RsaTemplate();
    if (t->p256 == nullptr || t->p384 == nullptr || t->rsa == nullptr) {
      ClearSslErrors();
    }
    return t;
  }();
  return templates;
}

// A context ready for EVP_PKEY_fromdata of RSA public keys. Creating one
// costs as much as building the key (OpenSSL 3.0 walks the key manager's
// names), and a context can be reused but not shared: one per thread.
EVP_PKEY_CTX* RsaFromdataContext() {
  thread_local const SslUniquePtr<EVP_PKEY_CTX> ctx = [] {
    const KeyTemplates* templates = Templates();
    SslUniquePtr<EVP_PKEY_CTX> fresh(
        templates->rsa != nullptr
            ? EVP_PKEY_CTX_new_from_pkey(nullptr, templates->rsa.get(),
                                         nullptr)
            : EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
    if (fresh != nullptr && EVP_PKEY_fromdata_init(fresh.get()) != 1) {
      fresh.reset();
    }
    return fresh;
  }();
  return ctx.get();
}

// A short name for an OID, e.g. "secp521r1", "DSA", else dotted decimal.
std::string OidName(absl::string_view oid) {
  const std::string dotted = DerOidToText(oid);
  if (dotted.empty()) return "with a malformed OID";
  const int nid = OBJ_txt2nid(dotted.c_str());
  ClearSslErrors();
  if (nid == NID_undef) return dotted;
  return OBJ_nid2sn(nid);
}

absl::Status NotAllowed(absl::string_view key_name, const CsrPolicy& policy) {
  return absl::InvalidArgumentError(absl::StrCat(
      "CSR key ", key_name, " is not allowed: use ", AllowedKeysText(policy)));
}

absl::Status MalformedKey(absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("CSR public key is malformed: ", what));
}

// Reads a non-negative, minimally encoded INTEGER as big-endian magnitude
// without leading zero bytes.
bool ReadUnsigned(DerReader* reader, absl::string_view* magnitude) {
  DerElement element;
  if (!reader->Read(kDerInteger, &element)) return false;
  absl::string_view bytes = element.contents;
  if (bytes.empty() || (static_cast<uint8_t>(bytes[0]) & 0x80) != 0) {
    return false;
  }
  if (bytes.size() > 1 && bytes[0] == 0) {
    if ((static_cast<uint8_t>(bytes[1]) & 0x80) == 0) return false;
    bytes.remove_prefix(1);
  }
  *magnitude = bytes;
  return true;
}

int BitLength(absl::string_view magnitude) {
  if (magnitude.empty()) return 0;
  int bits = static_cast<int>(magnitude.size() - 1) * 8;
  for (auto top = static_cast<uint8_t>(magnitude[0]); top != 0; top >>= 1) {
    ++bits;
  }
  return bits;
}

// OSSL_PARAM integers are native-endian.
std::string NativeEndian(absl::string_view big_endian) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  return std::string(big_endian);
#else
  return std::string(big_endian.rbegin(), big_endian.rend());
#endif
}

absl::StatusOr<CsrKey> ParseRsa(const CsrParts& parts, const CsrPolicy& policy,
                                bool evp_only) {
  if (parts.key_parameters != kDerNullElement) {
    return MalformedKey("RSA parameters must be NULL");
  }
  DerReader outer(parts.public_key);
  DerElement sequence;
  absl::string_view n, e;
  if (!outer.Read(kDerSequence, &sequence) || !outer.empty()) {
    return MalformedKey("bad RSAPublicKey");
  }
  DerReader fields(sequence.contents);
  if (!ReadUnsigned(&fields, &n) || !ReadUnsigned(&fields, &e) ||
      !fields.empty()) {
    return MalformedKey("bad RSAPublicKey");
  }
  CsrKey key;
  key.type = KeyType::kRsa;
  key.bits = BitLength(n);
  key.rsa_modulus = n;
  key.rsa_exponent = e;
  if (absl::Status allowed = CheckKeyAllowed(key.type, key.bits, policy);
      !allowed.ok()) {
    return allowed;
  }
  // OpenSSL refuses exponents over 64 bits; even or tiny ones are broken.
  if (e.empty() || e.size() > 8 ||
      (static_cast<uint8_t>(e.back()) & 1) == 0 ||
      (e.size() == 1 && static_cast<uint8_t>(e[0]) < 3)) {
    return MalformedKey(
        "RSA exponent must be odd, at least 3, at most 64 bits");
  }
  if (kHaveLowLevelRsa && !evp_only) return key;
  std::string n_native = NativeEndian(n);
  std::string e_native = NativeEndian(e);
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_BN(
          OSSL_PKEY_PARAM_RSA_N,
          reinterpret_cast<unsigned char*>(n_native.data()), n_native.size()),
      OSSL_PARAM_construct_BN(
          OSSL_PKEY_PARAM_RSA_E,
          reinterpret_cast<unsigned char*>(e_native.data()), e_native.size()),
      OSSL_PARAM_construct_end()};
  EVP_PKEY_CTX* ctx = RsaFromdataContext();
  EVP_PKEY* pkey = nullptr;
  if (ctx == nullptr ||
      EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
    return SslError(absl::StatusCode::kInternal,
                    "building the CSR's RSA public key");
  }
  key.pkey.reset(pkey);
  return key;
}

absl::StatusOr<CsrKey> ParseEc(const CsrParts& parts,
                               const CsrPolicy& policy, bool evp_only) {
  DerReader reader(parts.key_parameters);
  DerElement curve;
  if (!reader.Read(kDerOid, &curve) || !reader.empty()) {
    return NotAllowed("EC with explicit curve parameters", policy);
  }
  CsrKey key;
  const KeyTemplates* templates = Templates();
  const EVP_PKEY* key_template = nullptr;
  if (curve.contents == kPrime256v1) {
    key.type = KeyType::kEcP256;
    key.bits = 256;
    key_template = templates->p256.get();
  } else if (curve.contents == kSecp384r1) {
    key.type = KeyType::kEcP384;
    key.bits = 384;
    key_template = templates->p384.get();
  } else {
    return NotAllowed(absl::StrCat("EC ", OidName(curve.contents)), policy);
  }
  if (absl::Status allowed = CheckKeyAllowed(key.type, key.bits, policy);
      !allowed.ok()) {
    return allowed;
  }
  // Uncompressed points only, as Go's x509 (and so istiod) requires.
  const size_t coordinate = static_cast<size_t>(key.bits) / 8;
  if (parts.public_key.size() != 1 + 2 * coordinate ||
      parts.public_key[0] != 0x04) {
    return MalformedKey(
        absl::StrCat("EC point is not an uncompressed P-", key.bits, " point"));
  }
  if (kHaveLowLevelEcdsa && !evp_only) {
    key.ec_key = EcPublicKey(key.bits == 256 ? NID_X9_62_prime256v1
                                             : NID_secp384r1,
                             parts.public_key);
    if (key.ec_key == nullptr) {
      return MalformedKey(absl::StrCat("EC point is not on P-", key.bits));
    }
    return key;
  }
  if (key_template == nullptr) {
    return absl::InternalError("could not build the EC key templates");
  }
  key.pkey.reset(EVP_PKEY_dup(const_cast<EVP_PKEY*>(key_template)));
  if (key.pkey == nullptr) {
    return SslError(absl::StatusCode::kInternal, "copying an EC key template");
  }
  if (EVP_PKEY_set1_encoded_public_key(
          key.pkey.get(),
          reinterpret_cast<const unsigned char*>(parts.public_key.data()),
          parts.public_key.size()) != 1) {
    ClearSslErrors();
    return MalformedKey(absl::StrCat("EC point is not on P-", key.bits));
  }
  return key;
}

absl::StatusOr<CsrKey> ParseEd25519(const CsrParts& parts,
                                    const CsrPolicy& policy) {
  if (absl::Status allowed = CheckKeyAllowed(KeyType::kEd25519, 256, policy);
      !allowed.ok()) {
    return allowed;
  }
  if (!parts.key_parameters.empty() || parts.public_key.size() != 32) {
    return MalformedKey("Ed25519 key must be 32 bytes without parameters");
  }
  CsrKey key;
  key.type = KeyType::kEd25519;
  key.bits = 256;
  key.pkey.reset(EVP_PKEY_new_raw_public_key_ex(
      nullptr, "ED25519", nullptr,
      reinterpret_cast<const unsigned char*>(parts.public_key.data()),
      parts.public_key.size()));
  if (key.pkey == nullptr) {
    ClearSslErrors();
    return MalformedKey("bad Ed25519 key");
  }
  return key;
}

}  // namespace

absl::Status CheckKeyAllowed(KeyType type, int bits, const CsrPolicy& policy) {
  switch (type) {
    case KeyType::kRsa:
      if (bits < policy.min_rsa_bits || bits > policy.max_rsa_bits) {
        return NotAllowed(absl::StrCat("RSA ", bits), policy);
      }
      return absl::OkStatus();
    case KeyType::kEcP256:
      if (!policy.allow_ecdsa_p256) return NotAllowed("EC P-256", policy);
      return absl::OkStatus();
    case KeyType::kEcP384:
      if (!policy.allow_ecdsa_p384) return NotAllowed("EC P-384", policy);
      return absl::OkStatus();
    case KeyType::kEd25519:
      if (!policy.allow_ed25519) return NotAllowed("Ed25519", policy);
      return absl::OkStatus();
  }
  return NotAllowed("of an unknown type", policy);
}

std::string AllowedKeysText(const CsrPolicy& policy) {
  std::vector<std::string> allowed;
  if (policy.min_rsa_bits <= policy.max_rsa_bits) {
    allowed.push_back(absl::StrCat("RSA ", policy.min_rsa_bits, "-",
                                   policy.max_rsa_bits, " bits"));
  }
  if (policy.allow_ecdsa_p256) allowed.push_back("ECDSA P-256");
  if (policy.allow_ecdsa_p384) allowed.push_back("ECDSA P-384");
  if (policy.allow_ed25519) allowed.push_back("Ed25519");
  if (allowed.empty()) return "nothing: the CSR policy allows no key type";
  if (allowed.size() == 1) return allowed[0];
  const std::string last = std::move(allowed.back());
  allowed.pop_back();
  return absl::StrCat(absl::StrJoin(allowed, ", "), " or ", last);
}

absl::StatusOr<CsrKey> ParseCsrKey(const CsrParts& parts,
                                   const CsrPolicy& policy, bool evp_only) {
  if (parts.key_algorithm == kRsaEncryption) {
    return ParseRsa(parts, policy, evp_only);
  }
  if (parts.key_algorithm == kEcPublicKey) {
    return ParseEc(parts, policy, evp_only);
  }
  if (parts.key_algorithm == kEd25519) return ParseEd25519(parts, policy);
  return NotAllowed(OidName(parts.key_algorithm), policy);
}

}  // namespace internal
}  // namespace x509
}  // namespace vaultca
