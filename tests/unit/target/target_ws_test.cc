// The reference target's WebSocket, server-sent events and fault injection,
// checked against the real binary with small blocking clients written here:
// frames are built (and masked) with common/ws but read back by an
// independent parser, so a codec bug cannot hide itself.
#include <arpa/inet.h>
#include <errno.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "common/ws.h"
#include "tests/integration/process.h"

namespace stampede::target {
namespace {

namespace ws = ::stampede::common::ws;
using ::stampede::testing::BinaryPath;
using ::stampede::testing::Child;
using ::stampede::testing::HttpGet;
using ::stampede::testing::MakeTempDir;
using ::stampede::testing::ReadFile;
using Clock = std::chrono::steady_clock;

// The RFC 6455 section 1.3 example.
constexpr char kRfcKey[] = "dGhlIHNhbXBsZSBub25jZQ==";
constexpr char kRfcAccept[] = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

// A blocking loopback connection whose reads give up after a few seconds, so
// a missing answer fails the test instead of hanging it.
class Socket {
 public:
  explicit Socket(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    timeval timeout = {.tv_sec = 5, .tv_usec = 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ =
        connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~Socket() { close(fd_); }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  bool connected() const { return connected_; }
  int fd() const { return fd_; }

  bool Send(const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += n;
    }
    return true;
  }

  // Until `buffer_` holds `n` bytes; false at EOF, error or timeout (errno
  // says which: 0 for EOF).
  bool Need(size_t n) {
    while (buffer_.size() < n) {
      char buf[65536];
      ssize_t got = recv(fd_, buf, sizeof(buf), 0);
      if (got <= 0) {
        if (got == 0) errno = 0;
        return false;
      }
      buffer_.append(buf, got);
    }
    return true;
  }
  std::string Take(size_t n) {
    std::string out = buffer_.substr(0, n);
    buffer_.erase(0, n);
    return out;
  }
  // Reads through `delimiter`; "" if it never comes.
  std::string ReadThrough(const std::string& delimiter) {
    size_t at;
    while ((at = buffer_.find(delimiter)) == std::string::npos) {
      if (!Need(buffer_.size() + 1)) return "";
    }
    return Take(at + delimiter.size());
  }
  // True when the peer ends the stream (cleanly) with nothing more buffered.
  bool AtEof() { return buffer_.empty() && !Need(1) && errno == 0; }

 private:
  int fd_ = -1;
  bool connected_ = false;
  std::string buffer_;
};

struct Response {
  int status = 0;
  std::string head;
  std::string body;
  std::vector<std::string> chunks;  // with Transfer-Encoding: chunked
};

std::string Header(const std::string& head, const std::string& name) {
  std::smatch m;
  std::regex re("\r\n" + name + ": *([^\r]*)\r\n", std::regex::icase);
  return std::regex_search(head, m, re) ? m[1].str() : "";
}

// Reads one response (Content-Length or chunked body) from `s`.
Response ReadResponse(Socket& s) {
  Response r;
  r.head = s.ReadThrough("\r\n\r\n");
  if (r.head.size() < 12) return r;
  r.status = std::atoi(r.head.c_str() + 9);
  if (Header(r.head, "Transfer-Encoding") == "chunked") {
    while (true) {
      std::string size_line = s.ReadThrough("\r\n");
      if (size_line.empty()) return r;
      size_t size = std::strtoul(size_line.c_str(), nullptr, 16);
      if (!s.Need(size + 2)) return r;
      std::string chunk = s.Take(size + 2);
      if (size == 0) break;
      r.chunks.push_back(chunk.substr(0, size));
      r.body += r.chunks.back();
    }
  } else {
    size_t length = std::atoi(Header(r.head, "Content-Length").c_str());
    if (s.Need(length)) r.body = s.Take(length);
  }
  return r;
}

Response Get(Socket& s, const std::string& path,
             const std::string& headers = "") {
  s.Send("GET " + path + " HTTP/1.1\r\nHost: t\r\n" + headers + "\r\n");
  return ReadResponse(s);
}

std::string UpgradeHeaders(const std::string& key = kRfcKey,
                           const std::string& version = "13") {
  return "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " +
         key + "\r\nSec-WebSocket-Version: " + version + "\r\n";
}

struct Frame {
  bool fin = false;
  ws::Opcode opcode = ws::Opcode::kContinuation;
  std::string payload;
};

// A WebSocket client over a Socket: masked frames out, server frames in.
class WsClient {
 public:
  explicit WsClient(int port) : socket_(port) {}

  // Sends the upgrade request for `path`; returns the response (its head
  // only when it is a 101).
  Response Open(const std::string& path, const std::string& extra = "") {
    socket_.Send("GET " + path + " HTTP/1.1\r\nHost: t\r\n" + UpgradeHeaders() +
                 extra + "\r\n");
    Response r;
    r.head = socket_.ReadThrough("\r\n\r\n");
    if (r.head.size() >= 12) r.status = std::atoi(r.head.c_str() + 9);
    return r;
  }

  void Send(ws::Opcode opcode, const std::string& payload, bool fin = true) {
    uint8_t mask[4];
    for (uint8_t& b : mask) b = static_cast<uint8_t>(rng_());
    uint8_t header[ws::kMaxHeaderSize];
    size_t n = ws::EncodeHeader(opcode, fin, payload.size(), mask, header);
    std::string masked = payload;
    ws::ApplyMask(reinterpret_cast<uint8_t*>(masked.data()), masked.size(),
                  mask, 0);
    socket_.Send(std::string(reinterpret_cast<char*>(header), n) + masked);
  }
  void SendClose(int code) {
    Send(ws::Opcode::kClose,
         std::string{static_cast<char>(code >> 8), static_cast<char>(code)});
  }

  // The next frame, parsed here (not by common/ws); nullopt at EOF, timeout
  // or a frame a server may not send (masked).
  std::optional<Frame> Read() {
    if (!socket_.Need(2)) return std::nullopt;
    std::string h = socket_.Take(2);
    const uint8_t b0 = h[0], b1 = h[1];
    if (b1 & 0x80) return std::nullopt;
    uint64_t length = b1 & 0x7F;
    const size_t extra = length == 126 ? 2 : length == 127 ? 8 : 0;
    if (extra > 0) {
      if (!socket_.Need(extra)) return std::nullopt;
      std::string ext = socket_.Take(extra);
      length = 0;
      for (char c : ext) length = length << 8 | static_cast<uint8_t>(c);
    }
    if (!socket_.Need(length)) return std::nullopt;
    Frame f;
    f.fin = (b0 & 0x80) != 0;
    f.opcode = static_cast<ws::Opcode>(b0 & 0x0F);
    f.payload = socket_.Take(length);
    return f;
  }

  // Reads a close frame; its code (1005 for none, -1 if something else came).
  int ReadClose() {
    std::optional<Frame> f = Read();
    if (!f || f->opcode != ws::Opcode::kClose) return -1;
    if (f->payload.empty()) return 1005;
    if (f->payload.size() < 2) return -1;
    return static_cast<uint8_t>(f->payload[0]) << 8 |
           static_cast<uint8_t>(f->payload[1]);
  }

  Socket& socket() { return socket_; }

 private:
  Socket socket_;
  std::mt19937 rng_{std::random_device()()};
};

long long Stat(const std::string& json, const std::string& name) {
  std::smatch m;
  std::regex re("\"" + name + "\":([0-9]+)");
  return std::regex_search(json, m, re) ? std::stoll(m[1].str()) : -1;
}

// A count inside one of /stats' objects, e.g. ("ws_closes_sent", "1000").
long long Nested(const std::string& json, const std::string& object,
                 const std::string& key) {
  std::smatch m;
  std::regex re("\"" + object + "\":\\{([^}]*)\\}");
  if (!std::regex_search(json, m, re)) return -1;
  const std::string inner = m[1].str();
  long long value = Stat(inner, key);
  return value < 0 ? 0 : value;
}

class TargetWsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    signal(SIGPIPE, SIG_IGN);
    dir_ = MakeTempDir();
    Start(2);
  }

  // Restarts the target with `threads` loops.
  void Start(int threads) {
    child_.reset();
    std::remove((dir_ + "/target.port").c_str());
    child_ = std::make_unique<Child>(
        std::vector<std::string>{BinaryPath("stampede-target"), "--listen",
                                 "127.0.0.1:0", "--threads",
                                 std::to_string(threads), "--port-file",
                                 dir_ + "/target.port"},
        dir_ + "/target.log");
    port_ = 0;
    for (int i = 0; i < 500 && port_ == 0; ++i) {
      port_ = std::atoi(ReadFile(dir_ + "/target.port").c_str());
      if (port_ == 0)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_NE(port_, 0) << "stampede-target did not start";
  }

  std::string Control(const std::string& path) { return HttpGet(port_, path); }
  std::string Stats() { return Control("/stats"); }

  // /stats once `name` reads `value`, or after a few seconds.
  std::string StatsWhen(const std::string& name, long long value) {
    std::string stats;
    for (int i = 0; i < 250; ++i) {
      stats = Stats();
      if (Stat(stats, name) == value) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return stats;
  }

  std::string dir_;
  std::unique_ptr<Child> child_;
  int port_ = 0;
};

TEST_F(TargetWsTest, HandshakeAcceptsWithTheRfcValueAndFirstSubprotocol) {
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

TEST_F(TargetWsTest, InvalidUpgradesAreRefused) {
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

TEST_F(TargetWsTest, EchoesTextAndFragmentedBinaryWhole) {
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

TEST_F(TargetWsTest, PingGetsPongWithTheSamePayload) {
  WsClient client(port_);
  ASSERT_EQ(client.Open("/ws/echo").status, 101);
  client.Send(ws::Opcode::kPing, std::string(125, 'p'));
  std::optional<Frame> f = client.Read();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->opcode, ws::Opcode::kPong);
  EXPECT_EQ(f->payload, std::string(125, 'p'));
}

TEST_F(TargetWsTest, CloseHandshakeEchoesTheCodeThenTheServerCloses) {
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

TEST_F(TargetWsTest, ClosesWithTheAskedCodeAfterNEchoes) {
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

TEST_F(TargetWsTest, ProtocolErrorsCloseWithTheParsersCode) {
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

TEST_F(TargetWsTest, DelayedEchoesKeepTheirOrder) {
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

TEST_F(TargetWsTest, StreamPushesExactlyNMessagesOfSizeBThenCloses) {
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

TEST_F(TargetWsTest, UpgradesToOtherPathsGetThePlainRoute) {
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

TEST_F(TargetWsTest, ServerSentEventsComeChunkedThenTheConnectionIsReused) {
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

TEST_F(TargetWsTest, StatusFaultAnswersAnExactShare) {
  EXPECT_EQ(Control("/fault/status/503/10"), "{\"status\":503,\"percent\":10}");
  Socket s(port_);  // one connection: one loop, one count
  std::vector<int> faulted;
  for (int i = 0; i < 100; ++i) {
    Response r = Get(s, "/");
    ASSERT_TRUE(r.status == 200 || r.status == 503) << r.head;
    if (r.status == 503) {
      EXPECT_EQ(r.body, "Service Unavailable");
      faulted.push_back(i);
    }
  }
  EXPECT_EQ(faulted, (std::vector<int>{9, 19, 29, 39, 49, 59, 69, 79, 89, 99}));
  // Control routes are never faulted.
  std::string stats = Stats();
  EXPECT_EQ(Nested(stats, "faults", "status"), 10) << stats;
  EXPECT_EQ(Nested(stats, "by_status", "503"), 10) << stats;
  EXPECT_EQ(Control("/fault/clear"), "{\"cleared\":true}");
  for (int i = 0; i < 20; ++i) ASSERT_EQ(Get(s, "/").status, 200);
}

TEST_F(TargetWsTest, ResetFaultResetsAnExactShareOfConnections) {
  Start(1);  // every connection on one loop, so its count is the total
  EXPECT_EQ(Control("/fault/reset/50"), "{\"reset_percent\":50}");
  int answered = 0, reset = 0;
  for (int i = 0; i < 100; ++i) {
    Socket s(port_);
    ASSERT_TRUE(s.connected());
    Response r = Get(s, "/");
    if (r.status == 200) {
      ++answered;
    } else if (errno == ECONNRESET) {
      ++reset;
    }
  }
  EXPECT_EQ(answered, 50);
  EXPECT_EQ(reset, 50);
  std::string stats = Stats();
  EXPECT_EQ(Nested(stats, "faults", "reset"), 50) << stats;
  EXPECT_EQ(Stat(stats, "requests"), 50) << stats;
}

TEST_F(TargetWsTest, LatencyFaultDelaysResponsesAndUpgrades) {
  EXPECT_EQ(Control("/fault/latency/200"),
            "{\"latency_min_ms\":200,\"latency_max_ms\":200}");
  Socket s(port_);
  Clock::time_point start = Clock::now();
  EXPECT_EQ(Get(s, "/").status, 200);
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(200));

  WsClient client(port_);
  start = Clock::now();
  ASSERT_EQ(client.Open("/ws/echo").status, 101);
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(200));

  EXPECT_EQ(Control("/fault/latency/300-400"),
            "{\"latency_min_ms\":300,\"latency_max_ms\":400}");
  start = Clock::now();
  EXPECT_EQ(Get(s, "/sse?n=1").status, 200);
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(300));
  EXPECT_EQ(Control("/fault/latency/400-300"), "bad parameter");
}

TEST_F(TargetWsTest, FreezeHoldsEchoesUntilItEnds) {
  WsClient client(port_);
  ASSERT_EQ(client.Open("/ws/echo").status, 101);
  Clock::time_point start = Clock::now();
  EXPECT_EQ(Control("/fault/freeze/300"), "{\"frozen_ms\":300}");
  client.Send(ws::Opcode::kText, "held");
  std::optional<Frame> f = client.Read();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->payload, "held");
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(300));

  // A long freeze ends with /fault/clear (else the read times out).
  EXPECT_EQ(Control("/fault/freeze/60000"), "{\"frozen_ms\":60000}");
  client.Send(ws::Opcode::kText, "thawed");
  Socket s(port_);
  s.Send("GET / HTTP/1.1\r\nHost: t\r\n\r\n");  // held too
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(Control("/fault/clear"), "{\"cleared\":true}");
  f = client.Read();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->payload, "thawed");
  EXPECT_EQ(ReadResponse(s).status, 200);
}

TEST_F(TargetWsTest, WsCloseFaultClosesOpenSocketsOnly) {
  std::vector<std::unique_ptr<WsClient>> clients;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(std::make_unique<WsClient>(port_));
    ASSERT_EQ(clients.back()
                  ->Open(i == 0 ? "/ws/stream?n=1000&every=1000" : "/ws/echo")
                  .status,
              101);
  }
  ASSERT_TRUE(clients[0]->Read());  // the stream's first push
  EXPECT_EQ(Control("/fault/ws_close/4001"), "{\"ws_close\":4001}");
  for (auto& client : clients) {
    EXPECT_EQ(client->ReadClose(), 4001);
    client->SendClose(4001);
    EXPECT_TRUE(client->socket().AtEof());
    shutdown(client->socket().fd(), SHUT_WR);
  }
  WsClient later(port_);  // opened after: untouched
  ASSERT_EQ(later.Open("/ws/echo").status, 101);
  later.Send(ws::Opcode::kText, "fine");
  std::optional<Frame> f = later.Read();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->payload, "fine");
  std::string stats = StatsWhen("ws_open", 1);
  EXPECT_EQ(Nested(stats, "ws_closes_sent", "4001"), 4) << stats;
  EXPECT_EQ(Nested(stats, "ws_closes_received", "4001"), 4) << stats;
}

TEST_F(TargetWsTest, StatsCountWhatHappened) {
  {
    WsClient client(port_);
    ASSERT_EQ(client.Open("/ws/echo").status, 101);
    EXPECT_EQ(Stat(Stats(), "ws_open"), 1);
    client.Send(ws::Opcode::kText, "12345");
    client.Send(ws::Opcode::kBinary, "1234567");
    client.Send(ws::Opcode::kPing, "not a message");
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(client.Read());
    client.SendClose(1000);
    EXPECT_EQ(client.ReadClose(), 1000);
  }
  std::string stats = StatsWhen("ws_open", 0);
  EXPECT_EQ(Stat(stats, "requests"), 1) << stats;
  EXPECT_EQ(Nested(stats, "by_status", "101"), 1) << stats;
  EXPECT_EQ(Nested(stats, "by_path", "/ws/echo"), 1) << stats;
  EXPECT_EQ(Stat(stats, "ws_upgrades"), 1) << stats;
  EXPECT_EQ(Stat(stats, "ws_open"), 0) << stats;
  EXPECT_EQ(Stat(stats, "ws_messages_in"), 2) << stats;
  EXPECT_EQ(Stat(stats, "ws_messages_out"), 2) << stats;
  EXPECT_EQ(Stat(stats, "ws_bytes_in"), 12) << stats;
  EXPECT_EQ(Stat(stats, "ws_bytes_out"), 12) << stats;
  EXPECT_EQ(Nested(stats, "ws_closes_received", "1000"), 1) << stats;
  EXPECT_EQ(Nested(stats, "ws_closes_sent", "1000"), 1) << stats;
  EXPECT_EQ(Stat(stats, "sse_events"), 0) << stats;

  // A reset zeroes the counters, but not what is open.
  WsClient open(port_);
  ASSERT_EQ(open.Open("/ws/echo").status, 101);
  EXPECT_EQ(Control("/stats/reset"), "{\"reset\":true}");
  stats = Stats();
  EXPECT_EQ(Stat(stats, "ws_upgrades"), 0) << stats;
  EXPECT_EQ(Stat(stats, "ws_messages_in"), 0) << stats;
  EXPECT_EQ(Nested(stats, "ws_closes_sent", "1000"), 0) << stats;
  EXPECT_EQ(Stat(stats, "ws_open"), 1) << stats;
}

long long VmRssKb(int pid) {
  std::string status = ReadFile("/proc/" + std::to_string(pid) + "/status");
  std::smatch m;
  static const std::regex kRss("VmRSS:\\s+([0-9]+) kB");
  return std::regex_search(status, m, kRss) ? std::stoll(m[1].str()) : -1;
}

// Idle WebSockets must stay cheap: no buffer stays allocated per connection.
TEST_F(TargetWsTest, IdleWebSocketsCostLittleMemory) {
  rlimit limit;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
  const int count = static_cast<int>(
      std::min<rlim_t>(4000, limit.rlim_cur > 200 ? limit.rlim_cur - 100 : 0));
  ASSERT_GE(count, 1000) << "too few file descriptors to measure";
  {  // Warm up: the first connections set up what every later one shares.
    WsClient warm(port_);
    ASSERT_EQ(warm.Open("/ws/echo").status, 101);
    warm.Send(ws::Opcode::kText, "warm");
    ASSERT_TRUE(warm.Read());
  }
  StatsWhen("ws_open", 0);
  const long long before = VmRssKb(child_->pid());
  std::vector<std::unique_ptr<WsClient>> clients;
  for (int i = 0; i < count; ++i) {
    clients.push_back(std::make_unique<WsClient>(port_));
    ASSERT_EQ(clients.back()->Open("/ws/echo").status, 101) << i;
    // A message each, so that message and output buffers were used once.
    clients.back()->Send(ws::Opcode::kText, std::string(1000, 'm'));
  }
  for (auto& client : clients) ASSERT_TRUE(client->Read());
  ASSERT_EQ(Stat(StatsWhen("ws_open", count), "ws_open"), count);
  const long long after = VmRssKb(child_->pid());
  const double per_connection = (after - before) * 1024.0 / count;
  RecordProperty("bytes_per_idle_websocket", static_cast<int>(per_connection));
  std::printf("%d idle WebSockets: VmRSS %lld -> %lld kB, %.0f B each\n", count,
              before, after, per_connection);
  EXPECT_LE(per_connection, 2048);
}

}  // namespace
}  // namespace stampede::target
