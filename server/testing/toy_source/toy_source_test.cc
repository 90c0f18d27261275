// Adding a CA source takes its folder and one registration line: this test
// registers the toy source, configures it the way an operator would (YAML
// plus environment), starts the server and obtains a certificate over gRPC.

#include "server/testing/toy_source/toy_source.h"

#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "ca/registry/builtin_ca_sources.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/config.h"
#include "server/server.h"
#include "server/testing/agent_client.h"
#include "server/testing/cert_inspect.h"
#include "testing/temp_dir.h"
#include "testing/test_jwt.h"

namespace vaultca {
namespace server {
namespace {

using ::testing::HasSubstr;

constexpr char kIssuer[] = "https://kubernetes.default.svc.cluster.local";

void RegisterToy() {
  // The registration line.
  static const absl::Status registered = ca::DefaultCaSources().Register(
      std::make_unique<testing::ToySourceFactory>());
  ASSERT_TRUE(registered.ok()) << registered;
}

EnvLookup Env(std::map<std::string, std::string> vars) {
  return [vars](absl::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

// What vaultca-server does with its file and environment.
absl::StatusOr<ServerConfig> Load(const std::string& yaml,
                                  std::map<std::string, std::string> env) {
  auto config = ParseServerConfig(yaml);
  if (!config.ok()) return config.status();
  if (absl::Status s = ApplyEnvironment(Env(std::move(env)), &*config);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = ValidateServerConfig(*config); !s.ok()) return s;
  return config;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(ToySourceTest, ServesCertificatesFromYamlAndEnvironment) {
  RegisterToy();
  const std::string dir = testkit::MakeTempDir("toy");
  const testkit::TestJwtKey key{"k1", "ES256", 0};
  ASSERT_TRUE(testkit::WriteTestFile(dir + "/jwks.json",
                                     testkit::JwksJson({key}))
                  .ok());
  auto config = Load(absl::StrCat(R"(
listen: {grpc: "127.0.0.1:0", http: ""}
ca:
  source: toy
  toy: {organization: from-yaml, root_ttl: 48h}
  root_cert_file: )", dir, R"(/root-cert.pem
serving: {cert_dir: )", dir, R"(/serving}
auth:
  jwt: [{issuer: ")", kIssuer, R"(", jwks_file: )", dir, R"(/jwks.json}]
)"),
                     {{"VAULTCA_TOY_ORGANIZATION", "toy.example"}});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->ca.source, "toy");
  const testing::ToySourceConfig& toy =
      config->ca.source_options.Get<testing::ToySourceConfig>();
  EXPECT_EQ(toy.organization, "toy.example");  // The environment wins.
  EXPECT_EQ(toy.root_ttl, absl::Hours(48));

  auto server = VaultcaServer::Start(*config);
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_EQ((*server)->ca().source_description(), "toy:O=toy.example");
  const ca::CaStats stats = (*server)->ca().Stats();
  EXPECT_THAT(stats.subject, HasSubstr("O=toy.example"));
  EXPECT_EQ(stats.not_after - stats.not_before,
            absl::Hours(48) + absl::Minutes(2));

  const std::string root = ReadFile(dir + "/root-cert.pem");
  ASSERT_THAT(root, HasSubstr("BEGIN CERTIFICATE"));
  testing::AgentOptions agent;
  agent.address = absl::StrCat("127.0.0.1:", (*server)->grpc_port());
  agent.root_cert_pem = root;
  agent.token = testkit::SignJwt(key, testkit::SaClaimsJson({}));
  agent.key_type = ca::KeyType::kEcP256;
  testing::AgentResult result = testing::AgentClient(agent).Request();
  ASSERT_EQ(result.code, grpc::StatusCode::OK) << result.message;
  ASSERT_EQ(result.cert_chain.size(), 2u);
  EXPECT_EQ(result.cert_chain.back(), root);
  EXPECT_TRUE(testing::VerifyLeaf(result.cert_chain, root).ok());
  auto leaf = testing::InspectLeaf(result.cert_chain[0]);
  ASSERT_TRUE(leaf.ok()) << leaf.status();
  EXPECT_THAT(leaf->sans, ::testing::ElementsAre(
                              "spiffe://cluster.local/ns/default/sa/sleep"));
  (*server)->Shutdown(absl::Seconds(1));
}

TEST(ToySourceTest, ItsConfigurationErrorsAreAsPreciseAsTheBuiltins) {
  RegisterToy();
  struct Case {
    std::string yaml;
    std::map<std::string, std::string> env;
    std::string expect;
  };
  for (const Case& c : std::vector<Case>{
           {"ca: {toy: {organisation: x}}", {},
            "unknown option 'ca.toy.organisation'"},
           {"ca: {toy: {root_ttl: soon}}", {},
            "'ca.toy.root_ttl' must be a duration"},
           {"ca: {source: toy, toy: {root_ttl: 30m}}", {},
            "configuration option ca.toy.root_ttl: must be at least 1h"},
           {"ca: {source: toy, toy: {organization: ''}}", {},
            "ca.toy.organization (VAULTCA_TOY_ORGANIZATION): must not be "
            "empty"},
           {"ca: {source: toys}", {},
            "ca.source='toys' is invalid: expected self-signed, files, "
            "vault, vault-pki or toy"},
           {"", {{"VAULTCA_CA_SOURCE", "toys"}},
            "VAULTCA_CA_SOURCE='toys' is invalid"},
       }) {
    auto config = Load(c.yaml, c.env);
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument)
        << c.yaml;
    EXPECT_THAT(config.status().message(), HasSubstr(c.expect)) << c.yaml;
  }
  // The toy's block is checked only when it is the source.
  EXPECT_TRUE(Load("ca: {toy: {root_ttl: 30m}}", {}).ok());
  // VAULTCA_CA_SOURCE selects it too, in any case.
  auto from_env = Load("", {{"VAULTCA_CA_SOURCE", "TOY"}});
  ASSERT_TRUE(from_env.ok()) << from_env.status();
  EXPECT_EQ(from_env->ca.source, "toy");
}

}  // namespace
}  // namespace server
}  // namespace vaultca
