#include "ca/generate.h"

#include <openssl/x509v3.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "ca/internal/key_cert_bundle_access.h"
#include "x509/key_util.h"
#include "x509/pem.h"
#include "x509/x509_util.h"
#include "common/internal/ssl_error.h"
#include "common/internal/ssl_unique_ptr.h"

namespace vaultca {
namespace ca {
namespace {

using ::vaultca::internal::SslError;
using ::vaultca::internal::SslUniquePtr;

// istiod backdates what it issues by its ClockSkewGracePeriod so that peers
// whose clocks run slightly behind accept a fresh certificate.
constexpr absl::Duration kClockSkewGrace = absl::Minutes(2);

absl::StatusOr<SslUniquePtr<X509_NAME>> MakeName(
    const std::string& organization, const std::string& common_name) {
  SslUniquePtr<X509_NAME> name(X509_NAME_new());
  if (name == nullptr) {
    return SslError(absl::StatusCode::kInternal, "cannot allocate a name");
  }
  auto add = [&name](const char* field, const std::string& value) {
    return value.empty() ||
           X509_NAME_add_entry_by_txt(
               name.get(), field, MBSTRING_UTF8,
               reinterpret_cast<const unsigned char*>(value.data()),
               static_cast<int>(value.size()), -1, 0) == 1;
  };
  if (!add("O", organization) || !add("CN", common_name)) {
    return SslError(absl::StatusCode::kInvalidArgument,
                    absl::StrCat("cannot build the subject O=", organization,
                                 ", CN=", common_name));
  }
  return name;
}

// Starts a v3 CA certificate for `key` named `subject`, with a random
// serial, the given validity and the CA extensions both generators share.
absl::StatusOr<SslUniquePtr<X509>> StartCaCert(EVP_PKEY* key,
                                               const X509_NAME* subject,
                                               absl::Time not_before,
                                               absl::Time not_after,
                                               const char* basic_constraints) {
  SslUniquePtr<X509> cert(X509_new());
  if (cert == nullptr || X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
      X509_set_subject_name(cert.get(), subject) != 1 ||
      X509_set_pubkey(cert.get(), key) != 1) {
    return SslError(absl::StatusCode::kInternal,
                    "cannot start a CA certificate");
  }
  if (absl::Status s = x509::SetRandomSerial(cert.get()); !s.ok()) return s;
  if (absl::Status s = x509::SetValidity(cert.get(), not_before, not_after);
      !s.ok()) {
    return s;
  }
  struct {
    int nid;
    const char* value;
  } const extensions[] = {
      {NID_basic_constraints, basic_constraints},
      {NID_key_usage, "critical,keyCertSign,cRLSign"},
      {NID_subject_key_identifier, "hash"},
  };
  for (const auto& ext : extensions) {
    if (absl::Status s =
            x509::AddExtension(cert.get(), cert.get(), ext.nid, ext.value);
        !s.ok()) {
      return s;
    }
  }
  return cert;
}

absl::Status CheckTtl(absl::Duration ttl) {
  if (ttl <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ttl must be positive, got ", absl::FormatDuration(ttl)));
  }
  return absl::OkStatus();
}

// Builds the material from a signed cert and its key, then validates it the
// way every consumer will, so a generator never hands out unusable material.
absl::StatusOr<CaMaterialPem> Finish(X509* cert, const EVP_PKEY* key,
                                     std::string chain_pem,
                                     std::string root_bundle_pem,
                                     absl::Time now) {
  CaMaterialPem material;
  absl::StatusOr<std::string> cert_pem = x509::CertificateToPem(cert);
  if (!cert_pem.ok()) return cert_pem.status();
  absl::StatusOr<SecretData> key_pem = x509::PrivateKeyToPkcs8Pem(key);
  if (!key_pem.ok()) return key_pem.status();
  material.cert_pem = *std::move(cert_pem);
  material.key_pem = *std::move(key_pem);
  material.chain_pem = std::move(chain_pem);
  material.root_bundle_pem = root_bundle_pem.empty()
                                 ? material.cert_pem
                                 : std::move(root_bundle_pem);
  absl::StatusOr<std::shared_ptr<const KeyCertBundle>> check =
      KeyCertBundle::Create(material, now);
  if (!check.ok()) {
    return absl::InternalError(absl::StrCat(
        "generated CA material does not validate: ", check.status().message()));
  }
  return material;
}

}  // namespace

absl::StatusOr<SecretData> GeneratePrivateKeyPem(KeyType type) {
  absl::StatusOr<SslUniquePtr<EVP_PKEY>> key = x509::GenerateKey(type);
  if (!key.ok()) return key.status();
  return x509::PrivateKeyToPkcs8Pem(key->get());
}

absl::StatusOr<CaMaterialPem> GenerateSelfSignedRoot(
    const RootOptions& options) {
  if (absl::Status s = CheckTtl(options.ttl); !s.ok()) return s;
  if (options.organization.empty()) {
    return absl::InvalidArgumentError(
        "organization must not be empty: it is the root's only subject field");
  }
  absl::StatusOr<SslUniquePtr<EVP_PKEY>> key =
      options.key_pem.empty()
          ? x509::GenerateKey(options.key_type)
          : x509::ParsePrivateKey(options.key_pem, "key");
  if (!key.ok()) return key.status();
  absl::StatusOr<KeyType> key_type = x509::ClassifyKey(key->get(), "key");
  if (!key_type.ok()) return key_type.status();
  absl::StatusOr<SslUniquePtr<X509_NAME>> name =
      MakeName(options.organization, "");
  if (!name.ok()) return name.status();

  absl::StatusOr<SslUniquePtr<X509>> cert = StartCaCert(
      key->get(), name->get(), options.now - kClockSkewGrace,
      options.now + options.ttl, "critical,CA:TRUE");
  if (!cert.ok()) return cert.status();
  if (X509_set_issuer_name(cert->get(), name->get()) != 1) {
    return SslError(absl::StatusCode::kInternal, "cannot set the issuer name");
  }
  absl::StatusOr<SslUniquePtr<EVP_MD>> md =
      x509::FetchSignatureDigest(*key_type);
  if (!md.ok()) return md.status();
  if (absl::Status s =
          x509::SignCertificate(cert->get(), key->get(), md->get());
      !s.ok()) {
    return s;
  }
  return Finish(cert->get(), key->get(), "", "", options.now);
}

absl::StatusOr<CaMaterialPem> GenerateIntermediate(
    const KeyCertBundle& parent, const IntermediateOptions& options) {
  if (absl::Status s = CheckTtl(options.ttl); !s.ok()) return s;
  absl::Time not_before = options.now - kClockSkewGrace;
  absl::Time not_after = std::min(options.now + options.ttl, parent.not_after());
  if (not_after <= options.now) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the parent CA '", parent.subject(), "' expires at ",
        absl::FormatTime(parent.not_after(), absl::UTCTimeZone()),
        " and cannot issue an intermediate valid now; renew the parent"));
  }
  if (X509_get_pathlen(KeyCertBundleAccess::SigningCert(parent)) == 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the parent CA '", parent.subject(),
        "' has pathLenConstraint 0 and may not issue intermediate CAs"));
  }
  absl::StatusOr<SslUniquePtr<EVP_PKEY>> key =
      options.key_pem.empty()
          ? x509::GenerateKey(options.key_type)
          : x509::ParsePrivateKey(options.key_pem, "key");
  if (!key.ok()) return key.status();
  if (absl::StatusOr<KeyType> type = x509::ClassifyKey(key->get(), "key");
      !type.ok()) {
    return type.status();
  }
  absl::StatusOr<SslUniquePtr<X509_NAME>> name =
      MakeName(options.organization, options.common_name);
  if (!name.ok()) return name.status();
  if (X509_NAME_entry_count(name->get()) == 0) {
    return absl::InvalidArgumentError(
        "organization and common_name are both empty; an intermediate needs "
        "a subject");
  }

  absl::StatusOr<SslUniquePtr<X509>> cert =
      StartCaCert(key->get(), name->get(), not_before, not_after,
                  "critical,CA:TRUE,pathlen:0");
  if (!cert.ok()) return cert.status();
  // X509_add_ext copies the parent's prebuilt extension.
  if (X509_set_issuer_name(cert->get(),
                           KeyCertBundleAccess::SubjectName(parent)) != 1 ||
      X509_add_ext(cert->get(),
                   const_cast<X509_EXTENSION*>(
                       KeyCertBundleAccess::AuthorityKeyIdExtension(parent)),
                   -1) != 1) {
    return SslError(absl::StatusCode::kInternal,
                    "cannot set the intermediate's issuer");
  }
  if (absl::Status s = x509::SignCertificate(
          cert->get(), KeyCertBundleAccess::SigningKey(parent),
          KeyCertBundleAccess::SignatureDigest(parent));
      !s.ok()) {
    return s;
  }

  // cert-chain.pem layout: the intermediate, then the parent's validated
  // path up to and including the root it chains to, each cert once.
  absl::StatusOr<std::string> chain = x509::CertificateToPem(cert->get());
  if (!chain.ok()) return chain.status();
  absl::StatusOr<std::string> path =
      x509::CertificatesToPem(KeyCertBundleAccess::VerifiedPath(parent));
  if (!path.ok()) return path.status();
  return Finish(cert->get(), key->get(), *chain + *path,
                parent.root_bundle_pem(), options.now);
}

}  // namespace ca
}  // namespace vaultca
