// The HTTP/2 engine's private parts, shared by its source files
// (transport.cc: connections and the event loop; io.cc: connecting, TLS
// handshake, reads and writes; callbacks.cc: nghttp2's callbacks and the
// stream lists). Include nowhere else.
#ifndef STAMPEDE_AGENT_H2_INTERNAL_H_
#define STAMPEDE_AGENT_H2_INTERNAL_H_

#include <nghttp2/nghttp2.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "agent/h2/request.h"
#include "agent/h2/transport.h"
#include "agent/net/tls.h"

namespace stampede::agent {

// Enough for many frames per recv; one buffer per transport.
inline constexpr size_t kH2ReadBufferSize = 64 * 1024;
// A flow step's response head is kept up to this much (the HTTP/1.1
// parser's header section limit); later fields are not kept.
inline constexpr size_t kH2MaxKeptHead = 64 * 1024;

// Whether the stream is a flow step pinned to its user's own connection.
inline bool Pinned(const Sent& sent) {
  return sent.flow != nullptr && sent.connection != Sent::kAnyConnection;
}

struct H2Transport::Target {
  H2Request request;
  int endpoint = -1;
  common::ErrorId error =
      common::ErrorId::kNone;  // set: every Send fails with it
  int64_t timeout_ns = 0;      // 0: none
};

// A request slot. While in flight it is in at most one list through
// prev/next (its connection's streams, or the waiting line) and, with a
// timeout, in the deadline list.
struct H2Transport::Stream {
  Sent sent;
  const Target* target = nullptr;
  Connection* conn = nullptr;  // nullptr: waiting (or free)
  int32_t id = 0;              // nghttp2's stream id on `conn`
  bool opened = false;         // its HEADERS went out
  bool responded = false;      // a response frame came
  uint8_t retries = 0;         // times moved to another connection
  bool linked = false;         // in the deadline list
  // A flow step's response: the HEADERS block being read carries a :status
  // (so its fields are the response's head, not trailers).
  bool head_open = false;
  int status = 0;
  size_t body_off = 0;
  int64_t bytes_in = 0;
  int64_t bytes_out = 0;
  int64_t written_ns = 0;  // when its last frame was handed to the socket
  int64_t dns_ns = Outcome::kNotTimed;
  int64_t connect_ns = Outcome::kNotTimed;
  int64_t tls_ns = Outcome::kNotTimed;
  int64_t ttfb_ns = Outcome::kNotTimed;
  int64_t deadline_ns = 0;
  Stream* prev = nullptr;
  Stream* next = nullptr;
  Stream* dl_prev = nullptr;
  Stream* dl_next = nullptr;
};

struct H2Transport::Connection final : EventLoop::Handler {
  // kOpen: the HTTP/2 session runs (for TLS: after a handshake that chose h2).
  enum class State : uint8_t { kClosed, kConnecting, kHandshaking, kOpen };

  explicit Connection(H2Transport* t) : owner(t) {}
  ~Connection() override {
    if (session != nullptr) nghttp2_session_del(session);
  }
  void OnEvents(int, uint32_t events) override {
    owner->OnConnectionEvents(this, events);
  }

  H2Transport* owner;
  int fd = -1;
  int endpoint = -1;
  State state = State::kClosed;
  uint32_t events = 0;  // registered with the loop; 0: not registered
  nghttp2_session* session = nullptr;
  // A flow user's own slot (Sent::connection): only its streams go here,
  // and Pick never takes it for another.
  bool owned = false;
  // A flow step was put on this session: its callbacks look for fields and
  // DATA to keep (others skip that lookup).
  bool flows = false;
  bool draining = false;  // no new streams (GOAWAY, or stream ids used up)
  bool goaway = false;    // the server sent GOAWAY
  int32_t goaway_last_id = 0;
  bool dirty = false;   // in dirty_
  bool in_io = false;   // inside nghttp2 for this connection
  size_t active = 0;    // our streams on it
  uint64_t served = 0;  // streams completed on this socket
  Stream* streams = nullptr;
  Stream* claimant = nullptr;  // the first stream, which reports the connect
  int32_t claimant_id = 0;
  bool claim_open = false;
  int64_t phase_start_ns = 0;  // connect, then handshake
  int64_t dns_ns = Outcome::kNotTimed;
  int64_t connect_ns = Outcome::kNotTimed;
  int64_t tls_ns = Outcome::kNotTimed;
  bool https = false;          // this socket speaks TLS
  bool tls_wants_out = false;  // a TLS read is waiting for writability
  tls::Connection tls;
  std::string out;  // serialised frames not yet written
  size_t out_off = 0;
};

// nghttp2 calls these with the Connection as the session's user data.
struct H2Transport::Callbacks {
  static nghttp2_session_callbacks* New();
  static Stream* Find(Connection* c, int32_t id);
  static int OnBeginHeaders(nghttp2_session*, const nghttp2_frame* frame,
                            void* user_data);
  static int OnHeader(nghttp2_session*, const nghttp2_frame* frame,
                      const uint8_t* name, size_t namelen, const uint8_t* value,
                      size_t valuelen, uint8_t, void* user_data);
  static int OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame,
                         void* user_data);
  static int BeforeFrameSend(nghttp2_session*, const nghttp2_frame* frame,
                             void* user_data);
  static int OnFrameSend(nghttp2_session*, const nghttp2_frame* frame,
                         void* user_data);
  static int OnFrameNotSend(nghttp2_session*, const nghttp2_frame* frame, int,
                            void* user_data);
  static int OnStreamClose(nghttp2_session*, int32_t id, uint32_t error_code,
                           void* user_data);
  static int OnDataChunk(nghttp2_session*, uint8_t, int32_t id,
                         const uint8_t* data, size_t len, void* user_data);
  static ssize_t ReadBody(nghttp2_session*, int32_t id, uint8_t* buf,
                          size_t length, uint32_t* data_flags,
                          nghttp2_data_source* source, void* user_data);
};

}  // namespace stampede::agent

#endif  // STAMPEDE_AGENT_H2_INTERNAL_H_
