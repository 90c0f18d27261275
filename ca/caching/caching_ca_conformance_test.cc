// CachingCertificateAuthority against the CertificateAuthority conformance
// suite: the policy given in CachingCaOptions is the one every
// LocalCertificateAuthority it builds over its material applies.

#include <memory>

#include "ca/caching/caching_ca.h"
#include "ca/caching/testing/caching_test_util.h"
#include "ca/caching/testing/fake_source.h"
#include "ca/testing/ca_conformance.h"
#include "gtest/gtest.h"
#include "testing/test_pki.h"

namespace vaultca {
namespace ca {
namespace testing {
namespace {

class CachingCaHarness {
 public:
  static void SetUpTestSuite() {}
  static void TearDownTestSuite() {}
  static absl::Status Ready(bool*) { return absl::OkStatus(); }

  std::unique_ptr<CertificateAuthority> NewCa(IssuancePolicyOptions policy) {
    static const CaMaterialPem* const material =
        new CaMaterialPem(testkit::Intermediate(testkit::Root(KeyType::kEcP256)));
    auto state = std::make_shared<FakeSourceState>();
    state->Set(*material);
    CachingCaOptions options = ManualOptions();
    options.policy = std::move(policy);
    return MustNew(std::move(state), std::move(options));
  }
};

INSTANTIATE_TYPED_TEST_SUITE_P(Caching, CaConformanceTest,
                               ::testing::Types<CachingCaHarness>);

}  // namespace
}  // namespace testing
}  // namespace ca
}  // namespace vaultca
