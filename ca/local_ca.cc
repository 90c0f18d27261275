#include "ca/local_ca.h"

#include <openssl/x509.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ca/internal/key_cert_bundle_access.h"
#include "ca/internal/leaf_profile.h"
#include "x509/pem_codec.h"
#include "common/internal/ssl_error.h"
#include "common/internal/ssl_unique_ptr.h"

namespace vaultca {
namespace ca {
namespace {

using ::vaultca::internal::SslError;
using ::vaultca::internal::SslUniquePtr;

// istiod's ClockSkewGracePeriod: leaves are valid from two minutes ago.
constexpr absl::Duration kClockSkewGrace = absl::Minutes(2);

// Signs a throwaway leaf for the CA's own public key and checks that
// OpenSSL parses it, re-encodes it to the same bytes and verifies its
// signature with the CA certificate: the material and the encoder work
// before the first real request.
absl::Status SelfTest(const internal::LeafSigner& signer, X509* ca_cert,
                      absl::Time now) {
  unsigned char* spki = nullptr;
  const int spki_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(ca_cert), &spki);
  if (spki_len <= 0) {
    return SslError(absl::StatusCode::kInternal,
                    "self-test: encoding the CA public key");
  }
  const std::string public_key(reinterpret_cast<char*>(spki), spki_len);
  OPENSSL_free(spki);
  const std::vector<std::string> identities = {
      "spiffe://vaultca.self-test/ns/vaultca/sa/self-test"};
  internal::LeafRequest request;
  request.public_key_der = public_key;
  request.identities = &identities;
  request.dual_use_common_name = true;
  request.not_before = now - kClockSkewGrace;
  request.not_after = now + absl::Minutes(1);
  absl::StatusOr<std::string> der = signer.SignDer(request);
  if (!der.ok()) {
    return absl::InternalError(
        absl::StrCat("self-test: signing failed: ", der.status().message()));
  }
  const auto* p = reinterpret_cast<const unsigned char*>(der->data());
  SslUniquePtr<X509> leaf(
      d2i_X509(nullptr, &p, static_cast<long>(der->size())));
  if (leaf == nullptr ||
      p != reinterpret_cast<const unsigned char*>(der->data()) + der->size()) {
    return SslError(absl::StatusCode::kInternal,
                    "self-test: OpenSSL cannot parse the issued certificate");
  }
  unsigned char* reencoded = nullptr;
  const int reencoded_len = i2d_X509(leaf.get(), &reencoded);
  const bool same =
      reencoded_len == static_cast<int>(der->size()) &&
      std::equal(der->begin(), der->end(), reinterpret_cast<char*>(reencoded));
  OPENSSL_free(reencoded);
  if (!same) {
    return absl::InternalError(
        "self-test: the issued certificate is not canonical DER");
  }
  if (X509_verify(leaf.get(), X509_get0_pubkey(ca_cert)) != 1) {
    return SslError(absl::StatusCode::kInternal,
                    "self-test: the issued certificate does not verify with "
                    "the CA certificate; the CA key and certificate differ");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<LocalCertificateAuthority>>
LocalCertificateAuthority::New(std::shared_ptr<const KeyCertBundle> bundle,
                               IssuancePolicyOptions options) {
  absl::StatusOr<std::shared_ptr<const IssuancePolicy>> policy =
      IssuancePolicy::New(std::move(options));
  if (!policy.ok()) return policy.status();
  return New(std::move(bundle), *std::move(policy));
}

absl::StatusOr<std::unique_ptr<LocalCertificateAuthority>>
LocalCertificateAuthority::New(std::shared_ptr<const KeyCertBundle> bundle,
                               std::shared_ptr<const IssuancePolicy> policy) {
  if (bundle == nullptr) {
    return absl::InvalidArgumentError("LocalCertificateAuthority needs CA "
                                      "material: the bundle is null");
  }
  if (policy == nullptr) {
    return absl::InvalidArgumentError(
        "LocalCertificateAuthority needs an issuance policy: it is null");
  }
  X509* ca_cert = KeyCertBundleAccess::SigningCert(*bundle);
  absl::StatusOr<std::unique_ptr<internal::LeafSigner>> signer =
      internal::LeafSigner::Create(ca_cert,
                                   KeyCertBundleAccess::SigningKey(*bundle),
                                   bundle->key_type());
  if (!signer.ok()) return signer.status();
  absl::Status status = SelfTest(**signer, ca_cert, policy->Now());
  if (!status.ok()) return status;
  return std::unique_ptr<LocalCertificateAuthority>(
      new LocalCertificateAuthority(std::move(bundle), std::move(policy),
                                    *std::move(signer)));
}

LocalCertificateAuthority::LocalCertificateAuthority(
    std::shared_ptr<const KeyCertBundle> bundle,
    std::shared_ptr<const IssuancePolicy> policy,
    std::unique_ptr<internal::LeafSigner> signer)
    : bundle_(std::move(bundle)),
      policy_(std::move(policy)),
      signer_(std::move(signer)) {}

LocalCertificateAuthority::~LocalCertificateAuthority() = default;

absl::StatusOr<SignedChain> LocalCertificateAuthority::Sign(
    const SignRequest& request) {
  absl::StatusOr<Issuance> checked =
      policy_->Check(request.csr, request.identities, request.requested_ttl,
                     bundle_->not_after());
  if (!checked.ok()) return checked.status();

  const x509::ParsedCsr& csr = request.csr->parsed();
  internal::LeafRequest leaf;
  leaf.public_key_der = csr.public_key_der();
  leaf.identities = &request.identities;
  leaf.dual_use_common_name = !csr.common_name().empty();
  leaf.not_before = checked->now - kClockSkewGrace;
  leaf.not_after =
      std::min(checked->now + checked->ttl, bundle_->not_after());
  absl::StatusOr<std::string> der = signer_->SignDer(leaf);
  if (!der.ok()) return der.status();

  SignedChain response;
  const std::vector<std::string>& chain = bundle_->chain_pems();
  response.cert_chain.reserve(chain.size() + 2);
  response.cert_chain.push_back(x509::EncodePem("CERTIFICATE", *der));
  response.cert_chain.insert(response.cert_chain.end(), chain.begin(),
                             chain.end());
  response.cert_chain.push_back(bundle_->root_bundle_pem());
  return response;
}

absl::StatusOr<std::string> LocalCertificateAuthority::RootBundlePem() {
  return bundle_->root_bundle_pem();
}

}  // namespace ca
}  // namespace vaultca
