
#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "testing/csr.h"
#include "x509/pem_codec.h"
#include "common/internal/ssl_unique_ptr.h"
#include "common/sync.h"

namespace vaultca {
namespace testkit {
namespace {

using ::vaultca::internal::SslUniquePtr;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "testing/csr: %s\n", what.c_str());
  std::abort();
}

EVP_PKEY* Generate(const std::string& spec) {
  EVP_PKEY* key = nullptr;
  if (absl::StartsWith(spec, "RSA:")) {
    key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA",
                            static_cast<size_t>(std::stoul(spec.substr(4))));
  } else if (absl::StartsWith(spec, "EC:")) {
    key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", spec.substr(3).c_str());
  } else if (spec == "ED25519" || spec == "ED448") {
    key = EVP_PKEY_Q_keygen(nullptr, nullptr, spec.c_str());
  }
  if (key == nullptr) Die("cannot generate key " + spec);
  return key;
}

std::string ToDer(X509_REQ* req) {
  unsigned char* der = nullptr;
  const int len = i2d_X509_REQ(req, &der);
  if (len <= 0) Die("cannot encode CSR");
  std::string out(reinterpret_cast<char*>(der), len);
  OPENSSL_free(der);
  return out;
}

}  // namespace

EVP_PKEY* CachedCsrKey(const std::string& spec, int slot) {
  static Mutex mu;
  static auto* keys =
      new std::map<std::pair<std::string, int>, SslUniquePtr<EVP_PKEY>>;
  MutexLock lock(&mu);
  auto& key = (*keys)[{spec, slot}];
  if (key == nullptr) key.reset(Generate(spec));
  return key.get();
}

std::string TestCsrDer(const TestCsrOptions& options) {
  EVP_PKEY* key = CachedCsrKey(options.key, options.key_slot);
  SslUniquePtr<EVP_PKEY> compressed;
  if (options.compressed_point) {
    compressed.reset(EVP_PKEY_dup(key));
    if (compressed == nullptr ||
        !EVP_PKEY_set_utf8_string_param(
            compressed.get(), OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
            "compressed")) {
      Die("cannot switch the EC point to compressed form");
    }
    key = compressed.get();
  }
  SslUniquePtr<X509_REQ> req(X509_REQ_new());
  if (req == nullptr || !X509_REQ_set_version(req.get(), 0) ||
      !X509_REQ_set_pubkey(req.get(), key)) {
    Die("cannot start CSR");
  }
  X509_NAME* name = X509_REQ_get_subject_name(req.get());
  // A raw PrintableString bypasses OpenSSL's 1..64 size rule for O, so an
  // empty O= (as Go writes it) is possible.
  if (options.with_organization &&
      !X509_NAME_add_entry_by_txt(
          name, "O", V_ASN1_PRINTABLESTRING,
          reinterpret_cast<const unsigned char*>(options.organization.c_str()),
          static_cast<int>(options.organization.size()), -1, 0)) {
    Die("cannot set O");
  }
  for (const std::string& cn : options.common_names) {
    if (!X509_NAME_add_entry_by_txt(
            name, "CN", MBSTRING_UTF8,
            reinterpret_cast<const unsigned char*>(cn.c_str()),
            static_cast<int>(cn.size()), -1, 0)) {
      Die("cannot set CN " + cn);
    }
  }

  SslUniquePtr<STACK_OF(X509_EXTENSION)> exts(sk_X509_EXTENSION_new_null());
  auto add = [&](int nid, const std::string& value) {
    X509_EXTENSION* ext =
        X509V3_EXT_conf_nid(nullptr, nullptr, nid, value.c_str());
    if (ext == nullptr || !sk_X509_EXTENSION_push(exts.get(), ext)) {
      Die("cannot build extension " + value);
    }
  };
  if (!options.sans.empty()) {
    add(NID_subject_alt_name, (options.san_critical ? "critical," : "") +
                                  absl::StrJoin(options.sans, ","));
  }
  for (const auto& [nid, value] : options.extensions) add(nid, value);
  if (sk_X509_EXTENSION_num(exts.get()) > 0 &&
      !X509_REQ_add_extensions(req.get(), exts.get())) {
    Die("cannot add extensions");
  }

  const int id = EVP_PKEY_get_base_id(key);
  const bool pure = id == EVP_PKEY_ED25519 || id == EVP_PKEY_ED448;
  const EVP_MD* md =
      pure ? nullptr : EVP_get_digestbyname(options.digest.c_str());
  if (!pure && md == nullptr) Die("unknown digest " + options.digest);
  if (X509_REQ_sign(req.get(), key, md) <= 0) Die("cannot sign CSR");
  return ToDer(req.get());
}

std::string TestCsrPem(const TestCsrOptions& options) {
  return x509::EncodePem("CERTIFICATE REQUEST",
                                            TestCsrDer(options));
}

std::string AgentCsrPem(const std::vector<std::string>& identities,
                        const std::string& key, int slot) {
  TestCsrOptions options;
  options.key = key;
  options.key_slot = slot;
  options.with_organization = true;
  for (const std::string& identity : identities) {
    options.sans.push_back(absl::StrCat("URI:", identity));
  }
  return TestCsrPem(options);
}

std::string WithBrokenSignature(const std::string& csr_pem) {
  x509::PemBlock block;
  if (x509::DecodeFirstPemBlock(csr_pem, &block) !=
      x509::PemDecodeResult::kOk) {
    Die("not a PEM CSR");
  }
  // The signature BIT STRING ends the CSR; its last byte is signature data
  // for RSA and the low byte of s for ECDSA, so the DER stays valid.
  block.der.back() ^= 0x01;
  return x509::EncodePem("CERTIFICATE REQUEST", block.der);
}

std::string PublicKeyDer(const std::string& spec, int slot) {
  unsigned char* der = nullptr;
  const int len = i2d_PUBKEY(CachedCsrKey(spec, slot), &der);
  if (len <= 0) Die("cannot encode public key");
  std::string out(reinterpret_cast<char*>(der), len);
  OPENSSL_free(der);
  return out;
}

}  // namespace testkit
}  // namespace vaultca
