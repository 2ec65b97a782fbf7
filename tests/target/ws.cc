// The WebSocket half of EventLoop (event_loop.h): the 101, frames in (through
// common/ws's parser, fed straight from the loop's read buffer), echoes,
// stream pushes, pings and the close handshake.

#include "common/ws.h"

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "tests/target/event_loop.h"

namespace stampede::target {
namespace {

namespace ws = ::stampede::common::ws;

// How long we wait for the client's close after sending ours.
constexpr absl::Duration kCloseWait = absl::Seconds(2);

std::string_view AsChars(const uint8_t* data, size_t n) {
  return {reinterpret_cast<const char*>(data), n};
}

// A frame's header, then `payload`, onto `out`.
void AppendFrame(std::string* out, ws::Opcode opcode,
                 std::string_view payload) {
  uint8_t header[ws::kMaxHeaderSize];
  const size_t n = ws::EncodeHeader(opcode, /*fin=*/true, payload.size(),
                                    /*mask=*/nullptr, header);
  out->append(AsChars(header, n));
  out->append(payload);
}

}  // namespace

// Routes the parser's callbacks for one Feed to the loop.
class EventLoop::WsHandler : public ws::FrameParser::Handler {
 public:
  WsHandler(EventLoop* loop, Conn* conn) : loop_(loop), conn_(conn) {}

  void OnMessageStart(ws::Opcode opcode) override {
    WsConn& w = *conn_->ws;
    w.opcode = opcode;
    w.message_size = 0;
  }
  void OnData(const uint8_t* data, size_t n) override {
    WsConn& w = *conn_->ws;
    w.message_size += n;
    if (!w.stream && w.state == WsConn::State::kOpen && !conn_->closing)
      w.message.append(AsChars(data, n));
  }
  void OnMessageEnd() override { loop_->OnWsMessageEnd(*conn_); }
  void OnControl(ws::Opcode opcode, const uint8_t* payload, size_t n) override {
    loop_->OnWsControl(*conn_, opcode, payload, n);
  }

 private:
  EventLoop* const loop_;
  Conn* const conn_;
};

void EventLoop::Upgrade(Conn& conn) {
  const Pending& p = conn.pending;
  absl::StrAppend(&conn.out, "HTTP/1.1 101 Switching Protocols",
                  conn.upgrade_headers, "\r\n\r\n");
  stats_.CountRequest(conn.path, 101);
  stats_.CountWsUpgrade();
  // Idle WebSockets keep nothing of their HTTP past.
  std::string().swap(conn.upgrade_headers);
  std::string().swap(conn.path);
  conn.ws = std::make_unique<WsConn>();
  WsConn& w = *conn.ws;
  w.stream = p.route == Route::kWsStream;
  w.params = p.stream;
  w.next_push = MonotonicNow();  // The first push goes at once.
  if (!w.stream && w.params.close_code != 0 && w.params.close_after == 0)
    SendWsClose(conn, w.params.close_code, /*reply=*/false);
  // Frames the client sent right behind its request.
  if (conn.in.size() > 0) FeedWs(conn, conn.in.data(), conn.in.size());
  conn.in.Clear();
}

void EventLoop::FeedWs(Conn& conn, char* data, size_t n) {
  if (conn.closing || conn.lingering) return;
  WsHandler handler(this, &conn);
  ws::FrameParser& parser = conn.ws->parser;
  if (!parser.Feed(reinterpret_cast<uint8_t*>(data), n, &handler) &&
      !conn.closing) {
    FailWs(conn, ws::FrameParser::CloseCodeFor(parser.error()));
  }
}

void EventLoop::OnWsMessageEnd(Conn& conn) {
  if (conn.closing) return;
  WsConn& w = *conn.ws;
  stats_.CountWsIn(w.message_size);
  if (!w.stream && w.state == WsConn::State::kOpen) EchoWs(conn);
  std::string().swap(w.message);
}

void EventLoop::OnWsControl(Conn& conn, ws::Opcode opcode,
                            const uint8_t* payload, size_t n) {
  if (conn.closing) return;
  WsConn& w = *conn.ws;
  if (opcode == ws::Opcode::kPing) {
    if (w.state == WsConn::State::kOpen)
      SendWsFrame(conn, ws::Opcode::kPong, AsChars(payload, n));
  } else if (opcode == ws::Opcode::kClose) {
    uint16_t code;
    if (!ws::ParseClose(payload, n, &code)) {
      FailWs(conn, ws::kCloseProtocolError);
      return;
    }
    stats_.CountCloseReceived(code);
    if (w.state == WsConn::State::kOpen)
      SendWsClose(conn, code, /*reply=*/true);
    conn.closing = true;  // The handshake is complete either way.
  }
  // Pongs need nothing.
}

void EventLoop::FailWs(Conn& conn, uint16_t code) {
  if (conn.ws->state == WsConn::State::kOpen)
    SendWsClose(conn, code, /*reply=*/true);
  conn.closing = true;
}

void EventLoop::SendWsFrame(Conn& conn, ws::Opcode opcode,
                            std::string_view payload) {
  AppendFrame(&conn.out, opcode, payload);
}

void EventLoop::SendWsClose(Conn& conn, uint16_t code, bool reply) {
  WsConn& w = *conn.ws;
  const char payload[2] = {static_cast<char>(code >> 8),
                           static_cast<char>(code & 0xFF)};
  // A close without a code is answered with one without a code.
  SendWsFrame(conn, ws::Opcode::kClose,
              code == ws::kCloseNoStatus ? std::string_view()
                                         : std::string_view(payload, 2));
  stats_.CountCloseSent(code);
  // Nothing more goes out after a close: drop what was still held.
  std::vector<WsConn::Held>().swap(w.held);
  w.held_head = 0;
  w.held_bytes = 0;
  std::string().swap(w.message);
  w.state = WsConn::State::kCloseSent;
  if (!reply)
    AddTimer(MonotonicNow() + kCloseWait, conn.id, TimerKind::kWsCloseWait);
}

// An echo goes out at once unless ?delay= or a freeze holds it, or older echoes
// are still held (echoes keep their order).
void EventLoop::EchoWs(Conn& conn) {
  WsConn& w = *conn.ws;
  const uint64_t size = w.message.size();
  const absl::Duration now = MonotonicNow();
  if (w.params.delay_ms == 0 && w.held_head == w.held.size() &&
      now >= faults_->frozen_until()) {
    AppendFrame(&conn.out, w.opcode, w.message);
    stats_.CountWsOut(size);
    ++w.echoed;
    if (w.params.close_code != 0 && w.echoed == w.params.close_after)
      SendWsClose(conn, w.params.close_code, /*reply=*/false);
    return;
  }
  WsConn::Held held{now + absl::Milliseconds(w.params.delay_ms), "", size};
  AppendFrame(&held.frame, w.opcode, w.message);
  w.held_bytes += held.frame.size();
  w.held.push_back(std::move(held));
  PokeWs(conn, std::max(w.held.back().due, faults_->frozen_until()));
}

void EventLoop::PokeWs(Conn& conn, absl::Duration at) {
  WsConn& w = *conn.ws;
  if (at >= w.poke_at) return;  // An earlier poke will look again.
  w.poke_at = at;
  AddTimer(at, conn.id, TimerKind::kWsPoke);
}

bool EventLoop::ServiceWs(Conn& conn) {
  WsConn& w = *conn.ws;
  if (w.state != WsConn::State::kOpen) return false;
  const absl::Duration now = MonotonicNow();
  const bool streaming = w.stream && w.pushed < w.params.count;
  const bool holding = w.held_head < w.held.size();
  if (!streaming && !holding) {
    if (w.stream) SendWsClose(conn, ws::kCloseNormal, /*reply=*/false);
    return false;
  }
  if (const absl::Duration frozen_until = faults_->frozen_until();
      now < frozen_until) {
    PokeWs(conn, frozen_until);
    return false;
  }
  while (w.held_head < w.held.size() && w.held[w.held_head].due <= now) {
    if (conn.Unsent() >= kOutHighWater) return true;
    WsConn::Held& held = w.held[w.held_head++];
    conn.out += held.frame;
    w.held_bytes -= held.frame.size();
    std::string().swap(held.frame);
    stats_.CountWsOut(held.payload_size);
    ++w.echoed;
    if (w.params.close_code != 0 && w.echoed == w.params.close_after) {
      SendWsClose(conn, w.params.close_code, /*reply=*/false);
      return false;
    }
  }
  if (w.held_head == w.held.size()) {
    std::vector<WsConn::Held>().swap(w.held);
    w.held_head = 0;
  } else {
    if (w.held_head >= 64 && w.held_head * 2 >= w.held.size()) {
      w.held.erase(w.held.begin(), w.held.begin() + w.held_head);
      w.held_head = 0;
    }
    PokeWs(conn, w.held[w.held_head].due);
  }
  if (!streaming) return false;
  const absl::Duration every = absl::Milliseconds(w.params.every_ms);
  while (w.pushed < w.params.count && w.next_push <= now) {
    if (conn.Unsent() >= kOutHighWater) return true;
    ++w.pushed;
    // Any printable content will do: the message's number, padded with 'x'.
    std::string message = absl::StrCat(w.pushed);
    message.resize(w.params.size, 'x');
    AppendFrame(&conn.out, ws::Opcode::kText, message);
    stats_.CountWsOut(message.size());
    // Keep the cadence, unless a freeze broke it.
    const absl::Duration due = now - w.next_push < every ? w.next_push : now;
    w.next_push = due + every;
  }
  if (w.pushed == w.params.count) {
    SendWsClose(conn, ws::kCloseNormal, /*reply=*/false);
  } else {
    PokeWs(conn, w.next_push);
  }
  return false;
}

bool EventLoop::WsReadBlocked(const Conn& conn) const {
  return conn.Unsent() + conn.ws->held_bytes >= kOutHighWater;
}

}  // namespace stampede::target
