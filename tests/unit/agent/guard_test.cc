// The agent's guard rails: CheckPlan against the caps and the allow-list, and
// every transport refusing a denied address at connect time (blocked_target)
// without opening a connection to it.
#include "agent/guard.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "agent/curl/transport.h"
#include "agent/h2/transport.h"
#include "agent/http1/transport.h"
#include "agent/ws/transport.h"
#include "tests/unit/agent/transport_harness.h"

namespace stampede::agent {
namespace {

using common::ErrorId;

// --- CheckPlan ---

AgentGuard::Flags Flags(const std::string& allow, const std::string& rate = "",
                        int64_t connections = 0,
                        const std::string& duration = "") {
  AgentGuard::Flags f;
  f.allow_targets = allow;
  f.max_rate = rate;
  f.max_connections = connections;
  f.max_duration = duration;
  return f;
}

std::unique_ptr<AgentGuard> Guard(const AgentGuard::Flags& flags) {
  auto g = AgentGuard::Create(flags);
  EXPECT_TRUE(g.ok()) << g.status();
  return g.ok() ? std::move(*g) : nullptr;
}

// An open-model scenario ramping to `rate`/s over a minute, or a closed one
// ramping to `vus` VUs.
ScenarioSpec Scenario(const std::string& name, const std::string& url,
                      double rate, double vus = 0) {
  ScenarioSpec s;
  s.name = name;
  if (vus > 0) {
    google::protobuf::RepeatedPtrField<v1::VuStage> stages;
    v1::VuStage* stage = stages.Add();
    stage->set_to(vus);
    stage->mutable_over()->set_seconds(60);
    s.model = ScenarioSpec::Model::kClosed;
    s.max_vus = vus;
    s.schedule = std::make_unique<common::ArrivalSchedule>(stages);
  } else {
    google::protobuf::RepeatedPtrField<v1::RateStage> stages;
    v1::RateStage* stage = stages.Add();
    stage->mutable_to()->set_per_second(rate);
    stage->mutable_over()->set_seconds(60);
    s.peak_rate = rate;
    s.schedule = std::make_unique<common::ArrivalSchedule>(stages);
  }
  PreparedRequest r;
  r.url = url;
  r.method = "GET";
  s.requests.push_back(r);
  return s;
}

RunSpec Spec(uint32_t index, uint32_t count) {
  RunSpec spec;
  spec.share_index = index;
  spec.share_count = count;
  return spec;
}

std::string Refusal(const AgentGuard& guard, const RunSpec& spec) {
  absl::Status s = guard.CheckPlan(spec, "edge-1");
  return s.ok() ? "" : std::string(s.message());
}

TEST(AgentGuard, FlagErrorsNameTheFlag) {
  EXPECT_FALSE(AgentGuard::Create(Flags("10.0.0.1/8")).ok());
  for (const auto& [flags, want] :
       std::vector<std::pair<AgentGuard::Flags, std::string>>{
           {Flags("", "fast"), "--max-rate fast"},
           {Flags("", "0"), "--max-rate 0: must be above 0"},
           {Flags("", "", -1), "--max-connections -1"},
           {Flags("", "", 0, "soon"), "--max-duration soon"},
           {Flags("", "", 0, "0s"), "--max-duration 0s: must be above 0"},
       }) {
    auto g = AgentGuard::Create(flags);
    ASSERT_FALSE(g.ok()) << want;
    EXPECT_NE(g.status().message().find(want), std::string::npos) << g.status();
  }
  EXPECT_TRUE(AgentGuard::Create(Flags("", "6000/m", 10, "1h")).ok());
}

TEST(AgentGuard, RefusesTargetsOutsideTheAllowList) {
  auto guard = Guard(Flags("127.0.0.0/8"));
  RunSpec spec = Spec(0, 1);
  spec.scenarios.push_back(Scenario("browse", "http://127.0.0.1:8080/", 10));
  EXPECT_EQ(Refusal(*guard, spec), "");
  // localhost may also be ::1: one allowed address is enough (the
  // transports refuse connections to the others).
  spec.scenarios.push_back(Scenario("local", "http://localhost:8080/", 10));
  EXPECT_EQ(Refusal(*guard, spec), "");
  spec.scenarios.push_back(Scenario("other", "http://10.1.2.3/", 10));
  EXPECT_EQ(Refusal(*guard, spec),
            "agent edge-1: scenario other: GET http://10.1.2.3/ is not allowed "
            "by --allow-targets (10.1.2.3:80 is outside 127.0.0.0/8)");
}

TEST(AgentGuard, JudgesNamesByThePlansHostsLikeTheNativeEngines) {
  // A name only the plan's hosts: knows: its address is what the native
  // engines will dial, so that is what the allow-list judges.
  auto guard = Guard(Flags("127.0.0.0/8"));
  RunSpec spec = Spec(0, 1);
  spec.dns.hosts = {{"svc.stampede.test", "127.0.0.2"}};
  spec.scenarios.push_back(
      Scenario("named", "http://svc.stampede.test:8080/", 10));
  EXPECT_EQ(Refusal(*guard, spec), "");
  spec.dns.hosts = {{"svc.stampede.test", "10.9.8.7"}};
  EXPECT_NE(Refusal(*guard, spec)
                .find("(svc.stampede.test = 10.9.8.7:8080 is outside "
                      "127.0.0.0/8)"),
            std::string::npos)
      << Refusal(*guard, spec);
  // libcurl (here: transport curl) resolves by the system, which does not
  // know the name: it is judged by name alone.
  spec.dns.hosts = {{"svc.stampede.test", "127.0.0.2"}};
  spec.scenarios[0].transport = "curl";
  EXPECT_NE(Refusal(*guard, spec).find("not resolved here"), std::string::npos)
      << Refusal(*guard, spec);
}

TEST(AgentGuard, RefusesAProxyOutsideTheAllowList) {
  auto guard = Guard(Flags("127.0.0.1"));
  RunSpec spec = Spec(0, 1);
  spec.scenarios.push_back(Scenario("browse", "http://127.0.0.1/", 10));
  spec.scenarios[0].requests[0].proxy = "socks5h://127.0.0.2:1080";
  EXPECT_NE(
      Refusal(*guard, spec)
          .find("GET http://127.0.0.1/ via proxy socks5h://127.0.0.2:1080 "
                "is not allowed by --allow-targets (127.0.0.2:1080 is "
                "outside 127.0.0.1/32)"),
      std::string::npos);
}

TEST(AgentGuard, DefaultRefusesMetadataAndLinkLocal) {
  // Resolving a numeric host sends nothing.
  RunSpec spec = Spec(0, 1);
  spec.scenarios.push_back(
      Scenario("steal", "http://169.254.169.254/latest/meta-data/", 1));
  EXPECT_NE(Refusal(AgentGuard::Default(), spec)
                .find("agent edge-1: scenario steal: GET "
                      "http://169.254.169.254/latest/meta-data/ is not allowed "
                      "by --allow-targets (169.254.169.254:80 is a cloud "
                      "metadata address"),
            std::string::npos);
  RunSpec v6 = Spec(0, 1);
  v6.scenarios.push_back(Scenario("ll", "http://[fe80::1]:8080/", 1));
  EXPECT_NE(Refusal(AgentGuard::Default(), v6).find("is link-local"),
            std::string::npos);
}

TEST(AgentGuard, RateCapIsOnThisAgentsShare) {
  auto guard = Guard(Flags("", "60"));
  RunSpec spec = Spec(1, 2);  // half of the plan
  spec.scenarios.push_back(Scenario("browse", "http://127.0.0.1/", 100));
  EXPECT_EQ(Refusal(*guard, spec), "");  // 50/s here
  spec.scenarios.push_back(Scenario("buy", "http://127.0.0.1/", 40));
  EXPECT_EQ(Refusal(*guard, spec),
            "agent edge-1: scenarios ask for 70/s together on this agent at "
            "their peaks (browse 50/s, buy 20/s), over --max-rate 60/s");
  RunSpec alone = Spec(0, 2);
  alone.scenarios.push_back(Scenario("browse", "http://127.0.0.1/", 200));
  EXPECT_EQ(Refusal(*guard, alone),
            "agent edge-1: scenario browse asks for 100/s on this agent, over "
            "--max-rate 60/s");
  // Weighted shares: 3 of 4.
  RunSpec weighted = Spec(0, 2);
  weighted.share_weights = {3, 1};
  weighted.scenarios.push_back(Scenario("browse", "http://127.0.0.1/", 100));
  EXPECT_NE(Refusal(*guard, weighted).find("asks for 75/s"), std::string::npos);
}

TEST(AgentGuard, ConnectionCapCountsMaxConnectionsAndPeakVus) {
  auto guard = Guard(Flags("", "", 300));
  RunSpec spec = Spec(0, 2);
  spec.scenarios.push_back(Scenario("browse", "http://127.0.0.1/", 10));
  spec.scenarios[0].max_connections = 256;
  spec.scenarios.push_back(Scenario("users", "http://127.0.0.1/", 0, 80));
  EXPECT_EQ(Refusal(*guard, spec), "");  // 256 + 40
  spec.scenarios[1].max_vus = 100;       // 256 + 50
  EXPECT_EQ(Refusal(*guard, spec),
            "agent edge-1: scenarios ask for 306 connections on this agent "
            "(browse 256, users 50), over --max-connections 300");
}

TEST(AgentGuard, DurationCapIsThePlansLength) {
  auto guard = Guard(Flags("", "", 0, "90s"));
  RunSpec spec = Spec(0, 1);
  spec.scenarios.push_back(Scenario("browse", "http://127.0.0.1/", 10));
  EXPECT_EQ(Refusal(*guard, spec), "");  // 60 s
  spec.scenarios[0].start_offset_ns = 40'000'000'000;
  EXPECT_EQ(Refusal(*guard, spec),
            "agent edge-1: scenario browse runs until 1m40s into the plan, "
            "over --max-duration 1m30s");
}

// --- Run time: every transport checks each new connection ---

// A listening socket on 127.0.0.1 nobody accepts from: a connection attempt
// shows as a pending accept.
class Listener {
 public:
  Listener() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    EXPECT_EQ(listen(fd_, 16), 0);
    socklen_t len = sizeof(a);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~Listener() { close(fd_); }
  int port() const { return port_; }
  int Accepted() {
    int n = 0;
    for (int c; (c = accept(fd_, nullptr, nullptr)) >= 0; ++n) close(c);
    return n;
  }

 private:
  int fd_ = -1;
  int port_ = 0;
};

PreparedRequest At(const std::string& host, int port,
                   const std::string& path = "/") {
  PreparedRequest r;
  r.url = "http://" + host + ":" + std::to_string(port) + path;
  r.method = "GET";
  r.timeout_ms = 500;
  return r;
}

const common::AllowList& OtherHostOnly() {
  static const common::AllowList* list =
      new common::AllowList(common::AllowList::Parse("127.0.0.2/32").value());
  return *list;
}

template <typename T>
void ExpectBlocked(TransportHarness<T>& h, const PreparedRequest& request,
                   Listener& server) {
  h.transport->SetAllowList(&OtherHostOnly());
  h.transport->Prepare(request);
  h.Send(request);
  h.RunUntilDone(1);
  ASSERT_EQ(h.recorder.done.size(), 1u);
  EXPECT_EQ(h.recorder.done[0].outcome.error, ErrorId::kBlockedTarget)
      << common::ErrorIdName(h.recorder.done[0].outcome.error);
  EXPECT_EQ(h.recorder.done[0].outcome.bytes_out, 0);
  EXPECT_EQ(server.Accepted(), 0);
}

TEST(GuardRuntime, Http1RefusesADeniedAddress) {
  Listener server;
  TransportHarness<Http1Transport> h;
  h.transport =
      std::move(Http1Transport::Create(h.loop.get(), &h.recorder, 2)).value();
  ExpectBlocked(h, At("127.0.0.1", server.port()), server);
}

TEST(GuardRuntime, Http1ConnectsWhenAllowed) {
  Listener server;
  TransportHarness<Http1Transport> h;
  h.transport =
      std::move(Http1Transport::Create(h.loop.get(), &h.recorder, 2)).value();
  const common::AllowList list =
      common::AllowList::Parse("127.0.0.0/8").value();
  h.transport->SetAllowList(&list);
  PreparedRequest r = At("127.0.0.1", server.port());
  r.timeout_ms = 100;
  h.transport->Prepare(r);
  h.Send(r);
  h.RunUntilDone(1);
  EXPECT_NE(h.recorder.done[0].outcome.error, ErrorId::kBlockedTarget);
  EXPECT_EQ(server.Accepted(), 1);
}

TEST(GuardRuntime, H2RefusesADeniedAddress) {
  Listener server;
  TransportHarness<H2Transport> h;
  h.transport =
      std::move(H2Transport::Create(h.loop.get(), &h.recorder, 4)).value();
  ExpectBlocked(h, At("127.0.0.1", server.port()), server);
}

TEST(GuardRuntime, WebSocketRefusesADeniedAddress) {
  Listener server;
  TransportHarness<WsTransport> h;
  static const WsOptions options;
  h.transport = std::move(WsTransport::Create(h.loop.get(), &h.recorder, 2,
                                              options, tls::ClientOptions{}))
                    .value();
  ExpectBlocked(h, At("127.0.0.1", server.port(), "/ws"), server);
}

TEST(GuardRuntime, CurlRefusesADeniedAddress) {
  Listener server;
  TransportHarness<CurlTransport> h;
  h.transport =
      std::move(CurlTransport::Create(h.loop.get(), &h.recorder, 2)).value();
  ExpectBlocked(h, At("127.0.0.1", server.port()), server);
}

TEST(GuardRuntime, CurlRefusesEveryAddressOfAName) {
  Listener server;
  TransportHarness<CurlTransport> h;
  h.transport =
      std::move(CurlTransport::Create(h.loop.get(), &h.recorder, 2)).value();
  // localhost: 127.0.0.1 and maybe ::1, neither of them 127.0.0.2.
  ExpectBlocked(h, At("localhost", server.port()), server);
}

}  // namespace
}  // namespace stampede::agent
