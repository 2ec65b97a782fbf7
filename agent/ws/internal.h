// The WebSocket engine's connection slot, shared by its two source files
// (transport.cc: connections, handshake, timers; session.cc: frames and
// messages). Not for other users.
#ifndef STAMPEDE_AGENT_WS_INTERNAL_H_
#define STAMPEDE_AGENT_WS_INTERNAL_H_

#include <cstdint>
#include <cstring>
#include <string>

#include "agent/net/tls.h"
#include "agent/ws/transport.h"
#include "common/errors.h"
#include "common/ws.h"

namespace stampede::agent {

inline common::ErrorId IoError(int err) {
  return common::ErrorIdFromErrno(err, common::ErrorId::kTcpReset);
}

struct WsTransport::Conn final : EventLoop::Handler,
                                 common::ws::FrameParser::Handler {
  enum class State : uint8_t {
    kFree,
    kConnecting,
    kTls,
    kUpgrading,  // the handshake request is out, its answer awaited
    kOpen,
    kClosing,  // our close frame is out, the server's awaited
  };

  Conn(WsTransport* t, uint32_t i, uint64_t max_message)
      : owner(t),
        index(i),
        parser(common::ws::FrameParser::Role::kClient, max_message),
        max_message_size(max_message) {}

  void OnEvents(int, uint32_t events) override {
    owner->OnEvents(this, events);
  }
  // Frames, during FrameParser::Feed: they only note what happened (and
  // answer pings); OnFrames acts once Feed returns.
  void OnMessageStart(common::ws::Opcode) override { prefix_len = 0; }
  void OnData(const uint8_t* data, size_t n) override {
    const size_t take = std::min(n, kIdPrefix - prefix_len);
    std::memcpy(prefix + prefix_len, data, take);
    prefix_len += take;
  }
  void OnMessageEnd() override { owner->OnMessage(this, now_ns); }
  void OnControl(common::ws::Opcode opcode, const uint8_t* payload,
                 size_t n) override {
    owner->OnControl(this, static_cast<uint8_t>(opcode), payload, n);
  }

  // A fresh connection for `sent` to `t`.
  void Reset(const Target* t, const Sent& s) {
    target = t;
    sent = s;
    parser.Reset();
    dns_ns = connect_ns = tls_ns = ttfb_ns = Outcome::kNotTimed;
    written_ns = open_ns = end_at_ns = close_deadline_ns = due_ns = 0;
    next_send_ns = INT64_MAX;
    bytes_in = bytes_out = upgrade_bytes = 0;
    sent_messages = received = 0;
    sent_at_last = 0;
    first_unanswered = 1;
    end_requested = close_received = false;
    server_close = 0;
    write_error = common::ErrorId::kNone;
  }

  // Messages sent whose replies are still awaited (an upper bound with id
  // matching: answered ones in between still count until the oldest is).
  uint64_t Outstanding() const { return sent_messages + 1 - first_unanswered; }
  int64_t OldestSentNs() const {
    return sent_at[first_unanswered % kMaxOutstanding];
  }
  // Whether the schedule may send now or later (next_send_ns says when).
  bool CanSend(const WsOptions& o) const {
    if (o.mode == WsOptions::Mode::kListen || next_send_ns == INT64_MAX)
      return false;
    if (o.messages > 0 && sent_messages >= o.messages) return false;
    return !o.expect_reply || Outstanding() < kMaxOutstanding;
  }

  WsTransport* const owner;
  const uint32_t index;
  uint32_t generation = 0;  // bumped when the slot is released
  State state = State::kFree;
  int fd = -1;
  const Target* target = nullptr;
  Sent sent;
  common::ws::FrameParser parser;
  const uint64_t max_message_size;
  tls::Connection tls;
  char accept[28] = {};  // the Sec-WebSocket-Accept the server must send
  std::string head;      // the handshake answer, until its end is seen
  std::string out;       // bytes the socket did not take yet
  int64_t phase_start_ns = 0;
  int64_t deadline_ns = 0;  // for the handshake
  int64_t dns_ns = Outcome::kNotTimed;
  int64_t connect_ns = Outcome::kNotTimed;
  int64_t tls_ns = Outcome::kNotTimed;
  int64_t ttfb_ns = Outcome::kNotTimed;
  int64_t written_ns = 0;
  int64_t open_ns = 0;
  int64_t end_at_ns = 0;  // hold's end; 0: none
  int64_t next_send_ns = INT64_MAX;
  int64_t close_deadline_ns = 0;
  int64_t due_ns = 0;  // the timer entry that is current
  int64_t now_ns = 0;  // during Feed
  int64_t bytes_in = 0;
  int64_t bytes_out = 0;
  int64_t upgrade_bytes = 0;
  uint64_t sent_messages = 0;     // numbered 1..sent_messages
  int64_t sent_at_last = 0;       // when the last one went
  uint64_t received = 0;          // data messages
  uint64_t first_unanswered = 1;  // the oldest message awaiting its reply
  int64_t sent_at[kMaxOutstanding] = {};  // by number % kMaxOutstanding;
                                          // 0 once answered
  uint8_t prefix[kIdPrefix] = {};         // the current message's first bytes
  size_t prefix_len = 0;
  bool end_requested = false;
  bool close_received = false;
  uint16_t server_close = 0;
  common::ErrorId write_error = common::ErrorId::kNone;
};

}  // namespace stampede::agent

#endif  // STAMPEDE_AGENT_WS_INTERNAL_H_
