
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <utility>

#include "absl/status/statusor.h"
#include "ca/generate.h"
#include "testing/test_pki.h"
#include "x509/key_util.h"
#include "x509/pem.h"
#include "x509/x509_util.h"
#include "common/internal/ssl_unique_ptr.h"
#include "common/sync.h"

namespace vaultca {
namespace testkit {

using ::vaultca::ca::CaMaterialPem;
using ::vaultca::ca::IntermediateOptions;
using ::vaultca::ca::KeyCertBundle;
using ::vaultca::ca::KeyType;
using ::vaultca::ca::RootOptions;

namespace {

using ::vaultca::internal::SslUniquePtr;

[[noreturn]] void Fail(const char* what, const absl::Status& status) {
  std::fprintf(stderr, "test_pki: %s: %s\n", what, status.ToString().c_str());
  std::abort();
}

template <typename T>
T Must(absl::StatusOr<T> value, const char* what) {
  if (!value.ok()) Fail(what, value.status());
  return *std::move(value);
}

void Must(const absl::Status& status, const char* what) {
  if (!status.ok()) Fail(what, status);
}

// Cache slots for the weak keys, apart from every KeyType.
constexpr int kRsa1024 = 100;
constexpr int kP521 = 101;

struct KeyCache {
  Mutex mu;
  std::map<std::pair<int, int>, std::unique_ptr<SecretData>> keys
      ABSL_GUARDED_BY(mu);
};

KeyCache& Cache() {
  static KeyCache* cache = new KeyCache;
  return *cache;
}

absl::StatusOr<SslUniquePtr<EVP_PKEY>> GenerateAny(int kind) {
  if (kind == kRsa1024) {
    return SslUniquePtr<EVP_PKEY>(
        EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(1024)));
  }
  if (kind == kP521) {
    return SslUniquePtr<EVP_PKEY>(
        EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-521"));
  }
  return x509::GenerateKey(static_cast<KeyType>(kind));
}

// Generating under the lock makes concurrent callers wait for one key
// instead of each paying for their own.
const SecretData& CachedKey(int kind, int slot) {
  KeyCache& cache = Cache();
  MutexLock lock(&cache.mu);
  std::unique_ptr<SecretData>& entry = cache.keys[{kind, slot}];
  if (entry == nullptr) {
    SslUniquePtr<EVP_PKEY> key = Must(GenerateAny(kind), "generate key");
    if (key == nullptr) Fail("generate key", absl::InternalError("null key"));
    entry = std::make_unique<SecretData>(
        Must(x509::PrivateKeyToPkcs8Pem(key.get()), "encode key"));
  }
  return *entry;
}

SslUniquePtr<EVP_PKEY> ParseKey(const SecretData& pem) {
  return Must(x509::ParsePrivateKey(pem, "key"), "parse key");
}

SecretData BioToSecret(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return SecretData(absl::string_view(data, static_cast<size_t>(len)));
}

// Issues a certificate for `subject_key` under `issuer` with `extensions`
// (nid, OpenSSL config value) and returns it as PEM. A null issuer means
// self-signed.
std::string Issue(const CaMaterialPem* issuer, EVP_PKEY* subject_key,
                  const char* common_name,
                  std::initializer_list<std::pair<int, const char*>> extensions,
                  absl::Time now) {
  SslUniquePtr<X509> cert(X509_new());
  SslUniquePtr<X509> issuer_cert;
  SslUniquePtr<EVP_PKEY> issuer_key;
  if (issuer != nullptr) {
    issuer_cert = Must(x509::ParseCertificate(issuer->cert_pem, "issuer"),
                       "parse issuer");
    issuer_key = ParseKey(issuer->key_pem);
  }
  X509* signer_cert = issuer != nullptr ? issuer_cert.get() : cert.get();
  EVP_PKEY* signer_key = issuer != nullptr ? issuer_key.get() : subject_key;
  SslUniquePtr<X509_NAME> name(X509_NAME_new());
  if (cert == nullptr || name == nullptr ||
      X509_NAME_add_entry_by_txt(
          name.get(), "CN", MBSTRING_UTF8,
          reinterpret_cast<const unsigned char*>(common_name), -1, -1, 0) != 1 ||
      X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
      X509_set_subject_name(cert.get(), name.get()) != 1 ||
      X509_set_issuer_name(cert.get(), issuer != nullptr
                                           ? X509_get_subject_name(signer_cert)
                                           : name.get()) != 1 ||
      X509_set_pubkey(cert.get(), subject_key) != 1) {
    Fail("build certificate", absl::InternalError(common_name));
  }
  Must(x509::SetRandomSerial(cert.get()), "serial");
  Must(x509::SetValidity(cert.get(), now - absl::Minutes(2),
                             now + absl::Hours(24)),
       "validity");
  for (const auto& [nid, value] : extensions) {
    Must(x509::AddExtension(cert.get(), signer_cert, nid, value),
         "extension");
  }
  KeyType signer_type =
      Must(x509::ClassifyKey(signer_key, "signer"), "classify signer");
  SslUniquePtr<EVP_MD> md = Must(x509::FetchSignatureDigest(signer_type),
                                 "fetch digest");
  Must(x509::SignCertificate(cert.get(), signer_key, md.get()), "sign");
  return Must(x509::CertificateToPem(cert.get()), "encode certificate");
}

// A leaf-like certificate signed by Root(kRsa, now) with `extensions`.
CaMaterialPem IssuedByRoot(
    const char* common_name,
    std::initializer_list<std::pair<int, const char*>> extensions,
    absl::Time now) {
  CaMaterialPem root = Root(KeyType::kRsa, now);
  CaMaterialPem material;
  material.key_pem = CachedKeyPem(KeyType::kEcP256, 7);
  SslUniquePtr<EVP_PKEY> key = ParseKey(material.key_pem);
  material.cert_pem = Issue(&root, key.get(), common_name, extensions, now);
  material.chain_pem = material.cert_pem + root.cert_pem;
  material.root_bundle_pem = root.cert_pem;
  return material;
}

}  // namespace

const SecretData& CachedKeyPem(KeyType type, int slot) {
  return CachedKey(static_cast<int>(type), slot);
}

const SecretData& Rsa1024KeyPem() { return CachedKey(kRsa1024, 0); }
const SecretData& P521KeyPem() { return CachedKey(kP521, 0); }

SecretData RsaPkcs1KeyPem(int slot) {
  SslUniquePtr<EVP_PKEY> key = ParseKey(CachedKeyPem(KeyType::kRsa, slot));
  SslUniquePtr<BIO> bio(BIO_new(BIO_s_secmem()));
  if (PEM_write_bio_PrivateKey_traditional(bio.get(), key.get(), nullptr,
                                           nullptr, 0, nullptr, nullptr) != 1) {
    Fail("encode PKCS#1", absl::InternalError("PEM write failed"));
  }
  return BioToSecret(bio.get());
}

SecretData EcSec1KeyPem(KeyType type, bool with_parameters, int slot) {
  SslUniquePtr<EVP_PKEY> key = ParseKey(CachedKeyPem(type, slot));
  SslUniquePtr<BIO> bio(BIO_new(BIO_s_secmem()));
  if ((with_parameters && PEM_write_bio_Parameters(bio.get(), key.get()) != 1) ||
      PEM_write_bio_PrivateKey_traditional(bio.get(), key.get(), nullptr,
                                           nullptr, 0, nullptr, nullptr) != 1) {
    Fail("encode SEC1", absl::InternalError("PEM write failed"));
  }
  return BioToSecret(bio.get());
}

SecretData EncryptedPkcs8KeyPem() {
  SslUniquePtr<EVP_PKEY> key = ParseKey(CachedKeyPem(KeyType::kRsa));
  SslUniquePtr<BIO> bio(BIO_new(BIO_s_secmem()));
  char pass[] = "test";
  if (PEM_write_bio_PKCS8PrivateKey(bio.get(), key.get(), EVP_aes_256_cbc(),
                                    pass, 4, nullptr, nullptr) != 1) {
    Fail("encode encrypted PKCS#8", absl::InternalError("PEM write failed"));
  }
  return BioToSecret(bio.get());
}

SecretData EncryptedPkcs1KeyPem() {
  SslUniquePtr<EVP_PKEY> key = ParseKey(CachedKeyPem(KeyType::kRsa));
  SslUniquePtr<BIO> bio(BIO_new(BIO_s_secmem()));
  unsigned char pass[] = "test";
  if (PEM_write_bio_PrivateKey_traditional(bio.get(), key.get(),
                                           EVP_aes_128_cbc(), pass, 4, nullptr,
                                           nullptr) != 1) {
    Fail("encode encrypted PKCS#1", absl::InternalError("PEM write failed"));
  }
  return BioToSecret(bio.get());
}

CaMaterialPem Root(KeyType type, absl::Time now, int slot, absl::Duration ttl,
                   const std::string& organization) {
  RootOptions options;
  options.organization = organization;
  options.key_pem = CachedKeyPem(type, slot);
  options.ttl = ttl;
  options.now = now;
  return Must(GenerateSelfSignedRoot(options), "generate root");
}

CaMaterialPem Intermediate(const CaMaterialPem& parent, KeyType type,
                           absl::Time now, int slot, absl::Duration ttl) {
  std::shared_ptr<const KeyCertBundle> bundle =
      Must(KeyCertBundle::Create(parent, now), "validate parent");
  IntermediateOptions options;
  options.key_pem = CachedKeyPem(type, slot);
  options.ttl = ttl;
  options.now = now;
  return Must(GenerateIntermediate(*bundle, options), "generate intermediate");
}

CaMaterialPem ExpiredCa(absl::Time now) {
  // Generation validates at its own `now`, so build it as of 31 days ago.
  return Root(KeyType::kRsa, now - absl::Hours(24 * 31), 0,
              absl::Hours(24 * 30));
}

CaMaterialPem NotYetValidCa(absl::Time now) {
  return Root(KeyType::kRsa, now + absl::Hours(24));
}

CaMaterialPem NonCaCert(absl::Time now) {
  return IssuedByRoot(
      "workload",
      {{NID_basic_constraints, "critical,CA:FALSE"},
       {NID_key_usage, "critical,digitalSignature,keyEncipherment"},
       {NID_subject_key_identifier, "hash"},
       {NID_authority_key_identifier, "keyid:always"}},
      now);
}

CaMaterialPem CaWithoutCertSign(absl::Time now) {
  return IssuedByRoot(
      "ca without keyCertSign",
      {{NID_basic_constraints, "critical,CA:TRUE"},
       {NID_key_usage, "critical,digitalSignature"},
       {NID_subject_key_identifier, "hash"},
       {NID_authority_key_identifier, "keyid:always"}},
      now);
}

CaMaterialPem CertWithoutBasicConstraints(absl::Time now) {
  CaMaterialPem material;
  material.key_pem = CachedKeyPem(KeyType::kEcP256, 8);
  SslUniquePtr<EVP_PKEY> key = ParseKey(material.key_pem);
  material.cert_pem =
      Issue(nullptr, key.get(), "no basicConstraints",
            {{NID_key_usage, "critical,keyCertSign"}}, now);
  material.root_bundle_pem = material.cert_pem;
  return material;
}

CaMaterialPem RootWithoutSki(absl::Time now) {
  CaMaterialPem material;
  material.key_pem = CachedKeyPem(KeyType::kEcP256, 9);
  SslUniquePtr<EVP_PKEY> key = ParseKey(material.key_pem);
  material.cert_pem =
      Issue(nullptr, key.get(), "root without SKI",
            {{NID_basic_constraints, "critical,CA:TRUE"},
             {NID_key_usage, "critical,keyCertSign,cRLSign"}},
            now);
  material.root_bundle_pem = material.cert_pem;
  return material;
}

CaMaterialPem IntermediateWithoutPathLen(absl::Time now) {
  CaMaterialPem root = Root(KeyType::kRsa, now);
  CaMaterialPem material;
  material.key_pem = CachedKeyPem(KeyType::kEcP256, 10);
  SslUniquePtr<EVP_PKEY> key = ParseKey(material.key_pem);
  material.cert_pem =
      Issue(&root, key.get(), "intermediate without pathlen",
            {{NID_basic_constraints, "critical,CA:TRUE"},
             {NID_key_usage, "critical,keyCertSign,cRLSign"},
             {NID_subject_key_identifier, "hash"},
             {NID_authority_key_identifier, "keyid:always"}},
            now);
  material.chain_pem = material.cert_pem + root.cert_pem;
  material.root_bundle_pem = root.cert_pem;
  return material;
}

CaMaterialPem BelowPathLenZero(absl::Time now) {
  CaMaterialPem parent =
      Intermediate(Root(KeyType::kRsa, now), KeyType::kEcP256, now);
  CaMaterialPem material;
  material.key_pem = CachedKeyPem(KeyType::kEcP256, 11);
  SslUniquePtr<EVP_PKEY> key = ParseKey(material.key_pem);
  material.cert_pem =
      Issue(&parent, key.get(), "below pathlen 0",
            {{NID_basic_constraints, "critical,CA:TRUE"},
             {NID_key_usage, "critical,keyCertSign,cRLSign"},
             {NID_subject_key_identifier, "hash"},
             {NID_authority_key_identifier, "keyid:always"}},
            now);
  material.chain_pem = material.cert_pem + parent.chain_pem;
  material.root_bundle_pem = parent.root_bundle_pem;
  return material;
}

CaMaterialPem MismatchedKey(absl::Time now) {
  CaMaterialPem material = Root(KeyType::kRsa, now);
  material.key_pem = CachedKeyPem(KeyType::kRsa, 1);
  return material;
}

CaMaterialPem ChainNotReachingRoot(absl::Time now) {
  CaMaterialPem intermediate =
      Intermediate(Root(KeyType::kRsa, now), KeyType::kEcP256, now);
  intermediate.chain_pem = intermediate.cert_pem;
  intermediate.root_bundle_pem =
      Root(KeyType::kRsa, now, 1, absl::Hours(24 * 3650), "unrelated.example")
          .cert_pem;
  return intermediate;
}

}  // namespace testkit
}  // namespace vaultca
