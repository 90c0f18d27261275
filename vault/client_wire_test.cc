// VaultClient's transport behaviour against fake Vaults on the wire: TLS
// verification, server name override, client certificates, plain http,
// retries with backoff and Retry-After, deadlines (stalled responses and
// stalled TLS handshakes), broken bodies, redirects.

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/tls.h"
#include "vault/client.h"
#include "vault/testing/fake_vault.h"

namespace vaultca {
namespace vault {
namespace {

using ::testing::HasSubstr;
using testing::FakeVault;
using testing::KvV2Body;
using testing::RecordedRequest;
using testing::Reply;

constexpr char kKvPath[] = "/v1/secret/data/x";
constexpr char kRoot[] = "s.root";

// Records the waits the client asks for instead of sleeping.
struct FakeSleeper {
  std::shared_ptr<std::vector<absl::Duration>> waits =
      std::make_shared<std::vector<absl::Duration>>();
  std::function<void(absl::Duration)> fn() {
    auto w = waits;
    return [w](absl::Duration d) { w->push_back(d); };
  }
};

// A TCP listener that never accepts: the kernel completes the TCP handshake
// from its backlog, so the client's ClientHello is sent and never answered,
// which is how a Vault behind a stuck load balancer or a frozen process looks.
class SilentListener {
 public:
  SilentListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        ::listen(fd_, 16) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      return;
    }
    port_ = ntohs(addr.sin_port);
  }
  ~SilentListener() {
    if (fd_ >= 0) ::close(fd_);
  }
  SilentListener(const SilentListener&) = delete;
  SilentListener& operator=(const SilentListener&) = delete;

  // 0 when the socket could not be set up.
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

class WireTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto tls = testkit::MakeTestTls();
    ASSERT_TRUE(tls.ok()) << tls.status();
    tls_ = *std::move(tls);
    fake_ = StartTls(tls_.server);
    ASSERT_NE(fake_, nullptr);
  }

  std::unique_ptr<FakeVault> StartTls(const testkit::TestCert& cert) {
    FakeVault::Options options;
    options.cert_pem = cert.cert_pem;
    options.key_pem = cert.key_pem;
    options.client_ca_pem = tls_.ca->cert_pem();
    auto fake = FakeVault::Start(options);
    EXPECT_TRUE(fake.ok()) << fake.status();
    if (!fake.ok()) return nullptr;
    (*fake)->SetJson("GET", "/v1/auth/token/lookup-self", 200,
                     R"({"data":{"ttl":0,"renewable":false}})");
    return *std::move(fake);
  }

  VaultConfig Config(const FakeVault& fake) const {
    VaultConfig config;
    config.address = fake.address();
    config.tls.ca_cert_file = tls_.ca_file;
    config.auth.token = SecretData(kRoot);
    config.timeout = absl::Seconds(10);
    config.max_retries = 2;
    return config;
  }

  std::unique_ptr<VaultClient> Client(const VaultConfig& config) {
    ClientOptions options;
    options.sleep = sleeper_.fn();
    options.uniform01 = [] { return 0.5; };
    options.warn = [this](absl::string_view w) { warnings_.emplace_back(w); };
    options.background_renewal = false;
    auto client = VaultClient::New(config, std::move(options));
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? *std::move(client) : nullptr;
  }

  // One KV read with `config` pointed at a Vault that never answers the
  // ClientHello.
  struct StalledRead {
    absl::Status status;
    absl::Duration took;
  };
  StalledRead ReadFromStalledVault(VaultConfig config) {
    SilentListener stalled;
    if (stalled.port() == 0) return {absl::InternalError("no listener"), {}};
    config.address = absl::StrCat("https://127.0.0.1:", stalled.port());
    auto client = Client(config);
    const absl::Time start = absl::Now();
    auto secret = client->ReadKv("secret/data/x");
    return {secret.status(), absl::Now() - start};
  }

  testkit::TestTls tls_;
  std::unique_ptr<FakeVault> fake_;
  FakeSleeper sleeper_;
  std::vector<std::string> warnings_;
};

TEST_F(WireTest, RetriesA5xxBurstWithExponentialJitteredBackoff) {
  fake_->SetSequence("GET", kKvPath,
                     {Reply{500, R"({"errors":["internal error"]})"},
                      Reply{502, "bad gateway"},
                      Reply{200, KvV2Body(R"({"k":"v"})", 1)}});
  VaultConfig config = Config(*fake_);
  config.retry_base_backoff = absl::Milliseconds(100);
  auto client = Client(config);
  auto secret = client->ReadKv("secret/data/x");
  ASSERT_TRUE(secret.ok()) << secret.status();
  EXPECT_EQ(fake_->Count("GET", kKvPath), 3);
  // Full jitter at 0.5: 0.5 * 100 ms, then 0.5 * 200 ms.
  EXPECT_EQ(*sleeper_.waits, (std::vector<absl::Duration>{
                                 absl::Milliseconds(50), absl::Milliseconds(100)}));
}

TEST_F(WireTest, GivesUpAfterMaxRetriesWithTheLastError) {
  fake_->SetJson("GET", kKvPath, 503, R"({"errors":["Vault is sealed"]})");
  auto client = Client(Config(*fake_));
  auto secret = client->ReadKv("secret/data/x");
  ASSERT_FALSE(secret.ok());
  EXPECT_EQ(secret.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(secret.status().message()), HasSubstr("Vault is sealed"));
  EXPECT_EQ(fake_->Count("GET", kKvPath), 3);
}

TEST_F(WireTest, NeverRetriesOtherClientErrorsOr501) {
  auto client = Client(Config(*fake_));
  for (int status : {400, 404, 405, 501}) {
    fake_->ClearRequests();
    fake_->SetJson("GET", kKvPath, status, R"({"errors":["nope"]})");
    EXPECT_FALSE(client->ReadKv("secret/data/x").ok());
    EXPECT_EQ(fake_->Count("GET", kKvPath), 1) << status;
  }
  EXPECT_TRUE(sleeper_.waits->empty());
}

TEST_F(WireTest, HonoursRetryAfterOn429And412) {
  fake_->SetSequence(
      "GET", kKvPath,
      {Reply{429, R"({"errors":["rate limited"]})", {{"Retry-After", "2"}}},
       Reply{412, R"({"errors":["not yet"]})"},
       Reply{200, KvV2Body(R"({"k":"v"})", 1)}});
  VaultConfig config = Config(*fake_);
  config.retry_base_backoff = absl::Milliseconds(10);
  auto client = Client(config);
  ASSERT_TRUE(client->ReadKv("secret/data/x").ok());
  ASSERT_EQ(sleeper_.waits->size(), 2u);
  EXPECT_EQ((*sleeper_.waits)[0], absl::Seconds(2));
  EXPECT_EQ((*sleeper_.waits)[1], absl::Milliseconds(10));
}

TEST_F(WireTest, RetryAfterBeyondTheDeadlineStopsEarly) {
  fake_->SetJson("GET", kKvPath, 429, R"({"errors":["rate limited"]})");
  fake_->Handle("GET", kKvPath, [](const RecordedRequest&) {
    return Reply{429, R"({"errors":["rate limited"]})", {{"Retry-After", "30"}}};
  });
  VaultConfig config = Config(*fake_);
  config.timeout = absl::Seconds(2);
  auto client = Client(config);
  auto secret = client->ReadKv("secret/data/x");
  ASSERT_FALSE(secret.ok());
  EXPECT_EQ(secret.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(fake_->Count("GET", kKvPath), 1);
  EXPECT_TRUE(sleeper_.waits->empty());
}

TEST_F(WireTest, SlowVaultHitsTheDeadline) {
  fake_->Handle("GET", kKvPath, [](const RecordedRequest&) {
    Reply reply{200, KvV2Body(R"({"k":"v"})", 1)};
    reply.delay = absl::Milliseconds(1500);
    return reply;
  });
  VaultConfig config = Config(*fake_);
  config.timeout = absl::Milliseconds(400);
  auto client = Client(config);
  ASSERT_TRUE(client->Login().ok());
  const absl::Time start = absl::Now();
  auto secret = client->ReadKv("secret/data/x");
  const absl::Duration took = absl::Now() - start;
  ASSERT_FALSE(secret.ok());
  EXPECT_EQ(secret.status().code(), absl::StatusCode::kDeadlineExceeded)
      << secret.status();
  EXPECT_LT(took, absl::Milliseconds(1200));
}

TEST_F(WireTest, ReusesOneConnectionForSequentialCalls) {
  fake_->SetJson("GET", kKvPath, 200, KvV2Body(R"({"k":"v"})", 1));
  auto client = Client(Config(*fake_));
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(client->ReadKv("secret/data/x").ok());
  EXPECT_EQ(fake_->Count("GET", kKvPath), 20);
  EXPECT_EQ(fake_->TlsHandshakes(), 1);
}

TEST_F(WireTest, HungAttemptIsAbandonedAndRetried) {
  Reply slow{200, KvV2Body(R"({"k":"slow"})", 1)};
  slow.delay = absl::Milliseconds(1500);
  fake_->SetSequence("GET", kKvPath, {slow, Reply{200, KvV2Body(R"({"k":"fast"})", 2)}});
  VaultConfig config = Config(*fake_);
  config.timeout = absl::Seconds(5);
  config.request_timeout = absl::Milliseconds(300);
  auto client = Client(config);
  ASSERT_TRUE(client->Login().ok());
  auto secret = client->ReadKv("secret/data/x");
  ASSERT_TRUE(secret.ok()) << secret.status();
  EXPECT_EQ(secret->Get("k")->view(), "fast");
  EXPECT_EQ(fake_->Count("GET", kKvPath), 2);
}

TEST_F(WireTest, StalledTlsHandshakeIsAbandonedAndRetried) {
  VaultConfig config = Config(*fake_);
  config.timeout = absl::Seconds(10);
  config.connect_timeout = absl::Milliseconds(300);
  const StalledRead read = ReadFromStalledVault(config);
  EXPECT_EQ(read.status.code(), absl::StatusCode::kUnavailable) << read.status;
  EXPECT_THAT(std::string(read.status.message()), HasSubstr("3 attempts")) << read.status;
  EXPECT_EQ(sleeper_.waits->size(), 2u);
  // Three attempts of 300 ms each (the backoff sleeps are recorded, not
  // slept); without a handshake bound this would take the whole 10 s.
  EXPECT_LT(read.took, absl::Seconds(3));
}

TEST_F(WireTest, StalledTlsHandshakeHitsTheDeadline) {
  VaultConfig config = Config(*fake_);
  config.timeout = absl::Milliseconds(400);
  const StalledRead read = ReadFromStalledVault(config);
  EXPECT_EQ(read.status.code(), absl::StatusCode::kDeadlineExceeded) << read.status;
  EXPECT_LT(read.took, absl::Milliseconds(1200));
}

TEST_F(WireTest, GarbageBodyIsAnErrorNotACrash) {
  for (const char* body : {"<html>oops</html>", "", "{\"data\":", "\x01\x02\xff"}) {
    fake_->SetJson("GET", kKvPath, 200, body);
    auto client = Client(Config(*fake_));
    auto secret = client->ReadKv("secret/data/x");
    ASSERT_FALSE(secret.ok());
    EXPECT_EQ(secret.status().code(), absl::StatusCode::kInternal);
  }
}

TEST_F(WireTest, TruncatedResponseIsRetriedThenUnavailable) {
  fake_->Handle("GET", kKvPath, [](const RecordedRequest&) {
    Reply reply{200, KvV2Body(R"({"k":"v"})", 1)};
    reply.truncate = true;
    return reply;
  });
  auto client = Client(Config(*fake_));
  auto secret = client->ReadKv("secret/data/x");
  ASSERT_FALSE(secret.ok());
  EXPECT_EQ(secret.status().code(), absl::StatusCode::kUnavailable)
      << secret.status();
  EXPECT_THAT(std::string(secret.status().message()), HasSubstr("3 attempts")) << secret.status();
  // httplib sometimes drops the aborted exchange before dispatching the
  // next one on its thread pool, so the server may see fewer than three.
  EXPECT_GE(fake_->Count("GET", kKvPath), 2) << secret.status();
}

TEST_F(WireTest, ConnectionRefusedIsUnavailable) {
  VaultConfig config = Config(*fake_);
  const int port = fake_->port();
  fake_.reset();
  config.address = absl::StrCat("https://127.0.0.1:", port);
  auto client = Client(config);
  auto secret = client->ReadKv("secret/data/x");
  ASSERT_FALSE(secret.ok());
  EXPECT_EQ(secret.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(sleeper_.waits->size(), 2u);
}

TEST_F(WireTest, WrongCaFailsVerificationWithoutRetry) {
  auto other = testkit::MakeTestTls("some other CA");
  ASSERT_TRUE(other.ok());
  VaultConfig config = Config(*fake_);
  config.tls.ca_cert_file = other->ca_file;
  auto client = Client(config);
  auto secret = client->ReadKv("secret/data/x");
  ASSERT_FALSE(secret.ok());
  EXPECT_EQ(secret.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(secret.status().message()), HasSubstr("VAULT_CACERT"));
  EXPECT_TRUE(sleeper_.waits->empty());
  EXPECT_TRUE(fake_->requests().empty());
}

TEST_F(WireTest, SkipVerifyConnectsAndWarnsLoudly) {
  fake_->SetJson("GET", kKvPath, 200, KvV2Body(R"({"k":"v"})", 1));
  auto other = testkit::MakeTestTls("some other CA");
  VaultConfig config = Config(*fake_);
  config.tls.ca_cert_file = other->ca_file;
  config.tls.skip_verify = true;
  auto client = Client(config);
  EXPECT_TRUE(client->ReadKv("secret/data/x").ok());
  ASSERT_EQ(warnings_.size(), 1u);
  EXPECT_THAT(warnings_[0], HasSubstr("DISABLED"));
}

TEST_F(WireTest, TlsServerNameOverride) {
  testkit::CertSpec spec;
  spec.common_name = "vault.internal";
  spec.dns_names = {"vault.internal"};
  auto cert = tls_.ca->Issue(spec);
  ASSERT_TRUE(cert.ok());
  auto named = StartTls(*cert);
  named->SetJson("GET", kKvPath, 200, KvV2Body(R"({"k":"v"})", 1));
  VaultConfig config = Config(*named);
  auto plain = Client(config);
  auto refused = plain->ReadKv("secret/data/x");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  config.tls.server_name = "vault.internal";
  auto client = Client(config);
  auto secret = client->ReadKv("secret/data/x");
  EXPECT_TRUE(secret.ok()) << secret.status();
}

TEST_F(WireTest, ClientCertificateIsPresented) {
  fake_->SetJson("GET", kKvPath, 200, KvV2Body(R"({"k":"v"})", 1));
  VaultConfig config = Config(*fake_);
  config.tls.client_cert_file = tls_.client_cert_file;
  config.tls.client_key_file = tls_.client_key_file;
  auto client = Client(config);
  ASSERT_TRUE(client->ReadKv("secret/data/x").ok());
  EXPECT_TRUE(fake_->requests().back().client_cert);
  auto without = Client(Config(*fake_));
  ASSERT_TRUE(without->ReadKv("secret/data/x").ok());
  EXPECT_FALSE(fake_->requests().back().client_cert);
}

TEST_F(WireTest, UnreadableCaFileFailsAtNew) {
  VaultConfig config = Config(*fake_);
  config.tls.ca_cert_file = tls_.dir + "/missing.pem";
  auto client = VaultClient::New(config);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(client.status().message()), HasSubstr("VAULT_CACERT"));
}

TEST_F(WireTest, PlainHttpRefusedUnlessAllowed) {
  auto plain = FakeVault::Start(FakeVault::Options());
  ASSERT_TRUE(plain.ok());
  (*plain)->SetJson("GET", "/v1/auth/token/lookup-self", 200,
                    R"({"data":{"ttl":0}})");
  (*plain)->SetJson("GET", kKvPath, 200, KvV2Body(R"({"k":"v"})", 1));
  VaultConfig config = Config(**plain);
  auto refused = VaultClient::New(config);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE((*plain)->requests().empty());
  config.allow_plaintext_http = true;
  auto client = Client(config);
  EXPECT_TRUE(client->ReadKv("secret/data/x").ok());
}

TEST_F(WireTest, FollowsOneRedirectToTheActiveNode) {
  auto active = StartTls(tls_.server);
  active->SetJson("GET", kKvPath, 200, KvV2Body(R"({"k":"active"})", 1));
  const std::string location = absl::StrCat(active->address(), kKvPath);
  fake_->Handle("GET", kKvPath, [location](const RecordedRequest&) {
    return Reply{307, "", {{"Location", location}}};
  });
  auto client = Client(Config(*fake_));
  auto secret = client->ReadKv("secret/data/x");
  ASSERT_TRUE(secret.ok()) << secret.status();
  EXPECT_EQ(secret->Get("k")->view(), "active");
  ASSERT_EQ(active->Count("GET", kKvPath), 1);
  EXPECT_EQ(active->requests().back().Header("x-vault-token"), kRoot);
}

TEST_F(WireTest, FollowsOnlyOneRedirect) {
  auto second = StartTls(tls_.server);
  const std::string back = absl::StrCat(fake_->address(), kKvPath);
  second->Handle("GET", kKvPath, [back](const RecordedRequest&) {
    return Reply{307, "", {{"Location", back}}};
  });
  const std::string there = absl::StrCat(second->address(), kKvPath);
  fake_->Handle("GET", kKvPath, [there](const RecordedRequest&) {
    return Reply{307, "", {{"Location", there}}};
  });
  VaultConfig config = Config(*fake_);
  config.max_retries = 0;
  auto client = Client(config);
  auto secret = client->ReadKv("secret/data/x");
  ASSERT_FALSE(secret.ok());
  EXPECT_THAT(std::string(secret.status().message()), HasSubstr("redirected twice"));
  EXPECT_EQ(fake_->Count("GET", kKvPath), 1);
  EXPECT_EQ(second->Count("GET", kKvPath), 1);
}

TEST_F(WireTest, RefusesRedirectDowngradeToHttp) {
  auto plain = FakeVault::Start(FakeVault::Options());
  ASSERT_TRUE(plain.ok());
  const std::string location = absl::StrCat((*plain)->address(), kKvPath);
  fake_->Handle("GET", kKvPath, [location](const RecordedRequest&) {
    return Reply{307, "", {{"Location", location}}};
  });
  auto client = Client(Config(*fake_));
  auto secret = client->ReadKv("secret/data/x");
  ASSERT_FALSE(secret.ok());
  EXPECT_EQ(secret.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(secret.status().message()), HasSubstr("https to plain http"));
  EXPECT_TRUE((*plain)->requests().empty());
  EXPECT_EQ(fake_->Count("GET", kKvPath), 1);
}

}  // namespace
}  // namespace vault
}  // namespace vaultca
