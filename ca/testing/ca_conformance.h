#ifndef VAULTCA_CA_TESTING_CA_CONFORMANCE_H_
#define VAULTCA_CA_TESTING_CA_CONFORMANCE_H_

// The conformance suite every CertificateAuthority must pass. A CA's test
// defines a Harness and instantiates the suite:
//
//   INSTANTIATE_TYPED_TEST_SUITE_P(Local, CaConformanceTest,
//                                  ::testing::Types<LocalCaHarness>);
//
// A Harness provides:
//
//   // Suite-wide set-up and tear-down of the backend (a real Vault, ...).
//   static void SetUpTestSuite();
//   static void TearDownTestSuite();
//   // OK when the backend is up. Otherwise the reason; with `*skip` set
//   // the tests are skipped (a missing optional dependency), else failed.
//   static absl::Status Ready(bool* skip);
//   // A CA over the harness's CA material (the same for every call)
//   // applying an issuance policy built from `policy`; null (with a gtest
//   // failure) when it cannot be built.
//   std::unique_ptr<CertificateAuthority> NewCa(IssuancePolicyOptions policy);

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "ca/certificate_authority.h"
#include "ca/issuance_policy.h"
#include "common/sync.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/csr.h"
#include "testing/signing.h"
#include "x509/pem.h"
#include "x509/x509_util.h"

namespace vaultca {
namespace ca {
namespace testing {

// What a leaf says about itself.
struct LeafFacts {
  absl::Time not_after;
  std::string serial_hex;
  std::vector<std::string> uri_sans;
};

inline absl::StatusOr<LeafFacts> ReadLeaf(const std::string& pem) {
  auto leaf = x509::ParseCertificate(pem, "leaf");
  if (!leaf.ok()) return leaf.status();
  LeafFacts facts;
  absl::StatusOr<absl::Time> not_after =
      x509::Asn1TimeToTime(X509_get0_notAfter(leaf->get()));
  if (!not_after.ok()) return not_after.status();
  facts.not_after = *not_after;
  facts.serial_hex = x509::SerialHex(leaf->get());
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(
      leaf->get(), NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    if (name->type != GEN_URI) continue;
    const ASN1_IA5STRING* uri = name->d.uniformResourceIdentifier;
    facts.uri_sans.emplace_back(
        reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
        static_cast<size_t>(ASN1_STRING_length(uri)));
  }
  GENERAL_NAMES_free(names);
  return facts;
}

template <typename Harness>
class CaConformanceTest : public ::testing::Test {
 protected:
  static constexpr char kIdentity[] =
      "spiffe://cluster.local/ns/conformance/sa/workload";

  static void SetUpTestSuite() { Harness::SetUpTestSuite(); }
  static void TearDownTestSuite() { Harness::TearDownTestSuite(); }

  void SetUp() override {
    bool skip = false;
    absl::Status ready = Harness::Ready(&skip);
    if (!ready.ok() && skip) GTEST_SKIP() << ready;
    ASSERT_TRUE(ready.ok()) << ready;
  }

  std::unique_ptr<CertificateAuthority> NewCa(
      IssuancePolicyOptions policy = IssuancePolicyOptions()) {
    return harness_.NewCa(std::move(policy));
  }

  // A request for testkit::TestCsrPem() verified by `ca`'s policy.
  static SignRequest Request(const CertificateAuthority& ca,
                             absl::Duration ttl = absl::Hours(1)) {
    return testkit::RequestFor(ca, testkit::TestCsrPem(), {kIdentity}, ttl);
  }

  // Signs Request(ttl) and returns the issued lifetime: NotAfter minus the
  // time just before signing.
  static absl::StatusOr<absl::Duration> IssuedLifetime(CertificateAuthority& ca,
                                                       absl::Duration ttl) {
    const absl::Time before = absl::Now();
    absl::StatusOr<SignedChain> chain = ca.Sign(Request(ca, ttl));
    if (!chain.ok()) return chain.status();
    absl::StatusOr<LeafFacts> leaf = ReadLeaf(chain->cert_chain.front());
    if (!leaf.ok()) return leaf.status();
    return leaf->not_after - before;
  }

  Harness harness_;
};

TYPED_TEST_SUITE_P(CaConformanceTest);

// The certificate and time skew a remote signer may add: Vault rounds
// NotAfter to the second and the request takes a round trip.
constexpr absl::Duration kLifetimeSlack = absl::Seconds(30);

TYPED_TEST_P(CaConformanceTest, SignsAValidCsrInIstioOrder) {
  std::unique_ptr<CertificateAuthority> ca = this->NewCa();
  ASSERT_NE(ca, nullptr);
  absl::StatusOr<std::string> roots = ca->RootBundlePem();
  ASSERT_TRUE(roots.ok()) << roots.status();
  ASSERT_FALSE(roots->empty());

  absl::StatusOr<SignedChain> chain = ca->Sign(this->Request(*ca));
  ASSERT_TRUE(chain.ok()) << chain.status();
  // [leaf, intermediates..., root bundle], each element newline-terminated.
  ASSERT_GE(chain->cert_chain.size(), 2u);
  EXPECT_EQ(chain->cert_chain.back(), *roots);
  for (const std::string& element : chain->cert_chain) {
    EXPECT_FALSE(element.empty());
    if (!element.empty()) EXPECT_EQ(element.back(), '\n');
  }
  // Verifies through the chain to the published roots and carries the
  // CSR's key.
  EXPECT_TRUE(testkit::VerifyIssued(*chain, *roots).ok())
      << testkit::VerifyIssued(*chain, *roots);
  absl::StatusOr<LeafFacts> leaf = ReadLeaf(chain->cert_chain.front());
  ASSERT_TRUE(leaf.ok()) << leaf.status();
  EXPECT_THAT(leaf->uri_sans, ::testing::ElementsAre(this->kIdentity));
  // The root bundle is stable between calls.
  EXPECT_EQ(*ca->RootBundlePem(), *roots);
}

TYPED_TEST_P(CaConformanceTest, IssuesTheLifetimeThePolicySettles) {
  IssuancePolicyOptions options;
  options.default_ttl = absl::Hours(3);
  options.max_ttl = absl::Hours(5);
  std::unique_ptr<CertificateAuthority> ca = this->NewCa(options);
  ASSERT_NE(ca, nullptr);
  for (const auto& [requested, expected] :
       std::vector<std::pair<absl::Duration, absl::Duration>>{
           {absl::Hours(2), absl::Hours(2)},
           {absl::ZeroDuration(), absl::Hours(3)},
           {absl::Hours(5), absl::Hours(5)}}) {
    absl::StatusOr<absl::Duration> lifetime =
        this->IssuedLifetime(*ca, requested);
    ASSERT_TRUE(lifetime.ok()) << lifetime.status();
    EXPECT_LE(absl::AbsDuration(*lifetime - expected), kLifetimeSlack)
        << "asked for " << requested << ", got " << *lifetime;
  }
}

TYPED_TEST_P(CaConformanceTest, TtlAboveTheMaximumIsThePolicysError) {
  IssuancePolicyOptions options;
  options.max_ttl = absl::Hours(2);
  options.default_ttl = absl::Hours(1);
  std::unique_ptr<CertificateAuthority> ca = this->NewCa(options);
  ASSERT_NE(ca, nullptr);
  EXPECT_TRUE(ca->policy().RefusesTtl(absl::Hours(3)));
  absl::Status status = ca->Sign(this->Request(*ca, absl::Hours(3))).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status, ca->policy()
                        .ResolveTtl(absl::Hours(3), absl::Now(),
                                    absl::InfiniteFuture())
                        .status());
  EXPECT_EQ(status.message(),
            "requested TTL 3h is above the maximum 2h; ask for a shorter "
            "validity_duration");

  options.ttl_mode = TtlMode::kClamp;
  std::unique_ptr<CertificateAuthority> clamping = this->NewCa(options);
  ASSERT_NE(clamping, nullptr);
  EXPECT_FALSE(clamping->policy().RefusesTtl(absl::Hours(3)));
  absl::StatusOr<absl::Duration> lifetime =
      this->IssuedLifetime(*clamping, absl::Hours(3));
  ASSERT_TRUE(lifetime.ok()) << lifetime.status();
  EXPECT_LE(absl::AbsDuration(*lifetime - absl::Hours(2)), kLifetimeSlack)
      << *lifetime;
}

TYPED_TEST_P(CaConformanceTest, BadCsrsAreInvalidArgument) {
  std::unique_ptr<CertificateAuthority> ca = this->NewCa();
  ASSERT_NE(ca, nullptr);
  const IssuancePolicy& policy = ca->policy();
  for (const std::string& bad :
       {std::string(), std::string("not a CSR"),
        testkit::WithBrokenSignature(testkit::TestCsrPem())}) {
    EXPECT_EQ(policy.VerifyCsr(bad).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
  testkit::TestCsrOptions weak;
  weak.key = "RSA:1024";
  const std::string weak_pem = testkit::TestCsrPem(weak);
  absl::Status refused = policy.VerifyCsr(weak_pem).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);

  // No CSR at all.
  SignRequest request = this->Request(*ca);
  request.csr.reset();
  EXPECT_EQ(ca->Sign(request).status().code(),
            absl::StatusCode::kInvalidArgument);

  // A CSR verified under a laxer policy: the CA's own key policy still
  // refuses it, with the message its VerifyCsr gives.
  IssuancePolicyOptions lax;
  lax.csr.min_rsa_bits = 1024;
  absl::StatusOr<std::shared_ptr<const IssuancePolicy>> lax_policy =
      IssuancePolicy::New(lax);
  ASSERT_TRUE(lax_policy.ok()) << lax_policy.status();
  request.csr = testkit::MustVerify(weak_pem, lax_policy->get());
  ASSERT_TRUE(request.csr.has_value());
  EXPECT_EQ(ca->Sign(request).status(), refused);
}

TYPED_TEST_P(CaConformanceTest, EmptyIdentitiesAreRefused) {
  std::unique_ptr<CertificateAuthority> ca = this->NewCa();
  ASSERT_NE(ca, nullptr);
  SignRequest request = this->Request(*ca);
  request.identities.clear();
  absl::Status status = ca->Sign(request).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "no identities to certify: the request must name at least one");
  request.identities = {""};
  EXPECT_EQ(ca->Sign(request).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TYPED_TEST_P(CaConformanceTest, PolicyIsTheOneGivenAndStable) {
  IssuancePolicyOptions options;
  options.default_ttl = absl::Hours(2);
  options.max_ttl = absl::Hours(4);
  options.ttl_mode = TtlMode::kClamp;
  options.csr.allow_ecdsa_p384 = false;
  std::unique_ptr<CertificateAuthority> ca = this->NewCa(options);
  ASSERT_NE(ca, nullptr);
  const IssuancePolicy* policy = &ca->policy();
  EXPECT_EQ(policy->options().default_ttl, absl::Hours(2));
  EXPECT_EQ(policy->options().max_ttl, absl::Hours(4));
  EXPECT_EQ(policy->options().ttl_mode, TtlMode::kClamp);
  EXPECT_FALSE(policy->options().csr.allow_ecdsa_p384);
  ASSERT_TRUE(ca->Sign(this->Request(*ca)).ok());
  EXPECT_EQ(&ca->policy(), policy);
}

TYPED_TEST_P(CaConformanceTest, ConcurrentSignsAreSafe) {
  std::unique_ptr<CertificateAuthority> ca = this->NewCa();
  ASSERT_NE(ca, nullptr);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 5;
  // Verified before the threads start: they exercise Sign only.
  const SignRequest request = this->Request(*ca);
  absl::StatusOr<std::string> roots = ca->RootBundlePem();
  ASSERT_TRUE(roots.ok()) << roots.status();
  Mutex mu;
  std::set<std::string> serials;
  std::vector<std::string> errors;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        absl::StatusOr<SignedChain> chain = ca->Sign(request);
        absl::Status status =
            chain.ok() ? testkit::VerifyIssued(*chain, *roots) : chain.status();
        absl::StatusOr<LeafFacts> leaf =
            chain.ok() ? ReadLeaf(chain->cert_chain.front())
                       : absl::StatusOr<LeafFacts>(chain.status());
        MutexLock lock(&mu);
        if (!status.ok()) errors.push_back(status.ToString());
        if (leaf.ok()) serials.insert(leaf->serial_hex);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  MutexLock lock(&mu);
  EXPECT_THAT(errors, ::testing::IsEmpty());
  EXPECT_EQ(serials.size(), static_cast<size_t>(kThreads * kPerThread));
}

REGISTER_TYPED_TEST_SUITE_P(CaConformanceTest, SignsAValidCsrInIstioOrder,
                            IssuesTheLifetimeThePolicySettles,
                            TtlAboveTheMaximumIsThePolicysError,
                            BadCsrsAreInvalidArgument,
                            EmptyIdentitiesAreRefused,
                            PolicyIsTheOneGivenAndStable,
                            ConcurrentSignsAreSafe);

}  // namespace testing
}  // namespace ca
}  // namespace vaultca

#endif  // VAULTCA_CA_TESTING_CA_CONFORMANCE_H_
