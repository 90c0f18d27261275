#include "x509/internal/csr_signature.h"

#include <string>

#include "absl/status/status.h"
#include "testing/csr.h"
#include "x509/internal/csr_der.h"
#include "x509/internal/csr_key.h"
#include "x509/internal/ecdsa_verify.h"
#include "x509/pem_codec.h"
#include "x509/internal/rsa_pkcs1_verify.h"
#include "gtest/gtest.h"

namespace vaultca {
namespace x509 {
namespace internal {
namespace {

// Verifies `der` with the key parsed as ParseCsrKey does by default, or
// forced through EVP.
absl::Status Verify(const std::string& der, bool evp_only) {
  CsrParts parts;
  absl::Status status = SplitCsr(der, &parts);
  if (!status.ok()) return status;
  absl::StatusOr<CsrKey> key = ParseCsrKey(parts, CsrPolicy(), evp_only);
  if (!key.ok()) return key.status();
  const bool ec = key->type == KeyType::kEcP256 || key->type == KeyType::kEcP384;
  const bool low_level = key->type == KeyType::kRsa ? kHaveLowLevelRsa
                         : ec                        ? kHaveLowLevelEcdsa
                                                     : false;
  EXPECT_EQ(key->pkey != nullptr, evp_only || !low_level);
  return VerifyCsrSignature(parts, *key);
}

std::string Der(const std::string& pem) {
  PemBlock block;
  EXPECT_EQ(DecodeFirstPemBlock(pem, &block), PemDecodeResult::kOk);
  return block.der;
}

// Both RSA paths (low-level and EVP) agree, for every digest and for
// broken signatures.
TEST(CsrSignatureTest, RsaPathsAgree) {
  for (const char* digest : {"SHA256", "SHA384", "SHA512"}) {
    for (const char* key : {"RSA:2048", "RSA:3072"}) {
      SCOPED_TRACE(std::string(key) + " " + digest);
      testkit::TestCsrOptions options;
      options.key = key;
      options.digest = digest;
      const std::string pem = testkit::TestCsrPem(options);
      const std::string broken = testkit::WithBrokenSignature(pem);
      for (const bool evp_only : {false, true}) {
        EXPECT_TRUE(Verify(Der(pem), evp_only).ok());
        const absl::Status status = Verify(Der(broken), evp_only);
        EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
        EXPECT_EQ(status.message(),
                  "CSR signature does not verify with the CSR's own public "
                  "key: the CSR was altered or signed with another key");
      }
    }
  }
}

TEST(CsrSignatureTest, EcdsaDigests) {
  for (const char* digest : {"SHA256", "SHA384", "SHA512"}) {
    for (const char* key : {"EC:P-256", "EC:P-384"}) {
      SCOPED_TRACE(std::string(key) + " " + digest);
      testkit::TestCsrOptions options;
      options.key = key;
      options.digest = digest;
      const std::string pem = testkit::TestCsrPem(options);
      EXPECT_TRUE(Verify(Der(pem), false).ok());
      EXPECT_FALSE(Verify(Der(testkit::WithBrokenSignature(pem)), false).ok());
    }
  }
}

// A signature made with one key does not verify with another of the same
// type: splice the second CSR's key into the first.
TEST(CsrSignatureTest, SignatureOfAnotherKey) {
  for (const char* key : {"RSA:2048", "EC:P-256"}) {
    SCOPED_TRACE(key);
    testkit::TestCsrOptions a, b;
    a.key = b.key = key;
    b.key_slot = 1;
    std::string der_a = testkit::TestCsrDer(a);
    const std::string der_b = testkit::TestCsrDer(b);
    CsrParts parts_a, parts_b;
    ASSERT_TRUE(SplitCsr(der_a, &parts_a).ok());
    ASSERT_TRUE(SplitCsr(der_b, &parts_b).ok());
    for (const bool evp_only : {false, true}) {
      absl::StatusOr<CsrKey> k = ParseCsrKey(parts_b, CsrPolicy(), evp_only);
      ASSERT_TRUE(k.ok());
      EXPECT_FALSE(VerifyCsrSignature(parts_a, *k).ok());
      EXPECT_TRUE(VerifyCsrSignature(parts_b, *k).ok());
    }
  }
}

// Both EC paths (low-level and EVP) agree, for every digest and for broken
// signatures.
TEST(CsrSignatureTest, EcdsaPathsAgree) {
  for (const char* digest : {"SHA256", "SHA384", "SHA512"}) {
    for (const char* key : {"EC:P-256", "EC:P-384"}) {
      SCOPED_TRACE(std::string(key) + " " + digest);
      testkit::TestCsrOptions options;
      options.key = key;
      options.digest = digest;
      const std::string pem = testkit::TestCsrPem(options);
      const std::string broken = testkit::WithBrokenSignature(pem);
      for (const bool evp_only : {false, true}) {
        EXPECT_TRUE(Verify(Der(pem), evp_only).ok());
        const absl::Status status = Verify(Der(broken), evp_only);
        EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
        EXPECT_EQ(status.message(),
                  "CSR signature does not verify with the CSR's own public "
                  "key: the CSR was altered or signed with another key");
      }
    }
  }
}

// A point that is not on the curve is refused when the key is parsed, on
// both paths.
TEST(CsrSignatureTest, EcPointOffTheCurve) {
  for (const char* key : {"EC:P-256", "EC:P-384"}) {
    SCOPED_TRACE(key);
    testkit::TestCsrOptions options;
    options.key = key;
    std::string der = testkit::TestCsrDer(options);
    CsrParts parts;
    ASSERT_TRUE(SplitCsr(der, &parts).ok());
    ASSERT_EQ(parts.public_key[0], '\x04');
    // Change the last byte of Y: (X, Y') is not on the curve.
    const size_t last =
        static_cast<size_t>(parts.public_key.data() - der.data()) +
        parts.public_key.size() - 1;
    der[last] = static_cast<char>(der[last] ^ 0x01);
    ASSERT_TRUE(SplitCsr(der, &parts).ok());
    for (const bool evp_only : {false, true}) {
      absl::StatusOr<CsrKey> k = ParseCsrKey(parts, CsrPolicy(), evp_only);
      ASSERT_FALSE(k.ok());
      EXPECT_EQ(k.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_NE(k.status().message().find("is not on P-"),
                absl::string_view::npos)
          << k.status();
    }
  }
}

}  // namespace
}  // namespace internal
}  // namespace x509
}  // namespace vaultca
