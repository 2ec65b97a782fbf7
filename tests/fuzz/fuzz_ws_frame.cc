// Fuzzes the RFC 6455 frame parser (common/ws.h) in both roles. The first
// input byte picks how the rest is cut into Feed calls and the message size
// limit; the rest is the wire. Besides the sanitizers, checks that the parser
// keeps its promises: it never reports more data than it was fed, control
// payloads are whole and at most 125 bytes, callbacks come in a valid order,
// a failed Feed stays failed, and any cut gives the same events as one Feed.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/ws.h"
#include "tests/fuzz/fuzz_check.h"

namespace stampede::common::ws {
namespace {

// Checks the order of callbacks and folds them into a digest that does not
// depend on how data was cut into OnData pieces.
class Checker : public FrameParser::Handler {
 public:
  void OnMessageStart(Opcode opcode) override {
    FUZZ_CHECK(!failed_);
    FUZZ_CHECK(!in_message_);
    FUZZ_CHECK(opcode == Opcode::kText || opcode == Opcode::kBinary);
    in_message_ = true;
    Mix(0x100 | static_cast<uint8_t>(opcode));
  }
  void OnData(const uint8_t* data, size_t n) override {
    FUZZ_CHECK(!failed_);
    FUZZ_CHECK(in_message_);
    data_bytes_ += n;
    for (size_t i = 0; i < n; ++i) Mix(data[i]);
  }
  void OnMessageEnd() override {
    FUZZ_CHECK(!failed_);
    FUZZ_CHECK(in_message_);
    in_message_ = false;
    Mix(0x200);
  }
  void OnControl(Opcode opcode, const uint8_t* payload, size_t n) override {
    FUZZ_CHECK(!failed_);
    FUZZ_CHECK(opcode == Opcode::kClose || opcode == Opcode::kPing ||
               opcode == Opcode::kPong);
    FUZZ_CHECK(n <= kMaxControlPayload);
    control_bytes_ += n;
    Mix(0x300 | static_cast<uint8_t>(opcode));
    Mix(0x400 | n);
    for (size_t i = 0; i < n; ++i) Mix(payload[i]);
    if (opcode == Opcode::kClose) {
      uint16_t code = 0;
      const bool ok = ParseClose(payload, n, &code);
      if (ok) {
        FUZZ_CHECK(n == 0 ? code == kCloseNoStatus : IsValidCloseCode(code));
      }
      if (n == 1) {
        FUZZ_CHECK(!ok);
      }
    }
  }

  void set_failed() { failed_ = true; }
  uint64_t data_bytes() const { return data_bytes_; }
  uint64_t control_bytes() const { return control_bytes_; }
  uint64_t digest() const { return digest_; }

 private:
  void Mix(uint64_t v) { digest_ = (digest_ ^ v) * 0x100000001B3ull; }

  bool failed_ = false;
  bool in_message_ = false;
  uint64_t data_bytes_ = 0;
  uint64_t control_bytes_ = 0;
  uint64_t digest_ = 0xCBF29CE484222325ull;
};

struct Result {
  bool ok;
  FrameParser::Error error;
  uint64_t digest;
  bool at_boundary;
};

// Feeds a copy of `wire` (Feed unmasks in place) in pieces; `piece_seed` 0
// means one piece.
Result Run(FrameParser::Role role, uint64_t max_message, const uint8_t* wire,
           size_t size, uint8_t piece_seed) {
  std::vector<uint8_t> copy(wire, wire + size);
  FrameParser parser(role, max_message);
  Checker checker;
  bool ok = true;
  size_t pos = 0;
  uint32_t rng = piece_seed;
  do {
    size_t piece = size - pos;
    if (piece_seed != 0) {
      // Piece sizes 0..63 from a small xorshift, so that headers, masks and
      // payloads are cut everywhere; 0 tests empty Feeds.
      rng ^= rng << 13;
      rng ^= rng >> 17;
      rng ^= rng << 5;
      piece = std::min<size_t>(piece, rng % 64);
    }
    const bool fed = parser.Feed(copy.data() + pos, piece, &checker);
    if (!ok) {
      FUZZ_CHECK(!fed);  // once failed, always failed
    }
    if (!fed) {
      FUZZ_CHECK(parser.error() != FrameParser::Error::kNone);
      FUZZ_CHECK(!FrameParser::ErrorText(parser.error()).empty());
      checker.set_failed();  // no callback may follow
      ok = false;
    } else {
      FUZZ_CHECK(parser.error() == FrameParser::Error::kNone);
    }
    pos += piece;
    FUZZ_CHECK(checker.data_bytes() <= pos);
    FUZZ_CHECK(checker.data_bytes() + checker.control_bytes() <= pos);
  } while (pos < size);
  if (!ok) {
    uint8_t more[2] = {0x81, 0x00};
    FUZZ_CHECK(!parser.Feed(more, sizeof(more), &checker));
  }
  return {ok, parser.error(), checker.digest(), parser.AtFrameBoundary()};
}

}  // namespace
}  // namespace stampede::common::ws

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using stampede::common::ws::FrameParser;
  using stampede::common::ws::Run;
  if (size == 0) return 0;
  const uint8_t control = data[0];
  // Low 7 bits seed the cuts (never 0: that is the one-piece reference run);
  // the high bit picks a small message limit, so kTooBig is reachable.
  const uint8_t seed = static_cast<uint8_t>((control & 0x7F) | 1);
  const uint64_t max_message = (control & 0x80) ? 100 : (1u << 24);
  for (FrameParser::Role role :
       {FrameParser::Role::kClient, FrameParser::Role::kServer}) {
    const auto whole = Run(role, max_message, data + 1, size - 1, 0);
    const auto cut = Run(role, max_message, data + 1, size - 1, seed);
    FUZZ_CHECK(whole.ok == cut.ok);
    FUZZ_CHECK(whole.error == cut.error);
    FUZZ_CHECK(whole.digest == cut.digest);
    FUZZ_CHECK(whole.at_boundary == cut.at_boundary);
  }
  return 0;
}
