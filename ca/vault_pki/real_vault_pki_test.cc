// VaultPkiCertificateAuthority against a real HashiCorp Vault
// (VAULTCA_VAULT_BIN) with the PKI engine set up the way operators do: a
// root mount `pki`, and intermediates signed by it in `pki_int` (set-signed
// with the intermediate alone, so Vault's ca_chain lacks the root) and
// `pki_int_bundle` (set-signed with intermediate + root, so ca_chain holds
// the root), each with a role for the mesh's SPIFFE ids.
//
// Fails when the binary is missing unless VAULTCA_ALLOW_NO_VAULT=1.

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "ca/vault_pki/testing/chain_checks.h"
#include "ca/vault_pki/vault_pki_ca.h"
#include "ca/workload_csr.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "testing/real_vault_fixture.h"
#include "testing/signing.h"
#include "testing/temp_dir.h"
#include "testing/tls.h"
#include "vault/client.h"
#include "x509/csr.h"

namespace vaultca {
namespace ca {
namespace {

using ::testing::HasSubstr;

constexpr char kSpiffeId[] = "spiffe://cluster.local/ns/default/sa/sleep";

// The role an operator writes for Istio workloads: SPIFFE URI SANs of the
// trust domain only, no CN, any key type, and (the safe choice) names taken
// from the request, not from the CSR.
const std::vector<std::string> kRoleArgs = {
    "allowed_uri_sans=spiffe://cluster.local/*",
    "allow_any_name=true",
    "enforce_hostnames=false",
    "require_cn=false",
    "key_type=any",
    "use_csr_sans=false",
    "use_csr_common_name=false",
    "max_ttl=720h"};

class RealVaultPkiTest : public testkit::RealVaultSuite {
 protected:
  static void SetUpTestSuite() { StartSuite(&ConfigurePki); }

  static void TearDownTestSuite() {
    delete root_pem_;
    root_pem_ = nullptr;
    RealVaultSuite::TearDownTestSuite();
  }

  static absl::StatusOr<std::string> Cli(const std::vector<std::string>& args) {
    return vault_->Cli(args);
  }

  static std::string File(const std::string& name, const std::string& text) {
    return "@" + testkit::WriteFileIn(tls_->dir, name, text).value();
  }

  // An intermediate mount signed by `pki`; `with_root` imports the root
  // along with it.
  static absl::Status MountIntermediate(const std::string& mount,
                                        bool with_root) {
    for (const std::vector<std::string>& args :
         std::vector<std::vector<std::string>>{
             {"secrets", "enable", absl::StrCat("-path=", mount), "pki"},
             {"secrets", "tune", "-max-lease-ttl=43800h", mount}}) {
      absl::StatusOr<std::string> out = Cli(args);
      if (!out.ok()) return out.status();
    }
    absl::StatusOr<std::string> csr =
        Cli({"write", "-field=csr",
             absl::StrCat(mount, "/intermediate/generate/internal"),
             absl::StrCat("common_name=vaultca test ", mount)});
    if (!csr.ok()) return csr.status();
    absl::StatusOr<std::string> cert =
        Cli({"write", "-field=certificate", "pki/root/sign-intermediate",
             "csr=" + File(mount + ".csr", *csr), "format=pem",
             "ttl=43800h"});
    if (!cert.ok()) return cert.status();
    std::string bundle = std::string(absl::StripAsciiWhitespace(*cert)) + "\n";
    if (with_root) bundle += *root_pem_;
    absl::StatusOr<std::string> set =
        Cli({"write", absl::StrCat(mount, "/intermediate/set-signed"),
             "certificate=" + File(mount + ".pem", bundle)});
    if (!set.ok()) return set.status();
    std::vector<std::string> role = {"write",
                                     absl::StrCat(mount, "/roles/istio")};
    role.insert(role.end(), kRoleArgs.begin(), kRoleArgs.end());
    absl::StatusOr<std::string> out = Cli(role);
    return out.ok() ? absl::OkStatus() : out.status();
  }

  static absl::Status ConfigurePki() {
    for (const std::vector<std::string>& args :
         std::vector<std::vector<std::string>>{
             {"secrets", "enable", "pki"},
             {"secrets", "tune", "-max-lease-ttl=87600h", "pki"}}) {
      absl::StatusOr<std::string> out = Cli(args);
      if (!out.ok()) return out.status();
    }
    absl::StatusOr<std::string> root =
        Cli({"write", "-field=certificate", "pki/root/generate/internal",
             "common_name=vaultca test root", "ttl=87600h"});
    if (!root.ok()) return root.status();
    root_pem_ =
        new std::string(std::string(absl::StripAsciiWhitespace(*root)) + "\n");
    absl::Status status = MountIntermediate("pki_int", false);
    if (!status.ok()) return status;
    status = MountIntermediate("pki_int_bundle", true);
    if (!status.ok()) return status;
    // The role Vault writes by default: names copied from the CSR.
    std::vector<std::string> csr_sans = {"write", "pki_int/roles/csr-sans"};
    for (const std::string& arg : kRoleArgs) {
      csr_sans.push_back(arg == "use_csr_sans=false" ? "use_csr_sans=true"
                                                     : arg);
    }
    absl::StatusOr<std::string> out = Cli(csr_sans);
    return out.ok() ? absl::OkStatus() : out.status();
  }

  static std::shared_ptr<vault::VaultClient> Client(
      const std::string& token = "") {
    vault::VaultConfig config;
    config.address = vault_->address();
    config.tls.ca_cert_file = tls_->ca_file;
    config.auth.token =
        SecretData(token.empty() ? vault_->root_token() : token);
    config.timeout = absl::Seconds(20);
    config.retry_base_backoff = absl::Milliseconds(50);
    config.retry_max_backoff = absl::Milliseconds(200);
    vault::ClientOptions options;
    options.warn = [](absl::string_view) {};
    auto client = vault::VaultClient::New(config, std::move(options));
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? std::shared_ptr<vault::VaultClient>(*std::move(client))
                       : nullptr;
  }

  static VaultPkiCaOptions Options(const std::string& mount = "pki_int",
                                   const std::string& role = "istio") {
    VaultPkiCaOptions options;
    options.mount = mount;
    options.role = role;
    options.root_bundle_pem = *root_pem_;
    return options;
  }

  static std::unique_ptr<VaultPkiCertificateAuthority> NewCa(
      VaultPkiCaOptions options, const std::string& token = "") {
    auto ca = VaultPkiCertificateAuthority::New(Client(token), std::move(options));
    EXPECT_TRUE(ca.ok()) << ca.status();
    return ca.ok() ? *std::move(ca) : nullptr;
  }

  struct Csr {
    std::string pem;
    std::string public_key_der;
  };
  // An istio-agent-shaped CSR (empty O=, critical URI SANs).
  static Csr MakeCsr(KeyType key_type,
                         std::vector<std::string> sans = {kSpiffeId}) {
    WorkloadCsrOptions options;
    options.identities = std::move(sans);
    options.key_type = key_type;
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

  // Vault's own answer for `mount`, to check each test's premise.
  static std::vector<std::string> RawCaChain(const std::string& mount) {
    const Csr csr = MakeCsr(KeyType::kEcP256);
    nlohmann::json body = {{"csr", csr.pem},
                           {"uri_sans", {kSpiffeId}},
                           {"format", "pem"}};
    auto answer = Client()->Write(mount + "/sign/istio", body.dump());
    EXPECT_TRUE(answer.ok()) << answer.status();
    if (!answer.ok()) return {};
    nlohmann::json json =
        nlohmann::json::parse(answer->view(), nullptr, false);
    std::vector<std::string> chain;
    if (json.is_discarded() || !json["data"].contains("ca_chain")) return chain;
    for (const auto& c : json["data"]["ca_chain"]) {
      chain.push_back(std::string(absl::StripAsciiWhitespace(
                          c.get<std::string>())) + "\n");
    }
    return chain;
  }

  static inline std::string* root_pem_ = nullptr;
};

TEST_F(RealVaultPkiTest, SignsRsaAndP256WorkloadCsrsThroughAnIntermediate) {
  // Premise: Vault's ca_chain for this mount stops below the root.
  const std::vector<std::string> raw = RawCaChain("pki_int");
  ASSERT_EQ(raw.size(), 1u);
  EXPECT_NE(raw[0], *root_pem_);

  auto ca = NewCa(Options());
  for (KeyType key_type : {KeyType::kRsa, KeyType::kEcP256}) {
    SCOPED_TRACE(KeyTypeName(key_type));
    const Csr csr = MakeCsr(key_type);
    absl::StatusOr<SignedChain> chain = ca->Sign(Request(csr));
    ASSERT_TRUE(chain.ok()) << chain.status();
    absl::Status check = testing::CheckIstioChain(
        *chain, *ca->RootBundlePem(), 1, csr.public_key_der, kSpiffeId);
    EXPECT_TRUE(check.ok()) << check;
    EXPECT_EQ(chain->cert_chain[1], raw[0]);
  }
}

TEST_F(RealVaultPkiTest, CaChainHoldingTheRootIsNotRepeated) {
  // Premise: this mount's ca_chain includes the root.
  const std::vector<std::string> raw = RawCaChain("pki_int_bundle");
  ASSERT_EQ(raw.size(), 2u);
  EXPECT_EQ(raw[1], *root_pem_);

  auto ca = NewCa(Options("pki_int_bundle"));
  for (KeyType key_type : {KeyType::kRsa, KeyType::kEcP256}) {
    const Csr csr = MakeCsr(key_type);
    absl::StatusOr<SignedChain> chain = ca->Sign(Request(csr));
    ASSERT_TRUE(chain.ok()) << chain.status();
    absl::Status check = testing::CheckIstioChain(
        *chain, *ca->RootBundlePem(), 1, csr.public_key_der, kSpiffeId);
    EXPECT_TRUE(check.ok()) << check;
  }
}

TEST_F(RealVaultPkiTest, RootMountSignsDirectly) {
  std::vector<std::string> role = {"write", "pki/roles/istio"};
  role.insert(role.end(), kRoleArgs.begin(), kRoleArgs.end());
  ASSERT_TRUE(Cli(role).ok());
  auto ca = NewCa(Options("pki"));
  const Csr csr = MakeCsr(KeyType::kEcP256);
  absl::StatusOr<SignedChain> chain = ca->Sign(Request(csr));
  ASSERT_TRUE(chain.ok()) << chain.status();
  absl::Status check = testing::CheckIstioChain(
      *chain, *ca->RootBundlePem(), 0, csr.public_key_der, kSpiffeId);
  EXPECT_TRUE(check.ok()) << check;
}

TEST_F(RealVaultPkiTest, SignVerbatimCopiesTheCsrAndPassesTheChecks) {
  VaultPkiCaOptions options = Options();
  options.endpoint = VaultPkiEndpoint::kSignVerbatim;
  auto ca = NewCa(options);
  const Csr csr = MakeCsr(KeyType::kRsa);
  absl::StatusOr<SignedChain> chain = ca->Sign(Request(csr));
  ASSERT_TRUE(chain.ok()) << chain.status();
  EXPECT_TRUE(testing::CheckIstioChain(*chain, *ca->RootBundlePem(), 1,
                                       csr.public_key_der, kSpiffeId)
                  .ok());
}

TEST_F(RealVaultPkiTest, CsrSansRoleCannotSmuggleAnotherIdentity) {
  // A workload asks, in its CSR, for istiod's identity too; the default
  // role (use_csr_sans=true) would issue it.
  const Csr csr =
      MakeCsr(KeyType::kEcP256,
                  {kSpiffeId, "spiffe://cluster.local/ns/istio-system/sa/istiod"});
  auto ca = NewCa(Options("pki_int", "csr-sans"));
  absl::Status status = ca->Sign(Request(csr)).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal) << status;
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("istiod that vaultca did not request"));
  // The same through the safe role: Vault ignores the CSR's names.
  ca = NewCa(Options());
  absl::StatusOr<SignedChain> chain = ca->Sign(Request(csr));
  ASSERT_TRUE(chain.ok()) << chain.status();
}

TEST_F(RealVaultPkiTest, RoleRefusingTheIdentityIsFailedPrecondition) {
  auto ca = NewCa(Options());
  SignRequest request = Request(MakeCsr(KeyType::kEcP256));
  request.identities = {"spiffe://other.domain/ns/default/sa/sleep"};
  absl::Status status = ca->Sign(request).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("pki_int/sign/istio"));
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("not valid for this role"));
}

TEST_F(RealVaultPkiTest, UnknownRoleIsReported) {
  auto ca = NewCa(Options("pki_int", "no-such-role"));
  absl::Status status =
      ca->Sign(Request(MakeCsr(KeyType::kEcP256))).status();
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(std::string(status.message()), HasSubstr("no-such-role"));
}

TEST_F(RealVaultPkiTest, WrongConfiguredRootIsFailedPrecondition) {
  // The bundle mount's own root would do; a fresh unrelated root must not.
  absl::StatusOr<std::string> other = Cli({"secrets", "enable", "-path=pki_other", "pki"});
  ASSERT_TRUE(other.ok()) << other.status();
  absl::StatusOr<std::string> other_root =
      Cli({"write", "-field=certificate", "pki_other/root/generate/internal",
           "common_name=vaultca test root", "ttl=24h"});
  ASSERT_TRUE(other_root.ok()) << other_root.status();
  VaultPkiCaOptions options = Options();
  options.root_bundle_pem = *other_root;
  auto ca = NewCa(options);
  absl::Status status =
      ca->Sign(Request(MakeCsr(KeyType::kEcP256))).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("configured root bundle"));
}

TEST_F(RealVaultPkiTest, TokenWithoutPkiPolicyIsPermissionDenied) {
  absl::StatusOr<std::string> token =
      Cli({"token", "create", "-field=token", "-policy=default"});
  ASSERT_TRUE(token.ok()) << token.status();
  const std::string t(absl::StripAsciiWhitespace(*token));
  auto ca = NewCa(Options(), t);
  absl::Status status =
      ca->Sign(Request(MakeCsr(KeyType::kEcP256))).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied) << status;
  EXPECT_THAT(std::string(status.message()), ::testing::Not(HasSubstr(t)));
}

}  // namespace
}  // namespace ca
}  // namespace vaultca
