#include "x509/pem.h"

#include <openssl/pem.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/test_pki.h"

namespace vaultca {
namespace x509 {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

const absl::Time kNow = absl::FromUnixSeconds(1767225600);

std::string RootPem(int slot = 0) {
  return testkit::Root(KeyType::kEcP256, kNow, slot).cert_pem;
}

// The base64 body of the first PEM block in `pem`, for checking that key
// bytes never leak into messages.
std::string Body(absl::string_view pem) {
  size_t start = pem.find('\n') + 1;
  return std::string(pem.substr(start, 40));
}

TEST(ParseCertificatesTest, ReturnsEveryCertificateInOrder) {
  std::string a = RootPem(0);
  std::string b = RootPem(1);
  absl::StatusOr<std::vector<SslUniquePtr<X509>>> certs = ParseCertificates(
      absl::StrCat("subject=O = cluster.local\n", a, "\n\n", b, "trailer"),
      "chain");
  ASSERT_TRUE(certs.ok()) << certs.status();
  ASSERT_EQ(certs->size(), 2u);
  EXPECT_EQ(*CertificateToPem((*certs)[0].get()), a);
  EXPECT_EQ(*CertificateToPem((*certs)[1].get()), b);
}

TEST(ParseCertificatesTest, RejectsEmptyAndGarbageNamingTheInput) {
  for (absl::string_view input : {"", "   \n", "not pem at all"}) {
    absl::Status status = ParseCertificates(input, "root bundle").status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(status.message()),
                StartsWith("root bundle: no PEM certificate found"));
  }
}

TEST(ParseCertificatesTest, RejectsOtherBlockTypes) {
  std::string key(testkit::CachedKeyPem(KeyType::kEcP256).view());
  absl::Status status = ParseCertificates(RootPem() + key, "chain").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "chain: PEM block 2 is a 'PRIVATE KEY', expected a 'CERTIFICATE'");
  EXPECT_THAT(std::string(status.message()), Not(HasSubstr(Body(key))));
}

TEST(ParseCertificatesTest, RejectsMalformedPem) {
  std::string pem = RootPem();
  std::string no_end = pem.substr(0, pem.find("-----END"));
  absl::Status status = ParseCertificates(no_end, "cert").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), StartsWith("cert: malformed PEM in block 1"));

  std::string bad_base64 = pem;
  bad_base64[40] = '*';
  status = ParseCertificates(bad_base64, "cert").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), StartsWith("cert: malformed PEM in block 1"));
}

TEST(ParseCertificatesTest, RejectsBadDer) {
  std::string pem = RootPem();
  // Valid base64, truncated DER.
  std::string truncated =
      "-----BEGIN CERTIFICATE-----\nMIIBkTCB+wIJ\n-----END CERTIFICATE-----\n";
  absl::Status status = ParseCertificates(truncated, "cert").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              StartsWith("cert: certificate 1 is not a valid X.509"));
}

TEST(ParseCertificateStackTest, AllowEmptyOnlyWhenAsked) {
  absl::StatusOr<SslUniquePtr<STACK_OF(X509)>> empty =
      ParseCertificateStack(" \n\t", "chain", /*allow_empty=*/true);
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(sk_X509_num(empty->get()), 0);
  EXPECT_FALSE(ParseCertificateStack(" \n\t", "chain").ok());
  // Non-blank text is never "empty".
  EXPECT_FALSE(ParseCertificateStack("junk", "chain", true).ok());

  std::string pems = RootPem(0) + RootPem(1);
  absl::StatusOr<SslUniquePtr<STACK_OF(X509)>> two =
      ParseCertificateStack(pems, "chain");
  ASSERT_TRUE(two.ok()) << two.status();
  EXPECT_EQ(sk_X509_num(two->get()), 2);
  EXPECT_EQ(*CertificatesToPem(two->get()), pems);
}

TEST(ParseCertificateTest, RequiresExactlyOne) {
  EXPECT_TRUE(ParseCertificate(RootPem(), "cert").ok());
  absl::Status status = ParseCertificate(RootPem() + RootPem(), "cert").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              StartsWith("cert: expected exactly one certificate, found 2"));
}

// Every accepted encoding of the same key decodes to the same key.
TEST(ParsePrivateKeyTest, AcceptsPkcs1Sec1AndPkcs8) {
  struct Case {
    const char* name;
    KeyType type;
    SecretData pem;
    const char* label;
  };
  const Case cases[] = {
      {"PKCS#8 RSA", KeyType::kRsa, testkit::CachedKeyPem(KeyType::kRsa),
       "PRIVATE KEY"},
      {"PKCS#8 P-256", KeyType::kEcP256,
       testkit::CachedKeyPem(KeyType::kEcP256), "PRIVATE KEY"},
      {"PKCS#8 Ed25519", KeyType::kEd25519,
       testkit::CachedKeyPem(KeyType::kEd25519), "PRIVATE KEY"},
      {"PKCS#1", KeyType::kRsa, testkit::RsaPkcs1KeyPem(), "RSA PRIVATE KEY"},
      {"SEC1", KeyType::kEcP256, testkit::EcSec1KeyPem(KeyType::kEcP256, false),
       "EC PRIVATE KEY"},
      {"SEC1 with parameters", KeyType::kEcP384,
       testkit::EcSec1KeyPem(KeyType::kEcP384, true), "EC PARAMETERS"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_THAT(std::string(c.pem.view()),
                StartsWith(absl::StrCat("-----BEGIN ", c.label, "-----")));
    absl::StatusOr<SslUniquePtr<EVP_PKEY>> key = ParsePrivateKey(c.pem, "key");
    ASSERT_TRUE(key.ok()) << key.status();
    absl::StatusOr<SslUniquePtr<EVP_PKEY>> reference =
        ParsePrivateKey(testkit::CachedKeyPem(c.type), "key");
    ASSERT_TRUE(reference.ok()) << reference.status();
    EXPECT_EQ(EVP_PKEY_eq(key->get(), reference->get()), 1);
    absl::StatusOr<SecretData> pkcs8 = PrivateKeyToPkcs8Pem(key->get());
    ASSERT_TRUE(pkcs8.ok()) << pkcs8.status();
    EXPECT_EQ(pkcs8->view(), testkit::CachedKeyPem(c.type).view());
  }
}

TEST(ParsePrivateKeyTest, RefusesEncryptedKeysWithoutPrompting) {
  for (const SecretData& pem :
       {testkit::EncryptedPkcs8KeyPem(), testkit::EncryptedPkcs1KeyPem()}) {
    absl::Status status = ParsePrivateKey(pem, "key").status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(status.message()),
                StartsWith("key: the private key is encrypted"));
  }
  EXPECT_THAT(std::string(testkit::EncryptedPkcs1KeyPem().view()),
              HasSubstr("Proc-Type: 4,ENCRYPTED"));
}

TEST(ParsePrivateKeyTest, RejectsWrongBlocksAndCounts) {
  const SecretData& rsa = testkit::CachedKeyPem(KeyType::kRsa);
  const SecretData& ec = testkit::CachedKeyPem(KeyType::kEcP256);
  struct Case {
    const char* name;
    std::string pem;
    std::string message;
  };
  std::string ec_params_then_rsa =
      std::string(testkit::EcSec1KeyPem(KeyType::kEcP256, true).view());
  ec_params_then_rsa =
      ec_params_then_rsa.substr(0, ec_params_then_rsa.find("-----BEGIN EC PRIV")) +
      std::string(rsa.view());
  // The EC key's DER under an RSA label.
  std::string mislabeled = absl::StrReplaceAll(
      std::string(testkit::EcSec1KeyPem(KeyType::kEcP256, false).view()),
      {{"EC PRIVATE KEY", "RSA PRIVATE KEY"}});
  const Case cases[] = {
      {"empty", "", "key: no PEM private key found"},
      {"garbage", "secret", "key: no PEM private key found"},
      {"certificate", RootPem(),
       "key: PEM block 1 is a 'CERTIFICATE', expected 'RSA PRIVATE KEY', "
       "'EC PRIVATE KEY' or 'PRIVATE KEY'"},
      {"two keys", absl::StrCat(rsa.view(), ec.view()),
       "key: found more than one private key"},
      {"EC PARAMETERS before RSA", ec_params_then_rsa,
       "key: an 'EC PARAMETERS' block precedes a 'PRIVATE KEY' block"},
      {"mislabeled", mislabeled,
       "key: the 'RSA PRIVATE KEY' block does not hold a valid key"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    absl::Status status = ParsePrivateKey(SecretData(c.pem), "key").status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(status.message()), StartsWith(c.message));
    EXPECT_THAT(std::string(status.message()), Not(HasSubstr(Body(rsa.view()))));
    EXPECT_THAT(std::string(status.message()), Not(HasSubstr(Body(ec.view()))));
  }
}

TEST(CertificateToPemTest, RoundTripsAndEndsWithNewline) {
  std::string pem = RootPem();
  absl::StatusOr<SslUniquePtr<X509>> cert = ParseCertificate(pem, "cert");
  ASSERT_TRUE(cert.ok());
  absl::StatusOr<std::string> encoded = CertificateToPem(cert->get());
  ASSERT_TRUE(encoded.ok());
  EXPECT_EQ(*encoded, pem);
  EXPECT_EQ(encoded->back(), '\n');
  EXPECT_THAT(*encoded, StartsWith("-----BEGIN CERTIFICATE-----\n"));
}

}  // namespace
}  // namespace x509
}  // namespace vaultca
