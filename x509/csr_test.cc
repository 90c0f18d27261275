#include "x509/csr.h"

#include <openssl/obj_mac.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "testing/csr.h"
#include "testing/test_pki.h"
#include "x509/pem_codec.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vaultca {
namespace x509 {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testkit::TestCsrOptions;
using testkit::TestCsrPem;

constexpr char kSpiffeId[] = "spiffe://cluster.local/ns/default/sa/sleep";
constexpr char kAllowedKeys[] =
    "RSA 2048-8192 bits, ECDSA P-256 or ECDSA P-384";

MATCHER_P(IsExtension, oid_and_critical, "") {
  return arg.oid == oid_and_critical.first &&
         arg.critical == oid_and_critical.second;
}

// The CSR istio-agent sends: O= empty, critical URI SAN.
TestCsrOptions IstioAgentCsr(const std::string& key) {
  TestCsrOptions options;
  options.key = key;
  options.with_organization = true;
  options.sans = {absl::StrCat("URI:", kSpiffeId)};
  return options;
}

void ExpectInvalid(const absl::StatusOr<ParsedCsr>& csr,
                   const std::string& message) {
  ASSERT_FALSE(csr.ok());
  EXPECT_EQ(csr.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(csr.status().message(), message);
}

class CsrKeyTest : public ::testing::TestWithParam<
                       std::tuple<std::string, KeyType, int>> {};

TEST_P(CsrKeyTest, ParsesIstioAgentCsr) {
  const auto& [spec, type, bits] = GetParam();
  absl::StatusOr<ParsedCsr> csr =
      ParsedCsr::Parse(TestCsrPem(IstioAgentCsr(spec)));
  ASSERT_TRUE(csr.ok()) << csr.status();
  EXPECT_EQ(csr->key_type(), type);
  EXPECT_EQ(csr->key_bits(), bits);
  EXPECT_EQ(csr->public_key_der(), testkit::PublicKeyDer(spec));
  EXPECT_EQ(csr->common_name(), "");
  EXPECT_THAT(csr->uri_sans(), ElementsAre(kSpiffeId));
  EXPECT_THAT(csr->dns_sans(), IsEmpty());
  EXPECT_THAT(csr->ip_sans(), IsEmpty());
  EXPECT_THAT(csr->email_sans(), IsEmpty());
  EXPECT_EQ(csr->other_san_count(), 0);
  EXPECT_THAT(csr->extensions(),
              ElementsAre(IsExtension(std::make_pair("2.5.29.17", true))));
}

INSTANTIATE_TEST_SUITE_P(
    Keys, CsrKeyTest,
    ::testing::Values(std::make_tuple("RSA:2048", KeyType::kRsa, 2048),
                      std::make_tuple("RSA:3072", KeyType::kRsa, 3072),
                      std::make_tuple("EC:P-256", KeyType::kEcP256, 256),
                      std::make_tuple("EC:P-384", KeyType::kEcP384, 384)));

TEST(CsrTest, Ed25519OnlyWhenAllowed) {
  const std::string pem = TestCsrPem(IstioAgentCsr("ED25519"));
  ExpectInvalid(ParsedCsr::Parse(pem),
                absl::StrCat("CSR key Ed25519 is not allowed: use ",
                             kAllowedKeys));
  CsrPolicy policy;
  policy.allow_ed25519 = true;
  absl::StatusOr<ParsedCsr> csr = ParsedCsr::Parse(pem, policy);
  ASSERT_TRUE(csr.ok()) << csr.status();
  EXPECT_EQ(csr->key_type(), KeyType::kEd25519);
  EXPECT_EQ(csr->public_key_der(), testkit::PublicKeyDer("ED25519"));
}

TEST(CsrTest, AcceptsLegacyLabelAndReadsOnlyTheFirstBlock) {
  std::string der = testkit::TestCsrDer(IstioAgentCsr("EC:P-256"));
  const std::string legacy =
      EncodePem("NEW CERTIFICATE REQUEST", der);
  EXPECT_TRUE(ParsedCsr::Parse(legacy).ok());

  TestCsrOptions other = IstioAgentCsr("EC:P-256");
  other.key_slot = 1;
  const std::string text = absl::StrCat(
      "some preamble\n", TestCsrPem(IstioAgentCsr("EC:P-256")),
      TestCsrPem(other), "-----BEGIN GARBAGE-----\n!!!\n");
  absl::StatusOr<ParsedCsr> csr = ParsedCsr::Parse(text);
  ASSERT_TRUE(csr.ok()) << csr.status();
  EXPECT_EQ(csr->public_key_der(), testkit::PublicKeyDer("EC:P-256", 0));
}

TEST(CsrTest, ReadsSubjectSansAndExtensions) {
  TestCsrOptions options;
  options.with_organization = true;
  options.organization = "acme";
  options.common_names = {"first", "svc.ns.svc.cluster.local"};
  options.sans = {"URI:spiffe://td/ns/a/sa/b", "DNS:svc.ns.svc",
                  "IP:10.1.2.3",  "IP:2001:db8::1",
                  "email:ops@example.com", "otherName:1.2.3.4;UTF8:x",
                  "URI:https://example.com/x"};
  options.san_critical = false;
  options.extensions = {
      {NID_key_usage, "critical,digitalSignature,keyEncipherment"},
      {NID_ext_key_usage, "serverAuth,clientAuth"},
      {NID_basic_constraints, "critical,CA:FALSE"}};
  absl::StatusOr<ParsedCsr> csr = ParsedCsr::Parse(TestCsrPem(options));
  ASSERT_TRUE(csr.ok()) << csr.status();
  // Go's x509 keeps the last CN.
  EXPECT_EQ(csr->common_name(), "svc.ns.svc.cluster.local");
  EXPECT_THAT(csr->uri_sans(),
              ElementsAre("spiffe://td/ns/a/sa/b", "https://example.com/x"));
  EXPECT_THAT(csr->dns_sans(), ElementsAre("svc.ns.svc"));
  EXPECT_THAT(csr->ip_sans(), ElementsAre("10.1.2.3", "2001:db8::1"));
  EXPECT_THAT(csr->email_sans(), ElementsAre("ops@example.com"));
  EXPECT_EQ(csr->other_san_count(), 1);
  EXPECT_THAT(csr->extensions(),
              ElementsAre(IsExtension(std::make_pair("2.5.29.17", false)),
                          IsExtension(std::make_pair("2.5.29.15", true)),
                          IsExtension(std::make_pair("2.5.29.37", false)),
                          IsExtension(std::make_pair("2.5.29.19", true))));
}

TEST(CsrTest, ReadsKeyUsagesAndKeepsTheDer) {
  TestCsrOptions options;
  options.extensions = {
      {NID_key_usage, "critical,digitalSignature,keyEncipherment,keyCertSign"},
      {NID_ext_key_usage, "serverAuth,clientAuth,codeSigning"}};
  const std::string pem = TestCsrPem(options);
  absl::StatusOr<ParsedCsr> csr = ParsedCsr::Parse(pem);
  ASSERT_TRUE(csr.ok()) << csr.status();
  EXPECT_THAT(csr->usages().key_usage_bits, ElementsAre(0, 2, 5));
  EXPECT_THAT(csr->usages().extended_key_usages,
              ElementsAre("1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2",
                          "1.3.6.1.5.5.7.3.3"));
  EXPECT_FALSE(csr->usages().key_usage_malformed);
  EXPECT_FALSE(csr->usages().extended_key_usage_malformed);
  PemBlock block;
  ASSERT_EQ(DecodeFirstPemBlock(pem, &block), PemDecodeResult::kOk);
  EXPECT_EQ(csr->der(), block.der);

  absl::StatusOr<ParsedCsr> plain = ParsedCsr::Parse(TestCsrPem());
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_THAT(plain->usages().key_usage_bits, IsEmpty());
  EXPECT_THAT(plain->usages().extended_key_usages, IsEmpty());
}

TEST(CsrTest, MalformedUsagesAreFlaggedNotRefused) {
  TestCsrOptions options;
  // keyUsage holding an INTEGER, extendedKeyUsage a BOOLEAN.
  options.extensions = {{NID_key_usage, "DER:020101"},
                        {NID_ext_key_usage, "DER:0101FF"}};
  absl::StatusOr<ParsedCsr> csr = ParsedCsr::Parse(TestCsrPem(options));
  ASSERT_TRUE(csr.ok()) << csr.status();
  EXPECT_TRUE(csr->usages().key_usage_malformed);
  EXPECT_TRUE(csr->usages().extended_key_usage_malformed);
  EXPECT_THAT(csr->usages().key_usage_bits, IsEmpty());
}

TEST(CsrTest, CheckKeyAnswersAsParseWould) {
  TestCsrOptions ed25519;
  ed25519.key = "ED25519";
  CsrPolicy lenient;
  lenient.allow_ed25519 = true;
  absl::StatusOr<ParsedCsr> csr = ParsedCsr::Parse(TestCsrPem(ed25519), lenient);
  ASSERT_TRUE(csr.ok()) << csr.status();
  EXPECT_TRUE(csr->CheckKey(lenient).ok());
  const absl::Status strict = csr->CheckKey(CsrPolicy());
  EXPECT_EQ(strict, ParsedCsr::Parse(TestCsrPem(ed25519)).status());
  EXPECT_EQ(strict.message(),
            absl::StrCat("CSR key Ed25519 is not allowed: use ", kAllowedKeys));

  TestCsrOptions rsa;
  rsa.key = "RSA:2048";
  absl::StatusOr<ParsedCsr> rsa_csr = ParsedCsr::Parse(TestCsrPem(rsa));
  ASSERT_TRUE(rsa_csr.ok()) << rsa_csr.status();
  CsrPolicy big_rsa;
  big_rsa.min_rsa_bits = 3072;
  EXPECT_EQ(rsa_csr->CheckKey(big_rsa).message(),
            "CSR key RSA 2048 is not allowed: use RSA 3072-8192 bits, ECDSA "
            "P-256 or ECDSA P-384");
  CsrPolicy no_p256;
  no_p256.allow_ecdsa_p256 = false;
  absl::StatusOr<ParsedCsr> ec_csr = ParsedCsr::Parse(TestCsrPem());
  ASSERT_TRUE(ec_csr.ok()) << ec_csr.status();
  EXPECT_EQ(ec_csr->CheckKey(no_p256).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(ec_csr->CheckKey(CsrPolicy()).ok());
}

TEST(CsrTest, Utf8CommonName) {
  TestCsrOptions options;
  options.common_names = {"caf\xc3\xa9"};
  absl::StatusOr<ParsedCsr> csr = ParsedCsr::Parse(TestCsrPem(options));
  ASSERT_TRUE(csr.ok()) << csr.status();
  EXPECT_EQ(csr->common_name(), "caf\xc3\xa9");
  EXPECT_THAT(csr->extensions(), IsEmpty());
}

// ---- Refusals, each with its exact message --------------------------------

TEST(CsrRefusalTest, Empty) {
  ExpectInvalid(ParsedCsr::Parse(""),
                "CSR is empty: send a PEM \"CERTIFICATE REQUEST\" block");
}

TEST(CsrRefusalTest, Garbage) {
  ExpectInvalid(ParsedCsr::Parse("definitely not a CSR \x01\x02"),
                "CSR has no PEM block: expected \"-----BEGIN CERTIFICATE "
                "REQUEST-----\"");
}

TEST(CsrRefusalTest, PemOfWrongType) {
  const ca::CaMaterialPem root = testkit::Root(KeyType::kEcP256);
  ExpectInvalid(ParsedCsr::Parse(root.cert_pem),
                "CSR PEM block is \"CERTIFICATE\", expected \"CERTIFICATE "
                "REQUEST\"");
}

TEST(CsrRefusalTest, MissingEndLine) {
  std::string pem = TestCsrPem();
  pem.resize(pem.find("-----END"));
  ExpectInvalid(ParsedCsr::Parse(pem),
                "CSR PEM block \"CERTIFICATE REQUEST\" has no matching END "
                "line");
}

TEST(CsrRefusalTest, BadBase64) {
  std::string pem = TestCsrPem();
  pem[40] = '%';
  ExpectInvalid(ParsedCsr::Parse(pem),
                "CSR PEM block \"CERTIFICATE REQUEST\" is not valid base64");
}

TEST(CsrRefusalTest, NotDer) {
  ExpectInvalid(
      ParsedCsr::Parse(EncodePem("CERTIFICATE REQUEST", "hello")),
      "CSR is not valid PKCS#10 DER: expected a CertificationRequest "
      "SEQUENCE; send the PEM of a CSR made by a standard library");
}

TEST(CsrRefusalTest, TrailingDer) {
  const std::string der = testkit::TestCsrDer() + std::string("\x05\x00", 2);
  ExpectInvalid(
      ParsedCsr::Parse(EncodePem("CERTIFICATE REQUEST", der)),
      "CSR is not valid PKCS#10 DER: data follows the CertificationRequest; "
      "send the PEM of a CSR made by a standard library");
}

TEST(CsrRefusalTest, BrokenSignature) {
  for (const char* key : {"RSA:2048", "EC:P-256", "EC:P-384"}) {
    SCOPED_TRACE(key);
    const std::string pem = TestCsrPem(IstioAgentCsr(key));
    ASSERT_TRUE(ParsedCsr::Parse(pem).ok());
    ExpectInvalid(ParsedCsr::Parse(testkit::WithBrokenSignature(pem)),
                  "CSR signature does not verify with the CSR's own public "
                  "key: the CSR was altered or signed with another key");
  }
}

TEST(CsrRefusalTest, Sha1Signature) {
  TestCsrOptions options = IstioAgentCsr("RSA:2048");
  options.digest = "SHA1";
  ExpectInvalid(ParsedCsr::Parse(TestCsrPem(options)),
                "CSR signature algorithm sha1WithRSAEncryption is refused: "
                "SHA-1 signatures are not accepted; sign the CSR with "
                "SHA-256");
}

TEST(CsrRefusalTest, Rsa1024) {
  ExpectInvalid(ParsedCsr::Parse(TestCsrPem(IstioAgentCsr("RSA:1024"))),
                absl::StrCat("CSR key RSA 1024 is not allowed: use ",
                             kAllowedKeys));
}

TEST(CsrRefusalTest, RsaBelowCustomMinimum) {
  CsrPolicy policy;
  policy.min_rsa_bits = 3072;
  policy.allow_ecdsa_p384 = false;
  ExpectInvalid(
      ParsedCsr::Parse(TestCsrPem(IstioAgentCsr("RSA:2048")), policy),
      "CSR key RSA 2048 is not allowed: use RSA 3072-8192 bits or ECDSA "
      "P-256");
}

TEST(CsrRefusalTest, UnsupportedCurves) {
  ExpectInvalid(ParsedCsr::Parse(TestCsrPem(IstioAgentCsr("EC:P-521"))),
                absl::StrCat("CSR key EC secp521r1 is not allowed: use ",
                             kAllowedKeys));
  ExpectInvalid(ParsedCsr::Parse(TestCsrPem(IstioAgentCsr("EC:secp256k1"))),
                absl::StrCat("CSR key EC secp256k1 is not allowed: use ",
                             kAllowedKeys));
}

TEST(CsrRefusalTest, DisabledCurve) {
  CsrPolicy policy;
  policy.allow_ecdsa_p384 = false;
  ExpectInvalid(
      ParsedCsr::Parse(TestCsrPem(IstioAgentCsr("EC:P-384")), policy),
      "CSR key EC P-384 is not allowed: use RSA 2048-8192 bits or ECDSA "
      "P-256");
}

TEST(CsrRefusalTest, OtherAlgorithm) {
  ExpectInvalid(ParsedCsr::Parse(TestCsrPem(IstioAgentCsr("ED448"))),
                absl::StrCat("CSR key ED448 is not allowed: use ",
                             kAllowedKeys));
}

TEST(CsrRefusalTest, CompressedPoint) {
  TestCsrOptions options = IstioAgentCsr("EC:P-256");
  options.compressed_point = true;
  ExpectInvalid(ParsedCsr::Parse(TestCsrPem(options)),
                "CSR public key is malformed: EC point is not an uncompressed "
                "P-256 point");
}

TEST(CsrRefusalTest, Oversized) {
  const std::string pem = TestCsrPem(IstioAgentCsr("EC:P-256"));
  // Exactly at the limit still parses; one byte more does not.
  std::string at_limit = pem + std::string(64 * 1024 - pem.size(), '\n');
  EXPECT_TRUE(ParsedCsr::Parse(at_limit).ok());
  ExpectInvalid(ParsedCsr::Parse(at_limit + "\n"),
                "CSR is 65537 bytes, over the 65536-byte limit: send one PEM "
                "CSR");
}

TEST(CsrRefusalTest, DuplicateExtension) {
  TestCsrOptions options = IstioAgentCsr("EC:P-256");
  options.extensions = {{NID_subject_alt_name, "DNS:evil.example.com"}};
  ExpectInvalid(ParsedCsr::Parse(TestCsrPem(options)),
                "CSR extension request is malformed: extension 2.5.29.17 "
                "appears twice");
}

// Every truncation and every single-byte corruption of a CSR fails cleanly
// (or, for corruptions the signature does not cover, parses): no crash, no
// status other than InvalidArgument.
TEST(CsrRobustnessTest, TruncationsAndCorruptions) {
  TestCsrOptions options = IstioAgentCsr("EC:P-256");
  options.common_names = {"cn"};
  const std::string der = testkit::TestCsrDer(options);
  for (size_t len = 0; len < der.size(); ++len) {
    absl::StatusOr<ParsedCsr> csr = ParsedCsr::Parse(
        EncodePem("CERTIFICATE REQUEST", der.substr(0, len)));
    ASSERT_FALSE(csr.ok()) << "length " << len;
    ASSERT_EQ(csr.status().code(), absl::StatusCode::kInvalidArgument);
  }
  for (size_t i = 0; i < der.size(); ++i) {
    for (const unsigned char flip : {0x01, 0x80, 0xff}) {
      std::string corrupt = der;
      corrupt[i] = static_cast<char>(corrupt[i] ^ flip);
      absl::StatusOr<ParsedCsr> csr = ParsedCsr::Parse(
          EncodePem("CERTIFICATE REQUEST", corrupt));
      if (!csr.ok()) {
        ASSERT_EQ(csr.status().code(), absl::StatusCode::kInvalidArgument)
            << "byte " << i << ": " << csr.status();
      }
    }
  }
}

}  // namespace
}  // namespace x509
}  // namespace vaultca
