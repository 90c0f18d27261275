// Pins the wire contract istio-agent depends on: names, field numbers and
// the method path, read from the generated descriptors.

#include "gtest/gtest.h"
#include "proto/ca.grpc.pb.h"
#include "proto/ca.pb.h"

namespace {

using istio::v1::auth::IstioCertificateRequest;
using istio::v1::auth::IstioCertificateResponse;

TEST(CaProtoTest, RequestFieldsMatchIstio) {
  const auto* d = IstioCertificateRequest::descriptor();
  EXPECT_EQ(d->full_name(), "istio.v1.auth.IstioCertificateRequest");
  ASSERT_NE(d->FindFieldByName("csr"), nullptr);
  EXPECT_EQ(d->FindFieldByName("csr")->number(), 1);
  ASSERT_NE(d->FindFieldByName("validity_duration"), nullptr);
  EXPECT_EQ(d->FindFieldByName("validity_duration")->number(), 3);
  EXPECT_EQ(d->FindFieldByName("validity_duration")->type(),
            google::protobuf::FieldDescriptor::TYPE_INT64);
  ASSERT_NE(d->FindFieldByName("metadata"), nullptr);
  EXPECT_EQ(d->FindFieldByName("metadata")->number(), 4);
  EXPECT_EQ(d->FindFieldByName("metadata")->message_type()->full_name(),
            "google.protobuf.Struct");
  EXPECT_EQ(d->FindFieldByNumber(2), nullptr);
  EXPECT_TRUE(d->IsReservedNumber(2));
}

TEST(CaProtoTest, ResponseFieldsMatchIstio) {
  const auto* d = IstioCertificateResponse::descriptor();
  EXPECT_EQ(d->full_name(), "istio.v1.auth.IstioCertificateResponse");
  ASSERT_NE(d->FindFieldByName("cert_chain"), nullptr);
  EXPECT_EQ(d->FindFieldByName("cert_chain")->number(), 1);
  EXPECT_TRUE(d->FindFieldByName("cert_chain")->is_repeated());
}

TEST(CaProtoTest, MethodPathMatchesIstio) {
  const auto* service =
      istio::v1::auth::IstioCertificateService::service_full_name();
  EXPECT_STREQ(service, "istio.v1.auth.IstioCertificateService");
  const auto* d = IstioCertificateRequest::descriptor()->file()->FindServiceByName(
      "IstioCertificateService");
  ASSERT_NE(d, nullptr);
  ASSERT_NE(d->FindMethodByName("CreateCertificate"), nullptr);
}

// Bytes a Go istio-agent would send: field 1 (csr) and field 3
// (validity_duration = 86400) encoded by hand, parsed by our stubs.
TEST(CaProtoTest, ParsesIstioAgentWireBytes) {
  const std::string wire = std::string("\x0a\x03" "csr" "\x18\x80\xa3\x05", 9);
  IstioCertificateRequest request;
  ASSERT_TRUE(request.ParseFromString(wire));
  EXPECT_EQ(request.csr(), "csr");
  EXPECT_EQ(request.validity_duration(), 86400);
}

}  // namespace
