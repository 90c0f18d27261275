#include "server/serving_cert.h"

#include <arpa/inet.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <algorithm>
#include <cstring>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "ca/generate.h"
#include "ca/internal/key_cert_bundle_access.h"
#include "common/internal/ssl_error.h"
#include "common/internal/ssl_unique_ptr.h"
#include "common/log.h"
#include "server/internal/file_util.h"
#include "server/internal/key_csr.h"

namespace vaultca {
namespace server {
namespace {

// The directory holds the serving key and the files gRPC loads: anyone else
// who can write it could swap the certificate or the client-verification
// roots, or plant a link where the key is written. A missing directory is
// fine (it is created 0700).
absl::Status CheckExistingDirectory(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return absl::FailedPreconditionError(
        absl::StrCat("cannot inspect the serving certificate directory ", dir,
                     ": ", std::strerror(errno)));
  }
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the serving certificate directory ", dir,
        " exists and is not a directory; remove it or set serving.cert_dir"));
  }
  const uid_t uid = ::geteuid();
  if (st.st_uid != uid) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the serving certificate directory ", dir, " is owned by uid ",
        st.st_uid, ", not by vaultca-server's uid ", uid,
        "; it holds the serving key: chown ", uid, " ", dir,
        " and chmod 0700, or point serving.cert_dir at a new path"));
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o",
                  static_cast<unsigned>(st.st_mode & 07777));
    return absl::FailedPreconditionError(absl::StrCat(
        "the serving certificate directory ", dir, " has mode ", mode,
        ": other users can write it, and it holds the serving key; chmod "
        "0700 ", dir, ", or point serving.cert_dir at a new path (a Kubernetes "
        "emptyDir is 0777: mount it one level up)"));
  }
  return absl::OkStatus();
}

using ::vaultca::internal::SslError;
using ::vaultca::internal::SslUniquePtr;

// Tolerance for clients whose clock is a little behind.
constexpr absl::Duration kBackdate = absl::Minutes(1);

absl::Status Failed(absl::string_view what) {
  return SslError(absl::StatusCode::kInternal,
                  absl::StrCat("cannot issue the serving certificate: ", what));
}

// A SAN entry: an IP address when `name` is an IP literal, else a DNS name.
SslUniquePtr<GENERAL_NAME> SanEntry(const std::string& name) {
  SslUniquePtr<GENERAL_NAME> entry(GENERAL_NAME_new());
  SslUniquePtr<ASN1_STRING> value(ASN1_STRING_new());
  if (entry == nullptr || value == nullptr) return nullptr;
  unsigned char ip[16];
  int type = GEN_DNS;
  if (inet_pton(AF_INET, name.c_str(), ip) == 1) {
    type = GEN_IPADD;
    ASN1_STRING_set(value.get(), ip, 4);
  } else if (inet_pton(AF_INET6, name.c_str(), ip) == 1) {
    type = GEN_IPADD;
    ASN1_STRING_set(value.get(), ip, 16);
  } else {
    value.reset(ASN1_IA5STRING_new());
    if (value == nullptr ||
        ASN1_STRING_set(value.get(), name.data(),
                        static_cast<int>(name.size())) != 1) {
      return nullptr;
    }
  }
  GENERAL_NAME_set0_value(entry.get(), type, value.release());
  return entry;
}

// Signs the serving certificate with the CA material directly rather than
// through CertificateAuthority::Sign, whose workload profile also grants
// clientAuth: a server certificate (whose key sits on disk) must not work
// as a client certificate for its DNS names. keyUsage digitalSignature
// (the key is EC P-256), extendedKeyUsage serverAuth, CA:FALSE, the CA's
// authority key id, the SANs (critical: the subject is empty), and a
// 128-bit random serial. Returns the leaf PEM.
absl::StatusOr<std::string> IssueServerCertificate(
    const ca::KeyCertBundle& bundle, EVP_PKEY* public_key,
    const std::vector<std::string>& names, absl::Time not_before,
    absl::Time not_after) {
  SslUniquePtr<X509> cert(X509_new());
  if (cert == nullptr || X509_set_version(cert.get(), 2) != 1) {
    return Failed("X509_new");
  }
  unsigned char serial_bytes[16];
  if (RAND_bytes(serial_bytes, sizeof(serial_bytes)) != 1) {
    return Failed("no random serial");
  }
  serial_bytes[0] &= 0x7f;
  SslUniquePtr<BIGNUM> serial(
      BN_bin2bn(serial_bytes, sizeof(serial_bytes), nullptr));
  if (serial == nullptr ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) ==
          nullptr) {
    return Failed("serial");
  }
  if (X509_set_issuer_name(cert.get(),
                           ca::KeyCertBundleAccess::SubjectName(bundle)) != 1 ||
      ASN1_TIME_set(X509_getm_notBefore(cert.get()),
                    absl::ToTimeT(not_before)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert.get()),
                    absl::ToTimeT(not_after)) == nullptr ||
      X509_set_pubkey(cert.get(), public_key) != 1) {
    return Failed("issuer, validity or key");
  }
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, ca::KeyCertBundleAccess::SigningCert(bundle),
                 cert.get(), nullptr, nullptr, 0);
  for (const auto& [nid, value] :
       {std::pair<int, const char*>{NID_key_usage, "critical,digitalSignature"},
        {NID_ext_key_usage, "serverAuth"},
        {NID_basic_constraints, "critical,CA:FALSE"}}) {
    SslUniquePtr<X509_EXTENSION> ext(
        X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
    if (ext == nullptr || X509_add_ext(cert.get(), ext.get(), -1) != 1) {
      return Failed(value);
    }
  }
  if (X509_add_ext(cert.get(),
                   const_cast<X509_EXTENSION*>(
                       ca::KeyCertBundleAccess::AuthorityKeyIdExtension(
                           bundle)),
                   -1) != 1) {
    return Failed("authorityKeyIdentifier");
  }
  GENERAL_NAMES* sans = sk_GENERAL_NAME_new_null();
  if (sans == nullptr) return Failed("subjectAltName");
  for (const std::string& name : names) {
    SslUniquePtr<GENERAL_NAME> entry = SanEntry(name);
    if (entry == nullptr || sk_GENERAL_NAME_push(sans, entry.get()) == 0) {
      GENERAL_NAMES_free(sans);
      return Failed(absl::StrCat("subjectAltName ", name));
    }
    entry.release();
  }
  const int added = X509_add1_ext_i2d(cert.get(), NID_subject_alt_name, sans,
                                      /*crit=*/1, X509V3_ADD_DEFAULT);
  GENERAL_NAMES_free(sans);
  if (added != 1) return Failed("subjectAltName");
  // Ed25519 signs without a separate digest.
  const EVP_MD* md = nullptr;
  switch (bundle.key_type()) {
    case ca::KeyType::kEcP384:
      md = EVP_sha384();
      break;
    case ca::KeyType::kEd25519:
      break;
    default:
      md = EVP_sha256();
  }
  if (X509_sign(cert.get(), ca::KeyCertBundleAccess::SigningKey(bundle), md) <=
      0) {
    return Failed("signature");
  }
  SslUniquePtr<BIO> out(BIO_new(BIO_s_mem()));
  if (out == nullptr || PEM_write_bio_X509(out.get(), cert.get()) != 1) {
    return Failed("PEM");
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(out.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

// The public key of a PEM CSR.
absl::StatusOr<SslUniquePtr<EVP_PKEY>> CsrPublicKey(const std::string& pem) {
  SslUniquePtr<BIO> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  SslUniquePtr<X509_REQ> req(
      bio == nullptr ? nullptr
                     : PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr,
                                             nullptr));
  EVP_PKEY* key = req == nullptr ? nullptr : X509_REQ_get_pubkey(req.get());
  if (key == nullptr) return Failed("the serving key's CSR does not parse");
  return SslUniquePtr<EVP_PKEY>(key);
}

}  // namespace

absl::StatusOr<std::unique_ptr<ServingCert>> ServingCert::New(
    ServingCertOptions options) {
  if (options.dir.empty() || options.dns_names.empty() ||
      options.ttl <= absl::ZeroDuration() || options.renew_fraction <= 0 ||
      options.renew_fraction >= 1 || !options.clock) {
    return absl::InvalidArgumentError(
        "serving certificate needs a directory, DNS names, a positive TTL "
        "and a renewal fraction in (0, 1)");
  }
  if (absl::Status s = CheckExistingDirectory(options.dir); !s.ok()) {
    return s;
  }
  if (absl::Status s = internal::MakeDirectories(options.dir, 0700); !s.ok()) {
    return s;
  }
  absl::StatusOr<SecretData> key = ca::GeneratePrivateKeyPem(ca::KeyType::kEcP256);
  if (!key.ok()) return key.status();
  absl::StatusOr<std::string> csr = internal::CsrForKey(*key);
  if (!csr.ok()) return csr.status();
  auto cert = std::unique_ptr<ServingCert>(
      new ServingCert(std::move(options), *std::move(csr)));
  if (absl::Status s =
          internal::WriteFileAtomically(cert->key_file(), key->view(), 0600);
      !s.ok()) {
    return s;
  }
  return cert;
}

ServingCert::ServingCert(ServingCertOptions options, std::string csr_pem)
    : options_(std::move(options)), csr_pem_(std::move(csr_pem)) {}

absl::StatusOr<bool> ServingCert::Refresh(
    ca::CertificateAuthority& ca,
    const std::shared_ptr<const ca::KeyCertBundle>& material,
    uint64_t generation) {
  const absl::Time now = options_.clock();
  const absl::Duration life = not_after_ - not_before_;
  const bool first = issued_ == 0;
  // In-process material is compared as such; a remote signer by generation.
  const bool rotated = material != nullptr ? material != material_
                                           : generation != generation_;
  const bool renew = !first && now >= not_after_ - life * options_.renew_fraction;
  if (!first && !rotated && !renew) return false;
  const char* why = first     ? "issued"
                    : rotated ? "re-issued after a CA rotation"
                              : "renewed";

  if (material == nullptr) {
    if (generation == 0) {
      return absl::FailedPreconditionError(
          "cannot issue the serving certificate: no CA material loaded");
    }
    absl::StatusOr<bool> issued = IssueThroughSign(ca, why);
    if (issued.ok()) {
      material_ = nullptr;
      generation_ = generation;
    }
    return issued;
  }
  absl::StatusOr<SslUniquePtr<EVP_PKEY>> public_key = CsrPublicKey(csr_pem_);
  if (!public_key.ok()) return public_key.status();
  const absl::Time not_after =
      std::min(now + options_.ttl, material->not_after());
  absl::StatusOr<std::string> leaf =
      IssueServerCertificate(*material, public_key->get(), options_.dns_names,
                             now - kBackdate, not_after);
  if (!leaf.ok()) return leaf.status();
  // The leaf, then the CA chain so clients can build the path.
  std::string cert_chain = *leaf;
  for (const std::string& pem : material->chain_pems()) {
    absl::StrAppend(&cert_chain, pem);
  }
  absl::StatusOr<bool> installed =
      Install(*leaf, cert_chain, material->root_bundle_pem(), why);
  if (installed.ok()) {
    material_ = material;
    generation_ = generation;
  }
  return installed;
}

absl::StatusOr<bool> ServingCert::IssueThroughSign(ca::CertificateAuthority& ca,
                                                   const char* why) {
  ca::SignRequest request;
  request.csr_pem = csr_pem_;
  request.identities = options_.dns_names;
  request.requested_ttl = options_.ttl;
  absl::StatusOr<ca::SignedChain> chain = ca.Sign(request);
  if (!chain.ok()) {
    return absl::Status(chain.status().code(),
                        absl::StrCat("cannot issue the serving certificate: ",
                                     chain.status().message()));
  }
  if (chain->cert_chain.size() < 2) {
    return absl::InternalError(
        "cannot issue the serving certificate: the CA returned no roots");
  }
  // [leaf, CA chain..., root bundle]: the file gRPC serves is all but the
  // roots, which go to the client-verification file.
  std::string cert_chain;
  for (size_t i = 0; i + 1 < chain->cert_chain.size(); ++i) {
    absl::StrAppend(&cert_chain, chain->cert_chain[i]);
  }
  return Install(chain->cert_chain.front(), cert_chain,
                 chain->cert_chain.back(), why);
}

absl::StatusOr<bool> ServingCert::Install(const std::string& leaf,
                                          const std::string& cert_chain,
                                          const std::string& roots,
                                          const char* why) {
  absl::StatusOr<internal::Validity> validity =
      internal::CertificateValidity(leaf);
  if (!validity.ok()) return validity.status();
  // Roots first: a client certificate from the new root must verify as
  // soon as the new serving certificate is out.
  if (absl::Status s =
          internal::WriteFileAtomically(roots_file(), roots, 0644);
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          internal::WriteFileAtomically(cert_file(), cert_chain, 0644);
      !s.ok()) {
    return s;
  }
  not_before_ = validity->not_before;
  not_after_ = validity->not_after;
  ++issued_;
  VAULTCA_LOG(INFO) << "serving certificate " << why << ", valid until "
                    << absl::FormatTime(not_after_);
  return true;
}

}  // namespace server
}  // namespace vaultca
