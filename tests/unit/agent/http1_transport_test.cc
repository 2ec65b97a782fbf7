#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "agent/http1/transport.h"
#include "agent/net/event_loop.h"
#include "tests/integration/process.h"
#include "tests/unit/agent/transport_harness.h"

namespace stampede::agent {
namespace {

using common::ErrorId;

// --- The client side: a loop driven the way the worker drives it. ---

struct Client : TransportHarness<Http1Transport> {
  explicit Client(size_t max_connections) {
    transport = std::move(Http1Transport::Create(loop.get(), &recorder,
                                                 max_connections))
                    .value();
  }
};

PreparedRequest Request(int port, const std::string& path,
                        const std::string& method = "GET") {
  PreparedRequest r;
  r.url = "http://127.0.0.1:" + std::to_string(port) + path;
  r.method = method;
  return r;
}

// --- The server side: a tiny blocking server in the test. ---

// Reads one request (head and Content-Length body); false at EOF or error.
bool ReadRequest(int fd, std::string* head, std::string* body,
                 std::string* buffered) {
  while (true) {
    size_t end = buffered->find("\r\n\r\n");
    if (end != std::string::npos) {
      *head = buffered->substr(0, end + 4);
      size_t length = 0;
      std::smatch m;
      static const std::regex kLength("Content-Length: ([0-9]+)",
                                      std::regex::icase);
      if (std::regex_search(*head, m, kLength)) length = std::stoul(m[1]);
      if (buffered->size() >= end + 4 + length) {
        *body = buffered->substr(end + 4, length);
        buffered->erase(0, end + 4 + length);
        return true;
      }
    }
    char buf[65536];
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) return false;
    buffered->append(buf, n);
  }
}

bool WriteAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += n;
  }
  return true;
}

// Listens on 127.0.0.1:0; each connection runs `serve(fd)` on its own thread.
// Stop() (or the destructor) unblocks and joins every thread.
class TestServer {
 public:
  explicit TestServer(std::function<void(int)> serve)
      : serve_(std::move(serve)) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    EXPECT_EQ(bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), len), 0);
    EXPECT_EQ(listen(listen_fd_, 128), 0);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { Accept(); });
  }
  ~TestServer() { Stop(); }

  int port() const { return port_; }
  int connections() const { return connections_.load(); }

  void Stop() {
    if (stopped_.exchange(true)) return;
    shutdown(listen_fd_, SHUT_RDWR);
    acceptor_.join();
    close(listen_fd_);
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (int fd : fds_) shutdown(fd, SHUT_RDWR);
      threads.swap(threads_);
    }
    for (auto& t : threads) t.join();
    for (int fd : fds_) close(fd);
  }

 private:
  void Accept() {
    while (true) {
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        if (stopped_.load()) return;
        continue;
      }
      ++connections_;
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_.load()) {
        close(fd);
        return;
      }
      fds_.push_back(fd);
      threads_.emplace_back([this, fd] {
        serve_(fd);
        shutdown(fd, SHUT_WR);  // the fd itself is closed by Stop()
      });
    }
  }

  std::function<void(int)> serve_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopped_{false};
  std::atomic<int> connections_{0};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<int> fds_;
  std::vector<std::thread> threads_;
};

// Answers every request on the connection with `response`.
std::function<void(int)> Canned(const std::string& response) {
  return [response](int fd) {
    std::string head, body, buffered;
    while (ReadRequest(fd, &head, &body, &buffered)) {
      if (!WriteAll(fd, response)) return;
    }
  };
}

// Waits until the peer is gone (or the server stops).
void WaitForClose(int fd) {
  char buf[4096];
  while (read(fd, buf, sizeof(buf)) > 0) {
  }
}

const std::string kOk = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

// --- Supports / Prepare ---

TEST(Http1TransportTest, SupportsHttpAndHttpsWithNumericHostsAndNames) {
  PreparedRequest r;
  r.method = "GET";
  for (const char* url :
       {"http://127.0.0.1:8080/x?y=1", "http://127.0.0.1", "HTTP://[::1]:80/",
        "http://localhost:9/a#frag", "https://127.0.0.1/",
        "HTTPS://localhost:8443/x", "https://[::1]:443",
        // Names are resolved by the engine itself (c-ares), not left to curl.
        "https://example.com/",
        "http://checkout.shop.svc.cluster.local:8080/"}) {
    r.url = url;
    EXPECT_TRUE(Http1Transport::Supports(r)) << url;
  }
  for (const char* url : {"http://user@127.0.0.1/", "http://127.0.0.1:99999/",
                          "http://127.0.0.1:/x y", "http://[::1/",
                          "ftp://127.0.0.1/", "http:///path"}) {
    r.url = url;
    EXPECT_FALSE(Http1Transport::Supports(r)) << url;
  }
  r.url = "http://127.0.0.1/";
  r.headers = {"X-Bad: a\r\nInjected: b"};
  EXPECT_FALSE(Http1Transport::Supports(r));
  r.headers = {"X-Good: a"};
  r.method = "GE T";
  EXPECT_FALSE(Http1Transport::Supports(r));
}

TEST(Http1TransportTest, UnservableUrlFailsEverySend) {
  Client client(2);
  PreparedRequest r;
  r.url = "http://user@127.0.0.1:1/";
  client.transport->Prepare(r);
  client.Send(r);
  client.Send(r);
  EXPECT_EQ(client.transport->InFlight(), 2u);
  client.RunUntilDone(2);
  for (const Done& d : client.recorder.done)
    EXPECT_EQ(d.outcome.error, ErrorId::kTransportOther);
  EXPECT_EQ(client.transport->InFlight(), 0u);
}

// --- Against the in-test server ---

TEST(Http1TransportTest, KeepAliveReusesOneConnection) {
  TestServer server(Canned(kOk));
  Client client(4);
  PreparedRequest r = Request(server.port(), "/");
  client.transport->Prepare(r);
  for (int i = 0; i < 50; ++i) {
    client.Send(r);
    client.RunUntilDone(i + 1);
  }
  for (const Done& d : client.recorder.done) {
    EXPECT_EQ(d.outcome.error, ErrorId::kNone);
    EXPECT_EQ(d.outcome.status, 200);
    EXPECT_EQ(d.outcome.bytes_in, static_cast<int64_t>(kOk.size()));
    EXPECT_GT(d.outcome.bytes_out, 0);
  }
  EXPECT_EQ(client.transport->connections_opened(), 1u);
  server.Stop();
  EXPECT_EQ(server.connections(), 1);
}

TEST(Http1TransportTest, ConnectionCloseResponsesOpenNewConnections) {
  TestServer server(Canned(
      "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"));
  Client client(2);
  PreparedRequest r = Request(server.port(), "/");
  client.transport->Prepare(r);
  for (int i = 0; i < 10; ++i) {
    client.Send(r);
    client.RunUntilDone(i + 1);
    EXPECT_EQ(client.recorder.done.back().outcome.status, 200);
    EXPECT_EQ(client.recorder.done.back().outcome.error, ErrorId::kNone);
  }
  EXPECT_EQ(client.transport->connections_opened(), 10u);
}

TEST(Http1TransportTest, BodyUntilCloseCompletes) {
  TestServer server([](int fd) {
    std::string head, body, buffered;
    if (ReadRequest(fd, &head, &body, &buffered))
      WriteAll(fd, "HTTP/1.1 200 OK\r\n\r\nall of this");
  });
  Client client(1);
  PreparedRequest r = Request(server.port(), "/");
  client.transport->Prepare(r);
  client.Send(r);
  client.RunUntilDone(1);
  EXPECT_EQ(client.recorder.done[0].outcome.error, ErrorId::kNone);
  EXPECT_EQ(client.recorder.done[0].outcome.status, 200);
}

TEST(Http1TransportTest, PostBodyArrivesIntact) {
  // Big enough not to fit the socket buffers: written across EPOLLOUT events.
  std::string payload(8 << 20, '\0');
  for (size_t i = 0; i < payload.size(); ++i)
    payload[i] = static_cast<char>('a' + (i * 7919) % 26);
  std::atomic<int> intact{0};
  std::string seen_head;
  TestServer server([&](int fd) {
    std::string head, body, buffered;
    while (ReadRequest(fd, &head, &body, &buffered)) {
      bool ok = body == payload &&
                head.rfind("POST /upload?x=1 HTTP/1.1\r\n", 0) == 0 &&
                head.find("\r\nX-Test: yes\r\n") != std::string::npos;
      if (ok) ++intact;
      seen_head = head;
      WriteAll(fd, ok ? kOk : "HTTP/1.1 400 Bad\r\nContent-Length: 0\r\n\r\n");
    }
  });
  Client client(1);
  PreparedRequest r = Request(server.port(), "/upload?x=1", "POST");
  r.body = payload;
  r.headers = {"X-Test: yes", "Content-Type: application/octet-stream"};
  client.transport->Prepare(r);
  client.Send(r);
  client.Send(r);  // no capacity: the worker would not, but it must not break
  client.RunUntilDone(2);
  // The refused one is reported first, from OnDeadline.
  EXPECT_EQ(client.recorder.done[0].outcome.error, ErrorId::kLocalOther);
  const Outcome& o = client.recorder.done[1].outcome;
  EXPECT_EQ(o.error, ErrorId::kNone);
  EXPECT_EQ(o.status, 200);
  EXPECT_GT(o.bytes_out, static_cast<int64_t>(payload.size()));
  server.Stop();
  EXPECT_EQ(intact.load(), 1) << seen_head;
}

TEST(Http1TransportTest, ClosedPortIsRefused) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), len), 0);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  close(fd);  // bound, never listening, now free: nobody answers there

  Client client(4);
  PreparedRequest r = Request(port, "/");
  client.transport->Prepare(r);
  for (int i = 0; i < 4; ++i) client.Send(r);
  client.RunUntilDone(4);
  for (const Done& d : client.recorder.done) {
    EXPECT_EQ(d.outcome.error, ErrorId::kTcpRefused);
    EXPECT_EQ(d.outcome.status, 0);
  }
  EXPECT_EQ(client.transport->InFlight(), 0u);
}

TEST(Http1TransportTest, CloseMidResponseIsReset) {
  TestServer server([](int fd) {
    std::string head, body, buffered;
    if (ReadRequest(fd, &head, &body, &buffered))
      WriteAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial");
  });
  Client client(1);
  PreparedRequest r = Request(server.port(), "/");
  client.transport->Prepare(r);
  client.Send(r);
  client.RunUntilDone(1);
  EXPECT_EQ(client.recorder.done[0].outcome.error, ErrorId::kTcpReset);
  EXPECT_EQ(client.transport->connections_opened(), 1u);  // no retry
}

TEST(Http1TransportTest, GarbageIsAProtocolError) {
  TestServer server(Canned("SMTP ready\r\n\r\n"));
  Client client(1);
  PreparedRequest r = Request(server.port(), "/");
  client.transport->Prepare(r);
  client.Send(r);
  client.RunUntilDone(1);
  EXPECT_EQ(client.recorder.done[0].outcome.error, ErrorId::kHttpProtocol);
}

TEST(Http1TransportTest, SilentServerTimesOut) {
  TestServer server(WaitForClose);
  Client client(2);
  PreparedRequest r = Request(server.port(), "/");
  r.timeout_ms = 200;
  client.transport->Prepare(r);
  client.Send(r);
  client.Send(r);
  client.RunUntilDone(2);
  for (const Done& d : client.recorder.done)
    EXPECT_EQ(d.outcome.error, ErrorId::kRequestTimeout);
  EXPECT_EQ(client.transport->InFlight(), 0u);
  EXPECT_EQ(client.transport->DeadlineNs(), 0);
}

TEST(Http1TransportTest, ServerClosingAKeptAliveConnectionIsRetriedOnce) {
  // Each connection serves one response (without saying so) and closes.
  TestServer server([](int fd) {
    std::string head, body, buffered;
    if (ReadRequest(fd, &head, &body, &buffered)) WriteAll(fd, kOk);
  });
  Client client(1);
  PreparedRequest r = Request(server.port(), "/");
  client.transport->Prepare(r);
  int sends = 1;
  // Send the next request from inside OnDone, before the loop can notice
  // the close: it goes onto the dead kept-alive connection.
  client.recorder.then = [&](const Sent&, const Outcome&) {
    if (sends < 5) {
      ++sends;
      client.Send(r);
    }
  };
  client.Send(r);
  client.RunUntilDone(5);
  ASSERT_EQ(client.recorder.done.size(), 5u);
  for (const Done& d : client.recorder.done) {
    EXPECT_EQ(d.outcome.error, ErrorId::kNone);
    EXPECT_EQ(d.outcome.status, 200);
  }
  EXPECT_EQ(client.transport->connections_opened(), 5u);
}

TEST(Http1TransportTest, StatusPassesThrough) {
  TestServer server(Canned(
      "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy"));
  Client client(1);
  PreparedRequest r = Request(server.port(), "/");
  client.transport->Prepare(r);
  client.Send(r);
  client.RunUntilDone(1);
  EXPECT_EQ(client.recorder.done[0].outcome.error, ErrorId::kNone);
  EXPECT_EQ(client.recorder.done[0].outcome.status, 503);
}

TEST(Http1TransportTest, HeadRequestWithContentLength) {
  TestServer server(Canned("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"));
  Client client(1);
  PreparedRequest r = Request(server.port(), "/", "HEAD");
  client.transport->Prepare(r);
  for (int i = 0; i < 3; ++i) {
    client.Send(r);
    client.RunUntilDone(i + 1);
    EXPECT_EQ(client.recorder.done.back().outcome.status, 200);
  }
  EXPECT_EQ(client.transport->connections_opened(), 1u);
}

TEST(Http1TransportTest, TwoTargetsShareTheCap) {
  TestServer a(Canned(kOk));
  TestServer b(Canned("HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"));
  Client client(1);  // one slot: each switch closes the other's idle socket
  PreparedRequest ra = Request(a.port(), "/");
  PreparedRequest rb = Request(b.port(), "/");
  client.transport->Prepare(ra);
  client.transport->Prepare(rb);
  for (int i = 0; i < 6; ++i) {
    client.Send(i % 2 == 0 ? ra : rb);
    client.RunUntilDone(i + 1);
    EXPECT_EQ(client.recorder.done.back().outcome.status,
              i % 2 == 0 ? 200 : 202);
  }
  EXPECT_EQ(client.transport->connections_opened(), 6u);
  // Same target twice in a row: the idle connection is reused.
  client.Send(rb);
  client.RunUntilDone(7);
  EXPECT_EQ(client.recorder.done.back().outcome.status, 202);
  EXPECT_EQ(client.transport->connections_opened(), 6u);
}

TEST(Http1TransportTest, LocalhostReachesAnIpv4Listener) {
  TestServer server(Canned(kOk));
  Client client(1);
  PreparedRequest r;
  r.url = "http://localhost:" + std::to_string(server.port()) + "/";
  r.method = "GET";
  ASSERT_TRUE(Http1Transport::Supports(r));
  client.transport->Prepare(r);
  client.Send(r);
  client.RunUntilDone(1);
  EXPECT_EQ(client.recorder.done[0].outcome.error, ErrorId::kNone);
  EXPECT_EQ(client.recorder.done[0].outcome.status, 200);
}

TEST(Http1TransportTest, DestroyingWithRequestsInFlightIsClean) {
  TestServer server(WaitForClose);
  {
    Client client(3);
    PreparedRequest r = Request(server.port(), "/");
    client.transport->Prepare(r);
    for (int i = 0; i < 3; ++i) client.Send(r);
    client.loop->SetDeadline(EventLoop::MonoNowNs() + 10'000'000);
    client.loop->RunOnce();
  }
  server.Stop();
}

// --- Against the project's reference server ---

class ReferenceTargetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string binary =
        std::string(STAMPEDE_BINARY_DIR) + "/bin/stampede-target";
    // A build dependency of this test: missing means the build is broken.
    ASSERT_EQ(access(binary.c_str(), X_OK), 0) << "no " << binary;
    dir_ = stampede::testing::MakeTempDir();
    target_ = std::make_unique<stampede::testing::Target>(dir_);
  }

  // One /stats request (a connection of its own, counted too).
  std::string Stats() {
    return stampede::testing::HttpGet(target_->port(), "/stats");
  }
  static long long Stat(const std::string& stats, const std::string& name) {
    std::smatch m;
    std::regex re("\"" + name + "\":([0-9]+)");
    if (!std::regex_search(stats, m, re)) return -1;
    return std::stoll(m[1].str());
  }

  std::string dir_;
  std::unique_ptr<stampede::testing::Target> target_;
};

TEST_F(ReferenceTargetTest, ManyConcurrentRequestsAllCounted) {
  constexpr size_t kConnections = 16;
  constexpr int kTotal = 1000;
  Client client(kConnections);
  PreparedRequest r = Request(target_->port(), "/");
  client.transport->Prepare(r);
  int sent = 0;
  client.recorder.then = [&](const Sent&, const Outcome&) {
    if (sent < kTotal) {
      ++sent;
      client.Send(r);
    }
  };
  while (sent < static_cast<int>(kConnections)) {
    ASSERT_TRUE(client.transport->HasCapacity());
    ++sent;
    client.Send(r);
  }
  EXPECT_FALSE(client.transport->HasCapacity());
  client.RunUntilDone(kTotal);
  for (const Done& d : client.recorder.done) {
    ASSERT_EQ(d.outcome.error, ErrorId::kNone);
    ASSERT_EQ(d.outcome.status, 200);
  }
  EXPECT_EQ(client.transport->InFlight(), 0u);
  EXPECT_LE(client.transport->connections_opened(), kConnections);
  std::string stats = Stats();
  EXPECT_EQ(Stat(stats, "requests"), kTotal) << stats;
  // Ours, plus the one that asked for /stats.
  EXPECT_LE(Stat(stats, "connections"),
            static_cast<long long>(client.transport->connections_opened()) + 1)
      << stats;
}

TEST_F(ReferenceTargetTest, SequentialRequestsShareOneConnection) {
  Client client(8);
  PreparedRequest r = Request(target_->port(), "/");
  client.transport->Prepare(r);
  for (int i = 0; i < 1000; ++i) {
    client.Send(r);
    client.RunUntilDone(i + 1);
    ASSERT_EQ(client.recorder.done.back().outcome.status, 200);
  }
  EXPECT_EQ(client.transport->connections_opened(), 1u);
  std::string stats = Stats();
  EXPECT_EQ(Stat(stats, "requests"), 1000) << stats;
  EXPECT_EQ(Stat(stats, "connections"), 2) << stats;  // ours and /stats
}

TEST_F(ReferenceTargetTest, RoutesStatusesBytesAndTimeouts) {
  Client client(4);
  PreparedRequest status = Request(target_->port(), "/status/503");
  PreparedRequest bytes = Request(target_->port(), "/bytes/1000000");
  PreparedRequest slow = Request(target_->port(), "/delay/5000");
  slow.timeout_ms = 200;
  PreparedRequest head = Request(target_->port(), "/bytes/5000", "HEAD");
  for (const PreparedRequest* r : {&status, &bytes, &slow, &head})
    client.transport->Prepare(*r);
  client.Send(status);
  client.Send(bytes);
  client.Send(slow);
  client.Send(head);
  client.RunUntilDone(4);
  for (const Done& d : client.recorder.done) {
    if (d.sent.request == &status) {
      EXPECT_EQ(d.outcome.error, ErrorId::kNone);
      EXPECT_EQ(d.outcome.status, 503);
    } else if (d.sent.request == &bytes) {
      EXPECT_EQ(d.outcome.error, ErrorId::kNone);
      EXPECT_EQ(d.outcome.status, 200);
      EXPECT_GT(d.outcome.bytes_in, 1000000);
    } else if (d.sent.request == &slow) {
      EXPECT_EQ(d.outcome.error, ErrorId::kRequestTimeout);
    } else {
      EXPECT_EQ(d.outcome.error, ErrorId::kNone);
      EXPECT_EQ(d.outcome.status, 200);
      EXPECT_LT(d.outcome.bytes_in, 5000);
    }
  }
}

}  // namespace
}  // namespace stampede::agent
