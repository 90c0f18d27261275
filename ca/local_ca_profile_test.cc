// The issued certificate, field by field, against istiod's profile; then
// verified by OpenSSL in-process and by the openssl CLI.

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "ca/local_ca.h"
#include "common/internal/ssl_unique_ptr.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/csr.h"
#include "testing/test_pki.h"
#include "x509/pem_codec.h"

namespace vaultca {
namespace ca {
namespace {

using ::vaultca::internal::SslUniquePtr;

constexpr char kSpiffeId[] = "spiffe://cluster.local/ns/default/sa/sleep";

// Real time with a fixed 0.75 s fraction, so that the openssl CLI (which
// checks validity at the real time) accepts the leaves, and the test can
// check that Go-style truncation to whole seconds happened.
absl::Time TestNow() {
  return absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now())) +
         absl::Milliseconds(750);
}

SslUniquePtr<X509> ParseCert(const std::string& pem) {
  SslUniquePtr<BIO> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return SslUniquePtr<X509>(
      PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

int64_t UnixSeconds(const ASN1_TIME* t) {
  struct tm tm = {};
  EXPECT_EQ(ASN1_TIME_to_tm(t, &tm), 1);
  return static_cast<int64_t>(timegm(&tm));
}

std::string Octets(const ASN1_STRING* s) {
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     ASN1_STRING_length(s));
}

// The SANs of `cert` as "URI:...", "DNS:...", "IP:<hex>".
std::vector<std::string> Sans(X509* cert) {
  std::vector<std::string> out;
  SslUniquePtr<GENERAL_NAMES> names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    int type = 0;
    const ASN1_STRING* value =
        static_cast<const ASN1_STRING*>(GENERAL_NAME_get0_value(name, &type));
    std::string hex;
    switch (type) {
      case GEN_URI:
        out.push_back("URI:" + Octets(value));
        break;
      case GEN_DNS:
        out.push_back("DNS:" + Octets(value));
        break;
      case GEN_IPADD:
        for (const unsigned char c : Octets(value)) {
          absl::StrAppend(&hex, absl::Hex(c, absl::kZeroPad2));
        }
        out.push_back("IP:" + hex);
        break;
      default:
        out.push_back("other");
    }
  }
  return out;
}

// Runs the openssl CLI: verify `leaf` for `purpose` against `root` with
// `untrusted` as intermediates. Returns its output.
std::string CliVerify(const std::string& purpose, const std::string& root,
                      const std::string& untrusted, const std::string& leaf) {
  const std::string dir = ::testing::TempDir();
  auto write = [&](const std::string& name, const std::string& text) {
    const std::string path = absl::StrCat(dir, "/", name);
    std::ofstream(path) << text;
    return path;
  };
  std::string command = absl::StrCat("openssl verify -purpose ", purpose,
                                     " -CAfile ", write("root.pem", root));
  if (!untrusted.empty()) {
    absl::StrAppend(&command, " -untrusted ", write("chain.pem", untrusted));
  }
  absl::StrAppend(&command, " ", write("leaf.pem", leaf), " 2>&1");
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return "popen failed";
  std::string output;
  char buffer[256];
  while (fgets(buffer, sizeof(buffer), pipe) != nullptr) output += buffer;
  const int rc = pclose(pipe);
  return absl::StrCat(output, "exit ", rc);
}

struct ProfileCase {
  KeyType ca_key;
  std::string csr_key;
  int signature_nid;
};

class LeafProfileTest : public ::testing::TestWithParam<ProfileCase> {};

TEST_P(LeafProfileTest, IssuesIstiodProfile) {
  const ProfileCase& param = GetParam();
  const absl::Time now = TestNow();
  const CaMaterialPem material = testkit::Root(param.ca_key, absl::Now());
  auto bundle = KeyCertBundle::Create(material);
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  IssuancePolicyOptions options;
  options.clock = [now] { return now; };
  auto ca = LocalCertificateAuthority::New(*bundle, options);
  ASSERT_TRUE(ca.ok()) << ca.status();

  testkit::TestCsrOptions csr;
  csr.key = param.csr_key;
  csr.with_organization = true;
  // The CSR's own SANs and extensions are ignored, as istiod ignores them.
  csr.sans = {"DNS:ignored.example.com"};
  csr.extensions = {{NID_basic_constraints, "critical,CA:TRUE"},
                    {NID_key_usage, "critical,keyCertSign"}};
  absl::StatusOr<VerifiedCsr> verified =
      (*ca)->policy().VerifyCsr(testkit::TestCsrPem(csr));
  ASSERT_TRUE(verified.ok()) << verified.status();
  SignRequest request;
  request.csr = *std::move(verified);
  request.identities = {kSpiffeId, "10.1.2.3", "2001:db8::1",
                        "::ffff:10.0.0.9", "sleep.default.svc"};
  absl::StatusOr<SignedChain> chain = (*ca)->Sign(request);
  ASSERT_TRUE(chain.ok()) << chain.status();
  ASSERT_EQ(chain->cert_chain.size(), 2u);
  EXPECT_EQ(chain->cert_chain[1], material.root_bundle_pem);
  SslUniquePtr<X509> leaf = ParseCert(chain->cert_chain[0]);
  ASSERT_NE(leaf, nullptr);
  SslUniquePtr<X509> ca_cert = ParseCert(material.cert_pem);

  EXPECT_EQ(X509_get_version(leaf.get()), 2);  // v3

  // Serial: non-negative, at most 128 bits.
  SslUniquePtr<BIGNUM> serial(
      ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf.get()), nullptr));
  EXPECT_FALSE(BN_is_negative(serial.get()));
  EXPECT_LE(BN_num_bits(serial.get()), 128);

  EXPECT_EQ(X509_NAME_cmp(X509_get_issuer_name(leaf.get()),
                          X509_get_subject_name(ca_cert.get())),
            0);
  EXPECT_EQ(X509_NAME_entry_count(X509_get_subject_name(leaf.get())), 0);

  const int64_t now_s = absl::ToUnixSeconds(now);
  EXPECT_EQ(UnixSeconds(X509_get0_notBefore(leaf.get())), now_s - 120);
  EXPECT_EQ(UnixSeconds(X509_get0_notAfter(leaf.get())), now_s + 86400);
  EXPECT_EQ(ASN1_STRING_type(X509_get0_notAfter(leaf.get())), V_ASN1_UTCTIME);

  EXPECT_EQ(EVP_PKEY_eq(X509_get0_pubkey(leaf.get()),
                        testkit::CachedCsrKey(param.csr_key)),
            1);
  EXPECT_EQ(X509_get_signature_nid(leaf.get()), param.signature_nid);

  // Extensions in Go's order, with Go's criticality.
  const std::vector<std::pair<int, int>> expected = {
      {NID_key_usage, 1},
      {NID_ext_key_usage, 0},
      {NID_basic_constraints, 1},
      {NID_authority_key_identifier, 0},
      {NID_subject_alt_name, 1}};
  ASSERT_EQ(X509_get_ext_count(leaf.get()), static_cast<int>(expected.size()));
  for (size_t i = 0; i < expected.size(); ++i) {
    X509_EXTENSION* ext = X509_get_ext(leaf.get(), static_cast<int>(i));
    EXPECT_EQ(OBJ_obj2nid(X509_EXTENSION_get_object(ext)), expected[i].first)
        << i;
    EXPECT_EQ(X509_EXTENSION_get_critical(ext), expected[i].second) << i;
  }
  EXPECT_EQ(X509_get_ext_by_NID(leaf.get(), NID_subject_key_identifier, -1),
            -1);

  EXPECT_EQ(X509_get_key_usage(leaf.get()),
            static_cast<uint32_t>(KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT));
  SslUniquePtr<EXTENDED_KEY_USAGE> eku(static_cast<EXTENDED_KEY_USAGE*>(
      X509_get_ext_d2i(leaf.get(), NID_ext_key_usage, nullptr, nullptr)));
  ASSERT_EQ(sk_ASN1_OBJECT_num(eku.get()), 2);
  EXPECT_EQ(OBJ_obj2nid(sk_ASN1_OBJECT_value(eku.get(), 0)), NID_server_auth);
  EXPECT_EQ(OBJ_obj2nid(sk_ASN1_OBJECT_value(eku.get(), 1)), NID_client_auth);
  SslUniquePtr<BASIC_CONSTRAINTS> bc(static_cast<BASIC_CONSTRAINTS*>(
      X509_get_ext_d2i(leaf.get(), NID_basic_constraints, nullptr, nullptr)));
  ASSERT_NE(bc, nullptr);
  EXPECT_EQ(bc->ca, 0);
  EXPECT_EQ(bc->pathlen, nullptr);
  SslUniquePtr<AUTHORITY_KEYID> aki(
      static_cast<AUTHORITY_KEYID*>(X509_get_ext_d2i(
          leaf.get(), NID_authority_key_identifier, nullptr, nullptr)));
  ASSERT_NE(aki, nullptr);
  ASSERT_NE(aki->keyid, nullptr);
  EXPECT_EQ(Octets(aki->keyid),
            Octets(X509_get0_subject_key_id(ca_cert.get())));
  EXPECT_EQ(aki->issuer, nullptr);
  EXPECT_EQ(aki->serial, nullptr);

  EXPECT_THAT(Sans(leaf.get()),
              ::testing::ElementsAre(absl::StrCat("URI:", kSpiffeId),
                                     "IP:0a010203",
                                     "IP:20010db8000000000000000000000001",
                                     "IP:0a000009", "DNS:sleep.default.svc"));

  // The encoding is canonical DER: OpenSSL re-encodes it byte for byte.
  unsigned char* der = nullptr;
  const int der_len = i2d_X509(leaf.get(), &der);
  const std::string reencoded(reinterpret_cast<char*>(der), der_len);
  OPENSSL_free(der);
  x509::PemBlock block;
  ASSERT_EQ(x509::DecodeFirstPemBlock(chain->cert_chain[0], &block),
            x509::PemDecodeResult::kOk);
  EXPECT_EQ(block.der, reencoded);

  // Verified in-process for both TLS roles.
  for (const int purpose : {X509_PURPOSE_SSL_CLIENT, X509_PURPOSE_SSL_SERVER}) {
    SslUniquePtr<X509_STORE> store(X509_STORE_new());
    X509_STORE_add_cert(store.get(), ca_cert.get());
    SslUniquePtr<X509_STORE_CTX> ctx(X509_STORE_CTX_new());
    ASSERT_EQ(X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), nullptr),
              1);
    X509_STORE_CTX_set_purpose(ctx.get(), purpose);
    EXPECT_EQ(X509_verify_cert(ctx.get()), 1)
        << X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
  }
  // And by the openssl CLI.
  for (const char* purpose : {"sslclient", "sslserver"}) {
    const std::string output =
        CliVerify(purpose, material.root_bundle_pem, "", chain->cert_chain[0]);
    EXPECT_THAT(output, ::testing::HasSubstr("leaf.pem: OK")) << output;
    EXPECT_THAT(output, ::testing::EndsWith("exit 0")) << output;
  }
}

INSTANTIATE_TEST_SUITE_P(
    CaAndCsrKeys, LeafProfileTest,
    ::testing::Values(
        ProfileCase{KeyType::kRsa, "RSA:2048", NID_sha256WithRSAEncryption},
        ProfileCase{KeyType::kRsa, "EC:P-256", NID_sha256WithRSAEncryption},
        ProfileCase{KeyType::kEcP256, "RSA:2048", NID_ecdsa_with_SHA256},
        ProfileCase{KeyType::kEcP256, "EC:P-256", NID_ecdsa_with_SHA256},
        ProfileCase{KeyType::kEcP384, "EC:P-384", NID_ecdsa_with_SHA384},
        ProfileCase{KeyType::kEcP384, "RSA:2048", NID_ecdsa_with_SHA384},
        ProfileCase{KeyType::kEd25519, "EC:P-256", NID_ED25519}));

// A plugged-in intermediate: the CLI verifies the leaf against the root
// with the response's middle elements as the untrusted chain.
TEST(LeafCliTest, IntermediateChainVerifiesWithOpensslCli) {
  const absl::Time now = absl::Now();
  const CaMaterialPem root = testkit::Root(KeyType::kRsa, now);
  const CaMaterialPem intermediate =
      testkit::Intermediate(root, KeyType::kEcP384, now);
  auto bundle = KeyCertBundle::Create(intermediate);
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  auto ca = LocalCertificateAuthority::New(*bundle);
  ASSERT_TRUE(ca.ok()) << ca.status();
  absl::StatusOr<VerifiedCsr> verified =
      (*ca)->policy().VerifyCsr(testkit::TestCsrPem());
  ASSERT_TRUE(verified.ok()) << verified.status();
  SignRequest request;
  request.csr = *std::move(verified);
  request.identities = {kSpiffeId};
  absl::StatusOr<SignedChain> chain = (*ca)->Sign(request);
  ASSERT_TRUE(chain.ok()) << chain.status();
  ASSERT_GE(chain->cert_chain.size(), 3u);
  std::string untrusted;
  for (size_t i = 1; i + 1 < chain->cert_chain.size(); ++i) {
    untrusted += chain->cert_chain[i];
  }
  SslUniquePtr<X509> leaf = ParseCert(chain->cert_chain[0]);
  EXPECT_EQ(X509_get_signature_nid(leaf.get()), NID_ecdsa_with_SHA384);
  for (const char* purpose : {"sslclient", "sslserver"}) {
    const std::string output = CliVerify(purpose, chain->cert_chain.back(),
                                         untrusted, chain->cert_chain[0]);
    EXPECT_THAT(output, ::testing::HasSubstr("leaf.pem: OK")) << output;
    EXPECT_THAT(output, ::testing::EndsWith("exit 0")) << output;
  }
  // Without the intermediates the leaf does not verify: the check bites.
  const std::string output = CliVerify("sslclient", chain->cert_chain.back(),
                                       "", chain->cert_chain[0]);
  EXPECT_THAT(output, ::testing::Not(::testing::EndsWith("exit 0"))) << output;
}

std::unique_ptr<LocalCertificateAuthority> MakeCa(const CaMaterialPem& m) {
  auto bundle = KeyCertBundle::Create(m);
  EXPECT_TRUE(bundle.ok()) << bundle.status();
  auto ca = LocalCertificateAuthority::New(*bundle);
  EXPECT_TRUE(ca.ok()) << ca.status();
  return *std::move(ca);
}

SslUniquePtr<X509> SignOne(LocalCertificateAuthority& ca,
                           const testkit::TestCsrOptions& csr,
                           std::vector<std::string> identities) {
  absl::StatusOr<VerifiedCsr> verified =
      ca.policy().VerifyCsr(testkit::TestCsrPem(csr));
  EXPECT_TRUE(verified.ok()) << verified.status();
  if (!verified.ok()) return nullptr;
  SignRequest request;
  request.csr = *std::move(verified);
  request.identities = std::move(identities);
  absl::StatusOr<SignedChain> chain = ca.Sign(request);
  EXPECT_TRUE(chain.ok()) << chain.status();
  if (!chain.ok()) return nullptr;
  return ParseCert(chain->cert_chain[0]);
}

std::string CommonName(X509* cert, int* type) {
  X509_NAME* name = X509_get_subject_name(cert);
  const int index = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (index < 0) return "<none>";
  const ASN1_STRING* value =
      X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
  *type = ASN1_STRING_type(value);
  return Octets(value);
}

TEST(LeafSubjectTest, CommonNameOnlyWhenTheCsrHasOne) {
  auto ca = MakeCa(testkit::Root(KeyType::kEcP256));
  testkit::TestCsrOptions with_cn;
  with_cn.common_names = {"anything"};
  int type = 0;

  SslUniquePtr<X509> leaf = SignOne(*ca, with_cn, {kSpiffeId, "b.svc"});
  ASSERT_NE(leaf, nullptr);
  EXPECT_EQ(CommonName(leaf.get(), &type), kSpiffeId);
  EXPECT_EQ(type, V_ASN1_PRINTABLESTRING);
  EXPECT_EQ(X509_NAME_entry_count(X509_get_subject_name(leaf.get())), 1);

  leaf = SignOne(*ca, with_cn, {"spiffe://td/ns/my_ns/sa/x"});
  ASSERT_NE(leaf, nullptr);
  EXPECT_EQ(CommonName(leaf.get(), &type), "spiffe://td/ns/my_ns/sa/x");
  EXPECT_EQ(type, V_ASN1_UTF8STRING);

  // Over 64 characters: istiod omits the CN.
  const std::string long_id =
      "spiffe://cluster.local/ns/a-rather-long-namespace/sa/long-account";
  ASSERT_GT(long_id.size(), 64u);
  leaf = SignOne(*ca, with_cn, {long_id});
  ASSERT_NE(leaf, nullptr);
  EXPECT_EQ(X509_NAME_entry_count(X509_get_subject_name(leaf.get())), 0);

  leaf = SignOne(*ca, testkit::TestCsrOptions(), {kSpiffeId});
  ASSERT_NE(leaf, nullptr);
  EXPECT_EQ(X509_NAME_entry_count(X509_get_subject_name(leaf.get())), 0);
}

TEST(LeafAkiTest, NoAuthorityKeyIdWhenTheIssuerHasNoSki) {
  auto ca = MakeCa(testkit::RootWithoutSki());
  SslUniquePtr<X509> leaf =
      SignOne(*ca, testkit::TestCsrOptions(), {kSpiffeId});
  ASSERT_NE(leaf, nullptr);
  EXPECT_EQ(X509_get_ext_count(leaf.get()), 4);
  EXPECT_EQ(X509_get_ext_by_NID(leaf.get(), NID_authority_key_identifier, -1),
            -1);
}

TEST(LeafSerialTest, UniformOver128Bits) {
  auto ca = MakeCa(testkit::Root(KeyType::kEcP256));
  std::set<std::string> serials;
  bool saw_top_bit = false;
  constexpr int kLeaves = 64;
  for (int i = 0; i < kLeaves; ++i) {
    SslUniquePtr<X509> leaf =
        SignOne(*ca, testkit::TestCsrOptions(), {kSpiffeId});
    ASSERT_NE(leaf, nullptr);
    SslUniquePtr<BIGNUM> serial(
        ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf.get()), nullptr));
    ASSERT_FALSE(BN_is_negative(serial.get()));
    ASSERT_LE(BN_num_bits(serial.get()), 128);
    saw_top_bit = saw_top_bit || BN_num_bits(serial.get()) == 128;
    char* hex = BN_bn2hex(serial.get());
    serials.insert(hex);
    OPENSSL_free(hex);
  }
  EXPECT_EQ(serials.size(), static_cast<size_t>(kLeaves));
  // Fails with probability 2^-64 when serials use all 128 bits.
  EXPECT_TRUE(saw_top_bit);
}

}  // namespace
}  // namespace ca
}  // namespace vaultca
