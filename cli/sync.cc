#include "cli/sync.h"

#include <signal.h>

#include <ctime>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "ca/key_cert_bundle.h"
#include "cli/cacerts_dir.h"
#include "cli/cacerts_secret.h"
#include "cli/flags.h"
#include "cli/material_check.h"
#include "cli/report.h"
#include "cli/root_guard.h"
#include "server/kube/kube_api.h"

namespace vaultca {
namespace cli {
namespace {

constexpr char kUsage[] =
    R"(vaultca sync (--dir DIR | --secret) [flags]

For meshes that keep istiod as the CA: keeps istiod's plug-in CA (cacerts:
ca-cert.pem, ca-key.pem, cert-chain.pem, root-cert.pem) in step with Vault,
replacing the seed's vault-env. Logs in to Vault like istiod did (kubernetes
auth, role istiod, the pod's service-account token), reads the references
(--config vaultca.yaml's ca.vault block, or the flags), and checks the
material as `vaultca check` does. Then, when it differs from what is
written, passes the caching CA's root-transition guard (every root in
service kept, unless --multi-root) and is what a running istiod reloads (a changed root-cert.pem only
with --multi-root, i.e. ISTIO_MULTIROOT_MESH=true, and only when one bundle
holds every root of the other: a root rotation's steps), writes it:
  --dir DIR   as kubelet writes a mounted Secret: a new timestamped
              directory, `..data` swapped to it in one rename, the four
              names links into `..data` (point istiod's ROOT_CA_DIR or
              the /etc/cacerts mount at DIR);
  --secret    as the `cacerts` Secret in istio-system, created when
              missing, updated only if unchanged since read
              (resourceVersion).
Anything wrong (Vault refuses, a key that does not match, an expired
certificate, a root change, a concurrent update) changes nothing and
prints one line saying what to fix.

--once runs one round (an init container); otherwise rounds repeat every
--interval until SIGTERM, and a failed round is retried at the next one.

Exit codes: 0 in step (or stopped by a signal), 1 a round failed
(--once), 2 bad flags or configuration.)";

struct Options {
  VaultFlags vault;
  std::string dir;
  bool secret = false;
  std::string secret_namespace = "istio-system";
  std::string secret_name = "cacerts";
  std::string kube_api;
  std::string kube_token_file = "/var/run/secrets/kubernetes.io/serviceaccount/token";
  std::string kube_ca_file = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
  bool once = false;
  absl::Duration interval = absl::Minutes(1);
  bool multi_root = false;
};

bool SameEntries(const std::map<std::string, SecretData>& a,
                 const std::map<std::string, SecretData>& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [name, value] : a) {
    auto it = b.find(name);
    if (it == b.end() || !SecretEquals(it->second, value)) return false;
  }
  return true;
}

std::string Timestamp() {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone());
}

// Waits for SIGTERM or SIGINT for up to `d` (both blocked in RunSync).
bool WaitForSignal(absl::Duration d) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  const struct timespec timeout = absl::ToTimespec(d);
  return sigtimedwait(&set, nullptr, &timeout) < 0;
}

}  // namespace

absl::StatusOr<SyncOutcome> SyncOnce(
    const std::shared_ptr<vault::VaultClient>& client,
    const MaterialLocation& location, CacertsTarget* target, bool multi_root,
    std::string* note) {
  absl::StatusOr<ca::CaMaterialPem> material = FetchMaterial(client, location);
  if (!material.ok()) {
    return absl::Status(material.status().code(),
                        absl::StrCat("reading the CA from Vault: ",
                                     material.status().message(),
                                     VaultErrorHint(material.status())));
  }
  Report report;
  std::optional<ca::ServingMaterial> checked =
      CheckMaterial(*material, MaterialCheckOptions(), &report);
  if (!checked.has_value()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the CA in Vault fails a check, ", target->Description(),
        " left as it was: ", report.FirstFailure()));
  }
  const std::map<std::string, SecretData> entries = CacertsEntries(*material);
  absl::StatusOr<std::optional<std::map<std::string, SecretData>>> current =
      target->Read();
  if (!current.ok()) return current.status();
  const std::string what = absl::StrCat(
      "signing certificate ", checked->bundle->subject(), " serial ",
      checked->bundle->serial_hex());
  if (current->has_value() && SameEntries(**current, entries)) {
    *note = absl::StrCat(target->Description(), " is in step with Vault (", what, ")");
    return SyncOutcome::kUnchanged;
  }
  if (current->has_value()) {
    absl::StatusOr<ca::CaMaterialPem> previous = MaterialFromEntries(**current);
    if (previous.ok()) {
      absl::Status guard = CheckRootTransition(*previous, *material, multi_root, absl::Now());
      // istiod, the reader, is stricter about a changed root bundle than
      // the caching CA: what it would not reload is not written either.
      if (guard.ok()) {
        guard = CheckIstiodReload(previous->root_bundle_pem, material->root_bundle_pem,
                                  multi_root);
      }
      if (!guard.ok()) {
        return absl::Status(guard.code(),
                            absl::StrCat("the CA in Vault would replace the one in ",
                                         target->Description(), ": ", guard.message()));
      }
    }
  }
  if (absl::Status s = target->Write(entries); !s.ok()) return s;
  *note = absl::StrCat("wrote ", target->Description(), " (", what, ")");
  return SyncOutcome::kWritten;
}

int RunSync(const std::vector<std::string>& args, const vault::EnvLookup& env,
            std::ostream& out, std::ostream& err, SyncHooks hooks) {
  Options o;
  o.vault.role = "istiod";
  FlagSet flags(kUsage);
  o.vault.RegisterConnection(&flags);
  o.vault.RegisterReferences(&flags);
  flags.String("dir", &o.dir, "write cacerts files into this directory");
  flags.Bool("secret", &o.secret, "write the cacerts Secret instead");
  flags.String("secret-namespace", &o.secret_namespace, "the Secret's namespace");
  flags.String("secret-name", &o.secret_name, "the Secret's name");
  flags.String("kube-api", &o.kube_api,
               "API server https://host:port (default: in-cluster)");
  flags.String("kube-token-file", &o.kube_token_file,
               "bearer token for the API server");
  flags.String("kube-ca-file", &o.kube_ca_file, "the API server's CA");
  flags.Bool("once", &o.once, "one round, then exit (init container)");
  flags.Duration("interval", &o.interval, "time between rounds");
  flags.Bool("multi-root", &o.multi_root,
             "istiod runs with ISTIO_MULTIROOT_MESH=true: write a changed root "
             "bundle when one bundle holds every root of the other (a root "
             "rotation's steps)");
  if (absl::Status s = flags.Parse(args); !s.ok()) {
    err << "vaultca sync: " << s.message() << "\n";
    return kExitUsage;
  }
  if (flags.help_requested()) {
    out << flags.Help();
    return kExitOk;
  }
  if (!flags.positional().empty()) {
    err << "vaultca sync: unexpected argument " << flags.positional()[0] << "\n";
    return kExitUsage;
  }
  if (o.dir.empty() == !o.secret) {
    err << "vaultca sync: give exactly one of --dir DIR or --secret\n";
    return kExitUsage;
  }
  if (!o.once && o.interval <= absl::ZeroDuration()) {
    err << "vaultca sync: --interval must be positive\n";
    return kExitUsage;
  }
  // A role given in the environment wins over the seed's default; the
  // default applies to kubernetes logins only.
  if (!flags.WasSet("role") && env("VAULT_ROLE").has_value()) o.vault.role.clear();
  // Flags first: a bad one is reported before anything is touched.
  if (absl::StatusOr<vault::VaultConfig> config = BuildVaultConfig(o.vault, env);
      !config.ok()) {
    err << "vaultca sync: " << config.status().message() << "\n";
    return kExitUsage;
  }
  absl::StatusOr<MaterialLocation> location = ResolveMaterialLocation(o.vault);
  if (!location.ok()) {
    err << "vaultca sync: " << location.status().message() << "\n";
    return kExitUsage;
  }
  if (!hooks.wait && !o.once) {
    // Block the stop signals before any thread starts, so that only the
    // wait between rounds receives them.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    hooks.wait = WaitForSignal;
  }
  std::unique_ptr<CacertsTarget> target;
  if (!o.dir.empty()) {
    target = CacertsDir::New(o.dir);
  } else {
    server::KubeApiOptions kube_options;
    kube_options.api_server = o.kube_api;
    kube_options.token_file = o.kube_token_file;
    kube_options.ca_file = o.kube_ca_file;
    kube_options.env = env;
    absl::StatusOr<std::unique_ptr<server::KubeApiClient>> kube =
        server::KubeApiClient::New(kube_options);
    if (!kube.ok()) {
      err << "vaultca sync: Kubernetes API: " << kube.status().message() << "\n";
      return kExitUsage;
    }
    target = std::make_unique<CacertsSecret>(
        std::shared_ptr<const server::KubeApiClient>(std::move(*kube)),
        o.secret_namespace, o.secret_name);
  }
  absl::StatusOr<std::unique_ptr<vault::VaultClient>> made = NewVaultClient(
      o.vault, env, /*renew_in_background=*/!o.once,
      [&err](absl::string_view w) { err << "vaultca sync: " << w << "\n"; });
  if (!made.ok()) {
    err << "vaultca sync: " << made.status().message() << "\n";
    return kExitUsage;
  }
  std::shared_ptr<vault::VaultClient> client(std::move(*made));

  while (true) {
    std::string note;
    absl::StatusOr<SyncOutcome> outcome =
        SyncOnce(client, *location, target.get(), o.multi_root, &note);
    if (outcome.ok()) {
      out << (o.once ? "" : Timestamp() + " ") << note << std::endl;
    } else {
      err << (o.once ? "" : Timestamp() + " ") << "vaultca sync: "
          << outcome.status().message() << std::endl;
      if (o.once) return kExitFailed;
    }
    if (o.once) return kExitOk;
    if (!hooks.wait(o.interval)) return kExitOk;
  }
}

}  // namespace cli
}  // namespace vaultca
