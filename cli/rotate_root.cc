// `vaultca rotate root`: a new root in four steps, never splitting the
// mesh: workloads trust the new root before anything is signed under it,
// and keep trusting the old one until the last certificate signed under
// it has expired.

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "ca/generate.h"
#include "cli/bootstrap_material.h"
#include "cli/flags.h"
#include "cli/internal/cert_checks.h"
#include "cli/root_guard.h"
#include "cli/rotate_flows.h"
#include "cli/vault_flags.h"

namespace vaultca {
namespace cli {
namespace {

constexpr const char* kSteps[] = {"publish-bundle", "wait-bundle", "switch-signing",
                                  "drop-old-root"};

int StepIndex(const std::string& step) {
  for (int i = 0; i < 4; ++i) {
    if (step == kSteps[i]) return i;
  }
  return -1;
}

// The step each phase goes on with (wait-bundle is switch-signing's
// precondition, so a plain run goes straight to switch-signing).
int NextStep(RootPhase phase) {
  switch (phase) {
    case RootPhase::kSteady:
      return 0;
    case RootPhase::kBundlePublished:
      return 2;
    case RootPhase::kSwitched:
      return 3;
  }
  return 0;
}

std::string Subjects(const std::string& pem) {
  auto certs = internal::ParseCertificates(pem);
  if (!certs.ok()) return "?";
  std::string out;
  for (const internal::CertInfo& c : *certs) {
    absl::StrAppend(&out, out.empty() ? "" : " + ", c.subject, " (until ",
                    FormatUtc(c.not_after), ")");
  }
  return out;
}

class RootRotation {
 public:
  RootRotation(const RotateContext& ctx, CaRecord record)
      : ctx_(ctx), record_(std::move(record)) {}

  int PublishBundle() {
    const absl::Time now = absl::Now();
    const ca::CaMaterialPem live = record_.Live();
    Report report;
    // The old intermediate keeps signing through the first half: it must
    // be healthy.
    CheckCandidate(live, "current", &report);
    if (report.failed()) {
      *ctx_.out << report.Render();
      return ctx_.Refuse(absl::StrCat(
          "the CA in service fails its checks, and it keeps signing until "
          "switch-signing: ", report.FirstFailure()));
    }
    if (ctx_.o.root_key_out.empty() && !ctx_.o.dry_run) {
      return ctx_.Refuse(
          "--root-key-out FILE is required: the new root's key is written there "
          "(Vault keeps only the intermediate's), for future intermediate rotations");
    }
    ca::RootOptions root_options;
    root_options.organization = ctx_.o.organization;
    root_options.key_type =
        ctx_.o.key_type == "rsa-2048" ? ca::KeyType::kRsa : ca::KeyType::kEcP256;
    root_options.ttl = ctx_.o.root_ttl;
    root_options.now = now;
    absl::StatusOr<ca::CaMaterialPem> root = ca::GenerateSelfSignedRoot(root_options);
    if (!root.ok()) return ctx_.Refuse(absl::StrCat("new root: ", root.status().message()));
    auto root_bundle = ca::KeyCertBundle::Create(*root, now);
    if (!root_bundle.ok()) {
      return ctx_.Refuse(absl::StrCat("new root: ", root_bundle.status().message()));
    }
    ca::IntermediateOptions options;
    options.organization = ctx_.o.organization;
    options.common_name = ctx_.o.common_name;
    options.key_type = root_options.key_type;
    options.ttl = ctx_.o.intermediate_ttl;
    options.now = now;
    absl::StatusOr<ca::CaMaterialPem> next = ca::GenerateIntermediate(**root_bundle, options);
    if (!next.ok()) {
      return ctx_.Refuse(absl::StrCat("new intermediate: ", next.status().message()));
    }
    std::string bundle = live.root_bundle_pem;
    if (!bundle.empty() && bundle.back() != '\n') bundle += '\n';
    bundle += root->cert_pem;
    next->root_bundle_pem = bundle;
    ca::CaMaterialPem live_with_bundle = live;
    live_with_bundle.root_bundle_pem = bundle;

    CheckCandidate(live_with_bundle, "bundle", &report);
    CheckCandidate(*next, "staged", &report);
    if (absl::Status s = CheckRootTransition(live, live_with_bundle, false, now); s.ok()) {
      report.Pass("root transition", "the bundle keeps every root in service and adds one");
    } else {
      report.Fail("root transition", std::string(s.message()));
    }
    *ctx_.out << report.Render();
    if (report.failed()) {
      return ctx_.Refuse(absl::StrCat("the new material failed its checks; nothing was "
                                      "written: ", report.FirstFailure()));
    }

    std::map<std::string, SecretData> fields = record_.fields;
    fields[kRootField] = SecretData(bundle);
    fields[kNextCertField] = SecretData(next->cert_pem);
    fields[kNextKeyField] = next->key_pem;
    fields[kNextChainField] = SecretData(next->chain_pem);
    if (!ctx_.o.dry_run) {
      if (absl::Status s = WriteNewKeyFile("root-key-out", ctx_.o.root_key_out, root->key_pem); !s.ok()) {
        return ctx_.Refuse(std::string(s.message()));
      }
    }
    if (absl::Status s = ctx_.Write(record_, fields); !s.ok()) {
      // The root never reached Vault: its key is worth nothing.
      if (!ctx_.o.dry_run) unlink(ctx_.o.root_key_out.c_str());
      return ctx_.Refuse(std::string(s.message()));
    }
    if (ctx_.o.dry_run) return kExitOk;
    *ctx_.out << "publish-bundle: " << record_.path << " version " << record_.version + 1
              << ": the trust bundle is " << Subjects(bundle)
              << "; the old intermediate still signs; the new root's key is in "
              << ctx_.o.root_key_out << "\n"
              << "next: switch-signing, once every namespace's " << ctx_.o.trust.configmap_name
              << " holds both roots (vaultca rotate root --wait 10m)\n";
    return kExitOk;
  }

  // wait-bundle's condition: every namespace and --server trust the whole
  // bundle in Vault.
  absl::Status BundleEverywhere(std::string* summary) {
    const std::string bundle = record_.Live().root_bundle_pem;
    return PollUntil(ctx_.o, ctx_.o.wait, [&]() -> absl::Status {
      absl::StatusOr<TrustPropagation> seen =
          CheckTrustPropagation(*ctx_.kube, ctx_.o.trust, bundle);
      if (!seen.ok()) return seen.status();
      if (!seen->complete()) {
        return absl::FailedPreconditionError(absl::StrCat(
            "not yet: wait until ", ctx_.o.trust.configmap_name, " holds both roots in ",
            seen->Summary(),
            ctx_.o.trust.publisher == "istiod"
                ? " (istiod rewrites it when it reloads cacerts with the new "
                  "root-cert.pem, which it takes only with ISTIO_MULTIROOT_MESH=true "
                  "and vaultca sync writes only with --multi-root)"
                : " (vaultca-server publishes the bundle after its next "
                  "ca.refresh_interval; is mesh.root_configmap on? With istiod as "
                  "the CA: --publisher istiod)"));
      }
      *summary = absl::StrCat("both roots in ", ctx_.o.trust.configmap_name, " of ",
                              seen->Summary());
      if (ctx_.o.server.empty()) return absl::OkStatus();
      absl::StatusOr<ServedChain> served = AskServer(ctx_.o, bundle);
      if (!served.ok()) return served.status();
      if (!HoldsAll(served->roots_pem, bundle)) {
        return absl::FailedPreconditionError(absl::StrCat(
            "not yet: wait until ", ctx_.o.server,
            " serves both roots (it re-reads Vault every ca.refresh_interval)"));
      }
      absl::StrAppend(summary, "; ", ctx_.o.server, " serves both");
      return absl::OkStatus();
    });
  }

  int WaitBundle() {
    std::string summary;
    if (absl::Status s = BundleEverywhere(&summary); !s.ok()) {
      return ctx_.Refuse(std::string(s.message()));
    }
    *ctx_.out << "PASS  wait-bundle: " << summary << "\n"
              << "next: switch-signing (vaultca rotate root)\n";
    return kExitOk;
  }

  int SwitchSigning() {
    const absl::Time now = absl::Now();
    std::string summary;
    if (absl::Status s = BundleEverywhere(&summary); !s.ok()) {
      return ctx_.Refuse(std::string(s.message()));
    }
    Report report;
    report.Pass("trust bundle", summary);
    const ca::CaMaterialPem live = record_.Live();
    const ca::CaMaterialPem next = record_.Next();
    CheckCandidate(next, "staged", &report);
    if (absl::Status s = CheckRootTransition(live, next, false, now); s.ok()) {
      report.Pass("root transition", "the bundle keeps both roots");
    } else {
      report.Fail("root transition", std::string(s.message()));
    }
    const std::vector<std::string> new_roots =
        RootsOf(next.cert_pem, next.chain_pem, next.root_bundle_pem, now);
    std::string retiring;
    for (const std::string& old_root :
         RootsOf(live.cert_pem, live.chain_pem, live.root_bundle_pem, now)) {
      bool shared = false;
      for (const std::string& r : new_roots) shared = shared || r == old_root;
      if (!shared) retiring += old_root;
    }
    if (retiring.empty()) {
      report.Fail("retiring root", "the staged intermediate chains to the same root as "
                                   "the one in service: nothing to retire");
    }
    *ctx_.out << report.Render();
    if (report.failed()) {
      return ctx_.Refuse(absl::StrCat("the staged intermediate failed its checks; nothing "
                                      "was written: ", report.FirstFailure()));
    }
    std::map<std::string, SecretData> fields = record_.fields;
    fields[kCertField] = SecretData(next.cert_pem);
    fields[kKeyField] = next.key_pem;
    fields[kChainField] = SecretData(next.chain_pem);
    fields.erase(kNextCertField);
    fields.erase(kNextKeyField);
    fields.erase(kNextChainField);
    fields[kRetiringRootField] = SecretData(retiring);
    fields[kSwitchedAtField] = SecretData(FormatUtc(now));
    if (absl::Status s = ctx_.Write(record_, fields); !s.ok()) {
      return ctx_.Refuse(std::string(s.message()));
    }
    if (ctx_.o.dry_run) return kExitOk;
    *ctx_.out << "switch-signing: " << record_.path << " version " << record_.version + 1
              << ": the new intermediate signs; the bundle keeps both roots\n";
    if (!ctx_.o.server.empty()) {
      if (absl::Status s = ConfirmServerSignsWith(ctx_, next.cert_pem, next.root_bundle_pem);
          !s.ok()) {
        return ctx_.Refuse(absl::StrCat("switch-signing written, but: ", s.message()));
      }
      *ctx_.out << "PASS  confirm: " << ctx_.o.server
                << " issues under the new intermediate\n";
    }
    *ctx_.out << "next: drop-old-root after " << FormatUtc(now + ctx_.o.grace) << " (--grace "
              << absl::FormatDuration(ctx_.o.grace)
              << ": certificates signed under the old root live that long)\n";
    return kExitOk;
  }

  int DropOldRoot() {
    const absl::Time now = absl::Now();
    absl::StatusOr<absl::Time> switched =
        ParseUtc(record_.Text(kSwitchedAtField), kSwitchedAtField);
    if (!switched.ok()) return ctx_.Refuse(std::string(switched.status().message()));
    if (now < *switched + ctx_.o.grace) {
      return ctx_.Refuse(absl::StrCat(
          "not yet: wait until ", FormatUtc(*switched + ctx_.o.grace),
          " (certificates signed under the old root until ", FormatUtc(*switched),
          " live up to --grace ", absl::FormatDuration(ctx_.o.grace), ")"));
    }
    if (!ctx_.o.multi_root) {
      return ctx_.Refuse(
          "not yet: a CA server refuses a bundle that drops a root unless it runs "
          "with ca.multi_root: true (ISTIO_MULTIROOT_MESH); set it on every replica, "
          "then pass --multi-root");
    }
    const ca::CaMaterialPem live = record_.Live();
    const std::string retiring = record_.Text(kRetiringRootField);
    ca::CaMaterialPem next = live;
    next.root_bundle_pem = WithoutCertificates(live.root_bundle_pem, retiring);
    Report report;
    if (next.root_bundle_pem.empty()) {
      report.Fail("new bundle", "would hold no root");
    } else {
      report.Pass("new bundle", Subjects(next.root_bundle_pem));
    }
    for (const std::string& r : RootsOf(live.cert_pem, live.chain_pem, retiring, now)) {
      report.Fail("retiring root", absl::StrCat("the signing certificate still chains to ",
                                                Subjects(r)));
    }
    if (!next.root_bundle_pem.empty()) CheckCandidate(next, "new", &report);
    *ctx_.out << report.Render();
    if (report.failed()) {
      return ctx_.Refuse(absl::StrCat("nothing was written: ", report.FirstFailure()));
    }
    std::map<std::string, SecretData> fields = record_.fields;
    fields[kRootField] = SecretData(next.root_bundle_pem);
    fields.erase(kRetiringRootField);
    fields[kRootDoneAtField] = SecretData(FormatUtc(now));
    if (absl::Status s = ctx_.Write(record_, fields); !s.ok()) {
      return ctx_.Refuse(std::string(s.message()));
    }
    if (ctx_.o.dry_run) return kExitOk;
    *ctx_.out << "drop-old-root: " << record_.path << " version " << record_.version + 1
              << ": the trust bundle is " << Subjects(next.root_bundle_pem) << "\n";
    if (!ctx_.o.server.empty()) {
      absl::Status s = PollUntil(ctx_.o, ctx_.o.confirm_timeout, [&]() -> absl::Status {
        absl::StatusOr<ServedChain> served = AskServer(ctx_.o, live.root_bundle_pem);
        if (!served.ok()) return served.status();
        if (HoldsAll(served->roots_pem, retiring)) {
          return absl::FailedPreconditionError(absl::StrCat(
              ctx_.o.server, " still serves the old root (does it run with ca.multi_root?)"));
        }
        return absl::OkStatus();
      });
      if (!s.ok()) return ctx_.Refuse(absl::StrCat("drop-old-root written, but: ", s.message()));
      *ctx_.out << "PASS  confirm: " << ctx_.o.server << " serves the new bundle only\n";
    }
    *ctx_.out << "done: the root rotation is complete\n";
    return kExitOk;
  }

 private:
  const RotateContext& ctx_;
  const CaRecord record_;
};

}  // namespace

int RotateRoot(const RotateContext& ctx) {
  int wanted = -1;
  if (!ctx.o.step.empty()) {
    wanted = StepIndex(ctx.o.step);
    if (wanted < 0) {
      *ctx.err << "vaultca rotate root: --step " << ctx.o.step
               << ": use publish-bundle, wait-bundle, switch-signing or drop-old-root\n";
      return kExitUsage;
    }
  }
  absl::StatusOr<CaRecord> record = ctx.Read();
  if (!record.ok()) return ctx.Refuse(std::string(record.status().message()));
  absl::StatusOr<RootPhase> phase = ClassifyRootPhase(*record);
  if (!phase.ok()) return ctx.Refuse(std::string(phase.status().message()));
  const int next = NextStep(*phase);
  *ctx.out << "root rotation at " << record->path << " (version " << record->version
           << "): " << RootPhaseName(*phase) << "\n";
  if (wanted < 0 && *phase == RootPhase::kSteady && !ctx.o.force &&
      record->Has(kRootDoneAtField)) {
    // A re-run of a finished rotation must not start the next one.
    absl::StatusOr<absl::Time> done = ParseUtc(record->Text(kRootDoneAtField), kRootDoneAtField);
    if (done.ok() && absl::Now() - *done < ctx.o.min_interval) {
      *ctx.out << "drop-old-root: already done at " << FormatUtc(*done)
               << ", within --min-interval " << absl::FormatDuration(ctx.o.min_interval)
               << "; the rotation is complete (--force starts another)\n";
      return kExitOk;
    }
  }
  if (wanted < 0) wanted = next;
  if (wanted == 1 && *phase == RootPhase::kBundlePublished) {
    return RootRotation(ctx, *std::move(record)).WaitBundle();
  }
  if (wanted < next || (wanted == 1 && next > 1)) {
    *ctx.out << kSteps[wanted] << ": already done; next: " << kSteps[next] << "\n";
    return kExitOk;
  }
  if (wanted > next) {
    if (*phase == RootPhase::kSteady && wanted == 3) {
      *ctx.out << "drop-old-root: nothing to do: no root rotation under way\n";
      return kExitOk;
    }
    return ctx.Refuse(absl::StrCat("--step ", kSteps[wanted], " does not apply yet: the "
                                   "rotation is at \"", RootPhaseName(*phase),
                                   "\"; the next step is ", kSteps[next]));
  }
  RootRotation rotation(ctx, *std::move(record));
  switch (wanted) {
    case 0:
      return rotation.PublishBundle();
    case 2:
      return rotation.SwitchSigning();
    default:
      return rotation.DropOldRoot();
  }
}

}  // namespace cli
}  // namespace vaultca
