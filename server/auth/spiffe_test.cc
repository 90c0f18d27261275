#include "server/auth/spiffe.h"

#include <string>

#include "gtest/gtest.h"

namespace vaultca {
namespace server {
namespace {

TEST(SpiffeTest, ServiceAccountUserRoundTrip) {
  auto sa = ParseServiceAccountUser("system:serviceaccount:default:sleep");
  ASSERT_TRUE(sa.ok()) << sa.status();
  EXPECT_EQ(sa->kube_namespace, "default");
  EXPECT_EQ(sa->name, "sleep");
  EXPECT_EQ(SpiffeIdForServiceAccount("cluster.local", *sa),
            "spiffe://cluster.local/ns/default/sa/sleep");
}

TEST(SpiffeTest, RejectsMalformedUsers) {
  for (const char* bad :
       {"", "system:serviceaccount:", "system:serviceaccount:a",
        "system:serviceaccount::b", "system:serviceaccount:a:",
        "system:serviceaccount:a:b:c", "system:serviceaccount:a/x:b",
        "system:node:worker-1", "alice", "system:serviceaccount:A:b"}) {
    EXPECT_FALSE(ParseServiceAccountUser(bad).ok()) << bad;
  }
}

// Names Kubernetes itself would refuse: a namespace is a DNS-1123 label, a
// service account a DNS-1123 subdomain. Each of these would otherwise reach
// an API path ("/api/v1/namespaces/<ns>/...") or an identity.
TEST(SpiffeTest, RefusesNamesKubernetesRefuses) {
  const std::string long_label(64, 'a');
  const std::string long_subdomain(254, 'a');
  for (const std::string ns :
       {"..", ".", "a.b", "-a", "a-", "A", "a%2Fb", "a/b", "a b", "a_b",
        "\xc3\xa9", long_label.c_str()}) {
    EXPECT_FALSE(
        ParseServiceAccountUser("system:serviceaccount:" + ns + ":sa").ok())
        << ns;
    EXPECT_FALSE(ParseSpiffeServiceAccount("spiffe://td/ns/" + ns + "/sa/x").ok())
        << ns;
  }
  for (const std::string sa :
       {"..", ".", "...", "a..b", ".a", "a.", "-a", "a-", "a.-b", "Sleep",
        "a%2Fb", "a/b", "a?b", "a#b", "a_b", long_subdomain.c_str()}) {
    EXPECT_FALSE(
        ParseServiceAccountUser("system:serviceaccount:default:" + sa).ok())
        << sa;
    EXPECT_FALSE(
        ParseSpiffeServiceAccount("spiffe://td/ns/default/sa/" + sa).ok())
        << sa;
  }
  // The limits themselves, and dotted service-account names, are fine.
  const std::string label(63, 'a');
  const std::string subdomain = std::string(125, 'b') + "." + std::string(127, 'c');
  ASSERT_EQ(subdomain.size(), 253u);
  for (const std::string& user :
       {"system:serviceaccount:" + label + ":" + subdomain,
        std::string("system:serviceaccount:kube-system:istio.ingress-1"),
        std::string("system:serviceaccount:0:9")}) {
    EXPECT_TRUE(ParseServiceAccountUser(user).ok()) << user;
  }
  EXPECT_TRUE(
      ParseSpiffeServiceAccount("spiffe://td/ns/" + label + "/sa/" + subdomain)
          .ok());
}

TEST(SpiffeTest, RefusesPathTricksInWorkloadIds) {
  for (const char* bad :
       {"spiffe://td/ns/../sa/x", "spiffe://td/ns/a/sa/..",
        "spiffe://td/ns/a%2Fb/sa/x", "spiffe://td/ns/a/sa/x%2F..",
        "spiffe://td/ns//sa/x", "spiffe://td/ns/a/sa/", "spiffe://td/ns/a/sa/x/",
        "spiffe://td/ns/a/sa/x?y", "spiffe://td/ns/a/sa/x#y",
        "spiffe://TD/ns/a/sa/x", "spiffe://td:8080/ns/a/sa/x",
        "spiffe://user@td/ns/a/sa/x", "SPIFFE://td/ns/a/sa/x"}) {
    EXPECT_FALSE(ParseSpiffeServiceAccount(bad).ok()) << bad;
  }
  std::string td;
  auto sa = ParseSpiffeServiceAccount(
      "spiffe://cluster_a.example-1/ns/istio-system/sa/istio.ingressgateway",
      &td);
  ASSERT_TRUE(sa.ok()) << sa.status();
  EXPECT_EQ(td, "cluster_a.example-1");
  EXPECT_EQ(sa->name, "istio.ingressgateway");
}

TEST(SpiffeTest, ParsesIstioWorkloadIds) {
  std::string td;
  auto sa = ParseSpiffeServiceAccount("spiffe://td.example/ns/a/sa/b", &td);
  ASSERT_TRUE(sa.ok());
  EXPECT_EQ(td, "td.example");
  EXPECT_EQ(sa->kube_namespace, "a");
  EXPECT_EQ(sa->name, "b");
  for (const char* bad :
       {"spiffe://td/ns/a/sa", "spiffe://td/ns/a/sa/b/c", "spiffe:///ns/a/sa/b",
        "https://td/ns/a/sa/b", "spiffe://td/sa/a/ns/b"}) {
    EXPECT_FALSE(ParseSpiffeServiceAccount(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace server
}  // namespace vaultca
