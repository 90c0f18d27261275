// A program outside vaultca's tree that links the installed library: it
// creates an istiod-style self-signed root, validates it as CA material and
// prints what it made. Built by CI against the CMake package, pkg-config
// and a Bazel local_repository to prove all three ways to depend on vaultca.

#include <iostream>

#include "absl/time/time.h"
#include "ca/generate.h"
#include "ca/key_cert_bundle.h"

int main() {
  vaultca::ca::RootOptions options;
  options.organization = "consumer.example";
  options.key_type = vaultca::ca::KeyType::kEcP256;
  auto material = vaultca::ca::GenerateSelfSignedRoot(options);
  if (!material.ok()) {
    std::cerr << "generating a root failed: " << material.status() << "\n";
    return 1;
  }
  auto bundle = vaultca::ca::KeyCertBundle::Create(*material);
  if (!bundle.ok()) {
    std::cerr << "validating the root failed: " << bundle.status() << "\n";
    return 1;
  }
  std::cout << "vaultca consumer: " << (*bundle)->subject() << " ("
            << vaultca::ca::KeyTypeName((*bundle)->key_type())
            << "), valid for "
            << absl::ToInt64Hours((*bundle)->TimeToExpiry(absl::Now())) / 24
            << " days\n";
  return 0;
}
