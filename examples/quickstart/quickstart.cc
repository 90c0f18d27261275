// The quick start: what vaultca does, in one process and no Vault.
//
// 1. Loads istiod's default CA from a state directory (a self-signed root,
//    generated and persisted 0600 on the first run, re-used afterwards).
// 2. Generates a workload key and CSR shaped like istio-agent's.
// 3. Signs it with istiod's leaf profile and prints the chain istio-agent
//    would receive, with a readable summary of each certificate.

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "ca/key_cert_bundle.h"
#include "ca/local_ca.h"
#include "ca/sources/self_signed/self_signed_source.h"
#include "ca/workload_csr.h"
#include "common/internal/ssl_unique_ptr.h"

ABSL_FLAG(std::string, state_dir, "build/demo-state",
          "Where the self-signed root is kept between runs.");
ABSL_FLAG(std::string, trust_domain, "cluster.local", "The mesh trust domain.");
ABSL_FLAG(std::string, identity, "spiffe://cluster.local/ns/default/sa/demo",
          "The workload identity to certify.");
ABSL_FLAG(bool, print_pem, true, "Print the PEM chain as well as the summary.");

namespace {

using vaultca::internal::SslUniquePtr;

// One readable line per certificate: subject, issuer, SANs, validity.
std::string Describe(const std::string& pem) {
  SslUniquePtr<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  SslUniquePtr<X509> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (cert == nullptr) return "(unparseable)";
  SslUniquePtr<BIO> out(BIO_new(BIO_s_mem()));
  BIO_puts(out.get(), "subject=[");
  X509_NAME_print_ex(out.get(), X509_get_subject_name(cert.get()), 0, XN_FLAG_RFC2253);
  BIO_puts(out.get(), "] issuer=[");
  X509_NAME_print_ex(out.get(), X509_get_issuer_name(cert.get()), 0, XN_FLAG_RFC2253);
  BIO_puts(out.get(), "] notBefore=");
  ASN1_TIME_print(out.get(), X509_get0_notBefore(cert.get()));
  BIO_puts(out.get(), " notAfter=");
  ASN1_TIME_print(out.get(), X509_get0_notAfter(cert.get()));
  SslUniquePtr<GENERAL_NAMES> sans(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; sans != nullptr && i < sk_GENERAL_NAME_num(sans.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans.get(), i);
    if (name->type == GEN_URI) {
      BIO_puts(out.get(), " san=URI:");
      BIO_write(out.get(), ASN1_STRING_get0_data(name->d.uniformResourceIdentifier),
                ASN1_STRING_length(name->d.uniformResourceIdentifier));
    }
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(out.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

int Fail(const char* what, const absl::Status& status) {
  std::cerr << "quickstart: " << what << ": " << status << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);

  vaultca::ca::SelfSignedSourceOptions source_options;
  source_options.state_dir = absl::GetFlag(FLAGS_state_dir);
  source_options.trust_domain = absl::GetFlag(FLAGS_trust_domain);
  auto source = vaultca::ca::SelfSignedSource::New(source_options);
  if (!source.ok()) return Fail("opening the state directory", source.status());
  auto material = (*source)->Fetch();
  if (!material.ok()) return Fail("loading the self-signed root", material.status());
  auto bundle = vaultca::ca::KeyCertBundle::Create(*material);
  if (!bundle.ok()) return Fail("validating the root", bundle.status());
  auto ca = vaultca::ca::LocalCertificateAuthority::New(*bundle);
  if (!ca.ok()) return Fail("preparing the CA", ca.status());
  std::cout << "CA: " << (*source)->Description() << ", "
            << vaultca::ca::KeyTypeName((*bundle)->key_type()) << ", serial "
            << (*bundle)->serial_hex() << ", expires in "
            << absl::ToInt64Hours((*bundle)->TimeToExpiry(absl::Now())) / 24
            << " days\n";

  vaultca::ca::WorkloadCsrOptions csr_options;
  csr_options.identities = {absl::GetFlag(FLAGS_identity)};
  auto csr = vaultca::ca::GenerateWorkloadCsr(csr_options);
  if (!csr.ok()) return Fail("generating the workload CSR", csr.status());

  // The CA's own policy checks the CSR once; Sign then only signs.
  auto verified = (*ca)->policy().VerifyCsr(csr->csr_pem);
  if (!verified.ok()) return Fail("verifying the CSR", verified.status());
  vaultca::ca::SignRequest request;
  request.csr = *std::move(verified);
  request.identities = csr_options.identities;
  request.requested_ttl = absl::Hours(24);
  auto chain = (*ca)->Sign(request);
  if (!chain.ok()) return Fail("signing", chain.status());

  std::cout << "issued " << chain->cert_chain.size()
            << " chain elements (leaf first, root bundle last):\n";
  for (size_t i = 0; i < chain->cert_chain.size(); ++i) {
    std::cout << "  [" << i << "] " << Describe(chain->cert_chain[i]) << "\n";
  }
  if (absl::GetFlag(FLAGS_print_pem)) {
    for (const std::string& pem : chain->cert_chain) std::cout << pem;
  }
  return 0;
}
