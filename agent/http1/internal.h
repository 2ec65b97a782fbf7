// The native HTTP/1.1 engine's insides, shared by its two source files
// (transport.cc: requests and responses; connect.cc: sockets,
// handshakes and the connection lists). Not for other users.
#ifndef STAMPEDE_AGENT_HTTP1_INTERNAL_H_
#define STAMPEDE_AGENT_HTTP1_INTERNAL_H_

#include <sys/epoll.h>

#include <cerrno>
#include <cstdint>
#include <string>

#include "agent/http1/parser.h"
#include "agent/http1/transport.h"
#include "agent/net/tls.h"
#include "common/errors.h"

namespace stampede::agent {

inline constexpr size_t kReadBufferSize = 64 * 1024;
// Edge-triggered: epoll does not re-poll a socket after reporting it. Reads
// stop at a short read, which drained the socket; any data that arrives later
// raises a new edge. EPOLLRDHUP says when the peer's FIN came with an edge, so
// it is not missed after a short read took the data that arrived with it.
inline constexpr uint32_t kEdge = EPOLLET | EPOLLRDHUP;

inline common::ErrorId IoError(int err) {
  switch (err) {
    case ECONNREFUSED:
      return common::ErrorId::kTcpRefused;
    case ETIMEDOUT:
      return common::ErrorId::kTcpTimeout;
    case ENOBUFS:
    case ENOMEM:
      return common::ErrorId::kLocalOther;
    default:  // ECONNRESET, EPIPE and the like
      return common::ErrorId::kTcpReset;
  }
}

struct Http1Transport::Target {
  std::string wire;
  // For flow steps, whose requests are rendered per send.
  std::string method;
  std::string authority;
  bool keep_alive = true;
  int endpoint = -1;
  common::ErrorId error =
      common::ErrorId::kNone;  // set: every Send fails with it
  bool head = false;
  int64_t timeout_ns = 0;  // 0: none
};

// One socket slot. A connection is in at most one intrusive list through
// prev/next: its endpoint's idle list, or the deadline list while in flight.
struct Http1Transport::Connection final : EventLoop::Handler {
  enum class State : uint8_t {
    kClosed,
    kConnecting,
    kHandshaking,
    kIdle,
    kBusy
  };

  explicit Connection(Http1Transport* t) : owner(t) {}
  void OnEvents(int, uint32_t events) override {
    owner->OnConnectionEvents(this, events);
  }

  Http1Transport* owner;
  int fd = -1;
  int endpoint = -1;
  State state = State::kClosed;
  uint32_t events = 0;         // registered with the loop; 0: not registered
  bool writing = false;        // the request is not all written yet
  bool retried = false;        // the request already moved to a new connection
  bool linked = false;         // in the deadline list
  bool https = false;          // this socket speaks TLS
  bool tls_wants_out = false;  // a TLS read is waiting for writability
  uint64_t served = 0;         // responses completed on this socket
  const Target* target = nullptr;
  // The request's bytes: its Target's wire, or wire_buf for a flow step.
  const std::string* wire = nullptr;
  std::string wire_buf;  // capacity kept from send to send
  Sent sent;
  size_t written = 0;
  int64_t bytes_in = 0;
  int64_t bytes_out = 0;
  int64_t attempt_in = 0;  // bytes received on the current socket
  int64_t deadline_ns = 0;
  // Phase timings of the current request (Outcome's), and their starts.
  int64_t phase_start_ns = 0;  // connect, then handshake
  int64_t written_ns = 0;      // the request's last byte went out
  int64_t dns_ns = Outcome::kNotTimed;
  int64_t connect_ns = Outcome::kNotTimed;
  int64_t tls_ns = Outcome::kNotTimed;
  int64_t ttfb_ns = Outcome::kNotTimed;
  Connection* prev = nullptr;
  Connection* next = nullptr;
  Http1ResponseParser parser;
  tls::Connection tls;
};

}  // namespace stampede::agent

#endif  // STAMPEDE_AGENT_HTTP1_INTERNAL_H_
