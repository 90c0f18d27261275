#ifndef VAULTCA_CA_ISSUANCE_POLICY_H_
#define VAULTCA_CA_ISSUANCE_POLICY_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "x509/csr.h"

namespace vaultca {
namespace ca {

// How a requested TTL above the maximum is treated.
enum class TtlMode {
  // istiod: refused with InvalidArgument.
  kIstiod,
  // istio-csr: lowered to the maximum.
  kClamp,
};

// What an IssuancePolicy enforces.
struct IssuancePolicyOptions {
  // Lifetime when the request asks for none (<= 0); istiod's
  // DEFAULT_WORKLOAD_CERT_TTL. A CA that knows its signing certificate's
  // end lowers it to the remaining life at each request.
  absl::Duration default_ttl = absl::Hours(24);
  // istiod's MAX_WORKLOAD_CERT_TTL.
  absl::Duration max_ttl = absl::Hours(24 * 90);
  TtlMode ttl_mode = TtlMode::kIstiod;
  // Which CSRs (size, key type and size) are accepted.
  x509::CsrPolicy csr;
  // The time source; absl::Now when empty. Tests inject a fixed clock.
  std::function<absl::Time()> clock;
};

// A CSR that parsed, passed an IssuancePolicy's key policy and verified
// against its own public key. Only IssuancePolicy::VerifyCsr makes one, so
// a CA handed one has nothing left to parse or verify. Immutable; copies
// share the parsed CSR.
class VerifiedCsr {
 public:
  const x509::ParsedCsr& parsed() const { return *parsed_; }

 private:
  friend class IssuancePolicy;
  explicit VerifiedCsr(x509::ParsedCsr parsed);

  std::shared_ptr<const x509::ParsedCsr> parsed_;
};

// What the policy settled for one request.
struct Issuance {
  // The lifetime to issue.
  absl::Duration ttl;
  // The policy's clock when the request was checked.
  absl::Time now;
};

// The request policy of every vaultca CertificateAuthority, whoever holds
// the key: which CSRs are accepted and which lifetimes are issued. A CA
// exposes the one it applies (CertificateAuthority::policy()), so a front
// end asks it instead of keeping a copy that could disagree. Immutable and
// thread-safe.
class IssuancePolicy {
 public:
  // InvalidArgument when default_ttl or max_ttl is not positive or
  // default_ttl is above max_ttl.
  static absl::StatusOr<std::shared_ptr<const IssuancePolicy>> New(
      IssuancePolicyOptions options = IssuancePolicyOptions());

  // istiod's defaults (the options' defaults) on the real clock.
  static std::shared_ptr<const IssuancePolicy> Default();

  // The checks of New, without building anything.
  static absl::Status ValidateOptions(const IssuancePolicyOptions& options);

  // Parses the first PEM CSR block of `pem` and verifies it under the CSR
  // policy (x509::ParsedCsr::Parse). InvalidArgument naming the problem.
  absl::StatusOr<VerifiedCsr> VerifyCsr(absl::string_view pem) const;

  // True when a request for `requested` must be refused: above max_ttl in
  // kIstiod mode. (kClamp lowers it instead; <= 0 asks for the default.)
  bool RefusesTtl(absl::Duration requested) const;

  // Settles the lifetime for `requested` at `now` for a signer whose
  // certificate expires at `signer_not_after` (InfiniteFuture when the
  // signer is remote and enforces its own limit): <= 0 -> default_ttl
  // lowered to the signer's remaining life; above max_ttl ->
  // InvalidArgument (kIstiod) or max_ttl (kClamp). FailedPrecondition once
  // the signer has expired.
  absl::StatusOr<absl::Duration> ResolveTtl(absl::Duration requested,
                                            absl::Time now,
                                            absl::Time signer_not_after) const;

  // What a CA checks before it signs, in order: a CSR is present and its
  // key is one this policy accepts (a CSR verified under another, laxer
  // policy is refused; no parsing, no signature check), the identities can
  // be encoded, and the TTL (read at Now()). InvalidArgument for the
  // caller's mistakes; FailedPrecondition once the signer has expired.
  absl::StatusOr<Issuance> Check(const std::optional<VerifiedCsr>& csr,
                                 const std::vector<std::string>& identities,
                                 absl::Duration requested_ttl,
                                 absl::Time signer_not_after) const;

  // The policy's clock.
  absl::Time Now() const { return options_.clock(); }

  // The options, with the clock always set.
  const IssuancePolicyOptions& options() const { return options_; }

 private:
  explicit IssuancePolicy(IssuancePolicyOptions options);

  const IssuancePolicyOptions options_;
};

}  // namespace ca
}  // namespace vaultca

#endif  // VAULTCA_CA_ISSUANCE_POLICY_H_
