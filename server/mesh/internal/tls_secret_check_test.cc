// The istiod-tls check against certificates a LocalCertificateAuthority
// issues (PKI generated here): each defect it must catch, one at a time.

#include "server/mesh/internal/tls_secret_check.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "ca/certificate_authority.h"
#include "ca/generate.h"
#include "ca/key_cert_bundle.h"
#include "ca/local_ca.h"
#include "ca/workload_csr.h"
#include "gtest/gtest.h"

namespace vaultca {
namespace server {
namespace mesh_internal {
namespace {

const std::vector<std::string> kNames = {"istiod.istio-system.svc",
                                         "istiod-canary.istio-system.svc"};

struct Pki {
  std::shared_ptr<const ca::KeyCertBundle> root;
  std::shared_ptr<const ca::KeyCertBundle> intermediate;
  std::unique_ptr<ca::LocalCertificateAuthority> ca;
};

Pki MakePki() {
  Pki pki;
  ca::RootOptions root_options;
  root_options.key_type = ca::KeyType::kEcP256;
  absl::StatusOr<ca::CaMaterialPem> root = ca::GenerateSelfSignedRoot(root_options);
  EXPECT_TRUE(root.ok()) << root.status();
  pki.root = *ca::KeyCertBundle::Create(*root);
  absl::StatusOr<ca::CaMaterialPem> inter =
      ca::GenerateIntermediate(*pki.root, ca::IntermediateOptions());
  EXPECT_TRUE(inter.ok()) << inter.status();
  pki.intermediate = *ca::KeyCertBundle::Create(*inter);
  pki.ca = *ca::LocalCertificateAuthority::New(pki.intermediate);
  return pki;
}

TlsSecretData Issue(ca::CertificateAuthority& ca, const std::string& root,
                    const std::vector<std::string>& names,
                    ca::KeyType key_type = ca::KeyType::kEcP256,
                    absl::Duration ttl = absl::Hours(1)) {
  ca::WorkloadCsrOptions options;
  options.identities = names;
  options.key_type = key_type;
  options.empty_subject = true;
  absl::StatusOr<ca::WorkloadCsr> csr = ca::GenerateWorkloadCsr(options);
  EXPECT_TRUE(csr.ok()) << csr.status();
  auto verified = ca.policy().VerifyCsr(csr->csr_pem);
  EXPECT_TRUE(verified.ok()) << verified.status();
  if (!verified.ok()) return {};
  ca::SignRequest request;
  request.csr = *std::move(verified);
  request.identities = names;
  request.requested_ttl = ttl;
  absl::StatusOr<ca::SignedChain> chain = ca.Sign(request);
  EXPECT_TRUE(chain.ok()) << chain.status();
  TlsSecretData data;
  data.tls_crt = *ServingChainPem(chain->cert_chain, root);
  data.tls_key = csr->key_pem;
  data.ca_crt = root;
  return data;
}

TlsWanted Want(const Pki& pki, ca::KeyType key_type = ca::KeyType::kEcP256) {
  TlsWanted wanted;
  wanted.dns_names = kNames;
  wanted.key_type = key_type;
  wanted.root_bundle_pem = pki.root->root_bundle_pem();
  wanted.signing_cert_pem = pki.intermediate->cert_pem();
  return wanted;
}

TEST(TlsSecretCheckTest, FreshCertificateIsUsable) {
  Pki pki = MakePki();
  const std::string root = pki.root->root_bundle_pem();
  TlsSecretData data = Issue(*pki.ca, root, kNames);
  // The leaf and the intermediate, not the root the CA's chain repeats.
  EXPECT_EQ(absl::StrContains(data.tls_crt, pki.intermediate->cert_pem()),
            true);
  EXPECT_FALSE(absl::StrContains(data.tls_crt, root));
  const TlsVerdict verdict = CheckTlsSecret(data, Want(pki), absl::Now());
  EXPECT_EQ(verdict.problem, "");
  EXPECT_GT(verdict.not_after, absl::Now() + absl::Minutes(59));
  EXPECT_LT(verdict.not_before, absl::Now());

  // Names in another order are the same set.
  TlsWanted reordered = Want(pki);
  std::swap(reordered.dns_names[0], reordered.dns_names[1]);
  EXPECT_EQ(CheckTlsSecret(data, reordered, absl::Now()).problem, "");
  // A CA whose signing certificate is unknown: any issuer under the root.
  TlsWanted any_signer = Want(pki);
  any_signer.signing_cert_pem.clear();
  EXPECT_EQ(CheckTlsSecret(data, any_signer, absl::Now()).problem, "");
}

TEST(TlsSecretCheckTest, EachDefectIsFound) {
  Pki pki = MakePki();
  const std::string root = pki.root->root_bundle_pem();
  const TlsSecretData good = Issue(*pki.ca, root, kNames);
  const TlsWanted wanted = Want(pki);
  const absl::Time now = absl::Now();
  auto problem = [&](const TlsSecretData& data, const TlsWanted& w,
                     absl::Time at) { return CheckTlsSecret(data, w, at).problem; };

  TlsSecretData data = good;
  data.tls_crt.clear();
  EXPECT_NE(problem(data, wanted, now), "");

  data = good;
  data.ca_crt = "";
  EXPECT_TRUE(absl::StrContains(problem(data, wanted, now), "ca.crt"));

  data = good;
  data.tls_crt += root;
  EXPECT_TRUE(absl::StrContains(problem(data, wanted, now), "root"));

  // Without the intermediate the leaf does not verify.
  data = good;
  data.tls_crt = data.tls_crt.substr(
      0, data.tls_crt.find(pki.intermediate->cert_pem()));
  EXPECT_TRUE(absl::StrContains(problem(data, wanted, now), "verify"));

  TlsWanted more = wanted;
  more.dns_names.push_back("istiod-remote.istio-system.svc");
  EXPECT_TRUE(absl::StrContains(problem(good, more, now), "SANs"));

  TlsWanted rsa = wanted;
  rsa.key_type = ca::KeyType::kRsa;
  EXPECT_TRUE(absl::StrContains(problem(good, rsa, now), "key"));

  data = good;
  data.tls_key = Issue(*pki.ca, root, kNames).tls_key;
  EXPECT_TRUE(absl::StrContains(problem(data, wanted, now), "tls.key"));
  data.tls_key = SecretData("not a key");
  EXPECT_TRUE(absl::StrContains(problem(data, wanted, now), "PKCS#8"));

  EXPECT_TRUE(absl::StrContains(problem(good, wanted, now + absl::Hours(2)),
                                "verify"));

  // Same root, another intermediate: issued by a signer no longer in use.
  absl::StatusOr<ca::CaMaterialPem> other =
      ca::GenerateIntermediate(*pki.root, ca::IntermediateOptions());
  ASSERT_TRUE(other.ok());
  TlsWanted rotated = wanted;
  rotated.signing_cert_pem = (*ca::KeyCertBundle::Create(*other))->cert_pem();
  EXPECT_TRUE(
      absl::StrContains(problem(good, rotated, now), "signing certificate"));

  // Another root altogether.
  Pki elsewhere = MakePki();
  EXPECT_NE(problem(good, Want(elsewhere), now), "");

  // A certificate with a SPIFFE URI besides the names.
  std::vector<std::string> with_uri = kNames;
  with_uri.push_back("spiffe://cluster.local/ns/istio-system/sa/istiod");
  EXPECT_TRUE(absl::StrContains(
      problem(Issue(*pki.ca, root, with_uri), wanted, now), "non-DNS"));
}

TEST(TlsSecretCheckTest, RsaKeys) {
  Pki pki = MakePki();
  const std::string root = pki.root->root_bundle_pem();
  TlsSecretData data = Issue(*pki.ca, root, kNames, ca::KeyType::kRsa);
  EXPECT_EQ(CheckTlsSecret(data, Want(pki, ca::KeyType::kRsa), absl::Now())
                .problem,
            "");
  EXPECT_NE(CheckTlsSecret(data, Want(pki), absl::Now()).problem, "");
}

TEST(TlsSecretCheckTest, SecretBase64RoundTrips) {
  for (const std::string text :
       {"", "a", "ab", "abc", "abcd", "-----BEGIN PRIVATE KEY-----\n\xff\x00"}) {
    SecretData encoded;
    Base64EncodeSecret(text, &encoded);
    SecretData decoded;
    ASSERT_TRUE(Base64DecodeSecret(encoded.view(), &decoded)) << text;
    EXPECT_EQ(decoded.view(), text);
  }
  SecretData encoded;
  Base64EncodeSecret("hello", &encoded);
  EXPECT_EQ(encoded.view(), "aGVsbG8=");
  SecretData out;
  EXPECT_FALSE(Base64DecodeSecret("aGVsbG8", &out));
  EXPECT_FALSE(Base64DecodeSecret("aG=sbG8=", &out));
  EXPECT_FALSE(Base64DecodeSecret("aGVs*G8=", &out));
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace mesh_internal
}  // namespace server
}  // namespace vaultca
