#include "cli/rotate.h"

#include <fstream>
#include <memory>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cli/bootstrap_plan.h"
#include "cli/ca_probe.h"
#include "cli/flags.h"
#include "cli/internal/cert_checks.h"
#include "cli/material_check.h"
#include "cli/rotate_flows.h"
#include "cli/vault_flags.h"

namespace vaultca {
namespace cli {
namespace {

constexpr char kUsage[] =
    R"(vaultca rotate intermediate|root [flags]

Rotates the CA in Vault KV v2 (--path; the fields vaultca bootstrap
writes) in staged steps with safety checks between them. Every run reads
where the rotation stands from Vault (and Kubernetes) and does the next
step, or the one --step names; a step whose precondition does not hold is
refused with one line saying what to wait for. Every write uses
check-and-set on the version read, so a concurrent change is never
overwritten. --dry-run does the reads and checks and prints the write.

rotate intermediate: a new intermediate under the SAME root, signed with
  the root's key (--root-key FILE for an offline root, or
  --root-key vault:PATH#FIELD). Checked before the write: the chain
  verifies to the current root, the key matches, the validity lies inside
  the root's, the signing probe passes. Steps: write, confirm (--server
  issues under the new intermediate). A rotation newer than
  --min-interval counts as done: a re-run only confirms it.

rotate root: a new root without a split mesh:
  publish-bundle  generate a new root (key to --root-key-out) and
                  intermediate; the trust bundle (rootCert) becomes old root
                  + new root while the old intermediate keeps signing; the
                  new intermediate is staged beside it in Vault
  wait-bundle     every namespace's istio-ca-root-cert holds both roots
                  (Kubernetes API; --publisher istiod when istiod is the CA,
                  fed by vaultca sync --multi-root), and --server serves both
                  (writes nothing)
  switch-signing  (needs wait-bundle's condition) the staged intermediate
                  signs; the bundle keeps both roots
  drop-old-root   after --grace (the longest workload certificate TTL), the
                  bundle drops the old root; the CA servers must accept
                  that (ca.multi_root / ISTIO_MULTIROOT_MESH: --multi-root)

Exit codes: 0 done (or nothing to do), 1 refused (not yet) or failed, 2 bad
flags or configuration.)";

absl::StatusOr<std::string> ReadFile(const std::string& flag, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("--", flag, " ", path, ": cannot be read"));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

int RotateContext::Refuse(const std::string& message) const {
  *err << "vaultca rotate " << o.flow << ": " << message << "\n";
  return kExitFailed;
}

absl::StatusOr<CaRecord> RotateContext::Read() const {
  return ReadCaRecord(vault, o.path);
}

absl::Status RotateContext::Write(const CaRecord& record,
                                  const std::map<std::string, SecretData>& fields) const {
  if (o.dry_run) {
    *out << "dry run: would send PUT " << o.path << " "
         << RedactedKvWriteBody(fields, record.version) << "\n";
    return absl::OkStatus();
  }
  if (before_write) before_write();
  return WriteCaRecord(vault, o.path, fields, record.version);
}

bool CheckCandidate(const ca::CaMaterialPem& material, const std::string& label,
                    Report* report) {
  Report lines;
  MaterialCheckOptions options;
  CheckMaterial(material, options, &lines);
  for (const ReportLine& line : lines.lines()) {
    const std::string check = absl::StrCat(label, " ", line.check);
    switch (line.verdict) {
      case Verdict::kPass:
        report->Pass(check, line.detail);
        break;
      case Verdict::kWarn:
        report->Warn(check, line.detail);
        break;
      case Verdict::kFail:
        report->Fail(check, line.detail);
        break;
    }
  }
  return !lines.failed();
}

absl::StatusOr<ServedChain> AskServer(const RotateOptions& o,
                                      const std::string& tls_roots_pem) {
  ProbeOptions probe;
  probe.address = o.server;
  probe.plaintext = o.plaintext;
  probe.server_name = o.server_name;
  probe.cluster_id = o.cluster_id;
  probe.root_pem = o.server_ca_pem.empty() ? tls_roots_pem : o.server_ca_pem;
  probe.token = o.server_token;
  probe.identity = absl::StrCat("spiffe://", o.trust_domain, "/ns/default/sa/default");
  if (!o.server_token.empty()) {
    if (absl::StatusOr<std::string> id = IdentityOfToken(o.server_token.view(), o.trust_domain);
        id.ok()) {
      probe.identity = *id;
    }
  }
  absl::StatusOr<ProbeResult> result = ProbeCa(probe);
  if (!result.ok()) {
    return absl::Status(result.status().code(),
                        absl::StrCat(o.server, " refused a test CSR: ",
                                     result.status().message()));
  }
  if (result->cert_chain.size() < 2) {
    return absl::UnavailableError(
        absl::StrCat(o.server, " answered a chain without a root"));
  }
  ServedChain served;
  served.leaf_pem = result->cert_chain.front();
  for (size_t i = 1; i + 1 < result->cert_chain.size(); ++i) {
    served.intermediates_pem += result->cert_chain[i];
  }
  served.roots_pem = result->cert_chain.back();
  return served;
}

absl::Status PollUntil(const RotateOptions& o, absl::Duration timeout,
                       const std::function<absl::Status()>& condition) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    absl::Status status = condition();
    // Only "not yet" and a peer that is down can change by waiting; a
    // refused token or a bad answer will not.
    const bool may_change = absl::IsFailedPrecondition(status) ||
                            absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status);
    if (!may_change || absl::Now() + o.poll_interval > deadline) return status;
    absl::SleepFor(o.poll_interval);
  }
}

absl::Status ConfirmServerSignsWith(const RotateContext& ctx,
                                    const std::string& cert_pem,
                                    const std::string& bundle_pem) {
  return PollUntil(ctx.o, ctx.o.confirm_timeout, [&]() -> absl::Status {
    absl::StatusOr<ServedChain> served = AskServer(ctx.o, bundle_pem);
    if (!served.ok()) return served.status();
    absl::StatusOr<std::vector<std::string>> chain =
        SplitCertificates(served->intermediates_pem);
    absl::StatusOr<std::vector<std::string>> want = SplitCertificates(cert_pem);
    if (!chain.ok() || chain->empty() || !want.ok() || chain->front() != want->front()) {
      return absl::FailedPreconditionError(absl::StrCat(
          ctx.o.server, " still signs with another intermediate (it re-reads Vault "
                        "every ca.refresh_interval; its log says why it refused "
                        "new material)"));
    }
    if (absl::Status s = internal::VerifyChain(served->leaf_pem, served->intermediates_pem,
                                               bundle_pem, absl::Now());
        !s.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("the leaf from ", ctx.o.server, " ", s.message()));
    }
    return absl::OkStatus();
  });
}

int RunRotate(const std::vector<std::string>& args, const vault::EnvLookup& env,
              std::ostream& out, std::ostream& err,
              const std::function<void()>& before_write) {
  RotateContext ctx;
  RotateOptions& o = ctx.o;
  o.path = kSeedPath;
  VaultFlags vault_flags;
  std::string kube_api;
  std::string kube_token_file = "/var/run/secrets/kubernetes.io/serviceaccount/token";
  std::string kube_ca_file = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
  std::string server_ca_file;
  std::string server_token_file;
  FlagSet flags(kUsage);
  vault_flags.RegisterConnection(&flags);
  flags.String("path", &o.path, "KV v2 API path of the CA");
  flags.String("step", &o.step,
               "do this step (intermediate: write, confirm; root: publish-bundle, "
               "wait-bundle, switch-signing, drop-old-root); default: the next one");
  flags.Bool("dry-run", &o.dry_run, "read and check, print the write, send none");
  flags.String("key-type", &o.key_type, "new keys: ec-p256 or rsa-2048");
  flags.String("organization", &o.organization, "O= of new certificates (the trust domain)");
  flags.String("common-name", &o.common_name, "CN= of a new intermediate");
  flags.Duration("root-ttl", &o.root_ttl, "root: lifetime of the new root");
  flags.Duration("intermediate-ttl", &o.intermediate_ttl,
                 "lifetime of a new intermediate (never past its root)");
  flags.String("root-key", &o.root_key,
               "intermediate: the root's private key, a file or vault:PATH#FIELD");
  flags.Duration("min-interval", &o.min_interval,
                 "a rotation finished less than this ago counts as done: a re-run "
                 "only confirms it instead of starting another");
  flags.Bool("force", &o.force, "start a rotation even within --min-interval");
  flags.String("root-key-out", &o.root_key_out,
               "root (publish-bundle): file for the new root's key (0600, must not exist)");
  flags.Duration("grace", &o.grace,
                 "root: time from switch-signing to drop-old-root (the longest "
                 "workload certificate TTL)");
  flags.Bool("multi-root", &o.multi_root,
             "root (drop-old-root): the CA servers run with ca.multi_root "
             "(ISTIO_MULTIROOT_MESH), so they accept a bundle that drops a root");
  flags.String("kube-api", &kube_api,
               "Kubernetes API server (default: in-cluster)");
  flags.String("kube-token-file", &kube_token_file, "bearer token for the API server");
  flags.String("kube-ca-file", &kube_ca_file, "the API server's CA");
  flags.String("namespace-selector", &o.trust.namespace_selector,
               "only namespaces matching this label selector get the root "
               "ConfigMap (mesh.root_configmap.namespace_selector)");
  flags.String("configmap", &o.trust.configmap_name, "the root ConfigMap's name");
  std::string publisher = o.trust.publisher;
  flags.String("publisher", &publisher,
               "who writes the root ConfigMap: vaultca (vaultca-server, every "
               "namespace) or istiod (istiod as the CA fed by vaultca sync; it "
               "skips kube-public, kube-node-lease and local-path-storage)");
  flags.Duration("wait", &o.wait,
                 "poll a step's precondition this long before refusing (0: look once)");
  flags.Duration("confirm-timeout", &o.confirm_timeout,
                 "how long --server may take to pick up a write");
  flags.String("server", &o.server,
               "a running CA (host:port) to confirm each step against");
  flags.Bool("plaintext", &o.plaintext, "--server without TLS");
  flags.String("server-ca-file", &server_ca_file,
               "roots --server's TLS certificate verifies against (default: the "
               "bundle in Vault)");
  flags.String("server-name", &o.server_name, "name --server's certificate must carry");
  flags.String("server-token-file", &server_token_file,
               "JWT sent to --server as istio-agent sends its istio-ca token");
  flags.String("trust-domain", &o.trust_domain, "for the test CSR's identity");
  if (absl::Status s = flags.Parse(args); !s.ok()) {
    err << "vaultca rotate: " << s.message() << "\n";
    return kExitUsage;
  }
  if (flags.help_requested()) {
    out << flags.Help();
    return kExitOk;
  }
  if (flags.positional().size() != 1 ||
      (flags.positional()[0] != "intermediate" && flags.positional()[0] != "root")) {
    err << "vaultca rotate: name the rotation: vaultca rotate intermediate|root "
           "(see --help)\n";
    return kExitUsage;
  }
  o.flow = flags.positional()[0];
  if (absl::Status s = SetTrustPublisher(publisher, &o.trust); !s.ok()) {
    err << "vaultca rotate: " << s.message() << "\n";
    return kExitUsage;
  }
  if (absl::StatusOr<std::string> mount = KvMount(o.path); !mount.ok()) {
    err << "vaultca rotate: --path " << mount.status().message() << "\n";
    return kExitUsage;
  }
  if (o.key_type != "ec-p256" && o.key_type != "rsa-2048") {
    err << "vaultca rotate: --key-type " << o.key_type << ": use ec-p256 or rsa-2048\n";
    return kExitUsage;
  }
  if (o.flow == "intermediate" && o.step != "confirm" && o.root_key.empty()) {
    err << "vaultca rotate intermediate: --root-key is required (the root's private "
           "key: a file, or vault:PATH#FIELD)\n";
    return kExitUsage;
  }
  if (!server_ca_file.empty()) {
    absl::StatusOr<std::string> pem = ReadFile("server-ca-file", server_ca_file);
    if (!pem.ok()) {
      err << "vaultca rotate: " << pem.status().message() << "\n";
      return kExitUsage;
    }
    o.server_ca_pem = *pem;
  }
  if (!server_token_file.empty()) {
    absl::StatusOr<std::string> token = ReadFile("server-token-file", server_token_file);
    if (!token.ok()) {
      err << "vaultca rotate: " << token.status().message() << "\n";
      return kExitUsage;
    }
    o.server_token = SecretData(absl::StripAsciiWhitespace(*token));
    ::vaultca::internal::SecureWipe(token->data(), token->size());
  }
  if (o.flow == "root") {
    server::KubeApiOptions kube_options;
    kube_options.api_server = kube_api;
    kube_options.token_file = kube_token_file;
    kube_options.ca_file = kube_ca_file;
    kube_options.env = env;
    absl::StatusOr<std::unique_ptr<server::KubeApiClient>> kube =
        server::KubeApiClient::New(kube_options);
    if (!kube.ok()) {
      // Without it the root rotation cannot see what workloads trust.
      err << "vaultca rotate root: Kubernetes API: " << kube.status().message()
          << " (give --kube-api, --kube-token-file and --kube-ca-file outside a "
             "cluster)\n";
      return kExitUsage;
    }
    ctx.kube = std::shared_ptr<const server::KubeApiClient>(std::move(*kube));
  }

  absl::StatusOr<std::unique_ptr<vault::VaultClient>> client =
      NewVaultClient(vault_flags, env);
  if (!client.ok()) {
    err << "vaultca rotate: " << client.status().message() << "\n";
    return kExitUsage;
  }
  ctx.vault = client->get();
  ctx.out = &out;
  ctx.err = &err;
  ctx.before_write = before_write;
  return o.flow == "intermediate" ? RotateIntermediate(ctx) : RotateRoot(ctx);
}

}  // namespace cli
}  // namespace vaultca
