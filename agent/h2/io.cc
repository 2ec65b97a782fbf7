// H2Transport's byte moving: from a connected socket to an open session (h2c
// at once; for https:// a TLS handshake with its ALPN check first), and the
// reads and writes that carry nghttp2's bytes, plain or through OpenSSL.
// OpenSSL may want to read while writing and the reverse; on the
// edge-triggered loop every event of an open TLS connection tries a read, and
// a read marks the connection dirty so a stalled write is retried.
#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>

#include "agent/h2/internal.h"
#include "agent/net/event_loop.h"

namespace stampede::agent {

using common::ErrorId;

namespace {
constexpr char kH2[] = "h2";
}  // namespace

ErrorId H2Transport::OnConnected(Connection* c) {
  const int64_t now = EventLoop::MonoNowNs();
  c->connect_ns = now - c->phase_start_ns;
  Stream* s = c->claimant;
  if (s != nullptr && s->conn == c && s->id == c->claimant_id)
    s->connect_ns = c->connect_ns;
  if (!c->https) {
    c->state = Connection::State::kOpen;
    Watch(c, EPOLLIN);
    MarkDirty(c);  // the preface and SETTINGS
    return ErrorId::kNone;
  }
  // One SSL object per connection, made when it opens.
  const Endpoint& ep = endpoints_[c->endpoint];
  if (!c->tls.Open(*tls_context_, c->fd, ep.host, ep.sessions.get()))
    return ErrorId::kLocalOther;
  c->state = Connection::State::kHandshaking;
  c->phase_start_ns = now;
  return Handshake(c);
}

ErrorId H2Transport::Handshake(Connection* c) {
  switch (c->tls.Handshake()) {
    case tls::Io::kOk:
      break;
    case tls::Io::kWantRead:
      Watch(c, EPOLLIN);
      return ErrorId::kNone;
    case tls::Io::kWantWrite:
      Watch(c, EPOLLIN | EPOLLOUT);
      return ErrorId::kNone;
    case tls::Io::kEof:
    case tls::Io::kError:
      return c->tls.error();
  }
  c->tls_ns = EventLoop::MonoNowNs() - c->phase_start_ns;
  ++tls_handshakes_;
  if (c->tls.resumed()) ++tls_resumed_;
  Stream* s = c->claimant;
  if (s != nullptr && s->conn == c && s->id == c->claimant_id)
    s->tls_ns = c->tls_ns;
  // The server agreed to TLS but not to HTTP/2: the negotiation failed, even
  // though OpenSSL's part of it succeeded.
  if (c->tls.alpn() != kH2) return ErrorId::kTlsHandshake;
  c->state = Connection::State::kOpen;
  Watch(c, EPOLLIN);
  MarkDirty(c);  // the preface and SETTINGS
  return ErrorId::kNone;
}

ErrorId H2Transport::ReadPlain(Connection* c, bool peer_closed) {
  uint8_t* buffer = read_buffer_.get();
  ErrorId error = ErrorId::kNone;
  while (true) {
    ssize_t n = recv(c->fd, buffer, kH2ReadBufferSize, 0);
    if (n > 0) {
      now_ns_ = EventLoop::MonoNowNs();
      if (nghttp2_session_mem_recv(c->session, buffer, static_cast<size_t>(n)) <
          0) {
        error = ErrorId::kHttpProtocol;
        break;
      }
      if (static_cast<size_t>(n) < kH2ReadBufferSize && !peer_closed) break;
      continue;
    }
    if (n == 0) {
      error = c->goaway ? ErrorId::kHttpProtocol : ErrorId::kTcpReset;
      break;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      error = common::ErrorIdFromErrno(errno, ErrorId::kTcpReset);
    break;
  }
  return error;
}

ErrorId H2Transport::ReadTls(Connection* c) {
  uint8_t* buffer = read_buffer_.get();
  while (true) {
    size_t n = 0;
    switch (
        c->tls.Read(reinterpret_cast<char*>(buffer), kH2ReadBufferSize, &n)) {
      case tls::Io::kOk:
        now_ns_ = EventLoop::MonoNowNs();
        if (nghttp2_session_mem_recv(c->session, buffer, n) < 0)
          return ErrorId::kHttpProtocol;
        // Edge-triggered: only WANT_READ says the socket is drained.
        continue;
      case tls::Io::kWantRead:
        // The flush that follows sets the events again.
        c->tls_wants_out = false;
        return ErrorId::kNone;
      case tls::Io::kWantWrite:
        c->tls_wants_out = true;
        Watch(c, EPOLLIN | EPOLLOUT);
        return ErrorId::kNone;
      case tls::Io::kEof:
        return c->goaway ? ErrorId::kHttpProtocol : ErrorId::kTcpReset;
      case tls::Io::kError:
        return c->tls.error();
    }
  }
}

size_t H2Transport::WritePlain(Connection* c, ErrorId* error) {
  while (true) {
    ssize_t n = send(c->fd, c->out.data() + c->out_off,
                     c->out.size() - c->out_off, MSG_NOSIGNAL);
    if (n > 0) return static_cast<size_t>(n);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      Watch(c, EPOLLIN | EPOLLOUT);
    } else {
      *error =
          common::ErrorIdFromErrno(n < 0 ? errno : EPIPE, ErrorId::kTcpReset);
    }
    return 0;
  }
}

size_t H2Transport::WriteTls(Connection* c, ErrorId* error) {
  size_t n = 0;
  switch (c->tls.Write(c->out.data() + c->out_off, c->out.size() - c->out_off,
                       &n)) {
    case tls::Io::kOk:
      return n;
    case tls::Io::kWantWrite:
      Watch(c, EPOLLIN | EPOLLOUT);
      return 0;
    case tls::Io::kWantRead:  // the next read event retries the write
      Watch(c, EPOLLIN | (c->tls_wants_out ? EPOLLOUT : 0u));
      return 0;
    case tls::Io::kEof:
      *error = ErrorId::kTcpReset;
      return 0;
    case tls::Io::kError:
      *error = c->tls.error();
      return 0;
  }
  return 0;
}

}  // namespace stampede::agent
