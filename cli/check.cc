#include "cli/check.h"

#include <fstream>
#include <memory>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/ca_probe.h"
#include "cli/flags.h"
#include "cli/internal/cert_checks.h"
#include "cli/material_check.h"
#include "cli/report.h"
#include "cli/vault_flags.h"
#include "vault/client.h"

namespace vaultca {
namespace cli {
namespace {

constexpr char kUsage[] =
    R"(vaultca check [flags]

The seed's "Test your setup", made real. Logs in to Vault as istiod would
(kubernetes auth with --role and --jwt-file, or a token), reads the CA
references, and checks the material: every certificate parses, the key
matches, every certificate is a CA, the expiry of each one (WARN within
--warn-before), the chain to the root, and a test CSR signed locally whose
leaf verifies against the root. With --server it also asks a running
vaultca-server or istiod CA for a certificate over gRPC, as istio-agent
does, and verifies the answer against the root in Vault.

One line per check: PASS, WARN or FAIL, then a summary line.

Exit codes (for cron and CI):
  0  every check passed (warnings allowed)
  1  a check failed (the FAIL line says what to fix)
  2  bad flags or configuration)";

struct Options {
  VaultFlags vault;
  absl::Duration warn_before = absl::Hours(24 * 30);
  std::string server;
  std::string server_ca_file;
  std::string server_name = "istiod.istio-system.svc";
  std::string server_token_file;
  std::string trust_domain = "cluster.local";
  std::string cluster_id = "Kubernetes";
  bool plaintext = false;
};

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(path, ": cannot be read"));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void CheckServer(const Options& o, const ca::CaMaterialPem& material,
                 Report* report) {
  ProbeOptions probe;
  probe.address = o.server;
  probe.plaintext = o.plaintext;
  probe.server_name = o.server_name;
  probe.cluster_id = o.cluster_id;
  probe.root_pem = material.root_bundle_pem;
  if (!o.server_ca_file.empty()) {
    absl::StatusOr<std::string> pem = ReadFile(o.server_ca_file);
    if (!pem.ok()) {
      report->Fail("server", absl::StrCat("--server-ca-file ", pem.status().message()));
      return;
    }
    probe.root_pem = *pem;
  }
  probe.identity = absl::StrCat("spiffe://", o.trust_domain, "/ns/default/sa/default");
  if (!o.server_token_file.empty()) {
    absl::StatusOr<std::string> token = ReadFile(o.server_token_file);
    if (!token.ok()) {
      report->Fail("server", absl::StrCat("--token-file ", token.status().message()));
      return;
    }
    probe.token = SecretData(absl::StripAsciiWhitespace(*token));
    ::vaultca::internal::SecureWipe(token->data(), token->size());
    if (absl::StatusOr<std::string> id = IdentityOfToken(probe.token.view(), o.trust_domain);
        id.ok()) {
      probe.identity = *id;
    }
  }
  absl::StatusOr<ProbeResult> result = ProbeCa(probe);
  if (!result.ok()) {
    report->Fail("server certificate",
                 absl::StrCat(o.server, " refused a test CSR: ",
                              absl::StatusCodeToString(result.status().code()), ": ",
                              result.status().message()));
    return;
  }
  report->Pass("server certificate",
               absl::StrCat(o.server, " issued a certificate for ", probe.identity,
                            " (chain of ", result->cert_chain.size(), ")"));
  std::string intermediates;
  for (size_t i = 1; i + 1 < result->cert_chain.size(); ++i) {
    intermediates += result->cert_chain[i];
  }
  if (absl::Status verified =
          internal::VerifyChain(result->cert_chain.front(), intermediates,
                                material.root_bundle_pem, absl::Now());
      !verified.ok()) {
    report->Fail("server chain",
                 absl::StrCat("the server's leaf ", verified.message(),
                              " in Vault: the server signs with another CA "
                              "(is istiod still self-signing?)"));
    return;
  }
  if (result->cert_chain.back() != material.root_bundle_pem &&
      !absl::StrContains(material.root_bundle_pem, result->cert_chain.back())) {
    report->Warn("server chain",
                 "the leaf verifies against Vault's root, but the root the "
                 "server sends differs from the root bundle in Vault");
    return;
  }
  report->Pass("server chain", "the leaf verifies against the root in Vault");
}

}  // namespace

int RunCheck(const std::vector<std::string>& args,
             const vault::EnvLookup& env, std::ostream& out,
             std::ostream& err) {
  Options o;
  FlagSet flags(kUsage);
  o.vault.RegisterConnection(&flags);
  o.vault.RegisterReferences(&flags);
  flags.Duration("warn-before", &o.warn_before,
                 "WARN when a certificate expires within this");
  flags.String("server", &o.server,
               "also ask this running CA (host:port, e.g. istiod:15012) for "
               "a certificate");
  flags.Bool("plaintext", &o.plaintext, "--server without TLS (istiod's 15010)");
  flags.String("server-ca-file", &o.server_ca_file,
               "roots the server's TLS certificate verifies against "
               "(default: the root bundle in Vault)");
  flags.String("server-name", &o.server_name,
               "name the server's TLS certificate must carry");
  flags.String("server-token-file", &o.server_token_file,
               "JWT sent to --server as istio-agent sends its istio-ca token");
  flags.String("trust-domain", &o.trust_domain, "for the test CSR's identity");
  flags.String("cluster-id", &o.cluster_id, "sent to --server as clusterid");
  if (absl::Status s = flags.Parse(args); !s.ok()) {
    err << "vaultca check: " << s.message() << "\n";
    return kExitUsage;
  }
  if (flags.help_requested()) {
    out << flags.Help();
    return kExitOk;
  }
  if (!flags.positional().empty()) {
    err << "vaultca check: unexpected argument " << flags.positional()[0] << "\n";
    return kExitUsage;
  }
  absl::StatusOr<vault::VaultConfig> config = BuildVaultConfig(o.vault, env);
  if (!config.ok()) {
    err << "vaultca check: " << config.status().message() << "\n";
    return kExitUsage;
  }
  absl::StatusOr<MaterialLocation> location = ResolveMaterialLocation(o.vault);
  if (!location.ok()) {
    err << "vaultca check: " << location.status().message() << "\n";
    return kExitUsage;
  }
  vault::ClientOptions client_options;
  client_options.background_renewal = false;
  client_options.warn = [&out](absl::string_view w) { out << "note: " << w << "\n"; };
  absl::StatusOr<std::unique_ptr<vault::VaultClient>> made =
      vault::VaultClient::New(*config, std::move(client_options));
  if (!made.ok()) {
    err << "vaultca check: " << made.status().message() << "\n";
    return kExitUsage;
  }
  std::shared_ptr<vault::VaultClient> client(std::move(*made));

  Report report;
  const std::string who =
      config->auth.method == vault::AuthMethod::kToken
          ? std::string("token auth")
          : absl::StrCat(vault::AuthMethodName(config->auth.method), " auth, role ",
                         config->auth.role);
  if (absl::Status login = client->Login(); !login.ok()) {
    report.Fail("vault login", absl::StrCat(config->address, " (", who, "): ",
                                            login.message(), VaultErrorHint(login)));
    out << report.Render();
    return kExitFailed;
  }
  const vault::TokenInfo token = client->token_info();
  report.Pass("vault login",
              absl::StrCat(config->address, " (", who, "), token ttl ",
                           token.ttl == absl::ZeroDuration() ? "unlimited"
                                                             : absl::FormatDuration(token.ttl)));
  absl::StatusOr<ca::CaMaterialPem> material = FetchMaterial(client, *location);
  if (!material.ok()) {
    report.Fail("vault read", absl::StrCat(material.status().message(),
                                           VaultErrorHint(material.status())));
    out << report.Render();
    return kExitFailed;
  }
  std::vector<std::string> refs = {location->refs.cert_ref, location->refs.key_ref};
  report.Pass("vault read", absl::StrJoin(refs, ", "));
  MaterialCheckOptions check;
  check.warn_before = o.warn_before;
  CheckMaterial(*material, check, &report);
  if (!o.server.empty()) CheckServer(o, *material, &report);
  out << report.Render();
  return report.failed() ? kExitFailed : kExitOk;
}

}  // namespace cli
}  // namespace vaultca
