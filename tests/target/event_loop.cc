#include "tests/target/event_loop.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <utility>

#include "absl/memory/memory.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace stampede::target {
namespace {

constexpr size_t kMaxHeadBytes = 64 * 1024;
constexpr size_t kXChunk = 256 * 1024;
constexpr size_t kScratchSize = 64 * 1024;
constexpr int kAcceptBatch = 64;
constexpr int kMaxEvents = 256;
constexpr absl::Duration kLingerTimeout = absl::Seconds(2);
constexpr absl::Duration kAcceptBackoff = absl::Milliseconds(100);

// epoll user data: small ids name the loop's own fds, the rest name
// connections.
constexpr uint64_t kListenerId = 1;
constexpr uint64_t kWakeId = 2;
constexpr uint64_t kTimerId = 3;
constexpr uint64_t kFirstConnId = 16;

const char* XChunk() {
  static const std::string* const kChunk = new std::string(kXChunk, 'x');
  return kChunk->data();
}

absl::Status ErrnoError(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", strerror(errno)));
}

// "127.0.0.2" or "::1": the host part of a client address.
std::string PeerHost(const sockaddr_storage& peer) {
  char text[INET6_ADDRSTRLEN] = "";
  if (peer.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(peer).sin_addr,
              text, sizeof(text));
  } else if (peer.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(peer).sin6_addr,
              text, sizeof(text));
  }
  return text;
}

void CloseFd(int fd) {
  if (fd >= 0) close(fd);
}

}  // namespace

absl::Duration MonotonicNow() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return absl::DurationFromTimespec(ts);
}

void InputBuffer::Append(const char* p, size_t n) {
  if (cap_ - end_ < n) {
    const size_t size = end_ - begin_;
    if (cap_ - size >= n) {
      std::memmove(data_.get(), data_.get() + begin_, size);
    } else {
      size_t cap = std::max({cap_ * 2, size + n, size_t{1024}});
      auto data = std::make_unique_for_overwrite<char[]>(cap);
      if (size > 0) std::memcpy(data.get(), data_.get() + begin_, size);
      data_ = std::move(data);
      cap_ = cap;
    }
    begin_ = 0;
    end_ = size;
  }
  std::memcpy(data_.get() + end_, p, n);
  end_ += n;
}

Conn::~Conn() {
  if (ssl != nullptr) SSL_free(ssl);
}

absl::StatusOr<std::unique_ptr<EventLoop>> EventLoop::Create(
    int listen_fd, int index,
    const std::vector<std::unique_ptr<EventLoop>>* peers, SSL_CTX* tls,
    Faults* faults, AppState* state) {
  auto loop = absl::WrapUnique(
      new EventLoop(listen_fd, index, peers, tls, faults, state));
  loop->epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (loop->epoll_fd_ < 0) return ErrnoError("epoll_create1");
  loop->wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (loop->wake_fd_ < 0) return ErrnoError("eventfd");
  loop->timer_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (loop->timer_fd_ < 0) return ErrnoError("timerfd_create");
  for (auto [fd, id] :
       {std::pair{listen_fd, kListenerId}, std::pair{loop->wake_fd_, kWakeId},
        std::pair{loop->timer_fd_, kTimerId}}) {
    epoll_event ev = {};
    ev.events = EPOLLIN;
    ev.data.u64 = id;
    if (epoll_ctl(loop->epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0)
      return ErrnoError("epoll_ctl");
  }
  return loop;
}

EventLoop::EventLoop(int listen_fd, int index,
                     const std::vector<std::unique_ptr<EventLoop>>* peers,
                     SSL_CTX* tls, Faults* faults, AppState* state)
    : tls_(tls),
      listen_fd_(listen_fd),
      index_(index),
      peers_(peers),
      faults_(faults),
      state_(state),
      loop_faults_(faults, std::random_device()() ^ index),
      freeze_epoch_(faults->freeze_epoch()),
      ws_close_(faults->ws_close()),
      next_conn_id_(kFirstConnId),
      scratch_(std::make_unique_for_overwrite<char[]>(kScratchSize)) {}

EventLoop::~EventLoop() {
  for (auto& [id, conn] : conns_) CloseFd(conn->fd);
  CloseFd(listen_fd_);
  CloseFd(epoll_fd_);
  CloseFd(wake_fd_);
  CloseFd(timer_fd_);
}

void EventLoop::Wake() {
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof(one));
}

void EventLoop::Stop() {
  stopping_.store(true);
  Wake();
}

void EventLoop::Run() {
  std::string name = absl::StrCat("target-", index_);
  pthread_setname_np(pthread_self(), name.c_str());
  epoll_event events[kMaxEvents];
  while (!stopping_.load()) {
    int n = epoll_wait(epoll_fd_, events, kMaxEvents, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      absl::FPrintF(stderr, "stampede-target: %s: epoll_wait: %s\n", name,
                    strerror(errno));
      break;
    }
    for (int i = 0; i < n; ++i) {
      uint64_t id = events[i].data.u64;
      if (id == kWakeId) {
        OnWake();
      } else if (id == kListenerId) {
        OnAccept();
      } else if (id == kTimerId) {
        OnTimer();
      } else if (auto it = conns_.find(id); it != conns_.end()) {
        OnConnEvent(*it->second, events[i].events);
      }
    }
  }
  for (auto& [id, conn] : conns_) CloseFd(conn->fd);
  conns_.clear();
}

// A fault changed somewhere: apply what concerns connections already here.
void EventLoop::OnWake() {
  uint64_t count;
  [[maybe_unused]] ssize_t n = read(wake_fd_, &count, sizeof(count));
  if (stopping_.load()) return;
  if (uint64_t epoch = faults_->freeze_epoch(); epoch != freeze_epoch_) {
    // A freeze began, changed or ended: look again at what waits for one.
    freeze_epoch_ = epoch;
    const absl::Duration now = MonotonicNow();
    ForEachConn([&](Conn& conn) {
      if (conn.ws != nullptr) {
        Advance(conn);
      } else if (conn.waiting && conn.held) {
        FireTimer({now, conn.id, conn.wait_token, conn.wait_kind});
      }
    });
  }
  if (uint64_t ws_close = faults_->ws_close(); ws_close != ws_close_) {
    ws_close_ = ws_close;
    const uint16_t code = static_cast<uint16_t>(ws_close & 0xFFFF);
    ForEachConn([&](Conn& conn) {
      if (conn.ws == nullptr || conn.ws->state != WsConn::State::kOpen ||
          conn.closing || conn.lingering) {
        return;
      }
      SendWsClose(conn, code, /*reply=*/false);
      Advance(conn);
    });
  }
}

void EventLoop::OnAccept() {
  for (int i = 0; i < kAcceptBatch; ++i) {
    sockaddr_storage peer = {};
    socklen_t peer_len = sizeof(peer);
    int fd = accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &peer_len,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      // Out of fds or memory: the pending connection stays queued and the
      // listener stays readable, so pause accepting for a moment instead of
      // spinning.
      if (!accept_error_logged_) {
        accept_error_logged_ = true;
        absl::FPrintF(
            stderr, "stampede-target: target-%d: accept: %s; pausing accepts\n",
            index_, strerror(errno));
      }
      SetListenerEvents(0);
      AddTimer(MonotonicNow() + kAcceptBackoff, 0, TimerKind::kResumeAccept);
      return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    auto conn = std::make_unique<Conn>();
    if (tls_ != nullptr) {
      conn->ssl = SSL_new(tls_);
      if (conn->ssl == nullptr || SSL_set_fd(conn->ssl, fd) != 1) {
        ERR_clear_error();
        close(fd);
        continue;
      }
      SSL_set_accept_state(conn->ssl);  // The handshake runs in reads.
    }
    conn->fd = fd;
    conn->id = next_conn_id_++;
    conn->events = EPOLLIN | EPOLLRDHUP;
    epoll_event ev = {};
    ev.events = conn->events;
    ev.data.u64 = conn->id;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      close(fd);
      continue;
    }
    stats_.CountConnection(PeerHost(peer));
    conns_.emplace(conn->id, std::move(conn));
  }
}

void EventLoop::SetListenerEvents(uint32_t events) {
  epoll_event ev = {};
  ev.events = events;
  ev.data.u64 = kListenerId;
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, listen_fd_, &ev);
}

void EventLoop::AddTimer(absl::Duration deadline, uint64_t conn_id,
                         TimerKind kind, uint32_t token) {
  timers_.push(Timer{deadline, conn_id, token, kind});
  if (armed_ == absl::ZeroDuration() || deadline < armed_) ArmTimer(deadline);
}

void EventLoop::ArmTimer(absl::Duration deadline) {
  itimerspec spec = {};
  spec.it_value = absl::ToTimespec(deadline);
  if (spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0)
    spec.it_value.tv_nsec = 1;
  timerfd_settime(timer_fd_, TFD_TIMER_ABSTIME, &spec, nullptr);
  armed_ = deadline;
}

void EventLoop::OnTimer() {
  uint64_t expirations;
  [[maybe_unused]] ssize_t n =
      read(timer_fd_, &expirations, sizeof(expirations));
  armed_ = absl::ZeroDuration();
  absl::Duration now = MonotonicNow();
  while (!timers_.empty() && timers_.top().deadline <= now) {
    Timer timer = timers_.top();
    timers_.pop();
    FireTimer(timer);
  }
  if (!timers_.empty()) ArmTimer(timers_.top().deadline);
}

void EventLoop::FireTimer(const Timer& timer) {
  if (timer.kind == TimerKind::kResumeAccept) {
    SetListenerEvents(EPOLLIN);
    return;
  }
  // The connection may be gone (and its id is never reused: ids only grow).
  auto it = conns_.find(timer.conn_id);
  if (it == conns_.end()) return;
  Conn& conn = *it->second;
  switch (timer.kind) {
    case TimerKind::kLinger:
      if (conn.lingering) Close(conn);
      return;
    case TimerKind::kWsPoke:
      if (conn.ws == nullptr) return;
      if (timer.deadline == conn.ws->poke_at)
        conn.ws->poke_at = absl::InfiniteDuration();
      Advance(conn);
      return;
    case TimerKind::kWsCloseWait:
      // Still no close from the client (which would have set `closing`).
      if (conn.ws != nullptr && !conn.closing && !conn.lingering) Close(conn);
      return;
    default:
      break;
  }
  if (!conn.waiting || timer.token != conn.wait_token) return;  // stale
  conn.waiting = conn.held = false;
  if (timer.kind == TimerKind::kDelay) {
    Respond(conn, 200, kTextPlain, "ok", 0, /*count=*/true);
  } else if (timer.kind == TimerKind::kSse) {
    SendSse(conn, timer.deadline);
  } else {
    Dispatch(conn);  // the request held by a freeze or latency, as if new
  }
  Advance(conn);
}

void EventLoop::Wait(Conn& conn, absl::Duration deadline, TimerKind kind,
                     bool held) {
  conn.waiting = true;
  conn.held = held;
  conn.wait_kind = kind;
  AddTimer(deadline, conn.id, kind, ++conn.wait_token);
}

void EventLoop::OnConnEvent(Conn& conn, uint32_t events) {
  if (events & (EPOLLERR | EPOLLHUP)) {
    Close(conn);
    return;
  }
  bool readable = (events & (EPOLLIN | EPOLLRDHUP)) ||
                  (conn.ssl_wants_write && (events & EPOLLOUT));
  if (readable && !conn.peer_eof) {
    ssize_t n;
    do {  // TLS may hold decrypted bytes that no epoll event announces.
      n = Receive(conn, scratch_.get(), kScratchSize);
      if (n <= 0 || conn.closing || conn.lingering) continue;  // discarded
      if (conn.ws != nullptr) {
        FeedWs(conn, scratch_.get(), n);
      } else {
        conn.in.Append(scratch_.get(), n);
      }
    } while (n > 0 && conn.ssl != nullptr && SSL_pending(conn.ssl) > 0);
    if (n == 0) {
      conn.peer_eof = true;
    } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
               errno != EINTR) {
      Close(conn);
      return;
    }
    if (conn.lingering && conn.peer_eof) {
      Close(conn);
      return;
    }
    if (conn.closing || conn.lingering) conn.in.Clear();
  }
  Advance(conn);
}

void EventLoop::Advance(Conn& conn) {
  while (true) {
    bool more = false;
    if (!conn.closing && !conn.lingering)
      more = conn.ws != nullptr ? ServiceWs(conn) : ProcessInput(conn);
    if (!Flush(conn)) {
      Close(conn);
      return;
    }
    if (!more || conn.Unsent() > 0) break;
  }
  if (conn.reset) {
    Reset(conn);
    return;
  }
  if (conn.closing && conn.Unsent() == 0 && !conn.lingering) {
    if (conn.peer_eof) {
      Close(conn);
      return;
    }
    // Closing now could reset the connection (and lose the response) if the
    // client sent more; shut our side and drain theirs until they close or
    // the linger time runs out.
    if (conn.ssl != nullptr && SSL_shutdown(conn.ssl) < 0) ERR_clear_error();
    shutdown(conn.fd, SHUT_WR);
    conn.lingering = true;
    conn.in.Clear();
    AddTimer(MonotonicNow() + kLingerTimeout, conn.id, TimerKind::kLinger);
  } else if (conn.peer_eof && !conn.closing && !conn.lingering) {
    // A peer that hangs up during a /delay is gone; otherwise finish what it
    // asked (a WebSocket that ends without a close gets what is already sent).
    if (conn.waiting || conn.Unsent() == 0) {
      Close(conn);
      return;
    }
  }
  uint32_t want = 0;
  if (!conn.peer_eof) {
    want |= EPOLLRDHUP;
    bool blocked = conn.ws != nullptr ? WsReadBlocked(conn)
                                      : conn.waiting || conn.x_remaining > 0 ||
                                            conn.Unsent() >= kOutHighWater;
    if (conn.lingering || (!conn.closing && !blocked)) want |= EPOLLIN;
  }
  if (conn.Unsent() > 0 || conn.ssl_wants_write) want |= EPOLLOUT;
  if (want != conn.events) {
    epoll_event ev = {};
    ev.events = want;
    ev.data.u64 = conn.id;
    epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, conn.fd, &ev);
    conn.events = want;
  }
}

// Handles complete requests in order. Returns true if it stopped only because
// of unsent output (or because the connection became a WebSocket), i.e. there
// may be more to do once that is sent.
bool EventLoop::ProcessInput(Conn& conn) {
  while (!conn.closing && !conn.waiting) {
    if (conn.ws != nullptr) return true;
    if (conn.x_remaining > 0 || conn.Unsent() >= kOutHighWater) return true;
    if (conn.body_remaining > 0) {
      uint64_t n = std::min<uint64_t>(conn.in.size(), conn.body_remaining);
      if (conn.kept != nullptr && conn.pending.route == Route::kApi)
        conn.kept->body.append(conn.in.data(), n);
      conn.in.Consume(n);
      conn.body_remaining -= n;
      if (conn.body_remaining > 0) return false;
      Dispatch(conn);
      continue;
    }
    // Tolerate stray line breaks between requests (some clients add them
    // after bodies).
    while (conn.scan_from == 0 && conn.in.size() > 0 &&
           (conn.in.View()[0] == '\r' || conn.in.View()[0] == '\n')) {
      conn.in.Consume(1);
    }
    if (conn.in.size() == 0) return false;
    size_t head_len = FindHeadEnd(conn.in.View(), &conn.scan_from);
    if (head_len == 0 && conn.in.size() <= kMaxHeadBytes) return false;
    conn.scan_from = 0;
    if (head_len == 0 || head_len > kMaxHeadBytes) {
      RespondError(conn, 431, "request header section too large");
      return false;
    }
    RequestHead req;
    if (!ParseRequestHead(conn.in.View().substr(0, head_len), &req)) {
      RespondError(conn, 400, "malformed request");
      return false;
    }
    stats_.CountUserAgent(req.user_agent);
    absl::string_view path;
    conn.pending = RouteRequest(req, &path, &conn.upgrade_headers);
    conn.path.assign(path.data(), path.size());
    if (NeedsRequestCopy(conn.pending.route)) {
      conn.kept = std::make_unique<StateRequest>();
      conn.kept->method.assign(req.method.data(), req.method.size());
      conn.kept->path = conn.path;
      const absl::string_view query = QueryOf(req.target);
      conn.kept->query.assign(query.data(), query.size());
      conn.kept->authorization.assign(req.authorization.data(),
                                      req.authorization.size());
      conn.kept->cookie.assign(req.cookie.data(), req.cookie.size());
    }
    conn.in.Consume(head_len);  // The last use of `req`'s views was above.
    if (req.chunked) {
      conn.pending.keep_alive = false;
      Respond(conn, 411, kTextPlain, "chunked request bodies are not supported",
              0, true);
      return false;
    }
    if (conn.pending.route == Route::kApi) {
      // The only bodies kept; the rest are discarded as they arrive.
      if (req.content_length > kMaxStateBody) {
        conn.pending.keep_alive = false;
        Respond(conn, 413, kTextPlain,
                absl::StrCat("request bodies here take at most ", kMaxStateBody,
                             " bytes"),
                0, true);
        return false;
      }
      conn.kept->body.reserve(req.content_length);
    }
    conn.body_remaining = req.content_length;
    if (conn.body_remaining == 0) Dispatch(conn);
  }
  return false;
}

// Sends until done or EAGAIN. False on a write error.
bool EventLoop::Flush(Conn& conn) {
  while (conn.Unsent() > 0) {
    iovec iov[2];
    int count = 0;
    size_t out_left = conn.out.size() - conn.out_off;
    if (out_left > 0) iov[count++] = {conn.out.data() + conn.out_off, out_left};
    if (conn.x_remaining > 0) {
      size_t n = std::min<uint64_t>(conn.x_remaining, kXChunk);
      iov[count++] = {const_cast<char*>(XChunk()), n};
    }
    ssize_t n = Send(conn, iov, count);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return false;
      conn.out.erase(0, conn.out_off);
      conn.out_off = 0;
      return true;
    }
    size_t from_out = std::min<size_t>(n, out_left);
    conn.out_off += from_out;
    conn.x_remaining -= n - from_out;
  }
  // Idle connections keep no output buffer.
  std::string().swap(conn.out);
  conn.out_off = 0;
  return true;
}

// recv(2) or SSL_read: > 0 bytes, 0 at the peer's end, or -1 with errno
// (EAGAIN while TLS waits for the socket).
ssize_t EventLoop::Receive(Conn& conn, char* p, size_t space) {
  if (conn.ssl == nullptr) return recv(conn.fd, p, space, 0);
  size_t n = 0;
  conn.ssl_wants_write = false;
  if (SSL_read_ex(conn.ssl, p, space, &n) == 1) return n;
  return TlsFailure(conn, /*reading=*/true);
}

// sendmsg(2) or SSL_write (of the first buffer; records are written one by
// one anyway), with Receive's conventions.
ssize_t EventLoop::Send(Conn& conn, const iovec* iov, int count) {
  if (conn.ssl == nullptr) {
    msghdr msg = {};
    msg.msg_iov = const_cast<iovec*>(iov);
    msg.msg_iovlen = count;
    return sendmsg(conn.fd, &msg, MSG_NOSIGNAL);
  }
  size_t n = 0;
  if (SSL_write_ex(conn.ssl, iov[0].iov_base, iov[0].iov_len, &n) == 1)
    return n;
  return TlsFailure(conn, /*reading=*/false);
}

ssize_t EventLoop::TlsFailure(Conn& conn, bool reading) {
  switch (SSL_get_error(conn.ssl, 0)) {
    case SSL_ERROR_WANT_WRITE:
      conn.ssl_wants_write = true;
      [[fallthrough]];
    case SSL_ERROR_WANT_READ:
      errno = EAGAIN;
      return -1;
    case SSL_ERROR_ZERO_RETURN:
      if (reading) return 0;
      [[fallthrough]];
    default:  // A failed handshake or a broken connection.
      ERR_clear_error();
      errno = ECONNRESET;
      return -1;
  }
}

void EventLoop::ForEachConn(const std::function<void(Conn&)>& fn) {
  std::vector<uint64_t> ids;
  ids.reserve(conns_.size());
  for (const auto& [id, conn] : conns_) ids.push_back(id);
  for (uint64_t id : ids) {
    if (auto it = conns_.find(id); it != conns_.end()) fn(*it->second);
  }
}

void EventLoop::Close(Conn& conn) {
  if (conn.ws != nullptr) stats_.CountWsGone();
  close(conn.fd);  // Also drops it from the epoll set.
  conns_.erase(conn.id);
}

void EventLoop::Reset(Conn& conn) {
  linger hard = {.l_onoff = 1, .l_linger = 0};  // close(2) sends an RST
  setsockopt(conn.fd, SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
  Close(conn);
}

}  // namespace stampede::target
