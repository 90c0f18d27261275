#ifndef VAULTCA_CA_TESTING_TLS_FILES_H_
#define VAULTCA_CA_TESTING_TLS_FILES_H_

// Serving certificates for loopback TLS test servers (fake Kubernetes API,
// OIDC issuers), generated at test time. For tests only.

#include <string>

namespace vaultca {
namespace ca {
namespace testing {

struct TlsServerFiles {
  std::string cert_file;  // Leaf for IP SAN 127.0.0.1.
  std::string key_file;
  std::string ca_file;  // The root that verifies cert_file.
};

// Makes a fresh EC P-256 root and a one-hour serving certificate for
// 127.0.0.1, and writes <dir>/<name>.crt, <name>.key and <name>-ca.crt.
// Aborts the test binary on failure.
TlsServerFiles WriteLoopbackTlsServerFiles(const std::string& dir,
                                           const std::string& name);

}  // namespace testing
}  // namespace ca
}  // namespace vaultca

#endif  // VAULTCA_CA_TESTING_TLS_FILES_H_
