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
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "agent/h2/request.h"
#include "agent/h2/transport.h"
#include "agent/load/flow.h"
#include "agent/net/event_loop.h"
#include "tests/integration/process.h"
#include "tests/unit/agent/flow_harness.h"
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

// --- Flows ---

// A flow step as its instance renders it: the head always kept, the body up
// to `body_limit`.
FlowSend Step(const std::string& target, const std::string& headers = "",
              const std::string& body = "", size_t body_limit = 4096) {
  FlowSend f;
  f.target = target;
  f.headers = headers;
  f.body = body;
  f.keep_head = true;
  f.body_limit = body_limit;
  return f;
}

// Sent by user `user` on its own connection, as the worker sends a step.
Sent FlowSent(const PreparedRequest& request, FlowSend* flow, uint32_t user) {
  const int64_t now = EventLoop::MonoNowNs();
  Sent sent{&request, now, now, user};
  sent.connection = user;
  sent.flow = flow;
  return sent;
}

std::string Value(const nghttp2_nv& nv) {
  return std::string(reinterpret_cast<const char*>(nv.value), nv.valuelen);
}

std::vector<std::pair<std::string, std::string>> Fields(
    const H2FlowBlock& block) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const nghttp2_nv& nv : block.nva) {
    out.emplace_back(
        std::string(reinterpret_cast<const char*>(nv.name), nv.namelen),
        Value(nv));
  }
  return out;
}

TEST(H2FlowBlockTest, RenderedLinesBecomeLowerCaseFieldsWithoutHopByHop) {
  PreparedRequest r = Request(8080, "/", "POST");
  H2Request base;
  ASSERT_EQ(BuildH2Request(r, &base), ErrorId::kNone);
  FlowSend f = Step("/api/agents/7?x=1",
                    "User-Agent: stampede/1\r\nConnection: keep-alive\r\n"
                    "Host: api.example.test\r\nX-Empty;\r\nX-Gone:\r\n"
                    "TE: gzip\r\nTE: trailers\r\nKeep-Alive: 5\r\n"
                    "Transfer-Encoding: chunked\r\nContent-Length: 99\r\n"
                    "Authorization:  Bearer t-1 \r\nCookie: sid=a; b=c\r\n",
                    "{\"a\":1}");
  H2FlowBlock block;
  ASSERT_EQ(BuildH2FlowBlock(base, f, &block), ErrorId::kNone);
  const std::vector<std::pair<std::string, std::string>> want = {
      {":method", "POST"},
      {":scheme", "http"},
      {":authority", "api.example.test"},
      {":path", "/api/agents/7?x=1"},
      {"user-agent", "stampede/1"},
      {"x-empty", ""},
      {"te", "trailers"},
      {"authorization", "Bearer t-1"},
      {"cookie", "sid=a; b=c"},
      {"content-length", "7"}};
  EXPECT_EQ(Fields(block), want);
  EXPECT_TRUE(block.has_body);
  // Built again into the same buffers: the second send's own fields only.
  FlowSend get = Step("/me", "Accept: */*\r\n");
  PreparedRequest g = Request(8080, "/");
  H2Request get_base;
  ASSERT_EQ(BuildH2Request(g, &get_base), ErrorId::kNone);
  ASSERT_EQ(BuildH2FlowBlock(get_base, get, &block), ErrorId::kNone);
  const std::vector<std::pair<std::string, std::string>> want_get = {
      {":method", "GET"},
      {":scheme", "http"},
      {":authority", "127.0.0.1:8080"},
      {":path", "/me"},
      {"accept", "*/*"}};
  EXPECT_EQ(Fields(block), want_get);
  EXPECT_FALSE(block.has_body);
  // A POST without a body still says so.
  FlowSend empty = Step("/x");
  ASSERT_EQ(BuildH2FlowBlock(base, empty, &block), ErrorId::kNone);
  EXPECT_EQ(Fields(block).back(),
            std::make_pair(std::string("content-length"), std::string("0")));
  EXPECT_FALSE(block.has_body);
}

TEST(H2FlowBlockTest, LineThatIsNotTokenColonValueIsInvalid) {
  PreparedRequest r = Request(8080, "/");
  H2Request base;
  ASSERT_EQ(BuildH2Request(r, &base), ErrorId::kNone);
  H2FlowBlock block;
  for (const char* headers :
       {"Bad Name: x\r\n", "NoColon\r\n", ": x\r\n", "X-A: 1\r\n(): 2\r\n"}) {
    FlowSend f = Step("/", headers);
    EXPECT_EQ(BuildH2FlowBlock(base, f, &block), ErrorId::kInvalidRequest)
        << headers;
  }
}

TEST(H2TransportTest, InvalidFlowStepFailsUnsent) {
  Client client(2, 1);
  PreparedRequest r = Request(1, "/");  // nothing listens: nothing is dialled
  client.transport->Prepare(r);
  FlowSend marked = Step("/a b");
  marked.invalid = true;  // as FlowInstance::Render marks it
  FlowSend bad_line = Step("/", "Bad Name: x\r\n");
  client.transport->Send(FlowSent(r, &marked, 0));
  client.transport->Send(FlowSent(r, &bad_line, 1));
  client.RunUntilDone(2);
  for (const Done& d : client.recorder.done) {
    EXPECT_EQ(d.outcome.error, ErrorId::kInvalidRequest);
    EXPECT_EQ(d.outcome.status, 0);
    EXPECT_EQ(d.outcome.bytes_out, 0);
  }
  EXPECT_EQ(client.transport->connections_opened(), 0u);
  EXPECT_EQ(client.transport->InFlight(), 0u);
}

// nginx speaking h2c in front of the reference target (HTTP/1.1 upstream),
// so the stateful routes can be walked over HTTP/2; /authority answers with
// the host nginx saw.
class NginxProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    target_ = std::make_unique<testing::Target>(testing::MakeTempDir());
    proxy_port_ = testing::FreePort();
    nginx_ = std::make_unique<testing::Nginx>(
        testing::MakeTempDir(),
        "  server {\n    listen 127.0.0.1:" + std::to_string(proxy_port_) +
            " http2;\n"
            "    location = /authority { return 200 \"$host\"; }\n"
            "    location / {\n      proxy_pass http://127.0.0.1:" +
            std::to_string(target_->port()) +
            ";\n      proxy_http_version 1.1;\n"
            "      proxy_set_header Connection \"\";\n    }\n  }\n");
  }
  std::string Origin() const {
    return "http://127.0.0.1:" + std::to_string(proxy_port_);
  }
  std::unique_ptr<testing::Target> target_;
  int proxy_port_ = 0;
  std::unique_ptr<testing::Nginx> nginx_;
};

TEST_F(NginxProxyTest, JourneyRunsOverH2OnTheUsersOwnConnection) {
  auto flow = CompileFlow(kJourney, Origin());
  ASSERT_NE(flow->spec, nullptr);
  Client client(1, 1);
  for (const PreparedRequest& r : flow->requests) client.transport->Prepare(r);
  const std::vector<StepResult> steps = WalkFlow(&client, *flow, 0);
  ExpectJourneyPassed(steps);
  ASSERT_FALSE(steps.empty());
  EXPECT_EQ(steps[0].head.substr(0, 12), "HTTP/2 200\r\n") << steps[0].head;
  std::string_view type;
  EXPECT_TRUE(FindHeader(steps[0].head, "content-type", &type));
  EXPECT_EQ(type, "application/json");
  EXPECT_EQ(client.transport->connections_opened(), 1u);
  const std::vector<std::string> log = nginx_->LogLines(5);
  ASSERT_EQ(log.size(), 5u);
  for (const std::string& line : log) {
    EXPECT_NE(line.find(" HTTP/2.0 "), std::string::npos) << line;
    EXPECT_NE(line.find("ua=stampede-flow-test"), std::string::npos) << line;
    EXPECT_EQ(line.substr(0, line.find(' ')),
              log[0].substr(0, log[0].find(' ')));
  }
}

TEST_F(NginxProxyTest, BodyIsKeptUpToItsLimitAndTheHeadOnlyWhenAsked) {
  Client client(1, 1);
  PreparedRequest r;
  r.url = Origin() + "/";
  r.method = "POST";
  client.transport->Prepare(r);
  FlowSend login =
      Step("/api/login", "Content-Type: application/json\r\n",
           R"({"user":"bob","password":"pw-bob"})", /*body_limit=*/9);
  login.keep_head = false;
  client.transport->Send(FlowSent(r, &login, 0));
  client.RunUntilDone(1);
  EXPECT_EQ(client.recorder.done[0].outcome.error, ErrorId::kNone);
  EXPECT_EQ(client.recorder.done[0].outcome.status, 200);
  EXPECT_EQ(login.response_body, R"({"token":)");
  EXPECT_TRUE(login.body_cut);
  EXPECT_EQ(login.head, "");
  // A wrong password: the whole (short) body, nothing cut.
  FlowSend wrong = Step("/api/login", "Content-Type: application/json\r\n",
                        R"({"user":"bob","password":"nope"})");
  client.transport->Send(FlowSent(r, &wrong, 0));
  client.RunUntilDone(2);
  EXPECT_EQ(client.recorder.done[1].outcome.status, 401);
  EXPECT_EQ(wrong.head.substr(0, 12), "HTTP/2 401\r\n");
  EXPECT_FALSE(wrong.body_cut);
}

TEST_F(NginxProxyTest, HostLineIsTheAuthority) {
  Client client(1, 1);
  PreparedRequest r;
  r.url = Origin() + "/";
  r.method = "GET";
  client.transport->Prepare(r);
  FlowSend named = Step("/authority", "Host: api.example.test\r\n");
  FlowSend plain = Step("/authority");
  client.transport->Send(FlowSent(r, &named, 0));
  client.RunUntilDone(1);
  client.transport->Send(FlowSent(r, &plain, 0));
  client.RunUntilDone(2);
  EXPECT_EQ(named.response_body, "api.example.test");
  EXPECT_EQ(plain.response_body, "127.0.0.1");
}

TEST_F(NginxTest, EachFlowUserHasItsOwnConnection) {
  // Three users, four steps each, every next step sent from inside the
  // last one's OnDone (as the worker does).
  constexpr uint32_t kUsers = 3;
  constexpr int kSteps = 4;
  Client client(kUsers, 1);
  PreparedRequest r = Request(nginx_->port(), "/");
  client.transport->Prepare(r);
  std::vector<FlowSend> sends(kUsers);
  std::vector<int> sent(kUsers, 0);
  auto next = [&](uint32_t user) {
    sends[user] =
        Step("/u" + std::to_string(user) + "/" + std::to_string(sent[user]++));
    client.transport->Send(FlowSent(r, &sends[user], user));
  };
  client.recorder.then = [&](const Sent& s, const Outcome&) {
    if (sent[s.vu] < kSteps) next(s.vu);
  };
  for (uint32_t u = 0; u < kUsers; ++u) next(u);
  client.RunUntilDone(kUsers * kSteps);
  for (const Done& d : client.recorder.done) {
    EXPECT_EQ(d.outcome.error, ErrorId::kNone);
    EXPECT_EQ(d.outcome.status, 200);
  }
  for (const FlowSend& f : sends) {
    EXPECT_EQ(f.head.substr(0, 12), "HTTP/2 200\r\n");
    EXPECT_EQ(f.response_body, "ok");
  }
  EXPECT_EQ(client.transport->connections_opened(), kUsers);
  // nginx saw each user's steps on one connection, and no two users share.
  std::map<std::string, std::set<std::string>> users_by_connection;
  const std::vector<std::string> log = nginx_->LogLines(kUsers * kSteps);
  ASSERT_EQ(log.size(), kUsers * kSteps);
  for (const std::string& line : log) {
    const size_t uri = line.find(" /u");
    ASSERT_NE(uri, std::string::npos) << line;
    users_by_connection[line.substr(0, line.find(' '))].insert(
        line.substr(uri + 1, 3));
  }
  EXPECT_EQ(users_by_connection.size(), kUsers);
  for (const auto& [connection, users] : users_by_connection)
    EXPECT_EQ(users.size(), 1u) << connection;
}

TEST_F(NginxTest, FlowUserReconnectsAfterGoaway) {
  // GOAWAY after every third stream: the user's connection is replaced and
  // no step is lost.
  nginx_.reset();
  Start("keepalive_requests 3;");
  Client client(1, 1);
  PreparedRequest r = Request(nginx_->port(), "/");
  client.transport->Prepare(r);
  FlowSend f;
  int sent = 0;
  auto next = [&] {
    f = Step("/step/" + std::to_string(sent++));
    client.transport->Send(FlowSent(r, &f, 0));
  };
  client.recorder.then = [&](const Sent&, const Outcome&) {
    if (sent < 10) next();
  };
  next();
  client.RunUntilDone(10);
  for (const Done& d : client.recorder.done) {
    EXPECT_EQ(d.outcome.error, ErrorId::kNone);
    EXPECT_EQ(d.outcome.status, 200);
  }
  EXPECT_GE(client.transport->connections_opened(), 4u);
  EXPECT_EQ(nginx_->LogLines(10).size(), 10u);
  EXPECT_EQ(client.transport->InFlight(), 0u);
}

}  // namespace
}  // namespace stampede::agent
