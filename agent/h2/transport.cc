#include "agent/h2/transport.h"

#include <arpa/inet.h>
#include <netdb.h>
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

#include "agent/h2/internal.h"
#include "agent/http1/request.h"
#include "agent/net/socket.h"

namespace stampede::agent {

using common::ErrorId;

namespace {

// Output is handed to the socket once this much is ready (or nghttp2 has no
// more), so many streams' frames go out in one send.
constexpr size_t kOutHigh = 64 * 1024;
// Edge-triggered, as in the HTTP/1.1 engine: reads stop at a short read, and
// EPOLLRDHUP tells a FIN that came with the last edge.
constexpr uint32_t kEdge = EPOLLET | EPOLLRDHUP;
// Large windows, so flow control never paces a load test (h2load does the
// same).
constexpr int32_t kStreamWindow = (1 << 24) - 1;
constexpr int32_t kConnectionWindow = (1 << 30) - 1;
// A connection that used up (nearly) all its stream ids takes no more streams.
constexpr int32_t kLastStreamId = INT32_MAX - 2 * 1024;
// Output reserved for a shared connection (many streams' frames per send),
// and for a flow user's own (one request at a time: its frames are few).
constexpr size_t kSharedOutReserve = kOutHigh + 16 * 1024;
constexpr size_t kOwnedOutReserve = 16 * 1024;

}  // namespace

absl::StatusOr<std::unique_ptr<H2Transport>> H2Transport::Create(
    EventLoop* loop, Listener* listener, size_t max_streams,
    size_t streams_per_connection, const tls::ClientOptions& tls_options) {
  if (max_streams == 0 || streams_per_connection == 0)
    return absl::InvalidArgumentError("h2 transport: no streams");
  auto t = std::unique_ptr<H2Transport>(new H2Transport(
      loop, listener, max_streams, streams_per_connection, tls_options));
  if (t->callbacks_ == nullptr || t->option_ == nullptr)
    return absl::ResourceExhaustedError("h2 transport: nghttp2 setup failed");
  // Only the plan's own CA file is worth refusing a plan over, up front.
  if (!tls_options.ca_file.empty()) {
    auto context = tls::ClientContext::Create(t->tls_options_);
    if (!context.ok()) return context.status();
    t->tls_context_ = std::move(*context);
  }
  return t;
}

H2Transport::H2Transport(EventLoop* loop, Listener* listener,
                         size_t max_streams, size_t streams_per_connection,
                         const tls::ClientOptions& tls_options)
    : loop_(loop),
      listener_(listener),
      streams_per_connection_(streams_per_connection),
      max_streams_(max_streams),
      streams_(new Stream[max_streams]),
      dialer_(loop),
      tls_options_(tls_options),
      read_buffer_(new uint8_t[kH2ReadBufferSize]) {
  // HTTP/2 or nothing: a server that does not choose h2 is not served.
  tls_options_.alpn = {"h2"};
  const size_t n =
      (max_streams + streams_per_connection - 1) / streams_per_connection;
  connections_.reserve(n);
  for (size_t i = 0; i < n; ++i)
    connections_.push_back(std::make_unique<Connection>(this));
  dirty_.reserve(n);
  failures_.reserve(max_streams);
  free_streams_.reserve(max_streams);
  for (size_t i = max_streams; i > 0; --i)
    free_streams_.push_back(&streams_[i - 1]);
  callbacks_ = Callbacks::New();
  if (nghttp2_option_new(&option_) == 0) {
    // Closed streams are not kept around for priorities we never use.
    nghttp2_option_set_no_closed_streams(option_, 1);
  } else {
    option_ = nullptr;
  }
}

H2Transport::~H2Transport() {
  for (auto& c : connections_) CloseConnection(c.get());
  if (callbacks_ != nullptr) nghttp2_session_callbacks_del(callbacks_);
  if (option_ != nullptr) nghttp2_option_del(option_);
}

std::string H2Transport::Unsupported(const PreparedRequest& request) {
  return H2Unsupported(request);
}

void H2Transport::Prepare(const PreparedRequest& request) {
  auto [it, inserted] = targets_.try_emplace(&request);
  if (!inserted) return;
  Target& t = it->second;
  t.timeout_ns = request.timeout_ms > 0 ? request.timeout_ms * 1'000'000 : 0;
  t.error = BuildH2Request(request, &t.request);
  if (t.error != ErrorId::kNone) return;
  const H2Request& r = t.request;
  if (r.https && !tls::EnsureContext(tls_options_, &tls_context_)) {
    t.error = ErrorId::kTlsError;
    return;
  }
  const int name = dialer_.Add(r.host);
  if (name < 0) {
    t.error = ErrorId::kLocalOther;
    return;
  }
  const uint16_t port = net::PortOf(r.port);
  // One name, port and scheme: one pool of interchangeable connections (for
  // TLS the name is also what SNI says and the certificate is checked for).
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    const Endpoint& e = endpoints_[i];
    if (e.name == name && e.port == port && e.https == r.https) {
      t.endpoint = static_cast<int>(i);
      return;
    }
  }
  Endpoint& e = endpoints_.emplace_back();
  e.name = name;
  e.port = port;
  e.https = r.https;
  e.host = r.host;
  if (e.https) {
    e.sessions = std::make_unique<tls::SessionCache>();
  }
  t.endpoint = static_cast<int>(endpoints_.size() - 1);
}

const H2Transport::Target& H2Transport::TargetFor(
    const PreparedRequest* request) {
  auto it = targets_.find(request);
  if (it != targets_.end()) return it->second;
  Prepare(*request);  // the contract says Prepare came first; be forgiving
  return targets_.find(request)->second;
}

void H2Transport::Send(const Sent& sent) {
  const Target& target = TargetFor(sent.request);
  ++in_flight_;
  ErrorId error = target.error;
  if (error == ErrorId::kNone && sent.flow != nullptr) {
    // Checked before anything is dialled; Submit builds it again (the
    // stream may wait, and the buffers are shared).
    error = sent.flow->invalid
                ? ErrorId::kInvalidRequest
                : BuildH2FlowBlock(target.request, *sent.flow, &flow_block_);
  }
  if (error == ErrorId::kNone && free_streams_.empty())
    error = ErrorId::kLocalOther;  // Send without capacity
  if (error == ErrorId::kNone) {
    Stream* s = free_streams_.back();
    free_streams_.pop_back();
    *s = Stream{};
    s->sent = sent;
    s->target = &target;
    s->deadline_ns =
        target.timeout_ns > 0 ? sent.sent_ns + target.timeout_ns : 0;
    LinkDeadline(s);
    error = Assign(s);
    if (error == ErrorId::kNone) return;
    UnlinkDeadline(s);
    free_streams_.push_back(s);
  }
  failures_.push_back(Failure{sent, error, EventLoop::MonoNowNs()});
}

ErrorId H2Transport::Assign(Stream* s) {
  // Those already waiting go first.
  if (waiting_head_ != nullptr) {
    PushWaiting(s);
    pump_ = true;
    return ErrorId::kNone;
  }
  ErrorId error = ErrorId::kNone;
  Connection* c = Place(s, &error);
  if (c == nullptr) {
    if (error == ErrorId::kNone) {
      PushWaiting(s);
      // A user's own connection that must be replaced from outside
      // nghttp2's callbacks is free right after them: no stream ending
      // will wake the line for it.
      if (Pinned(s->sent)) pump_ = true;
    }
    return error;
  }
  return Submit(c, s);
}

size_t H2Transport::Room(const Connection* c) const {
  size_t limit = std::min<size_t>(
      streams_per_connection_,
      nghttp2_session_get_remote_settings(
          c->session, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS));
  return c->active < limit ? limit - c->active : 0;
}

H2Transport::Connection* H2Transport::Pick(int endpoint, ErrorId* error) {
  auto usable = [&](const Connection* c) {
    return c->state != Connection::State::kClosed && c->endpoint == endpoint &&
           !c->draining && !c->owned && Room(c) > 0;
  };
  if (hint_ != nullptr && usable(hint_)) return hint_;
  Connection* closed = nullptr;
  Connection* idle = nullptr;  // to another endpoint, nothing on it
  for (auto& slot : connections_) {
    Connection* c = slot.get();
    if (c->owned) continue;
    if (usable(c)) return hint_ = c;
    if (c->state == Connection::State::kClosed) {
      if (closed == nullptr) closed = c;
    } else if (c->active == 0 && !c->in_io && idle == nullptr &&
               (c->endpoint != endpoint || c->draining)) {
      idle = c;
    }
  }
  if (closed == nullptr && idle != nullptr) {
    CloseConnection(idle);
    closed = idle;
  }
  if (closed == nullptr) return nullptr;
  *error = Open(closed, endpoint);
  if (*error != ErrorId::kNone) return nullptr;
  return hint_ = closed;
}

H2Transport::Connection* H2Transport::PickOwn(uint32_t slot, int endpoint,
                                              ErrorId* error) {
  if (slot >= connections_.size()) {
    *error = ErrorId::kLocalOther;  // more users than connection slots
    return nullptr;
  }
  Connection* c = connections_[slot].get();
  if (c->state != Connection::State::kClosed &&
      (!c->owned || c->endpoint != endpoint || c->draining)) {
    // Not this user's to keep: replaced once nothing is on it (never from
    // inside nghttp2's callbacks for it).
    if (c->active > 0 || c->in_io) return nullptr;
    CloseConnection(c, /*clean=*/true);
  }
  c->owned = true;
  if (c->state == Connection::State::kClosed) {
    *error = Open(c, endpoint);
    return *error == ErrorId::kNone ? c : nullptr;
  }
  return Room(c) > 0 ? c : nullptr;
}

void H2Transport::EndUser(uint32_t connection) {
  if (connection >= connections_.size()) return;
  Connection* c = connections_[connection].get();
  if (c->state == Connection::State::kClosed || !c->owned) return;
  // Closed by Settle once nothing is on it (never from inside nghttp2's
  // callbacks for it: then the Settle that ends the event does it); the
  // slot's next user opens a new one either way (PickOwn).
  c->draining = true;
  drained_ = true;
  if (!c->in_io) Settle(false);
}

H2Transport::Connection* H2Transport::Place(const Stream* s, ErrorId* error) {
  return Pinned(s->sent)
             ? PickOwn(s->sent.connection, s->target->endpoint, error)
             : Pick(s->target->endpoint, error);
}

ErrorId H2Transport::Open(Connection* c, int endpoint) {
  const Endpoint& ep = endpoints_[endpoint];
  int fd = -1;
  sockaddr_storage addr;
  socklen_t addr_len = 0;
  int64_t dns_ns = Outcome::kNotTimed;
  if (const ErrorId error = dialer_.Open(ep.name, ep.port, ep.host, &fd, &addr,
                                         &addr_len, &dns_ns);
      error != ErrorId::kNone) {
    return error;
  }
  if (nghttp2_session_client_new2(&c->session, callbacks_, c, option_) != 0) {
    c->session = nullptr;
    close(fd);
    return ErrorId::kLocalOther;
  }
  ++connections_opened_;
  c->fd = fd;
  c->endpoint = endpoint;
  c->draining = c->goaway = false;
  c->flows = false;
  c->active = 0;
  c->served = 0;
  c->claim_open = true;
  c->claimant = nullptr;
  c->connect_ns = c->tls_ns = Outcome::kNotTimed;
  c->dns_ns = dns_ns;
  c->https = ep.https;
  c->tls_wants_out = false;
  c->out.clear();
  c->out_off = 0;
  const size_t reserve = c->owned ? kOwnedOutReserve : kSharedOutReserve;
  if (c->out.capacity() < reserve) c->out.reserve(reserve);
  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, kStreamWindow}};
  nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, settings, 2);
  nghttp2_session_set_local_window_size(c->session, NGHTTP2_FLAG_NONE, 0,
                                        kConnectionWindow);
  c->phase_start_ns = EventLoop::MonoNowNs();
  c->state = Connection::State::kConnecting;
  int rc = connect(fd, reinterpret_cast<const sockaddr*>(&addr), addr_len);
  ErrorId error = ErrorId::kNone;
  if (rc == 0) {
    error = OnConnected(c);
  } else if (errno == EINPROGRESS || errno == EINTR) {
    Watch(c, EPOLLOUT);
  } else {
    error = common::ErrorIdFromConnectErrno(errno);
  }
  if (error == ErrorId::kNone && c->events == 0) error = ErrorId::kLocalOther;
  if (error != ErrorId::kNone) {
    CloseConnection(c);
    return error;
  }
  return ErrorId::kNone;
}

ErrorId H2Transport::Submit(Connection* c, Stream* s) {
  const H2Request& r = s->target->request;
  const nghttp2_nv* nva = r.nva.data();
  size_t nvlen = r.nva.size();
  bool has_body = r.has_body;
  if (const FlowSend* flow = s->sent.flow; flow != nullptr) {
    // Rendered for this send: nghttp2 copies the block (the flags say so),
    // so the next flow send may rebuild it at once.
    if (const ErrorId error = BuildH2FlowBlock(r, *flow, &flow_block_);
        error != ErrorId::kNone) {
      return error;
    }
    c->flows = true;
    nva = flow_block_.nva.data();
    nvlen = flow_block_.nva.size();
    has_body = flow_block_.has_body;
  }
  nghttp2_data_provider body;
  body.source.ptr = s;
  body.read_callback = Callbacks::ReadBody;
  int32_t id = nghttp2_submit_request(c->session, nullptr, nva, nvlen,
                                      has_body ? &body : nullptr, s);
  if (id < 0) return ErrorId::kLocalOther;
  s->conn = c;
  s->id = id;
  s->prev = nullptr;
  s->next = c->streams;
  if (c->streams != nullptr) c->streams->prev = s;
  c->streams = s;
  ++c->active;
  if (c->claim_open) {
    c->claim_open = false;
    c->claimant = s;
    c->claimant_id = id;
    s->dns_ns = c->dns_ns;
    s->connect_ns = c->connect_ns;
    s->tls_ns = c->tls_ns;
  }
  if (nghttp2_session_get_next_stream_id(c->session) >
      static_cast<uint32_t>(kLastStreamId)) {
    c->draining = true;
    drained_ = true;
  }
  MarkDirty(c);
  return ErrorId::kNone;
}

void H2Transport::OnConnectionEvents(Connection* c, uint32_t events) {
  // Events may be stale (an fd reused within one epoll batch): each is
  // confirmed by a system call before it changes anything.
  if (c->state == Connection::State::kConnecting) {
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
    if (err != 0) {
      FailConnection(c, common::ErrorIdFromConnectErrno(err));
    } else if ((events & EPOLLOUT) != 0) {
      ErrorId error = OnConnected(c);
      if (error != ErrorId::kNone) FailConnection(c, error);
    }
  } else if (c->state == Connection::State::kHandshaking) {
    ErrorId error = Handshake(c);
    if (error != ErrorId::kNone) {
      FailConnection(c, error);
    } else if (c->state == Connection::State::kOpen &&
               c->tls.HasBufferedInput()) {
      // Records read ahead with the handshake's last flight (the server's
      // SETTINGS, say) raise no new edge: take them now.
      Read(c, false);
    }
  } else if (c->state == Connection::State::kOpen && c->https) {
    // OpenSSL may hold decrypted bytes or want either direction: every event
    // tries both; a call with nothing to do costs one EAGAIN.
    Read(c, false);
  } else if (c->state == Connection::State::kOpen) {
    if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP)) != 0)
      Read(c, (events & (EPOLLRDHUP | EPOLLHUP)) != 0);
    if ((events & EPOLLOUT) != 0) MarkDirty(c);
  }
  // Frames wait for the end of the loop's turn (OnDeadline, due at once
  // while a connection is dirty): what all the events of one poll started
  // goes out in one send per connection.
  Settle(false);
}

void H2Transport::Read(Connection* c, bool peer_closed) {
  c->in_io = true;
  ErrorId error = c->https ? ReadTls(c) : ReadPlain(c, peer_closed);
  c->in_io = false;
  if (error == ErrorId::kNone && !nghttp2_session_want_read(c->session) &&
      !nghttp2_session_want_write(c->session)) {
    error = ErrorId::kHttpProtocol;  // the session is over
  }
  if (error != ErrorId::kNone) {
    FailConnection(c, error);
    return;
  }
  MarkDirty(c);  // acknowledgements, window updates
}

ErrorId H2Transport::Flush(Connection* c) {
  if (c->state != Connection::State::kOpen) return ErrorId::kNone;
  ErrorId error = ErrorId::kNone;
  c->in_io = true;
  now_ns_ = EventLoop::MonoNowNs();
  while (true) {
    while (c->out.size() - c->out_off < kOutHigh) {
      const uint8_t* data = nullptr;
      ssize_t n = nghttp2_session_mem_send(c->session, &data);
      if (n < 0) {
        error = ErrorId::kHttpProtocol;
        break;
      }
      if (n == 0) break;
      c->out.append(reinterpret_cast<const char*>(data),
                    static_cast<size_t>(n));
    }
    if (error != ErrorId::kNone) break;
    if (c->out_off == c->out.size()) {
      c->out.clear();
      c->out_off = 0;
      Watch(c, EPOLLIN | (c->tls_wants_out ? EPOLLOUT : 0u));
      break;
    }
    const size_t n = c->https ? WriteTls(c, &error) : WritePlain(c, &error);
    if (n == 0) break;
    c->out_off += n;
    if (c->out_off == c->out.size()) {
      c->out.clear();
      c->out_off = 0;
    }
  }
  c->in_io = false;
  // E.g. nghttp2 sent GOAWAY after a protocol error: nothing more can come.
  if (error == ErrorId::kNone && !nghttp2_session_want_read(c->session) &&
      !nghttp2_session_want_write(c->session)) {
    error = ErrorId::kHttpProtocol;
  }
  return error;
}

void H2Transport::MarkDirty(Connection* c) {
  if (c->dirty) return;
  c->dirty = true;
  dirty_.push_back(c);
}

void H2Transport::Settle(bool flush) {
  if (settling_) return;
  settling_ = true;
  do {
    if (pump_) {
      pump_ = false;
      // In arrival order; the line stops at the first that finds no room.
      while (waiting_head_ != nullptr) {
        Stream* s = waiting_head_;
        ErrorId error = ErrorId::kNone;
        Connection* c = Place(s, &error);
        if (c == nullptr && error == ErrorId::kNone) break;
        RemoveWaiting(s);
        if (error == ErrorId::kNone) error = Submit(c, s);
        if (error != ErrorId::kNone) Finish(s, error);
      }
    }
    // Flushing may end streams, whose listener may send more.
    for (size_t i = 0; flush && i < dirty_.size(); ++i) {
      Connection* c = dirty_[i];
      c->dirty = false;
      ErrorId error = Flush(c);
      if (error != ErrorId::kNone) FailConnection(c, error);
    }
    if (flush) dirty_.clear();
    if (drained_) {
      drained_ = false;
      for (auto& slot : connections_) {
        Connection* c = slot.get();
        if (c->state != Connection::State::kClosed && c->draining &&
            c->active == 0) {
          if (c->in_io) {  // inside nghttp2 for it: the event's Settle
            drained_ = true;
            continue;
          }
          CloseConnection(c, /*clean=*/true);
          pump_ = waiting_head_ != nullptr;
        }
      }
    }
  } while (pump_ || (flush && !dirty_.empty()));
  settling_ = false;
}

void H2Transport::FailConnection(Connection* c, ErrorId error) {
  const bool reused = c->served > 0;
  const bool connected = c->state == Connection::State::kOpen;
  const bool c_goaway = c->goaway;
  const int32_t goaway_last_id = c->goaway_last_id;
  Stream* list = c->streams;
  c->streams = nullptr;
  CloseConnection(c);
  while (list != nullptr) {
    Stream* s = list;
    list = s->next;
    s->conn = nullptr;
    s->prev = s->next = nullptr;
    // Safe to send again elsewhere: what never left, what a GOAWAY said was
    // not processed, and (as the HTTP/1.1 engine does) what a kept-alive
    // connection lost before any answer came.
    if (connected &&
        (!s->opened || (c_goaway && s->id > goaway_last_id) ||
         (error == ErrorId::kTcpReset && reused && !s->responded))) {
      Refused(s, error);
    } else {
      Finish(s, error);
    }
  }
}

void H2Transport::CloseConnection(Connection* c, bool clean) {
  // Before the socket goes: a clean TLS close writes close_notify to it.
  c->tls.Close(clean && c->state == Connection::State::kOpen);
  if (c->fd >= 0) {
    if (c->events != 0) loop_->Remove(c->fd);
    close(c->fd);
  }
  if (c->session != nullptr) nghttp2_session_del(c->session);
  c->session = nullptr;
  c->fd = -1;
  c->events = 0;
  c->state = Connection::State::kClosed;
  c->active = 0;
  c->claimant = nullptr;
  c->tls_wants_out = false;
  c->out.clear();
  c->out_off = 0;
  if (hint_ == c) hint_ = nullptr;
  // Streams still listed are the caller's (FailConnection) or none.
}

void H2Transport::Finish(Stream* s, ErrorId error) {
  Outcome outcome;
  outcome.status = s->status;
  outcome.error = error;
  outcome.bytes_in = s->bytes_in;
  outcome.bytes_out = s->bytes_out;
  outcome.connect_ns = s->connect_ns;
  outcome.tls_ns = s->tls_ns;
  outcome.dns_ns = s->dns_ns;
  outcome.ttfb_ns = s->ttfb_ns;
  const Sent sent = s->sent;
  UnlinkDeadline(s);
  s->conn = nullptr;
  s->id = 0;
  free_streams_.push_back(s);
  --in_flight_;
  // Last: the listener may Send again, into this very slot.
  listener_->OnDone(sent, outcome, EventLoop::MonoNowNs());
}

int64_t H2Transport::DeadlineNs() const {
  // Work left by Send (failures, frames to write) is due at once.
  if (!failures_.empty() || !dirty_.empty() || pump_) return 1;
  return deadline_head_ != nullptr ? deadline_head_->deadline_ns : 0;
}

void H2Transport::OnDeadline() {
  // The listener may Send (and so append failures) while this runs.
  for (size_t i = 0; i < failures_.size(); ++i) {
    const Failure f = failures_[i];
    --in_flight_;
    Outcome outcome;
    outcome.error = f.error;
    listener_->OnDone(f.sent, outcome, f.done_ns);
  }
  failures_.clear();
  const int64_t now = EventLoop::MonoNowNs();
  while (deadline_head_ != nullptr && deadline_head_->deadline_ns <= now) {
    Stream* s = deadline_head_;
    ErrorId error = ErrorId::kRequestTimeout;
    if (Connection* c = s->conn; c != nullptr) {
      if (c->state == Connection::State::kConnecting) {
        error = ErrorId::kTcpTimeout;
      } else if (s->opened) {
        nghttp2_submit_rst_stream(c->session, NGHTTP2_FLAG_NONE, s->id,
                                  NGHTTP2_CANCEL);
        MarkDirty(c);
      }
      Detach(s);
    } else {
      RemoveWaiting(s);
    }
    Finish(s, error);
  }
  Settle();
}

void H2Transport::Watch(Connection* c, uint32_t events) {
  if (c->events == events) return;
  bool ok = c->events == 0 ? loop_->Add(c->fd, events | kEdge, c)
                           : loop_->Modify(c->fd, events | kEdge, c);
  if (ok) c->events = events;
}

}  // namespace stampede::agent
