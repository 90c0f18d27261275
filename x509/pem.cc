#include "x509/pem.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/internal/ssl_error.h"

namespace vaultca {
namespace x509 {
namespace {

using ::vaultca::internal::ClearSslErrors;
using ::vaultca::internal::SslError;

constexpr absl::string_view kCertificateLabel = "CERTIFICATE";
constexpr absl::string_view kKeyLabels =
    "'RSA PRIVATE KEY', 'EC PRIVATE KEY' or 'PRIVATE KEY'";

// Reads the PEM blocks of a buffer one at a time. In secure mode OpenSSL
// allocates every buffer, including its base64 scratch space, so that it is
// wiped when freed: used for private keys.
class PemReader {
 public:
  PemReader(absl::string_view pem, bool secure)
      : bio_(BIO_new_mem_buf(pem.empty() ? "" : pem.data(),
                             static_cast<int>(pem.size()))),
        secure_(secure) {}
  ~PemReader() { Release(); }
  PemReader(const PemReader&) = delete;
  PemReader& operator=(const PemReader&) = delete;

  // Advances to the next block. Returns false at the end of the input.
  absl::StatusOr<bool> Next(absl::string_view what) {
    Release();
    if (bio_ == nullptr) {
      return SslError(absl::StatusCode::kInternal,
                      absl::StrCat(what, ": cannot allocate a memory BIO"));
    }
    ClearSslErrors();
    unsigned int flags = PEM_FLAG_EAY_COMPATIBLE;
    if (secure_) flags |= PEM_FLAG_SECURE;
    if (PEM_read_bio_ex(bio_.get(), &name_, &header_, &data_, &len_, flags) ==
        1) {
      ++count_;
      return true;
    }
    unsigned long err = ERR_peek_last_error();
    if (ERR_GET_LIB(err) == ERR_LIB_PEM &&
        ERR_GET_REASON(err) == PEM_R_NO_START_LINE) {
      // No further "-----BEGIN" line: the normal end of the input.
      ClearSslErrors();
      return false;
    }
    return SslError(absl::StatusCode::kInvalidArgument,
                    absl::StrCat(what, ": malformed PEM in block ",
                                 count_ + 1,
                                 " (check the BEGIN/END lines and base64)"));
  }

  // Number of blocks read so far; the current block's 1-based index.
  int count() const { return count_; }
  absl::string_view name() const { return name_ == nullptr ? "" : name_; }
  absl::string_view header() const {
    return header_ == nullptr ? "" : header_;
  }
  const unsigned char* data() const { return data_; }
  long size() const { return len_; }

 private:
  void Release() {
    if (secure_) {
      OPENSSL_secure_clear_free(data_, static_cast<size_t>(len_));
      OPENSSL_secure_free(name_);
      OPENSSL_secure_free(header_);
    } else {
      OPENSSL_free(data_);
      OPENSSL_free(name_);
      OPENSSL_free(header_);
    }
    name_ = nullptr;
    header_ = nullptr;
    data_ = nullptr;
    len_ = 0;
  }

  SslUniquePtr<BIO> bio_;
  bool secure_;
  int count_ = 0;
  char* name_ = nullptr;
  char* header_ = nullptr;
  unsigned char* data_ = nullptr;
  long len_ = 0;
};

// Decodes one key block's DER according to its label. The DER must be
// consumed exactly: trailing bytes mean the label does not describe it.
absl::StatusOr<SslUniquePtr<EVP_PKEY>> DecodeKeyDer(absl::string_view label,
                                                    const unsigned char* der,
                                                    long len,
                                                    absl::string_view what) {
  const unsigned char* p = der;
  SslUniquePtr<EVP_PKEY> key;
  if (label == "RSA PRIVATE KEY") {
    key.reset(d2i_PrivateKey(EVP_PKEY_RSA, nullptr, &p, len));
  } else if (label == "EC PRIVATE KEY") {
    key.reset(d2i_PrivateKey(EVP_PKEY_EC, nullptr, &p, len));
  } else {
    SslUniquePtr<PKCS8_PRIV_KEY_INFO> info(
        d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, len));
    if (info != nullptr) key.reset(EVP_PKCS82PKEY(info.get()));
  }
  if (key == nullptr) {
    return SslError(absl::StatusCode::kInvalidArgument,
                    absl::StrCat(what, ": the '", label,
                                 "' block does not hold a valid key of that "
                                 "format"));
  }
  if (p != der + len) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": the '", label, "' block has trailing bytes after the key"));
  }
  return key;
}

}  // namespace

absl::StatusOr<std::vector<SslUniquePtr<X509>>> ParseCertificates(
    absl::string_view pem, absl::string_view what) {
  std::vector<SslUniquePtr<X509>> certs;
  PemReader reader(pem, /*secure=*/false);
  while (true) {
    absl::StatusOr<bool> more = reader.Next(what);
    if (!more.ok()) return more.status();
    if (!*more) break;
    if (reader.name() != kCertificateLabel) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": PEM block ", reader.count(), " is a '",
                       reader.name(), "', expected a '", kCertificateLabel,
                       "'"));
    }
    const unsigned char* p = reader.data();
    SslUniquePtr<X509> cert(d2i_X509(nullptr, &p, reader.size()));
    if (cert == nullptr) {
      return SslError(absl::StatusCode::kInvalidArgument,
                      absl::StrCat(what, ": certificate ", reader.count(),
                                   " is not a valid X.509 certificate"));
    }
    if (p != reader.data() + reader.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": certificate ", reader.count(),
                       " has trailing bytes after the DER certificate"));
    }
    certs.push_back(std::move(cert));
  }
  if (certs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": no PEM certificate found; expected one or more "
              "'-----BEGIN CERTIFICATE-----' blocks"));
  }
  return certs;
}

absl::StatusOr<SslUniquePtr<STACK_OF(X509)>> ParseCertificateStack(
    absl::string_view pem, absl::string_view what, bool allow_empty) {
  SslUniquePtr<STACK_OF(X509)> stack(sk_X509_new_null());
  if (stack == nullptr) {
    return SslError(absl::StatusCode::kInternal,
                    absl::StrCat(what, ": cannot allocate a certificate stack"));
  }
  if (allow_empty && absl::StripAsciiWhitespace(pem).empty()) return stack;
  absl::StatusOr<std::vector<SslUniquePtr<X509>>> certs =
      ParseCertificates(pem, what);
  if (!certs.ok()) return certs.status();
  for (SslUniquePtr<X509>& cert : *certs) {
    if (sk_X509_push(stack.get(), cert.get()) == 0) {
      return SslError(absl::StatusCode::kInternal,
                      absl::StrCat(what, ": cannot grow a certificate stack"));
    }
    cert.release();  // Now owned by the stack.
  }
  return stack;
}

absl::StatusOr<SslUniquePtr<X509>> ParseCertificate(absl::string_view pem,
                                                    absl::string_view what) {
  absl::StatusOr<std::vector<SslUniquePtr<X509>>> certs =
      ParseCertificates(pem, what);
  if (!certs.ok()) return certs.status();
  if (certs->size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": expected exactly one certificate, found ", certs->size(),
        "; put intermediates and roots in the chain instead"));
  }
  return std::move(certs->front());
}

absl::StatusOr<SslUniquePtr<EVP_PKEY>> ParsePrivateKey(const SecretData& pem,
                                                       absl::string_view what) {
  PemReader reader(pem.view(), /*secure=*/true);
  SslUniquePtr<EVP_PKEY> key;
  bool saw_ec_parameters = false;
  while (true) {
    absl::StatusOr<bool> more = reader.Next(what);
    if (!more.ok()) return more.status();
    if (!*more) break;
    absl::string_view label = reader.name();
    if (label == "EC PARAMETERS") {
      if (key != nullptr) {
        return absl::InvalidArgumentError(absl::StrCat(
            what, ": an 'EC PARAMETERS' block must come before the key"));
      }
      saw_ec_parameters = true;
      continue;
    }
    if (label == "ENCRYPTED PRIVATE KEY" ||
        absl::StrContains(reader.header(), "ENCRYPTED")) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, ": the private key is encrypted; vaultca needs an "
                "unencrypted key (decrypt it with `openssl pkey -in KEY "
                "-out KEY.plain` and store that)"));
    }
    if (label != "RSA PRIVATE KEY" && label != "EC PRIVATE KEY" &&
        label != "PRIVATE KEY") {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": PEM block ", reader.count(), " is a '", label,
                       "', expected ", kKeyLabels));
    }
    if (key != nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, ": found more than one private key; expected exactly one"));
    }
    if (saw_ec_parameters && label != "EC PRIVATE KEY") {
      return absl::InvalidArgumentError(absl::StrCat(
          what, ": an 'EC PARAMETERS' block precedes a '", label,
          "' block; it may only precede an 'EC PRIVATE KEY'"));
    }
    absl::StatusOr<SslUniquePtr<EVP_PKEY>> decoded =
        DecodeKeyDer(label, reader.data(), reader.size(), what);
    if (!decoded.ok()) return decoded.status();
    key = std::move(*decoded);
  }
  if (key == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": no PEM private key found; expected one ",
                     kKeyLabels, " block"));
  }
  return key;
}

absl::StatusOr<std::string> CertificateToPem(const X509* cert) {
  SslUniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || PEM_write_bio_X509(bio.get(), cert) != 1) {
    return SslError(absl::StatusCode::kInternal,
                    "cannot PEM-encode a certificate");
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

absl::StatusOr<std::string> CertificatesToPem(const STACK_OF(X509) * certs) {
  std::string out;
  for (int i = 0; i < sk_X509_num(certs); ++i) {
    absl::StatusOr<std::string> pem = CertificateToPem(sk_X509_value(certs, i));
    if (!pem.ok()) return pem.status();
    out += *pem;
  }
  return out;
}

absl::StatusOr<SecretData> PrivateKeyToPkcs8Pem(const EVP_PKEY* key) {
  // A secure-heap memory BIO wipes its buffer when freed.
  SslUniquePtr<BIO> bio(BIO_new(BIO_s_secmem()));
  if (bio == nullptr ||
      PEM_write_bio_PKCS8PrivateKey(bio.get(), key, nullptr, nullptr, 0,
                                    nullptr, nullptr) != 1) {
    return SslError(absl::StatusCode::kInternal,
                    "cannot PEM-encode a private key as PKCS#8");
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return SecretData(absl::string_view(data, static_cast<size_t>(len)));
}

}  // namespace x509
}  // namespace vaultca
