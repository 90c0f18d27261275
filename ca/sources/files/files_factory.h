#ifndef VAULTCA_CA_SOURCES_FILES_FILES_FACTORY_H_
#define VAULTCA_CA_SOURCES_FILES_FILES_FACTORY_H_

#include <memory>
#include <string>

#include "ca/registry/ca_source_factory.h"

namespace vaultca {
namespace ca {

// ca.source files: the ca.files block.
struct FilesSourceConfig {
  // The Istio cacerts directory; ROOT_CA_DIR, as istiod.
  std::string dir = "/etc/cacerts";
};

// ca.source files: an Istio "cacerts" directory (plug-in CA), watched for
// changes, served by the caching CA.
class FilesSourceFactory : public TypedCaSourceFactory<FilesSourceConfig> {
 public:
  absl::string_view name() const override { return "files"; }
  absl::string_view config_key() const override { return "files"; }

 protected:
  void ReadOptions(ConfigBlock& block,
                   FilesSourceConfig* options) const override;
  void ReadEnvironmentOptions(EnvironmentBlock& env,
                              FilesSourceConfig* options) const override;
  absl::Status ValidateOptions(const FilesSourceConfig& options) const override;
  std::string DescribeOptions(const FilesSourceConfig& options) const override;
  absl::StatusOr<std::unique_ptr<ManagedCertificateAuthority>> CreateCa(
      const FilesSourceConfig& options,
      const CaSourceContext& context) const override;
};

}  // namespace ca
}  // namespace vaultca

#endif  // VAULTCA_CA_SOURCES_FILES_FILES_FACTORY_H_
