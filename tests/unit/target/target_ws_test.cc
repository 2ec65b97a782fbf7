// The reference target's WebSocket (RFC 6455 handshake, echo, ping, close,
// protocol errors, pushed streams) and server-sent events, checked against
// the real binary with the clients of target_harness.h.
#include <gtest/gtest.h>

#include "tests/unit/target/target_harness.h"

namespace stampede::target {
namespace {

TEST_F(TargetTest, HandshakeAcceptsWithTheRfcValueAndFirstSubprotocol) {
  WsClient client(port_);
  Response r =
      client.Open("/ws/echo", "Sec-WebSocket-Protocol: chat, super\r\n");
  ASSERT_EQ(r.status, 101) << r.head;
  EXPECT_EQ(Header(r.head, "Sec-WebSocket-Accept"), kRfcAccept);
  EXPECT_EQ(Header(r.head, "Sec-WebSocket-Protocol"), "chat");
  EXPECT_EQ(Header(r.head, "Upgrade"), "websocket");
  EXPECT_EQ(Header(r.head, "Connection"), "Upgrade");

  WsClient plain(port_);
  r = plain.Open("/ws/echo");
  ASSERT_EQ(r.status, 101) << r.head;
  EXPECT_EQ(Header(r.head, "Sec-WebSocket-Protocol"), "");
}

TEST_F(TargetTest, InvalidUpgradesAreRefused) {
  {
    Socket s(port_);
    EXPECT_EQ(Get(s, "/ws/echo").status, 400);  // no upgrade at all
    // The connection stays usable after a refusal.
    EXPECT_EQ(Get(s, "/").status, 200);
  }
  {
    Socket s(port_);
    Response r = Get(s, "/ws/echo", UpgradeHeaders(kRfcKey, "8"));
    EXPECT_EQ(r.status, 426);
    EXPECT_EQ(Header(r.head, "Sec-WebSocket-Version"), "13");
  }
  {
    Socket s(port_);
    EXPECT_EQ(Get(s, "/ws/echo", UpgradeHeaders("short")).status, 400);
  }
  {
    Socket s(port_);  // "Connection" is a token list, case-insensitive.
    Response r =
        Get(s, "/ws/stream",
            "Upgrade: WebSocket\r\nConnection: keep-alive, UPGRADE\r\n"
            "Sec-WebSocket-Key: " +
                std::string(kRfcKey) + "\r\nSec-WebSocket-Version: 13\r\n");
    EXPECT_EQ(r.status, 101) << r.head;
  }
  {
    Socket s(port_);
    EXPECT_EQ(Get(s, "/ws/stream?n=x", UpgradeHeaders()).status, 400);
  }
}

TEST_F(TargetTest, EchoesTextAndFragmentedBinaryWhole) {
  WsClient client(port_);
  ASSERT_EQ(client.Open("/ws/echo").status, 101);
  client.Send(ws::Opcode::kText, "hello");
  std::optional<Frame> f = client.Read();
  ASSERT_TRUE(f);
  EXPECT_TRUE(f->fin);
  EXPECT_EQ(f->opcode, ws::Opcode::kText);
  EXPECT_EQ(f->payload, "hello");

  // Three fragments with a ping between them: the pong comes at once, the
  // echo as one frame when the message is complete. 70,000 bytes need the
  // 64-bit length form.
  std::string first(30000, 'a'), second(30000, 'b'), third(10000, 'c');
  third[0] = '\0';
  client.Send(ws::Opcode::kBinary, first, /*fin=*/false);
  client.Send(ws::Opcode::kPing, "mid");
  client.Send(ws::Opcode::kContinuation, second, /*fin=*/false);
  client.Send(ws::Opcode::kContinuation, third, /*fin=*/true);
  f = client.Read();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->opcode, ws::Opcode::kPong);
  EXPECT_EQ(f->payload, "mid");
  f = client.Read();
  ASSERT_TRUE(f);
  EXPECT_TRUE(f->fin);
  EXPECT_EQ(f->opcode, ws::Opcode::kBinary);
  EXPECT_EQ(f->payload.size(), 70000u);
  EXPECT_TRUE(f->payload == first + second + third);

  client.Send(ws::Opcode::kText, "");  // empty messages echo too
  f = client.Read();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->opcode, ws::Opcode::kText);
  EXPECT_EQ(f->payload, "");
}

TEST_F(TargetTest, PingGetsPongWithTheSamePayload) {
  WsClient client(port_);
  ASSERT_EQ(client.Open("/ws/echo").status, 101);
  client.Send(ws::Opcode::kPing, std::string(125, 'p'));
  std::optional<Frame> f = client.Read();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->opcode, ws::Opcode::kPong);
  EXPECT_EQ(f->payload, std::string(125, 'p'));
}

TEST_F(TargetTest, CloseHandshakeEchoesTheCodeThenTheServerCloses) {
  WsClient client(port_);
  ASSERT_EQ(client.Open("/ws/echo").status, 101);
  client.Send(ws::Opcode::kClose, std::string("\x0f\xa0", 2) + "bye");
  EXPECT_EQ(client.ReadClose(), 4000);
  shutdown(client.socket().fd(), SHUT_WR);
  EXPECT_TRUE(client.socket().AtEof());

  WsClient silent(port_);  // a close without a code
  ASSERT_EQ(silent.Open("/ws/echo").status, 101);
  silent.Send(ws::Opcode::kClose, "");
  std::optional<Frame> f = silent.Read();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->opcode, ws::Opcode::kClose);
  EXPECT_EQ(f->payload, "");
  shutdown(silent.socket().fd(), SHUT_WR);
  EXPECT_TRUE(silent.socket().AtEof());

  std::string stats = Stats();
  EXPECT_EQ(Nested(stats, "ws_closes_received", "4000"), 1) << stats;
  EXPECT_EQ(Nested(stats, "ws_closes_sent", "4000"), 1) << stats;
  EXPECT_EQ(Nested(stats, "ws_closes_received", "1005"), 1) << stats;
}

TEST_F(TargetTest, ClosesWithTheAskedCodeAfterNEchoes) {
  WsClient client(port_);
  ASSERT_EQ(client.Open("/ws/echo?close=1011&after=2").status, 101);
  for (const char* text : {"one", "two", "three"})
    client.Send(ws::Opcode::kText, text);
  for (const char* text : {"one", "two"}) {
    std::optional<Frame> f = client.Read();
    ASSERT_TRUE(f);
    EXPECT_EQ(f->payload, text);
  }
  EXPECT_EQ(client.ReadClose(), 1011);  // and no third echo before it
  client.SendClose(1011);
  EXPECT_TRUE(client.socket().AtEof());

  WsClient at_once(port_);
  ASSERT_EQ(at_once.Open("/ws/echo?close=4002&after=0").status, 101);
  EXPECT_EQ(at_once.ReadClose(), 4002);

  std::string stats = Stats();
  EXPECT_EQ(Nested(stats, "ws_closes_sent", "1011"), 1) << stats;
  EXPECT_EQ(Nested(stats, "ws_closes_received", "1011"), 1) << stats;
}

TEST_F(TargetTest, ProtocolErrorsCloseWithTheParsersCode) {
  WsClient unmasked(port_);
  ASSERT_EQ(unmasked.Open("/ws/echo").status, 101);
  unmasked.socket().Send(std::string("\x81\x02hi", 4));  // clients must mask
  EXPECT_EQ(unmasked.ReadClose(), 1002);
  EXPECT_TRUE(unmasked.socket().AtEof());

  WsClient big(port_);
  ASSERT_EQ(big.Open("/ws/echo").status, 101);
  // A header announcing 1 MiB + 1 bytes: refused before they come.
  uint8_t mask[4] = {1, 2, 3, 4};
  uint8_t header[ws::kMaxHeaderSize];
  size_t n =
      ws::EncodeHeader(ws::Opcode::kBinary, true, (1 << 20) + 1, mask, header);
  big.socket().Send(std::string(reinterpret_cast<char*>(header), n));
  EXPECT_EQ(big.ReadClose(), 1009);
}

TEST_F(TargetTest, DelayedEchoesKeepTheirOrder) {
  WsClient client(port_);
  ASSERT_EQ(client.Open("/ws/echo?delay=100").status, 101);
  const Clock::time_point sent = Clock::now();
  for (const char* text : {"a", "b", "c"}) client.Send(ws::Opcode::kText, text);
  for (const char* text : {"a", "b", "c"}) {
    std::optional<Frame> f = client.Read();
    ASSERT_TRUE(f);
    EXPECT_EQ(f->payload, text);
  }
  EXPECT_GE(Clock::now() - sent, std::chrono::milliseconds(100));
}

TEST_F(TargetTest, StreamPushesExactlyNMessagesOfSizeBThenCloses) {
  WsClient client(port_);
  ASSERT_EQ(client.Open("/ws/stream?n=5&every=20&size=100").status, 101);
  client.Send(ws::Opcode::kText, "ignored");  // counted, not answered
  client.Send(ws::Opcode::kPing, "still alive?");
  int messages = 0, pongs = 0;
  std::optional<Frame> f;
  while ((f = client.Read()) && f->opcode != ws::Opcode::kClose) {
    if (f->opcode == ws::Opcode::kPong) {
      ++pongs;
      EXPECT_EQ(f->payload, "still alive?");
      continue;
    }
    ++messages;
    EXPECT_EQ(f->opcode, ws::Opcode::kText);
    EXPECT_TRUE(f->fin);
    EXPECT_EQ(f->payload.size(), 100u);
    EXPECT_EQ(f->payload.substr(0, 1), std::to_string(messages));
  }
  ASSERT_TRUE(f) << "no close after " << messages << " messages";
  EXPECT_EQ(messages, 5);
  EXPECT_EQ(pongs, 1);
  EXPECT_EQ(f->payload, std::string("\x03\xe8", 2));  // 1000
  client.SendClose(1000);
  EXPECT_TRUE(client.socket().AtEof());
  shutdown(client.socket().fd(), SHUT_WR);  // the server waits for this

  std::string stats = StatsWhen("ws_open", 0);
  EXPECT_EQ(Stat(stats, "ws_messages_in"), 1) << stats;
  EXPECT_EQ(Stat(stats, "ws_bytes_in"), 7) << stats;
  EXPECT_EQ(Stat(stats, "ws_messages_out"), 5) << stats;
  EXPECT_EQ(Stat(stats, "ws_bytes_out"), 500) << stats;
  EXPECT_EQ(Nested(stats, "ws_closes_sent", "1000"), 1) << stats;
}

TEST_F(TargetTest, UpgradesToOtherPathsGetThePlainRoute) {
  Socket s(port_);
  Response r = Get(s, "/status/403", UpgradeHeaders());
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.body, "Forbidden");
  r = Get(s, "/", UpgradeHeaders());
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok");
  EXPECT_EQ(Get(s, "/bytes/3").body, "xxx");  // still plain HTTP
  EXPECT_EQ(Stat(Stats(), "ws_upgrades"), 0);
}

TEST_F(TargetTest, ServerSentEventsComeChunkedThenTheConnectionIsReused) {
  Socket s(port_);
  Response r = Get(s, "/sse?n=3&every=20");
  ASSERT_EQ(r.status, 200) << r.head;
  EXPECT_EQ(Header(r.head, "Content-Type"), "text/event-stream");
  EXPECT_EQ(Header(r.head, "Cache-Control"), "no-cache");
  EXPECT_EQ(Header(r.head, "Transfer-Encoding"), "chunked");
  ASSERT_EQ(r.chunks.size(), 3u) << r.body;
  for (int i = 1; i <= 3; ++i) {
    EXPECT_EQ(r.chunks[i - 1], "id: " + std::to_string(i) + "\ndata: {\"n\":" +
                                   std::to_string(i) + "}\n\n");
  }
  EXPECT_EQ(Get(s, "/").body, "ok");
  std::string stats = Stats();
  EXPECT_EQ(Stat(stats, "sse_events"), 3) << stats;
  EXPECT_EQ(Stat(stats, "requests"), 2) << stats;
}

}  // namespace
}  // namespace stampede::target
