// The istiod-tls Secret against a real kube-apiserver, signed by a real
// LocalCertificateAuthority over PKI generated here: created with istiod's
// names and a chain to the root, restored after a delete or an edit,
// re-issued after an intermediate and a root rotation and at 2/3 of a short
// TTL, left alone otherwise, and written by one replica only. Writes are
// counted by the API server's own apiserver_request_total.

#include <iostream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "ca/certificate_authority.h"
#include "ca/generate.h"
#include "ca/key_cert_bundle.h"
#include "ca/local_ca.h"
#include "common/sync.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "server/kube/testing/real_kube.h"
#include "server/mesh/internal/tls_secret_check.h"
#include "server/mesh/istiod_cert.h"

namespace vaultca {
namespace server {
namespace {

using Json = nlohmann::json;
using mesh_internal::TlsSecretData;
using testing::RealKube;

constexpr char kIstioNamespace[] = "istio-system";
constexpr char kLeaseNamespace[] = "vaultca-system";
constexpr absl::Duration kWait = absl::Seconds(30);

// One CA generation: a root (shared or not with the previous one) and the
// intermediate that signs.
struct Generation {
  std::shared_ptr<const ca::KeyCertBundle> root;
  std::shared_ptr<const ca::KeyCertBundle> intermediate;
  std::shared_ptr<ca::LocalCertificateAuthority> ca;
  std::string root_pem() const { return intermediate->root_bundle_pem(); }
  std::string signer_pem() const { return intermediate->cert_pem(); }
};

Generation NewGeneration(std::shared_ptr<const ca::KeyCertBundle> root) {
  Generation g;
  if (root == nullptr) {
    ca::RootOptions options;
    options.key_type = ca::KeyType::kEcP256;
    absl::StatusOr<ca::CaMaterialPem> material =
        ca::GenerateSelfSignedRoot(options);
    EXPECT_TRUE(material.ok()) << material.status();
    root = *ca::KeyCertBundle::Create(*material);
  }
  g.root = root;
  absl::StatusOr<ca::CaMaterialPem> inter =
      ca::GenerateIntermediate(*root, ca::IntermediateOptions());
  EXPECT_TRUE(inter.ok()) << inter.status();
  g.intermediate = *ca::KeyCertBundle::Create(*inter);
  g.ca = *ca::LocalCertificateAuthority::New(g.intermediate);
  return g;
}

// The server's CA as the caching CA presents it: one CertificateAuthority
// whose material is swapped on rotation (not a fake: it signs with the
// real LocalCertificateAuthority in service).
class RotatingCa : public ca::CertificateAuthority {
 public:
  void Use(std::shared_ptr<ca::CertificateAuthority> ca) {
    MutexLock lock(&mu_);
    ca_ = std::move(ca);
  }
  absl::StatusOr<ca::SignedChain> Sign(const ca::SignRequest& request) override {
    return Current()->Sign(request);
  }
  absl::StatusOr<std::string> RootBundlePem() override {
    return Current()->RootBundlePem();
  }
  // Every CA this one rotates through runs istiod's default policy.
  const ca::IssuancePolicy& policy() const override { return *policy_; }

 private:
  std::shared_ptr<ca::CertificateAuthority> Current() {
    MutexLock lock(&mu_);
    return ca_;
  }
  const std::shared_ptr<const ca::IssuancePolicy> policy_ =
      ca::IssuancePolicy::Default();
  Mutex mu_;
  std::shared_ptr<ca::CertificateAuthority> ca_ ABSL_GUARDED_BY(mu_);
};

class IstiodCertRealKubeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    start_ = testing::StartSuiteKube(&kube_);
    if (start_.ok()) start_ = kube_->CreateNamespace(kLeaseNamespace);
    if (start_.ok()) start_ = kube_->CreateNamespace(kIstioNamespace);
  }
  static void TearDownTestSuite() {
    delete kube_;
    kube_ = nullptr;
  }
  void SetUp() override {
    if (!start_.ok() && testing::MissingKubeAllowed()) GTEST_SKIP() << start_;
    ASSERT_TRUE(start_.ok()) << start_;
    // Each test starts without the Secret.
    (void)kube_->Call("DELETE", SecretPath());
    generation_ = NewGeneration(nullptr);
    ca_.Use(generation_.ca);
  }

  static std::string SecretPath(const std::string& name = "istiod-tls") {
    return absl::StrCat("/api/v1/namespaces/", kIstioNamespace, "/secrets/",
                        name);
  }

  // Short lease times, so fail-over fits in a test.
  static IstiodCertOptions Options(const std::string& identity,
                                   const std::string& lease) {
    IstiodCertOptions options;
    options.lease_namespace = kLeaseNamespace;
    options.lease_name = lease;
    options.identity = identity;
    options.lease_duration = absl::Seconds(5);
    options.renew_deadline = absl::Seconds(3);
    options.retry_period = absl::Seconds(1);
    // EC keys: RSA generation only slows the tests down (RSA has its own).
    options.key_type = ca::KeyType::kEcP256;
    return options;
  }

  std::unique_ptr<IstiodCertificate> Start(IstiodCertOptions options) {
    absl::StatusOr<std::unique_ptr<IstiodCertificate>> cert =
        IstiodCertificate::New(kube_->admin(), std::move(options), &ca_);
    EXPECT_TRUE(cert.ok()) << cert.status();
    if (!cert.ok()) return nullptr;
    (*cert)->SetCa(generation_.root_pem(), generation_.signer_pem());
    return *std::move(cert);
  }

  // The Secret decoded; NotFound when there is none.
  struct Secret {
    std::string type;
    std::string resource_version;
    TlsSecretData data;
    Json object;
  };
  static absl::StatusOr<Secret> Read(const std::string& name = "istiod-tls") {
    absl::StatusOr<Json> got = kube_->Call("GET", SecretPath(name));
    if (!got.ok()) return got.status();
    Secret secret;
    secret.object = *got;
    secret.type = got->value("type", "");
    secret.resource_version = (*got)["metadata"].value("resourceVersion", "");
    const Json& data = (*got)["data"];
    std::string key;
    absl::Base64Unescape(data.value("tls.crt", ""), &secret.data.tls_crt);
    absl::Base64Unescape(data.value("ca.crt", ""), &secret.data.ca_crt);
    absl::Base64Unescape(data.value("tls.key", ""), &key);
    secret.data.tls_key = SecretData(key);
    return secret;
  }

  // What the Secret's certificate check says against `g`; "" when usable.
  static std::string Problem(const Generation& g,
                             const std::vector<std::string>& names,
                             ca::KeyType key_type = ca::KeyType::kEcP256) {
    absl::StatusOr<Secret> secret = Read();
    if (!secret.ok()) return std::string(secret.status().message());
    if (secret->type != "kubernetes.io/tls") return "type " + secret->type;
    mesh_internal::TlsWanted wanted;
    wanted.dns_names = names;
    wanted.key_type = key_type;
    wanted.root_bundle_pem = g.root_pem();
    wanted.signing_cert_pem = g.signer_pem();
    return mesh_internal::CheckTlsSecret(secret->data, wanted, absl::Now())
        .problem;
  }
  bool Usable(const Generation& g) {
    return Problem(g, {"istiod.istio-system.svc"}).empty();
  }

  template <typename Predicate>
  static bool Eventually(Predicate done, absl::Duration timeout = kWait) {
    const absl::Time deadline = absl::Now() + timeout;
    while (!done()) {
      if (absl::Now() > deadline) return false;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return true;
  }

  // Secret writes of any kind, as the API server counted them.
  static double Writes() {
    double total = 0;
    for (const char* verb : {"POST", "PUT", "PATCH", "DELETE"}) {
      absl::StatusOr<double> n = kube_->Requests("secrets", verb);
      EXPECT_TRUE(n.ok()) << n.status();
      total += n.ok() ? *n : 0;
    }
    return total;
  }

  static absl::Status start_;
  static RealKube* kube_;
  Generation generation_;
  RotatingCa ca_;
};

absl::Status IstiodCertRealKubeTest::start_;
RealKube* IstiodCertRealKubeTest::kube_ = nullptr;

TEST_F(IstiodCertRealKubeTest, RefusesBadOptions) {
  IstiodCertOptions options = Options("a", "bad");
  options.revisions = {"Not_A_Label"};
  EXPECT_EQ(IstiodCertificate::New(kube_->admin(), options, &ca_).status().code(),
            absl::StatusCode::kInvalidArgument);
  options = Options("a", "bad");
  options.key_type = ca::KeyType::kEd25519;
  EXPECT_FALSE(IstiodCertificate::New(kube_->admin(), options, &ca_).ok());
  options = Options("", "bad");
  EXPECT_FALSE(IstiodCertificate::New(kube_->admin(), options, &ca_).ok());
  options = Options("a", "bad");
  options.dns_names = {"*.example.com"};
  EXPECT_FALSE(IstiodCertificate::New(kube_->admin(), options, &ca_).ok());
  EXPECT_FALSE(IstiodCertificate::New(kube_->admin(), Options("a", "b"),
                                      nullptr)
                   .ok());
}

TEST_F(IstiodCertRealKubeTest, NamesFollowIstioRevisions) {
  IstiodCertOptions options;
  options.istiod_namespace = "mesh";
  options.revisions = {"default", "canary", "1-24", "canary"};
  options.dns_names = {"istiod-remote.mesh.svc", "istiod.mesh.svc"};
  EXPECT_EQ(IstiodDnsNames(options),
            (std::vector<std::string>{"istiod.mesh.svc",
                                      "istiod-canary.mesh.svc",
                                      "istiod-1-24.mesh.svc",
                                      "istiod-remote.mesh.svc"}));
}

TEST_F(IstiodCertRealKubeTest, CreatesTheSecretOnceAndARestartWritesNothing) {
  IstiodCertOptions options = Options("replica-a", "lease-create");
  options.revisions = {"default", "canary"};
  options.dns_names = {"istiod-remote.istio-system.svc"};
  options.key_type = ca::KeyType::kRsa;  // the default, istiod's
  const std::vector<std::string> names = {"istiod.istio-system.svc",
                                          "istiod-canary.istio-system.svc",
                                          "istiod-remote.istio-system.svc"};
  const double before = Writes();
  {
    std::unique_ptr<IstiodCertificate> cert = Start(options);
    ASSERT_NE(cert, nullptr);
    ASSERT_TRUE(cert->WaitCurrent(kWait));
    EXPECT_EQ(Problem(generation_, names, ca::KeyType::kRsa), "");
    EXPECT_EQ(cert->stats().writes, 1);
    EXPECT_EQ(cert->stats().issued, 1);
    EXPECT_EQ(cert->stats().failures, 0);
    EXPECT_GT(cert->stats().not_after, absl::Now() + absl::Hours(23));
  }
  EXPECT_EQ(Writes() - before, 1);

  absl::StatusOr<Secret> secret = Read();
  ASSERT_TRUE(secret.ok());
  // The leaf and the intermediate; the root only in ca.crt.
  EXPECT_EQ(secret->data.ca_crt, generation_.root_pem());
  EXPECT_NE(secret->data.tls_crt.find(generation_.signer_pem()),
            std::string::npos);
  EXPECT_EQ(secret->data.tls_crt.find(generation_.root->cert_pem()),
            std::string::npos);
  EXPECT_EQ((*secret).object["metadata"]["labels"].value(
                "app.kubernetes.io/managed-by", ""),
            "vaultca");

  // A restarted replica finds it usable and leaves it.
  std::unique_ptr<IstiodCertificate> again = Start(options);
  ASSERT_NE(again, nullptr);
  ASSERT_TRUE(again->WaitCurrent(kWait));
  EXPECT_EQ(again->stats().writes, 0);
  EXPECT_EQ(Read()->resource_version, secret->resource_version);
  EXPECT_EQ(Writes() - before, 1);
}

TEST_F(IstiodCertRealKubeTest, RestoredAfterDeleteOrEditAndOnlyThen) {
  std::unique_ptr<IstiodCertificate> cert =
      Start(Options("replica-a", "lease-restore"));
  ASSERT_NE(cert, nullptr);
  ASSERT_TRUE(cert->WaitCurrent(kWait));
  ASSERT_TRUE(Usable(generation_));

  ASSERT_TRUE(kube_->Call("DELETE", SecretPath()).ok());
  EXPECT_TRUE(Eventually([&] { return Usable(generation_); }));

  // A broken certificate is replaced; a key someone else added stays.
  Json edit = {{"data",
                {{"tls.crt", absl::Base64Escape("junk")},
                 {"extra", absl::Base64Escape("kept")}}}};
  ASSERT_TRUE(kube_->Call("PATCH", SecretPath(), &edit,
                          "application/merge-patch+json")
                  .ok());
  EXPECT_TRUE(Eventually([&] { return Usable(generation_); }));
  EXPECT_EQ((*Read()).object["data"].value("extra", ""),
            absl::Base64Escape("kept"));

  // Swapping in another valid key is caught too.
  const SecretData key = Read()->data.tls_key;
  ASSERT_TRUE(kube_->Call("DELETE", SecretPath()).ok());
  ASSERT_TRUE(Eventually([&] {
    absl::StatusOr<Secret> s = Read();
    return s.ok() && s->data.tls_key.view() != key.view();
  }));
  Json old_key = {
      {"data", {{"tls.key", absl::Base64Escape(std::string(key.view()))}}}};
  ASSERT_TRUE(kube_->Call("PATCH", SecretPath(), &old_key,
                          "application/merge-patch+json")
                  .ok());
  EXPECT_TRUE(Eventually([&] { return Usable(generation_); }));
  ASSERT_TRUE(cert->WaitCurrent(kWait));

  // Edits that leave the certificate usable cost no write.
  const double settled = Writes();
  const int checks = cert->stats().checks;
  Json annotate = {
      {"metadata", {{"annotations", {{"example.com/note", "hello"}}}}}};
  ASSERT_TRUE(kube_->Call("PATCH", SecretPath(), &annotate,
                          "application/merge-patch+json")
                  .ok());
  // Checked once more (the watch saw the edit) and found usable.
  ASSERT_TRUE(Eventually([&] { return cert->stats().checks > checks; }));
  ASSERT_TRUE(cert->WaitCurrent(kWait));
  EXPECT_EQ(Writes() - settled, 1);  // the annotation itself
  EXPECT_EQ(cert->stats().failures, 0);
}

TEST_F(IstiodCertRealKubeTest, AFightOverTheSecretIsSpacedOut) {
  std::unique_ptr<IstiodCertificate> cert =
      Start(Options("replica-a", "lease-fight"));
  ASSERT_NE(cert, nullptr);
  ASSERT_TRUE(cert->WaitCurrent(kWait));
  // Another controller breaks the certificate as soon as it is restored.
  Json edit = {{"data", {{"tls.crt", absl::Base64Escape("junk")}}}};
  ASSERT_TRUE(
      kube_->Call("PATCH", SecretPath(), &edit, "application/merge-patch+json")
          .ok());
  const absl::Time start = absl::Now();
  int restored = 0;
  while (absl::Now() - start < absl::Seconds(6)) {
    if (!Usable(generation_)) {
      absl::SleepFor(absl::Milliseconds(20));
      continue;
    }
    ++restored;
    ASSERT_TRUE(kube_->Call("PATCH", SecretPath(), &edit,
                            "application/merge-patch+json")
                    .ok());
  }
  std::cout << "MEASURED: restorations while another writer broke the Secret "
               "for 6s: "
            << restored << "\n";
  // Spaced 0.5, 1, 2 s apart after the first (4 s next): a handful, not
  // one per edit.
  EXPECT_GE(restored, 3);
  EXPECT_LE(restored, 5);
  EXPECT_TRUE(Eventually([&] { return Usable(generation_); }, absl::Seconds(15)));
}

TEST_F(IstiodCertRealKubeTest, ReplacesASecretOfAnotherType) {
  Json opaque = {{"metadata", {{"name", "istiod-tls"}}},
                 {"type", "Opaque"},
                 {"data", {{"tls.crt", absl::Base64Escape("x")}}}};
  ASSERT_TRUE(kube_->Call("POST",
                          absl::StrCat("/api/v1/namespaces/", kIstioNamespace,
                                       "/secrets"),
                          &opaque)
                  .ok());
  std::unique_ptr<IstiodCertificate> cert =
      Start(Options("replica-a", "lease-type"));
  ASSERT_NE(cert, nullptr);
  EXPECT_TRUE(Eventually([&] { return Usable(generation_); }));
  EXPECT_TRUE(cert->WaitCurrent(kWait));
}

TEST_F(IstiodCertRealKubeTest, OneWritePerRotation) {
  std::unique_ptr<IstiodCertificate> cert =
      Start(Options("replica-a", "lease-rotate"));
  ASSERT_NE(cert, nullptr);
  ASSERT_TRUE(cert->WaitCurrent(kWait));

  // The same material again: nothing.
  double before = Writes();
  cert->SetCa(generation_.root_pem(), generation_.signer_pem());
  ASSERT_TRUE(cert->WaitCurrent(kWait));
  EXPECT_EQ(Writes() - before, 0);

  // A new intermediate under the same root.
  Generation next = NewGeneration(generation_.root);
  ca_.Use(next.ca);
  before = Writes();
  const absl::Time rotated = absl::Now();
  cert->SetCa(next.root_pem(), next.signer_pem());
  ASSERT_TRUE(Eventually([&] { return Usable(next); }));
  std::cout << "MEASURED: istiod-tls re-issued after an intermediate rotation in "
            << absl::FormatDuration(
                   absl::Trunc(absl::Now() - rotated, absl::Milliseconds(1)))
            << "\n";
  ASSERT_TRUE(cert->WaitCurrent(kWait));
  EXPECT_EQ(Writes() - before, 1);
  EXPECT_FALSE(Usable(generation_));  // the old signer's check fails now

  // A new root and intermediate.
  Generation fresh = NewGeneration(nullptr);
  ca_.Use(fresh.ca);
  before = Writes();
  cert->SetCa(fresh.root_pem(), fresh.signer_pem());
  ASSERT_TRUE(Eventually([&] { return Usable(fresh); }));
  ASSERT_TRUE(cert->WaitCurrent(kWait));
  EXPECT_EQ(Read()->data.ca_crt, fresh.root_pem());
  EXPECT_EQ(Writes() - before, 1);
  EXPECT_EQ(cert->stats().writes, 3);
  EXPECT_EQ(cert->stats().conflicts, 0);
  EXPECT_EQ(cert->stats().failures, 0);

  // The root announced before the CA signs with it (as a CA that reads
  // its material later): the certificate issued meanwhile does not verify
  // to what was announced, so it is not written until the CA catches up.
  Generation later = NewGeneration(nullptr);
  before = Writes();
  cert->SetCa(later.root_pem(), later.signer_pem());
  ASSERT_TRUE(Eventually([&] { return cert->stats().failures > 0; }));
  EXPECT_EQ(Writes() - before, 0);
  EXPECT_TRUE(Usable(fresh));
  ca_.Use(later.ca);
  EXPECT_TRUE(Eventually([&] { return Usable(later); }));
  EXPECT_EQ(Writes() - before, 1);
}

TEST_F(IstiodCertRealKubeTest, RenewedAtTwoThirdsOfItsLife) {
  IstiodCertOptions options = Options("replica-a", "lease-ttl");
  options.ttl = absl::Seconds(6);
  const double before = Writes();
  std::unique_ptr<IstiodCertificate> cert = Start(options);
  ASSERT_NE(cert, nullptr);
  ASSERT_TRUE(Eventually([&] { return Usable(generation_); }));
  const absl::Time first = absl::Now();
  const std::string first_version = Read()->resource_version;

  ASSERT_TRUE(Eventually([&] {
    absl::StatusOr<Secret> s = Read();
    return s.ok() && s->resource_version != first_version;
  }, absl::Seconds(10)));
  const absl::Duration renewed_after = absl::Now() - first;
  std::cout << "MEASURED: a 6s certificate was renewed after "
            << absl::FormatDuration(absl::Trunc(renewed_after, absl::Milliseconds(1)))
            << "\n";
  // X.509 times are whole seconds: the renewal falls 3 to 4 s after it.
  EXPECT_GT(renewed_after, absl::Milliseconds(2500));
  EXPECT_LT(renewed_after, absl::Seconds(5) + absl::Milliseconds(500));
  EXPECT_TRUE(Usable(generation_));

  // Steady renewal: one write every 4 s, not one per event.
  ASSERT_TRUE(Eventually([&] { return cert->stats().writes >= 4; },
                         absl::Seconds(20)));
  const double writes = Writes() - before;
  EXPECT_GE(writes, 4);
  EXPECT_LE(writes, 5);
  EXPECT_EQ(cert->stats().failures, 0);
}

TEST_F(IstiodCertRealKubeTest, StandbyWritesNothingAndTakesOver) {
  // Neither releases the lease on stop: destroying the leader looks to the
  // API server exactly like a crash.
  IstiodCertOptions a = Options("replica-a", "lease-failover");
  IstiodCertOptions b = Options("replica-b", "lease-failover");
  a.release_on_stop = b.release_on_stop = false;
  const double before = Writes();
  std::unique_ptr<IstiodCertificate> first = Start(a);
  std::unique_ptr<IstiodCertificate> second = Start(b);
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  ASSERT_TRUE(Eventually([&] { return Usable(generation_); }));
  ASSERT_TRUE(Eventually([&] { return first->IsLeader() || second->IsLeader(); }));
  EXPECT_NE(first->IsLeader(), second->IsLeader());
  std::unique_ptr<IstiodCertificate>& leader = first->IsLeader() ? first : second;
  std::unique_ptr<IstiodCertificate>& standby = first->IsLeader() ? second : first;
  ASSERT_TRUE(leader->WaitCurrent(kWait));

  // The standby sees edits too and leaves them to the leader.
  ASSERT_TRUE(kube_->Call("DELETE", SecretPath()).ok());
  ASSERT_TRUE(Eventually([&] { return Usable(generation_); }));
  ASSERT_TRUE(leader->WaitCurrent(kWait));
  EXPECT_EQ(standby->stats().writes + standby->stats().issued, 0);
  EXPECT_EQ(leader->stats().writes, 2);
  EXPECT_EQ(Writes() - before, 3);  // two writes and the delete

  leader.reset();
  const absl::Time died = absl::Now();
  ASSERT_TRUE(kube_->Call("DELETE", SecretPath()).ok());
  ASSERT_TRUE(Eventually([&] { return Usable(generation_); }, absl::Seconds(15)));
  std::cout << "MEASURED: istiod-tls restored by the standby "
            << absl::FormatDuration(
                   absl::Trunc(absl::Now() - died, absl::Milliseconds(1)))
            << " after the holder died (lease 5s, retry 1s)\n";
  EXPECT_TRUE(standby->IsLeader());
  EXPECT_EQ(standby->stats().writes, 1);
}

}  // namespace
}  // namespace server
}  // namespace vaultca
