#include "server/auth/spiffe.h"

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
