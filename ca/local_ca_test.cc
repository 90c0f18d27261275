// LocalCertificateAuthority: TTL rules, chain layout, refusals, threads.
// (The certificate profile itself is in local_ca_profile_test.cc.)

#include "ca/local_ca.h"

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <atomic>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/internal/ssl_unique_ptr.h"
#include "common/sync.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/csr.h"
#include "testing/signing.h"
#include "testing/test_pki.h"

namespace vaultca {
namespace ca {
namespace {

using ::vaultca::internal::SslUniquePtr;

constexpr char kSpiffeId[] = "spiffe://cluster.local/ns/default/sa/sleep";

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

// A CA over `material` whose clock reads `*now`.
std::unique_ptr<LocalCertificateAuthority> MakeCa(
    const CaMaterialPem& material, const absl::Time* now,
    IssuancePolicyOptions options = IssuancePolicyOptions()) {
  auto bundle = KeyCertBundle::Create(material, *now);
  EXPECT_TRUE(bundle.ok()) << bundle.status();
  options.clock = [now] { return *now; };
  auto ca = LocalCertificateAuthority::New(*bundle, options);
  EXPECT_TRUE(ca.ok()) << ca.status();
  return *std::move(ca);
}

SignRequest Request(absl::Duration ttl = absl::ZeroDuration()) {
  SignRequest request;
  request.csr = testkit::MustVerify(testkit::TestCsrPem());
  request.identities = {kSpiffeId};
  request.requested_ttl = ttl;
  return request;
}

class TtlTest : public ::testing::Test {
 protected:
  // Whole seconds, so NotAfter arithmetic is exact.
  absl::Time now_ = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()));

  // The issued lifetime (NotAfter - now) for `request` on `ca`.
  absl::StatusOr<absl::Duration> Lifetime(LocalCertificateAuthority& ca,
                                          absl::Duration requested) {
    absl::StatusOr<SignedChain> chain = ca.Sign(Request(requested));
    if (!chain.ok()) return chain.status();
    SslUniquePtr<X509> leaf = ParseCert(chain->cert_chain[0]);
    EXPECT_EQ(UnixSeconds(X509_get0_notBefore(leaf.get())),
              absl::ToUnixSeconds(now_) - 120);
    return absl::Seconds(UnixSeconds(X509_get0_notAfter(leaf.get())) -
                         absl::ToUnixSeconds(now_));
  }
};

TEST_F(TtlTest, IstiodMode) {
  auto ca = MakeCa(testkit::Root(KeyType::kEcP256, now_), &now_);
  EXPECT_EQ(*Lifetime(*ca, absl::ZeroDuration()), absl::Hours(24));
  EXPECT_EQ(*Lifetime(*ca, -absl::Seconds(5)), absl::Hours(24));
  EXPECT_EQ(*Lifetime(*ca, absl::Hours(1)), absl::Hours(1));
  EXPECT_EQ(*Lifetime(*ca, absl::Hours(24 * 90)), absl::Hours(24 * 90));
  absl::StatusOr<absl::Duration> over =
      Lifetime(*ca, absl::Hours(24 * 90) + absl::Seconds(1));
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(over.status().message(),
            "requested TTL 2160h1s is above the maximum 2160h; ask for a "
            "shorter validity_duration");
}

TEST_F(TtlTest, ClampMode) {
  IssuancePolicyOptions options;
  options.ttl_mode = TtlMode::kClamp;
  options.default_ttl = absl::Minutes(30);
  options.max_ttl = absl::Hours(1);
  auto ca = MakeCa(testkit::Root(KeyType::kEcP256, now_), &now_, options);
  EXPECT_EQ(*Lifetime(*ca, absl::ZeroDuration()), absl::Minutes(30));
  EXPECT_EQ(*Lifetime(*ca, -absl::Hours(1)), absl::Minutes(30));
  EXPECT_EQ(*Lifetime(*ca, absl::Minutes(10)), absl::Minutes(10));
  EXPECT_EQ(*Lifetime(*ca, absl::Hours(48)), absl::Hours(1));
}

TEST_F(TtlTest, ClampedToTheSigningCertificate) {
  // The CA expires in 10 hours: the default TTL is lowered to that, and no
  // leaf outlives the CA even when a longer (allowed) TTL is asked for.
  const CaMaterialPem root =
      testkit::Root(KeyType::kEcP256, now_, 0, absl::Hours(10));
  auto ca = MakeCa(root, &now_);
  const absl::Time ca_not_after = absl::FromUnixSeconds(
      UnixSeconds(X509_get0_notAfter(ParseCert(root.cert_pem).get())));
  const absl::Duration remaining = ca_not_after - now_;
  ASSERT_LT(remaining, absl::Hours(24));
  EXPECT_EQ(*Lifetime(*ca, absl::ZeroDuration()), remaining);
  EXPECT_EQ(*Lifetime(*ca, absl::Hours(5)), absl::Hours(5));
  EXPECT_EQ(*Lifetime(*ca, absl::Hours(20)), remaining);
}

TEST_F(TtlTest, ExpiredSigningCertificate) {
  const CaMaterialPem root =
      testkit::Root(KeyType::kEcP256, now_, 0, absl::Hours(1));
  auto ca = MakeCa(root, &now_);
  now_ += absl::Hours(2);
  absl::StatusOr<SignedChain> chain = ca->Sign(Request());
  ASSERT_FALSE(chain.ok());
  EXPECT_EQ(chain.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(chain.status().message()),
              ::testing::StartsWith("the signing certificate expired at "));
  EXPECT_THAT(std::string(chain.status().message()),
              ::testing::EndsWith("; rotate the CA material"));
}

TEST(LocalCaChainTest, SelfSignedAnswersLeafAndRoot) {
  const absl::Time now = absl::Now();
  const CaMaterialPem root = testkit::Root(KeyType::kRsa, now);
  auto ca = MakeCa(root, &now);
  absl::StatusOr<SignedChain> chain = ca->Sign(Request());
  ASSERT_TRUE(chain.ok()) << chain.status();
  ASSERT_EQ(chain->cert_chain.size(), 2u);
  EXPECT_THAT(chain->cert_chain[0],
              ::testing::StartsWith("-----BEGIN CERTIFICATE-----\n"));
  EXPECT_THAT(chain->cert_chain[0],
              ::testing::EndsWith("-----END CERTIFICATE-----\n"));
  EXPECT_EQ(chain->cert_chain[1], root.root_bundle_pem);
  EXPECT_EQ(*ca->RootBundlePem(), root.root_bundle_pem);
}

TEST(LocalCaChainTest, PluggedInIntermediateRepeatsTheRoot) {
  const absl::Time now = absl::Now();
  const CaMaterialPem root = testkit::Root(KeyType::kRsa, now);
  const CaMaterialPem intermediate =
      testkit::Intermediate(root, KeyType::kEcP256, now);
  auto bundle = KeyCertBundle::Create(intermediate, now);
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  ASSERT_FALSE((*bundle)->chain_pems().empty());
  auto ca = MakeCa(intermediate, &now);
  absl::StatusOr<SignedChain> chain = ca->Sign(Request());
  ASSERT_TRUE(chain.ok()) << chain.status();

  // [leaf, each chain cert, root bundle]; cert-chain.pem ends with the
  // root, so the root appears twice, as istiod answers.
  const std::vector<std::string>& chain_pems = (*bundle)->chain_pems();
  ASSERT_EQ(chain->cert_chain.size(), chain_pems.size() + 2);
  for (size_t i = 0; i < chain_pems.size(); ++i) {
    EXPECT_EQ(chain->cert_chain[i + 1], chain_pems[i]) << i;
  }
  EXPECT_EQ(chain->cert_chain.back(), root.root_bundle_pem);
  EXPECT_EQ(chain->cert_chain[chain->cert_chain.size() - 2],
            root.root_bundle_pem);
  for (const std::string& element : chain->cert_chain) {
    EXPECT_EQ(element.back(), '\n');
  }

  // The leaf chains up: issuer = intermediate, verifies with its key.
  SslUniquePtr<X509> leaf = ParseCert(chain->cert_chain[0]);
  SslUniquePtr<X509> issuer = ParseCert(chain->cert_chain[1]);
  EXPECT_EQ(X509_check_issued(issuer.get(), leaf.get()), X509_V_OK);
  EXPECT_EQ(X509_verify(leaf.get(), X509_get0_pubkey(issuer.get())), 1);
  // And verifies to the root through the returned chain.
  SslUniquePtr<X509_STORE> store(X509_STORE_new());
  SslUniquePtr<X509> root_cert = ParseCert(root.root_bundle_pem);
  X509_STORE_add_cert(store.get(), root_cert.get());
  SslUniquePtr<STACK_OF(X509)> untrusted(sk_X509_new_null());
  for (size_t i = 1; i + 1 < chain->cert_chain.size(); ++i) {
    sk_X509_push(untrusted.get(), ParseCert(chain->cert_chain[i]).release());
  }
  SslUniquePtr<X509_STORE_CTX> ctx(X509_STORE_CTX_new());
  ASSERT_EQ(X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(),
                                untrusted.get()),
            1);
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_CLIENT);
  EXPECT_EQ(X509_verify_cert(ctx.get()), 1)
      << X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
}

TEST(LocalCaRefusalTest, BadCsrAndIdentities) {
  const absl::Time now = absl::Now();
  auto ca = MakeCa(testkit::Root(KeyType::kEcP256, now), &now);

  SignRequest request = Request();
  request.identities.clear();
  absl::StatusOr<SignedChain> chain = ca->Sign(request);
  EXPECT_EQ(chain.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(chain.status().message(),
            "no identities to certify: the request must name at least one");

  request = Request();
  request.csr.reset();
  chain = ca->Sign(request);
  EXPECT_EQ(chain.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(chain.status().message()),
              ::testing::HasSubstr("carries no CSR"));

  // A bad CSR never becomes a request: the CA's policy refuses it.
  absl::StatusOr<VerifiedCsr> csr = ca->policy().VerifyCsr("");
  EXPECT_EQ(csr.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(csr.status().message(),
            "CSR is empty: send a PEM \"CERTIFICATE REQUEST\" block");

  csr = ca->policy().VerifyCsr(
      testkit::WithBrokenSignature(testkit::TestCsrPem()));
  EXPECT_EQ(csr.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(csr.status().message()),
              ::testing::StartsWith("CSR signature does not verify"));
}

TEST(LocalCaRefusalTest, CsrPolicyComesFromTheOptions) {
  const absl::Time now = absl::Now();
  testkit::TestCsrOptions ed25519;
  ed25519.key = "ED25519";
  const std::string pem = testkit::TestCsrPem(ed25519);

  auto strict = MakeCa(testkit::Root(KeyType::kEcP256, now), &now);
  EXPECT_EQ(strict->policy().VerifyCsr(pem).status().code(),
            absl::StatusCode::kInvalidArgument);

  IssuancePolicyOptions options;
  options.csr.allow_ed25519 = true;
  auto lenient =
      MakeCa(testkit::Root(KeyType::kEcP256, now), &now, options);
  SignRequest request = Request();
  request.csr = testkit::MustVerify(pem, &lenient->policy());
  EXPECT_TRUE(lenient->Sign(request).ok());
}

TEST(LocalCaRefusalTest, CsrVerifiedUnderALaxerPolicyIsRefused) {
  const absl::Time now = absl::Now();
  testkit::TestCsrOptions ed25519;
  ed25519.key = "ED25519";
  IssuancePolicyOptions lenient_options;
  lenient_options.csr.allow_ed25519 = true;
  auto lenient_policy = IssuancePolicy::New(lenient_options);
  ASSERT_TRUE(lenient_policy.ok()) << lenient_policy.status();
  SignRequest request = Request();
  request.csr =
      testkit::MustVerify(testkit::TestCsrPem(ed25519), lenient_policy->get());
  ASSERT_TRUE(request.csr.has_value());

  // The strict CA's own key policy refuses it, with Parse's message.
  auto strict = MakeCa(testkit::Root(KeyType::kEcP256, now), &now);
  absl::Status refused = strict->Sign(request).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(refused, strict->policy()
                         .VerifyCsr(testkit::TestCsrPem(ed25519))
                         .status());

  // A CA whose policy allows the key signs the verified CSR as it is.
  auto lenient =
      MakeCa(testkit::Root(KeyType::kEcP256, now), &now, lenient_options);
  EXPECT_TRUE(lenient->Sign(request).ok());
}

TEST(LocalCaPolicyTest, RefusesInconsistentOptions) {
  const absl::Time now = absl::Now();
  auto bundle = KeyCertBundle::Create(testkit::Root(KeyType::kEcP256, now));
  ASSERT_TRUE(bundle.ok());
  EXPECT_EQ(LocalCertificateAuthority::New(nullptr).status().message(),
            "LocalCertificateAuthority needs CA material: the bundle is null");
  IssuancePolicyOptions options;
  options.default_ttl = absl::Hours(48);
  options.max_ttl = absl::Hours(24);
  absl::Status status =
      LocalCertificateAuthority::New(*bundle, options).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "issuance policy: default_ttl (48h) and max_ttl (24h) must be "
            "positive with default_ttl <= max_ttl");
  options.default_ttl = absl::ZeroDuration();
  EXPECT_FALSE(LocalCertificateAuthority::New(*bundle, options).ok());
}

TEST(LocalCaConcurrencyTest, EightThreadsShareOneCa) {
  const absl::Time now = absl::Now();
  auto ca = MakeCa(testkit::Root(KeyType::kEcP256, now), &now);
  // Build the CSRs first: the threads exercise Sign only.
  const std::vector<std::optional<VerifiedCsr>> csrs = {
      testkit::MustVerify(testkit::TestCsrPem()), testkit::MustVerify([] {
        testkit::TestCsrOptions rsa;
        rsa.key = "RSA:2048";
        return testkit::TestCsrPem(rsa);
      }())};
  constexpr int kThreads = 8;
  constexpr int kPerThread = 25;
  Mutex mu;
  std::set<std::string> serials;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        SignRequest request;
        request.csr = csrs[(t + i) % csrs.size()];
        request.identities = {absl::StrCat(kSpiffeId, "-", t)};
        absl::StatusOr<SignedChain> chain = ca->Sign(request);
        if (!chain.ok()) {
          ++failures;
          continue;
        }
        SslUniquePtr<X509> leaf = ParseCert(chain->cert_chain[0]);
        SslUniquePtr<BIGNUM> serial(
            ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf.get()), nullptr));
        char* hex = BN_bn2hex(serial.get());
        {
          MutexLock lock(&mu);
          serials.insert(hex);
        }
        OPENSSL_free(hex);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  MutexLock lock(&mu);
  EXPECT_EQ(serials.size(), static_cast<size_t>(kThreads * kPerThread));
}

}  // namespace
}  // namespace ca
}  // namespace vaultca
