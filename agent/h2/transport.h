// The HTTP/2 engine, on the worker's epoll loop through libnghttp2: h2c with
// prior knowledge for http:// targets, h2 over TLS for https:// (ALPN offers
// only "h2"; agent/tls.h gives SNI, verification as the plan's `tls` says, and
// a per-endpoint session cache so reconnects resume). Many streams share a
// few connections. At most `max_streams` requests are in flight, over
// ceil(max_streams / streams_per_connection) connections; a connection takes
// at most min(streams_per_connection, the server's
// SETTINGS_MAX_CONCURRENT_STREAMS) streams, and a request that finds no room
// waits for it inside the transport (its wait counts in its latency). Stream
// slots are preallocated; beyond nghttp2's (and OpenSSL's) own, nothing is
// allocated per request. Timings: connect_ns and tls_ns go to the first stream
// put on a new connection (kNotTimed on the others); ttfb_ns runs from the
// moment the request's last frame (END_STREAM) was serialised for the socket,
// which is written right after unless the socket is full, to the first
// response HEADERS read for the stream (the time of the recv that brought it).
// bytes_in/out count the stream's HEADERS and DATA frames with their 9-byte
// headers; connection-level frames (and TLS overhead) are no request's.
// Errors: RST_STREAM, GOAWAY and protocol errors are http_protocol, socket
// errors map through ErrorIdFromErrno, timeouts are request_timeout (the
// stream is reset). TLS failures are classified as in the HTTP/1.1 engine
// (tls_certificate, tls_handshake, tls_error); a server that does not select
// "h2" by ALPN fails the handshake's requests with tls_handshake (the two
// sides did not agree on a protocol; nginx itself answers such a ClientHello
// with a no_application_protocol alert). Requests on a connection whose
// handshake failed are not retried elsewhere: each counts once.
// Flow steps (Sent::flow): the rendered target, header lines and body go as
// :path, HTTP/2 fields (see BuildH2FlowBlock: lower-cased, hop-by-hop fields
// dropped, Host as :authority) and DATA; the final response's :status and
// fields are kept in FlowSend::head as "HTTP/2 200\r\nname: value\r\n..."
// (up to 64 KiB; trailers and 1xx heads are not kept) and its DATA in
// response_body up to body_limit (body_cut beyond). A step marked invalid, or
// whose lines are not "token: value", fails with invalid_request, unsent.
// A flow step's Sent::connection is its user's own connection: the step goes
// on connection slot `connection` and nothing else ever does, as a browser
// user opens its own. A shared stream budget would be cheaper, but it would
// hide what each user costs the server (a handshake, per-connection state and
// limits), which is what a journey test is for, and it would make the
// HTTP/1.1 and HTTP/2 runs of one plan incomparable. The worker therefore
// makes a flow scenario's transport with streams_per_connection 1: one
// connection slot per VU (or open-model flow slot), and the plan's
// max_streams_per_connection does not apply. A user's connection whose
// server sent GOAWAY is replaced when its stream ends.
// Nothing is allocated per flow send beyond nghttp2's own (it copies the
// header block; the buffers it is built in are reused).
// Not thread-safe: owned by one worker, called on its loop's thread.
#ifndef STAMPEDE_AGENT_H2_TRANSPORT_H_
#define STAMPEDE_AGENT_H2_TRANSPORT_H_

#include <nghttp2/nghttp2.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/h2/request.h"
#include "agent/net/dialer.h"
#include "agent/net/event_loop.h"
#include "agent/net/tls.h"
#include "agent/transport.h"
#include "common/allow_list.h"

namespace stampede::agent {

class H2Transport : public Transport {
 public:
  static constexpr size_t kDefaultStreamsPerConnection = 100;

  // `loop` and `listener` must outlive the transport. `max_streams` and
  // `streams_per_connection` must be > 0. `tls_options` apply to https://
  // targets (their `alpn` is replaced by {"h2"}); a CA file that cannot be
  // loaded fails here.
  static absl::StatusOr<std::unique_ptr<H2Transport>> Create(
      EventLoop* loop, Listener* listener, size_t max_streams,
      size_t streams_per_connection = kDefaultStreamsPerConnection,
      const tls::ClientOptions& tls_options = {});
  // "" when this engine serves `request` (an http:// or https:// URL, a valid
  // method and headers), else why not.
  static std::string Unsupported(const PreparedRequest& request);

  // Closes every connection; requests still in flight are not reported.
  ~H2Transport() override;
  H2Transport(const H2Transport&) = delete;
  H2Transport& operator=(const H2Transport&) = delete;

  // Builds the request's header block and adds its host to the resolver
  // (without SetResolver: waits for its answer). A request it cannot serve
  // fails every Send instead.
  void Prepare(const PreparedRequest& request) override;
  bool HasCapacity() const override { return in_flight_ < max_streams_; }
  void EndUser(uint32_t connection) override;
  void Send(const Sent& sent) override;
  size_t InFlight() const override { return in_flight_; }
  int64_t DeadlineNs() const override;
  void OnDeadline() override;

  // Checks every new connection's address against `allow` (null: the
  // default list, which denies only link-local and metadata addresses);
  // a denied one fails its request with blocked_target, unsent. `allow`
  // must outlive the transport.
  void SetAllowList(const common::AllowList* allow) {
    dialer_.SetAllowList(allow);
  }
  // Binds new connections to these source addresses in turn (IP literals).
  absl::Status SetLocalAddresses(const std::vector<std::string>& addresses) {
    return dialer_.SetLocalAddresses(addresses);
  }
  // The worker's resolver (see net::Dialer::SetResolver); before Prepare.
  void SetResolver(net::Resolver* resolver) { dialer_.SetResolver(resolver); }

  // Connections opened so far (a measure of how streams share them).
  uint64_t connections_opened() const { return connections_opened_; }
  // TLS handshakes completed so far, and how many of them resumed a session.
  uint64_t tls_handshakes() const { return tls_handshakes_; }
  uint64_t tls_resumed() const { return tls_resumed_; }

 private:
  struct Target;
  struct Connection;
  struct Stream;
  struct Callbacks;  // nghttp2's callbacks, with access to the members below
  // One origin: a name (the resolver's id) and port; its connections may go
  // to any of the name's addresses.
  struct Endpoint {
    int name = -1;
    uint16_t port = 0;
    bool https = false;
    // For SNI and the certificate check, and the allow-list's host patterns
    // (for http://, the host of the first request that reached it).
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

  H2Transport(EventLoop* loop, Listener* listener, size_t max_streams,
              size_t streams_per_connection,
              const tls::ClientOptions& tls_options);

  const Target& TargetFor(const PreparedRequest* request);
  // Puts the stream on a connection with room (opening one if a slot is
  // free), or in the waiting line. kNone, or why it cannot go anywhere.
  common::ErrorId Assign(Stream* s);
  // A connection to `endpoint` with room: one already open, or a free slot
  // opened now. nullptr with kNone: none has room now.
  Connection* Pick(int endpoint, common::ErrorId* error);
  // Pick for a flow user's stream: its own connection `slot`, opened (or
  // replaced, when idle, if it goes elsewhere or is draining) for `endpoint`.
  // nullptr with kNone: wait (its previous stream is still on it).
  Connection* PickOwn(uint32_t slot, int endpoint, common::ErrorId* error);
  // PickOwn for a pinned stream, else Pick.
  Connection* Place(const Stream* s, common::ErrorId* error);
  common::ErrorId Open(Connection* c, int endpoint);
  common::ErrorId Submit(Connection* c, Stream* s);
  size_t Room(const Connection* c) const;
  void OnConnectionEvents(Connection* c, uint32_t events);
  // The TCP connection is up: open the session (h2c), or start TLS.
  common::ErrorId OnConnected(Connection* c);
  // Drives the TLS handshake (io.cc); kNone while it goes on or once
  // "h2" was agreed, else why it failed.
  common::ErrorId Handshake(Connection* c);
  void Read(Connection* c, bool peer_closed);
  // Feed nghttp2 with what the socket (or TLS) has, until it would block.
  // kNone, or why the connection failed.
  common::ErrorId ReadPlain(Connection* c, bool peer_closed);
  common::ErrorId ReadTls(Connection* c);
  // Writes some of c->out: the bytes written, or 0 when the socket is full
  // (the events to wait for are set) or failed (`*error` set).
  size_t WritePlain(Connection* c, common::ErrorId* error);
  size_t WriteTls(Connection* c, common::ErrorId* error);
  // Writes what nghttp2 has to send; kNone, or why the connection failed.
  common::ErrorId Flush(Connection* c);
  void MarkDirty(Connection* c);
  // After events and sends: assigns waiting streams, flushes dirty
  // connections (if `flush`), closes drained ones, until nothing is left.
  void Settle(bool flush = true);
  // Ends every stream of the connection (or retries those that may be) and
  // closes it.
  void FailConnection(Connection* c, common::ErrorId error);
  // `clean`: the connection ended well; TLS says goodbye (close_notify).
  void CloseConnection(Connection* c, bool clean = false);
  // A stream the server did not process: once more elsewhere, or (after a
  // few times) it ends with `error`.
  void Refused(Stream* s, common::ErrorId error);
  void Detach(Stream* s);
  void Finish(Stream* s, common::ErrorId error);
  void Watch(Connection* c, uint32_t events);
  void PushWaiting(Stream* s);
  void RemoveWaiting(Stream* s);
  void LinkDeadline(Stream* s);
  void UnlinkDeadline(Stream* s);

  EventLoop* loop_;
  Listener* listener_;
  const size_t streams_per_connection_;
  nghttp2_session_callbacks* callbacks_ = nullptr;
  nghttp2_option* option_ = nullptr;
  std::vector<std::unique_ptr<Connection>> connections_;
  const size_t max_streams_;
  std::unique_ptr<Stream[]> streams_;
  std::vector<Stream*> free_streams_;
  std::vector<Connection*> dirty_;  // with output not yet flushed
  std::vector<Endpoint> endpoints_;
  // Node-based: Targets keep their address while more are prepared.
  std::unordered_map<const PreparedRequest*, Target> targets_;
  Stream* waiting_head_ = nullptr;  // waiting for room on a connection
  Stream* waiting_tail_ = nullptr;
  Stream* deadline_head_ = nullptr;  // earliest first
  Stream* deadline_tail_ = nullptr;
  std::vector<Failure> failures_;  // reserved for max_streams
  size_t in_flight_ = 0;           // failures not yet reported included
  Connection* hint_ = nullptr;     // the last connection picked
  bool pump_ = false;              // the waiting line may move: check in Settle
  bool drained_ = false;   // some connection is draining: check in Settle
  bool settling_ = false;  // Settle is running (it is not re-entered)
  // When the bytes being handed to nghttp2 or the socket were stamped: read
  // once per recv and per flush, not per frame.
  int64_t now_ns_ = 0;
  uint64_t connections_opened_ = 0;
  uint64_t tls_handshakes_ = 0;
  uint64_t tls_resumed_ = 0;
  net::Dialer dialer_;
  tls::ClientOptions tls_options_;  // alpn: {"h2"}
  // Made at Create with a CA file, else at the first https:// Prepare.
  std::unique_ptr<tls::ClientContext> tls_context_;
  std::unique_ptr<uint8_t[]> read_buffer_;  // shared: nghttp2 keeps no input
  // A flow step's header block, built in Submit and copied by nghttp2.
  H2FlowBlock flow_block_;
};

}  // namespace stampede::agent

#endif  // STAMPEDE_AGENT_H2_TRANSPORT_H_
