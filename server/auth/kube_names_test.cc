#include "server/auth/kube_names.h"

#include <string>

#include "gtest/gtest.h"

namespace vaultca {
namespace server {
namespace {

TEST(KubeNamesTest, Dns1123Label) {
  for (const char* good : {"a", "0", "default", "kube-system", "a-1-b"}) {
    EXPECT_TRUE(IsDns1123Label(good)) << good;
  }
  EXPECT_TRUE(IsDns1123Label(std::string(63, 'x')));
  EXPECT_FALSE(IsDns1123Label(std::string(64, 'x')));
  for (const char* bad : {"", "-", "-a", "a-", "A", "a.b", ".", "..", "a_b",
                          "a/b", "a%2F", "a b", "\xc3\xa9"}) {
    EXPECT_FALSE(IsDns1123Label(bad)) << bad;
  }
}

TEST(KubeNamesTest, Dns1123Subdomain) {
  for (const char* good : {"a", "a.b", "istio.ingress-1", "0.0.0", "x-y.z"}) {
    EXPECT_TRUE(IsDns1123Subdomain(good)) << good;
  }
  // Kubernetes limits the whole name, not each label.
  EXPECT_TRUE(IsDns1123Subdomain(std::string(100, 'x') + "." +
                                 std::string(152, 'y')));
  EXPECT_TRUE(IsDns1123Subdomain(std::string(253, 'x')));
  EXPECT_FALSE(IsDns1123Subdomain(std::string(254, 'x')));
  for (const char* bad : {"", ".", "..", "...", ".a", "a.", "a..b", "a.-b",
                          "a-.b", "A.b", "a/b", "a%2Fb", "a_b", "a:b"}) {
    EXPECT_FALSE(IsDns1123Subdomain(bad)) << bad;
  }
}

TEST(KubeNamesTest, EscapePathSegment) {
  EXPECT_EQ(EscapePathSegment("web-1.x_y~Z"), "web-1.x_y~Z");
  EXPECT_EQ(EscapePathSegment("a/b"), "a%2Fb");
  EXPECT_EQ(EscapePathSegment("a%2Fb"), "a%252Fb");
  EXPECT_EQ(EscapePathSegment("?#[]@!$&'()*+,;= :"),
            "%3F%23%5B%5D%40%21%24%26%27%28%29%2A%2B%2C%3B%3D%20%3A");
  EXPECT_EQ(EscapePathSegment("\xc3\xa9\x7f"), "%C3%A9%7F");
  EXPECT_EQ(EscapePathSegment(std::string("a\0b", 3)), "a%00b");
  EXPECT_EQ(EscapePathSegment("."), "%2E");
  EXPECT_EQ(EscapePathSegment(".."), "%2E%2E");
  EXPECT_EQ(EscapePathSegment("..."), "...");
  EXPECT_EQ(EscapePathSegment(""), "");
}

}  // namespace
}  // namespace server
}  // namespace vaultca
