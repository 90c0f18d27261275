#include "ca/workload_csr.h"

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/internal/ssl_unique_ptr.h"
#include "gtest/gtest.h"

namespace vaultca {
namespace ca {
namespace {

using internal::SslUniquePtr;

SslUniquePtr<X509_REQ> Parse(const std::string& pem) {
  SslUniquePtr<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return SslUniquePtr<X509_REQ>(
      PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
}

class WorkloadCsrTest : public testing::TestWithParam<KeyType> {};

TEST_P(WorkloadCsrTest, ShapedLikeIstioAgent) {
  WorkloadCsrOptions options;
  options.identities = {"spiffe://cluster.local/ns/default/sa/web", "10.0.0.7",
                        "web.default.svc"};
  options.key_type = GetParam();
  auto csr = GenerateWorkloadCsr(options);
  ASSERT_TRUE(csr.ok()) << csr.status();
  EXPECT_NE(csr->key_pem.view().find("BEGIN PRIVATE KEY"), absl::string_view::npos);

  SslUniquePtr<X509_REQ> req = Parse(csr->csr_pem);
  ASSERT_NE(req, nullptr);
  SslUniquePtr<EVP_PKEY> pub(X509_REQ_get_pubkey(req.get()));
  EXPECT_EQ(X509_REQ_verify(req.get(), pub.get()), 1);

  // Subject: exactly one O= entry with an empty value.
  X509_NAME* subject = X509_REQ_get_subject_name(req.get());
  ASSERT_EQ(X509_NAME_entry_count(subject), 1);
  EXPECT_EQ(OBJ_obj2nid(X509_NAME_ENTRY_get_object(X509_NAME_get_entry(subject, 0))),
            NID_organizationName);
  EXPECT_EQ(ASN1_STRING_length(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, 0))), 0);

  SslUniquePtr<STACK_OF(X509_EXTENSION)> exts(X509_REQ_get_extensions(req.get()));
  ASSERT_EQ(sk_X509_EXTENSION_num(exts.get()), 1);
  X509_EXTENSION* ext = sk_X509_EXTENSION_value(exts.get(), 0);
  EXPECT_EQ(OBJ_obj2nid(X509_EXTENSION_get_object(ext)), NID_subject_alt_name);
  EXPECT_EQ(X509_EXTENSION_get_critical(ext), 1);
  SslUniquePtr<GENERAL_NAMES> names(static_cast<GENERAL_NAMES*>(X509V3_EXT_d2i(ext)));
  ASSERT_EQ(sk_GENERAL_NAME_num(names.get()), 3);
  EXPECT_EQ(sk_GENERAL_NAME_value(names.get(), 0)->type, GEN_URI);
  EXPECT_EQ(sk_GENERAL_NAME_value(names.get(), 1)->type, GEN_IPADD);
  EXPECT_EQ(sk_GENERAL_NAME_value(names.get(), 2)->type, GEN_DNS);
}

INSTANTIATE_TEST_SUITE_P(Keys, WorkloadCsrTest,
                         testing::Values(KeyType::kRsa, KeyType::kEcP256,
                                         KeyType::kEcP384, KeyType::kEd25519));

TEST(WorkloadCsrTest, ZtunnelShapeHasEmptySubject) {
  WorkloadCsrOptions options;
  options.identities = {"spiffe://cluster.local/ns/a/sa/b"};
  options.key_type = KeyType::kEcP256;
  options.empty_subject = true;
  auto csr = GenerateWorkloadCsr(options);
  ASSERT_TRUE(csr.ok()) << csr.status();
  SslUniquePtr<X509_REQ> req = Parse(csr->csr_pem);
  ASSERT_NE(req, nullptr);
  EXPECT_EQ(X509_NAME_entry_count(X509_REQ_get_subject_name(req.get())), 0);
}

TEST(WorkloadCsrTest, NeedsAnIdentity) {
  auto csr = GenerateWorkloadCsr(WorkloadCsrOptions{});
  EXPECT_EQ(csr.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ca
}  // namespace vaultca
