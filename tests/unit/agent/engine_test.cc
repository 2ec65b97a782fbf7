// Which engine serves a scenario: the choice (with an ALPN seam), and the ALPN
// probe itself against real nginx over TLS, once with h2 and once with
// HTTP/1.1 only.
#include "agent/load/engine.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "agent/net/alpn_probe.h"
#include "agent/net/url.h"
#include "tests/integration/process.h"

namespace stampede::agent {
namespace {

using Engine = ScenarioSpec::Engine;

ScenarioSpec Scenario(const std::vector<std::string>& urls) {
  ScenarioSpec s;
  s.name = "s";
  for (const std::string& u : urls) {
    PreparedRequest r;
    r.url = u;
    r.method = "GET";
    s.requests.push_back(r);
  }
  return s;
}

// An asker that answers `protocol` and records what it was asked.
struct FakeAsker {
  FakeAsker() = default;
  explicit FakeAsker(absl::StatusOr<std::string> a) : answer(std::move(a)) {}
  absl::StatusOr<std::string> answer;
  std::vector<std::string> asked;
  std::vector<std::string> offered;
  AlpnAsker Fn() {
    return [this](const net::Url& origin, const tls::ClientOptions& tls) {
      asked.push_back(origin.authority);
      offered = tls.alpn;
      return answer;
    };
  }
};

TEST(ChooseEngineTest, AutoOnHttpsTakesWhatTheServerChoseByAlpn) {
  FakeAsker h2{std::string("h2")};
  ScenarioSpec s = Scenario({"https://api.test/a", "https://api.test/b"});
  ASSERT_TRUE(ChooseEngine(&s, h2.Fn()).ok());
  EXPECT_EQ(s.engine, Engine::kH2);
  EXPECT_EQ(h2.asked, std::vector<std::string>{"api.test"});  // once per origin
  EXPECT_EQ(h2.offered, (std::vector<std::string>{"h2", "http/1.1"}));
  EXPECT_NE(s.engine_why.find("api.test chose h2 by ALPN"), std::string::npos)
      << s.engine_why;

  FakeAsker h1{std::string("http/1.1")};
  s = Scenario({"https://api.test:8443/"});
  s.http_version = "auto";
  ASSERT_TRUE(ChooseEngine(&s, h1.Fn()).ok());
  EXPECT_EQ(s.engine, Engine::kHttp1);
  EXPECT_NE(s.engine_why.find("api.test:8443 chose http/1.1"),
            std::string::npos)
      << s.engine_why;

  FakeAsker none{std::string("")};  // a server without ALPN
  s = Scenario({"https://api.test/"});
  ASSERT_TRUE(ChooseEngine(&s, none.Fn()).ok());
  EXPECT_EQ(s.engine, Engine::kHttp1);
  EXPECT_NE(s.engine_why.find("chose no protocol"), std::string::npos);

  FakeAsker down{absl::UnavailableError("api.test: tcp_refused (connect)")};
  s = Scenario({"https://api.test/"});
  ASSERT_TRUE(ChooseEngine(&s, down.Fn()).ok());
  EXPECT_EQ(s.engine, Engine::kHttp1);
  EXPECT_NE(s.engine_why.find("could not ask api.test by ALPN (api.test: "
                              "tcp_refused (connect)), so HTTP/1.1"),
            std::string::npos)
      << s.engine_why;
}

TEST(ChooseEngineTest, EveryOriginMustChooseH2) {
  FakeAsker asker;
  AlpnAsker fn = [&](const net::Url& origin, const tls::ClientOptions&) {
    asker.asked.push_back(origin.authority);
    return absl::StatusOr<std::string>(origin.host == "old.test" ? "http/1.1"
                                                                 : "h2");
  };
  ScenarioSpec s = Scenario({"https://new.test/", "https://old.test/"});
  ASSERT_TRUE(ChooseEngine(&s, fn).ok());
  EXPECT_EQ(s.engine, Engine::kHttp1);
  EXPECT_EQ(asker.asked, (std::vector<std::string>{"new.test", "old.test"}));
}

TEST(ChooseEngineTest, AutoNeverAsksWhenHttp2IsOutOfTheQuestion) {
  FakeAsker asker{std::string("h2")};
  ScenarioSpec s = Scenario({"http://api.test/"});  // h2c only with "2"
  ASSERT_TRUE(ChooseEngine(&s, asker.Fn()).ok());
  EXPECT_EQ(s.engine, Engine::kHttp1);
  EXPECT_NE(s.engine_why.find("http:// is HTTP/1.1"), std::string::npos);

  s = Scenario({"https://api.test/"});
  s.requests[0].keep_alive = false;
  ASSERT_TRUE(ChooseEngine(&s, asker.Fn()).ok());
  EXPECT_EQ(s.engine, Engine::kHttp1);
  EXPECT_NE(s.engine_why.find("keep_alive"), std::string::npos);

  s = Scenario({"https://api.test/"});
  s.http_version = "1.1";
  ASSERT_TRUE(ChooseEngine(&s, asker.Fn()).ok());
  EXPECT_EQ(s.engine, Engine::kHttp1);
  EXPECT_EQ(s.engine_why, "http_version \"1.1\" in the plan");
  EXPECT_TRUE(asker.asked.empty());
}

TEST(ChooseEngineTest, NamesLibcurlAndWhy) {
  FakeAsker asker{std::string("h2")};
  ScenarioSpec s = Scenario({"https://api.test/"});
  s.requests[0].proxy = "http://proxy.test:3128";
  ASSERT_TRUE(ChooseEngine(&s, asker.Fn()).ok());
  EXPECT_EQ(s.engine, Engine::kCurl);
  EXPECT_EQ(s.engine_why,
            "GET https://api.test/ has a proxy or auth, which only libcurl "
            "carries");
  s.transport = "native";
  absl::Status refused = ChooseEngine(&s, asker.Fn());
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find("the native engine cannot serve"),
            std::string::npos);

  s = Scenario({"http://api.test/"});
  s.transport = "curl";
  ASSERT_TRUE(ChooseEngine(&s, asker.Fn()).ok());
  EXPECT_EQ(s.engine, Engine::kCurl);
  EXPECT_EQ(s.engine_why, "transport: curl in the plan");
  EXPECT_TRUE(asker.asked.empty());
  EXPECT_EQ(EngineName(Engine::kCurl), "curl");
}

TEST(ChooseEngineTest, Http2AsAskedOrRefused) {
  FakeAsker asker{std::string("http/1.1")};
  ScenarioSpec s = Scenario({"http://api.test/"});
  s.http_version = "2";
  ASSERT_TRUE(ChooseEngine(&s, asker.Fn()).ok());
  EXPECT_EQ(s.engine, Engine::kH2);  // h2c by prior knowledge, by name
  EXPECT_TRUE(asker.asked.empty());

  s = Scenario({"http://api.test/"});
  s.http_version = "2";
  s.requests[0].headers = {"X-Bad: a\r\nInjected: b"};
  EXPECT_FALSE(ChooseEngine(&s, asker.Fn()).ok());

  s = Scenario({"ws://api.test/"});
  s.websocket = true;
  ASSERT_TRUE(ChooseEngine(&s, asker.Fn()).ok());
  EXPECT_EQ(s.engine, Engine::kWebSocket);
}

TEST(ChooseEngineTest, FlowsGoToEveryHttpEngineForTheUsualReasons) {
  // A flow's prepared requests carry its origins only (the steps render
  // their targets) and templates in their headers.
  auto flow = [](const std::string& origin) {
    ScenarioSpec s = Scenario({origin});
    s.requests[0].headers = {"Authorization: Bearer {{token}}"};
    s.flow = std::make_unique<FlowSpec>();
    return s;
  };
  FakeAsker h2{std::string("h2")};
  ScenarioSpec s = flow("https://api.test/");
  ASSERT_TRUE(ChooseEngine(&s, h2.Fn()).ok());
  EXPECT_EQ(s.engine, Engine::kH2);
  EXPECT_EQ(s.engine_why,
            "http_version auto: api.test chose h2 by ALPN from h2, http/1.1");

  FakeAsker old{std::string("http/1.1")};
  s = flow("https://api.test/");
  ASSERT_TRUE(ChooseEngine(&s, old.Fn()).ok());
  EXPECT_EQ(s.engine, Engine::kHttp1);

  s = flow("http://api.test/");
  s.http_version = "2";
  ASSERT_TRUE(ChooseEngine(&s, h2.Fn()).ok());
  EXPECT_EQ(s.engine, Engine::kH2);
  EXPECT_EQ(s.engine_why, "http_version \"2\" in the plan");

  s = flow("http://api.test/");
  s.transport = "curl";
  ASSERT_TRUE(ChooseEngine(&s, h2.Fn()).ok());
  EXPECT_EQ(s.engine, Engine::kCurl);
  EXPECT_EQ(s.engine_why, "transport: curl in the plan");

  s = flow("http://api.test/");
  s.requests[0].auth_scheme = "digest";
  ASSERT_TRUE(ChooseEngine(&s, h2.Fn()).ok());
  EXPECT_EQ(s.engine, Engine::kCurl);
  EXPECT_EQ(s.engine_why,
            "GET http://api.test/ has a proxy or auth, which only libcurl "
            "carries");
  EXPECT_TRUE(ServedByCurl(s));

  s = flow("http://api.test/");
  ASSERT_TRUE(ChooseEngine(&s, h2.Fn()).ok());
  EXPECT_EQ(s.engine, Engine::kHttp1);
}

// --- The probe, against nginx ---

class AlpnProbeTest : public ::testing::Test {
 protected:
  void Start(bool http2) {
    dir_ = testing::MakeTempDir();
    cert_ = testing::MakeTestCert(dir_);
    nginx_ = std::make_unique<testing::Nginx>(dir_, "", &cert_, http2);
  }
  net::Url Origin(const std::string& host) const {
    return *net::ParseUrl("https://" + host + ":" +
                          std::to_string(nginx_->port()) + "/");
  }
  tls::ClientOptions Offer() const {
    tls::ClientOptions o;
    o.ca_file = cert_.cert;
    o.alpn = {"h2", "http/1.1"};
    return o;
  }
  std::string dir_;
  testing::TestCert cert_;
  std::unique_ptr<testing::Nginx> nginx_;
};

TEST_F(AlpnProbeTest, ServerWithH2ChoosesIt) {
  Start(/*http2=*/true);
  absl::StatusOr<std::string> chosen =
      net::ProbeAlpn(Origin("localhost"), Offer(), {});
  ASSERT_TRUE(chosen.ok()) << chosen.status();
  EXPECT_EQ(*chosen, "h2");
}

TEST_F(AlpnProbeTest, Http1OnlyServerFallsBackByName) {
  Start(/*http2=*/false);
  // A name the plan's hosts: maps: the certificate is checked against it
  // ("localhost" is in the test certificate), the address is the map's.
  net::DnsOptions dns;
  dns.hosts = {{"localhost", "127.0.0.1"}};
  net::AlpnProbe probe;
  probe.dns = &dns;
  absl::StatusOr<std::string> chosen =
      net::ProbeAlpn(Origin("localhost"), Offer(), probe);
  ASSERT_TRUE(chosen.ok()) << chosen.status();
  EXPECT_EQ(*chosen, "http/1.1");
}

TEST_F(AlpnProbeTest, SaysWhyItCouldNotAsk) {
  Start(/*http2=*/true);
  tls::ClientOptions untrusted = Offer();
  untrusted.ca_file.clear();  // the system store does not know the test CA
  absl::StatusOr<std::string> chosen =
      net::ProbeAlpn(Origin("localhost"), untrusted, {});
  ASSERT_FALSE(chosen.ok());
  EXPECT_NE(chosen.status().message().find("tls_certificate"),
            std::string::npos)
      << chosen.status();

  net::DnsOptions dns;
  dns.servers = {"127.0.0.1:1"};  // nothing answers: the name fails
  net::AlpnProbe probe;
  probe.dns = &dns;
  probe.timeout_ns = 1'000'000'000;
  chosen = net::ProbeAlpn(Origin("nowhere.invalid"), Offer(), probe);
  ASSERT_FALSE(chosen.ok());
  EXPECT_NE(chosen.status().message().find("dns_failure"), std::string::npos)
      << chosen.status();
}

}  // namespace
}  // namespace stampede::agent
