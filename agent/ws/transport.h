// The WebSocket engine (RFC 6455 client) for ws:// and wss:// endpoints, on
// the worker's epoll loop. A Send is one connection: TCP (+ TLS), the opening
// handshake (reported through OnDone: a 101 opens the session, any other
// status is the handshake's error), then the scenario's message schedule
// until its hold ends, EndSession/EndAllSessions, or the server closes; the
// session's end is reported through OnSessionEnd. Pings are answered, masks
// are fresh per frame, the close handshake is completed. Per connection it
// keeps ~1 KB (no read buffer: the transport's one is shared). Not
// thread-safe: owned by one worker, called on its loop's thread.
#ifndef STAMPEDE_AGENT_WS_TRANSPORT_H_
#define STAMPEDE_AGENT_WS_TRANSPORT_H_

#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/http1/request.h"
#include "agent/load/run_spec.h"
#include "agent/net/dialer.h"
#include "agent/net/event_loop.h"
#include "agent/net/tls.h"
#include "agent/transport.h"
#include "common/allow_list.h"

namespace stampede::agent {

class WsTransport : public Transport {
 public:
  // At most 64 messages of one connection await their replies; a message due
  // while 64 do waits for the oldest.
  static constexpr size_t kMaxOutstanding = 64;
  // A reply's id is looked for in its first bytes.
  static constexpr size_t kIdPrefix = 128;
  // How long a close handshake may take before the connection is dropped.
  static constexpr int64_t kCloseTimeoutNs = 2'000'000'000;

  // `loop`, `listener` and `options` must outlive the transport. At most
  // `max_connections` (> 0) connections are open at once.
  static absl::StatusOr<std::unique_ptr<WsTransport>> Create(
      EventLoop* loop, Listener* listener, size_t max_connections,
      const WsOptions& options, const tls::ClientOptions& tls_options);
  ~WsTransport() override;
  WsTransport(const WsTransport&) = delete;
  WsTransport& operator=(const WsTransport&) = delete;

  // Parses the URL and resolves its host (this may block on DNS); a request
  // it cannot serve fails every Send instead.
  void Prepare(const PreparedRequest& request) override;
  bool HasCapacity() const override { return open_ < slots_.size(); }
  void Send(const Sent& sent) override;
  size_t InFlight() const override { return open_; }
  int64_t DeadlineNs() const override;
  void OnDeadline() override;
  void EndSession(uint32_t vu) override;
  void EndAllSessions() override;

  // Binds new connections to these source addresses in turn (IP literals).
  absl::Status SetLocalAddresses(const std::vector<std::string>& addresses) {
    return dialer_.SetLocalAddresses(addresses);
  }
  // The worker's resolver (see net::Dialer::SetResolver); before Prepare.
  void SetResolver(net::Resolver* resolver) { dialer_.SetResolver(resolver); }
  // Checks every new connection's address against `allow` (null: the
  // default list, which denies only link-local and metadata addresses);
  // a denied one fails its request with blocked_target, unsent. `allow`
  // must outlive the transport.
  void SetAllowList(const common::AllowList* allow) {
    dialer_.SetAllowList(allow);
  }

 private:
  struct Target {
    common::ErrorId error = common::ErrorId::kNone;  // set: Sends fail
    int name = -1;  // the resolver's id of `host`
    uint16_t port = 0;
    bool https = false;
    std::string host;  // SNI and certificate name
    std::string head;  // the handshake request up to the key's value
    int64_t timeout_ns = 0;
    std::unique_ptr<tls::SessionCache> sessions;
  };
  struct Conn;
  struct Failure {
    Sent sent;
    common::ErrorId error;
    int64_t done_ns;
  };

  WsTransport(EventLoop* loop, Listener* listener, size_t max_connections,
              const WsOptions& options, const tls::ClientOptions& tls_options);

  common::ErrorId Connect(Conn* c);
  common::ErrorId OnConnected(Conn* c);
  common::ErrorId Handshake(Conn* c);
  common::ErrorId WriteUpgrade(Conn* c);
  void OnEvents(Conn* c, uint32_t events);
  // Reads what the socket has; false when the connection ended.
  bool ReadAll(Conn* c);
  // Handles `n` bytes read; false when the connection ended.
  bool OnBytes(Conn* c, char* data, size_t n);
  bool OnUpgradeResponse(Conn* c, size_t head_len, int64_t now);
  // Frames of an open session; false when the connection ended.
  bool OnFrames(Conn* c, uint8_t* data, size_t n, int64_t now);
  // Queues bytes for the socket and writes what it can; false on an error
  // (the connection ended).
  bool Write(Conn* c, const char* data, size_t n);
  bool Flush(Conn* c);
  // Writes from data + *done on until the socket is full; false on an error
  // (noted in write_error).
  bool WriteSome(Conn* c, const char* data, size_t n, size_t* done);
  bool SendFrame(Conn* c, uint8_t opcode, const char* payload, size_t n);
  bool SendMessage(Conn* c, int64_t now);
  bool SendClose(Conn* c, uint16_t code);
  // A data message arrived whole; `prefix` holds its first bytes.
  void OnMessage(Conn* c, int64_t now);
  void OnControl(Conn* c, uint8_t opcode, const uint8_t* payload, size_t n);
  // Starts the close handshake (code 1000); false if the connection ended.
  bool BeginClose(Conn* c, int64_t now);
  // Runs the connection's due timers; false if it ended.
  bool OnTimer(Conn* c, int64_t now);
  void Reschedule(Conn* c);
  // Before the session opened: report the handshake's failure.
  void FailHandshake(Conn* c, common::ErrorId error, int status);
  // After it opened: report the session's end and free the slot.
  void EndSessionNow(Conn* c, common::ErrorId error, uint16_t close_code);
  void Release(Conn* c);

  EventLoop* loop_;
  Listener* listener_;
  const WsOptions& options_;
  tls::ClientOptions tls_options_;
  std::unique_ptr<tls::ClientContext> tls_context_;
  std::unordered_map<const PreparedRequest*, Target> targets_;
  std::vector<std::unique_ptr<Conn>> slots_;
  std::vector<Conn*> free_;
  std::vector<Conn*> by_vu_;  // closed model: the VU's connection
  size_t open_ = 0;           // slots in use, failures not yet reported too
  std::vector<Failure> failures_;
  // (due_ns, slot) min-heap; entries whose time no longer matches their
  // slot's are stale and skipped.
  std::vector<std::pair<int64_t, uint32_t>> timers_;
  bool ending_all_ = false;
  net::Dialer dialer_;
  std::mt19937_64 rng_;
  std::unique_ptr<char[]> read_buffer_;
  std::string frame_;  // scratch for outgoing frames
};

}  // namespace stampede::agent

#endif  // STAMPEDE_AGENT_WS_TRANSPORT_H_
