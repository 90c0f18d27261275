#include "ca/sources/files/files_factory.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "ca/sources/files/files_source.h"

namespace vaultca {
namespace ca {

void FilesSourceFactory::ReadOptions(ConfigBlock& block,
                                     FilesSourceConfig* options) const {
  block.String("dir", &options->dir);
}

void FilesSourceFactory::ReadEnvironmentOptions(
    EnvironmentBlock& env, FilesSourceConfig* options) const {
  env.String("ROOT_CA_DIR", &options->dir);
}

absl::Status FilesSourceFactory::ValidateOptions(
    const FilesSourceConfig& options) const {
  if (options.dir.empty()) {
    return InvalidOptionError("ca.files.dir (ROOT_CA_DIR)",
                              "must name a directory");
  }
  return absl::OkStatus();
}

std::string FilesSourceFactory::DescribeOptions(
    const FilesSourceConfig& options) const {
  return absl::StrCat("files:", options.dir);
}

absl::StatusOr<std::unique_ptr<ManagedCertificateAuthority>>
FilesSourceFactory::CreateCa(const FilesSourceConfig& options,
                             const CaSourceContext& context) const {
  FilesSourceOptions source;
  source.dir = options.dir;
  auto files = FilesSource::New(source);
  if (!files.ok()) return files.status();
  return CachingCaOver(std::unique_ptr<MaterialSource>(*std::move(files)),
                       context);
}

}  // namespace ca
}  // namespace vaultca
