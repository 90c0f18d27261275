#include "ca/testing/tls_files.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "absl/time/clock.h"
#include "ca/key_cert_bundle.h"
#include "ca/local_ca.h"
#include "ca/testing/test_pki.h"
#include "ca/workload_csr.h"

namespace vaultca {
namespace ca {
namespace testing {
namespace {

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "tls_files: %s\n", what.c_str());
  std::abort();
}

void Write(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
  if (!out) Die("cannot write " + path);
}

}  // namespace

TlsServerFiles WriteLoopbackTlsServerFiles(const std::string& dir,
                                           const std::string& name) {
  CaMaterialPem root = Root(KeyType::kEcP256, absl::Now(), 8);
  auto bundle = KeyCertBundle::Create(root);
  if (!bundle.ok()) Die(bundle.status().ToString());
  auto local = LocalCertificateAuthority::New(*bundle);
  if (!local.ok()) Die(local.status().ToString());
  WorkloadCsrOptions csr_options;
  csr_options.identities = {"127.0.0.1"};
  csr_options.key_type = KeyType::kEcP256;
  auto csr = GenerateWorkloadCsr(csr_options);
  if (!csr.ok()) Die(csr.status().ToString());
  auto verified = (*local)->policy().VerifyCsr(csr->csr_pem);
  if (!verified.ok()) Die(verified.status().ToString());
  auto chain =
      (*local)->Sign({*std::move(verified), {"127.0.0.1"}, absl::Hours(1)});
  if (!chain.ok()) Die(chain.status().ToString());
  TlsServerFiles files{dir + "/" + name + ".crt", dir + "/" + name + ".key",
                       dir + "/" + name + "-ca.crt"};
  Write(files.cert_file, chain->cert_chain[0]);
  Write(files.key_file, std::string(csr->key_pem.view()));
  Write(files.ca_file, root.root_bundle_pem);
  return files;
}

}  // namespace testing
}  // namespace ca
}  // namespace vaultca
