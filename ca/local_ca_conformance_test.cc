// LocalCertificateAuthority against the CertificateAuthority conformance
// suite, over an intermediate (so the chain has a middle element).

#include <memory>

#include "ca/key_cert_bundle.h"
#include "ca/local_ca.h"
#include "ca/testing/ca_conformance.h"
#include "gtest/gtest.h"
#include "testing/test_pki.h"

namespace vaultca {
namespace ca {
namespace testing {
namespace {

class LocalCaHarness {
 public:
  static void SetUpTestSuite() {}
  static void TearDownTestSuite() {}
  static absl::Status Ready(bool*) { return absl::OkStatus(); }

  std::unique_ptr<CertificateAuthority> NewCa(IssuancePolicyOptions policy) {
    static const CaMaterialPem* const material =
        new CaMaterialPem(testkit::Intermediate(testkit::Root(KeyType::kEcP256)));
    auto bundle = KeyCertBundle::Create(*material);
    EXPECT_TRUE(bundle.ok()) << bundle.status();
    if (!bundle.ok()) return nullptr;
    auto ca = LocalCertificateAuthority::New(*bundle, std::move(policy));
    EXPECT_TRUE(ca.ok()) << ca.status();
    if (!ca.ok()) return nullptr;
    return *std::move(ca);
  }
};

INSTANTIATE_TYPED_TEST_SUITE_P(Local, CaConformanceTest,
                               ::testing::Types<LocalCaHarness>);

}  // namespace
}  // namespace testing
}  // namespace ca
}  // namespace vaultca
