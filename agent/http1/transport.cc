#include "agent/http1/transport.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "agent/http1/internal.h"
#include "agent/http1/request.h"
#include "agent/net/url.h"

namespace stampede::agent {

using common::ErrorId;
using net::ParseUrl;
using net::Url;

absl::StatusOr<std::unique_ptr<Http1Transport>> Http1Transport::Create(
    EventLoop* loop, Listener* listener, size_t max_connections,
    const tls::ClientOptions& tls_options) {
  if (max_connections == 0)
    return absl::InvalidArgumentError("http1 transport: no connections");
  std::unique_ptr<Http1Transport> t(
      new Http1Transport(loop, listener, max_connections, tls_options));
  // Only the plan's own CA file is worth refusing a plan over, up front.
  if (!tls_options.ca_file.empty()) {
    auto context = tls::ClientContext::Create(t->tls_options_);
    if (!context.ok()) return context.status();
    t->tls_context_ = std::move(*context);
  }
  return t;
}

Http1Transport::Http1Transport(EventLoop* loop, Listener* listener,
                               size_t max_connections,
                               const tls::ClientOptions& tls_options)
    : loop_(loop),
      listener_(listener),
      dialer_(loop),
      tls_options_(tls_options),
      read_buffer_(new char[kReadBufferSize]) {
  if (tls_options_.alpn.empty()) tls_options_.alpn = {"http/1.1"};
  connections_.reserve(max_connections);
  closed_.reserve(max_connections);
  failures_.reserve(max_connections);
  for (size_t i = 0; i < max_connections; ++i)
    connections_.push_back(std::make_unique<Connection>(this));
  // The first slots are used first.
  for (size_t i = max_connections; i > 0; --i)
    closed_.push_back(connections_[i - 1].get());
}

Http1Transport::~Http1Transport() {
  for (auto& c : connections_)
    CloseSocket(c.get(), c->state == Connection::State::kIdle);
}

bool Http1Transport::Supports(const PreparedRequest& request) {
  if (!request.proxy.empty() || !request.auth_scheme.empty()) return false;
  std::optional<Url> url = ParseUrl(request.url);
  return url.has_value() && http1::Serialize(request, *url).has_value();
}

void Http1Transport::Prepare(const PreparedRequest& request) {
  auto [it, inserted] = targets_.try_emplace(&request);
  if (!inserted) return;
  Target& t = it->second;
  t.head = request.method == "HEAD";
  t.timeout_ns = request.timeout_ms > 0 ? request.timeout_ms * 1'000'000 : 0;
  std::optional<Url> url = ParseUrl(request.url);
  std::optional<std::string> wire;
  if (url) wire = http1::Serialize(request, *url);
  if (!wire) {
    t.error = ErrorId::kTransportOther;
    return;
  }
  if (url->https && !tls::EnsureContext(tls_options_, &tls_context_)) {
    t.error = ErrorId::kTlsError;
    return;
  }
  t.wire = std::move(*wire);
  t.method = request.method.empty() ? "GET" : request.method;
  t.authority = url->authority;
  t.keep_alive = request.keep_alive;
  const int name = dialer_.Add(url->host);
  if (name < 0) {
    t.error = ErrorId::kLocalOther;
    return;
  }
  const uint16_t port = net::PortOf(url->port);
  // One name, port and scheme: one pool of interchangeable connections (for
  // TLS the name is also what SNI says and the certificate is checked for).
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    const Endpoint& e = endpoints_[i];
    if (e.name == name && e.port == port && e.https == url->https) {
      t.endpoint = static_cast<int>(i);
      return;
    }
  }
  Endpoint& e = endpoints_.emplace_back();
  e.name = name;
  e.port = port;
  e.https = url->https;
  e.host = url->host;
  if (e.https) {
    e.sessions = std::make_unique<tls::SessionCache>();
  }
  t.endpoint = static_cast<int>(endpoints_.size() - 1);
}

const Http1Transport::Target& Http1Transport::TargetFor(
    const PreparedRequest* request) {
  auto it = targets_.find(request);
  if (it != targets_.end()) return it->second;
  Prepare(*request);  // the contract says Prepare came first; be forgiving
  return targets_.find(request)->second;
}

void Http1Transport::Send(const Sent& sent) {
  const Target& target = TargetFor(sent.request);
  ++busy_;
  ErrorId error = target.error;
  if (error == ErrorId::kNone && sent.flow != nullptr && sent.flow->invalid)
    error = ErrorId::kInvalidRequest;
  Connection* c = nullptr;
  if (error == ErrorId::kNone) {
    c = sent.connection != Sent::kAnyConnection
            ? AcquireSlot(target.endpoint, sent.connection)
            : Acquire(target.endpoint);
    if (c == nullptr) error = ErrorId::kLocalOther;  // Send without capacity
  }
  if (c != nullptr) {
    c->target = &target;
    if (sent.flow != nullptr) {
      http1::SerializeFlow(target.method, target.authority, target.keep_alive,
                           *sent.flow, &c->wire_buf);
      c->wire = &c->wire_buf;
    } else {
      c->wire = &target.wire;
    }
    c->sent = sent;
    c->retried = false;
    c->bytes_in = 0;
    c->bytes_out = 0;
    c->dns_ns = c->connect_ns = c->tls_ns = c->ttfb_ns = Outcome::kNotTimed;
    c->written_ns = 0;
    c->deadline_ns =
        target.timeout_ns > 0 ? sent.sent_ns + target.timeout_ns : 0;
    c->parser.Reset(target.head);
    if (sent.flow != nullptr) {
      FlowSend& f = *sent.flow;
      Http1Tap tap;
      if (f.keep_head) tap.head = &f.head;
      if (f.body_limit > 0) {
        tap.body = &f.response_body;
        tap.body_limit = f.body_limit;
        tap.cut = &f.body_cut;
      }
      c->parser.set_tap(tap);
    }
    error = Start(c);
    if (error == ErrorId::kNone) {
      LinkDeadline(c);
      return;
    }
    CloseSocket(c);
    closed_.push_back(c);
  }
  failures_.push_back(Failure{sent, error, EventLoop::MonoNowNs()});
}

Http1Transport::Connection* Http1Transport::Acquire(int endpoint) {
  Endpoint& ep = endpoints_[endpoint];
  Connection* c = nullptr;
  if (ep.idle != nullptr) {
    c = ep.idle;
    RemoveIdle(c);
    return c;
  }
  if (!closed_.empty()) {
    c = closed_.back();
    closed_.pop_back();
  } else {
    // Every free slot holds an idle connection to another target.
    for (Endpoint& other : endpoints_) {
      if (other.idle != nullptr) {
        c = other.idle;
        RemoveIdle(c);
        CloseSocket(c, true);
        break;
      }
    }
  }
  if (c != nullptr) c->endpoint = endpoint;
  return c;
}

void Http1Transport::EndUser(uint32_t connection) {
  if (connection >= connections_.size()) return;
  Connection* c = connections_[connection].get();
  // Only a connection at rest: one in use is its user's still.
  if (c->state != Connection::State::kIdle) return;
  RemoveIdle(c);
  CloseSocket(c, /*clean=*/true);
  closed_.push_back(c);
}

Http1Transport::Connection* Http1Transport::AcquireSlot(int endpoint,
                                                        uint32_t slot) {
  if (slot >= connections_.size()) return nullptr;
  Connection* c = connections_[slot].get();
  switch (c->state) {
    case Connection::State::kIdle:
      RemoveIdle(c);
      if (c->endpoint == endpoint) return c;
      CloseSocket(c, true);
      break;
    case Connection::State::kClosed:
      // Slots without a socket wait in closed_ for Acquire; this one is
      // taken by its owner (a reconnect: rare next to sends).
      if (auto it = std::find(closed_.begin(), closed_.end(), c);
          it != closed_.end())
        closed_.erase(it);
      break;
    default:
      return nullptr;  // its user has a request in flight already
  }
  c->endpoint = endpoint;
  return c;
}

ErrorId Http1Transport::Start(Connection* c) {
  if (c->fd >= 0) {
    c->state = Connection::State::kBusy;
    c->written = 0;
    c->writing = true;
    c->attempt_in = 0;
    ErrorId error = Write(c);
    // A kept-alive socket the server has already closed: once more, afresh.
    if (error != ErrorId::kTcpReset) return error;
    c->retried = true;
    CloseSocket(c);
  }
  return Connect(c);
}

ErrorId Http1Transport::WriteTls(Connection* c) {
  const std::string& wire = *c->wire;
  while (c->written < wire.size()) {
    size_t n = 0;
    switch (
        c->tls.Write(wire.data() + c->written, wire.size() - c->written, &n)) {
      case tls::Io::kOk:
        c->written += n;
        c->bytes_out += static_cast<int64_t>(n);
        continue;
      case tls::Io::kWantWrite:
        Watch(c, EPOLLIN | EPOLLOUT);
        return ErrorId::kNone;
      case tls::Io::kWantRead:  // every event retries the write
        Watch(c, EPOLLIN | (c->tls_wants_out ? EPOLLOUT : 0u));
        return ErrorId::kNone;
      case tls::Io::kEof:
        return ErrorId::kTcpReset;
      case tls::Io::kError:
        return c->tls.error();
    }
  }
  c->writing = false;
  c->written_ns = EventLoop::MonoNowNs();
  Watch(c, EPOLLIN | (c->tls_wants_out ? EPOLLOUT : 0u));
  return ErrorId::kNone;
}

ErrorId Http1Transport::Write(Connection* c) {
  if (c->https) return WriteTls(c);
  const std::string& wire = *c->wire;
  while (c->written < wire.size()) {
    ssize_t n = send(c->fd, wire.data() + c->written, wire.size() - c->written,
                     MSG_NOSIGNAL);
    if (n > 0) {
      c->written += static_cast<size_t>(n);
      c->bytes_out += n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      Watch(c, EPOLLIN | EPOLLOUT);
      return ErrorId::kNone;
    }
    return IoError(n < 0 ? errno : EPIPE);
  }
  c->writing = false;
  c->written_ns = EventLoop::MonoNowNs();
  Watch(c, EPOLLIN);
  return ErrorId::kNone;
}

void Http1Transport::OnConnectionEvents(Connection* c, uint32_t events) {
  // Events may be stale (an fd number reused within one epoll batch), so each
  // is confirmed by a system call before it changes anything.
  switch (c->state) {
    case Connection::State::kClosed:
      return;
    case Connection::State::kIdle:
      OnIdleEvents(c);
      return;
    case Connection::State::kConnecting: {
      int err = 0;
      socklen_t len = sizeof(err);
      if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
      if (err != 0) {
        Fail(c, common::ErrorIdFromConnectErrno(err), false);
        return;
      }
      if ((events & EPOLLOUT) == 0) return;
      ErrorId error = OnConnected(c);
      if (error != ErrorId::kNone) Fail(c, error, !c->https);
      return;
    }
    case Connection::State::kHandshaking: {
      ErrorId error = Handshake(c);
      if (error != ErrorId::kNone) Fail(c, error, false);
      return;
    }
    case Connection::State::kBusy:
      if (c->https) {
        // OpenSSL may hold decrypted bytes or want either direction: every
        // event tries both; a call with nothing to do costs one EAGAIN.
        if (!ReadTls(c)) return;
        if (c->writing) {
          ErrorId error = Write(c);
          if (error != ErrorId::kNone) Fail(c, error, true);
        }
        return;
      }
      // Read first: a server may answer (and close) before taking the body.
      if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP)) != 0 &&
          !Read(c, (events & (EPOLLRDHUP | EPOLLHUP)) != 0)) {
        return;
      }
      if (c->writing && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) != 0) {
        ErrorId error = Write(c);
        if (error != ErrorId::kNone) Fail(c, error, true);
      }
      return;
  }
}

void Http1Transport::OnIdleEvents(Connection* c) {
  if (c->https) {
    // Records that carry no data (a session ticket, say) keep it idle.
    size_t n = 0;
    if (c->tls.Read(read_buffer_.get(), kReadBufferSize, &n) ==
        tls::Io::kWantRead) {
      return;
    }
    RemoveIdle(c);
    CloseSocket(c);
    closed_.push_back(c);
    return;
  }
  ssize_t n;
  do {
    n = recv(c->fd, read_buffer_.get(), kReadBufferSize, 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
  // Closed by the server, or bytes nobody asked for: either way, done with it.
  RemoveIdle(c);
  CloseSocket(c);
  closed_.push_back(c);
}

bool Http1Transport::Read(Connection* c, bool peer_closed) {
  char* buffer = read_buffer_.get();
  while (true) {
    ssize_t n = recv(c->fd, buffer, kReadBufferSize, 0);
    if (n > 0) {
      // A response read whole at once (the common case) is timed by one
      // clock read: its first byte and its last came together.
      int64_t now_ns = 0;
      if (c->attempt_in == 0 && c->written_ns != 0) {
        now_ns = EventLoop::MonoNowNs();
        c->ttfb_ns = now_ns - c->written_ns;
      }
      size_t used = c->parser.Feed(buffer, static_cast<size_t>(n));
      c->attempt_in += n;
      c->bytes_in += static_cast<int64_t>(used);
      switch (c->parser.state()) {
        case Http1ResponseParser::State::kComplete:
          // Bytes past the response were never asked for: no reuse then;
          // nor while the request is still being written.
          Finish(c, ErrorId::kNone,
                 Reusable(c, used, static_cast<size_t>(n), peer_closed),
                 now_ns);
          return false;
        case Http1ResponseParser::State::kError:
          Finish(c, ErrorId::kHttpProtocol, false);
          return false;
        case Http1ResponseParser::State::kNeedMore:
          // A short read drained the socket; more data raises a new edge. A FIN
          // that came with this edge raises none: read on to the end then.
          if (static_cast<size_t>(n) < kReadBufferSize && !peer_closed)
            return true;
          continue;
      }
    }
    if (n == 0) {
      c->parser.OnEof();
      if (c->parser.state() == Http1ResponseParser::State::kComplete) {
        Finish(c, ErrorId::kNone, false);
      } else {
        Fail(c, ErrorId::kTcpReset, true);
      }
      return false;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
    Fail(c, IoError(errno), true);
    return false;
  }
}

bool Http1Transport::ReadTls(Connection* c) {
  char* buffer = read_buffer_.get();
  while (true) {
    size_t n = 0;
    tls::Io io = c->tls.Read(buffer, kReadBufferSize, &n);
    if (io == tls::Io::kOk) {
      int64_t now_ns = 0;  // as in Read: one clock read for a whole response
      if (c->attempt_in == 0 && c->written_ns != 0) {
        now_ns = EventLoop::MonoNowNs();
        c->ttfb_ns = now_ns - c->written_ns;
      }
      size_t used = c->parser.Feed(buffer, n);
      c->attempt_in += static_cast<int64_t>(n);
      c->bytes_in += static_cast<int64_t>(used);
      switch (c->parser.state()) {
        case Http1ResponseParser::State::kComplete:
          Finish(c, ErrorId::kNone, Reusable(c, used, n, false), now_ns);
          return false;
        case Http1ResponseParser::State::kError:
          Finish(c, ErrorId::kHttpProtocol, false);
          return false;
        case Http1ResponseParser::State::kNeedMore:
          // Edge-triggered: only WANT_READ says the socket is drained.
          continue;
      }
    }
    switch (io) {
      case tls::Io::kOk:
        break;
      case tls::Io::kWantRead:
        if (c->tls_wants_out) {
          c->tls_wants_out = false;
          Watch(c, EPOLLIN | (c->writing ? EPOLLOUT : 0u));
        }
        return true;
      case tls::Io::kWantWrite:
        c->tls_wants_out = true;
        Watch(c, EPOLLIN | EPOLLOUT);
        return true;
      case tls::Io::kEof:
        c->parser.OnEof();
        if (c->parser.state() == Http1ResponseParser::State::kComplete) {
          Finish(c, ErrorId::kNone, false);
        } else {
          Fail(c, ErrorId::kTcpReset, true);
        }
        return false;
      case tls::Io::kError:
        Fail(c, c->tls.error(), true);
        return false;
    }
  }
}

bool Http1Transport::Reusable(Connection* c, size_t used, size_t n,
                              bool peer_closed) {
  // Bytes past the response were never asked for: no reuse then; nor while
  // the request is still being written.
  if (!c->parser.keep_alive() || used != n || c->writing || peer_closed ||
      !c->sent.request->keep_alive)
    return false;
  if (!c->https || !c->tls.HasBufferedInput()) return true;
  // Bytes OpenSSL holds raise no new edge once idle: look at them now. Only
  // records without data (a session ticket, say) leave it reusable.
  size_t more = 0;
  return c->tls.Read(read_buffer_.get(), kReadBufferSize, &more) ==
         tls::Io::kWantRead;
}

void Http1Transport::Fail(Connection* c, ErrorId error, bool retryable) {
  // The server closed a kept-alive connection before it saw the request:
  // what browsers and wrk do is to try once more on a new connection.
  if (retryable && error == ErrorId::kTcpReset && c->served > 0 &&
      !c->retried && c->attempt_in == 0) {
    c->retried = true;
    CloseSocket(c);
    c->parser.Reset(c->target->head);
    c->ttfb_ns = Outcome::kNotTimed;
    error = Connect(c);
    if (error == ErrorId::kNone) return;
  }
  Finish(c, error, false);
}

void Http1Transport::Finish(Connection* c, ErrorId error, bool keep,
                            int64_t now_ns) {
  if (now_ns == 0) now_ns = EventLoop::MonoNowNs();
  Outcome outcome;
  outcome.status = c->parser.status();
  outcome.error = error;
  outcome.bytes_in = c->bytes_in;
  outcome.bytes_out = c->bytes_out;
  outcome.dns_ns = c->dns_ns;
  outcome.connect_ns = c->connect_ns;
  outcome.tls_ns = c->tls_ns;
  outcome.ttfb_ns = c->ttfb_ns;
  if (c->parser.streaming() && c->written_ns != 0 && c->ttfb_ns >= 0) {
    outcome.ttlb_ns = now_ns - c->written_ns;
    outcome.events = c->parser.events();
  }
  const Sent sent = c->sent;
  UnlinkDeadline(c);
  c->target = nullptr;
  if (keep) {
    ++c->served;
    c->state = Connection::State::kIdle;
    PushIdle(c);
  } else {
    CloseSocket(c, error == ErrorId::kNone);
    closed_.push_back(c);
  }
  --busy_;
  // Last: the listener may Send again, onto this very connection.
  listener_->OnDone(sent, outcome, now_ns);
}

int64_t Http1Transport::DeadlineNs() const {
  if (!failures_.empty()) return failures_.front().done_ns;
  return deadline_head_ != nullptr ? deadline_head_->deadline_ns : 0;
}

void Http1Transport::OnDeadline() {
  // The listener may Send (and so append failures) while this runs.
  for (size_t i = 0; i < failures_.size(); ++i) {
    const Failure f = failures_[i];
    --busy_;
    Outcome outcome;
    outcome.error = f.error;
    listener_->OnDone(f.sent, outcome, f.done_ns);
  }
  failures_.clear();
  const int64_t now = EventLoop::MonoNowNs();
  while (deadline_head_ != nullptr && deadline_head_->deadline_ns <= now) {
    Connection* c = deadline_head_;
    Finish(c,
           c->state == Connection::State::kConnecting
               ? ErrorId::kTcpTimeout
               : ErrorId::kRequestTimeout,
           false);
  }
}

}  // namespace stampede::agent
