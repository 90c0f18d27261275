// The Vault PKI CAs against the CertificateAuthority conformance suite, with
// a real HashiCorp Vault (VAULTCA_VAULT_BIN): VaultPkiCertificateAuthority
// over the roots it is given, and ManagedVaultPkiCa reading them from the
// issuer. The TTL the issuance policy settles is the one Vault's role is
// asked for, so the issued lifetimes are checked on Vault's certificates.
//
// Fails when the binary is missing unless VAULTCA_ALLOW_NO_VAULT=1.

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "ca/testing/ca_conformance.h"
#include "ca/vault_pki/managed_vault_pki_ca.h"
#include "ca/vault_pki/vault_pki_ca.h"
#include "gtest/gtest.h"
#include "testing/real_vault.h"
#include "testing/tls.h"
#include "vault/client.h"

namespace vaultca {
namespace ca {
namespace testing {
namespace {

using testkit::RealVault;

constexpr char kMount[] = "pki_conformance";

// One Vault for the whole binary: a PKI mount with a Vault-generated root
// and a role that lets the suite's requests through.
class VaultBackend : public ::testing::Environment {
 public:
  void SetUp() override {
    absl::Status started = testkit::StartSuiteVault(&tls_, &vault_);
    if (started.ok()) started = Configure();
    status_ = started;
  }
  void TearDown() override {
    delete vault_;
    vault_ = nullptr;
    delete tls_;
    tls_ = nullptr;
  }

  static absl::Status Ready(bool* skip) {
    *skip = !status_.ok() && testkit::MissingVaultAllowed() &&
            absl::StrContains(status_.message(), "VAULTCA_VAULT_BIN");
    return status_;
  }

  static std::shared_ptr<vault::VaultClient> Client() {
    vault::VaultConfig config;
    config.address = vault_->address();
    config.tls.ca_cert_file = tls_->ca_file;
    config.auth.token = SecretData(vault_->root_token());
    config.timeout = absl::Seconds(20);
    config.max_retries = 0;
    vault::ClientOptions options;
    options.warn = [](absl::string_view) {};
    auto client = vault::VaultClient::New(config, std::move(options));
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? std::shared_ptr<vault::VaultClient>(*std::move(client))
                       : nullptr;
  }

  static const std::string& root_pem() { return root_pem_; }

 private:
  static absl::Status Configure() {
    for (const std::vector<std::string>& args :
         std::vector<std::vector<std::string>>{
             {"secrets", "enable", absl::StrCat("-path=", kMount), "pki"},
             {"secrets", "tune", "-max-lease-ttl=87600h", kMount},
             {"write", absl::StrCat(kMount, "/roles/istio"),
              "allowed_uri_sans=spiffe://cluster.local/*",
              "allow_any_name=true", "enforce_hostnames=false",
              "require_cn=false", "key_type=any", "use_csr_sans=false",
              "use_csr_common_name=false", "no_store=true", "max_ttl=720h"}}) {
      absl::StatusOr<std::string> out = vault_->Cli(args);
      if (!out.ok()) return out.status();
    }
    absl::StatusOr<std::string> root = vault_->Cli(
        {"write", "-field=certificate",
         absl::StrCat(kMount, "/root/generate/internal"),
         "common_name=vaultca conformance root", "key_type=ec",
         "key_bits=256", "ttl=87600h"});
    if (!root.ok()) return root.status();
    root_pem_ = std::string(absl::StripAsciiWhitespace(*root)) + "\n";
    return absl::OkStatus();
  }

  static inline testkit::TestTls* tls_ = nullptr;
  static inline RealVault* vault_ = nullptr;
  static inline absl::Status status_ =
      absl::FailedPreconditionError("the Vault environment did not run");
  static inline std::string root_pem_;
};

::testing::Environment* const kBackend =
    ::testing::AddGlobalTestEnvironment(new VaultBackend);

VaultPkiCaOptions PkiOptions(IssuancePolicyOptions policy) {
  VaultPkiCaOptions options;
  options.mount = kMount;
  options.role = "istio";
  options.policy = std::move(policy);
  return options;
}

class VaultPkiCaHarness {
 public:
  static void SetUpTestSuite() {}
  static void TearDownTestSuite() {}
  static absl::Status Ready(bool* skip) { return VaultBackend::Ready(skip); }

  std::unique_ptr<CertificateAuthority> NewCa(IssuancePolicyOptions policy) {
    VaultPkiCaOptions options = PkiOptions(std::move(policy));
    options.root_bundle_pem = VaultBackend::root_pem();
    auto ca = VaultPkiCertificateAuthority::New(VaultBackend::Client(),
                                                std::move(options));
    EXPECT_TRUE(ca.ok()) << ca.status();
    if (!ca.ok()) return nullptr;
    return *std::move(ca);
  }
};

class ManagedVaultPkiCaHarness {
 public:
  static void SetUpTestSuite() {}
  static void TearDownTestSuite() {}
  static absl::Status Ready(bool* skip) { return VaultBackend::Ready(skip); }

  std::unique_ptr<CertificateAuthority> NewCa(IssuancePolicyOptions policy) {
    ManagedVaultPkiCaOptions options;
    options.pki = PkiOptions(std::move(policy));
    options.refresh_thread = false;
    options.startup_deadline = absl::ZeroDuration();
    auto ca = ManagedVaultPkiCa::New(VaultBackend::Client(), std::move(options));
    EXPECT_TRUE(ca.ok()) << ca.status();
    if (!ca.ok()) return nullptr;
    return *std::move(ca);
  }
};

INSTANTIATE_TYPED_TEST_SUITE_P(VaultPki, CaConformanceTest,
                               ::testing::Types<VaultPkiCaHarness>);
INSTANTIATE_TYPED_TEST_SUITE_P(ManagedVaultPki, CaConformanceTest,
                               ::testing::Types<ManagedVaultPkiCaHarness>);

}  // namespace
}  // namespace testing
}  // namespace ca
}  // namespace vaultca
