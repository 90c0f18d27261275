#include "x509/chain_verify.h"

#include <openssl/x509_vfy.h>

#include "absl/strings/str_cat.h"
#include "x509/x509_util.h"
#include "common/internal/ssl_error.h"

namespace vaultca {
namespace x509 {

using ::vaultca::internal::ClearSslErrors;
using ::vaultca::internal::SslError;

absl::StatusOr<SslUniquePtr<STACK_OF(X509)>> VerifyToRoots(
    X509* cert, STACK_OF(X509) * chain, STACK_OF(X509) * roots,
    absl::Time now, absl::string_view what) {
  SslUniquePtr<X509_STORE> store(X509_STORE_new());
  SslUniquePtr<X509_STORE_CTX> ctx(X509_STORE_CTX_new());
  if (store == nullptr || ctx == nullptr) {
    return SslError(absl::StatusCode::kInternal,
                    absl::StrCat(what, ": cannot allocate a trust store"));
  }
  for (int i = 0; i < sk_X509_num(roots); ++i) {
    // X509_STORE_add_cert takes its own reference; duplicates are ignored.
    if (X509_STORE_add_cert(store.get(), sk_X509_value(roots, i)) != 1) {
      return SslError(absl::StatusCode::kInternal,
                      absl::StrCat(what, ": cannot add root ", i + 1,
                                   " to the trust store"));
    }
  }
  if (X509_STORE_CTX_init(ctx.get(), store.get(), cert, chain) != 1) {
    return SslError(absl::StatusCode::kInternal,
                    absl::StrCat(what, ": cannot start path validation"));
  }
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_time(param, absl::ToTimeT(now));
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);

  int ok = X509_verify_cert(ctx.get());
  // Verification failures leave entries on the error queue that the status
  // below already describes better.
  ClearSslErrors();
  if (ok == 1) {
    SslUniquePtr<STACK_OF(X509)> path(X509_STORE_CTX_get1_chain(ctx.get()));
    if (path == nullptr) {
      return SslError(absl::StatusCode::kInternal,
                      absl::StrCat(what, ": cannot read the validated path"));
    }
    return path;
  }
  int err = X509_STORE_CTX_get_error(ctx.get());
  int depth = X509_STORE_CTX_get_error_depth(ctx.get());
  X509* failing = X509_STORE_CTX_get_current_cert(ctx.get());
  std::string subject =
      failing == nullptr ? "(unknown)"
                         : NameToString(X509_get_subject_name(failing));
  std::string detail =
      absl::StrCat(X509_verify_cert_error_string(err), " (certificate '",
                   subject, "' at depth ", depth, ")");
  switch (err) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return absl::FailedPreconditionError(absl::StrCat(
          what, ": a certificate on the path to the root is outside its "
                "validity period: ",
          detail, "; renew it"));
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          what, ": the signing certificate does not verify to any root of "
                "the root bundle: ",
          detail,
          "; the chain must hold every intermediate and the root bundle the "
          "root that issued them"));
  }
}

absl::Status CheckPathAllowsIssuance(STACK_OF(X509) * path,
                                     absl::string_view what) {
  int intermediates_below = 0;
  for (int i = 1; i < sk_X509_num(path); ++i) {
    X509* below = sk_X509_value(path, i - 1);
    // Self-issued certificates (key rollover) do not count (RFC 5280 6.1.4).
    if (X509_NAME_cmp(X509_get_subject_name(below),
                      X509_get_issuer_name(below)) != 0) {
      ++intermediates_below;
    }
    X509* ca = sk_X509_value(path, i);
    long pathlen = X509_get_pathlen(ca);
    if (pathlen >= 0 && intermediates_below > pathlen) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, ": certificate '", NameToString(X509_get_subject_name(ca)),
          "' has pathLenConstraint ", pathlen, " but ", intermediates_below,
          " intermediate CA(s) including the signing certificate sit below "
          "it, so nothing the signing certificate issues would verify; use a "
          "signing certificate issued directly by a CA that allows it"));
    }
  }
  return absl::OkStatus();
}

}  // namespace x509
}  // namespace vaultca
