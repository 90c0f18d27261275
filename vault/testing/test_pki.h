#ifndef VAULTCA_VAULT_TESTING_TEST_PKI_H_
#define VAULTCA_VAULT_TESTING_TEST_PKI_H_

// Test-only PKI made at test time: a CA and certificates it issues, as PEM.
// Nothing here is ever checked in or used outside tests.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vaultca {
namespace vault {
namespace testing {

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

// A self-signed EC P-256 CA valid for a day.
class TestCa {
 public:
  static absl::StatusOr<std::unique_ptr<TestCa>> Create(
      absl::string_view common_name);
  ~TestCa();

  const std::string& cert_pem() const { return ca_.cert_pem; }
  // Issues an EC P-256 leaf certificate valid for a day.
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
absl::StatusOr<TestTls> MakeTestTls(absl::string_view ca_name = "vaultca test CA");

}  // namespace testing
}  // namespace vault
}  // namespace vaultca

#endif  // VAULTCA_VAULT_TESTING_TEST_PKI_H_
