#include "agent/net/alpn_probe.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "agent/net/dialer.h"
#include "agent/net/event_loop.h"

namespace stampede::agent::net {
namespace {

using common::ErrorId;

absl::Status Failed(const Url& url, ErrorId id, const char* what) {
  return absl::UnavailableError(
      absl::StrCat(url.authority, ": ", std::string(common::ErrorIdName(id)),
                   " (", what, ")"));
}

// Waits until `fd` is ready for `events` or `deadline_ns` (monotonic) passes.
bool WaitFor(int fd, short events, int64_t deadline_ns) {
  for (;;) {
    const int64_t left_ns = deadline_ns - EventLoop::MonoNowNs();
    if (left_ns <= 0) return false;
    pollfd p{fd, events, 0};
    const int rc = poll(&p, 1, static_cast<int>(left_ns / 1'000'000 + 1));
    if (rc > 0) return true;
    if (rc < 0 && errno != EINTR) return false;
  }
}

}  // namespace

absl::StatusOr<std::string> ProbeAlpn(const Url& url,
                                      const tls::ClientOptions& tls,
                                      const AlpnProbe& probe) {
  const int64_t deadline_ns = EventLoop::MonoNowNs() + probe.timeout_ns;
  auto loop = EventLoop::Create();
  if (!loop.ok()) return loop.status();
  auto resolver = Resolver::Create(
      loop->get(), probe.dns != nullptr ? *probe.dns : DnsOptions{});
  if (!resolver.ok()) return resolver.status();
  const int name = (*resolver)->Add(url.host);
  (*resolver)->WaitForAnswers(probe.timeout_ns);
  Dialer dialer(loop->get());
  dialer.SetResolver(resolver->get());
  dialer.SetAllowList(probe.allow);
  int fd = -1;
  sockaddr_storage addr{};
  socklen_t len = 0;
  int64_t dns_ns = 0;
  ErrorId e = dialer.Open(name, PortOf(url.port.empty() ? "443" : url.port),
                          url.host, &fd, &addr, &len, &dns_ns);
  if (e != ErrorId::kNone) return Failed(url, e, "before connecting");
  struct Closer {
    int fd;
    ~Closer() { close(fd); }
  } closer{fd};
  if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), len) != 0 &&
      errno != EINPROGRESS) {
    return Failed(url, common::ErrorIdFromConnectErrno(errno), "connect");
  }
  if (!WaitFor(fd, POLLOUT, deadline_ns))
    return Failed(url, ErrorId::kTcpTimeout, "connect");
  int err = 0;
  socklen_t err_len = sizeof(err);
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_len);
  if (err != 0)
    return Failed(url, common::ErrorIdFromConnectErrno(err), "connect");

  auto context = tls::ClientContext::Create(tls);
  if (!context.ok()) return context.status();
  tls::SessionCache cache;
  tls::Connection connection;
  if (!connection.Open(**context, fd, url.host, &cache))
    return Failed(url, ErrorId::kLocalOther, "TLS");
  for (;;) {
    const tls::Io io = connection.Handshake();
    if (io == tls::Io::kOk) break;
    if (io == tls::Io::kWantRead || io == tls::Io::kWantWrite) {
      if (!WaitFor(fd, io == tls::Io::kWantRead ? POLLIN : POLLOUT,
                   deadline_ns)) {
        return Failed(url, ErrorId::kRequestTimeout, "TLS handshake");
      }
      continue;
    }
    return Failed(
        url, io == tls::Io::kEof ? ErrorId::kTlsHandshake : connection.error(),
        "TLS handshake");
  }
  std::string chosen(connection.alpn());
  connection.Close(true);
  return chosen;
}

}  // namespace stampede::agent::net
