#ifndef VAULTCA_CA_WORKLOAD_CSR_H_
#define VAULTCA_CA_WORKLOAD_CSR_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ca/key_cert_bundle.h"
#include "common/secret_data.h"

namespace vaultca {
namespace ca {

// How to shape a CSR the way Istio's clients do.
struct WorkloadCsrOptions {
  // SAN values: spiffe:// ids become URI SANs, IP literals IP SANs,
  // anything else DNS SANs.
  std::vector<std::string> identities;
  KeyType key_type = KeyType::kRsa;
  // Subject organisation. istio-agent writes O= with an empty value (its
  // Org option is unset); ztunnel writes no subject at all (set
  // `empty_subject`).
  std::string organization;
  bool empty_subject = false;
  // A non-empty CN asks istiod for the "dual-use" subject.
  std::string common_name;
  // istio-agent marks the SAN extension critical because the subject is
  // empty of names.
  bool san_critical = true;
};

struct WorkloadCsr {
  std::string csr_pem;
  SecretData key_pem;  // PKCS#8
};

// Generates a key pair and a CSR signed with it, shaped like istio-agent's
// (security/pkg/pki/util GenCSR) or ztunnel's requests. Used by the demo,
// the test clients and the benchmarks; a CA never needs it.
absl::StatusOr<WorkloadCsr> GenerateWorkloadCsr(
    const WorkloadCsrOptions& options);

}  // namespace ca
}  // namespace vaultca

#endif  // VAULTCA_CA_WORKLOAD_CSR_H_
