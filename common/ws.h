// RFC 6455 (WebSocket) wire format, for both ends: the agent's client and the
// reference target's server. An incremental frame parser fed bytes in any
// split (hostile input: every length and bit is checked), frame header
// encoding, masking, and the opening handshake's key arithmetic. No
// extensions (RSV bits must be 0); text is not checked for UTF-8.
// Not thread-safe: one FrameParser per connection; the functions are pure.
#ifndef STAMPEDE_COMMON_WS_H_
#define STAMPEDE_COMMON_WS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace stampede::common::ws {

enum class Opcode : uint8_t {
  kContinuation = 0x0,
  kText = 0x1,
  kBinary = 0x2,
  kClose = 0x8,
  kPing = 0x9,
  kPong = 0xA,
};

// Close status codes (RFC 6455 section 7.4.1).
inline constexpr uint16_t kCloseNormal = 1000;
inline constexpr uint16_t kCloseGoingAway = 1001;
inline constexpr uint16_t kCloseProtocolError = 1002;
inline constexpr uint16_t kCloseNoStatus = 1005;  // never sent: no code given
inline constexpr uint16_t kCloseAbnormal = 1006;  // never sent: no close frame
inline constexpr uint16_t kCloseTooBig = 1009;
inline constexpr uint16_t kCloseInternalError = 1011;

// Largest payload of a control frame (close, ping, pong).
inline constexpr size_t kMaxControlPayload = 125;
// Largest frame header: 2 + 8 (64-bit length) + 4 (mask key).
inline constexpr size_t kMaxHeaderSize = 14;

// Whether `code` may appear in a close frame on the wire.
bool IsValidCloseCode(uint32_t code);

// Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(SHA-1(key + GUID)).
std::string AcceptFor(std::string_view key);

// Writes a frame header for a payload of `length` bytes into `out` (at least
// kMaxHeaderSize bytes) and returns its size. `mask` (4 bytes) is set by
// clients, null for a server's unmasked frames.
size_t EncodeHeader(Opcode opcode, bool fin, uint64_t length,
                    const uint8_t* mask, uint8_t* out);

// XORs `n` bytes with the mask key, as bytes `offset`.. of a payload, so a
// payload may be masked (or unmasked) in pieces.
void ApplyMask(uint8_t* data, size_t n, const uint8_t mask[4], uint64_t offset);

// Parses a close frame's payload. False when it is malformed (1 byte, or a
// code that may not be sent); an empty payload gives kCloseNoStatus.
bool ParseClose(const uint8_t* payload, size_t n, uint16_t* code);

// Incremental frame parser. Data frames are delivered as unmasked pieces as
// they arrive (nothing is buffered); control frames whole.
class FrameParser {
 public:
  // Which end parses: a server reads masked frames, a client unmasked ones.
  enum class Role : uint8_t { kClient, kServer };

  class Handler {
   public:
    virtual ~Handler() = default;
    // A data message begins (its first frame's header was read).
    virtual void OnMessageStart(Opcode opcode) {}
    // A piece of a data message's payload, unmasked. May be empty.
    virtual void OnData(const uint8_t* data, size_t n) {}
    // The last fragment of the data message ended.
    virtual void OnMessageEnd() {}
    // A whole control frame (ping, pong or close), unmasked.
    virtual void OnControl(Opcode opcode, const uint8_t* payload, size_t n) = 0;
  };

  // A data message (all its fragments) longer than `max_message_size` is an
  // error (kTooBig).
  FrameParser(Role role, uint64_t max_message_size)
      : role_(role), max_message_size_(max_message_size) {}

  enum class Error : uint8_t {
    kNone,
    kReservedBits,     // RSV1-3 set: no extension was agreed
    kBadOpcode,        // reserved opcode
    kMasking,          // masked from a server, or unmasked from a client
    kBadControl,       // fragmented, or longer than 125 bytes
    kBadContinuation,  // continuation with no message, or a new message
                       // inside a fragmented one
    kLengthOverflow,   // 64-bit length with its top bit set
    kTooBig,           // message over max_message_size
  };

  // Consumes all of `data` (unmasking it in place), calling `handler` as
  // frames go by. Returns false at the first protocol error (and from then
  // on): the connection must be failed, closing with CloseCodeFor(error()).
  bool Feed(uint8_t* data, size_t n, Handler* handler);
  // Forgets everything, for a new connection.
  void Reset() {
    error_ = Error::kNone;
    header_have_ = 0;
    in_payload_ = in_message_ = false;
    payload_left_ = payload_offset_ = message_size_ = 0;
    control_have_ = 0;
  }

  Error error() const { return error_; }
  static uint16_t CloseCodeFor(Error error) {
    return error == Error::kTooBig ? kCloseTooBig : kCloseProtocolError;
  }
  static std::string_view ErrorText(Error error);
  // Whether the parser stands between frames (no partial frame held).
  bool AtFrameBoundary() const { return header_have_ == 0 && !in_payload_; }

 private:
  bool ParseHeader(Handler* handler);
  bool Fail(Error error) {
    error_ = error;
    return false;
  }

  const Role role_;
  const uint64_t max_message_size_;
  Error error_ = Error::kNone;
  // The header being read.
  uint8_t header_[kMaxHeaderSize] = {};
  uint8_t header_have_ = 0;
  // The frame whose payload is being read.
  bool in_payload_ = false;
  bool fin_ = false;
  bool masked_ = false;
  Opcode opcode_ = Opcode::kContinuation;
  uint8_t mask_[4] = {};
  uint64_t payload_left_ = 0;
  uint64_t payload_offset_ = 0;
  // A fragmented data message in progress, and its size so far.
  bool in_message_ = false;
  uint64_t message_size_ = 0;
  // A control frame's payload, gathered whole.
  uint8_t control_[kMaxControlPayload] = {};
  uint8_t control_have_ = 0;
};

}  // namespace stampede::common::ws

#endif  // STAMPEDE_COMMON_WS_H_
