// The HTTP/2 engine against a real server (nginx, started by the test: h2c,
// and h2 over TLS with a test certificate) and against small in-test servers
// for the failure paths. Nothing is asserted about durations.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "agent/h2/transport.h"
#include "agent/net/event_loop.h"
#include "tests/integration/process.h"
#include "tests/unit/agent/transport_harness.h"

namespace stampede::agent {
namespace {

using common::ErrorId;

struct Client : TransportHarness<H2Transport> {
  Client(size_t max_streams, size_t per_connection,
         const tls::ClientOptions& tls_options = {}) {
    transport =
        std::move(H2Transport::Create(loop.get(), &recorder, max_streams,
                                      per_connection, tls_options))
            .value();
  }

  // Keeps `concurrency` requests in flight until `total` were sent.
  void RunClosedLoop(const PreparedRequest& request, size_t concurrency,
                     size_t total) {
    size_t sent = 0;
    recorder.then = [&](const Sent&, const Outcome&) {
      if (sent < total) {
        ++sent;
        Send(request);
      }
    };
    for (; sent < std::min(concurrency, total); ++sent) Send(request);
    RunUntilDone(total);
    recorder.then = nullptr;
  }
};

PreparedRequest Request(int port, const std::string& path,
                        const std::string& method = "GET") {
  PreparedRequest r;
  r.url = "http://127.0.0.1:" + std::to_string(port) + path;
  r.method = method;
  return r;
}

// Accepts connections on 127.0.0.1:0 and hands each to `serve` on its own
// thread; the destructor unblocks and joins them.
class TestServer {
 public:
  explicit TestServer(std::function<void(int)> serve)
      : serve_(std::move(serve)) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), len), 0);
    EXPECT_EQ(listen(fd_, 16), 0);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] {
      while (true) {
        int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) return;
        clients_.push_back(c);
        threads_.emplace_back([this, c] { serve_(c); });
      }
    });
  }
  ~TestServer() {
    shutdown(fd_, SHUT_RDWR);
    acceptor_.join();
    for (int c : clients_) shutdown(c, SHUT_RDWR);
    for (auto& t : threads_) t.join();
    for (int c : clients_) close(c);
    close(fd_);
  }
  int port() const { return port_; }

 private:
  std::function<void(int)> serve_;
  int fd_ = -1;
  int port_ = 0;
  std::thread acceptor_;
  std::vector<int> clients_;  // touched by the acceptor, then the destructor
  std::vector<std::thread> threads_;
};

class NginxTest : public ::testing::Test {
 protected:
  void Start(const std::string& extra = "") {
    dir_ = testing::MakeTempDir();
    nginx_ = std::make_unique<testing::Nginx>(dir_, extra);
  }
  void SetUp() override { Start(); }
  std::string dir_;
  std::unique_ptr<testing::Nginx> nginx_;
};

// --- Unsupported ---

TEST(H2TransportTest, ServesHttpAndHttpsAndSaysWhyNot) {
  PreparedRequest r;
  r.method = "GET";
  for (const char* url :
       {"http://127.0.0.1:8080/x?y=1", "http://[::1]:80/",
        "http://localhost:9/a#frag", "https://127.0.0.1/",
        "HTTPS://[::1]:8443/", "https://localhost:9/a", "http://example.com/",
        "https://api.example.com:8443/"}) {
    r.url = url;
    EXPECT_EQ(H2Transport::Unsupported(r), "") << url;
  }
  for (const char* url : {"http://user@127.0.0.1/", "http://127.0.0.1:99999/",
                          "ftp://127.0.0.1/"}) {
    r.url = url;
    EXPECT_NE(H2Transport::Unsupported(r), "") << url;
  }
  r.url = "http://127.0.0.1/";
  r.headers = {"X-Bad: a\r\nInjected: b"};
  EXPECT_NE(H2Transport::Unsupported(r), "");
}

// --- Against nginx ---

TEST_F(NginxTest, ManyStreamsShareFewConnections) {
  Client client(32, 8);
  PreparedRequest r = Request(nginx_->port(), "/hello");
  client.transport->Prepare(r);
  client.RunClosedLoop(r, 32, 400);
  int connect_timed = 0;
  for (const Done& d : client.recorder.done) {
    EXPECT_EQ(d.outcome.error, ErrorId::kNone);
    EXPECT_EQ(d.outcome.status, 200);
    EXPECT_GT(d.outcome.bytes_in, 2);
    EXPECT_GT(d.outcome.bytes_out, 0);
    EXPECT_GE(d.outcome.ttfb_ns, 0);
    EXPECT_EQ(d.outcome.dns_ns, Outcome::kNotTimed);
    EXPECT_EQ(d.outcome.tls_ns, Outcome::kNotTimed);
    if (d.outcome.connect_ns != Outcome::kNotTimed) ++connect_timed;
  }
  // 32 streams, 8 per connection: 4 connections, each timed once.
  EXPECT_EQ(client.transport->connections_opened(), 4u);
  EXPECT_EQ(connect_timed, 4);
  EXPECT_EQ(client.transport->InFlight(), 0u);
  std::vector<std::string> log = nginx_->LogLines(400);
  ASSERT_EQ(log.size(), 400u);
  std::set<std::string> connections;
  for (const std::string& line : log) {
    EXPECT_NE(line.find(" HTTP/2.0 200 /hello"), std::string::npos) << line;
    connections.insert(line.substr(0, line.find(' ')));
  }
  EXPECT_EQ(connections.size(), 4u);
}

TEST_F(NginxTest, StatusesAndBodiesPassThrough) {
  Client client(4, 100);
  PreparedRequest missing = Request(nginx_->port(), "/status/404");
  PreparedRequest post = Request(nginx_->port(), "/post", "POST");
  post.body = std::string(20'000, 'x');  // more than one DATA frame
  post.headers = {"X-Trace: 1", "Connection: keep-alive"};
  client.transport->Prepare(missing);
  client.transport->Prepare(post);
  client.Send(missing);
  client.Send(post);
  client.RunUntilDone(2);
  ASSERT_EQ(client.recorder.done.size(), 2u);
  for (const Done& d : client.recorder.done) {
    EXPECT_EQ(d.outcome.error, ErrorId::kNone);
    if (d.sent.request == &missing) {
      EXPECT_EQ(d.outcome.status, 404);
    } else {
      EXPECT_EQ(d.outcome.status, 200);
      EXPECT_GT(d.outcome.bytes_out, 20'000);
    }
  }
  EXPECT_EQ(client.transport->connections_opened(), 1u);
}

TEST_F(NginxTest, GoawayAfterKeepaliveRequestsLosesNothing) {
  // nginx ends a connection with GOAWAY after keepalive_requests streams;
  // streams past it were never processed and go again on a new connection.
  nginx_.reset();
  Start("keepalive_requests 10;");
  Client client(16, 16);
  PreparedRequest r = Request(nginx_->port(), "/");
  client.transport->Prepare(r);
  client.RunClosedLoop(r, 16, 300);
  for (const Done& d : client.recorder.done) {
    EXPECT_EQ(d.outcome.error, ErrorId::kNone);
    EXPECT_EQ(d.outcome.status, 200);
  }
  EXPECT_EQ(nginx_->LogLines(300).size(), 300u);
  EXPECT_GE(client.transport->connections_opened(), 30u);
}

TEST_F(NginxTest, ServersStreamLimitIsHonouredAndTheRestWait) {
  nginx_.reset();
  Start("http2_max_concurrent_streams 4;");
  Client client(16, 16);
  PreparedRequest r = Request(nginx_->port(), "/");
  client.transport->Prepare(r);
  client.RunClosedLoop(r, 16, 200);
  for (const Done& d : client.recorder.done) {
    EXPECT_EQ(d.outcome.error, ErrorId::kNone);
    EXPECT_EQ(d.outcome.status, 200);
  }
  // One connection (16 / 16), never more than 4 streams on it at once.
  EXPECT_EQ(client.transport->connections_opened(), 1u);
  EXPECT_EQ(nginx_->LogLines(200).size(), 200u);
}

// --- Failure paths ---

TEST(H2TransportTest, ClosedPortIsRefused) {
  int port;
  {
    TestServer server([](int) {});
    port = server.port();
  }
  Client client(2, 100);
  PreparedRequest r = Request(port, "/");
  client.transport->Prepare(r);
  client.Send(r);
  client.Send(r);
  client.RunUntilDone(2);
  for (const Done& d : client.recorder.done)
    EXPECT_EQ(d.outcome.error, ErrorId::kTcpRefused);
  EXPECT_EQ(client.transport->InFlight(), 0u);
}

TEST(H2TransportTest, SilentServerTimesOut) {
  TestServer server([](int fd) {
    char buf[4096];
    while (read(fd, buf, sizeof(buf)) > 0) {
    }
  });
  Client client(2, 100);
  PreparedRequest r = Request(server.port(), "/");
  r.timeout_ms = 100;
  client.transport->Prepare(r);
  client.Send(r);
  client.Send(r);
  client.RunUntilDone(2);
  for (const Done& d : client.recorder.done) {
    EXPECT_EQ(d.outcome.error, ErrorId::kRequestTimeout);
    EXPECT_EQ(d.outcome.status, 0);
  }
  EXPECT_EQ(client.transport->InFlight(), 0u);
}

TEST(H2TransportTest, Http1AnswerIsAProtocolError) {
  TestServer server([](int fd) {
    char buf[4096];
    if (read(fd, buf, sizeof(buf)) <= 0) return;
    const char kReply[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    if (write(fd, kReply, sizeof(kReply) - 1) < 0) return;
    while (read(fd, buf, sizeof(buf)) > 0) {
    }
  });
  Client client(1, 100);
  PreparedRequest r = Request(server.port(), "/");
  client.transport->Prepare(r);
  client.Send(r);
  client.RunUntilDone(1);
  EXPECT_EQ(client.recorder.done[0].outcome.error, ErrorId::kHttpProtocol);
}

TEST(H2TransportTest, UnservableUrlFailsEverySend) {
  Client client(2, 100);
  PreparedRequest r;
  r.url = "ftp://127.0.0.1:1/";
  client.transport->Prepare(r);
  client.Send(r);
  client.Send(r);
  EXPECT_EQ(client.transport->InFlight(), 2u);
  client.RunUntilDone(2);
  for (const Done& d : client.recorder.done)
    EXPECT_EQ(d.outcome.error, ErrorId::kTransportOther);
  EXPECT_EQ(client.transport->InFlight(), 0u);
}

// --- h2 over TLS (nginx `listen ... ssl http2`, ALPN) ---

class NginxTlsTest : public ::testing::Test {
 protected:
  void Start(const std::string& extra = "", bool http2 = true) {
    dir_ = testing::MakeTempDir();
    cert_ = testing::MakeTestCert(dir_);
    nginx_ = std::make_unique<testing::Nginx>(dir_, extra, &cert_, http2);
  }
  tls::ClientOptions Trusting() const {
    tls::ClientOptions o;
    o.ca_file = cert_.cert;
    return o;
  }
  PreparedRequest HttpsRequest(const std::string& path) const {
    PreparedRequest r;
    r.url = "https://localhost:" + std::to_string(nginx_->port()) + path;
    r.method = "GET";
    return r;
  }
  std::string dir_;
  testing::TestCert cert_;
  std::unique_ptr<testing::Nginx> nginx_;
};

TEST_F(NginxTlsTest, H2ByAlpnSharesFewConnections) {
  Start();
  Client client(32, 8, Trusting());
  PreparedRequest r = HttpsRequest("/hello");
  client.transport->Prepare(r);
  client.RunClosedLoop(r, 32, 400);
  int connect_timed = 0, tls_timed = 0;
  for (const Done& d : client.recorder.done) {
    EXPECT_EQ(d.outcome.error, ErrorId::kNone);
    EXPECT_EQ(d.outcome.status, 200);
    EXPECT_GT(d.outcome.bytes_in, 2);
    EXPECT_GE(d.outcome.ttfb_ns, 0);
    if (d.outcome.connect_ns != Outcome::kNotTimed) ++connect_timed;
    if (d.outcome.tls_ns != Outcome::kNotTimed) ++tls_timed;
  }
  // 32 streams, 8 per connection: 4 connections, each handshake timed once.
  EXPECT_EQ(client.transport->connections_opened(), 4u);
  EXPECT_EQ(client.transport->tls_handshakes(), 4u);
  EXPECT_EQ(connect_timed, 4);
  EXPECT_EQ(tls_timed, 4);
  std::vector<std::string> log = nginx_->LogLines(400);
  ASSERT_EQ(log.size(), 400u);
  std::set<std::string> connections;
  for (const std::string& line : log) {
    EXPECT_NE(line.find(" HTTP/2.0 200 /hello "), std::string::npos) << line;
    connections.insert(line.substr(0, line.find(' ')));
  }
  EXPECT_EQ(connections.size(), 4u);
}

TEST_F(NginxTlsTest, ReconnectsResumeTheSession) {
  // GOAWAY after 20 streams: one connection at a time, renewed often.
  Start("keepalive_requests 20;");
  Client client(4, 4, Trusting());
  PreparedRequest r = HttpsRequest("/");
  PreparedRequest post = HttpsRequest("/post");
  post.method = "POST";
  post.body = std::string(40'000, 'x');  // several TLS records
  client.transport->Prepare(r);
  client.transport->Prepare(post);
  client.RunClosedLoop(r, 4, 200);
  client.Send(post);
  client.RunUntilDone(201);
  for (const Done& d : client.recorder.done) {
    EXPECT_EQ(d.outcome.error, ErrorId::kNone);
    EXPECT_EQ(d.outcome.status, 200);
  }
  const std::vector<std::string> log = nginx_->LogLines(201);
  ASSERT_EQ(log.size(), 201u);
  std::set<std::string> connections, resumed;
  for (const std::string& line : log) {
    EXPECT_NE(line.find(" HTTP/2.0 200 "), std::string::npos) << line;
    const std::string id = line.substr(0, line.find(' '));
    connections.insert(id);
    if (line.back() == 'r') resumed.insert(id);
  }
  EXPECT_GE(connections.size(), 10u);
  EXPECT_EQ(client.transport->tls_handshakes(),
            client.transport->connections_opened());
  // The first handshake is a full one; the server resumed later ones, and
  // what we counted is what nginx saw.
  EXPECT_GE(resumed.size(), 1u);
  EXPECT_EQ(client.transport->tls_resumed(), resumed.size());
  EXPECT_EQ(log.front().back(), '.');
}

TEST_F(NginxTlsTest, UntrustedCertificateIsTlsCertificate) {
  Start();
  Client client(2, 100);  // the system's CAs: the test certificate is unknown
  PreparedRequest r = HttpsRequest("/");
  client.transport->Prepare(r);
  client.RunClosedLoop(r, 2, 6);
  ASSERT_EQ(client.recorder.done.size(), 6u);
  for (const Done& d : client.recorder.done) {
    EXPECT_EQ(d.outcome.error, ErrorId::kTlsCertificate);
    EXPECT_EQ(d.outcome.status, 0);
  }
  EXPECT_EQ(client.transport->InFlight(), 0u);
  EXPECT_TRUE(nginx_->LogLines().empty());
}

TEST_F(NginxTlsTest, InsecureSkipVerifyAcceptsIt) {
  Start();
  tls::ClientOptions insecure;
  insecure.insecure_skip_verify = true;
  Client client(2, 100, insecure);
  PreparedRequest r = HttpsRequest("/");
  client.transport->Prepare(r);
  client.RunClosedLoop(r, 2, 6);
  for (const Done& d : client.recorder.done)
    EXPECT_EQ(d.outcome.error, ErrorId::kNone);
  EXPECT_EQ(nginx_->LogLines(6).size(), 6u);
}

TEST_F(NginxTlsTest, ServerWithoutH2IsTlsHandshakeOncePerRequest) {
  // `listen ... ssl` without http2: nginx offers http/1.1 only by ALPN.
  Start("", /*http2=*/false);
  Client client(4, 2, Trusting());
  PreparedRequest r = HttpsRequest("/");
  client.transport->Prepare(r);
  client.RunClosedLoop(r, 4, 10);
  ASSERT_EQ(client.recorder.done.size(), 10u);
  for (const Done& d : client.recorder.done) {
    EXPECT_EQ(d.outcome.error, ErrorId::kTlsHandshake);
    EXPECT_EQ(d.outcome.status, 0);
  }
  EXPECT_EQ(client.transport->InFlight(), 0u);
  EXPECT_TRUE(nginx_->LogLines().empty());
}

TEST(H2TransportTest, TlsServerThatIgnoresAlpnIsTlsHandshake) {
  // Unlike nginx (which ends the handshake with an alert), this server has no
  // ALPN callback: the handshake succeeds and selects no protocol.
  const std::string dir = testing::MakeTempDir();
  const testing::TestCert cert = testing::MakeTestCert(dir);
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  ASSERT_NE(ctx, nullptr);
  ASSERT_EQ(SSL_CTX_use_certificate_chain_file(ctx, cert.cert.c_str()), 1);
  ASSERT_EQ(
      SSL_CTX_use_PrivateKey_file(ctx, cert.key.c_str(), SSL_FILETYPE_PEM), 1);
  std::atomic<int> handshakes{0};
  {
    TestServer server([&](int fd) {
      SSL* ssl = SSL_new(ctx);
      SSL_set_fd(ssl, fd);
      if (SSL_accept(ssl) == 1) {
        ++handshakes;
        char buf[4096];
        while (SSL_read(ssl, buf, sizeof(buf)) > 0) {
        }
      }
      SSL_free(ssl);
    });
    tls::ClientOptions trusting;
    trusting.ca_file = cert.cert;
    Client client(2, 100, trusting);
    PreparedRequest r;
    r.url = "https://localhost:" + std::to_string(server.port()) + "/";
    client.transport->Prepare(r);
    client.RunClosedLoop(r, 2, 5);
    ASSERT_EQ(client.recorder.done.size(), 5u);
    for (const Done& d : client.recorder.done)
      EXPECT_EQ(d.outcome.error, ErrorId::kTlsHandshake);
    EXPECT_EQ(client.transport->InFlight(), 0u);
    // Our side of each handshake finished; the requests failed on ALPN.
    EXPECT_EQ(client.transport->tls_handshakes(),
              client.transport->connections_opened());
    EXPECT_GE(client.transport->tls_handshakes(), 1u);
  }
  EXPECT_GE(handshakes.load(), 1);
  SSL_CTX_free(ctx);
}

TEST(H2TransportTest, UnloadableCaFileFailsCreate) {
  auto loop = std::move(EventLoop::Create()).value();
  Recorder recorder;
  tls::ClientOptions o;
  o.ca_file = "/nonexistent/stampede-ca.pem";
  auto t = H2Transport::Create(loop.get(), &recorder, 4, 4, o);
  EXPECT_FALSE(t.ok());
}

TEST_F(NginxTest, DestroyingWithStreamsInFlightIsClean) {
  Client client(8, 4);
  PreparedRequest r = Request(nginx_->port(), "/");
  client.transport->Prepare(r);
  for (int i = 0; i < 8; ++i) client.Send(r);
  client.transport.reset();
  EXPECT_TRUE(client.recorder.done.empty());
}

}  // namespace
}  // namespace stampede::agent
