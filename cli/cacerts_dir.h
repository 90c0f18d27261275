#ifndef VAULTCA_CLI_CACERTS_DIR_H_
#define VAULTCA_CLI_CACERTS_DIR_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cli/cacerts_target.h"

namespace vaultca {
namespace cli {

// A cacerts directory updated as kubelet updates a mounted Secret: the
// entries live in a new timestamped directory `..<time>.<random>`, the
// link `..data` is swapped to it with one rename (through `..data_tmp`),
// and each visible name (ca-cert.pem, ...) is a link `..data/<name>`. A
// reader opening `dir/ca-cert.pem` then `dir/ca-key.pem` during a swap may
// see old then new, as with kubelet; one that resolves `..data` first sees
// one version. The previous timestamped directory is removed after the
// swap. ca-key.pem is 0600, the others 0644.
class CacertsDir : public CacertsTarget {
 public:
  // Makes no change. `dir` is created at the first Write when missing.
  static std::unique_ptr<CacertsDir> New(std::string dir,
                                         std::function<absl::Time()> clock = nullptr);

  // Reads the entries through `..data`. nullopt when `..data` does not
  // exist. FailedPrecondition when a visible name is a regular file (the
  // directory was not made by sync, or by kubelet): the swap could not
  // replace it atomically, so sync refuses to touch it.
  absl::StatusOr<std::optional<std::map<std::string, SecretData>>> Read() override;
  absl::Status Write(const std::map<std::string, SecretData>& entries) override;
  std::string Description() const override { return "dir:" + dir_; }

 private:
  CacertsDir(std::string dir, std::function<absl::Time()> clock)
      : dir_(std::move(dir)), clock_(std::move(clock)) {}
  absl::Status CheckVisibleNames() const;

  const std::string dir_;
  const std::function<absl::Time()> clock_;
};

}  // namespace cli
}  // namespace vaultca

#endif  // VAULTCA_CLI_CACERTS_DIR_H_
