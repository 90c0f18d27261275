#include "server/internal/tls_probe.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "common/internal/ssl_unique_ptr.h"

namespace vaultca {
namespace server {
namespace internal {

ProbeTarget ProbeTargetFor(absl::string_view listen_address, int port) {
  absl::string_view host = listen_address;
  const size_t colon = host.rfind(':');
  if (colon != absl::string_view::npos) host = host.substr(0, colon);
  const bool v6 = !host.empty() && host.front() == '[';
  if (v6) host = host.substr(1, host.size() - 2);
  ProbeTarget target;
  target.port = port;
  if (host.empty() || host == "0.0.0.0") {
    target.host = "127.0.0.1";
  } else if (host == "::") {
    target.host = "::1";
  } else {
    target.host = std::string(host);
  }
  return target;
}

absl::Status TlsHandshake(const ProbeTarget& target, absl::Duration timeout) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string port = absl::StrCat(target.port);
  if (getaddrinfo(target.host.c_str(), port.c_str(), &hints, &found) != 0 ||
      found == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot resolve ", target.host, " for the TLS probe"));
  }
  absl::Cleanup free_found = [found] { freeaddrinfo(found); };
  const int fd = socket(found->ai_family, SOCK_STREAM, 0);
  if (fd < 0) return absl::UnavailableError("socket() failed");
  absl::Cleanup close_fd = [fd] { close(fd); };
  timeval tv{};
  const int64_t micros = absl::ToInt64Microseconds(timeout);
  tv.tv_sec = micros / 1000000;
  tv.tv_usec = micros % 1000000;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  if (connect(fd, found->ai_addr, found->ai_addrlen) != 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot connect to ", target.host, ":", target.port));
  }
  ::vaultca::internal::SslUniquePtr<SSL_CTX> ctx(SSL_CTX_new(TLS_client_method()));
  if (ctx == nullptr) return absl::InternalError("SSL_CTX_new failed");
  // Only whether the listener presents a certificate matters here.
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  static const unsigned char kAlpn[] = {2, 'h', '2'};
  SSL_CTX_set_alpn_protos(ctx.get(), kAlpn, sizeof(kAlpn));
  ::vaultca::internal::SslUniquePtr<SSL> ssl(SSL_new(ctx.get()));
  if (ssl == nullptr || SSL_set_fd(ssl.get(), fd) != 1) {
    return absl::InternalError("SSL_new failed");
  }
  if (SSL_connect(ssl.get()) != 1) {
    return absl::UnavailableError(absl::StrCat(
        "TLS handshake with ", target.host, ":", target.port,
        " failed (no serving certificate loaded yet?)"));
  }
  X509* peer = SSL_get1_peer_certificate(ssl.get());
  const bool presented = peer != nullptr;
  X509_free(peer);
  SSL_shutdown(ssl.get());
  if (!presented) {
    return absl::UnavailableError("the listener presented no certificate");
  }
  return absl::OkStatus();
}

}  // namespace internal
}  // namespace server
}  // namespace vaultca
