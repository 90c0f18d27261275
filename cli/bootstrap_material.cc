#include "cli/bootstrap_material.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ca/generate.h"
#include "cli/internal/cert_checks.h"
#include "cli/vault_flags.h"

namespace vaultca {
namespace cli {
namespace {

absl::StatusOr<std::string> ReadWholeFile(const std::string& flag,
                                          const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, " ", path, ": cannot be read"));
  }
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::StatusOr<ca::CaMaterialPem> Import(const MaterialInput& input) {
  if (input.key_file.empty()) {
    return absl::InvalidArgumentError("--cert needs --key (the CA's private key)");
  }
  ca::CaMaterialPem material;
  absl::StatusOr<std::string> cert = ReadWholeFile("cert", input.cert_file);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadWholeFile("key", input.key_file);
  if (!key.ok()) return key.status();
  material.key_pem = SecretData(*key);
  ::vaultca::internal::SecureWipe(key->data(), key->size());
  auto certs = internal::ParseCertificates(*cert);
  if (!certs.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--cert ", input.cert_file, ": ", certs.status().message()));
  }
  material.cert_pem = certs->front().pem;
  // A certificate file holding the whole chain (as the seed's demo rotation
  // puts it in Vault) gives the chain too.
  if (certs->size() > 1 && input.chain_file.empty()) material.chain_pem = *cert;
  if (!input.chain_file.empty()) {
    absl::StatusOr<std::string> chain = ReadWholeFile("chain", input.chain_file);
    if (!chain.ok()) return chain.status();
    material.chain_pem = *chain;
  }
  if (!input.root_file.empty()) {
    absl::StatusOr<std::string> root = ReadWholeFile("root", input.root_file);
    if (!root.ok()) return root.status();
    material.root_bundle_pem = *root;
    return material;
  }
  // No root file: the last certificate of the chain (or of the cert file)
  // when it is self-signed.
  const std::string& tail_source =
      material.chain_pem.empty() ? material.cert_pem : material.chain_pem;
  auto tail = internal::ParseCertificates(tail_source);
  if (!tail.ok() || !tail->back().self_signed) {
    return absl::InvalidArgumentError(
        "the certificate is not self-signed and no chain ends in a root: "
        "give the root bundle with --root");
  }
  material.root_bundle_pem = tail->back().pem;
  return material;
}

absl::StatusOr<ca::CaMaterialPem> Generate(const MaterialInput& input,
                                           SecretData* root_key) {
  ca::KeyType type;
  if (input.key_type == "ec-p256") {
    type = ca::KeyType::kEcP256;
  } else if (input.key_type == "rsa-2048") {
    type = ca::KeyType::kRsa;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "--key-type ", input.key_type, ": use ec-p256 or rsa-2048"));
  }
  ca::RootOptions root_options;
  root_options.organization = input.organization;
  root_options.key_type = type;
  root_options.ttl = input.root_ttl;
  root_options.now = input.now;
  absl::StatusOr<ca::CaMaterialPem> root = ca::GenerateSelfSignedRoot(root_options);
  if (!root.ok()) return root.status();
  auto bundle = ca::KeyCertBundle::Create(*root, input.now);
  if (!bundle.ok()) return bundle.status();
  if (root_key != nullptr) *root_key = root->key_pem;
  ca::IntermediateOptions options;
  options.organization = input.organization;
  options.common_name = "vaultca intermediate";
  options.key_type = type;
  options.ttl = input.intermediate_ttl;
  options.now = input.now;
  return ca::GenerateIntermediate(**bundle, options);
}

}  // namespace

absl::StatusOr<ca::CaMaterialPem> LoadOrGenerateMaterial(
    const MaterialInput& input, SecretData* root_key) {
  if (!input.cert_file.empty()) return Import(input);
  if (!input.key_file.empty() || !input.chain_file.empty() ||
      !input.root_file.empty()) {
    return absl::InvalidArgumentError(
        "--key, --chain and --root import a CA together with --cert");
  }
  return Generate(input, root_key);
}

std::map<std::string, SecretData> MaterialFields(const ca::CaMaterialPem& material) {
  std::map<std::string, SecretData> fields;
  fields[kCertField] = SecretData(material.cert_pem);
  fields[kKeyField] = material.key_pem;
  if (!material.chain_pem.empty()) fields[kChainField] = SecretData(material.chain_pem);
  fields[kRootField] = SecretData(material.root_bundle_pem);
  return fields;
}

absl::Status WriteNewKeyFile(const std::string& flag, const std::string& path,
                             const SecretData& key) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--", flag, " ", path, ": ", std::strerror(errno),
        errno == EEXIST ? " (never overwritten: choose a new file)" : ""));
  }
  size_t done = 0;
  while (done < key.size()) {
    const ssize_t n = write(fd, key.data() + done, key.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string error = std::strerror(errno);
      close(fd);
      unlink(path.c_str());
      return absl::InternalError(absl::StrCat("--", flag, " ", path, ": ", error));
    }
    done += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0 || close(fd) != 0) {
    const std::string error = std::strerror(errno);
    unlink(path.c_str());
    return absl::InternalError(absl::StrCat("--", flag, " ", path, ": ", error));
  }
  return absl::OkStatus();
}

}  // namespace cli
}  // namespace vaultca
