// One thread's world in the reference target: a listener, its connections
// (HTTP/1.1, server-sent events, WebSocket), a timer heap on a timerfd, and
// stats. Everything but Wake(), Stop() and stats() runs on the loop's own
// thread. event_loop.cc holds the connections, routes.cc the HTTP answers,
// ws.cc the WebSocket side.

#ifndef STAMPEDE_TESTS_TARGET_EVENT_LOOP_H_
#define STAMPEDE_TESTS_TARGET_EVENT_LOOP_H_

#include <sys/uio.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <queue>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/ws.h"
#include "tests/target/faults.h"
#include "tests/target/http.h"
#include "tests/target/state.h"
#include "tests/target/stats.h"

struct ssl_ctx_st;  // OpenSSL's SSL_CTX.
struct ssl_st;      // OpenSSL's SSL.

namespace stampede::target {

absl::Duration MonotonicNow();

// Stop reading from a connection while this much output is unsent, so a client
// that never reads cannot make us buffer without bound.
inline constexpr size_t kOutHighWater = 256 * 1024;
inline constexpr absl::string_view kTextPlain = "text/plain";

enum class TimerKind : uint8_t {
  kDelay,       // /delay/MS is over: answer it
  kRedispatch,  // a freeze or the latency fault is over: answer the request
  kSse,         // the next server-sent event is due
  kLinger,
  kResumeAccept,
  kWsPoke,       // a held echo or a stream push may be due
  kWsCloseWait,  // the client did not answer our close in time
};

struct Timer {
  absl::Duration deadline;
  uint64_t conn_id;
  uint32_t token;
  TimerKind kind;

  bool operator>(const Timer& other) const { return deadline > other.deadline; }
};

// Bytes read but not yet parsed. Consuming is O(1); the rest moves down only to
// make room. Holds no memory while empty, so idle connections cost none.
class InputBuffer {
 public:
  InputBuffer() = default;
  InputBuffer(const InputBuffer&) = delete;
  InputBuffer& operator=(const InputBuffer&) = delete;

  absl::string_view View() const {
    return {data_.get() + begin_, end_ - begin_};
  }
  char* data() { return data_.get() + begin_; }
  size_t size() const { return end_ - begin_; }
  void Consume(size_t n) {
    begin_ += n;
    if (begin_ == end_) Clear();
  }
  void Clear() {
    data_.reset();
    cap_ = begin_ = end_ = 0;
  }
  void Append(const char* p, size_t n);

 private:
  std::unique_ptr<char[]> data_;
  size_t cap_ = 0;
  size_t begin_ = 0;
  size_t end_ = 0;
};

// A WebSocket connection's state after its 101.
struct WsConn {
  enum class State : uint8_t {
    kOpen,
    kCloseSent,  // our close went out (first or in reply): nothing more does
  };
  // Echoes held back by ?delay= or a freeze, oldest first.
  struct Held {
    absl::Duration due;
    std::string frame;
    uint64_t payload_size;
  };

  WsConn() : parser(common::ws::FrameParser::Role::kServer, kMaxWsMessage) {}

  common::ws::FrameParser parser;
  State state = State::kOpen;
  bool stream = false;  // /ws/stream, else /ws/echo
  common::ws::Opcode opcode = common::ws::Opcode::kText;  // of the message
  uint64_t message_size = 0;  // received so far of the message
  std::string message;        // echo: the message being received
  StreamParams params;
  uint64_t echoed = 0;  // echo: messages sent back
  uint64_t pushed = 0;  // stream: messages sent
  absl::Duration next_push;
  std::vector<Held> held;
  size_t held_head = 0;  // held[held_head..] are still held
  size_t held_bytes = 0;
  // The earliest pending kWsPoke timer, if any.
  absl::Duration poke_at = absl::InfiniteDuration();
};

struct Conn {
  Conn() = default;
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;
  ~Conn();

  size_t Unsent() const { return out.size() - out_off + x_remaining; }

  int fd = -1;
  uint32_t events = 0;      // As registered with epoll.
  uint32_t wait_token = 0;  // Names the timer the current wait is for.
  uint64_t id = 0;
  InputBuffer in;
  size_t scan_from = 0;
  std::string out;
  size_t out_off = 0;
  uint64_t x_remaining = 0;  // Body bytes of 'x' to send after all of `out`.
  uint64_t body_remaining = 0;
  Pending pending;
  std::string path;             // Of `pending`, for stats.
  std::string upgrade_headers;  // Of `pending`, if it upgrades.
  // Of `pending`, for the routes that need more than Pending holds
  // (NeedsRequestCopy); null for all others, so they allocate nothing.
  std::unique_ptr<StateRequest> kept;
  bool waiting =
      false;          // A timer holds the request; later ones wait their turn.
  bool held = false;  // ... and that timer is a freeze's.
  TimerKind wait_kind = TimerKind::kDelay;  // ... and of this kind.
  bool closing = false;    // Close once the output is sent; parse nothing more.
  bool lingering = false;  // Output sent and write side shut; draining to EOF.
  bool peer_eof = false;
  bool reset = false;  // Reset (RST) instead of answering; set by a fault.
  bool ssl_wants_write = false;  // TLS must write before it can read on.
  ssl_st* ssl = nullptr;         // HTTPS: this connection's TLS session.
  // /sse: events still to send, and the next one's id.
  uint64_t sse_left = 0;
  uint64_t sse_id = 0;
  std::unique_ptr<WsConn> ws;  // Set once upgraded.
};

class EventLoop {
 public:
  // Takes ownership of `listen_fd`. `peers` (every loop, including this one) is
  // read by /stats and /fault. `tls` (may be null: plain HTTP), `faults` and
  // `state` (shared by every loop) must outlive the loop.
  static absl::StatusOr<std::unique_ptr<EventLoop>> Create(
      int listen_fd, int index,
      const std::vector<std::unique_ptr<EventLoop>>* peers, ssl_ctx_st* tls,
      Faults* faults, AppState* state);
  ~EventLoop();

  // Thread-safe: makes the loop look at the process-wide faults again.
  void Wake();
  // Thread-safe: makes Run() return.
  void Stop();
  ThreadStats& stats() { return stats_; }

  void Run();

 private:
  EventLoop(int listen_fd, int index,
            const std::vector<std::unique_ptr<EventLoop>>* peers,
            ssl_ctx_st* tls, Faults* faults, AppState* state);

  // event_loop.cc: connections, timers, reading and writing, request heads.
  void OnAccept();
  void OnWake();
  void SetListenerEvents(uint32_t events);
  void AddTimer(absl::Duration deadline, uint64_t conn_id, TimerKind kind,
                uint32_t token = 0);
  void ArmTimer(absl::Duration deadline);
  void OnTimer();
  void FireTimer(const Timer& timer);
  // Holds conn's request until `deadline`, then fires `kind`.
  void Wait(Conn& conn, absl::Duration deadline, TimerKind kind, bool held);
  void OnConnEvent(Conn& conn, uint32_t events);
  void Advance(Conn& conn);
  bool ProcessInput(Conn& conn);
  // routes.cc: answers.
  void RespondError(Conn& conn, int status, absl::string_view body);
  void Dispatch(Conn& conn);
  void DispatchControl(Conn& conn);
  // /api/ (state.h), /redirect and /cookies.
  void DispatchKept(Conn& conn);
  void Respond(Conn& conn, int status, absl::string_view content_type,
               absl::string_view body, uint64_t x_bytes, bool count,
               absl::string_view extra = "");
  void StartSse(Conn& conn);
  void SendSse(Conn& conn, absl::Duration due);
  bool Flush(Conn& conn);
  ssize_t Receive(Conn& conn, char* p, size_t space);
  ssize_t Send(Conn& conn, const iovec* iov, int count);
  ssize_t TlsFailure(Conn& conn, bool reading);
  // Calls `fn` on every connection, in a way that survives `fn` closing it.
  void ForEachConn(const std::function<void(Conn&)>& fn);
  void Close(Conn& conn);
  void Reset(Conn& conn);  // Close with an RST.

  // ws.cc: WebSocket.
  void Upgrade(Conn& conn);
  void FeedWs(Conn& conn, char* data, size_t n);
  // Sends what is due (held echoes, stream pushes). True if it stopped only for
  // unsent output.
  bool ServiceWs(Conn& conn);
  void SendWsFrame(Conn& conn, common::ws::Opcode opcode,
                   std::string_view payload);
  // `reply`: to the client's close (else we close first, and wait for theirs).
  void SendWsClose(Conn& conn, uint16_t code, bool reply);
  void EchoWs(Conn& conn);
  void PokeWs(Conn& conn, absl::Duration at);
  void OnWsMessageEnd(Conn& conn);
  void OnWsControl(Conn& conn, common::ws::Opcode opcode,
                   const uint8_t* payload, size_t n);
  void FailWs(Conn& conn, uint16_t code);
  bool WsReadBlocked(const Conn& conn) const;
  class WsHandler;

  ssl_ctx_st* const tls_;  // Null: plain HTTP.
  const int listen_fd_;
  const int index_;
  const std::vector<std::unique_ptr<EventLoop>>* const peers_;
  Faults* const faults_;
  AppState* const state_;
  LoopFaults loop_faults_;
  std::atomic<bool> stopping_{false};
  uint64_t freeze_epoch_ = 0;  // Of faults_, as last seen.
  uint64_t ws_close_ = 0;      // Of faults_, as last seen.
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  int timer_fd_ = -1;
  // Zero when the timerfd is disarmed.
  absl::Duration armed_ = absl::ZeroDuration();
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers_;
  absl::flat_hash_map<uint64_t, std::unique_ptr<Conn>> conns_;
  uint64_t next_conn_id_;
  bool accept_error_logged_ = false;
  // Every read lands here first; a connection keeps only what it has not
  // parsed yet.
  std::unique_ptr<char[]> scratch_;
  ThreadStats stats_;
};

}  // namespace stampede::target

#endif  // STAMPEDE_TESTS_TARGET_EVENT_LOOP_H_
