// Sockets of the native HTTP/1.1 engine: connecting (with source addresses),
// the TLS handshake, and the idle and deadline lists connections live in.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "agent/http1/internal.h"
#include "agent/http1/transport.h"

namespace stampede::agent {

using common::ErrorId;

ErrorId Http1Transport::Connect(Connection* c) {
  const Endpoint& ep = endpoints_[c->endpoint];
  int fd = -1;
  sockaddr_storage addr;
  socklen_t addr_len = 0;
  int64_t dns_ns = Outcome::kNotTimed;
  if (const ErrorId error = dialer_.Open(ep.name, ep.port, ep.host, &fd, &addr,
                                         &addr_len, &dns_ns);
      error != ErrorId::kNone) {
    return error;
  }
  // A retry on a new socket keeps the first attempt's lookup time.
  if (dns_ns >= 0) c->dns_ns = dns_ns;
  ++connections_opened_;
  c->fd = fd;
  c->https = ep.https;
  c->tls_wants_out = false;
  c->served = 0;
  c->written = 0;
  c->writing = true;
  c->attempt_in = 0;
  c->written_ns = 0;
  c->tls_ns = Outcome::kNotTimed;
  c->phase_start_ns = EventLoop::MonoNowNs();
  int rc = connect(fd, reinterpret_cast<const sockaddr*>(&addr), addr_len);
  if (rc == 0) {
    if (!loop_->Add(fd, EPOLLIN | kEdge, c)) return ErrorId::kLocalOther;
    c->events = EPOLLIN;
    return OnConnected(c);
  }
  // EINTR: the connect goes on in the background, as with EINPROGRESS.
  if (errno == EINPROGRESS || errno == EINTR) {
    c->state = Connection::State::kConnecting;
    if (!loop_->Add(fd, EPOLLOUT | kEdge, c)) return ErrorId::kLocalOther;
    c->events = EPOLLOUT;
    return ErrorId::kNone;
  }
  return common::ErrorIdFromConnectErrno(errno);
}

ErrorId Http1Transport::OnConnected(Connection* c) {
  const int64_t now = EventLoop::MonoNowNs();
  c->connect_ns = now - c->phase_start_ns;
  if (!c->https) {
    c->state = Connection::State::kBusy;
    return Write(c);
  }
  // One SSL object per connection, made when it opens.
  const Endpoint& ep = endpoints_[c->endpoint];
  if (!c->tls.Open(*tls_context_, c->fd, ep.host, ep.sessions.get()))
    return ErrorId::kLocalOther;
  c->state = Connection::State::kHandshaking;
  c->phase_start_ns = now;
  return Handshake(c);
}

ErrorId Http1Transport::Handshake(Connection* c) {
  switch (c->tls.Handshake()) {
    case tls::Io::kOk:
      c->tls_ns = EventLoop::MonoNowNs() - c->phase_start_ns;
      ++tls_handshakes_;
      if (c->tls.resumed()) ++tls_resumed_;
      c->state = Connection::State::kBusy;
      return Write(c);
    case tls::Io::kWantRead:
      Watch(c, EPOLLIN);
      return ErrorId::kNone;
    case tls::Io::kWantWrite:
      Watch(c, EPOLLIN | EPOLLOUT);
      return ErrorId::kNone;
    case tls::Io::kEof:
    case tls::Io::kError:
      break;
  }
  return c->tls.error();
}

void Http1Transport::Watch(Connection* c, uint32_t events) {
  if (c->events == events) return;
  loop_->Modify(c->fd, events | kEdge, c);
  c->events = events;
}

void Http1Transport::CloseSocket(Connection* c, bool clean) {
  c->tls.Close(clean);
  if (c->fd >= 0) {
    if (c->events != 0) loop_->Remove(c->fd);
    close(c->fd);
  }
  c->fd = -1;
  c->events = 0;
  c->writing = false;
  c->state = Connection::State::kClosed;
}

void Http1Transport::LinkDeadline(Connection* c) {
  if (c->deadline_ns == 0) return;
  // From the tail: with one timeout for all, the newest is the latest.
  Connection* after = deadline_tail_;
  while (after != nullptr && after->deadline_ns > c->deadline_ns)
    after = after->prev;
  c->prev = after;
  c->next = after != nullptr ? after->next : deadline_head_;
  if (c->next != nullptr) {
    c->next->prev = c;
  } else {
    deadline_tail_ = c;
  }
  if (after != nullptr) {
    after->next = c;
  } else {
    deadline_head_ = c;
  }
  c->linked = true;
}

void Http1Transport::UnlinkDeadline(Connection* c) {
  if (!c->linked) return;
  if (c->prev != nullptr) {
    c->prev->next = c->next;
  } else {
    deadline_head_ = c->next;
  }
  if (c->next != nullptr) {
    c->next->prev = c->prev;
  } else {
    deadline_tail_ = c->prev;
  }
  c->prev = c->next = nullptr;
  c->linked = false;
}

void Http1Transport::PushIdle(Connection* c) {
  Endpoint& ep = endpoints_[c->endpoint];
  c->prev = nullptr;
  c->next = ep.idle;
  if (ep.idle != nullptr) ep.idle->prev = c;
  ep.idle = c;
}

void Http1Transport::RemoveIdle(Connection* c) {
  Endpoint& ep = endpoints_[c->endpoint];
  if (c->prev != nullptr) {
    c->prev->next = c->next;
  } else {
    ep.idle = c->next;
  }
  if (c->next != nullptr) c->next->prev = c->prev;
  c->prev = c->next = nullptr;
}

}  // namespace stampede::agent
