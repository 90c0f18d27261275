#ifndef VAULTCA_CA_TESTING_SIGN_REQUESTS_H_
#define VAULTCA_CA_TESTING_SIGN_REQUESTS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "ca/certificate_authority.h"
#include "ca/issuance_policy.h"

namespace vaultca {
namespace ca {
namespace testing {

// `pem` verified under `policy` (IssuancePolicy::Default() when null).
// A gtest failure, and nullopt, when it does not verify.
std::optional<VerifiedCsr> MustVerify(const std::string& pem,
                                      const IssuancePolicy* policy = nullptr);

// A request for `pem` verified under `ca`'s own policy (a gtest failure
// when it does not verify), for `identities` and `ttl`.
SignRequest RequestFor(const CertificateAuthority& ca, const std::string& pem,
                       std::vector<std::string> identities,
                       absl::Duration ttl = absl::ZeroDuration());

}  // namespace testing
}  // namespace ca
}  // namespace vaultca

#endif  // VAULTCA_CA_TESTING_SIGN_REQUESTS_H_
