// VaultPkiCertificateAuthority against the fake Vault on the wire: a small
// PKI engine (a LocalCertificateAuthority over test PKI) answers
// <mount>/sign/<role>, and each test shapes its answer the way real Vault
// setups do (no ca_chain, ca_chain with or without the root, deeper chains,
// wrong leaves, garbage) or fails it.

#include "ca/vault_pki/vault_pki_ca.h"

#include <openssl/bio.h>
#include <openssl/pem.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "ca/generate.h"
#include "ca/key_cert_bundle.h"
#include "ca/local_ca.h"
#include "ca/vault_pki/testing/chain_checks.h"
#include "common/internal/ssl_unique_ptr.h"
#include "common/secret_data.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "testing/csr.h"
#include "testing/signing.h"
#include "testing/test_pki.h"
#include "vault/client.h"
#include "vault/testing/client_fixture.h"
#include "vault/testing/fake_vault.h"
#include "x509/csr.h"

namespace vaultca {
namespace ca {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using nlohmann::json;
using vault::testing::RecordedRequest;
using vault::testing::Reply;
using ::vaultca::internal::SslUniquePtr;

constexpr char kSignPath[] = "/v1/pki_int/sign/istio";
constexpr char kSpiffeId[] = "spiffe://cluster.local/ns/default/sa/sleep";

std::string CsrPem(const std::string& key, int slot = 0) {
  return testkit::AgentCsrPem({kSpiffeId}, key, slot);
}

// The PEM blocks of a chain file, one string each.
std::vector<std::string> Blocks(const std::string& pem) {
  std::vector<std::string> out;
  size_t pos = 0;
  const std::string end = "-----END CERTIFICATE-----\n";
  while (true) {
    const size_t begin = pem.find("-----BEGIN CERTIFICATE-----", pos);
    if (begin == std::string::npos) break;
    const size_t stop = pem.find(end, begin);
    out.push_back(pem.substr(begin, stop + end.size() - begin));
    pos = stop + end.size();
  }
  return out;
}

std::unique_ptr<LocalCertificateAuthority> Signer(const CaMaterialPem& m) {
  auto bundle = KeyCertBundle::Create(m);
  EXPECT_TRUE(bundle.ok()) << bundle.status();
  auto ca = LocalCertificateAuthority::New(*bundle);
  EXPECT_TRUE(ca.ok()) << ca.status();
  return *std::move(ca);
}

// How the fake shapes its answer around the leaf it issued.
using Shape = std::function<json(const std::string& leaf)>;

class VaultPkiCaTest : public vault::testing::ClientTest {
 protected:
  void SetUp() override {
    ClientTest::SetUp();
    root_ = testkit::Root(KeyType::kRsa);
    inter_ = testkit::Intermediate(root_, KeyType::kEcP256);
    signer_ = Signer(inter_);
    inter_pem_ = Blocks(inter_.chain_pem)[0];
  }

  // Answers kSignPath like Vault's PKI engine: signs the posted CSR (or
  // `csr_override`) for the posted uri_sans/alt_names/ip_sans (or
  // `identities_override`) with `signer`, then shapes the answer.
  void ServeSign(LocalCertificateAuthority* signer, Shape shape,
                 std::vector<std::string> identities_override = {},
                 std::string csr_override = "") {
    fake_->Handle("POST", kSignPath, [=](const RecordedRequest& r) {
      json body = json::parse(r.body, nullptr, false);
      if (body.is_discarded() || !body.contains("csr")) {
        return Reply{400, R"({"errors":["bad request"]})"};
      }
      absl::StatusOr<VerifiedCsr> csr = signer->policy().VerifyCsr(
          csr_override.empty() ? body["csr"].get<std::string>()
                               : csr_override);
      if (!csr.ok()) {
        return Reply{400, json{{"errors", {csr.status().ToString()}}}.dump()};
      }
      SignRequest request;
      request.csr = *std::move(csr);
      request.identities = identities_override;
      if (request.identities.empty() && body.contains("uri_sans")) {
        for (const json& uri : body["uri_sans"]) {
          request.identities.push_back(uri.get<std::string>());
        }
      }
      absl::StatusOr<SignedChain> issued = signer->Sign(request);
      if (!issued.ok()) {
        return Reply{500, json{{"errors", {issued.status().ToString()}}}.dump()};
      }
      return Reply{200, json{{"data", shape(issued->cert_chain[0])}}.dump()};
    });
  }

  std::unique_ptr<VaultPkiCertificateAuthority> NewCa(
      VaultPkiCaOptions options) {
    auto ca = VaultPkiCertificateAuthority::New(
        std::shared_ptr<vault::VaultClient>(Client(Config())),
        std::move(options));
    EXPECT_TRUE(ca.ok()) << ca.status();
    return ca.ok() ? *std::move(ca) : nullptr;
  }

  VaultPkiCaOptions Options() const {
    VaultPkiCaOptions options;
    options.mount = "pki_int";
    options.role = "istio";
    options.root_bundle_pem = root_.cert_pem;
    return options;
  }

  // A request for a `key` CSR, verified under `policy` (istiod's defaults
  // when null).
  SignRequest Request(const std::string& key = "EC:P-256",
                      const IssuancePolicy* policy = nullptr) const {
    SignRequest request;
    request.csr = testkit::MustVerify(CsrPem(key), policy);
    request.identities = {kSpiffeId};
    return request;
  }

  // Signs Request(key) and checks the chain like a workload would.
  void ExpectGoodChain(VaultPkiCertificateAuthority& ca, int intermediates,
                       const std::string& key = "EC:P-256") {
    const SignRequest request = Request(key);
    absl::StatusOr<SignedChain> chain = ca.Sign(request);
    ASSERT_TRUE(chain.ok()) << chain.status();
    const std::string roots = *ca.RootBundlePem();
    const std::string& key_der = request.csr->parsed().public_key_der();
    EXPECT_TRUE(testing::CheckIstioChain(*chain, roots, intermediates, key_der,
                                         kSpiffeId)
                    .ok())
        << testing::CheckIstioChain(*chain, roots, intermediates, key_der,
                                    kSpiffeId);
  }

  absl::Status SignStatus(VaultPkiCertificateAuthority& ca) {
    return ca.Sign(Request()).status();
  }

  CaMaterialPem root_;
  CaMaterialPem inter_;
  std::string inter_pem_;
  std::unique_ptr<LocalCertificateAuthority> signer_;
};

TEST_F(VaultPkiCaTest, NoCaChainUsesIssuingCaAndCompletesTheRoot) {
  ServeSign(signer_.get(), [&](const std::string& leaf) {
    return json{{"certificate", leaf}, {"issuing_ca", inter_pem_},
                {"serial_number", "01"}, {"expiration", 1}};
  });
  auto ca = NewCa(Options());
  ExpectGoodChain(*ca, 1);
  ExpectGoodChain(*ca, 1, "RSA:2048");
}

TEST_F(VaultPkiCaTest, CaChainHoldingTheRootDoesNotRepeatIt) {
  ServeSign(signer_.get(), [&](const std::string& leaf) {
    return json{{"certificate", leaf},
                {"issuing_ca", inter_pem_},
                {"ca_chain", {inter_pem_, root_.cert_pem}}};
  });
  auto ca = NewCa(Options());
  ExpectGoodChain(*ca, 1);
  absl::StatusOr<SignedChain> chain = ca->Sign(Request());
  ASSERT_TRUE(chain.ok()) << chain.status();
  ASSERT_EQ(chain->cert_chain.size(), 3u);
  EXPECT_EQ(chain->cert_chain[1], inter_pem_);
}

TEST_F(VaultPkiCaTest, CaChainMissingTheRootIsCompleted) {
  ServeSign(signer_.get(), [&](const std::string& leaf) {
    return json{{"certificate", leaf},
                {"issuing_ca", inter_pem_},
                {"ca_chain", {inter_pem_}}};
  });
  auto ca = NewCa(Options());
  ExpectGoodChain(*ca, 1);
}

TEST_F(VaultPkiCaTest, CaChainElementWithSeveralBlocks) {
  ServeSign(signer_.get(), [&](const std::string& leaf) {
    return json{{"certificate", leaf},
                {"ca_chain", {inter_pem_ + root_.cert_pem}}};
  });
  auto ca = NewCa(Options());
  ExpectGoodChain(*ca, 1);
}

TEST_F(VaultPkiCaTest, DeeperChainInAnyOrderComesOutInPathOrder) {
  const CaMaterialPem upper = testkit::IntermediateWithoutPathLen();
  const CaMaterialPem lower =
      testkit::Intermediate(upper, KeyType::kEcP256, absl::Now(), 3);
  const std::vector<std::string> blocks = Blocks(lower.chain_pem);
  ASSERT_EQ(blocks.size(), 3u);  // lower, upper, root
  auto signer = Signer(lower);
  ServeSign(signer.get(), [&](const std::string& leaf) {
    return json{{"certificate", leaf},
                {"issuing_ca", blocks[0]},
                {"ca_chain", {blocks[2], blocks[0], blocks[1]}}};
  });
  VaultPkiCaOptions options = Options();
  options.root_bundle_pem = upper.root_bundle_pem;
  auto ca = NewCa(options);
  ExpectGoodChain(*ca, 2);
  absl::StatusOr<SignedChain> chain = ca->Sign(Request());
  ASSERT_TRUE(chain.ok()) << chain.status();
  EXPECT_EQ(chain->cert_chain[1], blocks[0]);
  EXPECT_EQ(chain->cert_chain[2], blocks[1]);
}

TEST_F(VaultPkiCaTest, RootMountSignsDirectly) {
  auto signer = Signer(root_);
  ServeSign(signer.get(), [&](const std::string& leaf) {
    return json{{"certificate", leaf},
                {"issuing_ca", root_.cert_pem},
                {"ca_chain", {root_.cert_pem}}};
  });
  auto ca = NewCa(Options());
  ExpectGoodChain(*ca, 0);
}

TEST_F(VaultPkiCaTest, RootBundleWithSeveralRoots) {
  ServeSign(signer_.get(), [&](const std::string& leaf) {
    return json{{"certificate", leaf}, {"ca_chain", {inter_pem_}}};
  });
  VaultPkiCaOptions options = Options();
  const CaMaterialPem other = testkit::Root(KeyType::kEcP256, absl::Now(), 4);
  options.root_bundle_pem = other.cert_pem + root_.cert_pem;
  auto ca = NewCa(options);
  EXPECT_EQ(*ca->RootBundlePem(), options.root_bundle_pem);
  ExpectGoodChain(*ca, 1);
}

TEST_F(VaultPkiCaTest, LeafForAnotherKeyIsRefused) {
  ServeSign(
      signer_.get(),
      [&](const std::string& leaf) {
        return json{{"certificate", leaf}, {"ca_chain", {inter_pem_}}};
      },
      {}, CsrPem("EC:P-256", /*slot=*/5));
  auto ca = NewCa(Options());
  absl::Status status = SignStatus(*ca);
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal) << status;
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("public key other than the CSR's"));
}

TEST_F(VaultPkiCaTest, LeafWithoutTheSpiffeIdIsRefused) {
  ServeSign(
      signer_.get(),
      [&](const std::string& leaf) {
        return json{{"certificate", leaf}, {"ca_chain", {inter_pem_}}};
      },
      {"spiffe://cluster.local/ns/default/sa/other"});
  auto ca = NewCa(Options());
  absl::Status status = SignStatus(*ca);
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal) << status;
  EXPECT_THAT(std::string(status.message()),
              HasSubstr(absl::StrCat("lacks the requested SAN URI:", kSpiffeId)));
}

TEST_F(VaultPkiCaTest, LeafWithANameNotRequestedIsRefused) {
  // What a role with use_csr_sans=true does with a CSR asking for more.
  ServeSign(
      signer_.get(),
      [&](const std::string& leaf) {
        return json{{"certificate", leaf}, {"ca_chain", {inter_pem_}}};
      },
      {kSpiffeId, "spiffe://cluster.local/ns/istio-system/sa/istiod"});
  auto ca = NewCa(Options());
  absl::Status status = SignStatus(*ca);
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal) << status;
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("URI:spiffe://cluster.local/ns/istio-system/sa/istiod "
                        "that vaultca did not request"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("use_csr_sans=false"));
}

TEST_F(VaultPkiCaTest, LeafThatIsACaIsRefused) {
  // A CA certificate for the CSR's own key, as a misconfigured or hostile
  // signer could return.
  SslUniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  ASSERT_EQ(PEM_write_bio_PKCS8PrivateKey(bio.get(),
                                          testkit::CachedCsrKey("EC:P-256"),
                                          nullptr, nullptr, 0, nullptr,
                                          nullptr),
            1);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  IntermediateOptions ca_options;
  ca_options.key_pem = SecretData(absl::string_view(data, len));
  absl::StatusOr<CaMaterialPem> ca_leaf =
      GenerateIntermediate(**KeyCertBundle::Create(root_), ca_options);
  ASSERT_TRUE(ca_leaf.ok()) << ca_leaf.status();
  fake_->SetJson("POST", kSignPath, 200,
                 json{{"data",
                       {{"certificate", ca_leaf->cert_pem},
                        {"ca_chain", {root_.cert_pem}}}}}
                     .dump());
  auto ca = NewCa(Options());
  absl::Status status = SignStatus(*ca);
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("is a CA certificate"));
}

TEST_F(VaultPkiCaTest, ChainToAnotherRootDoesNotVerify) {
  ServeSign(signer_.get(), [&](const std::string& leaf) {
    return json{{"certificate", leaf},
                {"ca_chain", {inter_pem_, root_.cert_pem}}};
  });
  VaultPkiCaOptions options = Options();
  // Same subject, another key: a root Vault's issuer does not chain to.
  options.root_bundle_pem = testkit::Root(KeyType::kRsa, absl::Now(), 1).cert_pem;
  auto ca = NewCa(options);
  absl::Status status = SignStatus(*ca);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("configured root bundle"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("pki_int/sign/istio"));
}

TEST_F(VaultPkiCaTest, MissingIntermediateDoesNotVerify) {
  ServeSign(signer_.get(), [&](const std::string& leaf) {
    return json{{"certificate", leaf}};
  });
  auto ca = NewCa(Options());
  absl::Status status = SignStatus(*ca);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("local issuer"));
}

TEST_F(VaultPkiCaTest, ClockSkewWithinGraceIsToleratedBeyondIsNot) {
  ServeSign(signer_.get(), [&](const std::string& leaf) {
    return json{{"certificate", leaf}, {"ca_chain", {inter_pem_}}};
  });
  // The fake back-dates NotBefore by 2 min, as istiod; our clock 3 min
  // behind sees it 1 min in the future.
  VaultPkiCaOptions options = Options();
  options.policy.clock = [] { return absl::Now() - absl::Minutes(3); };
  auto ca = NewCa(options);
  EXPECT_TRUE(SignStatus(*ca).ok()) << SignStatus(*ca);
  options.policy.clock = [] { return absl::Now() - absl::Minutes(10); };
  ca = NewCa(options);
  absl::Status status = SignStatus(*ca);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("validity"));
}

TEST_F(VaultPkiCaTest, GarbageAnswersAreInternal) {
  const std::vector<std::function<std::string(const std::string&)>> answers = {
      [](const std::string&) { return std::string("not json"); },
      [](const std::string&) { return std::string("[]"); },
      [](const std::string&) { return std::string(R"({"data":{}})"); },
      [](const std::string&) { return std::string(R"({"data":"x"})"); },
      [](const std::string&) {
        return std::string(R"({"data":{"certificate":"junk"}})");
      },
      [](const std::string&) {
        return std::string(R"({"data":{"certificate":42}})");
      },
      [&](const std::string& leaf) {
        return json{{"data", {{"certificate", leaf}, {"ca_chain", "x"}}}}.dump();
      },
      [&](const std::string& leaf) {
        return json{{"data", {{"certificate", leaf}, {"ca_chain", {1}}}}}.dump();
      },
      [&](const std::string& leaf) {
        return json{{"data", {{"certificate", leaf}, {"ca_chain", {"junk"}}}}}
            .dump();
      },
      [&](const std::string& leaf) {
        return json{{"data", {{"certificate", leaf + inter_pem_}}}}.dump();
      },
      [&](const std::string& leaf) {
        return json{{"data", {{"certificate", leaf}, {"issuing_ca", 7}}}}.dump();
      },
  };
  auto ca = NewCa(Options());
  for (size_t i = 0; i < answers.size(); ++i) {
    fake_->Handle("POST", kSignPath, [&, i](const RecordedRequest& r) {
      json body = json::parse(r.body, nullptr, false);
      SignRequest request;
      request.csr = *signer_->policy().VerifyCsr(body["csr"].get<std::string>());
      request.identities = {kSpiffeId};
      const std::string leaf = signer_->Sign(request)->cert_chain[0];
      return Reply{200, answers[i](leaf)};
    });
    absl::Status status = SignStatus(*ca);
    EXPECT_EQ(status.code(), absl::StatusCode::kInternal)
        << "answer " << i << ": " << status;
    EXPECT_THAT(std::string(status.message()), HasSubstr("unusable"))
        << "answer " << i;
  }
}

TEST_F(VaultPkiCaTest, VaultErrorsKeepPreciseCodes) {
  auto ca = NewCa(Options());
  struct Case {
    int http;
    const char* body;
    absl::StatusCode code;
    const char* text;
  };
  const Case cases[] = {
      {403, R"({"errors":["permission denied"]})",
       absl::StatusCode::kPermissionDenied, "permission denied"},
      {400,
       R"({"errors":["URI Subject Alternative Names are not allowed in this role"]})",
       absl::StatusCode::kFailedPrecondition, "not allowed in this role"},
      {404, R"({"errors":["unknown role: istio"]})",
       absl::StatusCode::kNotFound, "unknown role"},
      {503, R"({"errors":["Vault is sealed"]})",
       absl::StatusCode::kUnavailable, "sealed"},
  };
  for (const Case& c : cases) {
    fake_->SetJson("POST", kSignPath, c.http, c.body);
    absl::Status status = SignStatus(*ca);
    EXPECT_EQ(status.code(), c.code) << status;
    EXPECT_THAT(std::string(status.message()), HasSubstr(c.text));
    EXPECT_THAT(std::string(status.message()), HasSubstr("pki_int/sign/istio"));
    EXPECT_THAT(std::string(status.message()),
                Not(HasSubstr(vault::testing::kRootToken)));
  }
}

TEST_F(VaultPkiCaTest, RequestCarriesTheCsrIdentitiesAndTtl) {
  ServeSign(signer_.get(), [&](const std::string& leaf) {
    return json{{"certificate", leaf}, {"ca_chain", {inter_pem_}}};
  });
  auto ca = NewCa(Options());
  SignRequest request = Request();
  const std::string clean_csr = CsrPem("EC:P-256");
  request.csr = testkit::MustVerify("junk before the block\n" + clean_csr +
                                    "after\n");
  request.requested_ttl = absl::Hours(12);
  ASSERT_TRUE(ca->Sign(request).ok());
  std::vector<RecordedRequest> seen = fake_->requests();
  ASSERT_FALSE(seen.empty());
  const RecordedRequest& r = seen.back();
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.path, kSignPath);
  EXPECT_EQ(r.Header("x-vault-token"), vault::testing::kRootToken);
  json body = json::parse(r.body);
  EXPECT_EQ(body["csr"], clean_csr);
  EXPECT_EQ(body["format"], "pem");
  EXPECT_EQ(body["ttl"], "43200s");
  EXPECT_EQ(body["exclude_cn_from_sans"], true);
  EXPECT_EQ(body["uri_sans"], json({kSpiffeId}));
  EXPECT_FALSE(body.contains("common_name"));
  EXPECT_FALSE(body.contains("alt_names"));
  EXPECT_FALSE(body.contains("ip_sans"));
}

TEST_F(VaultPkiCaTest, DnsAndIpIdentitiesGoToAltNamesAndIpSans) {
  fake_->SetJson("POST", kSignPath, 400, R"({"errors":["stop here"]})");
  auto ca = NewCa(Options());
  SignRequest request = Request();
  request.identities = {kSpiffeId, "a.example", "10.0.0.1", "b.example"};
  EXPECT_FALSE(ca->Sign(request).ok());
  json body = json::parse(fake_->requests().back().body);
  EXPECT_EQ(body["alt_names"], "a.example,b.example");
  EXPECT_EQ(body["ip_sans"], json({"10.0.0.1"}));
  request.identities = {kSpiffeId, "a,b"};
  EXPECT_EQ(ca->Sign(request).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(VaultPkiCaTest, LocalPolicyRunsBeforeVaultIsAsked) {
  fake_->SetJson("POST", kSignPath, 500, R"({"errors":["must not be called"]})");
  VaultPkiCaOptions options = Options();
  options.policy.max_ttl = absl::Hours(48);
  auto ca = NewCa(options);

  EXPECT_EQ(ca->policy()
                .VerifyCsr(testkit::WithBrokenSignature(CsrPem("EC:P-256")))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ca->policy().VerifyCsr(CsrPem("RSA:1024")).status().code(),
            absl::StatusCode::kInvalidArgument);
  // Verified under a laxer policy, the weak key is still refused by Sign.
  IssuancePolicyOptions lax;
  lax.csr.min_rsa_bits = 1024;
  auto lax_policy = IssuancePolicy::New(lax);
  ASSERT_TRUE(lax_policy.ok()) << lax_policy.status();
  SignRequest weak_key = Request("RSA:1024", lax_policy->get());
  ASSERT_TRUE(weak_key.csr.has_value());
  EXPECT_EQ(ca->Sign(weak_key).status().code(),
            absl::StatusCode::kInvalidArgument);
  SignRequest no_identity = Request();
  no_identity.identities.clear();
  EXPECT_EQ(ca->Sign(no_identity).status().code(),
            absl::StatusCode::kInvalidArgument);
  SignRequest too_long = Request();
  too_long.requested_ttl = absl::Hours(49);
  absl::Status status = ca->Sign(too_long).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("above the maximum"));
  EXPECT_EQ(fake_->Count("POST", kSignPath), 0);
}

TEST_F(VaultPkiCaTest, ClampModeLowersTheTtlSent) {
  fake_->SetJson("POST", kSignPath, 400, R"({"errors":["stop here"]})");
  VaultPkiCaOptions options = Options();
  options.policy.max_ttl = absl::Hours(48);
  options.policy.ttl_mode = TtlMode::kClamp;
  auto ca = NewCa(options);
  SignRequest request = Request();
  request.requested_ttl = absl::Hours(24 * 365);
  EXPECT_FALSE(ca->Sign(request).ok());
  EXPECT_EQ(json::parse(fake_->requests().back().body)["ttl"], "172800s");
  request.requested_ttl = absl::ZeroDuration();
  EXPECT_FALSE(ca->Sign(request).ok());
  EXPECT_EQ(json::parse(fake_->requests().back().body)["ttl"], "86400s");
}

TEST_F(VaultPkiCaTest, EndpointPaths) {
  VaultPkiCaOptions options = Options();
  EXPECT_EQ(NewCa(options)->sign_path(), "pki_int/sign/istio");
  options.issuer = "my-issuer";
  EXPECT_EQ(NewCa(options)->sign_path(), "pki_int/issuer/my-issuer/sign/istio");
  options.issuer.clear();
  options.endpoint = VaultPkiEndpoint::kSignVerbatim;
  EXPECT_EQ(NewCa(options)->sign_path(), "pki_int/sign-verbatim/istio");
  options.role.clear();
  EXPECT_EQ(NewCa(options)->sign_path(), "pki_int/sign-verbatim");
  options.mount = "teams/mesh/pki";
  EXPECT_EQ(NewCa(options)->sign_path(), "teams/mesh/pki/sign-verbatim");

  ServeSign(signer_.get(), [&](const std::string& leaf) {
    return json{{"certificate", leaf}, {"ca_chain", {inter_pem_}}};
  });
  options = Options();
  options.endpoint = VaultPkiEndpoint::kSignVerbatim;
  options.role = "";
  fake_->SetJson("POST", "/v1/pki_int/sign-verbatim", 403,
                 R"({"errors":["permission denied"]})");
  EXPECT_EQ(SignStatus(*NewCa(options)).code(),
            absl::StatusCode::kPermissionDenied);
  // The client retries a 403 once after logging in again.
  EXPECT_GE(fake_->Count("POST", "/v1/pki_int/sign-verbatim"), 1);
}

TEST_F(VaultPkiCaTest, NewRefusesBadOptions) {
  auto client = std::shared_ptr<vault::VaultClient>(Client(Config()));
  auto fails = [&](VaultPkiCaOptions options, const char* text,
                   std::shared_ptr<vault::VaultClient> c) {
    auto ca = VaultPkiCertificateAuthority::New(c, std::move(options));
    ASSERT_FALSE(ca.ok());
    EXPECT_EQ(ca.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(ca.status().message()), HasSubstr(text));
  };
  fails(Options(), "null", nullptr);
  VaultPkiCaOptions o = Options();
  o.root_bundle_pem = "";
  fails(o, "root_bundle_pem", client);
  o.root_bundle_pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
  fails(o, "root_bundle_pem", client);
  o = Options();
  o.role = "";
  fails(o, "role", client);
  o = Options();
  o.role = "a/b";
  fails(o, "role", client);
  o = Options();
  o.mount = "pki/../sys";
  fails(o, "mount", client);
  o = Options();
  o.mount = "pki?x=1";
  fails(o, "mount", client);
  o = Options();
  o.endpoint = VaultPkiEndpoint::kSignVerbatim;
  o.issuer = "x";
  fails(o, "issuer", client);
  o = Options();
  o.policy.default_ttl = absl::Hours(100);
  o.policy.max_ttl = absl::Hours(10);
  fails(o, "default_ttl", client);
}

TEST_F(VaultPkiCaTest, ConcurrentSigning) {
  ServeSign(signer_.get(), [&](const std::string& leaf) {
    return json{{"certificate", leaf}, {"ca_chain", {inter_pem_}}};
  });
  auto ca = NewCa(Options());
  const SignRequest request = Request();
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5; ++i) ok += ca->Sign(request).ok() ? 1 : 0;
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok.load(), 20);
}

}  // namespace
}  // namespace ca
}  // namespace vaultca
