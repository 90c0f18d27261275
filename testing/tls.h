#ifndef VAULTCA_TESTING_TLS_H_
#define VAULTCA_TESTING_TLS_H_

// TLS material made at test time for loopback peers (a fake or real Vault,
// a fake Kubernetes API, OIDC issuers): a CA and the certificates it
// issues, as PEM and as files. Nothing here is ever checked in or used
// outside tests.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vaultca {
namespace testkit {

struct TestCert {
  std::string cert_pem;
  std::string key_pem;  // PKCS#8.
};

// What to put in an issued certificate.
struct CertSpec {
  std::string common_name;
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;
  bool server_auth = true;
  bool client_auth = true;
};

// A self-signed EC P-256 CA valid from an hour ago for a day.
class TestCa {
 public:
  static absl::StatusOr<std::unique_ptr<TestCa>> Create(
      absl::string_view common_name);
  ~TestCa();

  const std::string& cert_pem() const { return ca_.cert_pem; }
  // Issues an EC P-256 leaf certificate (CA:FALSE) valid like the CA.
  absl::StatusOr<TestCert> Issue(const CertSpec& spec) const;

 private:
  struct Keys;
  TestCa(TestCert ca, std::unique_ptr<Keys> keys);
  TestCert ca_;
  std::unique_ptr<Keys> keys_;
};

// Ready-made TLS material for a fake or real Vault on 127.0.0.1: a CA, a
// server certificate for localhost, 127.0.0.1 and vault.test, and a client
// certificate, all also written as files under `dir`.
struct TestTls {
  std::unique_ptr<TestCa> ca;
  TestCert server;
  TestCert client;
  std::string dir;
  std::string ca_file;
  std::string server_cert_file;
  std::string server_key_file;
  std::string client_cert_file;
  std::string client_key_file;
};
absl::StatusOr<TestTls> MakeTestTls(
    absl::string_view ca_name = "vaultca test CA");

struct TlsServerFiles {
  std::string cert_file;  // Leaf for IP SAN 127.0.0.1.
  std::string key_file;
  std::string ca_file;  // The root that verifies cert_file.
};

// Makes a fresh TestCa and a serving certificate for 127.0.0.1, and writes
// <dir>/<name>.crt, <name>.key and <name>-ca.crt. Aborts the test binary
// on failure, since no test can go on without its server.
TlsServerFiles WriteLoopbackTlsServerFiles(const std::string& dir,
                                           const std::string& name);

}  // namespace testkit
}  // namespace vaultca

#endif  // VAULTCA_TESTING_TLS_H_
