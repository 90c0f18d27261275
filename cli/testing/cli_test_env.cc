#include "cli/testing/cli_test_env.h"

#include <atomic>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "testing/temp_dir.h"

namespace vaultca {
namespace cli {
namespace testing {

vault::EnvLookup MapEnv(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](absl::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

RunResult RunCli(const Command& command, const std::vector<std::string>& args,
              const std::map<std::string, std::string>& env) {
  std::ostringstream out, err;
  RunResult result;
  result.code = command(args, MapEnv(env), out, err);
  result.out = out.str();
  result.err = err.str();
  return result;
}

absl::StatusOr<std::unique_ptr<VaultEnv>> VaultEnv::Start() {
  std::unique_ptr<VaultEnv> env(new VaultEnv());
  if (absl::Status s = testkit::StartSuiteVault(&env->tls_, &env->vault_); !s.ok()) {
    return s;
  }
  return env;
}

VaultEnv::~VaultEnv() {
  delete vault_;
  delete tls_;
}

std::vector<std::string> VaultEnv::ConnectionArgs() const {
  return {"--vault-addr=" + vault_->address(), "--vault-cacert=" + tls_->ca_file};
}

std::string VaultEnv::WriteFile(const std::string& name, const std::string& content) const {
  static std::atomic<int> counter{0};
  return testkit::WriteFileIn(tls_->dir, absl::StrCat(counter++, "-", name), content)
      .value();
}

std::vector<std::string> VaultEnv::TokenArgs(const std::string& token) const {
  std::vector<std::string> args = ConnectionArgs();
  args.push_back("--token-file=" +
                 WriteFile("token", token.empty() ? vault_->root_token() : token));
  return args;
}

absl::Status VaultEnv::PutMaterial(const std::string& cli_path,
                                   const ca::CaMaterialPem& material,
                                   bool with_chain_and_root) const {
  std::vector<std::string> args = {
      "kv", "put", cli_path,
      "certificate=@" + WriteFile("ca.crt", material.cert_pem),
      "privateKey=@" + WriteFile("ca.key", std::string(material.key_pem.view()))};
  if (with_chain_and_root) {
    if (!material.chain_pem.empty()) {
      args.push_back("certChain=@" + WriteFile("chain.pem", material.chain_pem));
    }
    args.push_back("rootCert=@" + WriteFile("root.pem", material.root_bundle_pem));
  }
  return vault_->Cli(args).status();
}

absl::StatusOr<std::string> VaultEnv::PolicyToken(const std::string& policy) const {
  absl::StatusOr<std::string> token =
      vault_->Cli({"token", "create", "-field=token", "-policy=" + policy});
  if (!token.ok()) return token.status();
  return std::string(absl::StripAsciiWhitespace(*token));
}

}  // namespace testing
}  // namespace cli
}  // namespace vaultca
