#include "cli/root_guard.h"

#include <memory>
#include <string>
#include <utility>

#include "ca/caching/caching_ca.h"
#include "ca/sources/material_source.h"
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

}  // namespace

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
