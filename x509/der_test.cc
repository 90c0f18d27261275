#include "x509/der.h"

#include <openssl/evp.h>

#include <string>

#include "x509/pem_codec.h"
#include "gtest/gtest.h"

namespace vaultca {
namespace x509 {
namespace {

TEST(DerReaderTest, ReadsShortAndLongForms) {
  std::string input("\x02\x01\x05", 3);
  std::string long_contents(300, 'x');
  AppendDer(kDerOctetString, long_contents, &input);
  EXPECT_EQ(input.substr(3, 4), std::string("\x04\x82\x01\x2c", 4));

  DerReader reader(input);
  DerElement element;
  ASSERT_TRUE(reader.Read(kDerInteger, &element));
  EXPECT_EQ(element.contents, "\x05");
  EXPECT_EQ(element.encoding, std::string("\x02\x01\x05", 3));
  EXPECT_FALSE(reader.Read(kDerInteger, &element));  // wrong tag
  ASSERT_TRUE(reader.ReadAny(&element));
  EXPECT_EQ(element.tag, kDerOctetString);
  EXPECT_EQ(element.contents, long_contents);
  EXPECT_TRUE(reader.empty());
}

TEST(DerReaderTest, RejectsNonDerLengths) {
  DerElement element;
  for (const std::string& bad :
       {std::string("\x04\x80\x00\x00", 4),          // indefinite
        std::string("\x04\x81\x05xxxxx", 8),         // long form for < 128
        std::string("\x04\x82\x00\x80", 4),          // leading zero byte
        std::string("\x04\x05xx", 4),                // truncated
        std::string("\x1f\x01\x00", 3),              // high tag number
        std::string("\x04\x85\x01\x00\x00\x00\x00", 7)}) {  // 5 length bytes
    DerReader reader(bad);
    EXPECT_FALSE(reader.ReadAny(&element)) << bad.size();
  }
}

TEST(DerTest, HeaderSizes) {
  for (const size_t length : {0, 1, 127, 128, 255, 256, 65535, 65536}) {
    std::string out;
    AppendDerHeader(kDerSequence, length, &out);
    EXPECT_EQ(out.size(), DerHeaderSize(length)) << length;
  }
}

TEST(DerTest, OidToText) {
  EXPECT_EQ(DerOidToText(std::string("\x55\x1d\x11", 3)), "2.5.29.17");
  EXPECT_EQ(DerOidToText(std::string("\x2a\x86\x48\x86\xf7\x0d\x01\x09\x0e",
                                     9)),
            "1.2.840.113549.1.9.14");
  EXPECT_EQ(DerOidToText(std::string("\x2b\x06\x01\x04\x01\x82\x37", 7)),
            "1.3.6.1.4.1.311");
  EXPECT_EQ(DerOidToText(std::string("\x88\x37", 2)), "2.999");
  EXPECT_EQ(DerOidToText(""), "");
  EXPECT_EQ(DerOidToText(std::string("\x55\x86", 2)), "");  // unterminated
  EXPECT_EQ(DerOidToText(std::string("\x55\x80\x01", 3)), "");  // padded arc
}

TEST(PemCodecTest, RoundTripsEveryLengthLikeOpenSsl) {
  std::string der;
  for (int len = 0; len < 200; ++len) {
    const std::string pem = EncodePem("CERTIFICATE", der);
    // The body must match OpenSSL's base64 of the same bytes.
    std::string expected_body;
    for (size_t i = 0; i < der.size(); i += 48) {
      const std::string chunk = der.substr(i, 48);
      unsigned char b64[80];
      const int n = EVP_EncodeBlock(
          b64, reinterpret_cast<const unsigned char*>(chunk.data()),
          static_cast<int>(chunk.size()));
      expected_body.append(reinterpret_cast<char*>(b64), n);
      expected_body.push_back('\n');
    }
    EXPECT_EQ(pem, "-----BEGIN CERTIFICATE-----\n" + expected_body +
                       "-----END CERTIFICATE-----\n");
    PemBlock block;
    ASSERT_EQ(DecodeFirstPemBlock(pem, &block), PemDecodeResult::kOk);
    EXPECT_EQ(block.label, "CERTIFICATE");
    EXPECT_EQ(block.der, der);
    der.push_back(static_cast<char>(len * 37));
  }
}

TEST(PemCodecTest, DecodeFailures) {
  PemBlock block;
  EXPECT_EQ(DecodeFirstPemBlock("nothing here", &block),
            PemDecodeResult::kNoBlock);
  EXPECT_EQ(DecodeFirstPemBlock("-----BEGIN A-----\nAAAA\n-----END B-----\n",
                                &block),
            PemDecodeResult::kNoEnd);
  EXPECT_EQ(block.label, "A");
  EXPECT_EQ(DecodeFirstPemBlock("-----BEGIN A-----\nAA=A\n-----END A-----\n",
                                &block),
            PemDecodeResult::kBadBase64);
  EXPECT_EQ(DecodeFirstPemBlock("-----BEGIN A-----\nAAA\n-----END A-----\n",
                                &block),
            PemDecodeResult::kBadBase64);
  EXPECT_EQ(
      DecodeFirstPemBlock(
          "-----BEGIN A-----\nProc-Type: 4,ENCRYPTED\n\nAAAA\n-----END A-----",
          &block),
      PemDecodeResult::kBadBase64);
  EXPECT_EQ(DecodeFirstPemBlock("-----BEGIN A-----\r\nAA==\r\n-----END A-----",
                                &block),
            PemDecodeResult::kOk);
  EXPECT_EQ(block.der, std::string(1, '\0'));
}

}  // namespace
}  // namespace x509
}  // namespace vaultca
