#include "common/ws.h"

#include <openssl/sha.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/escaping.h"

namespace stampede::common::ws {
namespace {

constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

bool IsControl(Opcode opcode) { return (static_cast<uint8_t>(opcode) & 8); }

// The size of a header whose first `have` bytes are in `h`: known after 2.
size_t HeaderSize(const uint8_t* h, size_t have) {
  if (have < 2) return 2;
  const uint8_t len7 = h[1] & 0x7F;
  return 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + ((h[1] & 0x80) ? 4 : 0);
}

}  // namespace

bool IsValidCloseCode(uint32_t code) {
  // 1004-1006 and 1015 are reserved for reporting, never for the wire;
  // 1016-2999 are for future revisions; 3000-4999 for libraries and apps.
  if (code >= 1000 && code <= 1003) return true;
  if (code >= 1007 && code <= 1014) return true;
  return code >= 3000 && code <= 4999;
}

std::string AcceptFor(std::string_view key) {
  std::string input(key);
  input.append(kGuid);
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(),
       digest);
  return absl::Base64Escape(absl::string_view(
      reinterpret_cast<const char*>(digest), SHA_DIGEST_LENGTH));
}

size_t EncodeHeader(Opcode opcode, bool fin, uint64_t length,
                    const uint8_t* mask, uint8_t* out) {
  size_t n = 0;
  out[n++] =
      static_cast<uint8_t>((fin ? 0x80 : 0) | static_cast<uint8_t>(opcode));
  const uint8_t mask_bit = mask != nullptr ? 0x80 : 0;
  if (length < 126) {
    out[n++] = static_cast<uint8_t>(mask_bit | length);
  } else if (length <= 0xFFFF) {
    out[n++] = mask_bit | 126;
    out[n++] = static_cast<uint8_t>(length >> 8);
    out[n++] = static_cast<uint8_t>(length);
  } else {
    out[n++] = mask_bit | 127;
    for (int shift = 56; shift >= 0; shift -= 8)
      out[n++] = static_cast<uint8_t>(length >> shift);
  }
  if (mask != nullptr) {
    std::memcpy(out + n, mask, 4);
    n += 4;
  }
  return n;
}

void ApplyMask(uint8_t* data, size_t n, const uint8_t mask[4],
               uint64_t offset) {
  size_t i = 0;
  // Align to the mask's phase, then XOR eight bytes at a time.
  while (i < n && ((offset + i) & 3) != 0) {
    data[i] ^= mask[(offset + i) & 3];
    ++i;
  }
  if (n - i >= 8) {
    uint64_t word;
    uint32_t key32;
    std::memcpy(&key32, mask, 4);
    const uint64_t key64 = (uint64_t{key32} << 32) | key32;
    for (; n - i >= 8; i += 8) {
      std::memcpy(&word, data + i, 8);
      word ^= key64;
      std::memcpy(data + i, &word, 8);
    }
  }
  for (; i < n; ++i) data[i] ^= mask[(offset + i) & 3];
}

bool ParseClose(const uint8_t* payload, size_t n, uint16_t* code) {
  if (n == 0) {
    *code = kCloseNoStatus;
    return true;
  }
  if (n == 1) return false;
  const uint16_t c = static_cast<uint16_t>((payload[0] << 8) | payload[1]);
  if (!IsValidCloseCode(c)) return false;
  *code = c;
  return true;
}

std::string_view FrameParser::ErrorText(Error error) {
  switch (error) {
    case Error::kNone:
      return "";
    case Error::kReservedBits:
      return "reserved bits set";
    case Error::kBadOpcode:
      return "reserved opcode";
    case Error::kMasking:
      return "wrong masking";
    case Error::kBadControl:
      return "fragmented or oversized control frame";
    case Error::kBadContinuation:
      return "unexpected continuation or message";
    case Error::kLengthOverflow:
      return "frame length overflow";
    case Error::kTooBig:
      return "message too big";
  }
  return "unknown";
}

// Validates the complete header in header_ and sets up the payload.
bool FrameParser::ParseHeader(Handler* handler) {
  const uint8_t b0 = header_[0];
  const uint8_t b1 = header_[1];
  if ((b0 & 0x70) != 0) return Fail(Error::kReservedBits);
  const uint8_t op = b0 & 0x0F;
  if (op > 0xA || (op > 2 && op < 8)) return Fail(Error::kBadOpcode);
  opcode_ = static_cast<Opcode>(op);
  fin_ = (b0 & 0x80) != 0;
  masked_ = (b1 & 0x80) != 0;
  if (masked_ != (role_ == Role::kServer)) return Fail(Error::kMasking);
  uint64_t length = b1 & 0x7F;
  size_t pos = 2;
  if (length == 126) {
    length = (uint64_t{header_[2]} << 8) | header_[3];
    pos = 4;
  } else if (length == 127) {
    length = 0;
    for (int i = 0; i < 8; ++i) length = (length << 8) | header_[2 + i];
    if ((length >> 63) != 0) return Fail(Error::kLengthOverflow);
    pos = 10;
  }
  if (masked_) std::memcpy(mask_, header_ + pos, 4);
  payload_left_ = length;
  payload_offset_ = 0;
  if (IsControl(opcode_)) {
    if (!fin_ || length > kMaxControlPayload) return Fail(Error::kBadControl);
    control_have_ = 0;
  } else {
    if (opcode_ == Opcode::kContinuation) {
      if (!in_message_) return Fail(Error::kBadContinuation);
    } else {
      if (in_message_) return Fail(Error::kBadContinuation);
      in_message_ = true;
      message_size_ = 0;
      handler->OnMessageStart(opcode_);
    }
    if (length >
        max_message_size_ - std::min(message_size_, max_message_size_)) {
      return Fail(Error::kTooBig);
    }
    message_size_ += length;
  }
  in_payload_ = true;
  return true;
}

bool FrameParser::Feed(uint8_t* data, size_t n, Handler* handler) {
  if (error_ != Error::kNone) return false;
  size_t i = 0;
  while (true) {
    if (!in_payload_) {
      if (i == n) return true;
      // Gather the header: its size is known after 2 bytes.
      while (i < n && header_have_ < HeaderSize(header_, header_have_))
        header_[header_have_++] = data[i++];
      if (header_have_ < HeaderSize(header_, header_have_)) return true;
      header_have_ = 0;
      if (!ParseHeader(handler)) return false;
    }
    // The payload, or what of it is here.
    const size_t take =
        static_cast<size_t>(std::min<uint64_t>(payload_left_, n - i));
    uint8_t* piece = data + i;
    if (masked_) ApplyMask(piece, take, mask_, payload_offset_);
    i += take;
    payload_left_ -= take;
    payload_offset_ += take;
    if (IsControl(opcode_)) {
      std::memcpy(control_ + control_have_, piece, take);
      control_have_ = static_cast<uint8_t>(control_have_ + take);
    } else if (take > 0) {
      handler->OnData(piece, take);
    }
    if (payload_left_ > 0) return true;  // the rest comes in a later Feed
    in_payload_ = false;
    if (IsControl(opcode_)) {
      handler->OnControl(opcode_, control_, control_have_);
    } else if (fin_) {
      in_message_ = false;
      handler->OnMessageEnd();
    }
  }
}

}  // namespace stampede::common::ws
