#include "server/testing/toy_source/toy_source.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "ca/generate.h"
#include "ca/sources/material_source.h"

namespace vaultca {
namespace server {
namespace testing {
namespace {

// Hands out the same material on every fetch.
class ToySource : public ca::MaterialSource {
 public:
  ToySource(ca::CaMaterialPem material, std::string description)
      : material_(std::move(material)), description_(std::move(description)) {}

  absl::StatusOr<ca::CaMaterialPem> Fetch() override { return material_; }
  std::string Description() const override { return description_; }

 private:
  const ca::CaMaterialPem material_;
  const std::string description_;
};

}  // namespace

void ToySourceFactory::ReadOptions(ca::ConfigBlock& block,
                                   ToySourceConfig* options) const {
  block.String("organization", &options->organization);
  block.Duration("root_ttl", &options->root_ttl);
}

void ToySourceFactory::ReadEnvironmentOptions(ca::EnvironmentBlock& env,
                                              ToySourceConfig* options) const {
  env.String("VAULTCA_TOY_ORGANIZATION", &options->organization);
}

absl::Status ToySourceFactory::ValidateOptions(
    const ToySourceConfig& options) const {
  if (options.organization.empty()) {
    return ca::InvalidOptionError(
        "ca.toy.organization (VAULTCA_TOY_ORGANIZATION)", "must not be empty");
  }
  if (options.root_ttl < absl::Hours(1)) {
    return ca::InvalidOptionError("ca.toy.root_ttl", "must be at least 1h");
  }
  return absl::OkStatus();
}

std::string ToySourceFactory::DescribeOptions(
    const ToySourceConfig& options) const {
  return absl::StrCat("toy:O=", options.organization);
}

absl::StatusOr<std::unique_ptr<ca::ManagedCertificateAuthority>>
ToySourceFactory::CreateCa(const ToySourceConfig& options,
                           const ca::CaSourceContext& context) const {
  ca::RootOptions root;
  root.organization = options.organization;
  root.key_type = ca::KeyType::kEcP256;
  root.ttl = options.root_ttl;
  auto material = ca::GenerateSelfSignedRoot(root);
  if (!material.ok()) return material.status();
  return ca::CachingCaOver(
      std::make_unique<ToySource>(*std::move(material),
                                  DescribeOptions(options)),
      context);
}

}  // namespace testing
}  // namespace server
}  // namespace vaultca
