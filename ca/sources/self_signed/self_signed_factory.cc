#include "ca/sources/self_signed/self_signed_factory.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "ca/sources/self_signed/self_signed_source.h"
#include "ca/sources/self_signed/self_signed_vault_source.h"
#include "vault/client.h"

namespace vaultca {
namespace ca {
namespace {

absl::StatusOr<KeyType> ParseKeyType(absl::string_view what,
                                     absl::string_view text) {
  const std::string lower = absl::AsciiStrToLower(text);
  if (lower == "rsa") return KeyType::kRsa;
  if (lower == "ec-p256") return KeyType::kEcP256;
  if (lower == "ec-p384") return KeyType::kEcP384;
  return absl::InvalidArgumentError(
      absl::StrCat(what, "='", text,
                   "' is invalid: expected rsa, ec-p256 or ec-p384"));
}

}  // namespace

void SelfSignedSourceFactory::ReadOptions(
    ConfigBlock& block, SelfSignedSourceConfig* options) const {
  block.String("state_dir", &options->state_dir);
  block.Value("key_type", &options->key_type, ParseKeyType);
  block.String("vault_path", &options->vault_path);
}

void SelfSignedSourceFactory::ReadEnvironmentOptions(
    EnvironmentBlock& env, SelfSignedSourceConfig* options) const {
  env.String("VAULTCA_SELF_SIGNED_DIR", &options->state_dir);
  env.String("VAULTCA_SELF_SIGNED_VAULT_PATH", &options->vault_path);
}

absl::Status SelfSignedSourceFactory::ValidateOptions(
    const SelfSignedSourceConfig& options) const {
  if (options.state_dir.empty() && options.vault_path.empty()) {
    return InvalidOptionError("ca.self_signed.state_dir",
                              "must name a directory");
  }
  return absl::OkStatus();
}

std::string SelfSignedSourceFactory::DescribeOptions(
    const SelfSignedSourceConfig& options) const {
  return absl::StrCat("self-signed:", options.state_dir);
}

absl::StatusOr<std::unique_ptr<ManagedCertificateAuthority>>
SelfSignedSourceFactory::CreateCa(const SelfSignedSourceConfig& options,
                                  const CaSourceContext& context) const {
  if (!options.vault_path.empty()) {
    auto client = context.vault_client();
    if (!client.ok()) return client.status();
    SelfSignedVaultSourceOptions source;
    source.kv_path = options.vault_path;
    source.trust_domain = context.trust_domain;
    source.key_type = options.key_type;
    auto shared = SelfSignedVaultSource::New(*std::move(client), source);
    if (!shared.ok()) return shared.status();
    return CachingCaOver(std::unique_ptr<MaterialSource>(*std::move(shared)),
                         context);
  }
  SelfSignedSourceOptions source;
  source.state_dir = options.state_dir;
  source.trust_domain = context.trust_domain;
  source.key_type = options.key_type;
  auto local = SelfSignedSource::New(source);
  if (!local.ok()) return local.status();
  return CachingCaOver(std::unique_ptr<MaterialSource>(*std::move(local)),
                       context);
}

}  // namespace ca
}  // namespace vaultca
