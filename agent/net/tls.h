// Client-side TLS through OpenSSL for the native engines (HTTP/1.1, and HTTP/2
// with ALPN "h2"): a context per transport (trust, verification, ALPN), a
// session cache per endpoint so reconnects resume, and a per-connection wrapper
// that drives a non-blocking socket from an epoll loop. Not thread-safe: every
// object here belongs to one worker thread. The process must ignore SIGPIPE
// (OpenSSL writes to sockets with write(2)), as stampede-agent's main does.
#ifndef STAMPEDE_AGENT_NET_TLS_H_
#define STAMPEDE_AGENT_NET_TLS_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/errors.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;
typedef struct ssl_session_st SSL_SESSION;

namespace stampede::agent::tls {

// What a plan's `tls:` block says, plus what the protocol engine offers.
struct ClientOptions {
  // Accept any certificate and any name (testing only).
  bool insecure_skip_verify = false;
  // PEM file of trusted CAs; empty: the system's store.
  std::string ca_file;
  // ALPN protocols to offer, most preferred first (e.g. {"h2"}); none if empty.
  std::vector<std::string> alpn;
};

// The latest session one endpoint's server gave us, to resume the next
// connection with. Owns its SSL_SESSION.
class SessionCache {
 public:
  SessionCache() = default;
  ~SessionCache();
  SessionCache(const SessionCache&) = delete;
  SessionCache& operator=(const SessionCache&) = delete;

  SSL_SESSION* get() const { return session_; }
  // Takes ownership of `session` and drops the previous one.
  void Put(SSL_SESSION* session);

 private:
  SSL_SESSION* session_ = nullptr;
};

// Trust and protocol settings shared by every connection of one transport.
class ClientContext {
 public:
  // Fails (with a message naming the file) when the CA file cannot be loaded.
  static absl::StatusOr<std::unique_ptr<ClientContext>> Create(
      const ClientOptions& options);
  ~ClientContext();
  ClientContext(const ClientContext&) = delete;
  ClientContext& operator=(const ClientContext&) = delete;

  bool verifies() const { return verify_; }
  SSL_CTX* raw() const { return ctx_; }

 private:
  ClientContext(SSL_CTX* ctx, bool verify) : ctx_(ctx), verify_(verify) {}
  SSL_CTX* ctx_;
  bool verify_;
};

// Makes `*context` from `options` unless there is one already (transports
// make theirs at the first https:// request); false when that fails.
bool EnsureContext(const ClientOptions& options,
                   std::unique_ptr<ClientContext>* context);

// The result of one non-blocking TLS call.
enum class Io : uint8_t {
  kOk,
  kWantRead,   // call again when the socket is readable
  kWantWrite,  // call again when the socket is writable
  kEof,        // the peer closed (close_notify or a plain FIN)
  kError,      // see Connection::error()
};

// One client TLS session over a connected non-blocking socket. Open() once per
// TCP connection; Read/Write reuse OpenSSL's buffers, nothing is allocated per
// call.
class Connection {
 public:
  Connection() = default;
  ~Connection() { Close(false); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Prepares a client handshake on `fd` to `host` (sent as SNI unless it is an
  // IP literal, and checked against the certificate when verifying), resuming
  // `cache`'s session if any; sessions the server issues go to `cache`, which
  // must outlive this connection. False when OpenSSL is out of memory.
  bool Open(const ClientContext& context, int fd, const std::string& host,
            SessionCache* cache);
  bool is_open() const { return ssl_ != nullptr; }

  // Drives the handshake; kOk once it is done. A failure's error() is
  // tls_certificate, tls_handshake or a local_* id.
  Io Handshake();
  // kOk with *n > 0 bytes, or why not. Retry a write after kWant* with the
  // same bytes (moved buffers are accepted).
  Io Read(char* buffer, size_t size, size_t* n);
  Io Write(const char* data, size_t size, size_t* n);
  // Read after it has returned data: whether bytes are buffered inside OpenSSL
  // (no new epoll edge will announce them).
  bool HasBufferedInput() const;
  // Why the last call returned kError.
  common::ErrorId error() const { return error_; }
  // Whether the handshake resumed a cached session.
  bool resumed() const;
  // After the handshake: the protocol the server selected by ALPN, "" when it
  // selected none. Points into OpenSSL's state; valid until Close.
  std::string_view alpn() const;

  // Frees the connection. `clean`: it ended well, send close_notify. The
  // cached session stays resumable unless TLS itself failed.
  void Close(bool clean);

 private:
  Io Result(int rc);

  SSL* ssl_ = nullptr;
  bool verify_ = true;  // the context checks certificates
  common::ErrorId error_ = common::ErrorId::kNone;
};

}  // namespace stampede::agent::tls

#endif  // STAMPEDE_AGENT_NET_TLS_H_
