#include "ca/internal/leaf_names.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace vaultca {
namespace ca {
namespace internal {
namespace {

TEST(ClassifySanTest, FollowsIstio) {
  std::string ip;
  EXPECT_EQ(ClassifySan("spiffe://cluster.local/ns/a/sa/b", &ip),
            SanKind::kUri);
  EXPECT_EQ(ClassifySan("https://example.com", &ip), SanKind::kUri);
  EXPECT_EQ(ClassifySan("istiod.istio-system.svc", &ip), SanKind::kDns);
  EXPECT_EQ(ClassifySan("localhost", &ip), SanKind::kDns);
  // Go's netip refuses leading zeros, and so does inet_pton.
  EXPECT_EQ(ClassifySan("010.0.0.1", &ip), SanKind::kDns);

  ASSERT_EQ(ClassifySan("10.1.2.3", &ip), SanKind::kIp);
  EXPECT_EQ(ip, std::string("\x0a\x01\x02\x03", 4));
  ASSERT_EQ(ClassifySan("2001:db8::1", &ip), SanKind::kIp);
  EXPECT_EQ(ip.size(), 16u);
  EXPECT_EQ(ip.substr(0, 2), "\x20\x01");
  ASSERT_EQ(ClassifySan("::ffff:10.0.0.9", &ip), SanKind::kIp);
  EXPECT_EQ(ip, std::string("\x0a\x00\x00\x09", 4));
}

TEST(ValidateIdentitiesTest, Refusals) {
  EXPECT_EQ(ValidateIdentities({}).message(),
            "no identities to certify: the request must name at least one");
  EXPECT_EQ(ValidateIdentities({"a", ""}).message(), "identity 1 is empty");
  EXPECT_EQ(ValidateIdentities({"caf\xc3\xa9"}).message(),
            "identity 0 has a non-ASCII or NUL byte: SAN values must be "
            "IA5String");
  EXPECT_TRUE(ValidateIdentities({"spiffe://a/b", "10.0.0.1"}).ok());
}

TEST(SubjectAltNameTest, EncodesCriticalExtension) {
  std::string out;
  AppendSubjectAltNameExtension({"spiffe://a", "1.2.3.4", "b.c"}, &out);
  const std::string expected(
      "\x30\x23"                          // Extension
      "\x06\x03\x55\x1d\x11"              // subjectAltName
      "\x01\x01\xff"                      // critical
      "\x04\x19\x30\x17"                  // OCTET STRING { GeneralNames
      "\x86\x0aspiffe://a"                // URI
      "\x87\x04\x01\x02\x03\x04"          // IP
      "\x82\x03" "b.c",                   // DNS
      37);
  EXPECT_EQ(out, expected);
}

TEST(SubjectNameTest, EmptyOrCommonName) {
  std::string out;
  AppendSubjectName("", &out);
  EXPECT_EQ(out, std::string("\x30\x00", 2));

  out.clear();
  AppendSubjectName("spiffe://td/ns/a", &out);
  EXPECT_EQ(out, std::string("\x30\x1b\x31\x19\x30\x17\x06\x03\x55\x04\x03"
                             "\x13\x10spiffe://td/ns/a",
                             29));
  // '_' is not PrintableString: Go falls back to UTF8String.
  out.clear();
  AppendSubjectName("a_b", &out);
  EXPECT_EQ(out[11], '\x0c');
}

TEST(DualUseCommonNameTest, FirstIdentityUpTo64Chars) {
  EXPECT_EQ(DualUseCommonName({"a", "b"}), "a");
  EXPECT_EQ(DualUseCommonName({std::string(64, 'x')}), std::string(64, 'x'));
  EXPECT_EQ(DualUseCommonName({std::string(65, 'x'), "b"}), "");
}

}  // namespace
}  // namespace internal
}  // namespace ca
}  // namespace vaultca
