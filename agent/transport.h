// The seam between a worker's pacing and the protocol engines: a transport
// starts requests on the worker's event loop and reports each one's outcome
// exactly once. Every transport reports the same outcome shape and error ids.
// Not thread-safe: owned by one worker.
#ifndef STAMPEDE_AGENT_TRANSPORT_H_
#define STAMPEDE_AGENT_TRANSPORT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/errors.h"

namespace stampede::agent {

// One request of the plan, resolved once at Prepare and reused for every send.
struct PreparedRequest {
  uint32_t scenario = 0;
  uint32_t request = 0;
  std::string url;
  std::string method;
  std::string body;
  std::vector<std::string> headers;  // "Name: value"
  int64_t timeout_ms = 10'000;
  // false: "Connection: close", and a new connection for every request.
  bool keep_alive = true;
  // libcurl only: a forward proxy URL, and HTTP authentication.
  std::string proxy;
  std::string username;
  std::string password;
  std::string auth_scheme;  // basic | digest | ntlm | any; empty: no auth
};

// A flow step's request as rendered for one send, and what its response
// must leave behind for the step's captures, checks and cookies. Owned by the
// flow instance (one per VU), reused from send to send so that its buffers
// keep their capacity. The transport reads the request parts in Send and
// fills the response parts before OnDone.
struct FlowSend {
  std::string target;   // the rendered path and query ("/items/42?x=1")
  std::string headers;  // rendered "Name: value\r\n" lines, all of the step's
  std::string body;     // rendered body
  // A redirect's method (GET after a 303, say); empty: the step's own.
  std::string method;
  // A rendered path with a space or control byte, or a header value with a
  // line break (a captured value, say): never sent (invalid_request).
  bool invalid = false;
  // Response: the final response's status line and header lines as
  // received (when keep_head), and its body (decoded, up to body_limit).
  bool keep_head = false;
  size_t body_limit = 0;
  std::string head;
  std::string response_body;
  bool body_cut = false;  // the body was longer than body_limit
};

// Calls `f(line)` with each line of a FlowSend's rendered `headers`, its line
// end removed; empty lines are skipped.
template <typename F>
void ForEachHeaderLine(std::string_view headers, F f) {
  while (!headers.empty()) {
    const size_t nl = headers.find('\n');
    std::string_view line = headers.substr(0, nl);
    headers = nl == std::string_view::npos ? std::string_view()
                                           : headers.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty()) f(line);
  }
}

// A request on its way: what the worker needs back when it completes.
struct Sent {
  const PreparedRequest* request = nullptr;
  int64_t intended_ns = 0;  // CLOCK_MONOTONIC, when the schedule wanted it sent
  int64_t sent_ns = 0;  // CLOCK_MONOTONIC, when it was handed to the transport
  uint32_t vu = kNoVu;  // the closed model's virtual user that sent it
  static constexpr uint32_t kNoVu = UINT32_MAX;
  // The connection slot this user owns (HTTP/1.1: a VU's own connection);
  // kAnyConnection: any free one.
  uint32_t connection = kAnyConnection;
  static constexpr uint32_t kAnyConnection = UINT32_MAX;
  // A flow step: rendered by the worker, answered into by the transport.
  FlowSend* flow = nullptr;
  // The open model's flow instance that sent it (kNoVu: none).
  uint32_t instance = kNoVu;
};

struct Outcome {
  int status = 0;  // HTTP status; 0 when no response
  common::ErrorId error = common::ErrorId::kNone;
  int64_t bytes_in = 0;
  int64_t bytes_out = 0;
  // Phase timings in ns; kNotTimed when the phase did not happen for this
  // request (e.g. no DNS, connect or TLS on a reused connection).
  static constexpr int64_t kNotTimed = -1;
  int64_t dns_ns = kNotTimed;      // name resolution for a new connection
  int64_t connect_ns = kNotTimed;  // TCP connect of a new connection
  int64_t tls_ns = kNotTimed;      // TLS handshake of a new connection
  // From the request's last byte written to the response's first byte read.
  int64_t ttfb_ns = kNotTimed;
  // Streaming responses (chunked or text/event-stream): to the last byte
  // read, and the server-sent events received; kNotTimed / 0 otherwise.
  int64_t ttlb_ns = kNotTimed;
  int64_t events = 0;
  // WebSocket: the handshake succeeded and the connection goes on;
  // Listener::OnSessionEnd follows when it ends.
  bool session_open = false;
};

// How a WebSocket connection ended.
struct SessionEnd {
  // kNone, ws_protocol, ws_timeout, tcp_reset, ...; a close code that is not
  // 1000 (or 1005, none given) from the server is an error of its own,
  // ws_close_<code>.
  common::ErrorId error = common::ErrorId::kNone;
  uint16_t close_code = 0;  // the server's; 1006 without a close frame; 0:
                            // none (we ended it on an error)
  int64_t lifetime_ns = 0;  // from the handshake's end
  int64_t bytes_in = 0;     // after the handshake, frames included
  int64_t bytes_out = 0;
};

class Transport {
 public:
  class Listener {
   public:
    virtual ~Listener() = default;
    // Called on the worker's thread, once per Send, after the request ended.
    virtual void OnDone(const Sent& sent, const Outcome& outcome,
                        int64_t done_ns) = 0;
    // WebSocket: a data message went out or came in (payload bytes), with
    // its round trip when it was a matched reply (else -1).
    virtual void OnMessage(const PreparedRequest& request, bool outgoing,
                           int64_t rtt_ns) {}
    // WebSocket: the connection `sent` opened (session_open) has ended.
    virtual void OnSessionEnd(const Sent& sent, const SessionEnd& end,
                              int64_t done_ns) {}
  };

  virtual ~Transport() = default;
  // Called once per plan request before the first Send of it; the request must
  // outlive the transport.
  virtual void Prepare(const PreparedRequest& request) = 0;
  // Whether Send may be called now (a connection or stream is free under the
  // cap).
  virtual bool HasCapacity() const = 0;
  virtual void Send(const Sent& sent) = 0;
  virtual size_t InFlight() const = 0;
  // When the transport next needs OnDeadline (CLOCK_MONOTONIC ns); 0 for never.
  virtual int64_t DeadlineNs() const = 0;
  virtual void OnDeadline() = 0;
  // Long-lived sessions (WebSocket): end the closed model's VU `vu`'s session
  // cleanly (it was ramped down), or every session (the run is stopping or
  // the scenario's stages ended). Requests end by themselves: no-ops.
  virtual void EndSession(uint32_t vu) {}
  virtual void EndAllSessions() {}
  // The user of connection slot `connection` (Sent::connection) is gone (an
  // open-model flow ended): its connection closes, so that the next user of
  // the slot connects anew as a new user does. Safe from inside OnDone.
  // No-op where users do not own connections (libcurl).
  virtual void EndUser(uint32_t connection) {}
};

}  // namespace stampede::agent

#endif  // STAMPEDE_AGENT_TRANSPORT_H_
