#ifndef VAULTCA_X509_INTERNAL_CSR_CONTENTS_H_
#define VAULTCA_X509_INTERNAL_CSR_CONTENTS_H_

// What a CSR asks for beyond its key: the subject's CN, the requested
// extensions and the subjectAltName values, for policy layers (istio-csr's
// strict mode). The local CA itself ignores them, as istiod does.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "x509/csr.h"

namespace vaultca {
namespace x509 {
namespace internal {

struct CsrSans {
  std::vector<std::string> uris;
  std::vector<std::string> dns_names;
  std::vector<std::string> ips;  // text form
  std::vector<std::string> emails;
  int other_count = 0;
};

// Reads the last commonName of the subject Name `subject_der` as UTF-8
// ("" when there is none). InvalidArgument when the Name is malformed.
absl::Status ParseCsrCommonName(absl::string_view subject_der,
                                std::string* common_name);

// Reads the extensionRequest attribute (PKCS#9) out of `attributes`, the
// contents of the CSR's attributes SET: every extension with its
// criticality, the subjectAltName values and the key usages. Other
// attributes are skipped. InvalidArgument when the attribute or the
// subjectAltName is malformed, or when an extension appears twice; a
// malformed key usage is only flagged in `usages`.
absl::Status ParseCsrExtensionRequest(absl::string_view attributes,
                                      std::vector<CsrExtension>* extensions,
                                      CsrSans* sans, CsrUsages* usages);

}  // namespace internal
}  // namespace x509
}  // namespace vaultca

#endif  // VAULTCA_X509_INTERNAL_CSR_CONTENTS_H_
