#include "server/certificate_handler.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "server/identity_policy.h"

namespace vaultca {
namespace server {
namespace {

// What a refused caller is told: istiod's own opaque messages, word for
// word (Istio's tooling and operators' searches match them). Why the call
// was refused goes to the log only: the reasons name authenticators,
// clusters, pods and nodes, which are no business of an unauthenticated
// caller.
constexpr char kAuthFailure[] = "request authenticate failure";
constexpr char kImpersonationFailure[] =
    "request impersonation authentication failure";
// When a credential could not be checked at all (the Kubernetes API did not
// answer): Unavailable, which Istio's client retries.
constexpr char kAuthUnavailable[] =
    "request authenticate failure: the credentials could not be checked "
    "now; retry";
constexpr char kImpersonationUnavailable[] =
    "request impersonation authentication failure: the node could not be "
    "checked now; retry";

}  // namespace

CertificateHandler::CertificateHandler(
    CertificateHandlerOptions options,
    std::vector<std::unique_ptr<Authenticator>> authenticators,
    ca::CertificateAuthority* ca, ServerMetrics* metrics,
    std::unique_ptr<ImpersonationAuthorizer> impersonation)
    : options_(std::move(options)),
      authenticators_(std::move(authenticators)),
      ca_(ca),
      metrics_(metrics),
      impersonation_(std::move(impersonation)),
      never_blocks_(!ca->SignMayBlock() &&
                    std::none_of(authenticators_.begin(), authenticators_.end(),
                                 [](const std::unique_ptr<Authenticator>& a) {
                                   return a->MayBlock();
                                 })) {}

CertificateHandler::~CertificateHandler() = default;

bool CertificateHandler::MayBlock(const CertificateRequest& request) const {
  // The node check behind impersonation asks the Kubernetes API.
  return !never_blocks_ || !request.impersonated_identity.empty();
}

absl::StatusOr<Caller> CertificateHandler::Authenticate(
    const CertificateRequest& request) {
  bool cluster_ok = request.cluster_id.empty() ||
                    request.cluster_id == options_.cluster_id;
  for (const std::string& alias : options_.cluster_aliases) {
    if (request.cluster_id == alias) cluster_ok = true;
  }
  std::vector<std::string> reasons;
  bool unavailable = false;
  for (const std::unique_ptr<Authenticator>& auth : authenticators_) {
    if (auth->UsesBearerToken() && !request.auth.bearer_token.empty() &&
        !cluster_ok) {
      reasons.push_back(absl::StrCat(
          auth->Name(), ": the token is for cluster '",
          // An untrusted header: escaped so it cannot forge log lines.
          absl::CHexEscape(request.cluster_id.substr(0, 64)),
          "' but this CA serves '",
          options_.cluster_id,
          "'; set CLUSTER_ID on the workload or add the cluster to "
          "cluster_aliases"));
      continue;
    }
    absl::StatusOr<Caller> caller = auth->Authenticate(request.auth);
    if (caller.ok()) return caller;
    if (absl::IsUnavailable(caller.status())) unavailable = true;
    reasons.push_back(absl::StrCat(auth->Name(), ": ",
                                   caller.status().message()));
  }
  metrics_->AuthenticationFailed();
  const std::string why = absl::StrJoin(reasons, "; ");
  if (unavailable) {
    // No authenticator accepted and one could not decide: the caller may
    // well be legitimate, so the answer is retryable.
    VAULTCA_LOG(INFO) << "CreateCertificate not authenticated (a check "
                         "could not be made; the caller may retry): "
                      << why;
    return absl::UnavailableError(kAuthUnavailable);
  }
  VAULTCA_LOG(INFO) << "CreateCertificate refused: " << kAuthFailure << " ("
                    << why << ")";
  return absl::UnauthenticatedError(kAuthFailure);
}

absl::StatusOr<std::vector<std::string>> CertificateHandler::Impersonate(
    const Caller& caller, const std::string& target) {
  auto refuse = [&](absl::string_view why) {
    metrics_->AuthenticationFailed();
    VAULTCA_LOG(INFO) << "CreateCertificate refused for "
                      << absl::StrJoin(caller.identities, ",") << ": "
                      << kImpersonationFailure << ": " << why;
    return absl::UnauthenticatedError(kImpersonationFailure);
  };
  if (options_.trusted_node_accounts.empty()) {
    return refuse("impersonation is not allowed: no trusted node accounts "
                  "are configured (CA_TRUSTED_NODE_ACCOUNTS)");
  }
  bool trusted = false;
  const std::string account =
      absl::StrCat(caller.kube_namespace, "/", caller.service_account);
  for (const std::string& allowed : options_.trusted_node_accounts) {
    if (!caller.kube_namespace.empty() && allowed == account) trusted = true;
  }
  if (!trusted) {
    return refuse(absl::StrCat("caller ", account,
                               " is not a trusted node account"));
  }
  std::string trust_domain;
  absl::StatusOr<ServiceAccountRef> target_sa =
      ParseSpiffeServiceAccount(target, &trust_domain);
  if (!target_sa.ok() || trust_domain != options_.trust_domain) {
    return refuse(absl::StrCat("the impersonated identity is not a workload "
                               "identity of trust domain ",
                               options_.trust_domain));
  }
  if (impersonation_ == nullptr) {
    return refuse("no Kubernetes API access to verify the node");
  }
  if (absl::Status s = impersonation_->Authorize(caller, *target_sa);
      !s.ok()) {
    // The Kubernetes API could not answer: Unavailable, which Istio's
    // client retries, not a refusal it would give up on.
    if (absl::IsUnavailable(s)) {
      VAULTCA_LOG(WARNING) << "impersonation check for "
                           << absl::StrJoin(caller.identities, ",")
                           << " could not be made: " << s.message();
      return absl::UnavailableError(kImpersonationUnavailable);
    }
    return refuse(s.message());
  }
  return std::vector<std::string>{target};
}

absl::Status CertificateHandler::Fail(SignError error, absl::Status status) {
  metrics_->SignFailed(error);
  VAULTCA_LOG(INFO) << "CreateCertificate failed: " << status;
  return status;
}

absl::StatusOr<std::vector<std::string>> CertificateHandler::Handle(
    const CertificateRequest& request) {
  metrics_->CsrReceived();
  absl::StatusOr<Caller> caller = Authenticate(request);
  if (!caller.ok()) return caller.status();

  std::vector<std::string> identities = caller->identities;
  if (!request.impersonated_identity.empty()) {
    absl::StatusOr<std::vector<std::string>> impersonated =
        Impersonate(*caller, request.impersonated_identity);
    if (!impersonated.ok()) return impersonated.status();
    identities = *std::move(impersonated);
  }

  const ca::IssuancePolicy& policy = ca_->policy();
  absl::StatusOr<ca::VerifiedCsr> csr = policy.VerifyCsr(request.csr_pem);
  if (!csr.ok()) {
    return Fail(SignError::kCsrError, csr.status());
  }
  absl::StatusOr<std::vector<std::string>> sans = ResolveIdentities(
      options_.identity_policy, csr->parsed(), identities);
  if (!sans.ok()) return Fail(SignError::kCsrError, sans.status());

  const absl::Duration ttl = absl::Seconds(request.validity_seconds);
  if (policy.RefusesTtl(ttl)) {
    return Fail(SignError::kTtlError,
                absl::InvalidArgumentError(absl::StrCat(
                    "requested TTL ", absl::FormatDuration(ttl),
                    " is greater than the max allowed TTL ",
                    absl::FormatDuration(policy.options().max_ttl),
                    "; lower SECRET_TTL on the workload or raise "
                    "MAX_WORKLOAD_CERT_TTL")));
  }

  ca::SignRequest sign;
  sign.csr = *std::move(csr);
  sign.identities = *std::move(sans);
  sign.requested_ttl = ttl;
  const absl::Time start = absl::Now();
  absl::StatusOr<ca::SignedChain> chain = ca_->Sign(sign);
  const absl::Duration latency = absl::Now() - start;
  if (!chain.ok()) {
    switch (chain.status().code()) {
      case absl::StatusCode::kInvalidArgument:
        return Fail(SignError::kCsrError, chain.status());
      case absl::StatusCode::kFailedPrecondition:
      case absl::StatusCode::kUnavailable:
        return Fail(SignError::kCaNotReady,
                    absl::InternalError(absl::StrCat(
                        "CA is not ready to sign: ", chain.status().message())));
      default:
        return Fail(SignError::kCertGenError,
                    absl::InternalError(absl::StrCat(
                        "certificate generation failed: ",
                        chain.status().message())));
    }
  }
  if (chain->cert_chain.size() < 2) {
    // istio-agent needs at least [leaf, root].
    return Fail(SignError::kCertGenError,
                absl::InternalError("the CA returned a chain without a root"));
  }
  metrics_->CertIssued(latency);
  VAULTCA_LOG(DEBUG) << "CreateCertificate issued for "
                     << absl::StrJoin(sign.identities, ",") << " (caller "
                     << absl::StrJoin(caller->identities, ",") << " via "
                     << caller->authenticator << ", ttl "
                     << absl::FormatDuration(ttl) << ", signed in "
                     << absl::FormatDuration(latency) << ")";
  return std::move(chain->cert_chain);
}

}  // namespace server
}  // namespace vaultca
