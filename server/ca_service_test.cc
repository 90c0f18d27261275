#include "server/ca_service.h"

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "ca/key_cert_bundle.h"
#include "ca/local_ca.h"
#include "common/sync.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/testing/log_capture.h"
#include "ca/workload_csr.h"
#include "server/testing/agent_client.h"
#include "testing/test_pki.h"

namespace vaultca {
namespace server {
namespace {

using ::testing::HasSubstr;
using testing::AgentClient;
using testing::AgentOptions;
using testing::AgentResult;

// Accepts the bearer token "good"; can be made to block until released.
// `may_block` is what it declares: the gate stands for a wait on a remote
// check when true, and for a long local computation when false.
class GateAuthenticator : public Authenticator {
 public:
  explicit GateAuthenticator(bool may_block) : may_block_(may_block) {}
  absl::string_view Name() const override { return "gate"; }
  bool UsesBearerToken() const override { return true; }
  bool MayBlock() const override { return may_block_; }
  absl::StatusOr<Caller> Authenticate(const AuthRequest& request) override {
    MutexLock lock(&mu_);
    ++entered_;
    cv_.SignalAll();
    while (closed_) cv_.Wait(&mu_);
    if (request.bearer_token.view() != "good") {
      return absl::UnauthenticatedError("token is not 'good'");
    }
    Caller caller;
    caller.identities = {"spiffe://cluster.local/ns/default/sa/sleep"};
    return caller;
  }
  void Close() {
    MutexLock lock(&mu_);
    closed_ = true;
  }
  void Open() {
    MutexLock lock(&mu_);
    closed_ = false;
    cv_.SignalAll();
  }
  void WaitEntered(int n) {
    MutexLock lock(&mu_);
    while (entered_ < n) cv_.Wait(&mu_);
  }

 private:
  const bool may_block_;
  Mutex mu_;
  CondVar cv_;
  int entered_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

class CaServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = testkit::Root();
    auto bundle = ca::KeyCertBundle::Create(root_);
    ASSERT_TRUE(bundle.ok());
    auto local = ca::LocalCertificateAuthority::New(*bundle);
    ASSERT_TRUE(local.ok());
    ca_ = *std::move(local);
    auto gate = std::make_unique<GateAuthenticator>(GateMayBlock());
    gate_ = gate.get();
    std::vector<std::unique_ptr<Authenticator>> auths;
    auths.push_back(std::move(gate));
    handler_ = std::make_unique<CertificateHandler>(
        CertificateHandlerOptions(), std::move(auths), ca_.get(), &metrics_,
        nullptr);
    service_ = std::make_unique<CaService>(handler_.get(), &metrics_,
                                           ServiceOptions());
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port_);
    builder.RegisterService(service_.get());
    builder.SetMaxReceiveMessageSize(8192);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }

  void TearDown() override {
    gate_->Open();
    server_->Shutdown();
    server_.reset();
    service_.reset();
  }

  virtual bool GateMayBlock() const { return true; }
  virtual CaServiceOptions ServiceOptions() const {
    return CaServiceOptions{1, 2};
  }

  // Sends one request and, while it is held inside the handler, reads how
  // many calls the worker pool has admitted; expects the request to pass.
  int InFlightWhileOneCallIsInTheHandler() {
    gate_->Close();
    AgentResult result;
    std::thread call([&] { result = AgentClient(Options()).Request(); });
    gate_->WaitEntered(1);
    const int in_flight = service_->in_flight();
    gate_->Open();
    call.join();
    EXPECT_EQ(result.code, grpc::StatusCode::OK) << result.message;
    return in_flight;
  }

  AgentOptions Options() {
    AgentOptions options;
    options.address = absl::StrCat("127.0.0.1:", port_);
    options.plaintext = true;
    options.token = "good";
    options.key_type = ca::KeyType::kEcP256;
    return options;
  }

  ca::CaMaterialPem root_;
  std::unique_ptr<ca::LocalCertificateAuthority> ca_;
  ServerMetrics metrics_;
  GateAuthenticator* gate_ = nullptr;
  std::unique_ptr<CertificateHandler> handler_;
  std::unique_ptr<CaService> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

TEST_F(CaServiceTest, AnswersWithTheChain) {
  AgentResult result = AgentClient(Options()).Request();
  ASSERT_EQ(result.code, grpc::StatusCode::OK) << result.message;
  ASSERT_EQ(result.cert_chain.size(), 2u);
  EXPECT_EQ(result.cert_chain[1], root_.root_bundle_pem);
}

TEST_F(CaServiceTest, BeyondTheLimitAnswersResourceExhausted) {
  gate_->Close();
  AgentClient client(Options());
  std::vector<AgentResult> results(2);
  std::thread first([&] { results[0] = client.Request(); });
  gate_->WaitEntered(1);
  std::thread second([&] { results[1] = client.Request(); });
  // One running (blocked in the authenticator), one queued: full.
  while (service_->in_flight() < 2) absl::SleepFor(absl::Milliseconds(1));
  AgentResult third = client.Request();
  EXPECT_EQ(third.code, grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(third.message, HasSubstr("limit of 2 concurrent requests"));
  gate_->Open();
  first.join();
  second.join();
  EXPECT_EQ(results[0].code, grpc::StatusCode::OK) << results[0].message;
  EXPECT_EQ(results[1].code, grpc::StatusCode::OK) << results[1].message;
  EXPECT_EQ(metrics_.rejections(Rejection::kOverload), 1);
  // Capacity is back.
  EXPECT_EQ(client.Request().code, grpc::StatusCode::OK);
}

TEST_F(CaServiceTest, OversizedRequestIsRefused) {
  AgentClient client(Options());
  client.set_csr_pem(std::string(10000, 'A'));
  EXPECT_EQ(client.Request().code, grpc::StatusCode::RESOURCE_EXHAUSTED);
}

TEST_F(CaServiceTest, ReadsBearerClusterIdAndMetadata) {
  AgentOptions options = Options();
  options.token = "bad";
  // Why a caller was refused is logged, not told.
  std::unique_ptr<testing::LogCapture> log =
      std::make_unique<testing::LogCapture>();
  AgentResult result = AgentClient(options).Request();
  EXPECT_EQ(result.code, grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(result.message, "request authenticate failure");
  EXPECT_THAT(log->text(), HasSubstr("token is not 'good'"));

  options.token = "";
  result = AgentClient(options).Request();
  EXPECT_EQ(result.code, grpc::StatusCode::UNAUTHENTICATED);

  options = Options();
  options.cluster_id = "somewhere-else";
  result = AgentClient(options).Request();
  EXPECT_EQ(result.code, grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(result.message, "request authenticate failure");
  EXPECT_THAT(log->text(), HasSubstr("somewhere-else"));
  log.reset();

  options = Options();
  options.impersonated_identity = "spiffe://cluster.local/ns/a/sa/b";
  result = AgentClient(options).Request();
  EXPECT_EQ(result.code, grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(result.message, HasSubstr("impersonation"));
}

TEST_F(CaServiceTest, SchemeIsCaseInsensitive) {
  AgentClient client(Options());
  istio::v1::auth::IstioCertificateRequest request;
  AgentResult ok = client.Request();
  ASSERT_EQ(ok.code, grpc::StatusCode::OK);
  // Resend by hand with a lower-case scheme and no clusterid header.
  auto stub = istio::v1::auth::IstioCertificateService::NewStub(client.channel());
  grpc::ClientContext context;
  context.AddMetadata("authorization", "bearer good");
  ca::WorkloadCsrOptions csr_options;
  csr_options.identities = {"spiffe://cluster.local/ns/default/sa/sleep"};
  csr_options.key_type = ca::KeyType::kEcP256;
  auto csr = ca::GenerateWorkloadCsr(csr_options);
  ASSERT_TRUE(csr.ok());
  request.set_csr(csr->csr_pem);
  istio::v1::auth::IstioCertificateResponse response;
  grpc::Status status = stub->CreateCertificate(&context, request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.cert_chain_size(), 2);
}

TEST_F(CaServiceTest, CsrProblemsAreInvalidArgument) {
  AgentClient client(Options());
  client.set_csr_pem("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n"
                     "-----END CERTIFICATE REQUEST-----\n");
  AgentResult result = client.Request();
  EXPECT_EQ(result.code, grpc::StatusCode::INVALID_ARGUMENT);

  AgentOptions options = Options();
  options.ttl_seconds = 200 * 86400;
  result = AgentClient(options).Request();
  EXPECT_EQ(result.code, grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(result.message, HasSubstr("max allowed TTL"));
}

TEST_F(CaServiceTest, RequestThatDoesNotParseIsInvalidArgument) {
  // proto3 refuses a string field that is not UTF-8 when parsing; C++
  // clients still send one (with a logged complaint), Go clients would not.
  AgentClient client(Options());
  client.set_csr_pem(std::string("-----BEGIN CERTIFICATE REQUEST-----\xff\xfe"));
  AgentResult result = client.Request();
  EXPECT_EQ(result.code, grpc::StatusCode::INVALID_ARGUMENT) << result.message;
  EXPECT_THAT(result.message, HasSubstr("UTF-8"));
  EXPECT_EQ(metrics_.rejections(Rejection::kMalformed), 1);
  EXPECT_EQ(metrics_.csr_count(), 0);
}

TEST_F(CaServiceTest, DrainingAnswersUnavailable) {
  service_->StartDraining();
  AgentResult result = AgentClient(Options()).Request();
  EXPECT_EQ(result.code, grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(metrics_.rejections(Rejection::kShuttingDown), 1);
}

TEST_F(CaServiceTest, DrainHoldsAnswersUntilReleased) {
  gate_->Close();
  AgentClient client(Options());
  AgentResult result;
  std::atomic<bool> answered{false};
  std::thread call([&] {
    result = client.Request();
    answered.store(true);
  });
  gate_->WaitEntered(1);
  // Within the client's deadline (10 s), so the answer can wait.
  service_->StartDraining(absl::Now() + absl::Seconds(5));
  gate_->Open();
  // The certificate is issued, its answer kept back: the client cannot
  // send another call yet.
  while (service_->in_flight() > 0) absl::SleepFor(absl::Milliseconds(1));
  // Real time: an answer that stays held can only be shown by waiting.
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_FALSE(answered.load());
  EXPECT_EQ(service_->IdleRecentCallers(), 0);
  const CaService::Released released = service_->ReleaseHeld();
  EXPECT_EQ(released.answered, 1);
  EXPECT_EQ(released.refused, 0);
  call.join();
  EXPECT_EQ(result.code, grpc::StatusCode::OK) << result.message;
  EXPECT_EQ(result.cert_chain.size(), 2u);
}

TEST_F(CaServiceTest, DrainCountsRecentCallersNotWaitingOnACall) {
  AgentClient client(Options());
  ASSERT_EQ(client.Request().code, grpc::StatusCode::OK);
  service_->StartDraining(absl::Now() + absl::Seconds(5));
  // The connection called a moment ago and waits on nothing: it may send
  // its next call at any instant.
  EXPECT_EQ(service_->IdleRecentCallers(), 1);
  AgentResult result;
  std::thread call([&] { result = client.Request(); });
  // Its next call is held, so it waits on this server now.
  while (service_->IdleRecentCallers() != 0) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  const CaService::Released released = service_->ReleaseHeld();
  EXPECT_EQ(released.refused, 1);
  EXPECT_EQ(released.answered, 0);
  call.join();
  EXPECT_EQ(result.code, grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(metrics_.rejections(Rejection::kShuttingDown), 1);
}

TEST_F(CaServiceTest, DrainAnswersAtOnceACallThatCannotWait) {
  service_->StartDraining(absl::Now() + absl::Seconds(30));
  AgentOptions options = Options();
  options.deadline = absl::Seconds(5);
  // Held until the release, the call would miss its deadline.
  AgentResult result = AgentClient(options).Request();
  EXPECT_EQ(result.code, grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(service_->ReleaseHeld().refused, 0);
}

// A handler that cannot block: every authenticator and the CA are local.
class NonBlockingCaServiceTest : public CaServiceTest {
 protected:
  bool GateMayBlock() const override { return false; }
  CaServiceOptions ServiceOptions() const override {
    // Room in the pool for a backlog that turns inline handling off.
    return CaServiceOptions{kInlineWhilePoolBelow, 2 * kInlineWhilePoolBelow};
  }
};

TEST_F(NonBlockingCaServiceTest, RunsOnGrpcsThreadWithoutThePool) {
  // Inside the handler, yet never admitted to the worker pool.
  EXPECT_EQ(InFlightWhileOneCallIsInTheHandler(), 0);
}

TEST_F(NonBlockingCaServiceTest, OneCallAtATimeRunsOnGrpcsThread) {
  gate_->Close();
  std::vector<AgentResult> results(2);
  std::thread first([&] { results[0] = AgentClient(Options()).Request(); });
  gate_->WaitEntered(1);
  EXPECT_EQ(service_->in_flight(), 0);
  // While one is handled on gRPC's thread the next goes to the pool, so
  // the transport keeps threads for everyone's I/O.
  std::thread second([&] { results[1] = AgentClient(Options()).Request(); });
  gate_->WaitEntered(2);
  EXPECT_EQ(service_->in_flight(), 1);
  gate_->Open();
  first.join();
  second.join();
  EXPECT_EQ(results[0].code, grpc::StatusCode::OK) << results[0].message;
  EXPECT_EQ(results[1].code, grpc::StatusCode::OK) << results[1].message;
}

TEST_F(NonBlockingCaServiceTest, ImpersonationStillGoesToThePool) {
  // The node check behind impersonation asks the Kubernetes API: such a
  // request must not run on gRPC's thread even when the rest is local.
  CertificateRequest plain;
  EXPECT_FALSE(handler_->MayBlock(plain));
  CertificateRequest impersonating;
  impersonating.impersonated_identity =
      "spiffe://cluster.local/ns/default/sa/other";
  EXPECT_TRUE(handler_->MayBlock(impersonating));
}

TEST_F(NonBlockingCaServiceTest, ABackloggedPoolTakesTheNextCallToo) {
  // Impersonating calls may block (the node check), so they fill the pool;
  // with no impersonation authorizer they are refused once through the
  // gate, which is all they are here for.
  gate_->Close();
  AgentOptions impersonating = Options();
  impersonating.impersonated_identity =
      "spiffe://cluster.local/ns/default/sa/other";
  std::vector<std::thread> calls;
  for (int i = 0; i < kInlineWhilePoolBelow; ++i) {
    calls.emplace_back([&] { AgentClient(impersonating).Request(); });
  }
  gate_->WaitEntered(kInlineWhilePoolBelow);
  ASSERT_EQ(service_->in_flight(), kInlineWhilePoolBelow);
  // No call runs on gRPC's thread, yet under this backlog a call that
  // could is queued behind the others instead.
  AgentResult result;
  std::thread plain([&] { result = AgentClient(Options()).Request(); });
  while (service_->in_flight() != kInlineWhilePoolBelow + 1) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  gate_->Open();
  plain.join();
  for (std::thread& call : calls) call.join();
  EXPECT_EQ(result.code, grpc::StatusCode::OK) << result.message;
}

TEST(CaServiceOptionsTest, InlineIsOnByDefault) {
  EXPECT_TRUE(CaServiceOptions().inline_when_non_blocking);
}

// The same handler with the option off.
class NonBlockingPooledCaServiceTest : public NonBlockingCaServiceTest {
 protected:
  CaServiceOptions ServiceOptions() const override {
    CaServiceOptions options = NonBlockingCaServiceTest::ServiceOptions();
    options.inline_when_non_blocking = false;
    return options;
  }
};

TEST_F(NonBlockingPooledCaServiceTest, TheOptionKeepsEveryCallInThePool) {
  EXPECT_EQ(InFlightWhileOneCallIsInTheHandler(), 1);
}

TEST_F(CaServiceTest, AHandlerThatMayBlockUsesThePool) {
  EXPECT_TRUE(handler_->MayBlock(CertificateRequest()));
  EXPECT_EQ(InFlightWhileOneCallIsInTheHandler(), 1);
}

}  // namespace
}  // namespace server
}  // namespace vaultca
