#include "testing/tls.h"

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/internal/ssl_unique_ptr.h"
#include "testing/temp_dir.h"
#include "x509/key_util.h"
#include "x509/pem.h"
#include "x509/x509_util.h"

namespace vaultca {
namespace testkit {

using ::vaultca::internal::SslUniquePtr;

struct TestCa::Keys {
  SslUniquePtr<EVP_PKEY> key;
  SslUniquePtr<X509> cert;
};

namespace {

#define VAULTCA_TESTKIT_RETURN_IF_ERROR(expr) \
  do {                                        \
    absl::Status _st = (expr);                \
    if (!_st.ok()) return _st;                \
  } while (0)

using Extensions = std::vector<std::pair<int, std::string>>;

// Builds and signs a certificate for `subject_key`, valid from an hour ago
// (slack for clock skew between peers) for a day. A null `issuer_cert`
// means self-signed.
absl::StatusOr<SslUniquePtr<X509>> NewCert(const std::string& common_name,
                                           EVP_PKEY* subject_key,
                                           X509* issuer_cert,
                                           EVP_PKEY* signer_key,
                                           const Extensions& extensions) {
  SslUniquePtr<X509> cert(X509_new());
  if (cert == nullptr || X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
      X509_set_pubkey(cert.get(), subject_key) != 1 ||
      X509_NAME_add_entry_by_txt(
          X509_get_subject_name(cert.get()), "CN", MBSTRING_UTF8,
          reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
          0) != 1) {
    return absl::InternalError(absl::StrCat("building certificate ", common_name));
  }
  X509* issuer = issuer_cert != nullptr ? issuer_cert : cert.get();
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer)) != 1) {
    return absl::InternalError(absl::StrCat("setting issuer of ", common_name));
  }
  VAULTCA_TESTKIT_RETURN_IF_ERROR(x509::SetRandomSerial(cert.get()));
  const absl::Time now = absl::Now();
  VAULTCA_TESTKIT_RETURN_IF_ERROR(x509::SetValidity(
      cert.get(), now - absl::Hours(1), now + absl::Hours(24)));
  for (const auto& [nid, value] : extensions) {
    VAULTCA_TESTKIT_RETURN_IF_ERROR(
        x509::AddExtension(cert.get(), issuer, nid, value.c_str()));
  }
  VAULTCA_TESTKIT_RETURN_IF_ERROR(
      x509::SignCertificate(cert.get(), signer_key, EVP_sha256()));
  return cert;
}

absl::StatusOr<TestCert> ToPem(const X509* cert, const EVP_PKEY* key) {
  absl::StatusOr<std::string> cert_pem = x509::CertificateToPem(cert);
  if (!cert_pem.ok()) return cert_pem.status();
  absl::StatusOr<SecretData> key_pem = x509::PrivateKeyToPkcs8Pem(key);
  if (!key_pem.ok()) return key_pem.status();
  return TestCert{*std::move(cert_pem), std::string(key_pem->view())};
}

struct OutFile {
  std::string* path;
  std::string name;
  const std::string& contents;
};

// Writes each file under `dir` and stores where it went.
absl::Status WriteFiles(absl::string_view dir,
                        std::initializer_list<OutFile> files) {
  for (const OutFile& file : files) {
    absl::StatusOr<std::string> path = WriteFileIn(dir, file.name, file.contents);
    if (!path.ok()) return path.status();
    *file.path = *std::move(path);
  }
  return absl::OkStatus();
}

}  // namespace

TestCa::TestCa(TestCert ca, std::unique_ptr<Keys> keys)
    : ca_(std::move(ca)), keys_(std::move(keys)) {}
TestCa::~TestCa() = default;

absl::StatusOr<std::unique_ptr<TestCa>> TestCa::Create(
    absl::string_view common_name) {
  auto keys = std::make_unique<Keys>();
  absl::StatusOr<SslUniquePtr<EVP_PKEY>> key =
      x509::GenerateKey(x509::KeyType::kEcP256);
  if (!key.ok()) return key.status();
  keys->key = *std::move(key);
  absl::StatusOr<SslUniquePtr<X509>> cert =
      NewCert(std::string(common_name), keys->key.get(), nullptr,
              keys->key.get(),
              {{NID_basic_constraints, "critical,CA:TRUE"},
               {NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature"},
               {NID_subject_key_identifier, "hash"}});
  if (!cert.ok()) return cert.status();
  keys->cert = *std::move(cert);
  absl::StatusOr<TestCert> pem = ToPem(keys->cert.get(), keys->key.get());
  if (!pem.ok()) return pem.status();
  return std::unique_ptr<TestCa>(new TestCa(*std::move(pem), std::move(keys)));
}

absl::StatusOr<TestCert> TestCa::Issue(const CertSpec& spec) const {
  absl::StatusOr<SslUniquePtr<EVP_PKEY>> key =
      x509::GenerateKey(x509::KeyType::kEcP256);
  if (!key.ok()) return key.status();
  Extensions extensions = {
      {NID_basic_constraints, "critical,CA:FALSE"},
      {NID_key_usage, "critical,digitalSignature,keyEncipherment"}};
  std::vector<std::string> eku;
  if (spec.server_auth) eku.push_back("serverAuth");
  if (spec.client_auth) eku.push_back("clientAuth");
  if (!eku.empty()) {
    extensions.push_back({NID_ext_key_usage, absl::StrJoin(eku, ",")});
  }
  std::vector<std::string> sans;
  for (const std::string& d : spec.dns_names) sans.push_back("DNS:" + d);
  for (const std::string& ip : spec.ip_addresses) sans.push_back("IP:" + ip);
  if (!sans.empty()) {
    extensions.push_back({NID_subject_alt_name, absl::StrJoin(sans, ",")});
  }
  extensions.push_back({NID_authority_key_identifier, "keyid"});
  absl::StatusOr<SslUniquePtr<X509>> cert =
      NewCert(spec.common_name, key->get(), keys_->cert.get(), keys_->key.get(),
              extensions);
  if (!cert.ok()) return cert.status();
  return ToPem(cert->get(), key->get());
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
  tls.dir = MakeTempDir("vault_tls");
  VAULTCA_TESTKIT_RETURN_IF_ERROR(WriteFiles(
      tls.dir,
      {{&tls.ca_file, "ca.pem", tls.ca->cert_pem()},
       {&tls.server_cert_file, "server.pem", tls.server.cert_pem},
       {&tls.server_key_file, "server-key.pem", tls.server.key_pem},
       {&tls.client_cert_file, "client.pem", tls.client.cert_pem},
       {&tls.client_key_file, "client-key.pem", tls.client.key_pem}}));
  return tls;
}

TlsServerFiles WriteLoopbackTlsServerFiles(const std::string& dir,
                                           const std::string& name) {
  auto die = [](const absl::Status& status) {
    std::fprintf(stderr, "WriteLoopbackTlsServerFiles: %s\n",
                 status.ToString().c_str());
    std::abort();
  };
  absl::StatusOr<std::unique_ptr<TestCa>> ca =
      TestCa::Create(absl::StrCat(name, " test CA"));
  if (!ca.ok()) die(ca.status());
  CertSpec spec;
  spec.common_name = "127.0.0.1";
  spec.ip_addresses = {"127.0.0.1"};
  absl::StatusOr<TestCert> leaf = (*ca)->Issue(spec);
  if (!leaf.ok()) die(leaf.status());
  TlsServerFiles files;
  const absl::Status written =
      WriteFiles(dir, {{&files.cert_file, name + ".crt", leaf->cert_pem},
                       {&files.key_file, name + ".key", leaf->key_pem},
                       {&files.ca_file, name + "-ca.crt", (*ca)->cert_pem()}});
  if (!written.ok()) die(written);
  return files;
}

}  // namespace testkit
}  // namespace vaultca
