#ifndef VAULTCA_CLI_CACERTS_SECRET_H_
#define VAULTCA_CLI_CACERTS_SECRET_H_

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "cli/cacerts_target.h"
#include "server/kube/kube_api.h"

namespace vaultca {
namespace cli {

// istiod's `cacerts` Secret (type Opaque, the four cacerts keys), written
// through the Kubernetes API. Updates carry the resourceVersion of the
// last Read, so a concurrent writer makes the update fail (409) instead of
// being overwritten; a missing Secret is created. sync owns the Secret's
// data: keys other than the four are not kept.
class CacertsSecret : public CacertsTarget {
 public:
  CacertsSecret(std::shared_ptr<const server::KubeApiClient> kube,
                std::string ns, std::string name)
      : kube_(std::move(kube)), ns_(std::move(ns)), name_(std::move(name)) {}

  absl::StatusOr<std::optional<std::map<std::string, SecretData>>> Read() override;
  absl::Status Write(const std::map<std::string, SecretData>& entries) override;
  std::string Description() const override {
    return "secret:" + ns_ + "/" + name_;
  }

 private:
  std::string Path() const;
  absl::Status HttpError(const char* verb, const server::KubeApiResponse& r) const;

  const std::shared_ptr<const server::KubeApiClient> kube_;
  const std::string ns_;
  const std::string name_;
  // The resourceVersion the last Read saw; empty: the Secret did not exist.
  std::string resource_version_;
};

}  // namespace cli
}  // namespace vaultca

#endif  // VAULTCA_CLI_CACERTS_SECRET_H_
