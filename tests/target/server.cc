#include "tests/target/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/memory/memory.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tests/target/event_loop.h"
#include "tests/target/faults.h"
#include "tests/target/http.h"

namespace stampede::target {
namespace {

absl::Status ErrnoError(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", strerror(errno)));
}

}  // namespace

namespace {

absl::StatusOr<int> CreateListener(const ListenAddress& address) {
  sockaddr_storage storage = {};
  socklen_t len;
  int family;
  if (auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
      inet_pton(AF_INET, address.host.c_str(), &v4->sin_addr) == 1) {
    family = v4->sin_family = AF_INET;
    v4->sin_port = htons(address.port);
    len = sizeof(*v4);
  } else if (auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
             inet_pton(AF_INET6, address.host.c_str(), &v6->sin6_addr) == 1) {
    family = v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(address.port);
    len = sizeof(*v6);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("not a numeric address: ", address.host));
  }
  int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoError("socket");
  int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
      setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
      (family == AF_INET6 &&
       setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0)) {
    absl::Status status = ErrnoError("setsockopt");
    close(fd);
    return status;
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&storage), len) != 0) {
    absl::Status status = ErrnoError(absl::StrCat("bind ", address.ToString()));
    close(fd);
    return status;
  }
  if (listen(fd, 4096) != 0) {
    absl::Status status = ErrnoError("listen");
    close(fd);
    return status;
  }
  return fd;
}

absl::StatusOr<int> BoundPort(int fd) {
  sockaddr_storage storage = {};
  socklen_t len = sizeof(storage);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &len) != 0) {
    return ErrnoError("getsockname");
  }
  if (storage.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port);
  }
  return ntohs(reinterpret_cast<sockaddr_in*>(&storage)->sin_port);
}

}  // namespace

std::string ListenAddress::ToString() const {
  if (absl::StrContains(host, ':')) return absl::StrCat("[", host, "]:", port);
  return absl::StrCat(host, ":", port);
}

absl::StatusOr<ListenAddress> ParseListenAddress(absl::string_view text) {
  auto invalid = [&] {
    return absl::InvalidArgumentError(absl::StrCat(
        "expected IPV4:PORT or [IPV6]:PORT with a numeric address, got '", text,
        "'"));
  };
  ListenAddress address;
  absl::string_view port;
  if (absl::StartsWith(text, "[")) {
    size_t close = text.find("]:");
    if (close == absl::string_view::npos) return invalid();
    address.host = std::string(text.substr(1, close - 1));
    port = text.substr(close + 2);
    in6_addr addr6;
    if (inet_pton(AF_INET6, address.host.c_str(), &addr6) != 1)
      return invalid();
  } else {
    size_t colon = text.rfind(':');
    if (colon == absl::string_view::npos) return invalid();
    address.host = std::string(text.substr(0, colon));
    port = text.substr(colon + 1);
    in_addr addr4;
    if (inet_pton(AF_INET, address.host.c_str(), &addr4) != 1) return invalid();
  }
  uint64_t port_number;
  if (!ParseBoundedDecimal(port, 65535, &port_number)) return invalid();
  address.port = static_cast<int>(port_number);
  return address;
}

void Server::TlsContextDeleter::operator()(ssl_ctx_st* ctx) const {
  SSL_CTX_free(ctx);
}

namespace {

std::string OpenSslError() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  char text[256] = "unknown error";
  if (e != 0) ERR_error_string_n(e, text, sizeof(text));
  return text;
}

absl::StatusOr<SSL_CTX*> MakeTlsContext(const ServerOptions& options) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) return absl::InternalError(OpenSslError());
  auto fail = [&](absl::string_view what) {
    absl::Status status =
        absl::InvalidArgumentError(absl::StrCat(what, ": ", OpenSslError()));
    SSL_CTX_free(ctx);
    return status;
  };
  if (SSL_CTX_use_certificate_chain_file(ctx, options.tls_cert.c_str()) != 1)
    return fail(absl::StrCat("--tls-cert ", options.tls_cert));
  if (SSL_CTX_use_PrivateKey_file(ctx, options.tls_key.c_str(),
                                  SSL_FILETYPE_PEM) != 1) {
    return fail(absl::StrCat("--tls-key ", options.tls_key));
  }
  if (SSL_CTX_check_private_key(ctx) != 1)
    return fail("--tls-key does not match --tls-cert");
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_mode(
      ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
  return ctx;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Server>> Server::Create(
    const ServerOptions& options) {
  if (options.threads < 1)
    return absl::InvalidArgumentError("threads must be at least 1");
  if (options.tls_cert.empty() != options.tls_key.empty())
    return absl::InvalidArgumentError("--tls-cert and --tls-key go together");
  auto server = absl::WrapUnique(new Server());
  server->address_ = options.listen;
  server->faults_ = std::make_unique<Faults>();
  if (!options.tls_cert.empty()) {
    absl::StatusOr<SSL_CTX*> ctx = MakeTlsContext(options);
    if (!ctx.ok()) return ctx.status();
    server->tls_.reset(*ctx);
  }
  for (int i = 0; i < options.threads; ++i) {
    // The first listener settles the port (when 0 was asked for); the rest
    // share it.
    absl::StatusOr<int> fd = CreateListener(server->address_);
    if (!fd.ok()) return fd.status();
    absl::StatusOr<std::unique_ptr<EventLoop>> loop = EventLoop::Create(
        *fd, i, &server->loops_, server->tls_.get(), server->faults_.get());
    if (!loop.ok()) return loop.status();
    server->loops_.push_back(*std::move(loop));
    if (i == 0) {
      absl::StatusOr<int> port = BoundPort(*fd);
      if (!port.ok()) return port.status();
      server->address_.port = *port;
    }
  }
  return server;
}

Server::~Server() { Shutdown(); }

void Server::Start() {
  for (auto& loop : loops_)
    threads_.emplace_back([l = loop.get()] { l->Run(); });
}

void Server::Shutdown() {
  for (auto& loop : loops_) loop->Stop();
  for (auto& thread : threads_) thread.join();
  threads_.clear();
}

absl::Status WritePortFile(const std::string& path, int port) {
  std::string tmp = path + ".tmp";
  FILE* file = fopen(tmp.c_str(), "w");
  if (file == nullptr) return ErrnoError(absl::StrCat("open ", tmp));
  bool ok = absl::FPrintF(file, "%d\n", port) >= 0;
  ok = (fclose(file) == 0) && ok;
  if (!ok) return ErrnoError(absl::StrCat("write ", tmp));
  if (rename(tmp.c_str(), path.c_str()) != 0)
    return ErrnoError(absl::StrCat("rename ", tmp));
  return absl::OkStatus();
}

namespace {

sigset_t StopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  return signals;
}

}  // namespace

void RaiseFdLimit() {
  rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 &&
      limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

void BlockStopSignals() {
  signal(SIGPIPE, SIG_IGN);
  sigset_t signals = StopSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
}

void WaitForStopSignal() {
  sigset_t signals = StopSignals();
  int signal_number = 0;
  sigwait(&signals, &signal_number);
}

}  // namespace stampede::target
