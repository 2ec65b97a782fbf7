#include "agent/net/tls.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cerrno>

#include "absl/strings/str_cat.h"

namespace stampede::agent::tls {

using common::ErrorId;

namespace {

std::string LastOpenSslError() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown error";
  char text[256];
  ERR_error_string_n(e, text, sizeof(text));
  return text;
}

// Sessions the server issues (for TLS 1.3 after the handshake, in a later
// read) land in the connection's endpoint cache.
int OnNewSession(SSL* ssl, SSL_SESSION* session) {
  auto* cache = static_cast<SessionCache*>(SSL_get_app_data(ssl));
  if (cache == nullptr) return 0;
  cache->Put(session);
  return 1;  // we keep the reference
}

bool IsIpLiteral(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 ||
         inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

}  // namespace

SessionCache::~SessionCache() {
  if (session_ != nullptr) SSL_SESSION_free(session_);
}

void SessionCache::Put(SSL_SESSION* session) {
  if (session_ != nullptr) SSL_SESSION_free(session_);
  session_ = session;
}

absl::StatusOr<std::unique_ptr<ClientContext>> ClientContext::Create(
    const ClientOptions& options) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr)
    return absl::InternalError(absl::StrCat("tls: ", LastOpenSslError()));
  std::unique_ptr<ClientContext> out(
      new ClientContext(ctx, !options.insecure_skip_verify));
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  // Partial writes: a request larger than a record is written record by
  // record, and a retry may come from the same bytes at a new offset.
  SSL_CTX_set_mode(
      ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // Many servers close without close_notify; with Content-Length framing
  // that is an ordinary end of the connection.
  SSL_CTX_set_options(ctx,
                      SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
  // One recv per edge takes whatever has arrived, not one record at a time.
  SSL_CTX_set_read_ahead(ctx, 1);
  SSL_CTX_set_session_cache_mode(
      ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(ctx, &OnNewSession);
  if (options.insecure_skip_verify) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    if (!options.ca_file.empty()) {
      if (SSL_CTX_load_verify_locations(ctx, options.ca_file.c_str(),
                                        nullptr) != 1) {
        return absl::InvalidArgumentError(
            absl::StrCat("tls.ca_file ", options.ca_file,
                         ": cannot load: ", LastOpenSslError()));
      }
    } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
      return absl::InternalError(absl::StrCat(
          "tls: cannot load the system CA store: ", LastOpenSslError()));
    }
  }
  if (!options.alpn.empty()) {
    std::string wire;
    for (const std::string& p : options.alpn) {
      if (p.empty() || p.size() > 255)
        return absl::InvalidArgumentError("tls: bad ALPN protocol name");
      wire.push_back(static_cast<char>(p.size()));
      wire.append(p);
    }
    // Returns 0 on success, unlike the rest of OpenSSL.
    if (SSL_CTX_set_alpn_protos(
            ctx, reinterpret_cast<const unsigned char*>(wire.data()),
            static_cast<unsigned>(wire.size())) != 0) {
      return absl::InternalError("tls: cannot set ALPN");
    }
  }
  return out;
}

ClientContext::~ClientContext() { SSL_CTX_free(ctx_); }

bool Connection::Open(const ClientContext& context, int fd,
                      const std::string& host, SessionCache* cache) {
  Close(false);
  error_ = ErrorId::kNone;
  verify_ = context.verifies();
  ssl_ = SSL_new(context.raw());
  if (ssl_ == nullptr) {
    ERR_clear_error();
    return false;
  }
  bool ok = SSL_set_fd(ssl_, fd) == 1;
  SSL_set_app_data(ssl_, cache);
  const bool ip = IsIpLiteral(host);
  // RFC 6066: SNI carries host names only, never address literals.
  if (ok && !ip) ok = SSL_set_tlsext_host_name(ssl_, host.c_str()) == 1;
  if (ok && context.verifies()) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl_);
    ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) == 1
            : X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0) == 1;
  }
  if (ok && cache != nullptr && cache->get() != nullptr &&
      SSL_SESSION_is_resumable(cache->get())) {
    SSL_set_session(ssl_, cache->get());  // a miss just means a full handshake
  }
  if (!ok) {
    ERR_clear_error();
    Close(false);
    return false;
  }
  SSL_set_connect_state(ssl_);
  return true;
}

Io Connection::Handshake() {
  errno = 0;
  Io io = Result(SSL_do_handshake(ssl_));
  if (io == Io::kOk || io == Io::kWantRead || io == Io::kWantWrite) return io;
  // Whatever ended it (a reset, a FIN, an alert, a plain-HTTP answer), the
  // handshake is what failed, unless the generator ran out of something.
  // (Unverified, a certificate's faults are recorded but harmless.)
  if (!common::IsLocalError(error_)) {
    error_ = verify_ && SSL_get_verify_result(ssl_) != X509_V_OK
                 ? ErrorId::kTlsCertificate
                 : ErrorId::kTlsHandshake;
  }
  return Io::kError;
}

Io Connection::Read(char* buffer, size_t size, size_t* n) {
  *n = 0;
  errno = 0;
  int rc = SSL_read_ex(ssl_, buffer, size, n);
  return rc == 1 ? Io::kOk : Result(rc);
}

Io Connection::Write(const char* data, size_t size, size_t* n) {
  *n = 0;
  errno = 0;
  int rc = SSL_write_ex(ssl_, data, size, n);
  return rc == 1 ? Io::kOk : Result(rc);
}

bool Connection::HasBufferedInput() const { return SSL_has_pending(ssl_) == 1; }

bool Connection::resumed() const {
  return ssl_ != nullptr && SSL_session_reused(ssl_) == 1;
}

std::string_view Connection::alpn() const {
  if (ssl_ == nullptr) return {};
  const unsigned char* data = nullptr;
  unsigned int len = 0;
  SSL_get0_alpn_selected(ssl_, &data, &len);
  if (data == nullptr) return {};
  return std::string_view(reinterpret_cast<const char*>(data), len);
}

void Connection::Close(bool clean) {
  if (ssl_ == nullptr) return;
  const bool broken = error_ == ErrorId::kTlsError ||
                      error_ == ErrorId::kTlsHandshake ||
                      error_ == ErrorId::kTlsCertificate;
  if (broken) {
    // Freed without a shutdown, OpenSSL drops the session from reuse.
  } else if (clean && SSL_is_init_finished(ssl_)) {
    // One non-blocking attempt; a peer that is gone already does not matter.
    if (SSL_shutdown(ssl_) < 0) ERR_clear_error();
  } else {
    // A TCP-level end (reset, FIN, timeout) says nothing against the
    // session: close quietly and keep it resumable.
    SSL_set_shutdown(ssl_, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
  }
  SSL_free(ssl_);
  ssl_ = nullptr;
}

Io Connection::Result(int rc) {
  const int saved_errno = errno;
  switch (SSL_get_error(ssl_, rc)) {
    case SSL_ERROR_NONE:
      return Io::kOk;
    case SSL_ERROR_WANT_READ:
      return Io::kWantRead;
    case SSL_ERROR_WANT_WRITE:
      return Io::kWantWrite;
    case SSL_ERROR_ZERO_RETURN:
      return Io::kEof;
    case SSL_ERROR_SYSCALL:
      ERR_clear_error();
      if (saved_errno == 0) return Io::kEof;
      error_ = common::ErrorIdFromErrno(saved_errno, ErrorId::kTcpReset);
      return Io::kError;
    default:  // SSL_ERROR_SSL and the rest: the protocol broke
      ERR_clear_error();
      error_ = ErrorId::kTlsError;
      return Io::kError;
  }
}

bool EnsureContext(const ClientOptions& options,
                   std::unique_ptr<ClientContext>* context) {
  if (*context != nullptr) return true;
  auto made = ClientContext::Create(options);
  if (!made.ok()) return false;
  *context = std::move(*made);
  return true;
}

}  // namespace stampede::agent::tls
