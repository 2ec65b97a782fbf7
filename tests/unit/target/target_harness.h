// The reference target's tests' shared parts: small blocking clients written
// here (a raw socket, an HTTP response reader, a WebSocket client whose frames
// are built with common/ws but read back by its own parser, so a codec bug
// cannot hide itself) and a fixture that runs the real stampede-target.
// Single-threaded, for target_ws_test.cc and target_faults_test.cc only.
#ifndef STAMPEDE_TESTS_UNIT_TARGET_TARGET_HARNESS_H_
#define STAMPEDE_TESTS_UNIT_TARGET_TARGET_HARNESS_H_

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

inline std::string Header(const std::string& head, const std::string& name) {
  std::smatch m;
  std::regex re("\r\n" + name + ": *([^\r]*)\r\n", std::regex::icase);
  return std::regex_search(head, m, re) ? m[1].str() : "";
}

// Reads one response (Content-Length or chunked body) from `s`.
inline Response ReadResponse(Socket& s) {
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

inline long long Stat(const std::string& json, const std::string& name) {
  std::smatch m;
  std::regex re("\"" + name + "\":([0-9]+)");
  return std::regex_search(json, m, re) ? std::stoll(m[1].str()) : -1;
}

// A count inside one of /stats' objects, e.g. ("ws_closes_sent", "1000").
inline long long Nested(const std::string& json, const std::string& object,
                        const std::string& key) {
  std::smatch m;
  std::regex re("\"" + object + "\":\\{([^}]*)\\}");
  if (!std::regex_search(json, m, re)) return -1;
  const std::string inner = m[1].str();
  long long value = Stat(inner, key);
  return value < 0 ? 0 : value;
}

class TargetTest : public ::testing::Test {
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

}  // namespace stampede::target

#endif  // STAMPEDE_TESTS_UNIT_TARGET_TARGET_HARNESS_H_
