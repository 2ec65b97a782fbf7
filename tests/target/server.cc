#include "tests/target/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/memory/memory.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace stampede::target {
namespace {

constexpr size_t kMaxHeadBytes = 64 * 1024;
constexpr uint64_t kMaxBytesBody = 16 * 1024 * 1024;
constexpr uint64_t kMaxDelayMs = 600000;
constexpr size_t kMaxTrackedPaths = 10000;
// Stop parsing pipelined requests while this much output is unsent, so a client
// that never reads cannot make us buffer without bound.
constexpr size_t kOutHighWater = 256 * 1024;
// Bigger /bytes bodies are sent from a shared read-only buffer instead of being
// copied.
constexpr uint64_t kInlineBodyMax = 16 * 1024;
constexpr size_t kXChunk = 256 * 1024;
constexpr size_t kReadChunk = 16 * 1024;
constexpr size_t kShrinkOutputAbove = 1024 * 1024;
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

constexpr absl::string_view kTextPlain = "text/plain";
constexpr absl::string_view kJson = "application/json";

const char* XChunk() {
  static const std::string* const kChunk = new std::string(kXChunk, 'x');
  return kChunk->data();
}

absl::Duration MonotonicNow() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return absl::DurationFromTimespec(ts);
}

absl::Status ErrnoError(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", strerror(errno)));
}

struct Reason {
  int status;
  absl::string_view phrase;
};

constexpr Reason kReasons[] = {
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {204, "No Content"},
    {206, "Partial Content"},
    {301, "Moved Permanently"},
    {302, "Found"},
    {303, "See Other"},
    {304, "Not Modified"},
    {307, "Temporary Redirect"},
    {308, "Permanent Redirect"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {408, "Request Timeout"},
    {409, "Conflict"},
    {410, "Gone"},
    {411, "Length Required"},
    {413, "Content Too Large"},
    {418, "I'm a teapot"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
};

absl::string_view ReasonPhrase(int status) {
  for (const Reason& reason : kReasons) {
    if (reason.status == status) return reason.phrase;
  }
  if (status < 300) return "Success";
  if (status < 400) return "Redirection";
  if (status < 500) return "Client Error";
  return "Server Error";
}

// Digits only (no sign, no spaces), at most `max`.
bool ParseBoundedDecimal(absl::string_view text, uint64_t max, uint64_t* out) {
  if (text.empty() || text.size() > 18) return false;
  uint64_t value = 0;
  for (char c : text) {
    if (!absl::ascii_isdigit(c)) return false;
    value = value * 10 + (c - '0');
  }
  if (value > max) return false;
  *out = value;
  return true;
}

bool IsTokenChar(char c) {
  return absl::ascii_isalnum(c) ||
         absl::string_view("!#$%&'*+-.^_`|~").find(c) !=
             absl::string_view::npos;
}

bool IsToken(absl::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), IsTokenChar);
}

// Finds the blank line ending a request head. Returns the head's length
// including that line, or 0 if it has not all arrived; *scan_from (a line
// start) lets the next call resume.
size_t FindHeadEnd(absl::string_view buf, size_t* scan_from) {
  size_t pos = *scan_from;
  while (true) {
    size_t nl = buf.find('\n', pos);
    if (nl == absl::string_view::npos) {
      *scan_from = pos;
      return 0;
    }
    bool blank = nl == pos || (nl == pos + 1 && buf[pos] == '\r');
    if (blank && pos > 0) return nl + 1;
    pos = nl + 1;
  }
}

enum class Route {
  kOk,
  kBytes,
  kDelay,
  kStatus,
  kStats,
  kStatsReset,
  kFreeze,
  kNotFound,
  kBadParameter,
  kUnauthorized,  // /auth/basic/USER/PASS without those credentials
};

// What a parsed request asks for; kept until its body is discarded or its delay
// expires.
struct Pending {
  Route route = Route::kOk;
  uint64_t arg = 0;
  bool keep_alive = true;
  bool http10 = false;
  bool head = false;
};

struct RequestHead {
  absl::string_view target;
  absl::string_view authorization;  // the Authorization header's value
  Pending pending;
  bool chunked = false;
  uint64_t content_length = 0;
};

Pending RouteFor(absl::string_view path, Pending pending) {
  uint64_t n = 0;
  if (path == "/") {
    pending.route = Route::kOk;
  } else if (absl::ConsumePrefix(&path, "/bytes/")) {
    bool ok = ParseBoundedDecimal(path, kMaxBytesBody, &n);
    pending.route = ok ? Route::kBytes : Route::kBadParameter;
  } else if (absl::ConsumePrefix(&path, "/delay/")) {
    bool ok = ParseBoundedDecimal(path, kMaxDelayMs, &n);
    pending.route = ok ? Route::kDelay : Route::kBadParameter;
  } else if (absl::ConsumePrefix(&path, "/status/")) {
    bool ok = ParseBoundedDecimal(path, 599, &n) && n >= 200;
    pending.route = ok ? Route::kStatus : Route::kBadParameter;
  } else if (path == "/stats") {
    pending.route = Route::kStats;
  } else if (path == "/stats/reset") {
    pending.route = Route::kStatsReset;
  } else if (absl::ConsumePrefix(&path, "/fault/freeze/")) {
    bool ok = ParseBoundedDecimal(path, kMaxDelayMs, &n);
    pending.route = ok ? Route::kFreeze : Route::kBadParameter;
  } else {
    pending.route = Route::kNotFound;
  }
  pending.arg = n;
  return pending;
}

// Parses a complete head (request line, header lines, blank line). False means
// 400.
bool ParseRequestHead(absl::string_view head, RequestHead* req) {
  size_t pos = 0;
  auto next_line = [&](absl::string_view* line) {
    size_t nl = head.find('\n', pos);
    if (nl == absl::string_view::npos) return false;
    size_t end = (nl > pos && head[nl - 1] == '\r') ? nl - 1 : nl;
    *line = head.substr(pos, end - pos);
    pos = nl + 1;
    return true;
  };

  absl::string_view line;
  if (!next_line(&line)) return false;
  size_t sp1 = line.find(' ');
  if (sp1 == absl::string_view::npos) return false;
  size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == absl::string_view::npos) return false;
  absl::string_view method = line.substr(0, sp1);
  absl::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  absl::string_view version = line.substr(sp2 + 1);
  // Absolute form ("GET http://host:port/path"), as a client sends it to a
  // forward proxy: serve it as if it were ours, so tests can use the target
  // as an HTTP proxy.
  if (absl::StartsWithIgnoreCase(target, "http://")) {
    absl::string_view rest = target.substr(7);
    size_t slash = rest.find('/');
    target = slash == absl::string_view::npos ? absl::string_view("/")
                                              : rest.substr(slash);
  }
  if (!IsToken(method) || target.empty() || target[0] != '/') return false;
  for (char c : target) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  bool http10;
  if (version == "HTTP/1.1") {
    http10 = false;
  } else if (version == "HTTP/1.0") {
    http10 = true;
  } else {
    return false;
  }

  bool saw_close = false;
  bool saw_keep_alive = false;
  bool saw_length = false;
  while (next_line(&line) && !line.empty()) {
    size_t colon = line.find(':');
    if (colon == absl::string_view::npos) return false;
    absl::string_view name = line.substr(0, colon);
    absl::string_view value =
        absl::StripAsciiWhitespace(line.substr(colon + 1));
    if (!IsToken(name)) return false;
    if (absl::EqualsIgnoreCase(name, "content-length")) {
      uint64_t length;
      if (!ParseBoundedDecimal(value, UINT64_MAX, &length)) return false;
      if (saw_length && length != req->content_length) return false;
      saw_length = true;
      req->content_length = length;
    } else if (absl::EqualsIgnoreCase(name, "authorization")) {
      req->authorization = value;
    } else if (absl::EqualsIgnoreCase(name, "transfer-encoding")) {
      req->chunked = true;
    } else if (absl::EqualsIgnoreCase(name, "connection")) {
      for (absl::string_view token : absl::StrSplit(value, ',')) {
        token = absl::StripAsciiWhitespace(token);
        saw_close |= absl::EqualsIgnoreCase(token, "close");
        saw_keep_alive |= absl::EqualsIgnoreCase(token, "keep-alive");
      }
    }
  }

  req->target = target;
  Pending& p = req->pending;
  p.http10 = http10;
  p.head = method == "HEAD";
  p.keep_alive = !saw_close && (!http10 || saw_keep_alive);
  return true;
}

void AppendJsonString(std::string* out, absl::string_view s) {
  out->push_back('"');
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      absl::StrAppendFormat(out, "\\u%04x", c);
    } else {
      out->push_back(c);
    }
  }
  out->push_back('"');
}

// Sorted sums over every loop, for /stats.
struct StatsSnapshot {
  uint64_t requests = 0;
  uint64_t connections = 0;
  std::map<std::string, uint64_t, std::less<>> by_path;
  std::map<int, uint64_t> by_status;
  std::map<std::string, uint64_t> by_peer;

  std::string ToJson() const {
    std::string out =
        absl::StrCat("{\"requests\":", requests,
                     ",\"connections\":", connections, ",\"by_path\":{");
    const char* sep = "";
    for (const auto& [path, count] : by_path) {
      out += sep;
      AppendJsonString(&out, path);
      absl::StrAppend(&out, ":", count);
      sep = ",";
    }
    out += "},\"by_status\":{";
    sep = "";
    for (const auto& [status, count] : by_status) {
      absl::StrAppend(&out, sep, "\"", status, "\":", count);
      sep = ",";
    }
    out += "},\"by_peer\":{";
    sep = "";
    for (const auto& [peer, count] : by_peer) {
      out += sep;
      AppendJsonString(&out, peer);
      absl::StrAppend(&out, ":", count);
      sep = ",";
    }
    out += "}}";
    return out;
  }
};

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

}  // namespace

// One loop's counters. Only its loop writes them; /stats readers on other loops
// contend for mu_.
class ThreadStats {
 public:
  // `peer`: the client's address, e.g. "127.0.0.2".
  void CountConnection(const std::string& peer) {
    absl::MutexLock lock(&mu_);
    ++connections_;
    auto it = by_peer_.find(peer);
    if (it != by_peer_.end()) {
      ++it->second;
    } else if (by_peer_.size() < kMaxTrackedPaths) {
      by_peer_.emplace(peer, 1);
    }
  }

  // An empty path (a request too malformed to have one) counts under "other".
  void CountRequest(absl::string_view path, int status) {
    absl::MutexLock lock(&mu_);
    ++requests_;
    ++by_status_[status];
    auto it = by_path_.find(path);
    if (it != by_path_.end()) {
      ++it->second;
    } else if (!path.empty() && by_path_.size() < kMaxTrackedPaths) {
      by_path_.emplace(path, 1);
    } else {
      ++other_paths_;
    }
  }

  void Reset() {
    absl::MutexLock lock(&mu_);
    requests_ = 0;
    connections_ = 0;
    other_paths_ = 0;
    by_path_.clear();
    by_peer_.clear();
    by_status_.fill(0);
  }

  void AddTo(StatsSnapshot* snapshot) const {
    absl::MutexLock lock(&mu_);
    snapshot->requests += requests_;
    snapshot->connections += connections_;
    for (const auto& [path, count] : by_path_) snapshot->by_path[path] += count;
    for (const auto& [peer, count] : by_peer_) snapshot->by_peer[peer] += count;
    if (other_paths_ > 0) snapshot->by_path["other"] += other_paths_;
    for (int status = 0; status < static_cast<int>(by_status_.size());
         ++status) {
      if (by_status_[status] > 0)
        snapshot->by_status[status] += by_status_[status];
    }
  }

 private:
  mutable absl::Mutex mu_;
  uint64_t requests_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t connections_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t other_paths_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<std::string, uint64_t> by_path_ ABSL_GUARDED_BY(mu_);
  // Connections by client address (tracked for up to kMaxTrackedPaths).
  absl::flat_hash_map<std::string, uint64_t> by_peer_ ABSL_GUARDED_BY(mu_);
  std::array<uint64_t, 600> by_status_ ABSL_GUARDED_BY(mu_) = {};
};

namespace {

// Bytes read but not yet parsed. Consuming is O(1); the rest moves down only to
// make room.
class InputBuffer {
 public:
  absl::string_view View() const {
    return {data_.get() + begin_, end_ - begin_};
  }
  size_t size() const { return end_ - begin_; }

  void Consume(size_t n) {
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
  }

  void Clear() { begin_ = end_ = 0; }

  // Returns room for at least `min_space` bytes at the end; its size goes to
  // *space.
  char* Reserve(size_t min_space, size_t* space) {
    if (cap_ - end_ < min_space && begin_ > 0) {
      std::memmove(data_.get(), data_.get() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if (cap_ - end_ < min_space) {
      size_t cap = std::max(cap_ * 2, end_ + min_space);
      auto data = std::make_unique_for_overwrite<char[]>(cap);
      if (end_ > 0) std::memcpy(data.get(), data_.get(), end_);
      data_ = std::move(data);
      cap_ = cap;
    }
    *space = cap_ - end_;
    return data_.get() + end_;
  }

  void Commit(size_t n) { end_ += n; }

 private:
  std::unique_ptr<char[]> data_;
  size_t cap_ = 0;
  size_t begin_ = 0;
  size_t end_ = 0;
};

struct Conn {
  int fd = -1;
  uint64_t id = 0;
  uint32_t events = 0;  // As registered with epoll.
  InputBuffer in;
  size_t scan_from = 0;
  std::string out;
  size_t out_off = 0;
  uint64_t x_remaining = 0;  // Body bytes of 'x' to send after all of `out`.
  uint64_t body_remaining = 0;
  Pending pending;
  std::string path;      // Of `pending`, for stats.
  bool waiting = false;  // A /delay is running; later requests wait their turn.
  bool closing = false;  // Close once the output is sent; parse nothing more.
  bool lingering =
      false;  // Output sent and write side shut; draining until EOF.
  bool peer_eof = false;
  SSL* ssl = nullptr;            // HTTPS: this connection's TLS session.
  bool ssl_wants_write = false;  // TLS must write before it can read on.

  ~Conn() {
    if (ssl != nullptr) SSL_free(ssl);
  }

  size_t Unsent() const { return out.size() - out_off + x_remaining; }
};

enum class TimerKind { kDelay, kLinger, kResumeAccept, kThaw };

struct Timer {
  absl::Duration deadline;
  uint64_t conn_id;
  TimerKind kind;

  bool operator>(const Timer& other) const { return deadline > other.deadline; }
};

void CloseFd(int fd) {
  if (fd >= 0) close(fd);
}

}  // namespace

// One thread's world: a listener, its connections, a timer heap on a timerfd,
// and stats. Everything but Wake() and stats() is called from the loop's own
// thread only.
class EventLoop {
 public:
  // Takes ownership of `listen_fd`. `peers` (every loop, including this one) is
  // read by /stats.
  // `tls` (may be null: plain HTTP) must outlive the loop.
  static absl::StatusOr<std::unique_ptr<EventLoop>> Create(
      int listen_fd, int index,
      const std::vector<std::unique_ptr<EventLoop>>* peers, SSL_CTX* tls) {
    auto loop = absl::WrapUnique(new EventLoop(listen_fd, index, peers, tls));
    loop->epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epoll_fd_ < 0) return ErrnoError("epoll_create1");
    loop->wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (loop->wake_fd_ < 0) return ErrnoError("eventfd");
    loop->timer_fd_ =
        timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
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

  ~EventLoop() {
    for (auto& [id, conn] : conns_) CloseFd(conn->fd);
    CloseFd(listen_fd_);
    CloseFd(epoll_fd_);
    CloseFd(wake_fd_);
    CloseFd(timer_fd_);
  }

  // Thread-safe; makes Run() return.
  void Wake() {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof(one));
  }

  ThreadStats& stats() { return stats_; }
  // Holds every load request (not /stats or /fault) unanswered until
  // `until_ns` (CLOCK_MONOTONIC); thread-safe.
  void Freeze(int64_t until_ns) {
    frozen_until_ns_.store(until_ns, std::memory_order_relaxed);
  }

  void Run() {
    std::string name = absl::StrCat("target-", index_);
    pthread_setname_np(pthread_self(), name.c_str());
    epoll_event events[kMaxEvents];
    bool stop = false;
    while (!stop) {
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
          stop = true;
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

 private:
  EventLoop(int listen_fd, int index,
            const std::vector<std::unique_ptr<EventLoop>>* peers, SSL_CTX* tls)
      : tls_(tls), listen_fd_(listen_fd), index_(index), peers_(peers) {}

  void OnAccept() {
    for (int i = 0; i < kAcceptBatch; ++i) {
      sockaddr_storage peer = {};
      socklen_t peer_len = sizeof(peer);
      int fd = accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer),
                       &peer_len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
          continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        // Out of fds or memory: the pending connection stays queued and the
        // listener stays readable, so pause accepting for a moment instead of
        // spinning.
        if (!accept_error_logged_) {
          accept_error_logged_ = true;
          absl::FPrintF(
              stderr,
              "stampede-target: target-%d: accept: %s; pausing accepts\n",
              index_, strerror(errno));
        }
        SetListenerEvents(0);
        AddTimer(kAcceptBackoff, 0, TimerKind::kResumeAccept);
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

  void SetListenerEvents(uint32_t events) {
    epoll_event ev = {};
    ev.events = events;
    ev.data.u64 = kListenerId;
    epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, listen_fd_, &ev);
  }

  void AddTimer(absl::Duration after, uint64_t conn_id, TimerKind kind) {
    Timer timer{MonotonicNow() + after, conn_id, kind};
    timers_.push(timer);
    if (armed_ == absl::ZeroDuration() || timer.deadline < armed_)
      ArmTimer(timer.deadline);
  }

  void ArmTimer(absl::Duration deadline) {
    itimerspec spec = {};
    spec.it_value = absl::ToTimespec(deadline);
    if (spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0)
      spec.it_value.tv_nsec = 1;
    timerfd_settime(timer_fd_, TFD_TIMER_ABSTIME, &spec, nullptr);
    armed_ = deadline;
  }

  void OnTimer() {
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

  void FireTimer(const Timer& timer) {
    if (timer.kind == TimerKind::kResumeAccept) {
      SetListenerEvents(EPOLLIN);
      return;
    }
    // The connection may be gone (or its id never reused: ids only grow).
    auto it = conns_.find(timer.conn_id);
    if (it == conns_.end()) return;
    Conn& conn = *it->second;
    if (timer.kind == TimerKind::kLinger) {
      if (conn.lingering) Close(conn);
      return;
    }
    if (!conn.waiting) return;
    conn.waiting = false;
    if (timer.kind == TimerKind::kThaw) {
      Dispatch(conn);  // the request held by a freeze, as if it just came
    } else {
      Respond(conn, 200, kTextPlain, "ok", 0, /*count=*/true);
    }
    if (!conn.waiting) Advance(conn);
  }

  void OnConnEvent(Conn& conn, uint32_t events) {
    if (events & (EPOLLERR | EPOLLHUP)) {
      Close(conn);
      return;
    }
    bool readable = (events & (EPOLLIN | EPOLLRDHUP)) ||
                    (conn.ssl_wants_write && (events & EPOLLOUT));
    if (readable && !conn.peer_eof) {
      ssize_t n;
      do {  // TLS may hold decrypted bytes that no epoll event announces.
        size_t space;
        char* p = conn.in.Reserve(kReadChunk, &space);
        n = Receive(conn, p, space);
        if (n > 0) conn.in.Commit(n);
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

  // Parses and answers what it can, sends what it can, then settles what to
  // wait for next. May close (and so destroy) `conn`.
  void Advance(Conn& conn) {
    while (true) {
      bool stopped_for_output = false;
      if (!conn.closing && !conn.lingering)
        stopped_for_output = ProcessInput(conn);
      if (!Flush(conn)) {
        Close(conn);
        return;
      }
      if (!stopped_for_output || conn.Unsent() > 0) break;
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
      AddTimer(kLingerTimeout, conn.id, TimerKind::kLinger);
    } else if (conn.peer_eof && !conn.closing && !conn.lingering) {
      // A peer that hangs up during a /delay is gone; otherwise finish what it
      // asked.
      if (conn.waiting || conn.Unsent() == 0) {
        Close(conn);
        return;
      }
    }
    uint32_t want = 0;
    if (!conn.peer_eof) {
      want |= EPOLLRDHUP;
      bool blocked = conn.waiting || conn.x_remaining > 0 ||
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
  // of unsent output, i.e. it may continue once that is sent.
  bool ProcessInput(Conn& conn) {
    while (!conn.closing && !conn.waiting) {
      if (conn.x_remaining > 0 || conn.Unsent() >= kOutHighWater) return true;
      if (conn.body_remaining > 0) {
        uint64_t n = std::min<uint64_t>(conn.in.size(), conn.body_remaining);
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
      absl::string_view path =
          req.target.substr(0, req.target.find_first_of("?#"));
      conn.path.assign(path.data(), path.size());
      conn.pending = RouteFor(path, req.pending);
      if (absl::ConsumePrefix(&path, "/auth/basic/")) {
        // USER/PASS in the path; the request must carry exactly them.
        const std::string expected = absl::StrCat(
            "Basic ",
            absl::Base64Escape(absl::StrReplaceAll(path, {{"/", ":"}})));
        conn.pending.route =
            req.authorization == expected ? Route::kOk : Route::kUnauthorized;
      }
      conn.in.Consume(head_len);
      if (req.chunked) {
        conn.pending.keep_alive = false;
        Respond(conn, 411, kTextPlain,
                "chunked request bodies are not supported", 0, true);
        return false;
      }
      conn.body_remaining = req.content_length;
      if (conn.body_remaining == 0) Dispatch(conn);
    }
    return false;
  }

  void RespondError(Conn& conn, int status, absl::string_view body) {
    conn.pending = Pending();
    conn.pending.keep_alive = false;
    conn.path.clear();
    Respond(conn, status, kTextPlain, body, 0, /*count=*/true);
  }

  // Answers conn.pending, whose body (if any) has been discarded.
  void Dispatch(Conn& conn) {
    const Pending& p = conn.pending;
    // While frozen, every request but /stats* and /fault* is held unanswered.
    const bool control = p.route == Route::kStats ||
                         p.route == Route::kStatsReset ||
                         p.route == Route::kFreeze;
    const absl::Duration frozen_until =
        absl::Nanoseconds(frozen_until_ns_.load(std::memory_order_relaxed));
    if (!control && MonotonicNow() < frozen_until) {
      conn.waiting = true;
      AddTimer(frozen_until - MonotonicNow(), conn.id, TimerKind::kThaw);
      return;
    }
    switch (p.route) {
      case Route::kOk:
        Respond(conn, 200, kTextPlain, "ok", 0, true);
        return;
      case Route::kBytes:
        Respond(conn, 200, kTextPlain, "", p.arg, true);
        return;
      case Route::kDelay:
        conn.waiting = true;
        AddTimer(absl::Milliseconds(p.arg), conn.id, TimerKind::kDelay);
        return;
      case Route::kStatus: {
        int status = static_cast<int>(p.arg);
        bool no_body = status == 204 || status == 304;
        Respond(conn, status, kTextPlain, no_body ? "" : ReasonPhrase(status),
                0, true);
        return;
      }
      case Route::kStats: {
        StatsSnapshot snapshot;
        for (const auto& peer : *peers_) peer->stats().AddTo(&snapshot);
        Respond(conn, 200, kJson, snapshot.ToJson(), 0, false);
        return;
      }
      case Route::kStatsReset:
        for (const auto& peer : *peers_) peer->stats().Reset();
        Respond(conn, 200, kJson, "{\"reset\":true}", 0, false);
        return;
      case Route::kFreeze: {
        const int64_t until = absl::ToInt64Nanoseconds(
            MonotonicNow() + absl::Milliseconds(p.arg));
        for (const auto& peer : *peers_) peer->Freeze(until);
        Respond(conn, 200, kJson, absl::StrCat("{\"frozen_ms\":", p.arg, "}"),
                0, false);
        return;
      }
      case Route::kUnauthorized:
        Respond(conn, 401, kTextPlain, "unauthorized", 0, true,
                "\r\nWWW-Authenticate: Basic realm=\"stampede\"");
        return;
      case Route::kNotFound:
        Respond(conn, 404, kTextPlain, "not found", 0, true);
        return;
      case Route::kBadParameter:
        Respond(conn, 400, kTextPlain, "bad parameter", 0, true);
        return;
    }
  }

  // Queues a response whose body is `body` followed by `x_bytes` bytes of 'x'.
  // `extra`: more header lines, each starting with "\r\n".
  void Respond(Conn& conn, int status, absl::string_view content_type,
               absl::string_view body, uint64_t x_bytes, bool count,
               absl::string_view extra = "") {
    const Pending& p = conn.pending;
    absl::string_view connection =
        !p.keep_alive ? "\r\nConnection: close\r\n\r\n"
        : p.http10    ? "\r\nConnection: keep-alive\r\n\r\n"
                      : "\r\n\r\n";
    absl::StrAppend(&conn.out, "HTTP/1.1 ", status, " ", ReasonPhrase(status),
                    "\r\nContent-Type: ", content_type,
                    "\r\nContent-Length: ", body.size() + x_bytes, extra,
                    connection);
    if (!p.head) {
      conn.out.append(body.data(), body.size());
      if (x_bytes <= kInlineBodyMax) {
        conn.out.append(x_bytes, 'x');
      } else {
        conn.x_remaining = x_bytes;
      }
    }
    if (!p.keep_alive) conn.closing = true;
    if (count) stats_.CountRequest(conn.path, status);
  }

  // Sends until done or EAGAIN. False on a write error.
  bool Flush(Conn& conn) {
    while (conn.Unsent() > 0) {
      iovec iov[2];
      int count = 0;
      size_t out_left = conn.out.size() - conn.out_off;
      if (out_left > 0)
        iov[count++] = {conn.out.data() + conn.out_off, out_left};
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
    conn.out.clear();
    conn.out_off = 0;
    if (conn.out.capacity() > kShrinkOutputAbove) std::string().swap(conn.out);
    return true;
  }

  // recv(2) or SSL_read: > 0 bytes, 0 at the peer's end, or -1 with errno
  // (EAGAIN while TLS waits for the socket).
  ssize_t Receive(Conn& conn, char* p, size_t space) {
    if (conn.ssl == nullptr) return recv(conn.fd, p, space, 0);
    size_t n = 0;
    conn.ssl_wants_write = false;
    if (SSL_read_ex(conn.ssl, p, space, &n) == 1) return n;
    return TlsFailure(conn, /*reading=*/true);
  }

  // sendmsg(2) or SSL_write (of the first buffer; records are written one by
  // one anyway), with Receive's conventions.
  ssize_t Send(Conn& conn, const iovec* iov, int count) {
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

  ssize_t TlsFailure(Conn& conn, bool reading) {
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

  void Close(Conn& conn) {
    close(conn.fd);  // Also drops it from the epoll set.
    conns_.erase(conn.id);
  }

  SSL_CTX* const tls_;  // Null: plain HTTP.
  const int listen_fd_;
  const int index_;
  const std::vector<std::unique_ptr<EventLoop>>* const peers_;
  std::atomic<int64_t> frozen_until_ns_{0};
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  int timer_fd_ = -1;
  absl::Duration armed_ =
      absl::ZeroDuration();  // Zero when the timerfd is disarmed.
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers_;
  absl::flat_hash_map<uint64_t, std::unique_ptr<Conn>> conns_;
  uint64_t next_conn_id_ = kFirstConnId;
  bool accept_error_logged_ = false;
  ThreadStats stats_;
};

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
    absl::StatusOr<std::unique_ptr<EventLoop>> loop =
        EventLoop::Create(*fd, i, &server->loops_, server->tls_.get());
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
  for (auto& loop : loops_) loop->Wake();
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
