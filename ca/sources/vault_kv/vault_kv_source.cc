#include "ca/sources/vault_kv/vault_kv_source.h"

#include <openssl/x509.h>

#include <set>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "x509/pem.h"
#include "x509/x509_util.h"

namespace vaultca {
namespace ca {
namespace {

absl::StatusOr<vault::Reference> ParseNamed(const std::string& text,
                                            absl::string_view field) {
  absl::StatusOr<vault::Reference> reference = vault::ParseReference(text);
  if (!reference.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Vault KV CA source: ", field, " '", text,
        "' is not a valid reference: ", reference.status().message(),
        "; expected vault:PATH#KEY[#VERSION], e.g. "
        "vault:secret/data/pki/istiod#certificate"));
  }
  return reference;
}

// True when `cert` is self-signed: its issuer is its subject and its
// signature verifies with its own key.
bool IsSelfSigned(X509* cert) {
  return X509_self_signed(cert, /*verify_signature=*/1) == 1;
}

}  // namespace

absl::StatusOr<std::unique_ptr<VaultKvSource>> VaultKvSource::New(
    std::shared_ptr<vault::VaultClient> client, VaultKvSourceOptions options) {
  if (client == nullptr) {
    return absl::InvalidArgumentError("Vault KV CA source: the client is null");
  }
  if (options.cert_ref.empty() || options.key_ref.empty()) {
    return absl::InvalidArgumentError(
        "Vault KV CA source: both the certificate and the key reference are "
        "required, e.g. vault:secret/data/pki/istiod#certificate and "
        "vault:secret/data/pki/istiod#privateKey");
  }
  std::vector<vault::Reference> references;
  for (const auto& [text, field] :
       {std::pair<const std::string&, absl::string_view>{options.cert_ref,
                                                         "certificate reference"},
        {options.key_ref, "key reference"},
        {options.chain_ref, "chain reference"},
        {options.root_ref, "root reference"}}) {
    if (text.empty()) continue;
    absl::StatusOr<vault::Reference> reference = ParseNamed(text, field);
    if (!reference.ok()) return reference.status();
    references.push_back(*std::move(reference));
  }
  return std::unique_ptr<VaultKvSource>(
      new VaultKvSource(std::move(client), std::move(references),
                        !options.chain_ref.empty(), !options.root_ref.empty()));
}

VaultKvSource::VaultKvSource(std::shared_ptr<vault::VaultClient> client,
                             std::vector<vault::Reference> references,
                             bool has_chain, bool has_root)
    : client_(std::move(client)),
      references_(std::move(references)),
      has_chain_(has_chain),
      has_root_(has_root) {}

std::string VaultKvSource::Description() const {
  std::set<std::string> paths;
  for (const vault::Reference& reference : references_) {
    paths.insert(reference.version == 0
                     ? reference.path
                     : absl::StrCat(reference.path, "#v", reference.version));
  }
  return absl::StrCat("vault:", absl::StrJoin(paths, ","));
}

absl::StatusOr<CaMaterialPem> VaultKvSource::Fetch() {
  absl::StatusOr<std::vector<SecretData>> values =
      client_->ReadReferences(references_);
  if (!values.ok()) {
    return absl::Status(values.status().code(),
                        absl::StrCat(Description(), ": ", values.status().message()));
  }
  CaMaterialPem material;
  size_t next = 0;
  material.cert_pem = std::string((*values)[next++].view());
  material.key_pem = std::move((*values)[next++]);
  if (has_chain_) material.chain_pem = std::string((*values)[next++].view());
  if (has_root_) {
    material.root_bundle_pem = std::string((*values)[next++].view());
    return material;
  }

  // No root reference: derive the root as the seed's operator did.
  const std::string cert_ref = references_[0].ToString();
  if (!has_chain_) {
    // The certificate value may be a full chain (signing cert, then its
    // issuers up to the root), as tls.crt often is. It is then the chain
    // in Istio's cert-chain.pem layout, which starts with the signing cert.
    auto bundle = x509::ParseCertificates(material.cert_pem, cert_ref);
    if (bundle.ok() && bundle->size() > 1) {
      std::string chain_pem;
      for (size_t i = 0; i < bundle->size(); ++i) {
        auto pem = x509::CertificateToPem((*bundle)[i].get());
        if (!pem.ok()) return pem.status();
        chain_pem += *pem;
      }
      auto signing_pem = x509::CertificateToPem(bundle->front().get());
      if (!signing_pem.ok()) return signing_pem.status();
      X509* last = bundle->back().get();
      if (!IsSelfSigned(last)) {
        return absl::FailedPreconditionError(absl::StrCat(
            Description(), ": the certificate bundle at ", cert_ref,
            " does not end with a self-signed root (its last certificate "
            "is ",
            x509::NameToString(X509_get_subject_name(last)),
            "); add the root to it or set a root reference"));
      }
      auto root_pem = x509::CertificateToPem(last);
      if (!root_pem.ok()) return root_pem.status();
      material.cert_pem = *std::move(signing_pem);
      material.chain_pem = std::move(chain_pem);
      material.root_bundle_pem = *std::move(root_pem);
      return material;
    }
    auto cert = x509::ParseCertificate(material.cert_pem, cert_ref);
    // A cert that does not parse is passed on for validation to name.
    if (!cert.ok() || IsSelfSigned(cert->get())) {
      material.root_bundle_pem = material.cert_pem;
      return material;
    }
    return absl::FailedPreconditionError(absl::StrCat(
        Description(), ": the certificate at ", cert_ref,
        " is not self-signed (issued by ",
        x509::NameToString(X509_get_issuer_name(cert->get())),
        "), so its root cannot be assumed; add a chain reference (its "
        "cert-chain.pem, ending with the root) and/or a root reference "
        "(root-cert.pem)"));
  }
  auto chain = x509::ParseCertificates(material.chain_pem,
                                           references_[2].ToString());
  if (!chain.ok()) return chain.status();
  X509* last = chain->back().get();
  if (!IsSelfSigned(last)) {
    return absl::FailedPreconditionError(absl::StrCat(
        Description(), ": the chain at ", references_[2].ToString(),
        " does not end with a self-signed root (its last certificate is ",
        x509::NameToString(X509_get_subject_name(last)),
        "); add a root reference (root-cert.pem)"));
  }
  auto root_pem = x509::CertificateToPem(last);
  if (!root_pem.ok()) return root_pem.status();
  material.root_bundle_pem = *std::move(root_pem);
  return material;
}

}  // namespace ca
}  // namespace vaultca
