// `vaultca rotate` against the real Vault and the real kube-apiserver,
// with a real vaultca-server in process reading the CA from that Vault and
// publishing istio-ca-root-cert: each step, its refusals, re-runs and
// check-and-set conflicts.

#include <stdlib.h>
#include <sys/stat.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "ca/sources/vault_kv/vault_kv_factory.h"
#include "cli/ca_probe.h"
#include "cli/internal/cert_checks.h"
#include "cli/rotate.h"
#include "cli/rotate_kube.h"
#include "cli/rotate_state.h"
#include "cli/testing/cli_test_env.h"
#include "cli/vault_flags.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "server/config.h"
#include "server/kube/testing/real_kube.h"
#include "server/server.h"
#include "testing/test_pki.h"
#include "vault/client.h"

namespace vaultca {
namespace cli {
namespace {

using ::testing::HasSubstr;
using server::testing::RealKube;
using testing::RunCli;
using testing::RunResult;
using testing::VaultEnv;

int Rotate(const std::vector<std::string>& args, const vault::EnvLookup& env,
           std::ostream& out, std::ostream& err) {
  return RunRotate(args, env, out, err);
}

class RotateRealTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto env = VaultEnv::Start();
    if (!env.ok()) {
      error_ = new std::string(env.status().ToString());
      return;
    }
    env_ = env->release();
    if (absl::Status s = server::testing::StartSuiteKube(&kube_); !s.ok()) {
      error_ = new std::string(s.ToString());
      return;
    }
    absl::Status s = Configure();
    if (!s.ok()) error_ = new std::string(s.ToString());
  }
  static absl::Status Configure() {
    if (auto out = env_->vault().Cli({"secrets", "enable", "-path=secret", "-version=2", "kv"});
        !out.ok()) {
      return out.status();
    }
    for (const char* ns : {"istio-system", "apps", "web"}) {
      if (absl::Status s = kube_->CreateNamespace(ns); !s.ok()) return s;
    }
    if (absl::Status s = kube_->CreateServiceAccount("apps", "sleep"); !s.ok()) return s;
    RealKube::TokenOptions options;
    options.audiences = {"istio-ca"};
    absl::StatusOr<std::string> token = kube_->RequestToken("apps", "sleep", options);
    if (!token.ok()) return token.status();
    workload_token_file_ = new std::string(env_->WriteFile("workload.jwt", *token));
    return absl::OkStatus();
  }
  static void TearDownTestSuite() {
    delete kube_;
    delete env_;
    delete error_;
    delete workload_token_file_;
    kube_ = nullptr;
    env_ = nullptr;
    error_ = nullptr;
  }
  void SetUp() override { VAULTCA_CLI_REQUIRE_PEER(error_ ? *error_ : std::string()); }

  // An in-process vaultca-server reading the CA at `cli_path` from Vault
  // every 200ms and publishing its root bundle to every namespace.
  std::unique_ptr<server::VaultcaServer> StartServer(const std::string& cli_path,
                                                     bool multi_root) {
    const std::string api_path = absl::StrCat("secret/data/", cli_path.substr(7));
    server::ServerConfig config;
    config.listen.grpc_address = "127.0.0.1:0";
    config.listen.http_address = "";
    config.ca.source = "vault";
    ca::VaultKvSourceConfig& refs =
        config.ca.source_options.Mutable<ca::VaultKvSourceConfig>();
    refs.cert_ref = absl::StrCat("vault:", api_path, "#certificate");
    refs.key_ref = absl::StrCat("vault:", api_path, "#privateKey");
    refs.chain_ref = absl::StrCat("vault:", api_path, "#certChain");
    refs.root_ref = absl::StrCat("vault:", api_path, "#rootCert");
    const std::map<std::string, std::string> vars = {
        {"VAULT_ADDR", env_->vault().address()},
        {"VAULT_CACERT", env_->tls().ca_file},
        {"VAULT_TOKEN", env_->vault().root_token()}};
    config.ca.vault_environment = testing::MapEnv(vars);
    config.ca.refresh_interval = absl::Milliseconds(200);
    config.ca.multi_root = multi_root;
    std::string dir = env_->dir() + "/serving-XXXXXX";
    EXPECT_NE(mkdtemp(dir.data()), nullptr);
    config.serving.cert_dir = dir;
    config.auth.token_review.enabled = true;
    config.auth.token_review.api_server = kube_->address();
    config.auth.token_review.ca_file = kube_->ca_file();
    config.auth.token_review.token_file = kube_->admin_token_file();
    config.mesh.root_configmap.enabled = true;
    config.mesh.root_configmap.lease_namespace = "istio-system";
    config.mesh.root_configmap.identity = "vaultca-0";
    absl::Status valid = server::ValidateServerConfig(config);
    EXPECT_TRUE(valid.ok()) << valid;
    auto server = server::VaultcaServer::Start(config);
    EXPECT_TRUE(server.ok()) << server.status();
    return server.ok() ? std::move(*server) : nullptr;
  }

  static std::vector<std::string> Kube() {
    return {"--kube-api=" + kube_->address(), "--kube-token-file=" + kube_->admin_token_file(),
            "--kube-ca-file=" + kube_->ca_file()};
  }

  RunResult Run(std::vector<std::string> args, const std::vector<std::string>& extra = {}) {
    for (const std::string& a : env_->TokenArgs()) args.push_back(a);
    for (const std::string& a : extra) args.push_back(a);
    return RunCli(Rotate, args);
  }
  RunResult RunWithHook(std::vector<std::string> args, const std::function<void()>& hook) {
    for (const std::string& a : env_->TokenArgs()) args.push_back(a);
    return RunCli(
        [&](const std::vector<std::string>& a, const vault::EnvLookup& e, std::ostream& o,
            std::ostream& err) { return RunRotate(a, e, o, err, hook); },
        args);
  }

  // The secret at the KV v2 data path, through the project's own client.
  CaRecord Read(const std::string& api_path) {
    vault::VaultConfig config;
    config.address = env_->vault().address();
    config.tls.ca_cert_file = env_->tls().ca_file;
    config.auth.method = vault::AuthMethod::kToken;
    config.auth.token = SecretData(env_->vault().root_token());
    vault::ClientOptions options;
    options.background_renewal = false;
    auto client = vault::VaultClient::New(config, std::move(options));
    EXPECT_TRUE(client.ok()) << client.status();
    if (!client.ok()) return {};
    absl::StatusOr<CaRecord> record = ReadCaRecord(client->get(), api_path);
    EXPECT_TRUE(record.ok()) << record.status();
    return record.ok() ? *std::move(record) : CaRecord();
  }

  // A certificate from the server, verified against what workloads in
  // namespace `ns` trust right now (their istio-ca-root-cert).
  absl::Status IssueAndVerifyAgainstConfigMap(int port, const std::string& tls_roots,
                                              const std::string& ns) {
    ProbeOptions probe;
    probe.address = absl::StrCat("127.0.0.1:", port);
    probe.root_pem = tls_roots;
    probe.token = SecretData(
        kube_->RequestToken("apps", "sleep", {{"istio-ca"}, absl::Minutes(10), "", ""}).value());
    probe.identity = "spiffe://cluster.local/ns/apps/sa/sleep";
    absl::StatusOr<ProbeResult> r = ProbeCa(probe);
    if (!r.ok()) return r.status();
    absl::StatusOr<nlohmann::json> cm =
        kube_->Call("GET", absl::StrCat("/api/v1/namespaces/", ns, "/configmaps/istio-ca-root-cert"));
    if (!cm.ok()) return cm.status();
    std::string intermediates;
    for (size_t i = 1; i + 1 < r->cert_chain.size(); ++i) intermediates += r->cert_chain[i];
    return internal::VerifyChain(r->cert_chain.front(), intermediates,
                                 (*cm)["data"].value("root-cert.pem", ""), absl::Now());
  }

  static VaultEnv* env_;
  static RealKube* kube_;
  static std::string* error_;
  static std::string* workload_token_file_;
};

VaultEnv* RotateRealTest::env_ = nullptr;
RealKube* RotateRealTest::kube_ = nullptr;
std::string* RotateRealTest::error_ = nullptr;
std::string* RotateRealTest::workload_token_file_ = nullptr;

TEST_F(RotateRealTest, IntermediateUnderTheSameRootWithServerConfirmation) {
  const ca::CaMaterialPem root = testkit::Root(ca::KeyType::kRsa, absl::Now(), 3);
  const ca::CaMaterialPem first = testkit::Intermediate(root, ca::KeyType::kEcP256);
  ASSERT_TRUE(env_->PutMaterial("secret/rotate/inter", first).ok());
  const std::string root_key = env_->WriteFile("root.key", std::string(root.key_pem.view()));
  auto server = StartServer("secret/rotate/inter", /*multi_root=*/false);
  ASSERT_NE(server, nullptr);
  const std::string addr = absl::StrCat("--server=127.0.0.1:", server->grpc_port());
  const std::vector<std::string> base = {"intermediate", "--path=secret/data/rotate/inter",
                                         "--root-key=" + root_key};

  // A key of another root: refused, nothing written.
  const ca::CaMaterialPem other = testkit::Root(ca::KeyType::kRsa, absl::Now(), 4);
  RunResult wrong = Run({"intermediate", "--path=secret/data/rotate/inter",
                         "--root-key=" + env_->WriteFile("other.key", std::string(other.key_pem.view()))});
  EXPECT_EQ(wrong.code, 1) << wrong.out << wrong.err;
  EXPECT_THAT(wrong.err, HasSubstr("matches none of the 1 root(s)"));
  EXPECT_EQ(Read("secret/data/rotate/inter").version, 1);

  // Dry run: the checks, the request, no write.
  RunResult dry = Run(base, {"--dry-run"});
  EXPECT_EQ(dry.code, 0) << dry.out << dry.err;
  EXPECT_THAT(dry.out, HasSubstr("PASS  new chain: verifies to the current root"));
  EXPECT_THAT(dry.out, HasSubstr("<redacted private key"));
  EXPECT_EQ(Read("secret/data/rotate/inter").version, 1);

  RunResult r = Run(base, {addr, "--server-token-file=" + *workload_token_file_,
                           "--server-name=istiod.istio-system.svc"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("PASS  new validity"));
  EXPECT_THAT(r.out, HasSubstr("PASS  confirm: 127.0.0.1:"));
  CaRecord after = Read("secret/data/rotate/inter");
  EXPECT_EQ(after.version, 2);
  EXPECT_NE(after.Text(kCertField), first.cert_pem);
  EXPECT_TRUE(HoldsAll(after.Text(kRootField), root.cert_pem));
  EXPECT_TRUE(internal::VerifyChain(after.Text(kCertField), after.Text(kChainField),
                                    root.cert_pem, absl::Now()).ok());
  EXPECT_TRUE(internal::KeyMatchesCertificate(after.fields[kKeyField], after.Text(kCertField)).ok());
  EXPECT_TRUE(IssueAndVerifyAgainstConfigMap(server->grpc_port(), root.cert_pem, "web").ok());

  // A re-run is idempotent: it confirms instead of rotating again.
  RunResult again = Run(base, {addr, "--server-token-file=" + *workload_token_file_});
  EXPECT_EQ(again.code, 0) << again.out << again.err;
  // A server that refuses the caller is not waited for.
  const absl::Time start = absl::Now();
  RunResult refused = Run(base, {addr});
  EXPECT_EQ(refused.code, 1);
  EXPECT_THAT(refused.err, HasSubstr("request authenticate failure"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(30));
  EXPECT_THAT(again.out, HasSubstr("write: already done"));
  EXPECT_EQ(Read("secret/data/rotate/inter").version, 2);

  // A concurrent change between the read and the write: check-and-set
  // refuses, and the other writer's version stays.
  RunResult conflict = RunWithHook(
      {"intermediate", "--path=secret/data/rotate/inter", "--root-key=" + root_key, "--force"},
      [&] { ASSERT_TRUE(env_->PutMaterial("secret/rotate/inter", first).ok()); });
  EXPECT_EQ(conflict.code, 1) << conflict.out << conflict.err;
  EXPECT_THAT(conflict.err, HasSubstr("check-and-set conflict"));
  CaRecord kept = Read("secret/data/rotate/inter");
  EXPECT_EQ(kept.version, 3);
  EXPECT_EQ(kept.Text(kCertField), first.cert_pem);

  // The root's key in Vault, by reference.
  ASSERT_TRUE(env_->vault().Cli({"kv", "put", "secret/offline/root",
                                 "privateKey=@" + root_key}).ok());
  RunResult by_ref = Run({"intermediate", "--path=secret/data/rotate/inter",
                          "--root-key=vault:secret/data/offline/root#privateKey"});
  EXPECT_EQ(by_ref.code, 0) << by_ref.out << by_ref.err;
  EXPECT_EQ(Read("secret/data/rotate/inter").version, 4);
  RunResult self_ref = Run({"intermediate", "--path=secret/data/rotate/inter", "--force",
                            "--root-key=vault:secret/data/rotate/inter#privateKey"});
  EXPECT_EQ(self_ref.code, 1);
  EXPECT_THAT(self_ref.err, HasSubstr("the signing key this rotation replaces"));
}

TEST_F(RotateRealTest, RootInFourStepsWithRefusalsBetweenThem) {
  const ca::CaMaterialPem old_root = testkit::Root(ca::KeyType::kRsa, absl::Now(), 5);
  const ca::CaMaterialPem old_inter = testkit::Intermediate(old_root, ca::KeyType::kEcP256);
  ASSERT_TRUE(env_->PutMaterial("secret/rotate/root", old_inter).ok());
  auto server = StartServer("secret/rotate/root", /*multi_root=*/true);
  ASSERT_NE(server, nullptr);
  const std::string addr = absl::StrCat("--server=127.0.0.1:", server->grpc_port());
  const std::string token = "--server-token-file=" + *workload_token_file_;
  std::vector<std::string> base = {"root", "--path=secret/data/rotate/root"};
  for (const std::string& a : Kube()) base.push_back(a);
  const std::string key_out = env_->WriteFile("unused", "") + ".new-root.key";

  // Out of order: refused with what comes first.
  RunResult early = Run(base, {"--step=switch-signing"});
  EXPECT_EQ(early.code, 1);
  EXPECT_THAT(early.err, HasSubstr("the next step is publish-bundle"));
  RunResult no_key = Run(base);
  EXPECT_EQ(no_key.code, 1);
  EXPECT_THAT(no_key.err, HasSubstr("--root-key-out FILE is required"));

  // A check-and-set conflict during publish-bundle: nothing kept, not
  // even the new root's key file.
  RunResult conflict = RunWithHook(
      [&] {
        std::vector<std::string> a = base;
        a.push_back("--root-key-out=" + key_out);
        return a;
      }(),
      [&] { ASSERT_TRUE(env_->PutMaterial("secret/rotate/root", old_inter).ok()); });
  EXPECT_EQ(conflict.code, 1) << conflict.out << conflict.err;
  EXPECT_THAT(conflict.err, HasSubstr("check-and-set conflict"));
  struct stat st;
  EXPECT_NE(stat(key_out.c_str(), &st), 0) << "the key of a root that never reached Vault";
  EXPECT_EQ(Read("secret/data/rotate/root").version, 2);

  // (a) publish-bundle.
  RunResult a = Run(base, {"--root-key-out=" + key_out});
  ASSERT_EQ(a.code, 0) << a.out << a.err;
  EXPECT_THAT(a.out, HasSubstr("publish-bundle: secret/data/rotate/root version 3"));
  ASSERT_EQ(stat(key_out.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  CaRecord published = Read("secret/data/rotate/root");
  ASSERT_EQ(SplitCertificates(published.Text(kRootField))->size(), 2u);
  EXPECT_EQ(published.Text(kCertField), old_inter.cert_pem) << "signing must not move yet";
  EXPECT_TRUE(published.Has(kNextCertField));
  const std::string both = published.Text(kRootField);

  RunResult again = Run(base, {"--step=publish-bundle", "--root-key-out=" + key_out});
  EXPECT_EQ(again.code, 0) << again.err;
  EXPECT_THAT(again.out, HasSubstr("publish-bundle: already done"));
  EXPECT_EQ(Read("secret/data/rotate/root").version, 3);

  // (b) A ConfigMap nobody publishes never holds both roots: refused with
  // what to wait for.
  RunResult lagging = Run(base, {"--configmap=not-published"});
  EXPECT_EQ(lagging.code, 1);
  EXPECT_THAT(lagging.err, HasSubstr("not yet: wait until not-published holds both roots in"));
  EXPECT_EQ(Read("secret/data/rotate/root").version, 3);

  RunResult waited = Run(base, {"--step=wait-bundle", "--wait=60s", addr, token});
  ASSERT_EQ(waited.code, 0) << waited.out << waited.err;
  EXPECT_THAT(waited.out, HasSubstr("PASS  wait-bundle: both roots in istio-ca-root-cert of"));
  EXPECT_THAT(waited.out, HasSubstr("serves both"));
  // Workloads under the old intermediate verify against every namespace's
  // bundle.
  EXPECT_TRUE(IssueAndVerifyAgainstConfigMap(server->grpc_port(), both, "web").ok());

  // (c) switch-signing.
  RunResult c = Run(base, {"--wait=60s", addr, token});
  ASSERT_EQ(c.code, 0) << c.out << c.err;
  EXPECT_THAT(c.out, HasSubstr("PASS  confirm: 127.0.0.1:"));
  CaRecord switched = Read("secret/data/rotate/root");
  EXPECT_EQ(switched.Text(kCertField), published.Text(kNextCertField));
  EXPECT_FALSE(switched.Has(kNextCertField));
  EXPECT_EQ(switched.Text(kRootField), both);
  EXPECT_TRUE(HoldsAll(switched.Text(kRetiringRootField), old_root.cert_pem));
  // A new leaf, under the new root, verifies against what the other
  // namespaces trust.
  EXPECT_TRUE(IssueAndVerifyAgainstConfigMap(server->grpc_port(), both, "apps").ok());

  // (d) drop-old-root: not before the grace, not without multi-root.
  RunResult grace = Run(base, {"--grace=24h", "--multi-root"});
  EXPECT_EQ(grace.code, 1);
  EXPECT_THAT(grace.err, HasSubstr("not yet: wait until "));
  RunResult no_multi = Run(base, {"--grace=0s"});
  EXPECT_EQ(no_multi.code, 1);
  EXPECT_THAT(no_multi.err, HasSubstr("ca.multi_root: true"));
  EXPECT_EQ(Read("secret/data/rotate/root").version, 4);

  RunResult d = Run(base, {"--grace=0s", "--multi-root", addr, token});
  ASSERT_EQ(d.code, 0) << d.out << d.err;
  EXPECT_THAT(d.out, HasSubstr("PASS  confirm: 127.0.0.1:"));
  EXPECT_THAT(d.out, HasSubstr("the root rotation is complete"));
  CaRecord done = Read("secret/data/rotate/root");
  ASSERT_EQ(SplitCertificates(done.Text(kRootField))->size(), 1u);
  EXPECT_FALSE(HoldsAll(done.Text(kRootField), old_root.cert_pem));
  EXPECT_FALSE(done.Has(kRetiringRootField));

  // A re-run does not start another rotation.
  RunResult finished = Run(base, {"--root-key-out=" + key_out + ".2"});
  EXPECT_EQ(finished.code, 0) << finished.err;
  EXPECT_THAT(finished.out, HasSubstr("drop-old-root: already done"));
  EXPECT_EQ(Read("secret/data/rotate/root").version, 5);

  // The new root's key rotates the intermediate under the new root.
  RunResult inter = Run({"intermediate", "--path=secret/data/rotate/root", "--force",
                         "--root-key=" + key_out, addr, token});
  EXPECT_EQ(inter.code, 0) << inter.out << inter.err;
}

// istiod as the CA writes istio-ca-root-cert into every namespace but
// kube-public, kube-node-lease and local-path-storage; wait-bundle must
// not wait for those, nor miss any other.
TEST_F(RotateRealTest, IstiodAsPublisherIsNotWaitedForWhereItNeverWrites) {
  const std::string root = testkit::Root(ca::KeyType::kEcP256, absl::Now(), 6).cert_pem;
  absl::StatusOr<nlohmann::json> namespaces = kube_->Call("GET", "/api/v1/namespaces");
  ASSERT_TRUE(namespaces.ok()) << namespaces.status();
  std::vector<std::string> written;
  for (const nlohmann::json& ns : (*namespaces)["items"]) {
    const std::string name = ns["metadata"].value("name", "");
    if (name == "kube-public" || name == "kube-node-lease") continue;
    const nlohmann::json cm = {
        {"apiVersion", "v1"}, {"kind", "ConfigMap"},
        {"metadata", {{"name", "istiod-root"}, {"namespace", name}}},
        {"data", {{"root-cert.pem", root}}}};
    ASSERT_TRUE(kube_->Call("POST", absl::StrCat("/api/v1/namespaces/", name, "/configmaps"), &cm)
                    .ok());
    written.push_back(name);
  }
  ASSERT_GE(written.size(), 4u);  // default, kube-system and the suite's own.

  TrustBundleTarget target;
  target.configmap_name = "istiod-root";
  absl::StatusOr<TrustPropagation> seen = CheckTrustPropagation(*kube_->admin(), target, root);
  ASSERT_TRUE(seen.ok()) << seen.status();
  EXPECT_EQ(seen->lagging, (std::vector<std::string>{"kube-node-lease", "kube-public"}));

  ASSERT_TRUE(SetTrustPublisher("istiod", &target).ok());
  seen = CheckTrustPropagation(*kube_->admin(), target, root);
  ASSERT_TRUE(seen.ok()) << seen.status();
  EXPECT_TRUE(seen->complete()) << seen->Summary();
  EXPECT_EQ(seen->namespaces, static_cast<int>(written.size()));
  // One namespace it does write to, missing: waited for.
  ASSERT_TRUE(kube_->Call("DELETE", "/api/v1/namespaces/kube-system/configmaps/istiod-root").ok());
  seen = CheckTrustPropagation(*kube_->admin(), target, root);
  ASSERT_TRUE(seen.ok()) << seen.status();
  EXPECT_EQ(seen->lagging, std::vector<std::string>{"kube-system"});

  absl::Status unknown = SetTrustPublisher("cert-manager", &target);
  EXPECT_EQ(unknown.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(target.publisher, "istiod");
  RunResult bad = RunCli(Rotate, {"root", "--publisher=cert-manager"});
  EXPECT_EQ(bad.code, 2);
  EXPECT_THAT(bad.err, HasSubstr("--publisher cert-manager: use vaultca"));
}

TEST_F(RotateRealTest, UsageErrors) {
  EXPECT_EQ(RunCli(Rotate, {}).code, 2);
  EXPECT_EQ(RunCli(Rotate, {"sideways"}).code, 2);
  RunResult no_key = RunCli(Rotate, {"intermediate"});
  EXPECT_EQ(no_key.code, 2);
  EXPECT_THAT(no_key.err, HasSubstr("--root-key is required"));
  RunResult help = RunCli(Rotate, {"--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_THAT(help.out, HasSubstr("drop-old-root"));
  RunResult missing = Run({"intermediate", "--path=secret/data/rotate/nothing",
                           "--root-key=/nonexistent"});
  EXPECT_EQ(missing.code, 1);
  EXPECT_THAT(missing.err, HasSubstr("no CA at secret/data/rotate/nothing"));
}

}  // namespace
}  // namespace cli
}  // namespace vaultca
