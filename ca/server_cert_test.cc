#include "ca/server_cert.h"

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <string>

#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "ca/key_cert_bundle.h"
#include "ca/workload_csr.h"
#include "common/internal/ssl_unique_ptr.h"
#include "gtest/gtest.h"
#include "testing/test_pki.h"
#include "x509/chain_verify.h"
#include "x509/pem.h"

namespace vaultca {
namespace ca {
namespace {

using ::vaultca::internal::SslUniquePtr;

const absl::Time kNow = absl::FromUnixSeconds(1700000000);

std::shared_ptr<const KeyCertBundle> Bundle(KeyType type) {
  absl::StatusOr<std::shared_ptr<const KeyCertBundle>> bundle =
      KeyCertBundle::Create(testkit::Intermediate(testkit::Root(KeyType::kRsa,
                                                                kNow),
                                                  type, kNow),
                            kNow);
  EXPECT_TRUE(bundle.ok()) << bundle.status();
  return *bundle;
}

ServerCertRequest Request() {
  WorkloadCsrOptions csr_options;
  csr_options.key_type = KeyType::kEcP256;
  csr_options.identities = {"ignored.example"};
  absl::StatusOr<WorkloadCsr> csr = GenerateWorkloadCsr(csr_options);
  EXPECT_TRUE(csr.ok()) << csr.status();
  ServerCertRequest request;
  request.csr_pem = csr->csr_pem;
  request.names = {"vaultca.vaultca-system.svc", "127.0.0.1", "::1"};
  request.not_before = kNow - absl::Minutes(1);
  request.not_after = kNow + absl::Hours(24);
  return request;
}

bool HasEku(X509* cert, int nid) {
  SslUniquePtr<EXTENDED_KEY_USAGE> eku(static_cast<EXTENDED_KEY_USAGE*>(
      X509_get_ext_d2i(cert, NID_ext_key_usage, nullptr, nullptr)));
  for (int i = 0; eku != nullptr && i < sk_ASN1_OBJECT_num(eku.get()); ++i) {
    if (OBJ_obj2nid(sk_ASN1_OBJECT_value(eku.get(), i)) == nid) return true;
  }
  return false;
}

TEST(IssueServerCertificateTest, ServerAuthOnlyAndVerifiesToTheRoot) {
  for (KeyType type :
       {KeyType::kEcP256, KeyType::kEcP384, KeyType::kEd25519, KeyType::kRsa}) {
    SCOPED_TRACE(KeyTypeName(type));
    std::shared_ptr<const KeyCertBundle> bundle = Bundle(type);
    absl::StatusOr<std::string> pem =
        IssueServerCertificate(*bundle, Request());
    ASSERT_TRUE(pem.ok()) << pem.status();
    absl::StatusOr<SslUniquePtr<X509>> cert =
        x509::ParseCertificate(*pem, "server cert");
    ASSERT_TRUE(cert.ok()) << cert.status();
    EXPECT_TRUE(HasEku(cert->get(), NID_server_auth));
    EXPECT_FALSE(HasEku(cert->get(), NID_client_auth));
    EXPECT_EQ(X509_check_ca(cert->get()), 0);
    EXPECT_EQ(X509_check_host(cert->get(), "vaultca.vaultca-system.svc", 0, 0,
                              nullptr),
              1);
    EXPECT_EQ(X509_check_ip_asc(cert->get(), "127.0.0.1", 0), 1);
    EXPECT_EQ(X509_check_ip_asc(cert->get(), "::1", 0), 1);
    EXPECT_EQ(X509_check_host(cert->get(), "ignored.example", 0, 0, nullptr),
              0);

    absl::StatusOr<SslUniquePtr<STACK_OF(X509)>> chain =
        x509::ParseCertificateStack(
            absl::StrJoin(bundle->chain_pems(), ""), "chain");
    ASSERT_TRUE(chain.ok()) << chain.status();
    absl::StatusOr<SslUniquePtr<STACK_OF(X509)>> roots =
        x509::ParseCertificateStack(bundle->root_bundle_pem(), "roots");
    ASSERT_TRUE(roots.ok()) << roots.status();
    EXPECT_TRUE(x509::VerifyToRoots(cert->get(), chain->get(), roots->get(),
                                    kNow, "server cert")
                    .ok());
  }
}

TEST(IssueServerCertificateTest, RefusesAnUnparsableCsr) {
  ServerCertRequest request = Request();
  request.csr_pem = "not a CSR";
  absl::StatusOr<std::string> pem =
      IssueServerCertificate(*Bundle(KeyType::kEcP256), request);
  ASSERT_FALSE(pem.ok());
  EXPECT_EQ(pem.status().code(), absl::StatusCode::kInternal);
  EXPECT_NE(pem.status().message().find("CSR does not parse"),
            std::string::npos);
}

}  // namespace
}  // namespace ca
}  // namespace vaultca
