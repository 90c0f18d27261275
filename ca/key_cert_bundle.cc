#include "ca/key_cert_bundle.h"

#include <openssl/x509v3.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "x509/chain_verify.h"
#include "ca/internal/key_cert_bundle_rep.h"
#include "x509/key_util.h"
#include "x509/pem.h"
#include "x509/x509_util.h"
#include "common/internal/ssl_error.h"

namespace vaultca {
namespace ca {
namespace {

using ::vaultca::internal::ClearSslErrors;
using ::vaultca::internal::SslError;
using ::vaultca::internal::SslUniquePtr;

// The signing cert must be allowed to issue: basicConstraints CA:TRUE and a
// keyUsage extension that includes keyCertSign.
absl::Status CheckIsCa(X509* cert, const std::string& subject) {
  uint32_t flags = X509_get_extension_flags(cert);
  if (flags & EXFLAG_INVALID) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cert: the signing certificate '", subject,
        "' has malformed or duplicate extensions"));
  }
  if (!(flags & EXFLAG_BCONS) || !(flags & EXFLAG_CA)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cert: the signing certificate '", subject,
        "' is not a CA (basicConstraints CA:TRUE is missing); use a CA "
        "certificate, not a workload or server certificate"));
  }
  if (!(flags & EXFLAG_KUSAGE) ||
      !(X509_get_key_usage(cert) & KU_KEY_CERT_SIGN)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cert: the signing certificate '", subject,
        "' may not sign certificates (keyUsage keyCertSign is missing)"));
  }
  return absl::OkStatus();
}

absl::Status CheckValidity(const internal::BundleState& rep, absl::Time now) {
  if (now < rep.not_before) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cert: the signing certificate '", rep.subject,
        "' is not yet valid: notBefore ",
        absl::FormatTime(rep.not_before, absl::UTCTimeZone()), ", now ",
        absl::FormatTime(now, absl::UTCTimeZone()),
        "; check the clock or wait until it is valid"));
  }
  // OpenSSL's path validation treats notAfter itself as expired; agree
  // with it so the same instant never gets two different answers.
  if (now >= rep.not_after) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cert: the signing certificate '", rep.subject, "' expired at ",
        absl::FormatTime(rep.not_after, absl::UTCTimeZone()), ", now ",
        absl::FormatTime(now, absl::UTCTimeZone()),
        "; install renewed CA material"));
  }
  return absl::OkStatus();
}

// Fills the precomputed signing-path fields: key identifiers and digest.
absl::Status PrecomputeSigningState(internal::BundleState& rep) {
  const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(rep.cert.get());
  if (ski != nullptr) {
    rep.subject_key_id.reset(ASN1_OCTET_STRING_dup(ski));
  } else {
    absl::StatusOr<SslUniquePtr<ASN1_OCTET_STRING>> computed =
        x509::ComputeKeyId(X509_get0_pubkey(rep.cert.get()));
    if (!computed.ok()) return computed.status();
    rep.subject_key_id = std::move(*computed);
  }
  SslUniquePtr<AUTHORITY_KEYID> akid(AUTHORITY_KEYID_new());
  if (rep.subject_key_id == nullptr || akid == nullptr) {
    return SslError(absl::StatusCode::kInternal,
                    "cannot copy the signing certificate's key identifier");
  }
  akid->keyid = ASN1_OCTET_STRING_dup(rep.subject_key_id.get());
  rep.authority_key_id_extension.reset(
      X509V3_EXT_i2d(NID_authority_key_identifier, 0, akid.get()));
  if (akid->keyid == nullptr || rep.authority_key_id_extension == nullptr) {
    return SslError(absl::StatusCode::kInternal,
                    "cannot encode an authorityKeyIdentifier extension");
  }
  absl::StatusOr<SslUniquePtr<EVP_MD>> md =
      x509::FetchSignatureDigest(rep.key_type);
  if (!md.ok()) return md.status();
  rep.signature_digest = std::move(*md);
  return absl::OkStatus();
}

// Fills the PEM, fingerprint and descriptive fields.
absl::Status PrecomputeEncodings(internal::BundleState& rep) {
  absl::StatusOr<std::string> pem = x509::CertificateToPem(rep.cert.get());
  if (!pem.ok()) return pem.status();
  rep.cert_pem = *std::move(pem);
  for (int i = 0; i < sk_X509_num(rep.chain.get()); ++i) {
    pem = x509::CertificateToPem(sk_X509_value(rep.chain.get(), i));
    if (!pem.ok()) return pem.status();
    rep.chain_pems.push_back(*std::move(pem));
  }
  for (int i = 0; i < sk_X509_num(rep.verified_path.get()); ++i) {
    pem = x509::CertificateToPem(sk_X509_value(rep.verified_path.get(), i));
    if (!pem.ok()) return pem.status();
    rep.verified_path_pems.push_back(*std::move(pem));
  }
  pem = x509::CertificatesToPem(rep.roots.get());
  if (!pem.ok()) return pem.status();
  rep.root_bundle_pem = *std::move(pem);
  for (int i = 0; i < sk_X509_num(rep.roots.get()); ++i) {
    absl::StatusOr<std::string> fingerprint =
        x509::Sha256FingerprintHex(sk_X509_value(rep.roots.get(), i));
    if (!fingerprint.ok()) return fingerprint.status();
    rep.root_fingerprints.push_back(*std::move(fingerprint));
  }
  rep.serial_hex = x509::SerialHex(rep.cert.get());
  rep.self_signed = X509_self_signed(rep.cert.get(), /*verify_signature=*/1) == 1;
  ClearSslErrors();  // X509_self_signed may leave a stale error.
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<const KeyCertBundle>> KeyCertBundle::Create(
    const CaMaterialPem& material, absl::Time now) {
  auto rep = std::make_unique<Rep>();

  absl::StatusOr<SslUniquePtr<X509>> cert =
      x509::ParseCertificate(material.cert_pem, "cert");
  if (!cert.ok()) return cert.status();
  rep->cert = std::move(*cert);
  absl::StatusOr<SslUniquePtr<EVP_PKEY>> key =
      x509::ParsePrivateKey(material.key_pem, "key");
  if (!key.ok()) return key.status();
  rep->key = std::move(*key);
  absl::StatusOr<SslUniquePtr<STACK_OF(X509)>> chain =
      x509::ParseCertificateStack(material.chain_pem, "chain",
                                      /*allow_empty=*/true);
  if (!chain.ok()) return chain.status();
  rep->chain = std::move(*chain);
  absl::StatusOr<SslUniquePtr<STACK_OF(X509)>> roots =
      x509::ParseCertificateStack(material.root_bundle_pem, "root bundle");
  if (!roots.ok()) return roots.status();
  rep->roots = std::move(*roots);

  absl::StatusOr<KeyType> key_type = x509::ClassifyKey(rep->key.get(), "key");
  if (!key_type.ok()) return key_type.status();
  rep->key_type = *key_type;
  rep->subject = x509::NameToString(X509_get_subject_name(rep->cert.get()));
  if (EVP_PKEY_eq(X509_get0_pubkey(rep->cert.get()), rep->key.get()) != 1) {
    ClearSslErrors();
    return absl::InvalidArgumentError(absl::StrCat(
        "key: the private key does not match the public key of the signing "
        "certificate '",
        rep->subject, "'; install the key that belongs to this certificate"));
  }
  if (absl::Status status = CheckIsCa(rep->cert.get(), rep->subject);
      !status.ok()) {
    return status;
  }
  absl::StatusOr<absl::Time> not_before =
      x509::Asn1TimeToTime(X509_get0_notBefore(rep->cert.get()));
  if (!not_before.ok()) return not_before.status();
  absl::StatusOr<absl::Time> not_after =
      x509::Asn1TimeToTime(X509_get0_notAfter(rep->cert.get()));
  if (!not_after.ok()) return not_after.status();
  rep->not_before = *not_before;
  rep->not_after = *not_after;
  if (absl::Status status = CheckValidity(*rep, now); !status.ok()) {
    return status;
  }
  absl::StatusOr<SslUniquePtr<STACK_OF(X509)>> path = x509::VerifyToRoots(
      rep->cert.get(), rep->chain.get(), rep->roots.get(), now, "chain");
  if (!path.ok()) return path.status();
  rep->verified_path = std::move(*path);
  if (absl::Status status = x509::CheckPathAllowsIssuance(
          rep->verified_path.get(), "chain");
      !status.ok()) {
    return status;
  }

  if (absl::Status status = PrecomputeSigningState(*rep); !status.ok()) {
    return status;
  }
  if (absl::Status status = PrecomputeEncodings(*rep); !status.ok()) {
    return status;
  }
  return std::shared_ptr<const KeyCertBundle>(
      new KeyCertBundle(std::move(rep)));
}

KeyCertBundle::KeyCertBundle(std::unique_ptr<Rep> rep) : rep_(std::move(rep)) {}
KeyCertBundle::~KeyCertBundle() = default;

KeyType KeyCertBundle::key_type() const { return rep_->key_type; }
absl::Time KeyCertBundle::not_before() const { return rep_->not_before; }
absl::Time KeyCertBundle::not_after() const { return rep_->not_after; }
const std::string& KeyCertBundle::serial_hex() const {
  return rep_->serial_hex;
}
const std::string& KeyCertBundle::subject() const { return rep_->subject; }
bool KeyCertBundle::self_signed() const { return rep_->self_signed; }
const std::string& KeyCertBundle::cert_pem() const { return rep_->cert_pem; }
const std::vector<std::string>& KeyCertBundle::chain_pems() const {
  return rep_->chain_pems;
}
const std::string& KeyCertBundle::root_bundle_pem() const {
  return rep_->root_bundle_pem;
}
const std::vector<std::string>& KeyCertBundle::root_fingerprints() const {
  return rep_->root_fingerprints;
}

}  // namespace ca
}  // namespace vaultca
