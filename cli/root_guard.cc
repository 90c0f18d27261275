#include "cli/root_guard.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ca/caching/caching_ca.h"
#include "ca/sources/material_source.h"
#include "cli/internal/cert_checks.h"
#include "common/sync.h"

namespace vaultca {
namespace cli {
namespace {

// Hands the caching CA whatever material is staged: first the previous
// material, then the candidate.
class StagedSource : public ca::MaterialSource {
 public:
  void Stage(ca::CaMaterialPem material) {
    MutexLock lock(&mu_);
    material_ = std::move(material);
  }
  absl::StatusOr<ca::CaMaterialPem> Fetch() override {
    MutexLock lock(&mu_);
    return material_;
  }
  std::string Description() const override { return "the candidate CA material"; }

 private:
  Mutex mu_;
  ca::CaMaterialPem material_ ABSL_GUARDED_BY(mu_);
};

// The certificates of a bundle, re-encoded so two spellings of one compare
// equal; nullopt when it does not parse.
std::optional<std::vector<internal::CertInfo>> Certificates(absl::string_view pem) {
  auto certs = internal::ParseCertificates(pem);
  if (!certs.ok()) return std::nullopt;
  return *std::move(certs);
}

bool Contains(const std::vector<internal::CertInfo>& have,
              const std::vector<internal::CertInfo>& wanted) {
  return std::all_of(wanted.begin(), wanted.end(), [&](const internal::CertInfo& w) {
    return std::any_of(have.begin(), have.end(),
                       [&](const internal::CertInfo& h) { return h.pem == w.pem; });
  });
}

// "CN=a + CN=b": the certificates of `from` missing in `in`.
std::string Missing(const std::vector<internal::CertInfo>& from,
                    const std::vector<internal::CertInfo>& in) {
  std::vector<std::string> names;
  for (const internal::CertInfo& c : from) {
    if (!Contains(in, {c})) names.push_back(c.subject);
  }
  return names.empty() ? "none" : absl::StrJoin(names, " + ");
}

}  // namespace

absl::Status CheckIstiodReload(absl::string_view previous_roots_pem,
                               absl::string_view next_roots_pem, bool multi_root) {
  if (previous_roots_pem == next_roots_pem) return absl::OkStatus();
  const auto before = Certificates(previous_roots_pem);
  const auto after = Certificates(next_roots_pem);
  std::string change = "root-cert.pem would change";
  if (before.has_value() && after.has_value()) {
    change = Contains(*before, *after) && Contains(*after, *before)
                 ? "root-cert.pem would change its bytes but not its roots"
                 : absl::StrCat("root-cert.pem would change (adds ", Missing(*after, *before),
                                "; drops ", Missing(*before, *after), ")");
  }
  if (!multi_root) {
    return absl::FailedPreconditionError(absl::StrCat(
        change, ", and a running istiod takes a changed root bundle only with "
        "ISTIO_MULTIROOT_MESH=true (otherwise it logs \"Multi root is disabled\" and "
        "keeps its whole CA until it restarts): set it on istiod, then run sync with "
        "--multi-root"));
  }
  if (before.has_value() && after.has_value() &&
      (Contains(*before, *after) || Contains(*after, *before))) {
    return absl::OkStatus();
  }
  return absl::FailedPreconditionError(absl::StrCat(
      change, ", and istiod takes a new root bundle only when one bundle holds "
      "every root of the other (otherwise it logs \"Updating new ROOT-CA not "
      "supported\" and keeps its whole CA until it restarts): publish old and new "
      "roots together first (vaultca rotate root)"));
}

absl::Status CheckRootTransition(const ca::CaMaterialPem& previous,
                                 const ca::CaMaterialPem& next,
                                 bool multi_root, absl::Time now) {
  auto source = std::make_unique<StagedSource>();
  StagedSource* staged = source.get();
  staged->Stage(previous);
  ca::CachingCaOptions options;
  options.refresh_thread = false;
  options.startup_deadline = absl::ZeroDuration();
  options.startup_policy = ca::StartupPolicy::kFailAfterDeadline;
  options.multi_root = multi_root;
  options.clock = [now] { return now; };
  auto caching = ca::CachingCertificateAuthority::New(std::move(source), options);
  if (!caching.ok()) return absl::OkStatus();  // Nothing valid to keep.
  staged->Stage(next);
  return (*caching)->Refresh();
}

}  // namespace cli
}  // namespace vaultca
