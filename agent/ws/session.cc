// WsTransport: an open session's frames, messages, round trips and close
// handshake (connections and the opening handshake are in transport.cc).
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "agent/ws/internal.h"

namespace stampede::agent {

using common::ErrorId;
namespace ws = common::ws;

namespace {

// The number after `key` (e.g. "\"id\":") in `text`, as written by
// "{{seq}}" (optionally quoted); 0 if absent.
uint64_t IdAfter(absl::string_view text, absl::string_view key) {
  const size_t at = text.find(key);
  if (at == absl::string_view::npos) return 0;
  size_t i = at + key.size();
  while (i < text.size() && (text[i] == ' ' || text[i] == '"')) ++i;
  uint64_t id = 0;
  size_t digits = 0;
  while (i < text.size() && absl::ascii_isdigit(text[i]) && digits < 19) {
    id = id * 10 + static_cast<uint64_t>(text[i] - '0');
    ++i;
    ++digits;
  }
  return id;
}

}  // namespace

bool WsTransport::OnFrames(Conn* c, uint8_t* data, size_t n, int64_t now) {
  c->now_ns = now;
  if (!c->parser.Feed(data, n, c)) {
    const ws::FrameParser::Error error = c->parser.error();
    SendClose(c, ws::FrameParser::CloseCodeFor(error));
    EndSessionNow(c, ErrorId::kWsProtocol, 0);
    return false;
  }
  // The parser's callbacks end nothing; they left notes.
  if (c->write_error != ErrorId::kNone) {
    EndSessionNow(c, c->write_error, 0);
    return false;
  }
  if (c->close_received) {
    if (c->state == Conn::State::kOpen) {
      // The server began the close: answer it, then hang up.
      SendClose(c, c->server_close == ws::kCloseNoStatus ? 0 : c->server_close);
    }
    EndSessionNow(c, ErrorId::kNone, c->server_close);
    return false;
  }
  if (!OnTimer(c, now)) return false;
  Reschedule(c);
  return true;
}

void WsTransport::OnMessage(Conn* c, int64_t now) {
  if (c->close_received) return;  // nothing counts after the server's close
  ++c->received;
  int64_t rtt = -1;
  if (options_.expect_reply && c->Outstanding() > 0) {
    uint64_t k = c->first_unanswered;
    if (options_.match_id) {
      k = IdAfter(absl::string_view(reinterpret_cast<const char*>(c->prefix),
                                    c->prefix_len),
                  options_.id_key);
      if (k < c->first_unanswered || k > c->sent_messages ||
          c->sent_at[k % kMaxOutstanding] == 0) {
        k = 0;  // not one of ours, or answered already
      }
    }
    if (k != 0) {
      int64_t& sent_at = c->sent_at[k % kMaxOutstanding];
      rtt = now - sent_at;
      sent_at = 0;
      while (c->first_unanswered <= c->sent_messages &&
             c->sent_at[c->first_unanswered % kMaxOutstanding] == 0) {
        ++c->first_unanswered;
      }
    }
  }
  listener_->OnMessage(*c->sent.request, /*outgoing=*/false, rtt);
  if (options_.mode == WsOptions::Mode::kRequestReply &&
      c->Outstanding() == 0 && c->sent_messages > 0) {
    // The next request goes when its reply is in, send_every after the last.
    c->next_send_ns = std::max(now, c->sent_at_last + options_.send_every_ns);
  }
}

void WsTransport::OnControl(Conn* c, uint8_t opcode, const uint8_t* payload,
                            size_t n) {
  if (c->close_received) return;
  switch (static_cast<ws::Opcode>(opcode)) {
    case ws::Opcode::kPing:
      if (c->state == Conn::State::kOpen &&
          !SendFrame(c, static_cast<uint8_t>(ws::Opcode::kPong),
                     reinterpret_cast<const char*>(payload), n)) {
        return;  // write_error is noted
      }
      return;
    case ws::Opcode::kClose: {
      uint16_t code = ws::kCloseProtocolError;
      if (!ws::ParseClose(payload, n, &code)) code = ws::kCloseProtocolError;
      c->close_received = true;
      c->server_close = code;
      return;
    }
    default:  // pong: nothing asked for it to be timed
      return;
  }
}

bool WsTransport::OnTimer(Conn* c, int64_t now) {
  switch (c->state) {
    case Conn::State::kFree:
      return false;
    case Conn::State::kConnecting:
    case Conn::State::kTls:
    case Conn::State::kUpgrading:
      if (c->deadline_ns > 0 && now >= c->deadline_ns) {
        FailHandshake(c, ErrorId::kRequestTimeout, 0);
        return false;
      }
      return true;
    case Conn::State::kClosing:
      if (now >= c->close_deadline_ns) {
        // The server never finished the close handshake.
        EndSessionNow(c, ErrorId::kWsTimeout, 0);
        return false;
      }
      return true;
    case Conn::State::kOpen:
      break;
  }
  if (c->Outstanding() > 0 && options_.expect_reply &&
      now >= c->OldestSentNs() + options_.reply_timeout_ns) {
    SendClose(c, ws::kCloseGoingAway);
    EndSessionNow(c, ErrorId::kWsTimeout, 0);
    return false;
  }
  const bool done_sending =
      options_.messages > 0 &&
      (options_.mode == WsOptions::Mode::kListen
           ? c->received >= options_.messages
           : c->sent_messages >= options_.messages &&
                 (!options_.expect_reply || c->Outstanding() == 0));
  if (c->end_requested || done_sending ||
      (c->end_at_ns > 0 && now >= c->end_at_ns)) {
    return BeginClose(c, now);
  }
  while (c->CanSend(options_) && c->next_send_ns <= now) {
    if (!SendMessage(c, now)) {
      EndSessionNow(c, c->write_error, 0);
      return false;
    }
    if (options_.mode == WsOptions::Mode::kSend) {
      // A late wakeup sends one message, not a burst of catch-up.
      c->next_send_ns += options_.send_every_ns;
      if (c->next_send_ns <= now)
        c->next_send_ns = now + options_.send_every_ns;
    } else {
      c->next_send_ns = INT64_MAX;  // request/reply: when the reply is in
    }
  }
  return true;
}

bool WsTransport::BeginClose(Conn* c, int64_t now) {
  if (!SendClose(c, ws::kCloseNormal)) {
    EndSessionNow(c, c->write_error, 0);
    return false;
  }
  c->state = Conn::State::kClosing;
  c->close_deadline_ns = now + kCloseTimeoutNs;
  Reschedule(c);
  return true;
}

bool WsTransport::SendClose(Conn* c, uint16_t code) {
  char payload[2] = {static_cast<char>(code >> 8), static_cast<char>(code)};
  return SendFrame(c, static_cast<uint8_t>(ws::Opcode::kClose), payload,
                   code == 0 ? 0 : 2);
}

bool WsTransport::SendFrame(Conn* c, uint8_t opcode, const char* payload,
                            size_t n) {
  uint8_t mask[4];
  const uint32_t r = static_cast<uint32_t>(rng_());
  std::memcpy(mask, &r, 4);
  uint8_t header[ws::kMaxHeaderSize];
  const size_t h =
      ws::EncodeHeader(static_cast<ws::Opcode>(opcode), true, n, mask, header);
  frame_.assign(reinterpret_cast<const char*>(header), h);
  frame_.append(payload, n);
  ws::ApplyMask(reinterpret_cast<uint8_t*>(frame_.data() + h), n, mask, 0);
  return Write(c, frame_.data(), frame_.size());
}

bool WsTransport::SendMessage(Conn* c, int64_t now) {
  const uint64_t number = c->sent_messages + 1;
  char digits[24];
  size_t digit_count = 0;
  if (options_.has_seq) {
    char* end = absl::numbers_internal::FastIntToBuffer(number, digits);
    digit_count = static_cast<size_t>(end - digits);
  }
  const size_t natural =
      options_.prefix.size() + digit_count + options_.suffix.size();
  const size_t length = options_.size > 0 ? options_.size : natural;
  uint8_t mask[4];
  const uint32_t r = static_cast<uint32_t>(rng_());
  std::memcpy(mask, &r, 4);
  uint8_t header[ws::kMaxHeaderSize];
  const size_t h = ws::EncodeHeader(
      options_.binary ? ws::Opcode::kBinary : ws::Opcode::kText, true, length,
      mask, header);
  // The payload: prefix, number, suffix, then padding or the cut.
  frame_.assign(reinterpret_cast<const char*>(header), h);
  frame_.append(options_.prefix);
  frame_.append(digits, digit_count);
  frame_.append(options_.suffix);
  frame_.resize(h + length, 'x');
  ws::ApplyMask(reinterpret_cast<uint8_t*>(frame_.data() + h), length, mask, 0);
  if (!Write(c, frame_.data(), frame_.size())) return false;
  c->sent_messages = number;
  c->sent_at_last = now;
  if (options_.expect_reply) c->sent_at[number % kMaxOutstanding] = now;
  listener_->OnMessage(*c->sent.request, /*outgoing=*/true, -1);
  return true;
}

bool WsTransport::Write(Conn* c, const char* data, size_t n) {
  c->bytes_out += static_cast<int64_t>(n);
  if (!c->out.empty()) {
    c->out.append(data, n);  // behind what is waiting already
    return Flush(c);
  }
  size_t done = 0;
  if (!WriteSome(c, data, n, &done)) return false;
  // Only a short write keeps bytes (and memory) on the connection.
  if (done < n) c->out.append(data + done, n - done);
  return true;
}

bool WsTransport::Flush(Conn* c) {
  size_t done = 0;
  const bool ok = WriteSome(c, c->out.data(), c->out.size(), &done);
  c->out.erase(0, done);
  if (c->out.empty()) std::string().swap(c->out);
  return ok;
}

bool WsTransport::WriteSome(Conn* c, const char* data, size_t n, size_t* done) {
  while (*done < n) {
    if (c->target->https) {
      size_t w = 0;
      const tls::Io io = c->tls.Write(data + *done, n - *done, &w);
      if (io == tls::Io::kOk) {
        *done += w;
        continue;
      }
      if (io == tls::Io::kWantRead || io == tls::Io::kWantWrite) return true;
      c->write_error = c->tls.error();
      return false;
    }
    const ssize_t w = send(c->fd, data + *done, n - *done, MSG_NOSIGNAL);
    if (w > 0) {
      *done += static_cast<size_t>(w);
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    c->write_error = IoError(errno);
    return false;
  }
  return true;
}

}  // namespace stampede::agent
