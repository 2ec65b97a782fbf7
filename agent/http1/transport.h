// The native HTTP/1.1 engine for http:// and https:// targets, on the worker's
// epoll loop: requests are serialised once at Prepare and written as-is; up to
// `max_connections` keep-alive connections are created once and reused, with
// one request in flight on each (no pipelining). TLS (agent/tls.h) is set up
// per connection and resumes the endpoint's last session when reconnecting.
// Nothing is allocated per request. Not thread-safe: owned by one worker,
// called on its loop's thread.
#ifndef STAMPEDE_AGENT_HTTP1_TRANSPORT_H_
#define STAMPEDE_AGENT_HTTP1_TRANSPORT_H_

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/http1/parser.h"
#include "agent/http1/request.h"
#include "agent/net/dialer.h"
#include "agent/net/event_loop.h"
#include "agent/net/tls.h"
#include "agent/transport.h"
#include "common/allow_list.h"

namespace stampede::agent {

class Http1Transport : public Transport {
 public:
  // `loop` and `listener` must outlive the transport. At most
  // `max_connections` (> 0) requests are in flight, each on its own
  // connection. `tls_options` apply to https:// targets; a CA file that cannot
  // be loaded fails here.
  static absl::StatusOr<std::unique_ptr<Http1Transport>> Create(
      EventLoop* loop, Listener* listener, size_t max_connections,
      const tls::ClientOptions& tls_options = {});
  // Whether this engine serves `request`: an http:// or https:// URL (numeric
  // host or name), a valid method and headers, no proxy or auth scheme.
  static bool Supports(const PreparedRequest& request);

  // Closes every connection; requests still in flight are not reported.
  ~Http1Transport() override;
  Http1Transport(const Http1Transport&) = delete;
  Http1Transport& operator=(const Http1Transport&) = delete;

  // Parses and serialises the request and adds its host to the resolver
  // (without SetResolver: waits for its answer). A request it cannot serve
  // fails every Send instead.
  void Prepare(const PreparedRequest& request) override;
  bool HasCapacity() const override { return busy_ < connections_.size(); }
  void Send(const Sent& sent) override;
  size_t InFlight() const override { return busy_; }
  int64_t DeadlineNs() const override;
  void OnDeadline() override;
  void EndUser(uint32_t connection) override;

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

  // Connections opened so far (a measure of keep-alive reuse).
  uint64_t connections_opened() const { return connections_opened_; }
  // TLS handshakes completed so far, and how many of them resumed a session.
  uint64_t tls_handshakes() const { return tls_handshakes_; }
  uint64_t tls_resumed() const { return tls_resumed_; }

 private:
  struct Target;
  struct Connection;
  // One origin: a name (the resolver's id) and port. Its connections may go
  // to any of the name's addresses.
  struct Endpoint {
    int name = -1;
    uint16_t port = 0;
    Connection* idle = nullptr;  // head of its idle connections
    bool https = false;
    // For SNI and the certificate check, and the allow-list's host patterns.
    std::string host;
    // Stable address: OpenSSL's new-session callback writes here.
    std::unique_ptr<tls::SessionCache> sessions;
  };
  // A request that failed inside Send, reported from OnDeadline so that Send
  // never calls the listener (which may call Send again).
  struct Failure {
    Sent sent;
    common::ErrorId error = common::ErrorId::kNone;
    int64_t done_ns = 0;
  };

  Http1Transport(EventLoop* loop, Listener* listener, size_t max_connections,
                 const tls::ClientOptions& tls_options);

  const Target& TargetFor(const PreparedRequest* request);
  Connection* Acquire(int endpoint);
  // The user's own connection `slot` (Sent::connection), made ready for
  // `endpoint`: kept if it is idle there, else closed and taken over.
  Connection* AcquireSlot(int endpoint, uint32_t slot);
  // Starts the connection's request: writes on a kept-alive socket (once more
  // on a fresh one if that fails) or connects. kNone, or why it failed.
  common::ErrorId Start(Connection* c);
  common::ErrorId Connect(Connection* c);
  // The TCP connection is up: handshake (https) or write the request.
  common::ErrorId OnConnected(Connection* c);
  common::ErrorId Handshake(Connection* c);
  common::ErrorId Write(Connection* c);
  common::ErrorId WriteTls(Connection* c);
  // Returns false when the request ended (the connection may already carry
  // another one).
  // `peer_closed`: the event that woke us carried the peer's FIN.
  bool Read(Connection* c, bool peer_closed);
  bool ReadTls(Connection* c);
  // The response is complete: whether the connection may carry another.
  bool Reusable(Connection* c, size_t used, size_t n, bool peer_closed);
  void OnConnectionEvents(Connection* c, uint32_t events);
  void OnIdleEvents(Connection* c);
  // Ends the request with `error`, or retries it once on a new connection
  // when a kept-alive one turned out to be closed.
  void Fail(Connection* c, common::ErrorId error, bool retryable);
  // `now_ns` is when the response's last bytes were read, if the caller has
  // just read the clock; 0: read it here.
  void Finish(Connection* c, common::ErrorId error, bool keep,
              int64_t now_ns = 0);
  void Watch(Connection* c, uint32_t events);
  // `clean`: the connection ended well; TLS says goodbye (close_notify).
  void CloseSocket(Connection* c, bool clean = false);
  void LinkDeadline(Connection* c);
  void UnlinkDeadline(Connection* c);
  void PushIdle(Connection* c);
  void RemoveIdle(Connection* c);

  EventLoop* loop_;
  Listener* listener_;
  std::vector<std::unique_ptr<Connection>> connections_;
  std::vector<Connection*> closed_;  // slots without a socket
  std::vector<Endpoint> endpoints_;
  // Node-based: Targets keep their address while more are prepared.
  std::unordered_map<const PreparedRequest*, Target> targets_;
  // In flight with a deadline, earliest first (appending is O(1) when all
  // share one timeout).
  Connection* deadline_head_ = nullptr;
  Connection* deadline_tail_ = nullptr;
  std::vector<Failure> failures_;  // reserved for max_connections
  size_t busy_ = 0;  // requests in flight, failures not yet reported included
  uint64_t connections_opened_ = 0;
  net::Dialer dialer_;
  uint64_t tls_handshakes_ = 0;
  uint64_t tls_resumed_ = 0;
  tls::ClientOptions tls_options_;
  // Made at Create with a CA file, else at the first https:// Prepare.
  std::unique_ptr<tls::ClientContext> tls_context_;
  std::unique_ptr<char[]> read_buffer_;  // shared: parsers keep no input
};

}  // namespace stampede::agent

#endif  // STAMPEDE_AGENT_HTTP1_TRANSPORT_H_
