#include "ca/sources/testing/conformance_checks.h"

#include "gtest/gtest.h"
#include "ca/caching/material_validator.h"
#include "ca/issuance_policy.h"
#include "common/secret_data.h"

namespace vaultca {
namespace ca {
namespace testing {

absl::Status ServesValidMaterial(const CaMaterialPem& material, absl::Time now) {
  IssuancePolicyOptions options;
  options.clock = [now] { return now; };
  absl::StatusOr<std::shared_ptr<const IssuancePolicy>> policy =
      IssuancePolicy::New(options);
  if (!policy.ok()) return policy.status();
  return ValidateMaterial(material, *std::move(policy), now, nullptr).status();
}

bool SameMaterial(const CaMaterialPem& a, const CaMaterialPem& b) {
  return a.cert_pem == b.cert_pem && a.chain_pem == b.chain_pem &&
         a.root_bundle_pem == b.root_bundle_pem &&
         SecretEquals(a.key_pem, b.key_pem);
}

std::string SerialOf(const CaMaterialPem& material, absl::Time now) {
  auto bundle = KeyCertBundle::Create(material, now);
  EXPECT_TRUE(bundle.ok()) << bundle.status();
  return bundle.ok() ? (*bundle)->serial_hex() : "";
}

void ExpectRejected(const absl::StatusOr<CaMaterialPem>& fetched,
                    absl::Time now, absl::string_view context) {
  if (!fetched.ok()) {
    EXPECT_FALSE(fetched.status().message().empty()) << context;
    return;
  }
  EXPECT_FALSE(ServesValidMaterial(*fetched, now).ok())
      << context << ": broken material was fetched and passed validation";
}

}  // namespace testing
}  // namespace ca
}  // namespace vaultca
