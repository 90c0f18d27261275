#include "server/certificate_handler.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ca/key_cert_bundle.h"
#include "ca/local_ca.h"
#include "server/testing/log_capture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/testing/cert_inspect.h"
#include "testing/csr.h"
#include "testing/test_pki.h"

namespace vaultca {
namespace server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using LogCapture = testing::LogCapture;

constexpr char kSleep[] = "spiffe://cluster.local/ns/default/sa/sleep";

// Accepts a fixed bearer token (or any client certificate) as `caller`.
class FakeAuthenticator : public Authenticator {
 public:
  FakeAuthenticator(bool bearer, Caller caller)
      : bearer_(bearer), caller_(std::move(caller)) {}
  absl::string_view Name() const override {
    return bearer_ ? "fake-token" : "fake-cert";
  }
  bool UsesBearerToken() const override { return bearer_; }
  absl::StatusOr<Caller> Authenticate(const AuthRequest& request) override {
    if (bearer_ && request.bearer_token.view() == "good-token") return caller_;
    if (!bearer_ && request.peer_cert_pem == "good-cert") return caller_;
    return absl::UnauthenticatedError("nope");
  }

 private:
  bool bearer_;
  Caller caller_;
};

// An authenticator whose remote check cannot be made (as TokenReview when
// the API server does not answer).
class UnreachableAuthenticator : public Authenticator {
 public:
  absl::string_view Name() const override { return "unreachable"; }
  bool UsesBearerToken() const override { return true; }
  absl::StatusOr<Caller> Authenticate(const AuthRequest&) override {
    return absl::UnavailableError("the API server at 10.0.0.1 timed out");
  }
};

constexpr char kAuthFailure[] = "request authenticate failure";
constexpr char kImpersonationFailure[] =
    "request impersonation authentication failure";

class FakeAuthorizer : public ImpersonationAuthorizer {
 public:
  explicit FakeAuthorizer(absl::Status result) : result_(std::move(result)) {}
  absl::Status Authorize(const Caller& node,
                         const ServiceAccountRef& target) override {
    last_target = target.kube_namespace + "/" + target.name;
    return result_;
  }
  std::string last_target;

 private:
  absl::Status result_;
};

// A CA answering with a fixed status.
class FailingCa : public ca::CertificateAuthority {
 public:
  explicit FailingCa(absl::StatusOr<ca::SignedChain> result)
      : result_(std::move(result)) {}
  absl::StatusOr<ca::SignedChain> Sign(const ca::SignRequest&) override {
    return result_;
  }
  absl::StatusOr<std::string> RootBundlePem() override { return ""; }
  const ca::IssuancePolicy& policy() const override { return *policy_; }

 private:
  absl::StatusOr<ca::SignedChain> result_;
  const std::shared_ptr<const ca::IssuancePolicy> policy_ =
      ca::IssuancePolicy::Default();
};

Caller SleepCaller() {
  Caller c;
  c.identities = {kSleep};
  c.kube_namespace = "default";
  c.service_account = "sleep";
  return c;
}

Caller ZtunnelCaller() {
  Caller c;
  c.identities = {"spiffe://cluster.local/ns/istio-system/sa/ztunnel"};
  c.kube_namespace = "istio-system";
  c.service_account = "ztunnel";
  return c;
}

std::string AgentCsr(const std::vector<std::string>& identities = {kSleep}) {
  return testkit::AgentCsrPem(identities);
}

class CertificateHandlerTest : public ::testing::Test {
 protected:
  void UseMaterial(const ca::CaMaterialPem& material,
                   ca::IssuancePolicyOptions ca_options = {}) {
    material_ = material;
    auto bundle = ca::KeyCertBundle::Create(material);
    ASSERT_TRUE(bundle.ok()) << bundle.status();
    auto local = ca::LocalCertificateAuthority::New(*bundle, ca_options);
    ASSERT_TRUE(local.ok()) << local.status();
    ca_ = *std::move(local);
  }

  std::unique_ptr<CertificateHandler> Make(
      CertificateHandlerOptions options = {},
      std::unique_ptr<ImpersonationAuthorizer> authorizer = nullptr,
      Caller token_caller = SleepCaller(),
      ca::CertificateAuthority* ca = nullptr) {
    std::vector<std::unique_ptr<Authenticator>> auths;
    auths.push_back(std::make_unique<FakeAuthenticator>(false, ZtunnelCaller()));
    auths.push_back(
        std::make_unique<FakeAuthenticator>(true, std::move(token_caller)));
    return std::make_unique<CertificateHandler>(
        options, std::move(auths), ca != nullptr ? ca : ca_.get(), &metrics_,
        std::move(authorizer));
  }

  CertificateRequest TokenRequest(const std::string& csr = AgentCsr()) {
    CertificateRequest r;
    r.csr_pem = csr;
    r.validity_seconds = 3600;
    r.cluster_id = "Kubernetes";
    r.auth.bearer_token = SecretData("good-token");
    return r;
  }

  ca::CaMaterialPem material_;
  std::unique_ptr<ca::LocalCertificateAuthority> ca_;
  ServerMetrics metrics_;
};

TEST_F(CertificateHandlerTest, SelfSignedChainIsLeafThenRoot) {
  UseMaterial(testkit::Root());
  auto chain = Make()->Handle(TokenRequest());
  ASSERT_TRUE(chain.ok()) << chain.status();
  ASSERT_EQ(chain->size(), 2u);
  EXPECT_EQ((*chain)[1], material_.root_bundle_pem);
  EXPECT_TRUE(testing::VerifyLeaf(*chain, material_.root_bundle_pem).ok());
  auto leaf = testing::InspectLeaf((*chain)[0]);
  ASSERT_TRUE(leaf.ok());
  EXPECT_THAT(leaf->sans, ElementsAre(kSleep));
  EXPECT_TRUE(leaf->san_critical);
  EXPECT_EQ(metrics_.csr_count(), 1);
  EXPECT_EQ(metrics_.issued(), 1);
}

TEST_F(CertificateHandlerTest, PluginChainRepeatsTheRoot) {
  const ca::CaMaterialPem root = testkit::Root();
  UseMaterial(testkit::Intermediate(root));
  auto chain = Make()->Handle(TokenRequest());
  ASSERT_TRUE(chain.ok()) << chain.status();
  // [leaf, intermediate, root (from cert-chain.pem), root bundle].
  ASSERT_EQ(chain->size(), 4u);
  auto intermediate = testing::InspectLeaf((*chain)[1]);
  ASSERT_TRUE(intermediate.ok());
  EXPECT_THAT(intermediate->subject, HasSubstr("vaultca intermediate"));
  EXPECT_EQ((*chain)[2], root.cert_pem);
  EXPECT_EQ((*chain)[3], root.root_bundle_pem);
  for (const std::string& element : *chain) {
    EXPECT_EQ(element.back(), '\n');
  }
  EXPECT_TRUE(testing::VerifyLeaf(*chain, root.root_bundle_pem).ok());
}

TEST_F(CertificateHandlerTest, IstiodPolicyIgnoresCsrSans) {
  UseMaterial(testkit::Root());
  auto chain = Make()->Handle(
      TokenRequest(AgentCsr({"spiffe://cluster.local/ns/kube-system/sa/admin",
                             "evil.example.com"})));
  ASSERT_TRUE(chain.ok()) << chain.status();
  auto leaf = testing::InspectLeaf((*chain)[0]);
  ASSERT_TRUE(leaf.ok());
  EXPECT_THAT(leaf->sans, ElementsAre(kSleep));
}

TEST_F(CertificateHandlerTest, StrictPolicyAcceptsMatchingCsr) {
  UseMaterial(testkit::Root());
  CertificateHandlerOptions options;
  options.identity_policy = IdentityPolicy::kStrict;
  auto handler = Make(options);
  EXPECT_TRUE(handler->Handle(TokenRequest()).ok());

  testkit::TestCsrOptions csr;
  csr.sans = {absl::StrCat("URI:", kSleep)};
  csr.extensions = {{NID_key_usage, "critical,digitalSignature,keyEncipherment"},
                    {NID_ext_key_usage, "serverAuth,clientAuth"}};
  auto chain = handler->Handle(TokenRequest(testkit::TestCsrPem(csr)));
  EXPECT_TRUE(chain.ok()) << chain.status();
}

TEST_F(CertificateHandlerTest, StrictPolicyRefusesEverythingElse) {
  UseMaterial(testkit::Root());
  CertificateHandlerOptions options;
  options.identity_policy = IdentityPolicy::kStrict;
  auto handler = Make(options);
  const std::string uri = absl::StrCat("URI:", kSleep);
  struct Case {
    const char* name;
    testkit::TestCsrOptions csr;
  };
  std::vector<Case> cases(7);
  cases[0] = {"other identity", {}};
  cases[0].csr.sans = {"URI:spiffe://cluster.local/ns/default/sa/other"};
  cases[1] = {"extra identity", {}};
  cases[1].csr.sans = {uri, "URI:spiffe://cluster.local/ns/a/sa/b"};
  cases[2] = {"dns san", {}};
  cases[2].csr.sans = {uri, "DNS:sleep.default.svc"};
  cases[3] = {"common name", {}};
  cases[3].csr.sans = {uri};
  cases[3].csr.common_names = {"sleep"};
  cases[4] = {"cert sign usage", {}};
  cases[4].csr.sans = {uri};
  cases[4].csr.extensions = {{NID_key_usage, "digitalSignature,keyCertSign"}};
  cases[5] = {"code signing", {}};
  cases[5].csr.sans = {uri};
  cases[5].csr.extensions = {{NID_ext_key_usage, "serverAuth,codeSigning"}};
  cases[6] = {"basic constraints", {}};
  cases[6].csr.sans = {uri};
  cases[6].csr.extensions = {{NID_basic_constraints, "CA:TRUE"}};
  for (const Case& c : cases) {
    auto chain = handler->Handle(TokenRequest(testkit::TestCsrPem(c.csr)));
    EXPECT_EQ(chain.status().code(), absl::StatusCode::kInvalidArgument)
        << c.name;
    EXPECT_THAT(chain.status().message(), HasSubstr("strict")) << c.name;
  }
  EXPECT_EQ(metrics_.sign_errors(SignError::kCsrError), 7);
}

TEST_F(CertificateHandlerTest, TtlIstiodModeRejectsAboveMaxAndDefaultsZero) {
  ca::IssuancePolicyOptions ca_options;
  ca_options.max_ttl = absl::Hours(48);
  UseMaterial(testkit::Root(), ca_options);
  // The handler asks the CA's policy: nothing TTL-related to configure.
  auto handler = Make();

  CertificateRequest request = TokenRequest();
  request.validity_seconds = 49 * 3600;
  auto chain = handler->Handle(request);
  EXPECT_EQ(chain.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(chain.status().message(), HasSubstr("max allowed TTL"));
  EXPECT_EQ(metrics_.sign_errors(SignError::kTtlError), 1);

  for (int64_t requested : {int64_t{0}, int64_t{-5}}) {
    request.validity_seconds = requested;
    chain = handler->Handle(request);
    ASSERT_TRUE(chain.ok()) << chain.status();
    auto leaf = testing::InspectLeaf((*chain)[0]);
    // NotBefore is backdated 2 minutes; the default is 24 h.
    EXPECT_EQ(leaf->not_after - leaf->not_before,
              absl::Hours(24) + absl::Minutes(2));
  }
  request.validity_seconds = 3600;
  chain = handler->Handle(request);
  ASSERT_TRUE(chain.ok());
  auto leaf = testing::InspectLeaf((*chain)[0]);
  EXPECT_EQ(leaf->not_after - leaf->not_before,
            absl::Hours(1) + absl::Minutes(2));
}

TEST_F(CertificateHandlerTest, TtlClampModeLowersToMax) {
  ca::IssuancePolicyOptions ca_options;
  ca_options.max_ttl = absl::Hours(1);
  ca_options.default_ttl = absl::Hours(1);
  ca_options.ttl_mode = ca::TtlMode::kClamp;
  UseMaterial(testkit::Root(), ca_options);
  CertificateRequest request = TokenRequest();
  request.validity_seconds = 86400;
  auto chain = Make()->Handle(request);
  ASSERT_TRUE(chain.ok()) << chain.status();
  auto leaf = testing::InspectLeaf((*chain)[0]);
  EXPECT_EQ(leaf->not_after - leaf->not_before,
            absl::Hours(1) + absl::Minutes(2));
}

TEST_F(CertificateHandlerTest, AuthenticationFailuresAreUnauthenticated) {
  UseMaterial(testkit::Root());
  auto handler = Make();
  CertificateRequest request = TokenRequest();
  request.auth.bearer_token = SecretData("bad-token");
  LogCapture log;
  auto chain = handler->Handle(request);
  EXPECT_EQ(chain.status().code(), absl::StatusCode::kUnauthenticated);
  // The caller gets istiod's opaque message; the reasons are logged.
  EXPECT_EQ(chain.status().message(), kAuthFailure);
  EXPECT_THAT(log.text(), HasSubstr("request authenticate failure"));
  EXPECT_THAT(log.text(), HasSubstr("fake-token: nope"));
  EXPECT_THAT(log.text(), HasSubstr("fake-cert: nope"));
  EXPECT_THAT(log.text(), ::testing::Not(HasSubstr("bad-token")));

  request.auth.bearer_token = SecretData();
  EXPECT_EQ(handler->Handle(request).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(metrics_.auth_failures(), 2);
  EXPECT_EQ(metrics_.issued(), 0);
}

TEST_F(CertificateHandlerTest, ClusterIdHeaderGatesTokensOnly) {
  UseMaterial(testkit::Root());
  CertificateHandlerOptions options;
  options.cluster_aliases = {"cluster-b"};
  auto handler = Make(options);
  CertificateRequest request = TokenRequest();
  request.cluster_id = "cluster-x";
  absl::StatusOr<std::vector<std::string>> chain;
  {
    LogCapture log;
    chain = handler->Handle(request);
    EXPECT_THAT(log.text(), HasSubstr("cluster 'cluster-x'"));
  }
  EXPECT_EQ(chain.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(chain.status().message(), kAuthFailure);

  request.cluster_id = "cluster-b";
  EXPECT_TRUE(handler->Handle(request).ok());
  request.cluster_id = "";
  EXPECT_TRUE(handler->Handle(request).ok());

  // A client certificate does not depend on the header (as istiod).
  request.cluster_id = "cluster-x";
  request.auth.bearer_token = SecretData();
  request.auth.peer_cert_pem = "good-cert";
  EXPECT_TRUE(handler->Handle(request).ok());
}

// Found by //server/fuzz:certificate_handler_fuzzer: the clusterid header
// was echoed raw into the log line and the status message.
TEST_F(CertificateHandlerTest, ClusterIdIsEscapedInMessages) {
  UseMaterial(testkit::Root());
  auto handler = Make();
  CertificateRequest request = TokenRequest();
  request.cluster_id = "x\nI0101 forged log line\xff";
  LogCapture log;
  auto chain = handler->Handle(request);
  EXPECT_EQ(chain.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(chain.status().message(), kAuthFailure);
  ASSERT_EQ(log.lines().size(), 1u) << log.text();
  EXPECT_THAT(log.lines()[0],
              HasSubstr("cluster 'x\\nI0101 forged log line\\xff'"));
  EXPECT_EQ(log.lines()[0].find('\n'), std::string::npos);
}

TEST_F(CertificateHandlerTest, CsrProblemsAreInvalidArgument) {
  UseMaterial(testkit::Root());
  auto handler = Make();
  testkit::TestCsrOptions weak;
  weak.key = "RSA:1024";
  for (const std::string& csr :
       {std::string(""), std::string("not a csr"),
        testkit::WithBrokenSignature(AgentCsr()),
        testkit::TestCsrPem(weak)}) {
    auto chain = handler->Handle(TokenRequest(csr));
    EXPECT_EQ(chain.status().code(), absl::StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(metrics_.sign_errors(SignError::kCsrError), 4);
}

TEST_F(CertificateHandlerTest, CaFailuresAreInternal) {
  UseMaterial(testkit::Root());
  FailingCa not_ready(absl::UnavailableError("no material loaded yet"));
  auto chain = Make({}, nullptr, SleepCaller(), &not_ready)
                   ->Handle(TokenRequest());
  EXPECT_EQ(chain.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(chain.status().message(), HasSubstr("not ready"));
  EXPECT_EQ(metrics_.sign_errors(SignError::kCaNotReady), 1);

  FailingCa expired(absl::FailedPreconditionError("signing cert expired"));
  EXPECT_EQ(Make({}, nullptr, SleepCaller(), &expired)
                ->Handle(TokenRequest())
                .status()
                .code(),
            absl::StatusCode::kInternal);

  FailingCa broken(absl::InternalError("EVP_DigestSign failed"));
  chain = Make({}, nullptr, SleepCaller(), &broken)->Handle(TokenRequest());
  EXPECT_EQ(chain.status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(metrics_.sign_errors(SignError::kCertGenError), 1);

  FailingCa short_chain(ca::SignedChain{{"leaf\n"}});
  EXPECT_EQ(Make({}, nullptr, SleepCaller(), &short_chain)
                ->Handle(TokenRequest())
                .status()
                .code(),
            absl::StatusCode::kInternal);
}

TEST_F(CertificateHandlerTest, ImpersonationRefusedWithoutTrustedAccounts) {
  UseMaterial(testkit::Root());
  CertificateRequest request = TokenRequest();
  request.impersonated_identity = kSleep;
  LogCapture log;
  auto chain = Make({}, std::make_unique<FakeAuthorizer>(absl::OkStatus()),
                    ZtunnelCaller())
                   ->Handle(request);
  EXPECT_EQ(chain.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(chain.status().message(), kImpersonationFailure);
  EXPECT_THAT(log.text(), HasSubstr("CA_TRUSTED_NODE_ACCOUNTS"));
}

TEST_F(CertificateHandlerTest, ImpersonationByTrustedNodeAccount) {
  UseMaterial(testkit::Root());
  CertificateHandlerOptions options;
  options.trusted_node_accounts = {"istio-system/ztunnel"};
  auto authorizer = std::make_unique<FakeAuthorizer>(absl::OkStatus());
  FakeAuthorizer* authorizer_ptr = authorizer.get();
  auto handler = Make(options, std::move(authorizer), ZtunnelCaller());
  CertificateRequest request = TokenRequest();
  request.impersonated_identity = kSleep;
  auto chain = handler->Handle(request);
  ASSERT_TRUE(chain.ok()) << chain.status();
  EXPECT_EQ(authorizer_ptr->last_target, "default/sleep");
  auto leaf = testing::InspectLeaf((*chain)[0]);
  EXPECT_THAT(leaf->sans, ElementsAre(kSleep));

  // Another trust domain, or not a workload identity at all.
  request.impersonated_identity = "spiffe://other.td/ns/default/sa/sleep";
  EXPECT_EQ(handler->Handle(request).status().code(),
            absl::StatusCode::kUnauthenticated);
  request.impersonated_identity = "sleep.default.svc";
  EXPECT_EQ(handler->Handle(request).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(CertificateHandlerTest, ImpersonationRefusedForOthers) {
  UseMaterial(testkit::Root());
  CertificateHandlerOptions options;
  options.trusted_node_accounts = {"istio-system/ztunnel"};
  CertificateRequest request = TokenRequest();
  request.impersonated_identity =
      "spiffe://cluster.local/ns/default/sa/other";
  // The caller (sleep) is not a node account.
  LogCapture log;
  auto chain = Make(options, std::make_unique<FakeAuthorizer>(absl::OkStatus()))
                   ->Handle(request);
  EXPECT_EQ(chain.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(chain.status().message(), kImpersonationFailure);
  EXPECT_THAT(log.text(), HasSubstr("not a trusted node"));

  // A trusted account whose pod checks fail: pods and nodes stay in the log.
  chain = Make(options,
               std::make_unique<FakeAuthorizer>(absl::PermissionDeniedError(
                   "no pod of default/other on node worker-1")),
               ZtunnelCaller())
              ->Handle(request);
  EXPECT_EQ(chain.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(chain.status().message(), kImpersonationFailure);
  EXPECT_THAT(log.text(), HasSubstr("worker-1"));
}

TEST_F(CertificateHandlerTest, ImpersonationCheckThatCouldNotBeMadeIsRetryable) {
  // The Kubernetes API could not answer: Unavailable, which Istio's client
  // retries, never a refusal it would give up on.
  UseMaterial(testkit::Root());
  CertificateHandlerOptions options;
  options.trusted_node_accounts = {"istio-system/ztunnel"};
  CertificateRequest request = TokenRequest();
  request.impersonated_identity = kSleep;
  LogCapture log;
  auto chain = Make(options,
                    std::make_unique<FakeAuthorizer>(absl::UnavailableError(
                        "the pod index has not synced yet")),
                    ZtunnelCaller())
                   ->Handle(request);
  EXPECT_EQ(chain.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(chain.status().message(), HasSubstr(kImpersonationFailure));
  EXPECT_THAT(chain.status().message(),
              ::testing::Not(HasSubstr("not synced")));
  EXPECT_THAT(log.text(), HasSubstr("not synced"));
}

TEST_F(CertificateHandlerTest, CredentialThatCouldNotBeCheckedIsRetryable) {
  // No authenticator accepted and one could not decide (the Kubernetes API
  // did not answer): Unavailable, which Istio's client retries, with a
  // message that names no address; the details are logged.
  UseMaterial(testkit::Root());
  std::vector<std::unique_ptr<Authenticator>> auths;
  auths.push_back(std::make_unique<FakeAuthenticator>(false, ZtunnelCaller()));
  auths.push_back(std::make_unique<UnreachableAuthenticator>());
  CertificateHandler handler({}, std::move(auths), ca_.get(), &metrics_,
                             nullptr);
  LogCapture log;
  auto chain = handler.Handle(TokenRequest());
  EXPECT_EQ(chain.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(chain.status().message(), HasSubstr(kAuthFailure));
  EXPECT_THAT(chain.status().message(), ::testing::Not(HasSubstr("10.0.0.1")));
  EXPECT_THAT(log.text(), HasSubstr("unreachable: the API server at 10.0.0.1"));
  EXPECT_EQ(metrics_.auth_failures(), 1);

  // A definite refusal by every authenticator stays Unauthenticated.
  std::vector<std::unique_ptr<Authenticator>> refusing;
  refusing.push_back(std::make_unique<FakeAuthenticator>(true, SleepCaller()));
  CertificateHandler strict({}, std::move(refusing), ca_.get(), &metrics_,
                            nullptr);
  CertificateRequest bad = TokenRequest();
  bad.auth.bearer_token = SecretData("bad-token");
  EXPECT_EQ(strict.Handle(bad).status().code(),
            absl::StatusCode::kUnauthenticated);
}

}  // namespace
}  // namespace server
}  // namespace vaultca
