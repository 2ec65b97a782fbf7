// WsTransport: connections, the opening handshake and timers. The frames and
// messages of an open session are in session.cc.
#include "agent/ws/transport.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/http1/request.h"
#include "agent/net/url.h"
#include "agent/ws/internal.h"

namespace stampede::agent {

using common::ErrorId;

namespace {

constexpr size_t kReadBufferSize = 64 * 1024;
constexpr size_t kMaxHandshakeBytes = 16 * 1024;

// Edge-triggered, both directions, registered once per socket.
constexpr uint32_t kEvents = EPOLLIN | EPOLLOUT | EPOLLET | EPOLLRDHUP;

// A header's value in a response head, "" if absent (first occurrence).
absl::string_view HeaderValue(absl::string_view head, absl::string_view name) {
  size_t pos = head.find("\r\n");
  while (pos != absl::string_view::npos && pos + 2 < head.size()) {
    const size_t start = pos + 2;
    const size_t end = head.find("\r\n", start);
    if (end == absl::string_view::npos || end == start) break;
    absl::string_view line = head.substr(start, end - start);
    const size_t colon = line.find(':');
    if (colon != absl::string_view::npos &&
        absl::EqualsIgnoreCase(line.substr(0, colon), name)) {
      return absl::StripAsciiWhitespace(line.substr(colon + 1));
    }
    pos = end;
  }
  return {};
}

bool HasToken(absl::string_view list, absl::string_view token) {
  for (absl::string_view part : absl::StrSplit(list, ',')) {
    if (absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(part), token))
      return true;
  }
  return false;
}

}  // namespace

absl::StatusOr<std::unique_ptr<WsTransport>> WsTransport::Create(
    EventLoop* loop, Listener* listener, size_t max_connections,
    const WsOptions& options, const tls::ClientOptions& tls_options) {
  if (max_connections == 0)
    return absl::InvalidArgumentError("websocket transport: no connections");
  std::unique_ptr<WsTransport> t(
      new WsTransport(loop, listener, max_connections, options, tls_options));
  if (!tls_options.ca_file.empty()) {
    auto context = tls::ClientContext::Create(t->tls_options_);
    if (!context.ok()) return context.status();
    t->tls_context_ = std::move(*context);
  }
  return t;
}

WsTransport::WsTransport(EventLoop* loop, Listener* listener,
                         size_t max_connections, const WsOptions& options,
                         const tls::ClientOptions& tls_options)
    : loop_(loop),
      listener_(listener),
      options_(options),
      tls_options_(tls_options),
      dialer_(loop),
      rng_(std::random_device{}()),
      read_buffer_(new char[kReadBufferSize]) {
  tls_options_.alpn = {"http/1.1"};
  slots_.reserve(max_connections);
  free_.reserve(max_connections);
  failures_.reserve(max_connections);
  timers_.reserve(2 * max_connections);
  for (size_t i = 0; i < max_connections; ++i) {
    slots_.push_back(std::make_unique<Conn>(this, static_cast<uint32_t>(i),
                                            options.max_message_size));
  }
  for (size_t i = max_connections; i > 0; --i)
    free_.push_back(slots_[i - 1].get());
  frame_.reserve(std::max<size_t>(
      256, common::ws::kMaxHeaderSize + options.size + options.prefix.size() +
               options.suffix.size() + 20));
}

WsTransport::~WsTransport() {
  for (auto& c : slots_) {
    c->tls.Close(false);
    if (c->fd >= 0) {
      loop_->Remove(c->fd);
      close(c->fd);
    }
  }
}

void WsTransport::Prepare(const PreparedRequest& request) {
  auto [it, inserted] = targets_.try_emplace(&request);
  if (!inserted) return;
  Target& t = it->second;
  t.timeout_ns = request.timeout_ms > 0 ? request.timeout_ms * 1'000'000 : 0;
  std::optional<net::Url> url = net::ParseUrl(request.url);
  if (!url) {
    t.error = ErrorId::kTransportOther;
    return;
  }
  if (url->https && !tls::EnsureContext(tls_options_, &tls_context_)) {
    t.error = ErrorId::kTlsError;
    return;
  }
  t.https = url->https;
  t.host = url->host;
  t.port = net::PortOf(url->port);
  t.name = dialer_.Add(url->host);
  if (t.name < 0) {
    t.error = ErrorId::kLocalOther;
    return;
  }
  t.sessions = std::make_unique<tls::SessionCache>();
  t.head = absl::StrCat("GET ", url->target.empty() ? "/" : url->target,
                        " HTTP/1.1\r\nHost: ", url->authority,
                        "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Version: 13\r\n");
  if (!options_.subprotocol.empty()) {
    absl::StrAppend(&t.head, "Sec-WebSocket-Protocol: ", options_.subprotocol,
                    "\r\n");
  }
  for (const std::string& h : request.headers) {
    // libcurl's conventions, as the other engines: "Name:" sends nothing,
    // "Name;" sends the header empty.
    const size_t colon = h.find(':');
    if (colon == std::string::npos) {
      if (!h.empty() && h.back() == ';')
        absl::StrAppend(&t.head, h.substr(0, h.size() - 1), ":\r\n");
      continue;
    }
    if (net::TrimSpace(std::string_view(h).substr(colon + 1)).empty()) continue;
    absl::StrAppend(&t.head, h, "\r\n");
  }
  t.head.append("Sec-WebSocket-Key: ");
}

void WsTransport::Send(const Sent& sent) {
  auto it = targets_.find(sent.request);
  if (it == targets_.end()) {
    Prepare(*sent.request);
    it = targets_.find(sent.request);
  }
  const Target& target = it->second;
  Conn* c = free_.back();
  free_.pop_back();
  ++open_;
  c->Reset(&target, sent);
  if (sent.vu != Sent::kNoVu) {
    if (by_vu_.size() <= sent.vu) by_vu_.resize(sent.vu + 1, nullptr);
    by_vu_[sent.vu] = c;
  }
  ErrorId error = target.error;
  if (error == ErrorId::kNone) error = Connect(c);
  if (error != ErrorId::kNone) {
    // Reported from OnDeadline: Send never calls the listener.
    Release(c);
    ++open_;
    failures_.push_back({sent, error, EventLoop::MonoNowNs()});
  }
}

ErrorId WsTransport::Connect(Conn* c) {
  const Target& t = *c->target;
  int fd = -1;
  sockaddr_storage addr;
  socklen_t addr_len = 0;
  if (const ErrorId error = dialer_.Open(t.name, t.port, t.host, &fd, &addr,
                                         &addr_len, &c->dns_ns);
      error != ErrorId::kNone) {
    return error;
  }
  const int64_t now = EventLoop::MonoNowNs();
  c->fd = fd;
  c->phase_start_ns = now;
  c->deadline_ns = t.timeout_ns > 0 ? c->sent.sent_ns + t.timeout_ns : 0;
  if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), addr_len) != 0 &&
      errno != EINPROGRESS && errno != EINTR) {
    const ErrorId error = common::ErrorIdFromConnectErrno(errno);
    close(fd);
    c->fd = -1;
    return error;
  }
  if (!loop_->Add(fd, kEvents, c)) {
    close(fd);
    c->fd = -1;
    return ErrorId::kLocalOther;
  }
  c->state = Conn::State::kConnecting;
  Reschedule(c);
  return ErrorId::kNone;
}

ErrorId WsTransport::OnConnected(Conn* c) {
  const int64_t now = EventLoop::MonoNowNs();
  c->connect_ns = now - c->phase_start_ns;
  if (!c->target->https) return WriteUpgrade(c);
  if (!c->tls.Open(*tls_context_, c->fd, c->target->host,
                   c->target->sessions.get())) {
    return ErrorId::kLocalOther;
  }
  c->state = Conn::State::kTls;
  c->phase_start_ns = now;
  return Handshake(c);
}

ErrorId WsTransport::Handshake(Conn* c) {
  switch (c->tls.Handshake()) {
    case tls::Io::kOk:
      c->tls_ns = EventLoop::MonoNowNs() - c->phase_start_ns;
      return WriteUpgrade(c);
    case tls::Io::kWantRead:
    case tls::Io::kWantWrite:
      return ErrorId::kNone;  // both directions are watched
    case tls::Io::kEof:
    case tls::Io::kError:
      break;
  }
  return c->tls.error();
}

ErrorId WsTransport::WriteUpgrade(Conn* c) {
  // A fresh random key per connection, and the answer it must get.
  uint8_t nonce[16];
  for (size_t i = 0; i < sizeof(nonce); i += 8) {
    const uint64_t r = rng_();
    std::memcpy(nonce + i, &r, 8);
  }
  const std::string key = absl::Base64Escape(
      absl::string_view(reinterpret_cast<const char*>(nonce), sizeof(nonce)));
  const std::string accept = common::ws::AcceptFor(key);
  std::memcpy(c->accept, accept.data(), sizeof(c->accept));
  c->state = Conn::State::kUpgrading;
  frame_.assign(c->target->head);
  absl::StrAppend(&frame_, key, "\r\n\r\n");
  c->upgrade_bytes = static_cast<int64_t>(frame_.size());
  if (!Write(c, frame_.data(), frame_.size())) return c->write_error;
  c->written_ns = EventLoop::MonoNowNs();
  return ErrorId::kNone;
}

void WsTransport::OnEvents(Conn* c, uint32_t events) {
  switch (c->state) {
    case Conn::State::kFree:
      return;
    case Conn::State::kConnecting: {
      int err = 0;
      socklen_t len = sizeof(err);
      getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        FailHandshake(c, common::ErrorIdFromConnectErrno(err), 0);
        return;
      }
      if ((events & EPOLLOUT) == 0) return;
      if (ErrorId error = OnConnected(c); error != ErrorId::kNone) {
        FailHandshake(c, error, 0);
      }
      return;
    }
    case Conn::State::kTls:
      if (ErrorId error = Handshake(c); error != ErrorId::kNone) {
        FailHandshake(c, error, 0);
        return;
      }
      if (c->state == Conn::State::kTls) return;
      break;  // the upgrade is out: read what may have come
    default:
      break;
  }
  if (!c->out.empty() && !Flush(c)) {
    if (c->state == Conn::State::kUpgrading) {
      FailHandshake(c, c->write_error, 0);
    } else {
      EndSessionNow(c, c->write_error, 0);
    }
    return;
  }
  ReadAll(c);
}

bool WsTransport::ReadAll(Conn* c) {
  char* buffer = read_buffer_.get();
  while (true) {
    ssize_t n;
    ErrorId error = ErrorId::kNone;
    if (c->target->https) {
      size_t got = 0;
      switch (c->tls.Read(buffer, kReadBufferSize, &got)) {
        case tls::Io::kOk:
          n = static_cast<ssize_t>(got);
          break;
        case tls::Io::kWantRead:
        case tls::Io::kWantWrite:
          return true;
        case tls::Io::kEof:
          n = 0;
          break;
        case tls::Io::kError:
        default:
          n = -1;
          error = c->tls.error();
          break;
      }
    } else {
      n = recv(c->fd, buffer, kReadBufferSize, 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
        error = IoError(errno);
      }
    }
    if (n > 0) {
      if (!OnBytes(c, buffer, static_cast<size_t>(n))) return false;
      continue;
    }
    // The peer closed, or the connection broke.
    if (c->state == Conn::State::kUpgrading) {
      FailHandshake(c, n == 0 ? ErrorId::kTcpReset : error, 0);
    } else if (n == 0) {
      EndSessionNow(c, ErrorId::kNone, common::ws::kCloseAbnormal);
    } else {
      EndSessionNow(c, error, 0);
    }
    return false;
  }
}

bool WsTransport::OnBytes(Conn* c, char* data, size_t n) {
  const int64_t now = EventLoop::MonoNowNs();
  c->bytes_in += static_cast<int64_t>(n);
  if (c->state == Conn::State::kUpgrading) {
    if (c->head.empty()) c->ttfb_ns = now - c->written_ns;
    const size_t before = c->head.size();
    c->head.append(data, std::min(n, kMaxHandshakeBytes + 4 - before));
    const size_t end = c->head.find("\r\n\r\n", before >= 3 ? before - 3 : 0);
    if (end == std::string::npos) {
      if (c->head.size() > kMaxHandshakeBytes) {
        FailHandshake(c, ErrorId::kHttpProtocol, 0);
        return false;
      }
      return true;
    }
    const size_t head_len = end + 4;
    // What came after the head is the first frames; it is the end of `data`.
    const size_t rest = before + n - head_len;
    if (!OnUpgradeResponse(c, head_len, now)) return false;
    std::string().swap(c->head);
    c->bytes_in = static_cast<int64_t>(rest);
    if (rest == 0) {
      if (!OnTimer(c, now)) return false;
      Reschedule(c);
      return true;
    }
    data += n - rest;
    n = rest;
  }
  return OnFrames(c, reinterpret_cast<uint8_t*>(data), n, now);
}

bool WsTransport::OnUpgradeResponse(Conn* c, size_t head_len, int64_t now) {
  absl::string_view head(c->head.data(), head_len);
  int status = 0;
  if (!absl::StartsWith(head, "HTTP/1.") || head.size() < 12 ||
      !absl::SimpleAtoi(head.substr(9, 3), &status) || status < 100 ||
      status > 599) {
    FailHandshake(c, ErrorId::kHttpProtocol, 0);
    return false;
  }
  if (status != 101) {
    // The worker names it ws_upgrade_<status>.
    FailHandshake(c, ErrorId::kNone, status);
    return false;
  }
  const absl::string_view protocol =
      HeaderValue(head, "sec-websocket-protocol");
  const bool ok =
      absl::EqualsIgnoreCase(HeaderValue(head, "upgrade"), "websocket") &&
      HasToken(HeaderValue(head, "connection"), "upgrade") &&
      HeaderValue(head, "sec-websocket-accept") ==
          absl::string_view(c->accept, sizeof(c->accept)) &&
      protocol == options_.subprotocol &&
      HeaderValue(head, "sec-websocket-extensions").empty();
  if (!ok) {
    FailHandshake(c, ErrorId::kWsProtocol, 101);
    return false;
  }
  c->state = Conn::State::kOpen;
  c->open_ns = now;
  c->end_at_ns = options_.hold_ns > 0 ? now + options_.hold_ns : 0;
  c->next_send_ns = options_.mode == WsOptions::Mode::kListen ? INT64_MAX : now;
  Outcome outcome;
  outcome.status = 101;
  outcome.session_open = true;
  outcome.bytes_in = static_cast<int64_t>(head_len);
  outcome.bytes_out = c->upgrade_bytes;
  outcome.dns_ns = c->dns_ns;
  outcome.connect_ns = c->connect_ns;
  outcome.tls_ns = c->tls_ns;
  outcome.ttfb_ns = c->ttfb_ns;
  c->bytes_out = 0;
  const uint32_t generation = c->generation;
  listener_->OnDone(c->sent, outcome, now);
  if (c->generation != generation || c->state != Conn::State::kOpen)
    return false;
  if (c->end_requested || ending_all_) return BeginClose(c, now);
  return true;
}

void WsTransport::FailHandshake(Conn* c, ErrorId error, int status) {
  const int64_t now = EventLoop::MonoNowNs();
  Outcome outcome;
  outcome.status = status;
  outcome.error = error;
  outcome.bytes_in = c->bytes_in;
  outcome.bytes_out = c->upgrade_bytes;
  outcome.dns_ns = c->dns_ns;
  outcome.connect_ns = c->connect_ns;
  outcome.tls_ns = c->tls_ns;
  outcome.ttfb_ns = c->ttfb_ns;
  const Sent sent = c->sent;
  Release(c);
  listener_->OnDone(sent, outcome, now);
}

void WsTransport::EndSessionNow(Conn* c, ErrorId error, uint16_t close_code) {
  const int64_t now = EventLoop::MonoNowNs();
  SessionEnd end;
  end.error = error;
  end.close_code = close_code;
  end.lifetime_ns = now - c->open_ns;
  end.bytes_in = c->bytes_in;
  end.bytes_out = c->bytes_out;
  const Sent sent = c->sent;
  // The TCP close follows the close handshake, or replaces it.
  Release(c);
  listener_->OnSessionEnd(sent, end, now);
}

void WsTransport::Release(Conn* c) {
  c->tls.Close(c->state == Conn::State::kClosing);
  if (c->fd >= 0) {
    loop_->Remove(c->fd);
    close(c->fd);
    c->fd = -1;
  }
  if (c->sent.vu != Sent::kNoVu && c->sent.vu < by_vu_.size() &&
      by_vu_[c->sent.vu] == c) {
    by_vu_[c->sent.vu] = nullptr;
  }
  c->state = Conn::State::kFree;
  ++c->generation;
  c->due_ns = 0;
  std::string().swap(c->out);
  std::string().swap(c->head);
  free_.push_back(c);
  --open_;
}

void WsTransport::EndSession(uint32_t vu) {
  if (vu >= by_vu_.size() || by_vu_[vu] == nullptr) return;
  Conn* c = by_vu_[vu];
  if (c->state == Conn::State::kOpen) {
    BeginClose(c, EventLoop::MonoNowNs());
  } else {
    c->end_requested = true;
  }
}

void WsTransport::EndAllSessions() {
  ending_all_ = true;
  const int64_t now = EventLoop::MonoNowNs();
  for (auto& slot : slots_) {
    Conn* c = slot.get();
    if (c->state == Conn::State::kOpen) {
      BeginClose(c, now);
    } else if (c->state != Conn::State::kFree) {
      c->end_requested = true;
    }
  }
}

void WsTransport::Reschedule(Conn* c) {
  int64_t due = INT64_MAX;
  switch (c->state) {
    case Conn::State::kFree:
      return;
    case Conn::State::kConnecting:
    case Conn::State::kTls:
    case Conn::State::kUpgrading:
      if (c->deadline_ns > 0) due = c->deadline_ns;
      break;
    case Conn::State::kClosing:
      due = c->close_deadline_ns;
      break;
    case Conn::State::kOpen:
      if (c->end_at_ns > 0) due = std::min(due, c->end_at_ns);
      if (c->CanSend(options_)) due = std::min(due, c->next_send_ns);
      if (c->Outstanding() > 0)
        due = std::min(due, c->OldestSentNs() + options_.reply_timeout_ns);
      break;
  }
  if (due == INT64_MAX || due == c->due_ns) return;
  c->due_ns = due;
  timers_.emplace_back(due, c->index);
  std::push_heap(timers_.begin(), timers_.end(), std::greater<>());
}

int64_t WsTransport::DeadlineNs() const {
  if (!failures_.empty()) return failures_.front().done_ns;
  return timers_.empty() ? 0 : timers_.front().first;
}

void WsTransport::OnDeadline() {
  // The listener may Send (and so add failures) while this runs.
  while (!failures_.empty()) {
    const Failure f = failures_.back();
    failures_.pop_back();
    --open_;
    Outcome outcome;
    outcome.error = f.error;
    listener_->OnDone(f.sent, outcome, f.done_ns);
  }
  const int64_t now = EventLoop::MonoNowNs();
  while (!timers_.empty() && timers_.front().first <= now) {
    std::pop_heap(timers_.begin(), timers_.end(), std::greater<>());
    const auto [due, index] = timers_.back();
    timers_.pop_back();
    Conn* c = slots_[index].get();
    if (c->state == Conn::State::kFree || c->due_ns != due) continue;
    c->due_ns = 0;
    if (OnTimer(c, now)) Reschedule(c);
  }
}

}  // namespace stampede::agent
