#include "server/auth/client_cert_authenticator.h"

#include <memory>
#include <string>

#include "ca/key_cert_bundle.h"
#include "ca/local_ca.h"
#include "ca/workload_csr.h"
#include "testing/test_pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vaultca {
namespace server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string IssueLeaf(const std::vector<std::string>& identities) {
  auto bundle = ca::KeyCertBundle::Create(testkit::Root());
  EXPECT_TRUE(bundle.ok()) << bundle.status();
  auto local = ca::LocalCertificateAuthority::New(*bundle);
  EXPECT_TRUE(local.ok()) << local.status();
  ca::WorkloadCsrOptions csr_options;
  csr_options.identities = {"spiffe://cluster.local/ns/x/sa/y"};
  csr_options.key_type = ca::KeyType::kEcP256;
  auto csr = ca::GenerateWorkloadCsr(csr_options);
  EXPECT_TRUE(csr.ok()) << csr.status();
  auto verified = (*local)->policy().VerifyCsr(csr->csr_pem);
  EXPECT_TRUE(verified.ok()) << verified.status();
  if (!verified.ok()) return "";
  ca::SignRequest request;
  request.csr = *std::move(verified);
  request.identities = identities;
  auto chain = (*local)->Sign(request);
  EXPECT_TRUE(chain.ok()) << chain.status();
  return chain->cert_chain[0];
}

TEST(ClientCertAuthenticatorTest, IdentitiesAreEverySanInOrder) {
  ClientCertAuthenticator auth;
  AuthRequest request;
  request.peer_cert_pem =
      IssueLeaf({"spiffe://cluster.local/ns/vm/sa/db", "db.example.com",
                 "10.1.2.3", "2001:db8::7"});
  auto caller = auth.Authenticate(request);
  ASSERT_TRUE(caller.ok()) << caller.status();
  EXPECT_THAT(caller->identities,
              ElementsAre("spiffe://cluster.local/ns/vm/sa/db",
                          "db.example.com", "10.1.2.3", "2001:db8::7"));
  EXPECT_EQ(caller->authenticator, "client-certificate");
  EXPECT_FALSE(auth.UsesBearerToken());
  // Checked against the TLS handshake's result only: may run on gRPC's
  // thread.
  EXPECT_FALSE(auth.MayBlock());
}

TEST(ClientCertAuthenticatorTest, SpiffeOnlyKeepsTrustDomainAccounts) {
  ClientCertAuthenticatorOptions options;
  options.spiffe_only = true;
  options.trust_domain = "cluster.local";
  ClientCertAuthenticator auth(options);
  AuthRequest request;
  request.peer_cert_pem = IssueLeaf(
      {"db.example.com", "spiffe://cluster.local/ns/vm/sa/db", "10.1.2.3",
       "spiffe://other.domain/ns/vm/sa/db", "spiffe://cluster.local/web",
       "https://cluster.local/ns/vm/sa/db"});
  auto caller = auth.Authenticate(request);
  ASSERT_TRUE(caller.ok()) << caller.status();
  EXPECT_THAT(caller->identities,
              ElementsAre("spiffe://cluster.local/ns/vm/sa/db"));
  EXPECT_EQ(caller->kube_namespace, "vm");
  EXPECT_EQ(caller->service_account, "db");
}

TEST(ClientCertAuthenticatorTest, SpiffeOnlyRefusesCertificateWithoutOne) {
  ClientCertAuthenticatorOptions options;
  options.spiffe_only = true;
  options.trust_domain = "cluster.local";
  ClientCertAuthenticator auth(options);
  for (const char* san :
       {"db.example.com", "spiffe://other.domain/ns/vm/sa/db",
        "spiffe://cluster.local/ns/vm/sa/db/extra", "10.1.2.3"}) {
    AuthRequest request;
    request.peer_cert_pem = IssueLeaf({san});
    auto caller = auth.Authenticate(request);
    EXPECT_EQ(caller.status().code(), absl::StatusCode::kUnauthenticated)
        << san;
    EXPECT_THAT(caller.status().message(),
                HasSubstr("client_certificate_spiffe_only"))
        << san;
  }
}

TEST(ClientCertAuthenticatorTest, DefaultTakesEverySanAsIstiodDoes) {
  ClientCertAuthenticator auth;
  AuthRequest request;
  request.peer_cert_pem = IssueLeaf({"spiffe://other.domain/ns/vm/sa/db"});
  auto caller = auth.Authenticate(request);
  ASSERT_TRUE(caller.ok()) << caller.status();
  EXPECT_THAT(caller->identities,
              ElementsAre("spiffe://other.domain/ns/vm/sa/db"));
}

TEST(ClientCertAuthenticatorTest, RemembersEachCertificateOnceAndStaysBounded) {
  ClientCertAuthenticator auth;
  AuthRequest first;
  first.peer_cert_pem = IssueLeaf({"spiffe://cluster.local/ns/a/sa/one"});
  AuthRequest second;
  second.peer_cert_pem = IssueLeaf({"spiffe://cluster.local/ns/b/sa/two"});
  for (int i = 0; i < 3; ++i) {
    auto one = auth.Authenticate(first);
    auto two = auth.Authenticate(second);
    ASSERT_TRUE(one.ok() && two.ok());
    // Each certificate keeps its own identities however often it comes.
    EXPECT_THAT(one->identities, ElementsAre("spiffe://cluster.local/ns/a/sa/one"));
    EXPECT_THAT(two->identities, ElementsAre("spiffe://cluster.local/ns/b/sa/two"));
  }
  EXPECT_EQ(auth.remembered(), 2u);
  // Failures are not remembered.
  AuthRequest garbage;
  garbage.peer_cert_pem = "not a certificate";
  EXPECT_FALSE(auth.Authenticate(garbage).ok());
  EXPECT_EQ(auth.remembered(), 2u);
}

TEST(ClientCertAuthenticatorTest, SingleSpiffeIdNamesTheServiceAccount) {
  ClientCertAuthenticator auth;
  AuthRequest request;
  request.peer_cert_pem = IssueLeaf({"spiffe://cluster.local/ns/ztunnel/sa/zt"});
  auto caller = auth.Authenticate(request);
  ASSERT_TRUE(caller.ok()) << caller.status();
  EXPECT_EQ(caller->kube_namespace, "ztunnel");
  EXPECT_EQ(caller->service_account, "zt");
}

TEST(ClientCertAuthenticatorTest, RefusesMissingBadOrNamelessCertificates) {
  ClientCertAuthenticator auth;
  AuthRequest request;
  auto caller = auth.Authenticate(request);
  EXPECT_EQ(caller.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(caller.status().message(), HasSubstr("no verified TLS client"));

  request.peer_cert_pem = "-----BEGIN CERTIFICATE-----\nAAAA\n";
  EXPECT_EQ(auth.Authenticate(request).status().code(),
            absl::StatusCode::kUnauthenticated);

  // A root CA certificate has no SAN at all.
  request.peer_cert_pem = testkit::Root().cert_pem;
  caller = auth.Authenticate(request);
  EXPECT_EQ(caller.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(caller.status().message(), HasSubstr("no URI, DNS or IP"));
}

}  // namespace
}  // namespace server
}  // namespace vaultca
