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
#include "tests/target/state.h"

namespace stampede::target {
namespace {

absl::Status ErrnoError(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", strerror(errno)));
}

}  // namespace

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
  server->state_ = std::make_unique<AppState>();
  if (!options.tls_cert.empty()) {
    absl::StatusOr<SSL_CTX*> ctx = MakeTlsContext(options);
    if (!ctx.ok()) return ctx.status();
    server->tls_.reset(*ctx);
  }
  for (int i = 0; i < options.threads; ++i) {
    // The first listener settles the port (when 0 was asked for); the rest
    // share it.
    absl::StatusOr<int> fd = common::ListenOn(
        server->address_,
        {.backlog = 4096, .nonblocking = true, .reuse_port = true});
    if (!fd.ok()) return fd.status();
    absl::StatusOr<std::unique_ptr<EventLoop>> loop =
        EventLoop::Create(*fd, i, &server->loops_, server->tls_.get(),
                          server->faults_.get(), server->state_.get());
    if (!loop.ok()) return loop.status();
    server->loops_.push_back(*std::move(loop));
    if (i == 0) {
      absl::StatusOr<int> port = common::BoundPort(*fd);
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
