// The native engine over HTTPS against the real reference target serving a
// self-signed certificate made at test time, and the phase timings it reports
// for http and https alike. Only loopback traffic; only our own children.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "agent/net/event_loop.h"
#include "agent/http1/transport.h"
#include "tests/integration/process.h"
#include "tests/unit/agent/transport_harness.h"

namespace stampede::agent {
namespace {

using common::ErrorId;

struct Client : TransportHarness<Http1Transport> {
  explicit Client(size_t max_connections, const tls::ClientOptions& options) {
    auto t =
        Http1Transport::Create(loop.get(), &recorder, max_connections, options);
    EXPECT_TRUE(t.ok()) << t.status();
    transport = std::move(t).value();
  }

  // Sends `count` requests, at most `in_flight` at once, and runs until they
  // are done. The give-up time only stops a hung test.
  void Run(const PreparedRequest& request, size_t count, size_t in_flight) {
    transport->Prepare(request);
    const size_t target = recorder.done.size() + count;
    size_t sent = 0;
    const int64_t give_up = EventLoop::MonoNowNs() + 60'000'000'000;
    while (recorder.done.size() < target) {
      while (sent < count && transport->InFlight() < in_flight &&
             transport->HasCapacity()) {
        ++sent;
        Send(request);
      }
      ASSERT_LT(EventLoop::MonoNowNs(), give_up) << "requests never completed";
      Turn();
    }
  }
};

PreparedRequest Get(const std::string& scheme, const std::string& host,
                    int port, const std::string& path) {
  PreparedRequest r;
  r.url = scheme + "://" + host + ":" + std::to_string(port) + path;
  r.method = "GET";
  return r;
}

long long Stat(const std::string& stats, const std::string& name) {
  std::smatch m;
  if (!std::regex_search(stats, m, std::regex("\"" + name + "\":([0-9]+)")))
    return -1;
  return std::stoll(m[1].str());
}

class HttpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = stampede::testing::MakeTempDir();
    cert_ = stampede::testing::MakeTestCert(dir_);
    target_ = std::make_unique<stampede::testing::Target>(dir_, &cert_);
  }
  tls::ClientOptions Trusting() const {
    tls::ClientOptions o;
    o.ca_file = cert_.cert;
    return o;
  }

  std::string dir_;
  stampede::testing::TestCert cert_;
  std::unique_ptr<stampede::testing::Target> target_;
};

TEST_F(HttpsTest, RequestsWithTheCaFileSucceedOnReusedConnections) {
  Client client(4, Trusting());
  for (const char* host : {"127.0.0.1", "localhost"}) {
    client.Run(Get("https", host, target_->port(), "/"), 200, 4);
  }
  ASSERT_EQ(client.recorder.done.size(), 400u);
  for (const Done& d : client.recorder.done) {
    const Outcome& o = d.outcome;
    ASSERT_EQ(o.error, ErrorId::kNone) << common::ErrorIdName(o.error);
    ASSERT_EQ(o.status, 200);
  }
  // Two names, two endpoints (SNI and the name check differ): each keeps its
  // own few connections alive.
  EXPECT_LE(client.transport->connections_opened(), 8u);
  EXPECT_EQ(client.transport->tls_handshakes(),
            client.transport->connections_opened());
  std::string stats = target_->Stats();
  EXPECT_EQ(Stat(stats, "requests"), 400) << stats;
}

TEST_F(HttpsTest, ReconnectsResumeTheSession) {
  Client client(1, Trusting());
  PreparedRequest r = Get("https", "localhost", target_->port(), "/");
  r.headers = {"Connection: close"};  // the server closes after each response
  client.Run(r, 5, 1);
  for (const Done& d : client.recorder.done) {
    const Outcome& o = d.outcome;
    ASSERT_EQ(o.error, ErrorId::kNone) << common::ErrorIdName(o.error);
    EXPECT_EQ(o.status, 200);
  }
  EXPECT_EQ(client.transport->connections_opened(), 5u);
  EXPECT_EQ(client.transport->tls_handshakes(), 5u);
  // Every connection after the first resumes the session the previous one
  // was given.
  EXPECT_EQ(client.transport->tls_resumed(), 4u);
  EXPECT_EQ(Stat(target_->Stats(), "requests"), 5);
}

TEST_F(HttpsTest, UntrustedCertificateFailsUnlessVerificationIsOff) {
  // The system store does not know our self-signed certificate.
  Client strict(2, tls::ClientOptions{});
  strict.Run(Get("https", "127.0.0.1", target_->port(), "/"), 6, 2);
  ASSERT_EQ(strict.recorder.done.size(), 6u);  // once per request
  for (const Done& d : strict.recorder.done) {
    const Outcome& o = d.outcome;
    EXPECT_EQ(o.error, ErrorId::kTlsCertificate)
        << common::ErrorIdName(o.error);
    EXPECT_EQ(o.status, 0);
  }
  EXPECT_EQ(Stat(target_->Stats(), "requests"), 0);

  tls::ClientOptions insecure;
  insecure.insecure_skip_verify = true;
  Client relaxed(2, insecure);
  relaxed.Run(Get("https", "127.0.0.1", target_->port(), "/"), 6, 2);
  for (const Done& d : relaxed.recorder.done) {
    const Outcome& o = d.outcome;
    EXPECT_EQ(o.error, ErrorId::kNone) << common::ErrorIdName(o.error);
    EXPECT_EQ(o.status, 200);
  }
  EXPECT_EQ(Stat(target_->Stats(), "requests"), 6);
}

TEST(HttpsNameTest, ATrustedCertificateForAnotherNameIsRefused) {
  std::string dir = stampede::testing::MakeTempDir();
  stampede::testing::TestCert other =
      stampede::testing::MakeTestCert(dir, "DNS:elsewhere.test");
  stampede::testing::Target target(dir, &other);
  tls::ClientOptions trusting;
  trusting.ca_file = other.cert;  // the chain is trusted; the name is wrong
  Client client(1, trusting);
  client.Run(Get("https", "127.0.0.1", target.port(), "/"), 2, 1);
  client.Run(Get("https", "localhost", target.port(), "/"), 2, 1);
  ASSERT_EQ(client.recorder.done.size(), 4u);
  for (const Done& d : client.recorder.done) {
    const Outcome& o = d.outcome;
    EXPECT_EQ(o.error, ErrorId::kTlsCertificate)
        << common::ErrorIdName(o.error);
  }
}

TEST_F(HttpsTest, AMissingCaFileIsRefusedAtCreate) {
  EventLoop* none = nullptr;
  Recorder recorder;
  tls::ClientOptions o;
  o.ca_file = dir_ + "/no-such-ca.pem";
  auto t = Http1Transport::Create(none, &recorder, 1, o);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("no-such-ca.pem"), std::string::npos)
      << t.status();
}

TEST_F(HttpsTest, PhaseTimingsOfNewAndReusedConnections) {
  Client client(1, Trusting());
  client.Run(Get("https", "127.0.0.1", target_->port(), "/"), 3, 1);
  ASSERT_EQ(client.recorder.done.size(), 3u);
  const Outcome& first = client.recorder.done[0].outcome;
  EXPECT_GE(first.connect_ns, 0);
  EXPECT_GE(first.tls_ns, 0);
  EXPECT_GE(first.ttfb_ns, 0);
  EXPECT_EQ(first.dns_ns, Outcome::kNotTimed);  // resolved at Prepare
  for (size_t i = 1; i < 3; ++i) {
    const Outcome& reused = client.recorder.done[i].outcome;
    EXPECT_EQ(reused.connect_ns, Outcome::kNotTimed);
    EXPECT_EQ(reused.tls_ns, Outcome::kNotTimed);
    EXPECT_GE(reused.ttfb_ns, 0);
  }
}

TEST(HttpTimingsTest, PlainHttpHasConnectAndTtfbButNoTls) {
  std::string dir = stampede::testing::MakeTempDir();
  stampede::testing::Target target(dir);
  Client client(1, tls::ClientOptions{});
  client.Run(Get("http", "127.0.0.1", target.port(), "/"), 2, 1);
  ASSERT_EQ(client.recorder.done.size(), 2u);
  EXPECT_GE(client.recorder.done[0].outcome.connect_ns, 0);
  EXPECT_EQ(client.recorder.done[0].outcome.tls_ns, Outcome::kNotTimed);
  EXPECT_GE(client.recorder.done[0].outcome.ttfb_ns, 0);
  EXPECT_EQ(client.recorder.done[1].outcome.connect_ns, Outcome::kNotTimed);
  EXPECT_GE(client.recorder.done[1].outcome.ttfb_ns, 0);
}

// A plain HTTP/1.1 server the way nginx and most others act on a TLS
// ClientHello: "400 Bad Request", then close.
class PlainHttpServer {
 public:
  PlainHttpServer() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), len), 0);
    EXPECT_EQ(listen(fd_, 16), 0);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] {
      int c;
      while ((c = accept(fd_, nullptr, nullptr)) >= 0) {
        char buf[4096];
        if (read(c, buf, sizeof(buf)) > 0) {
          const std::string reply =
              "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
              "Connection: close\r\n\r\n";
          [[maybe_unused]] ssize_t n = write(c, reply.data(), reply.size());
        }
        close(c);
      }
    });
  }
  ~PlainHttpServer() {
    shutdown(fd_, SHUT_RDWR);  // unblocks accept
    thread_.join();
    close(fd_);
  }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

TEST(HttpsPlainServerTest, PlainHttpBehindAnHttpsUrlIsAHandshakeFailure) {
  PlainHttpServer plain;
  tls::ClientOptions insecure;
  insecure.insecure_skip_verify = true;
  Client client(2, insecure);
  client.Run(Get("https", "127.0.0.1", plain.port(), "/"), 5, 2);
  ASSERT_EQ(client.recorder.done.size(), 5u);  // once per request, no retry
  for (const Done& d : client.recorder.done) {
    const Outcome& o = d.outcome;
    EXPECT_EQ(o.error, ErrorId::kTlsHandshake) << common::ErrorIdName(o.error);
    EXPECT_EQ(o.status, 0);
    EXPECT_EQ(o.tls_ns, Outcome::kNotTimed);
  }
  EXPECT_EQ(client.transport->connections_opened(), 5u);
  EXPECT_EQ(client.transport->tls_handshakes(), 0u);
}

}  // namespace
}  // namespace stampede::agent
