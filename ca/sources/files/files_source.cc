#include "ca/sources/files/files_source.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "ca/sources/files/internal/dir_watcher.h"
#include "ca/sources/internal/file_io.h"

namespace vaultca {
namespace ca {
namespace {

// istiod's file names (security/pkg/pki/ca: CACertFile, CAPrivateKeyFile,
// CertChainFile, RootCertFile, TLSSecret*).
constexpr absl::string_view kCaCert = "ca-cert.pem";
constexpr absl::string_view kCaKey = "ca-key.pem";
constexpr absl::string_view kCertChain = "cert-chain.pem";
constexpr absl::string_view kRootCert = "root-cert.pem";
constexpr absl::string_view kTlsCert = "tls.crt";
constexpr absl::string_view kTlsKey = "tls.key";
constexpr absl::string_view kTlsCa = "ca.crt";

constexpr absl::string_view kBeginCert = "-----BEGIN CERTIFICATE-----";
constexpr absl::string_view kEndCert = "-----END CERTIFICATE-----";

// Returns the first CERTIFICATE block of `pem` with a trailing newline (what
// istiod signs with when tls.crt carries intermediates too), or `pem`
// unchanged when it has no complete block, for the validator to reject.
std::string FirstCertificateBlock(const std::string& pem) {
  const size_t begin = pem.find(kBeginCert.data(), 0, kBeginCert.size());
  if (begin == std::string::npos) return pem;
  const size_t end = pem.find(kEndCert.data(), begin, kEndCert.size());
  if (end == std::string::npos) return pem;
  return absl::StrCat(pem.substr(begin, end + kEndCert.size() - begin), "\n");
}

// Joins two PEM texts so the second's first line cannot glue onto the
// first's last line.
std::string ConcatPem(const std::string& a, const std::string& b) {
  if (a.empty() || a.back() == '\n') return a + b;
  return absl::StrCat(a, "\n", b);
}

}  // namespace

absl::StatusOr<std::unique_ptr<FilesSource>> FilesSource::New(
    FilesSourceOptions options) {
  if (options.dir.empty()) {
    return absl::InvalidArgumentError(
        "files CA source: the CA directory is empty; set it to the directory "
        "holding ca-cert.pem, ca-key.pem, cert-chain.pem and root-cert.pem");
  }
  while (options.dir.size() > 1 && options.dir.back() == '/') {
    options.dir.pop_back();
  }
  if (options.debounce < absl::ZeroDuration() ||
      options.rewatch_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "files CA source: debounce must be >= 0 and rewatch_interval > 0");
  }
  return std::unique_ptr<FilesSource>(new FilesSource(std::move(options)));
}

FilesSource::FilesSource(FilesSourceOptions options)
    : options_(std::move(options)) {}

FilesSource::~FilesSource() {
  std::unique_ptr<internal::DirWatcher> watcher;
  {
    MutexLock lock(&watcher_mu_);
    watcher = std::move(watcher_);
  }
  // Joins the watcher thread outside the lock it may be waiting on.
  watcher.reset();
}

std::string FilesSource::Description() const {
  return absl::StrCat("files:", options_.dir);
}

absl::StatusOr<CaMaterialPem> FilesSource::Fetch() {
  const std::string& dir = options_.dir;
  auto path = [&dir](absl::string_view name) {
    return absl::StrCat(dir, "/", name);
  };
  const bool tls_layout = internal::FileExists(path(kTlsCert));
  // Roles in order: cert, key, chain, root. The tls layout has no separate
  // chain file: its chain is built from tls.crt and ca.crt.
  const std::vector<absl::string_view> names =
      tls_layout
          ? std::vector<absl::string_view>{kTlsCert, kTlsKey, kTlsCa}
          : std::vector<absl::string_view>{kCaCert, kCaKey, kCertChain, kRootCert};
  std::vector<absl::string_view> missing;
  for (absl::string_view name : names) {
    if (!internal::FileExists(path(name))) missing.push_back(name);
  }
  if (!tls_layout && missing.size() == names.size()) {
    return absl::NotFoundError(absl::StrCat(
        Description(), ": no CA files found; expected ca-cert.pem, "
                       "ca-key.pem, cert-chain.pem and root-cert.pem, or "
                       "tls.crt, tls.key and ca.crt (kubernetes.io/tls)"));
  }
  if (!missing.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        Description(), ": incomplete CA material, missing ",
        absl::StrJoin(missing, ", "), "; istiod's rule applies: ",
        absl::StrJoin(names, ", "),
        " must all be present. Add the missing files (or remove the partial "
        "set)"));
  }

  CaMaterialPem material;
  auto cert = internal::ReadFile(path(names[0]));
  if (!cert.ok()) return cert.status();
  auto key = internal::ReadSecretFile(path(names[1]));
  if (!key.ok()) return key.status();
  material.key_pem = *std::move(key);
  if (tls_layout) {
    auto ca = internal::ReadFile(path(kTlsCa));
    if (!ca.ok()) return ca.status();
    material.cert_pem = FirstCertificateBlock(*cert);
    material.chain_pem = ConcatPem(*cert, *ca);
    material.root_bundle_pem = *std::move(ca);
  } else {
    auto chain = internal::ReadFile(path(kCertChain));
    if (!chain.ok()) return chain.status();
    auto root = internal::ReadFile(path(kRootCert));
    if (!root.ok()) return root.status();
    material.cert_pem = *std::move(cert);
    material.chain_pem = *std::move(chain);
    material.root_bundle_pem = *std::move(root);
  }
  return material;
}

absl::Status FilesSource::SetChangeCallback(std::function<void()> on_change) {
  if (!options_.watch) {
    return absl::UnimplementedError(absl::StrCat(
        Description(), ": watching is disabled; rely on periodic refresh"));
  }
  MutexLock watcher_lock(&watcher_mu_);
  {
    MutexLock lock(&callback_mu_);
    callback_ = std::move(on_change);
    if (!callback_) return absl::OkStatus();
  }
  if (watcher_ != nullptr) return absl::OkStatus();
  internal::DirWatcher::Options watch_options;
  watch_options.dir = options_.dir;
  watch_options.debounce = options_.debounce;
  watch_options.rewatch_interval = options_.rewatch_interval;
  auto watcher = internal::DirWatcher::Start(std::move(watch_options),
                                             [this] { NotifyChange(); });
  if (!watcher.ok()) {
    MutexLock lock(&callback_mu_);
    callback_ = nullptr;
    return watcher.status();
  }
  watcher_ = *std::move(watcher);
  return absl::OkStatus();
}

void FilesSource::NotifyChange() {
  MutexLock lock(&callback_mu_);
  if (callback_) callback_();
}

}  // namespace ca
}  // namespace vaultca
