#include "cli/material_check.h"

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ca/local_ca.h"
#include "ca/workload_csr.h"
#include "cli/internal/cert_checks.h"

namespace vaultca {
namespace cli {
namespace {

using internal::CertInfo;

constexpr char kProbeIdentity[] =
    "spiffe://cluster.local/ns/vaultca-check/sa/probe";

// "3 days", "1 day", or hours/minutes/seconds below a day.
std::string Days(absl::Duration d) {
  if (d < absl::ZeroDuration()) d = -d;
  const int64_t days = absl::ToInt64Hours(d) / 24;
  if (days >= 1) return absl::StrCat(days, days == 1 ? " day" : " days");
  return absl::FormatDuration(absl::Trunc(d, absl::Seconds(1)));
}

std::string Date(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

void CheckExpiry(const std::string& role, const CertInfo& cert,
                 const MaterialCheckOptions& options, Report* report) {
  const std::string name = absl::StrCat("expiry of ", role);
  if (options.now < cert.not_before) {
    report->Fail(name, absl::StrCat(cert.subject, " is not valid before ",
                                    Date(cert.not_before),
                                    ": check the clock or the certificate"));
  } else if (options.now >= cert.not_after) {
    report->Fail(name, absl::StrCat(cert.subject, " expired ",
                                    Days(options.now - cert.not_after),
                                    " ago (", Date(cert.not_after),
                                    "): put renewed material in Vault"));
  } else if (cert.not_after - options.now < options.warn_before) {
    report->Warn(name, absl::StrCat(cert.subject, " expires in ",
                                    Days(cert.not_after - options.now), " (",
                                    Date(cert.not_after), "): renew it soon"));
  } else {
    report->Pass(name, absl::StrCat(cert.subject, " valid until ",
                                    Date(cert.not_after), " (",
                                    Days(cert.not_after - options.now), ")"));
  }
}

void CheckCaFlags(const std::string& role, const CertInfo& cert,
                  Report* report, std::vector<std::string>* problems) {
  if (!cert.is_ca) {
    problems->push_back(absl::StrCat(role, " ", cert.subject,
                                     " is not a CA (basicConstraints CA:TRUE missing)"));
  } else if (!cert.key_cert_sign) {
    problems->push_back(absl::StrCat(role, " ", cert.subject,
                                     " may not sign certificates (keyUsage lacks keyCertSign)"));
  }
}

}  // namespace

std::optional<ca::ServingMaterial> CheckMaterial(
    const ca::CaMaterialPem& material, const MaterialCheckOptions& options,
    Report* report) {
  const size_t failures_before = [&] {
    size_t n = 0;
    for (const ReportLine& l : report->lines()) n += l.verdict == Verdict::kFail;
    return n;
  }();

  // Parse every certificate; one line for all of them.
  auto signing = internal::ParseCertificates(material.cert_pem);
  if (!signing.ok()) {
    report->Fail("certificates", absl::StrCat("the signing certificate: ",
                                              signing.status().message()));
    return std::nullopt;
  }
  std::vector<CertInfo> chain;
  if (!material.chain_pem.empty()) {
    auto parsed = internal::ParseCertificates(material.chain_pem);
    if (!parsed.ok()) {
      report->Fail("certificates",
                   absl::StrCat("the chain: ", parsed.status().message()));
      return std::nullopt;
    }
    chain = *std::move(parsed);
  }
  auto roots = internal::ParseCertificates(material.root_bundle_pem);
  if (!roots.ok()) {
    report->Fail("certificates",
                 absl::StrCat("the root bundle: ", roots.status().message()));
    return std::nullopt;
  }
  report->Pass("certificates",
               absl::StrCat("signing certificate ", signing->front().subject,
                            ", ", chain.size(), " in the chain, ",
                            roots->size(), " root(s)"));

  if (absl::Status key = internal::KeyMatchesCertificate(material.key_pem,
                                                         material.cert_pem);
      !key.ok()) {
    report->Fail("private key", absl::StrCat(key.message(),
                                             ": put the matching key and "
                                             "certificate together"));
  } else {
    report->Pass("private key", "matches the signing certificate");
  }

  // Every distinct certificate once, by role.
  std::vector<std::pair<std::string, CertInfo>> all;
  std::set<std::string> seen;
  auto add = [&](const std::string& role, const CertInfo& cert) {
    if (seen.insert(cert.pem).second) all.emplace_back(role, cert);
  };
  add("signing certificate", signing->front());
  for (const CertInfo& c : *roots) add("root", c);
  for (size_t i = 1; i < signing->size(); ++i) add("chain certificate", (*signing)[i]);
  for (const CertInfo& c : chain) add("chain certificate", c);

  std::vector<std::string> problems;
  for (const auto& [role, cert] : all) CheckCaFlags(role, cert, report, &problems);
  if (problems.empty()) {
    report->Pass("CA flags", absl::StrCat("all ", all.size(),
                                          " certificates are CAs with keyCertSign"));
  } else {
    report->Fail("CA flags", absl::StrJoin(problems, "; "));
  }
  for (const auto& [role, cert] : all) CheckExpiry(role, cert, options, report);

  ca::RefreshFailureCause cause = ca::RefreshFailureCause::kFetch;
  absl::StatusOr<ca::ServingMaterial> serving =
      ca::ValidateMaterial(material, ca::IssuancePolicy::Default(),
                           options.now, &cause);
  if (!serving.ok()) {
    report->Fail("chain and signing probe",
                 absl::StrCat(serving.status().message()));
    return std::nullopt;
  }
  report->Pass("chain and signing probe",
               absl::StrCat("the signing certificate verifies to the root (",
                            ca::KeyTypeName(serving->bundle->key_type()),
                            " key); the probe signature verifies"));

  // A CSR as istio-agent makes it, signed as a workload would be, checked
  // with plain OpenSSL against the root bundle alone.
  ca::WorkloadCsrOptions csr_options;
  csr_options.identities = {kProbeIdentity};
  csr_options.key_type = ca::KeyType::kEcP256;
  absl::StatusOr<ca::WorkloadCsr> csr = ca::GenerateWorkloadCsr(csr_options);
  absl::StatusOr<ca::SignedChain> signed_chain;
  if (csr.ok()) {
    absl::StatusOr<ca::VerifiedCsr> verified =
        serving->ca->policy().VerifyCsr(csr->csr_pem);
    if (verified.ok()) {
      ca::SignRequest request;
      request.csr = *std::move(verified);
      request.identities = {kProbeIdentity};
      request.requested_ttl = absl::Hours(1);
      signed_chain = serving->ca->Sign(request);
    } else {
      signed_chain = verified.status();
    }
  }
  if (!csr.ok() || !signed_chain.ok()) {
    report->Fail("test CSR", absl::StrCat("signing a test CSR failed: ",
                                          (csr.ok() ? signed_chain.status()
                                                    : csr.status())
                                              .message()));
    return std::nullopt;
  }
  std::string intermediates;
  for (size_t i = 1; i + 1 < signed_chain->cert_chain.size(); ++i) {
    intermediates += signed_chain->cert_chain[i];
  }
  if (absl::Status verified = internal::VerifyChain(
          signed_chain->cert_chain.front(), intermediates,
          material.root_bundle_pem, options.now);
      !verified.ok()) {
    report->Fail("test CSR", absl::StrCat("the test leaf ", verified.message()));
    return std::nullopt;
  }
  report->Pass("test CSR", absl::StrCat("a leaf for ", kProbeIdentity,
                                        " signed locally verifies against the root"));

  size_t failures_after = 0;
  for (const ReportLine& l : report->lines()) failures_after += l.verdict == Verdict::kFail;
  if (failures_after != failures_before) return std::nullopt;
  return *std::move(serving);
}

}  // namespace cli
}  // namespace vaultca
