#include "cli/cacerts_target.h"

#include "absl/strings/str_cat.h"

namespace vaultca {
namespace cli {

std::map<std::string, SecretData> CacertsEntries(const ca::CaMaterialPem& material) {
  std::map<std::string, SecretData> entries;
  entries[kCaCertFile] = SecretData(material.cert_pem);
  entries[kCaKeyFile] = material.key_pem;
  entries[kCertChainFile] =
      SecretData(material.chain_pem.empty() ? material.cert_pem : material.chain_pem);
  entries[kRootCertFile] = SecretData(material.root_bundle_pem);
  return entries;
}

absl::StatusOr<ca::CaMaterialPem> MaterialFromEntries(
    const std::map<std::string, SecretData>& entries) {
  for (const char* name : {kCaCertFile, kCaKeyFile, kCertChainFile, kRootCertFile}) {
    if (entries.count(name) == 0) {
      return absl::FailedPreconditionError(absl::StrCat(name, " is missing"));
    }
  }
  ca::CaMaterialPem material;
  material.cert_pem = std::string(entries.at(kCaCertFile).view());
  material.key_pem = entries.at(kCaKeyFile);
  material.chain_pem = std::string(entries.at(kCertChainFile).view());
  material.root_bundle_pem = std::string(entries.at(kRootCertFile).view());
  return material;
}

}  // namespace cli
}  // namespace vaultca
