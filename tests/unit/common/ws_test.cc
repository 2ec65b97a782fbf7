// Checks the RFC 6455 codec against the RFC's own examples and rules (section
// 1.3's handshake, section 5.7's frames, sections 5.2-5.5 and 7.4's errors),
// never against the codec's own output.
#include "common/ws.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"

namespace stampede::common::ws {
namespace {

using Bytes = std::vector<uint8_t>;
using Role = FrameParser::Role;
using Error = FrameParser::Error;

Bytes Concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

Bytes Str(std::string_view s) { return Bytes(s.begin(), s.end()); }

// One thing the parser reported. Consecutive OnData pieces are merged into
// one kData event, so that the events do not depend on how input was split.
struct Event {
  enum Kind { kStart, kData, kEnd, kControl } kind;
  Opcode opcode = Opcode::kContinuation;
  Bytes payload;

  bool operator==(const Event&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Event& e) {
  static constexpr const char* kNames[] = {"start", "data", "end", "control"};
  os << "{" << kNames[e.kind] << " op=" << static_cast<int>(e.opcode)
     << " len=" << e.payload.size() << " [";
  for (size_t i = 0; i < e.payload.size() && i < 16; ++i) {
    os << (i ? " " : "") << std::hex << static_cast<int>(e.payload[i])
       << std::dec;
  }
  return os << (e.payload.size() > 16 ? " ...]}" : "]}");
}

class Recorder : public FrameParser::Handler {
 public:
  void OnMessageStart(Opcode opcode) override {
    events_.push_back({Event::kStart, opcode, {}});
  }
  void OnData(const uint8_t* data, size_t n) override {
    data_bytes_ += n;
    if (n == 0) return;
    if (events_.empty() || events_.back().kind != Event::kData)
      events_.push_back({Event::kData, Opcode::kContinuation, {}});
    events_.back().payload.insert(events_.back().payload.end(), data, data + n);
  }
  void OnMessageEnd() override { events_.push_back({Event::kEnd, {}, {}}); }
  void OnControl(Opcode opcode, const uint8_t* payload, size_t n) override {
    events_.push_back({Event::kControl, opcode, Bytes(payload, payload + n)});
  }

  const std::vector<Event>& events() const { return events_; }
  uint64_t data_bytes() const { return data_bytes_; }

 private:
  std::vector<Event> events_;
  uint64_t data_bytes_ = 0;
};

// What feeding some input did: the events, whether every Feed succeeded, and
// the error.
struct Outcome {
  std::vector<Event> events;
  bool ok = true;
  Error error = Error::kNone;
  bool at_boundary = true;

  bool operator==(const Outcome&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Outcome& o) {
  os << "{ok=" << o.ok << " error=" << FrameParser::ErrorText(o.error)
     << " boundary=" << o.at_boundary << " events=[";
  for (const Event& e : o.events) os << e << " ";
  return os << "]}";
}

constexpr uint64_t kDefaultMax = 1 << 20;

// Feeds a copy of `wire` (Feed unmasks in place) cut at the given positions.
Outcome FeedCut(Role role, const Bytes& wire, const std::vector<size_t>& cuts,
                uint64_t max_message = kDefaultMax) {
  Bytes copy = wire;
  FrameParser parser(role, max_message);
  Recorder recorder;
  Outcome out;
  size_t pos = 0;
  auto feed_to = [&](size_t end) {
    const bool ok = parser.Feed(copy.data() + pos, end - pos, &recorder);
    // Once a Feed failed, every later one must fail too.
    if (!out.ok) {
      EXPECT_FALSE(ok);
    }
    out.ok = out.ok && ok;
    pos = end;
  };
  for (size_t cut : cuts) feed_to(cut);
  feed_to(copy.size());
  EXPECT_LE(recorder.data_bytes(), wire.size());
  out.events = recorder.events();
  out.error = parser.error();
  out.at_boundary = parser.AtFrameBoundary();
  if (out.ok) {
    EXPECT_EQ(out.error, Error::kNone);
  }
  return out;
}

Outcome FeedWhole(Role role, const Bytes& wire,
                  uint64_t max_message = kDefaultMax) {
  return FeedCut(role, wire, {}, max_message);
}

Outcome FeedByteByByte(Role role, const Bytes& wire,
                       uint64_t max_message = kDefaultMax) {
  std::vector<size_t> cuts;
  for (size_t i = 1; i < wire.size(); ++i) cuts.push_back(i);
  return FeedCut(role, wire, cuts, max_message);
}

Event Start(Opcode op) { return {Event::kStart, op, {}}; }
Event Data(const Bytes& b) { return {Event::kData, Opcode::kContinuation, b}; }
Event End() { return {Event::kEnd, Opcode::kContinuation, {}}; }
Event Control(Opcode op, const Bytes& b) { return {Event::kControl, op, b}; }

Outcome Ok(std::vector<Event> events) {
  return {std::move(events), true, Error::kNone, true};
}

// --- Section 5.7 examples, byte for byte. ---

const Bytes kHello = Str("Hello");
const uint8_t kKey[4] = {0x37, 0xfa, 0x21, 0x3d};

// A single-frame unmasked text message.
const Bytes kUnmaskedHello = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
// A single-frame masked text message.
const Bytes kMaskedHello = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                            0x7f, 0x9f, 0x4d, 0x51, 0x58};
// A fragmented unmasked text message.
const Bytes kHel = {0x01, 0x03, 0x48, 0x65, 0x6c};
const Bytes kLo = {0x80, 0x02, 0x6c, 0x6f};
// Unmasked ping request and masked ping response (a pong).
const Bytes kUnmaskedPing = {0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
const Bytes kMaskedPong = {0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                           0x7f, 0x9f, 0x4d, 0x51, 0x58};

Bytes Payload(size_t n) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(i * 7 + 3);
  return b;
}

// 256 bytes binary message in a single unmasked frame.
Bytes Binary256() { return Concat({{0x82, 0x7E, 0x01, 0x00}, Payload(256)}); }
// 64 KiB binary message in a single unmasked frame.
Bytes Binary64K() {
  return Concat({{0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00},
                 Payload(65536)});
}

Bytes Header(Opcode op, bool fin, uint64_t length, const uint8_t* mask) {
  uint8_t out[kMaxHeaderSize + 8];
  std::fill(std::begin(out), std::end(out), 0xEE);
  const size_t n = EncodeHeader(op, fin, length, mask, out);
  EXPECT_LE(n, kMaxHeaderSize);
  for (size_t i = n; i < sizeof(out); ++i) EXPECT_EQ(out[i], 0xEE) << i;
  return Bytes(out, out + n);
}

// Masks `payload` with `key` by the RFC's definition (section 5.3).
Bytes NaiveMask(Bytes payload, const uint8_t key[4]) {
  for (size_t i = 0; i < payload.size(); ++i) payload[i] ^= key[i % 4];
  return payload;
}

// --- Opening handshake (section 1.3 and 4.2.2). ---

TEST(WsHandshake, Rfc6455Section13Example) {
  // Section 1.3 gives the SHA-1 of key + GUID byte by byte, then its base64.
  const std::string accept = AcceptFor("dGhlIHNhbXBsZSBub25jZQ==");
  EXPECT_EQ(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  std::string digest;
  ASSERT_TRUE(absl::Base64Unescape(accept, &digest));
  EXPECT_EQ(
      Bytes(digest.begin(), digest.end()),
      (Bytes{0xb3, 0x7a, 0x4f, 0x2c, 0xc0, 0x62, 0x4f, 0x16, 0x90, 0xf6,
             0x46, 0x06, 0xcf, 0x38, 0x59, 0x45, 0xb2, 0xbe, 0xc4, 0xea}));
}

// --- Encoding (section 5.2, checked with section 5.7's bytes). ---

TEST(WsEncode, Rfc57UnmaskedHello) {
  EXPECT_EQ(Concat({Header(Opcode::kText, true, 5, nullptr), kHello}),
            kUnmaskedHello);
}

TEST(WsEncode, Rfc57MaskedHello) {
  Bytes payload = kHello;
  ApplyMask(payload.data(), payload.size(), kKey, 0);
  EXPECT_EQ(Concat({Header(Opcode::kText, true, 5, kKey), payload}),
            kMaskedHello);
}

TEST(WsEncode, Rfc57Fragmented) {
  EXPECT_EQ(Concat({Header(Opcode::kText, false, 3, nullptr), Str("Hel")}),
            kHel);
  EXPECT_EQ(
      Concat({Header(Opcode::kContinuation, true, 2, nullptr), Str("lo")}),
      kLo);
}

TEST(WsEncode, Rfc57PingAndMaskedPong) {
  EXPECT_EQ(Concat({Header(Opcode::kPing, true, 5, nullptr), kHello}),
            kUnmaskedPing);
  Bytes payload = kHello;
  ApplyMask(payload.data(), payload.size(), kKey, 0);
  EXPECT_EQ(Concat({Header(Opcode::kPong, true, 5, kKey), payload}),
            kMaskedPong);
}

TEST(WsEncode, Rfc57Binary256With16BitLength) {
  EXPECT_EQ(Concat({Header(Opcode::kBinary, true, 256, nullptr), Payload(256)}),
            Binary256());
}

TEST(WsEncode, Rfc57Binary64KWith64BitLength) {
  EXPECT_EQ(
      Concat({Header(Opcode::kBinary, true, 65536, nullptr), Payload(65536)}),
      Binary64K());
}

TEST(WsEncode, LengthFormBoundaries) {
  // Section 5.2: 0-125 in 7 bits, 126-65535 in 16 bits, more in 64 bits, in
  // network byte order, with the mask bit in the second byte.
  EXPECT_EQ(Header(Opcode::kBinary, true, 0, nullptr), (Bytes{0x82, 0x00}));
  EXPECT_EQ(Header(Opcode::kBinary, true, 125, nullptr), (Bytes{0x82, 0x7D}));
  EXPECT_EQ(Header(Opcode::kBinary, true, 126, nullptr),
            (Bytes{0x82, 0x7E, 0x00, 0x7E}));
  EXPECT_EQ(Header(Opcode::kBinary, true, 65535, nullptr),
            (Bytes{0x82, 0x7E, 0xFF, 0xFF}));
  EXPECT_EQ(Header(Opcode::kBinary, true, 65536, nullptr),
            (Bytes{0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00}));
  EXPECT_EQ(Header(Opcode::kBinary, false, 0x0123456789ABCDEFull, kKey),
            (Bytes{0x02, 0xFF, 0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF,
                   0x37, 0xfa, 0x21, 0x3d}));
  EXPECT_EQ(Header(Opcode::kClose, true, 2, kKey),
            (Bytes{0x88, 0x82, 0x37, 0xfa, 0x21, 0x3d}));
}

// --- Parsing section 5.7's examples. ---

TEST(WsParse, Rfc57UnmaskedHelloAsClient) {
  EXPECT_EQ(FeedWhole(Role::kClient, kUnmaskedHello),
            Ok({Start(Opcode::kText), Data(kHello), End()}));
}

TEST(WsParse, Rfc57MaskedHelloAsServer) {
  EXPECT_EQ(FeedWhole(Role::kServer, kMaskedHello),
            Ok({Start(Opcode::kText), Data(kHello), End()}));
}

TEST(WsParse, Rfc57FragmentedHello) {
  EXPECT_EQ(FeedWhole(Role::kClient, Concat({kHel, kLo})),
            Ok({Start(Opcode::kText), Data(Str("Hello")), End()}));
  // The first fragment alone begins the message and leaves it open.
  EXPECT_EQ(FeedWhole(Role::kClient, kHel),
            Ok({Start(Opcode::kText), Data(Str("Hel"))}));
}

TEST(WsParse, Rfc57PingAndPong) {
  EXPECT_EQ(FeedWhole(Role::kClient, kUnmaskedPing),
            Ok({Control(Opcode::kPing, kHello)}));
  EXPECT_EQ(FeedWhole(Role::kServer, kMaskedPong),
            Ok({Control(Opcode::kPong, kHello)}));
}

TEST(WsParse, Rfc57Binary256) {
  EXPECT_EQ(FeedWhole(Role::kClient, Binary256()),
            Ok({Start(Opcode::kBinary), Data(Payload(256)), End()}));
}

TEST(WsParse, Rfc57Binary64K) {
  EXPECT_EQ(FeedWhole(Role::kClient, Binary64K()),
            Ok({Start(Opcode::kBinary), Data(Payload(65536)), End()}));
}

TEST(WsParse, MaskedLargeFramesAsServer) {
  // Same payloads as 5.7's binary examples, masked as a client sends them.
  for (size_t n : {size_t{126}, size_t{256}, size_t{65535}, size_t{65536},
                   size_t{70001}}) {
    const Bytes wire = Concat(
        {Header(Opcode::kBinary, true, n, kKey), NaiveMask(Payload(n), kKey)});
    EXPECT_EQ(FeedWhole(Role::kServer, wire),
              Ok({Start(Opcode::kBinary), Data(Payload(n)), End()}))
        << n;
  }
}

TEST(WsParse, EmptyFrames) {
  EXPECT_EQ(FeedWhole(Role::kClient, {0x81, 0x00}),
            Ok({Start(Opcode::kText), End()}));
  EXPECT_EQ(FeedWhole(Role::kServer, {0x82, 0x80, 1, 2, 3, 4}),
            Ok({Start(Opcode::kBinary), End()}));
  EXPECT_EQ(FeedWhole(Role::kClient, {0x88, 0x00}),
            Ok({Control(Opcode::kClose, {})}));
  // An empty first fragment, then the data in a continuation.
  EXPECT_EQ(FeedWhole(Role::kClient, Concat({{0x02, 0x00}, {0x80, 0x01, 7}})),
            Ok({Start(Opcode::kBinary), Data({7}), End()}));
}

TEST(WsParse, LargestControlFrame) {
  const Bytes payload = Payload(kMaxControlPayload);
  EXPECT_EQ(FeedWhole(Role::kClient, Concat({{0x89, 0x7D}, payload})),
            Ok({Control(Opcode::kPing, payload)}));
  EXPECT_EQ(
      FeedWhole(Role::kServer, Concat({{0x8A, 0xFD, 0x37, 0xfa, 0x21, 0x3d},
                                       NaiveMask(payload, kKey)})),
      Ok({Control(Opcode::kPong, payload)}));
}

TEST(WsParse, CloseFrameWithCodeAndReason) {
  const Bytes payload = Concat({{0x03, 0xE8}, Str("bye")});  // 1000
  const Outcome out = FeedWhole(
      Role::kServer,
      Concat({{0x88, 0x85, 0x37, 0xfa, 0x21, 0x3d}, NaiveMask(payload, kKey)}));
  ASSERT_EQ(out, Ok({Control(Opcode::kClose, payload)}));
  uint16_t code = 0;
  EXPECT_TRUE(ParseClose(out.events[0].payload.data(),
                         out.events[0].payload.size(), &code));
  EXPECT_EQ(code, kCloseNormal);
}

// Section 5.4: control frames MAY be injected in the middle of a fragmented
// message.
TEST(WsParse, ControlFramesInsideFragmentedMessage) {
  const Bytes wire = Concat({kHel, kUnmaskedPing, {0x8A, 0x00}, kLo});
  EXPECT_EQ(FeedWhole(Role::kClient, wire),
            Ok({Start(Opcode::kText), Data(Str("Hel")),
                Control(Opcode::kPing, kHello), Control(Opcode::kPong, {}),
                Data(Str("lo")), End()}));

  // The same as a server reads it: every frame masked, each with its own key.
  const uint8_t key2[4] = {0x01, 0x02, 0x03, 0x04};
  const uint8_t key3[4] = {0xA0, 0xB0, 0xC0, 0xD0};
  const Bytes masked = Concat({
      Header(Opcode::kText, false, 3, key2),
      NaiveMask(Str("Hel"), key2),
      kMaskedPong,  // RFC 5.7's masked pong
      Header(Opcode::kClose, true, 2, key3),
      NaiveMask({0x03, 0xE9}, key3),
      Header(Opcode::kContinuation, false, 1, kKey),
      NaiveMask(Str("l"), kKey),
      Header(Opcode::kContinuation, true, 1, key2),
      NaiveMask(Str("o"), key2),
  });
  EXPECT_EQ(
      FeedWhole(Role::kServer, masked),
      Ok({Start(Opcode::kText), Data(Str("Hel")),
          Control(Opcode::kPong, kHello), Control(Opcode::kClose, {0x03, 0xE9}),
          Data(Str("lo")), End()}));
}

TEST(WsParse, MessagesBackToBack) {
  const Bytes wire =
      Concat({kUnmaskedHello, kHel, kLo, kUnmaskedPing, Binary256()});
  EXPECT_EQ(FeedWhole(Role::kClient, wire),
            Ok({Start(Opcode::kText), Data(kHello), End(), Start(Opcode::kText),
                Data(kHello), End(), Control(Opcode::kPing, kHello),
                Start(Opcode::kBinary), Data(Payload(256)), End()}));
}

TEST(WsParse, PartialFrameIsNotAtBoundary) {
  Bytes wire = kUnmaskedHello;
  FrameParser parser(Role::kClient, kDefaultMax);
  Recorder recorder;
  EXPECT_TRUE(parser.AtFrameBoundary());
  EXPECT_TRUE(parser.Feed(wire.data(), 1, &recorder));
  EXPECT_FALSE(parser.AtFrameBoundary());  // inside the header
  EXPECT_TRUE(parser.Feed(wire.data() + 1, 3, &recorder));
  EXPECT_FALSE(parser.AtFrameBoundary());  // inside the payload
  EXPECT_TRUE(parser.Feed(wire.data() + 4, 3, &recorder));
  EXPECT_TRUE(parser.AtFrameBoundary());
}

// --- Errors. ---

struct ErrorCase {
  std::string name;
  Role role;
  Bytes wire;
  Error error;
  uint64_t max_message = kDefaultMax;
};

std::vector<ErrorCase> ErrorCases() {
  std::vector<ErrorCase> cases;
  // Section 5.2: RSV1-3 MUST be 0 unless an extension was negotiated.
  cases.push_back({"rsv1", Role::kClient, {0xC1, 0x00}, Error::kReservedBits});
  cases.push_back({"rsv2", Role::kClient, {0xA1, 0x00}, Error::kReservedBits});
  cases.push_back({"rsv3", Role::kClient, {0x91, 0x00}, Error::kReservedBits});
  cases.push_back(
      {"rsv-on-ping", Role::kClient, {0xF9, 0x00}, Error::kReservedBits});
  cases.push_back({"rsv-masked",
                   Role::kServer,
                   {0xC2, 0x80, 1, 2, 3, 4},
                   Error::kReservedBits});
  // Section 5.2: opcodes 0x3-0x7 and 0xB-0xF are reserved.
  for (uint8_t op : {0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF}) {
    cases.push_back({"reserved-opcode-" + std::to_string(op),
                     Role::kClient,
                     {static_cast<uint8_t>(0x80 | op), 0x00},
                     Error::kBadOpcode});
    cases.push_back({"reserved-opcode-masked-" + std::to_string(op),
                     Role::kServer,
                     {static_cast<uint8_t>(0x80 | op), 0x80, 1, 2, 3, 4},
                     Error::kBadOpcode});
  }
  // Section 5.1: a server MUST NOT mask; a client MUST mask.
  cases.push_back(
      {"masked-from-server", Role::kClient, kMaskedHello, Error::kMasking});
  cases.push_back(
      {"masked-pong-from-server", Role::kClient, kMaskedPong, Error::kMasking});
  cases.push_back(
      {"unmasked-from-client", Role::kServer, kUnmaskedHello, Error::kMasking});
  cases.push_back({"unmasked-ping-from-client", Role::kServer, kUnmaskedPing,
                   Error::kMasking});
  cases.push_back({"unmasked-continuation-from-client", Role::kServer,
                   Concat({Header(Opcode::kText, false, 1, kKey),
                           {0x00},
                           Header(Opcode::kContinuation, true, 1, nullptr),
                           {0x00}}),
                   Error::kMasking});
  // Section 5.5: control frames MUST NOT be fragmented...
  cases.push_back(
      {"fragmented-ping", Role::kClient, {0x09, 0x00}, Error::kBadControl});
  cases.push_back({"fragmented-close",
                   Role::kClient,
                   {0x08, 0x02, 0x03, 0xE8},
                   Error::kBadControl});
  cases.push_back({"fragmented-pong-masked",
                   Role::kServer,
                   {0x0A, 0x80, 1, 2, 3, 4},
                   Error::kBadControl});
  // ... and carry at most 125 bytes.
  cases.push_back({"ping-126", Role::kClient,
                   Concat({{0x89, 0x7E, 0x00, 0x7E}, Payload(126)}),
                   Error::kBadControl});
  cases.push_back({"close-64bit-200",
                   Role::kClient,
                   {0x88, 0x7F, 0, 0, 0, 0, 0, 0, 0, 200},
                   Error::kBadControl});
  cases.push_back({"pong-126-masked", Role::kServer,
                   Concat({Header(Opcode::kPong, true, 126, kKey),
                           NaiveMask(Payload(126), kKey)}),
                   Error::kBadControl});
  // Section 5.4: a continuation needs a message in progress, and a new data
  // message cannot start inside a fragmented one.
  cases.push_back(
      {"continuation-first", Role::kClient, kLo, Error::kBadContinuation});
  cases.push_back({"continuation-after-message", Role::kClient,
                   Concat({kUnmaskedHello, kLo}), Error::kBadContinuation});
  cases.push_back({"continuation-nonfin-first",
                   Role::kClient,
                   {0x00, 0x00},
                   Error::kBadContinuation});
  cases.push_back({"text-inside-fragmented", Role::kClient,
                   Concat({kHel, kUnmaskedHello}), Error::kBadContinuation});
  cases.push_back({"binary-inside-fragmented", Role::kClient,
                   Concat({kHel, kUnmaskedPing, {0x02, 0x00}}),
                   Error::kBadContinuation});
  cases.push_back({"text-inside-fragmented-masked", Role::kServer,
                   Concat({Header(Opcode::kBinary, false, 0, kKey),
                           Header(Opcode::kText, true, 0, kKey)}),
                   Error::kBadContinuation});
  // Section 5.2: the most significant bit of a 64-bit length MUST be 0.
  cases.push_back({"length-top-bit",
                   Role::kClient,
                   {0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0},
                   Error::kLengthOverflow});
  cases.push_back({"length-all-ones",
                   Role::kClient,
                   {0x82, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF},
                   Error::kLengthOverflow});
  cases.push_back({"length-top-bit-masked",
                   Role::kServer,
                   {0x81, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4},
                   Error::kLengthOverflow});
  // A message over the limit, in one frame or across fragments (control
  // frames in between do not count).
  cases.push_back({"one-frame-too-big", Role::kClient,
                   Concat({{0x82, 0x0B}, Payload(11)}), Error::kTooBig, 10});
  cases.push_back({"fragments-too-big", Role::kClient,
                   Concat({{0x02, 0x06},
                           Payload(6),
                           kUnmaskedPing,
                           {0x00, 0x04},
                           Payload(4),
                           {0x80, 0x01},
                           Payload(1)}),
                   Error::kTooBig, 10});
  cases.push_back({"fragments-too-big-masked", Role::kServer,
                   Concat({Header(Opcode::kText, false, 6, kKey),
                           NaiveMask(Payload(6), kKey),
                           Header(Opcode::kContinuation, true, 5, kKey),
                           NaiveMask(Payload(5), kKey)}),
                   Error::kTooBig, 10});
  cases.push_back({"huge-length-too-big",
                   Role::kClient,
                   {0x82, 0x7F, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF},
                   Error::kTooBig});
  cases.push_back({"huge-continuation-too-big",
                   Role::kClient,
                   {0x02, 0x01, 0x00, 0x80, 0x7F, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF,
                    0xFF, 0xFF, 0xFF},
                   Error::kTooBig});
  return cases;
}

TEST(WsParse, Errors) {
  for (const ErrorCase& c : ErrorCases()) {
    SCOPED_TRACE(c.name);
    Bytes copy = c.wire;
    FrameParser parser(c.role, c.max_message);
    Recorder recorder;
    EXPECT_FALSE(parser.Feed(copy.data(), copy.size(), &recorder));
    EXPECT_EQ(parser.error(), c.error)
        << FrameParser::ErrorText(parser.error());
    EXPECT_FALSE(FrameParser::ErrorText(parser.error()).empty());
    EXPECT_EQ(FrameParser::CloseCodeFor(parser.error()),
              c.error == Error::kTooBig ? kCloseTooBig : kCloseProtocolError);
    // From then on every Feed fails, even of a valid frame, and nothing more
    // is reported.
    const size_t events = recorder.events().size();
    Bytes valid = c.role == Role::kClient ? kUnmaskedHello : kMaskedHello;
    EXPECT_FALSE(parser.Feed(valid.data(), valid.size(), &recorder));
    Bytes empty;
    EXPECT_FALSE(parser.Feed(empty.data(), 0, &recorder));
    EXPECT_EQ(parser.error(), c.error);
    EXPECT_EQ(recorder.events().size(), events);
  }
}

TEST(WsParse, MessageExactlyAtLimitIsAccepted) {
  const Bytes wire = Concat(
      {{0x02, 0x06}, Payload(6), kUnmaskedPing, {0x80, 0x04}, Payload(4)});
  const Bytes p6 = Payload(6);
  const Bytes p4 = Payload(4);
  EXPECT_EQ(FeedWhole(Role::kClient, wire, 10),
            Ok({Start(Opcode::kBinary), Data(p6),
                Control(Opcode::kPing, kHello), Data(p4), End()}));
  // The limit is per message: the next message starts from zero.
  EXPECT_EQ(FeedWhole(Role::kClient, Concat({wire, wire}), 10).ok, true);
}

TEST(WsParse, ErrorsKeepTheEventsBeforeThem) {
  // The message start and the data already given stay given.
  const Outcome out =
      FeedWhole(Role::kClient, Concat({kHel, kUnmaskedPing, kUnmaskedHello}));
  EXPECT_FALSE(out.ok);
  EXPECT_EQ(out.error, Error::kBadContinuation);
  ASSERT_GE(out.events.size(), 3u);
  EXPECT_EQ(out.events[0], Start(Opcode::kText));
  EXPECT_EQ(out.events[1], Data(Str("Hel")));
  EXPECT_EQ(out.events[2], Control(Opcode::kPing, kHello));
}

// --- Any split of the input gives the same events. ---

struct SplitCase {
  std::string name;
  Role role;
  Bytes wire;
  uint64_t max_message = kDefaultMax;
};

std::vector<SplitCase> SplitCases() {
  std::vector<SplitCase> cases = {
      {"unmasked-hello", Role::kClient, kUnmaskedHello},
      {"masked-hello", Role::kServer, kMaskedHello},
      {"fragmented", Role::kClient, Concat({kHel, kLo})},
      {"ping", Role::kClient, kUnmaskedPing},
      {"masked-pong", Role::kServer, kMaskedPong},
      {"binary-256", Role::kClient, Binary256()},
      {"binary-64k", Role::kClient, Binary64K()},
      {"interleaved", Role::kClient,
       Concat({kHel, kUnmaskedPing, {0x8A, 0x00}, kLo, kUnmaskedHello})},
      {"interleaved-masked", Role::kServer,
       Concat({Header(Opcode::kText, false, 3, kKey),
               NaiveMask(Str("Hel"), kKey), kMaskedPong,
               Header(Opcode::kContinuation, true, 2, kKey),
               NaiveMask(Str("lo"), kKey), kMaskedHello})},
      {"masked-300", Role::kServer,
       Concat({Header(Opcode::kBinary, true, 300, kKey),
               NaiveMask(Payload(300), kKey)})},
  };
  for (const ErrorCase& e : ErrorCases()) {
    cases.push_back({"error-" + e.name, e.role, e.wire, e.max_message});
  }
  return cases;
}

TEST(WsParse, EverySplitGivesTheSameEvents) {
  for (const SplitCase& c : SplitCases()) {
    SCOPED_TRACE(c.name);
    const Outcome whole = FeedWhole(c.role, c.wire, c.max_message);
    const Outcome bytewise = FeedByteByByte(c.role, c.wire, c.max_message);
    EXPECT_EQ(bytewise, whole);
    // One cut anywhere (0 and size() included: an empty Feed).
    for (size_t i = 0; i <= c.wire.size(); ++i) {
      const Outcome cut = FeedCut(c.role, c.wire, {i}, c.max_message);
      if (!(cut == whole)) {
        ADD_FAILURE() << "cut at " << i << ": " << cut << " vs " << whole;
        break;
      }
    }
    // Two cuts anywhere, for the small inputs.
    if (c.wire.size() > 400) continue;
    bool failed = false;
    for (size_t i = 0; i <= c.wire.size() && !failed; ++i) {
      for (size_t j = i; j <= c.wire.size() && !failed; ++j) {
        const Outcome cut = FeedCut(c.role, c.wire, {i, j}, c.max_message);
        if (!(cut == whole)) {
          ADD_FAILURE() << "cuts at " << i << "," << j << ": " << cut << " vs "
                        << whole;
          failed = true;
        }
      }
    }
  }
}

// --- Masking (section 5.3). ---

TEST(WsMask, Rfc57MaskedHello) {
  Bytes payload = kHello;
  ApplyMask(payload.data(), payload.size(), kKey, 0);
  EXPECT_EQ(payload, (Bytes{0x7f, 0x9f, 0x4d, 0x51, 0x58}));
  ApplyMask(payload.data(), payload.size(), kKey, 0);
  EXPECT_EQ(payload, kHello);
}

TEST(WsMask, EveryOffsetAndLengthMatchesNaiveXor) {
  const uint8_t key[4] = {0x9A, 0x3C, 0x00, 0xF1};
  const Bytes original = Payload(64);
  for (uint64_t base : {uint64_t{0}, uint64_t{1} << 32, uint64_t{1} << 62}) {
    for (uint64_t offset = base; offset < base + 12; ++offset) {
      for (size_t align = 0; align < 8; ++align) {
        for (size_t n = 0; n <= 40; ++n) {
          Bytes buf = original;
          uint8_t* data = buf.data() + align;
          ApplyMask(data, n, key, offset);
          for (size_t i = 0; i < buf.size(); ++i) {
            uint8_t want = original[i];
            if (i >= align && i < align + n)
              want ^= key[(offset + (i - align)) % 4];
            if (buf[i] != want) {
              FAIL() << "offset " << offset << " align " << align << " n " << n
                     << " byte " << i << ": got " << int{buf[i]} << " want "
                     << int{want};
            }
          }
        }
      }
    }
  }
}

TEST(WsMask, InPiecesEqualsWhole) {
  const Bytes payload = Payload(100);
  const Bytes want = NaiveMask(payload, kKey);
  for (size_t cut = 0; cut <= payload.size(); ++cut) {
    Bytes buf = payload;
    ApplyMask(buf.data(), cut, kKey, 0);
    ApplyMask(buf.data() + cut, buf.size() - cut, kKey, cut);
    ASSERT_EQ(buf, want) << cut;
  }
}

// --- Close frames (sections 5.5.1 and 7.4). ---

Bytes Code(uint32_t code) {
  return {static_cast<uint8_t>(code >> 8), static_cast<uint8_t>(code)};
}

TEST(WsClose, EmptyPayloadIsNoStatus) {
  uint16_t code = 0;
  EXPECT_TRUE(ParseClose(nullptr, 0, &code));
  EXPECT_EQ(code, kCloseNoStatus);
  EXPECT_EQ(code, 1005);
}

TEST(WsClose, OneByteIsInvalid) {
  uint16_t code = 0;
  const uint8_t one[1] = {0x03};
  EXPECT_FALSE(ParseClose(one, 1, &code));
}

TEST(WsClose, CodesThatMayNotBeSent) {
  for (uint32_t c : {1005u, 1006u, 1015u, 999u, 2999u, 5000u, 0u, 1004u, 1016u,
                     2000u, 65535u}) {
    uint16_t code = 0;
    const Bytes payload = Code(c);
    EXPECT_FALSE(ParseClose(payload.data(), payload.size(), &code)) << c;
    EXPECT_FALSE(IsValidCloseCode(c)) << c;
  }
}

TEST(WsClose, CodesThatMayBeSent) {
  for (uint32_t c : {1000u, 1001u, 1002u, 1003u, 1007u, 1008u, 1009u, 1010u,
                     1011u, 3000u, 4000u, 4999u}) {
    uint16_t code = 0;
    const Bytes payload = Code(c);
    EXPECT_TRUE(ParseClose(payload.data(), payload.size(), &code)) << c;
    EXPECT_EQ(code, c);
    EXPECT_TRUE(IsValidCloseCode(c)) << c;
    // A reason may follow the code.
    const Bytes with_reason = Concat({payload, Str("going away")});
    code = 0;
    EXPECT_TRUE(ParseClose(with_reason.data(), with_reason.size(), &code));
    EXPECT_EQ(code, c);
  }
}

}  // namespace
}  // namespace stampede::common::ws
