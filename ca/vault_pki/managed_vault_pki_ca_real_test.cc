// ManagedVaultPkiCa against a real HashiCorp Vault (VAULTCA_VAULT_BIN), with
// the layout operators use when the root stays offline: the test makes the
// root (it is never in Vault); Vault generates an intermediate's key and CSR
// (<mount>/intermediate/generate/internal), the test signs it with the
// offline root and hands it back (<mount>/intermediate/set-signed). The
// chain cases are those of cert-manager/istio-csr's Vault reports: the
// root missing from Vault's answer and the intermediate published as the
// root, the intermediate repeated, and an intermediate under another
// intermediate. Istio wants [leaf, intermediates from the leaf up, root
// bundle] and istio-ca-root-cert holding the root the workloads trust.
//
// Fails when the binary is missing unless VAULTCA_ALLOW_NO_VAULT=1.

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "ca/key_cert_bundle.h"
#include "ca/vault_pki/managed_vault_pki_ca.h"
#include "ca/vault_pki/testing/chain_checks.h"
#include "ca/vault_pki/testing/offline_ca.h"
#include "ca/workload_csr.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "testing/real_vault_fixture.h"
#include "testing/signing.h"
#include "testing/temp_dir.h"
#include "testing/test_pki.h"
#include "testing/tls.h"
#include "vault/client.h"
#include "x509/csr.h"

namespace vaultca {
namespace ca {
namespace {

using ::testing::HasSubstr;

constexpr char kSpiffeId[] = "spiffe://cluster.local/ns/default/sa/sleep";

const std::vector<std::string> kRoleArgs = {
    "allowed_uri_sans=spiffe://cluster.local/*",
    "allow_any_name=true",
    "enforce_hostnames=false",
    "require_cn=false",
    "key_type=any",
    "use_csr_sans=false",
    "use_csr_common_name=false",
    "no_store=true",
    "max_ttl=720h"};

std::string Trimmed(const std::string& pem) {
  return std::string(absl::StripAsciiWhitespace(pem)) + "\n";
}

class ManagedVaultPkiRealTest : public testkit::RealVaultSuite {
 protected:
  static void SetUpTestSuite() { StartSuite(&Configure); }

  static void TearDownTestSuite() {
    delete root_;
    root_ = nullptr;
    delete offline_int_;
    offline_int_ = nullptr;
    RealVaultSuite::TearDownTestSuite();
  }

  static absl::StatusOr<std::string> Cli(const std::vector<std::string>& args) {
    return vault_->Cli(args);
  }

  static std::string File(const std::string& name, const std::string& text) {
    return "@" + testkit::WriteFileIn(tls_->dir, name, text).value();
  }

  // A PKI mount whose issuer is a Vault-generated intermediate certified by
  // `signer` (offline), set-signed with the intermediate followed by
  // `extra` (nothing, the root, or the offline intermediate). Returns the
  // new issuer's id.
  static absl::StatusOr<std::string> OfflineIssuer(const std::string& mount,
                                                   const CaMaterialPem& signer,
                                                   const std::string& extra) {
    absl::StatusOr<std::string> csr =
        Cli({"write", "-field=csr",
             absl::StrCat(mount, "/intermediate/generate/internal"),
             absl::StrCat("common_name=vaultca ", mount, " intermediate"),
             "key_type=ec", "key_bits=256"});
    if (!csr.ok()) return csr.status();
    absl::StatusOr<std::string> cert =
        testing::SignIntermediateCsr(signer, *csr, absl::Hours(24 * 30));
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> set =
        Cli({"write", "-format=json",
             absl::StrCat(mount, "/intermediate/set-signed"),
             "certificate=" + File(mount + ".pem", *cert + extra)});
    if (!set.ok()) return set.status();
    nlohmann::json json = nlohmann::json::parse(*set, nullptr, false);
    if (json.is_discarded() || !json["data"]["imported_issuers"].is_array()) {
      return absl::InternalError(absl::StrCat("set-signed answered ", *set));
    }
    // The intermediate is the issuer with a key: Vault's mapping names it
    // first among the imported issuers.
    for (const auto& id : json["data"]["imported_issuers"]) {
      absl::StatusOr<std::string> has_key =
          Cli({"read", "-field=key_id",
               absl::StrCat(mount, "/issuer/", id.get<std::string>())});
      if (has_key.ok() && !absl::StripAsciiWhitespace(*has_key).empty()) {
        return id.get<std::string>();
      }
    }
    return absl::InternalError("no imported issuer has a key");
  }

  static absl::Status Mount(const std::string& mount) {
    for (const std::vector<std::string>& args :
         std::vector<std::vector<std::string>>{
             {"secrets", "enable", absl::StrCat("-path=", mount), "pki"},
             {"secrets", "tune", "-max-lease-ttl=8760h", mount}}) {
      absl::StatusOr<std::string> out = Cli(args);
      if (!out.ok()) return out.status();
    }
    std::vector<std::string> role = {"write",
                                     absl::StrCat(mount, "/roles/istio")};
    role.insert(role.end(), kRoleArgs.begin(), kRoleArgs.end());
    absl::StatusOr<std::string> out = Cli(role);
    return out.ok() ? absl::OkStatus() : out.status();
  }

  static absl::Status Configure() {
    root_ = new CaMaterialPem(testkit::Root(KeyType::kEcP256));
    absl::StatusOr<CaMaterialPem> offline_int = testing::OfflineIntermediate(
        *root_, "vaultca offline intermediate", absl::Hours(24 * 60));
    if (!offline_int.ok()) return offline_int.status();
    offline_int_ = new CaMaterialPem(*std::move(offline_int));
    for (const char* mount :
         {"pki_offline", "pki_offline_bundle", "pki_two_levels", "pki_rotate"}) {
      if (absl::Status s = Mount(mount); !s.ok()) return s;
    }
    for (absl::StatusOr<std::string> id :
         {OfflineIssuer("pki_offline", *root_, ""),
          OfflineIssuer("pki_offline_bundle", *root_, root_->cert_pem),
          OfflineIssuer("pki_two_levels", *offline_int_, offline_int_->cert_pem),
          OfflineIssuer("pki_rotate", *root_, "")}) {
      if (!id.ok()) return id.status();
    }
    return absl::OkStatus();
  }

  static std::shared_ptr<vault::VaultClient> Client(
      const std::string& token = "") {
    vault::VaultConfig config;
    config.address = vault_->address();
    config.tls.ca_cert_file = tls_->ca_file;
    config.auth.token =
        SecretData(token.empty() ? vault_->root_token() : token);
    config.timeout = absl::Seconds(20);
    config.max_retries = 0;
    vault::ClientOptions options;
    options.warn = [](absl::string_view) {};
    auto client = vault::VaultClient::New(config, std::move(options));
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? std::shared_ptr<vault::VaultClient>(*std::move(client))
                       : nullptr;
  }

  static ManagedVaultPkiCaOptions Options(const std::string& mount,
                                          const std::string& pinned_roots) {
    ManagedVaultPkiCaOptions options;
    options.pki.mount = mount;
    options.pki.role = "istio";
    options.pki.root_bundle_pem = pinned_roots;
    options.startup_deadline = absl::ZeroDuration();
    options.refresh_thread = false;
    return options;
  }

  static absl::StatusOr<std::unique_ptr<ManagedVaultPkiCa>> NewCa(
      const std::string& mount, const std::string& pinned_roots = "",
      const std::string& token = "") {
    return ManagedVaultPkiCa::New(Client(token), Options(mount, pinned_roots));
  }

  struct Csr {
    std::string pem;
    std::string public_key_der;
  };
  static Csr MakeCsr() {
    WorkloadCsrOptions options;
    options.identities = {kSpiffeId};
    options.key_type = KeyType::kEcP256;
    absl::StatusOr<WorkloadCsr> csr = GenerateWorkloadCsr(options);
    EXPECT_TRUE(csr.ok()) << csr.status();
    absl::StatusOr<x509::ParsedCsr> parsed = x509::ParsedCsr::Parse(csr->csr_pem);
    EXPECT_TRUE(parsed.ok()) << parsed.status();
    return {csr->csr_pem, parsed->public_key_der()};
  }

  static SignRequest Request(const Csr& csr) {
    SignRequest request;
    request.csr = testkit::MustVerify(csr.pem);
    request.identities = {kSpiffeId};
    request.requested_ttl = absl::Hours(1);
    return request;
  }

  // What Vault itself reports as the default issuer's chain.
  static std::vector<std::string> VaultIssuerChain(const std::string& mount) {
    auto answer = Client()->Read(mount + "/issuer/default/json");
    EXPECT_TRUE(answer.ok()) << answer.status();
    std::vector<std::string> chain;
    if (!answer.ok()) return chain;
    nlohmann::json json = nlohmann::json::parse(answer->view(), nullptr, false);
    for (const auto& c : json["data"]["ca_chain"]) {
      chain.push_back(Trimmed(c.get<std::string>()));
    }
    return chain;
  }

  static inline CaMaterialPem* root_ = nullptr;
  static inline CaMaterialPem* offline_int_ = nullptr;
};

// istio-csr#105: Vault answers with the intermediate only, and the
// intermediate ended up published as the root. Unpinned, vaultca refuses
// to guess: the root is not in Vault, and the error says how to fix it.
TEST_F(ManagedVaultPkiRealTest, OfflineRootNotInVaultMustBePinned) {
  const std::vector<std::string> reported = VaultIssuerChain("pki_offline");
  ASSERT_EQ(reported.size(), 1u) << "premise: Vault holds no root here";
  EXPECT_NE(reported[0], Trimmed(root_->cert_pem));

  auto ca = NewCa("pki_offline");
  ASSERT_FALSE(ca.ok());
  EXPECT_EQ(ca.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(ca.status().message(), HasSubstr("offline root"));
  EXPECT_THAT(ca.status().message(), HasSubstr("root_cert_file"));
}

TEST_F(ManagedVaultPkiRealTest, PinnedOfflineRootGivesLeafIntermediateRoot) {
  auto ca = NewCa("pki_offline", root_->cert_pem);
  ASSERT_TRUE(ca.ok()) << ca.status();
  ASSERT_TRUE((*ca)->Readiness().ok()) << (*ca)->Readiness();
  // Every certificate is a call to Vault.
  EXPECT_TRUE((*ca)->SignMayBlock());
  const Csr csr = MakeCsr();
  absl::StatusOr<SignedChain> chain = (*ca)->Sign(Request(csr));
  ASSERT_TRUE(chain.ok()) << chain.status();
  // [leaf, Vault's intermediate, the offline root]: nothing missing,
  // nothing twice, the root last.
  ASSERT_EQ(chain->cert_chain.size(), 3u);
  EXPECT_EQ(chain->cert_chain[1], VaultIssuerChain("pki_offline")[0]);
  EXPECT_EQ(chain->cert_chain[2], Trimmed(root_->cert_pem));
  EXPECT_TRUE(testing::CheckIstioChain(*chain, Trimmed(root_->cert_pem), 1,
                                       csr.public_key_der, kSpiffeId)
                  .ok());
  // istio-ca-root-cert gets the root, never the intermediate.
  absl::StatusOr<std::string> roots = (*ca)->RootBundlePem();
  ASSERT_TRUE(roots.ok());
  EXPECT_EQ(*roots, Trimmed(root_->cert_pem));
  const CaStats stats = (*ca)->Stats();
  EXPECT_TRUE(stats.has_material);
  EXPECT_TRUE(stats.ready);
  EXPECT_EQ(stats.generation, 1u);
  EXPECT_THAT(stats.subject, HasSubstr("pki_offline intermediate"));
  EXPECT_EQ(stats.root_fingerprints.size(), 1u);
  EXPECT_LE(stats.chain_not_after, absl::Now() + absl::Hours(24 * 30));
  EXPECT_GT(stats.chain_not_after, absl::Now() + absl::Hours(24 * 29));
  EXPECT_EQ((*ca)->CurrentBundle(), nullptr);
}

// istio-csr#155 / #105's other half: the chain file held the intermediate
// twice. With the root imported along with the intermediate (set-signed
// with both), Vault's ca_chain holds the root: it is derived from Vault and
// appears exactly once, last.
TEST_F(ManagedVaultPkiRealTest, RootImportedWithTheIntermediateIsDerived) {
  const std::vector<std::string> reported =
      VaultIssuerChain("pki_offline_bundle");
  ASSERT_EQ(reported.size(), 2u) << "premise: Vault reports int + root";
  EXPECT_EQ(reported[1], Trimmed(root_->cert_pem));

  auto ca = NewCa("pki_offline_bundle");
  ASSERT_TRUE(ca.ok()) << ca.status();
  EXPECT_EQ((*ca)->RootBundlePem().value(), Trimmed(root_->cert_pem));
  const Csr csr = MakeCsr();
  absl::StatusOr<SignedChain> chain = (*ca)->Sign(Request(csr));
  ASSERT_TRUE(chain.ok()) << chain.status();
  ASSERT_EQ(chain->cert_chain.size(), 3u);
  EXPECT_EQ(chain->cert_chain[1], reported[0]);
  EXPECT_TRUE(testing::CheckIstioChain(*chain, Trimmed(root_->cert_pem), 1,
                                       csr.public_key_der, kSpiffeId)
                  .ok());
}

// istio-csr#155, "Vault with Intermediate CA": Vault's issuer sits under
// another (offline) intermediate. Istio needs every intermediate, from the
// leaf up: [leaf, Vault's intermediate, offline intermediate, root].
TEST_F(ManagedVaultPkiRealTest, TwoIntermediatesInPathOrder) {
  const std::vector<std::string> reported = VaultIssuerChain("pki_two_levels");
  ASSERT_EQ(reported.size(), 2u) << "premise: int2 + int1, no root";
  EXPECT_EQ(reported[1], Trimmed(offline_int_->cert_pem));

  EXPECT_EQ(NewCa("pki_two_levels").status().code(),
            absl::StatusCode::kFailedPrecondition);
  auto ca = NewCa("pki_two_levels", root_->cert_pem);
  ASSERT_TRUE(ca.ok()) << ca.status();
  const Csr csr = MakeCsr();
  absl::StatusOr<SignedChain> chain = (*ca)->Sign(Request(csr));
  ASSERT_TRUE(chain.ok()) << chain.status();
  ASSERT_EQ(chain->cert_chain.size(), 4u);
  EXPECT_EQ(chain->cert_chain[1], reported[0]);
  EXPECT_EQ(chain->cert_chain[2], Trimmed(offline_int_->cert_pem));
  EXPECT_EQ(chain->cert_chain[3], Trimmed(root_->cert_pem));
  EXPECT_TRUE(testing::CheckIstioChain(*chain, Trimmed(root_->cert_pem), 2,
                                       csr.public_key_der, kSpiffeId)
                  .ok());
  // The chain expiry metric covers both intermediates.
  EXPECT_LE((*ca)->Stats().chain_not_after, absl::Now() + absl::Hours(24 * 30));
}

TEST_F(ManagedVaultPkiRealTest, PinnedRootTheChainDoesNotReachIsRefused) {
  // Another key (the test roots of one key type share a cached key).
  const CaMaterialPem other = testkit::Root(KeyType::kRsa);
  auto ca = NewCa("pki_offline", other.cert_pem);
  ASSERT_FALSE(ca.ok());
  EXPECT_EQ(ca.status().code(), absl::StatusCode::kFailedPrecondition)
      << ca.status();
}

TEST_F(ManagedVaultPkiRealTest, NewDefaultIssuerIsPickedUpWithTheSameRoot) {
  auto ca = NewCa("pki_rotate", root_->cert_pem);
  ASSERT_TRUE(ca.ok()) << ca.status();
  const std::string before = VaultIssuerChain("pki_rotate")[0];
  absl::StatusOr<std::string> id = OfflineIssuer("pki_rotate", *root_, "");
  ASSERT_TRUE(id.ok()) << id.status();
  ASSERT_TRUE(
      Cli({"write", "pki_rotate/config/issuers", "default=" + *id}).ok());
  const std::string after = VaultIssuerChain("pki_rotate")[0];
  ASSERT_NE(before, after);

  ASSERT_TRUE((*ca)->Refresh().ok());
  const CaStats stats = (*ca)->Stats();
  EXPECT_EQ(stats.generation, 2u);
  EXPECT_EQ(stats.rotations, 1);
  EXPECT_EQ((*ca)->RootBundlePem().value(), Trimmed(root_->cert_pem));
  const Csr csr = MakeCsr();
  absl::StatusOr<SignedChain> chain = (*ca)->Sign(Request(csr));
  ASSERT_TRUE(chain.ok()) << chain.status();
  EXPECT_EQ(chain->cert_chain[1], after);
  // Unchanged: no new generation.
  ASSERT_TRUE((*ca)->Refresh().ok());
  EXPECT_EQ((*ca)->Stats().generation, 2u);
}

TEST_F(ManagedVaultPkiRealTest, LostAccessMakesItNotReady) {
  absl::StatusOr<std::string> token =
      Cli({"token", "create", "-field=token", "-ttl=1h"});
  ASSERT_TRUE(token.ok()) << token.status();
  const std::string child(absl::StripAsciiWhitespace(*token));
  auto ca = NewCa("pki_offline", root_->cert_pem, child);
  ASSERT_TRUE(ca.ok()) << ca.status();
  EXPECT_TRUE((*ca)->Readiness().ok());
  ASSERT_TRUE(Cli({"token", "revoke", child}).ok());

  EXPECT_FALSE((*ca)->Refresh().ok());
  const absl::Status readiness = (*ca)->Readiness();
  EXPECT_EQ(readiness.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(readiness.message(), HasSubstr("pki_offline"));
  const CaStats stats = (*ca)->Stats();
  EXPECT_FALSE(stats.ready);
  EXPECT_EQ(stats.failures.fetch, 1);
  EXPECT_FALSE(stats.last_error.empty());
  // Signing is refused by Vault too: readiness told the truth.
  EXPECT_FALSE((*ca)->Sign(Request(MakeCsr())).ok());
}

}  // namespace
}  // namespace ca
}  // namespace vaultca
