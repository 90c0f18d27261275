#include "vault/testing/test_pki.h"

#include <fcntl.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/internal/ssl_error.h"
#include "common/internal/ssl_unique_ptr.h"
#include "testing/temp_dir.h"

namespace vaultca {
namespace vault {
namespace testing {

using ::vaultca::internal::SslError;
using ::vaultca::internal::SslUniquePtr;

struct TestCa::Keys {
  SslUniquePtr<EVP_PKEY> key;
  SslUniquePtr<X509> cert;
};

namespace {

absl::StatusOr<SslUniquePtr<EVP_PKEY>> NewKey() {
  SslUniquePtr<EVP_PKEY> key(EVP_EC_gen("P-256"));
  if (key == nullptr) {
    return SslError(absl::StatusCode::kInternal, "EC P-256 key generation");
  }
  return key;
}

absl::Status AddExt(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  SslUniquePtr<X509_EXTENSION> ext(
      X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (ext == nullptr || X509_add_ext(cert, ext.get(), -1) != 1) {
    return SslError(absl::StatusCode::kInternal,
                    absl::StrCat("adding extension ", OBJ_nid2sn(nid), "=",
                                 value));
  }
  return absl::OkStatus();
}

absl::StatusOr<SslUniquePtr<X509>> NewCert(const std::string& cn,
                                           EVP_PKEY* subject_key,
                                           X509* issuer_cert,
                                           EVP_PKEY* issuer_key) {
  SslUniquePtr<X509> cert(X509_new());
  unsigned char serial_bytes[16];
  RAND_bytes(serial_bytes, sizeof(serial_bytes));
  serial_bytes[0] &= 0x7f;
  SslUniquePtr<BIGNUM> serial(BN_bin2bn(serial_bytes, sizeof(serial_bytes), nullptr));
  if (cert == nullptr || serial == nullptr ||
      X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) ==
          nullptr ||
      X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600) == nullptr ||
      X509_set_pubkey(cert.get(), subject_key) != 1) {
    return SslError(absl::StatusCode::kInternal, "building certificate");
  }
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_txt(
          name, "CN", MBSTRING_UTF8,
          reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0) != 1) {
    return SslError(absl::StatusCode::kInternal, "setting subject");
  }
  X509* issuer = issuer_cert != nullptr ? issuer_cert : cert.get();
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer)) != 1) {
    return SslError(absl::StatusCode::kInternal, "setting issuer");
  }
  (void)issuer_key;
  return cert;
}

absl::Status Sign(X509* cert, EVP_PKEY* key) {
  if (X509_sign(cert, key, EVP_sha256()) <= 0) {
    return SslError(absl::StatusCode::kInternal, "signing certificate");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> CertPem(X509* cert) {
  SslUniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || PEM_write_bio_X509(bio.get(), cert) != 1) {
    return SslError(absl::StatusCode::kInternal, "PEM-encoding certificate");
  }
  char* data;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

absl::StatusOr<std::string> KeyPem(EVP_PKEY* key) {
  SslUniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || PEM_write_bio_PrivateKey(bio.get(), key, nullptr,
                                                 nullptr, 0, nullptr,
                                                 nullptr) != 1) {
    return SslError(absl::StatusCode::kInternal, "PEM-encoding key");
  }
  char* data;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

#define VAULTCA_RETURN_IF_ERROR(expr)  \
  do {                                 \
    absl::Status _st = (expr);         \
    if (!_st.ok()) return _st;         \
  } while (0)

}  // namespace

TestCa::TestCa(TestCert ca, std::unique_ptr<Keys> keys)
    : ca_(std::move(ca)), keys_(std::move(keys)) {}
TestCa::~TestCa() = default;

absl::StatusOr<std::unique_ptr<TestCa>> TestCa::Create(
    absl::string_view common_name) {
  auto keys = std::make_unique<Keys>();
  absl::StatusOr<SslUniquePtr<EVP_PKEY>> key = NewKey();
  if (!key.ok()) return key.status();
  keys->key = *std::move(key);
  absl::StatusOr<SslUniquePtr<X509>> cert = NewCert(
      std::string(common_name), keys->key.get(), nullptr, keys->key.get());
  if (!cert.ok()) return cert.status();
  keys->cert = *std::move(cert);
  X509* c = keys->cert.get();
  VAULTCA_RETURN_IF_ERROR(AddExt(c, c, NID_basic_constraints, "critical,CA:TRUE"));
  VAULTCA_RETURN_IF_ERROR(
      AddExt(c, c, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature"));
  VAULTCA_RETURN_IF_ERROR(AddExt(c, c, NID_subject_key_identifier, "hash"));
  VAULTCA_RETURN_IF_ERROR(Sign(c, keys->key.get()));
  TestCert pem;
  absl::StatusOr<std::string> cert_pem = CertPem(c);
  absl::StatusOr<std::string> key_pem = KeyPem(keys->key.get());
  if (!cert_pem.ok()) return cert_pem.status();
  if (!key_pem.ok()) return key_pem.status();
  pem.cert_pem = *cert_pem;
  pem.key_pem = *key_pem;
  return std::unique_ptr<TestCa>(new TestCa(std::move(pem), std::move(keys)));
}

absl::StatusOr<TestCert> TestCa::Issue(const CertSpec& spec) const {
  absl::StatusOr<SslUniquePtr<EVP_PKEY>> key = NewKey();
  if (!key.ok()) return key.status();
  absl::StatusOr<SslUniquePtr<X509>> cert =
      NewCert(spec.common_name, key->get(), keys_->cert.get(), keys_->key.get());
  if (!cert.ok()) return cert.status();
  X509* c = cert->get();
  X509* issuer = keys_->cert.get();
  VAULTCA_RETURN_IF_ERROR(AddExt(c, issuer, NID_basic_constraints, "critical,CA:FALSE"));
  VAULTCA_RETURN_IF_ERROR(
      AddExt(c, issuer, NID_key_usage, "critical,digitalSignature,keyEncipherment"));
  std::vector<std::string> eku;
  if (spec.server_auth) eku.push_back("serverAuth");
  if (spec.client_auth) eku.push_back("clientAuth");
  if (!eku.empty()) {
    VAULTCA_RETURN_IF_ERROR(
        AddExt(c, issuer, NID_ext_key_usage, absl::StrJoin(eku, ",")));
  }
  std::vector<std::string> sans;
  for (const std::string& d : spec.dns_names) sans.push_back("DNS:" + d);
  for (const std::string& ip : spec.ip_addresses) sans.push_back("IP:" + ip);
  if (!sans.empty()) {
    VAULTCA_RETURN_IF_ERROR(
        AddExt(c, issuer, NID_subject_alt_name, absl::StrJoin(sans, ",")));
  }
  VAULTCA_RETURN_IF_ERROR(AddExt(c, issuer, NID_authority_key_identifier, "keyid"));
  VAULTCA_RETURN_IF_ERROR(Sign(c, keys_->key.get()));
  TestCert out;
  absl::StatusOr<std::string> cert_pem = CertPem(c);
  absl::StatusOr<std::string> key_pem = KeyPem(key->get());
  if (!cert_pem.ok()) return cert_pem.status();
  if (!key_pem.ok()) return key_pem.status();
  out.cert_pem = *cert_pem;
  out.key_pem = *key_pem;
  return out;
}

absl::StatusOr<TestTls> MakeTestTls(absl::string_view ca_name) {
  TestTls tls;
  absl::StatusOr<std::unique_ptr<TestCa>> ca = TestCa::Create(ca_name);
  if (!ca.ok()) return ca.status();
  tls.ca = *std::move(ca);
  CertSpec server;
  server.common_name = "vault.test";
  server.dns_names = {"localhost", "vault.test"};
  server.ip_addresses = {"127.0.0.1"};
  absl::StatusOr<TestCert> server_cert = tls.ca->Issue(server);
  if (!server_cert.ok()) return server_cert.status();
  tls.server = *std::move(server_cert);
  CertSpec client;
  client.common_name = "vaultca-client";
  client.server_auth = false;
  absl::StatusOr<TestCert> client_cert = tls.ca->Issue(client);
  if (!client_cert.ok()) return client_cert.status();
  tls.client = *std::move(client_cert);
  tls.dir = testkit::MakeTempDir("vault_tls");
  struct Out {
    std::string* path;
    const char* name;
    const std::string& contents;
  };
  for (const Out& out : {Out{&tls.ca_file, "ca.pem", tls.ca->cert_pem()},
                         Out{&tls.server_cert_file, "server.pem", tls.server.cert_pem},
                         Out{&tls.server_key_file, "server-key.pem", tls.server.key_pem},
                         Out{&tls.client_cert_file, "client.pem", tls.client.cert_pem},
                         Out{&tls.client_key_file, "client-key.pem", tls.client.key_pem}}) {
    absl::StatusOr<std::string> path = testkit::WriteFileIn(tls.dir, out.name, out.contents);
    if (!path.ok()) return path.status();
    *out.path = *path;
  }
  return tls;
}

}  // namespace testing
}  // namespace vault
}  // namespace vaultca
