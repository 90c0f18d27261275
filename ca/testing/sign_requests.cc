#include "ca/testing/sign_requests.h"

#include <utility>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"

namespace vaultca {
namespace ca {
namespace testing {

std::optional<VerifiedCsr> MustVerify(const std::string& pem,
                                      const IssuancePolicy* policy) {
  absl::StatusOr<VerifiedCsr> csr =
      policy != nullptr ? policy->VerifyCsr(pem)
                        : IssuancePolicy::Default()->VerifyCsr(pem);
  EXPECT_TRUE(csr.ok()) << csr.status();
  if (!csr.ok()) return std::nullopt;
  return *std::move(csr);
}

SignRequest RequestFor(const CertificateAuthority& ca, const std::string& pem,
                       std::vector<std::string> identities,
                       absl::Duration ttl) {
  SignRequest request;
  request.csr = MustVerify(pem, &ca.policy());
  request.identities = std::move(identities);
  request.requested_ttl = ttl;
  return request;
}

}  // namespace testing
}  // namespace ca
}  // namespace vaultca
