// `vaultca sync` against the real Vault and the real kube-apiserver:
// Vault configured by `vaultca bootstrap` (kubernetes auth pointed at the
// API server), istiod's pod-bound token for the login, the cacerts
// directory and the cacerts Secret.

#include <unistd.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cli/bootstrap.h"
#include "cli/cacerts_secret.h"
#include "cli/check.h"
#include "cli/sync.h"
#include "cli/testing/cli_test_env.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/kube/testing/real_kube.h"
#include "testing/test_pki.h"

namespace vaultca {
namespace cli {
namespace {

using ::testing::HasSubstr;
using server::testing::RealKube;
using testing::RunCli;
using testing::RunResult;
using testing::VaultEnv;

constexpr char kIstiodNs[] = "istio-system";
constexpr char kIstiodSa[] = "istiod-service-account-cp-v115x";

int BootstrapCommand(const std::vector<std::string>& args, const vault::EnvLookup& env,
                     std::ostream& out, std::ostream& err) {
  return RunBootstrap(args, env, out, err);
}

// RunSync with the default hooks (its --once runs return by themselves).
int SyncCommand(const std::vector<std::string>& args, const vault::EnvLookup& env,
                std::ostream& out, std::ostream& err) {
  return RunSync(args, env, out, err);
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string Link(const std::string& path) {
  char buf[4096];
  const ssize_t n = readlink(path.c_str(), buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, n) : "";
}

class SyncRealTest : public ::testing::Test {
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
    if (absl::Status s = Configure(); !s.ok()) error_ = new std::string(s.ToString());
  }

  // The cluster side, then Vault through `vaultca bootstrap` importing a
  // root + intermediate.
  static absl::Status Configure() {
    for (const char* ns : {kIstiodNs}) {
      if (absl::Status s = kube_->CreateNamespace(ns); !s.ok()) return s;
    }
    for (const auto& [ns, sa] : std::vector<std::pair<std::string, std::string>>{
             {kIstiodNs, kIstiodSa}, {"default", "vault"}}) {
      if (absl::Status s = kube_->CreateServiceAccount(ns, sa); !s.ok()) return s;
    }
    if (absl::Status s = kube_->BindClusterRole("vault-tokenreview", "system:auth-delegator",
                                                "default", "vault");
        !s.ok()) {
      return s;
    }
    absl::StatusOr<std::string> reviewer = PodToken("default", "vault", "vault-0");
    if (!reviewer.ok()) return reviewer.status();
    *root_ = testkit::Root(ca::KeyType::kEcP256);
    const ca::CaMaterialPem ca = testkit::Intermediate(*root_, ca::KeyType::kEcP256, absl::Now(), 0);
    if (absl::Status s = env_->vault().Cli({"secrets", "enable", "-path=secret", "-version=2", "kv"}).status();
        !s.ok()) {
      return s;
    }
    std::vector<std::string> args = env_->TokenArgs();
    for (const std::string& a :
         {"--kubernetes-host=" + kube_->address(),
          "--kubernetes-ca-file=" + kube_->ca_file(),
          "--token-reviewer-jwt-file=" + env_->WriteFile("reviewer.jwt", *reviewer),
          "--cert=" + env_->WriteFile("ca.crt", ca.cert_pem),
          "--key=" + env_->WriteFile("ca.key", std::string(ca.key_pem.view())),
          "--chain=" + env_->WriteFile("chain.pem", ca.chain_pem),
          "--root=" + env_->WriteFile("root.pem", ca.root_bundle_pem)}) {
      args.push_back(a);
    }
    RunResult boot = RunCli(BootstrapCommand, args);
    if (boot.code != 0) {
      return absl::InternalError(absl::StrCat("bootstrap: ", boot.out, boot.err));
    }
    RunResult again = RunCli(BootstrapCommand, args);
    if (again.code != 0 || again.out.find("nothing changed") == std::string::npos) {
      return absl::InternalError(absl::StrCat("bootstrap is not idempotent: ", again.out, again.err));
    }
    return absl::OkStatus();
  }

  // A token of ns/sa bound to pod ns/pod, created if missing.
  static absl::StatusOr<std::string> PodToken(const std::string& ns, const std::string& sa,
                                              const std::string& pod) {
    absl::StatusOr<std::string> uid = kube_->CreatePod(ns, pod, sa, "node-a");
    if (!uid.ok()) return uid.status();
    RealKube::TokenOptions options;
    options.ttl = absl::Seconds(3607);
    options.pod_name = pod;
    options.pod_uid = *uid;
    return kube_->RequestToken(ns, sa, options);
  }

  static void TearDownTestSuite() {
    delete kube_;
    kube_ = nullptr;
    delete env_;
    env_ = nullptr;
    delete error_;
    error_ = nullptr;
  }
  void SetUp() override {
    const std::string error = error_ == nullptr ? "" : *error_;
    VAULTCA_CLI_REQUIRE_PEER(error);
  }

  // Root-token sync of `cli_path` into `extra`'s target.
  RunResult SyncAsRoot(const std::string& cli_path, std::vector<std::string> extra) const {
    std::vector<std::string> args = env_->TokenArgs();
    const std::string api = "secret/data/" + cli_path.substr(sizeof("secret/") - 1);
    args.push_back("--cert-ref=vault:" + api + "#certificate");
    args.push_back("--key-ref=vault:" + api + "#privateKey");
    args.insert(args.end(), extra.begin(), extra.end());
    return RunCli(SyncCommand, args);
  }

  static inline VaultEnv* env_ = nullptr;
  static inline RealKube* kube_ = nullptr;
  static inline std::string* error_ = nullptr;
  static inline ca::CaMaterialPem* root_ = new ca::CaMaterialPem();
};

TEST_F(SyncRealTest, InitContainerLogsInWithIstiodsPodTokenAndWritesTheDirectory) {
  absl::StatusOr<std::string> token = PodToken(kIstiodNs, kIstiodSa, "istiod-0");
  ASSERT_TRUE(token.ok()) << token.status();
  const std::string dir = env_->dir() + "/istiod-cacerts";
  absl::StatusOr<std::string> jwt =
      server::testing::ProjectToken(env_->dir() + "/istiod-token", *token);
  ASSERT_TRUE(jwt.ok()) << jwt.status();
  std::vector<std::string> args = env_->ConnectionArgs();
  args.push_back("--jwt-file=" + *jwt);
  args.push_back("--once");
  args.push_back("--dir=" + dir);
  RunResult r = RunCli(SyncCommand, args);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("wrote dir:" + dir));
  EXPECT_EQ(Slurp(dir + "/root-cert.pem"), root_->root_bundle_pem);
  EXPECT_EQ(Link(dir + "/ca-key.pem"), "..data/ca-key.pem");

  RunResult again = RunCli(SyncCommand, args);
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_THAT(again.out, HasSubstr("is in step with Vault"));

  // `vaultca check` with the same login: the seed's "Test your setup".
  std::vector<std::string> check_args = env_->ConnectionArgs();
  check_args.push_back("--role=istiod");
  check_args.push_back("--jwt-file=" + *jwt);
  RunResult check = RunCli(RunCheck, check_args);
  EXPECT_EQ(check.code, 0) << check.out << check.err;
  EXPECT_THAT(check.out, HasSubstr("(kubernetes auth, role istiod), token ttl 1h"));

  // Another service account's pod token is refused by Vault's review.
  ASSERT_TRUE(kube_->CreateServiceAccount(kIstiodNs, "other").ok());
  absl::StatusOr<std::string> other = PodToken(kIstiodNs, "other", "other-0");
  ASSERT_TRUE(other.ok());
  args[2] = "--jwt-file=" + env_->WriteFile("other.jwt", *other);
  RunResult refused = RunCli(SyncCommand, args);
  EXPECT_EQ(refused.code, 1);
  EXPECT_THAT(refused.err, HasSubstr("vaultca sync: reading the CA from Vault"));
}

TEST_F(SyncRealTest, BadMaterialOrARootChangeKeepsTheOldFiles) {
  const ca::CaMaterialPem good = testkit::Intermediate(*root_, ca::KeyType::kEcP256, absl::Now(), 2);
  ASSERT_TRUE(env_->PutMaterial("secret/pki/bad", good).ok());
  const std::string dir = env_->dir() + "/bad-cacerts";
  ASSERT_EQ(SyncAsRoot("secret/pki/bad", {"--once", "--dir=" + dir}).code, 0);
  const std::string before = Link(dir + "/..data");

  ca::CaMaterialPem mismatched = good;
  mismatched.key_pem = testkit::CachedKeyPem(ca::KeyType::kEcP256, 6);
  ASSERT_TRUE(env_->PutMaterial("secret/pki/bad", mismatched).ok());
  RunResult r = SyncAsRoot("secret/pki/bad", {"--once", "--dir=" + dir});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("the CA in Vault fails a check, dir:" + dir +
                               " left as it was: FAIL  private key"));
  EXPECT_EQ(Link(dir + "/..data"), before);

  const ca::CaMaterialPem new_root = testkit::Root(ca::KeyType::kEcP256, absl::Now(), 8);
  const ca::CaMaterialPem other_root =
      testkit::Intermediate(new_root, ca::KeyType::kEcP256, absl::Now(), 3);
  ASSERT_TRUE(env_->PutMaterial("secret/pki/bad", other_root).ok());
  r = SyncAsRoot("secret/pki/bad", {"--once", "--dir=" + dir});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("would replace the one in dir:" + dir));
  EXPECT_EQ(Link(dir + "/..data"), before);
  EXPECT_EQ(Slurp(dir + "/ca-cert.pem"), good.cert_pem);
  // Not even for ISTIO_MULTIROOT_MESH: a running istiod ignores a bundle
  // unrelated to its own.
  r = SyncAsRoot("secret/pki/bad", {"--once", "--multi-root", "--dir=" + dir});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("Updating new ROOT-CA not supported"));
  EXPECT_EQ(Link(dir + "/..data"), before);

  // A root rotation's steps are what it takes, with --multi-root only:
  // the bundle grows, the new intermediate signs, the old root goes.
  const std::string both = good.root_bundle_pem + new_root.cert_pem;
  ca::CaMaterialPem published = good;
  published.root_bundle_pem = both;
  ASSERT_TRUE(env_->PutMaterial("secret/pki/bad", published).ok());
  r = SyncAsRoot("secret/pki/bad", {"--once", "--dir=" + dir});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("ISTIO_MULTIROOT_MESH=true"));
  EXPECT_EQ(Link(dir + "/..data"), before);
  ca::CaMaterialPem switched = other_root;
  switched.root_bundle_pem = both;
  for (const ca::CaMaterialPem* step :
       std::vector<const ca::CaMaterialPem*>{&published, &switched, &other_root}) {
    ASSERT_TRUE(env_->PutMaterial("secret/pki/bad", *step).ok());
    r = SyncAsRoot("secret/pki/bad", {"--once", "--multi-root", "--dir=" + dir});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(Slurp(dir + "/ca-cert.pem"), step->cert_pem);
    EXPECT_EQ(Slurp(dir + "/root-cert.pem"), step->root_bundle_pem);
  }

  RunResult denied = RunCli(SyncCommand, [&] {
    auto token = env_->PolicyToken("allow_istiod_secrets");
    std::vector<std::string> a = env_->TokenArgs(token.ok() ? *token : "");
    a.push_back("--cert-ref=vault:secret/data/pki/bad#certificate");
    a.push_back("--key-ref=vault:secret/data/pki/bad#privateKey");
    a.push_back("--once");
    a.push_back("--dir=" + dir);
    return a;
  }());
  EXPECT_EQ(denied.code, 1);
  EXPECT_THAT(denied.err, HasSubstr("permission denied"));
  EXPECT_THAT(denied.err, HasSubstr("grant read on the path"));
}

TEST_F(SyncRealTest, LoopFollowsAKvPutOfANewIntermediate) {
  const ca::CaMaterialPem first = testkit::Intermediate(*root_, ca::KeyType::kEcP256, absl::Now(), 4);
  const ca::CaMaterialPem next = testkit::Intermediate(*root_, ca::KeyType::kEcP256, absl::Now(), 5);
  ASSERT_TRUE(env_->PutMaterial("secret/pki/loop", first).ok());
  const std::string dir = env_->dir() + "/loop-cacerts";
  std::atomic<bool> stop{false};
  std::atomic<int> rounds{0};
  RunResult result;
  std::thread loop([&] {
    std::vector<std::string> args = env_->TokenArgs();
    args.push_back("--cert-ref=vault:secret/data/pki/loop#certificate");
    args.push_back("--key-ref=vault:secret/data/pki/loop#privateKey");
    args.push_back("--dir=" + dir);
    args.push_back("--interval=200ms");
    std::ostringstream out, err;
    SyncHooks hooks;
    hooks.wait = [&](absl::Duration d) {
      ++rounds;
      absl::SleepFor(d);
      return !stop.load();
    };
    result.code = RunSync(args, testing::MapEnv({}), out, err, hooks);
    result.out = out.str();
    result.err = err.str();
  });
  auto wait_for = [&](const std::string& cert) {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (Slurp(dir + "/ca-cert.pem") != cert && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(50));
    }
    return Slurp(dir + "/ca-cert.pem") == cert;
  };
  EXPECT_TRUE(wait_for(first.cert_pem));
  const absl::Time put = absl::Now();
  ASSERT_TRUE(env_->PutMaterial("secret/pki/loop", next).ok());
  EXPECT_TRUE(wait_for(next.cert_pem));
  const absl::Duration followed = absl::Now() - put;
  // One more round finds the directory in step.
  const int seen = rounds.load();
  while (rounds.load() < seen + 2) absl::SleepFor(absl::Milliseconds(20));
  stop = true;
  loop.join();
  EXPECT_EQ(result.code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("is in step with Vault"));
  EXPECT_EQ(Slurp(dir + "/cert-chain.pem"), next.chain_pem);
  std::cout << "MEASURED: sync loop (interval 200ms) wrote a new intermediate "
            << absl::FormatDuration(followed) << " after the kv put, " << rounds.load()
            << " rounds\n";
}

TEST_F(SyncRealTest, WritesTheCacertsSecretConditionedOnResourceVersion) {
  const ca::CaMaterialPem ca = testkit::Intermediate(*root_, ca::KeyType::kEcP256, absl::Now(), 6);
  ASSERT_TRUE(env_->PutMaterial("secret/pki/secret", ca).ok());
  const std::vector<std::string> kube = {"--secret", "--once", "--kube-api=" + kube_->address(),
                                         "--kube-token-file=" + kube_->admin_token_file(),
                                         "--kube-ca-file=" + kube_->ca_file()};
  RunResult created = SyncAsRoot("secret/pki/secret", kube);
  ASSERT_EQ(created.code, 0) << created.err;
  EXPECT_THAT(created.out, HasSubstr("wrote secret:istio-system/cacerts"));
  auto object = kube_->Call("GET", "/api/v1/namespaces/istio-system/secrets/cacerts");
  ASSERT_TRUE(object.ok()) << object.status();
  std::string decoded;
  ASSERT_TRUE(absl::Base64Unescape((*object)["data"]["ca-cert.pem"].get<std::string>(), &decoded));
  EXPECT_EQ(decoded, ca.cert_pem);
  ASSERT_TRUE(absl::Base64Unescape((*object)["data"]["root-cert.pem"].get<std::string>(), &decoded));
  EXPECT_EQ(decoded, root_->root_bundle_pem);
  RunResult same = SyncAsRoot("secret/pki/secret", kube);
  EXPECT_THAT(same.out, HasSubstr("secret:istio-system/cacerts is in step"));

  // Someone else updates the Secret between sync's read and its write:
  // the write is refused and their update stays.
  server::KubeApiOptions options;
  options.api_server = kube_->address();
  options.token_file = kube_->admin_token_file();
  options.ca_file = kube_->ca_file();
  auto client = server::KubeApiClient::New(options);
  ASSERT_TRUE(client.ok());
  CacertsSecret target(std::shared_ptr<const server::KubeApiClient>(std::move(*client)),
                       "istio-system", "cacerts");
  ASSERT_TRUE(target.Read().ok());
  nlohmann::json patch = {{"metadata", {{"labels", {{"edited-by", "someone"}}}}}};
  ASSERT_TRUE(kube_->Call("PATCH", "/api/v1/namespaces/istio-system/secrets/cacerts", &patch,
                          "application/merge-patch+json")
                  .ok());
  absl::Status conflict = target.Write(CacertsEntries(testkit::Intermediate(
      *root_, ca::KeyType::kEcP256, absl::Now(), 7)));
  EXPECT_EQ(conflict.code(), absl::StatusCode::kAborted) << conflict;
  EXPECT_THAT(std::string(conflict.message()), HasSubstr("HTTP 409"));
  auto after = kube_->Call("GET", "/api/v1/namespaces/istio-system/secrets/cacerts");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ((*after)["metadata"]["labels"].value("edited-by", ""), "someone");
  ASSERT_TRUE(absl::Base64Unescape((*after)["data"]["ca-cert.pem"].get<std::string>(), &decoded));
  EXPECT_EQ(decoded, ca.cert_pem);
}

}  // namespace
}  // namespace cli
}  // namespace vaultca
