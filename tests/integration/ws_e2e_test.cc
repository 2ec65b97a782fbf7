// End to end for WebSocket and streaming responses, with real processes on
// loopback: the reference target's /ws/echo, /ws/stream and /sse, the
// controller and local agents. The result's connection and message counts
// must be the target's own counts, exactly.
#include <sys/resource.h>

#include <filesystem>
#include <regex>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"
#include "tests/integration/e2e_fixture.h"
#include "tests/integration/process.h"

namespace stampede::testing {
namespace {

// A number in the target's /stats JSON: `"key":N`, or inside the object
// `"key":{...}` under `inner`; -1 if absent.
long long StatsCount(const std::string& stats, const std::string& key,
                     const std::string& inner = "") {
  std::smatch m;
  const std::regex pattern(
      inner.empty()
          ? absl::StrCat("\"", key, "\":([0-9]+)")
          : absl::StrCat("\"", key, "\":\\{[^}]*\"", inner, "\":([0-9]+)"));
  if (!std::regex_search(stats, m, pattern)) return -1;
  return std::stoll(m[1].str());
}

long long ErrorCount(const v1::Summary& s, const std::string& id) {
  auto it = s.error_ids().find(id);
  return it == s.error_ids().end() ? 0 : it->second;
}

class WebSocketEndToEnd : public EndToEnd {
 protected:
  void SetUp() override {
    // A thousand connections need more descriptors than the usual 1024, in
    // the target and the agents (children inherit the limit).
    rlimit limit;
    getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = std::min<rlim_t>(limit.rlim_max, 65536);
    setrlimit(RLIMIT_NOFILE, &limit);
    EndToEnd::SetUp();
  }
};

TEST_F(WebSocketEndToEnd, ThousandConnectionsCountsEqualTheTargets) {
  RunOutcome run = Run(R"(
name: ws-thousand
defaults: { base_url: "http://127.0.0.1:$PORT" }
scenarios:
  - name: chat
    load: { vus: { stages: [ { to: 1000, over: 2s }, { hold: 3s } ] } }
    websocket:
      path: /ws/echo
      mode: request_reply
      send_every: 200ms
      message: '{"id":{{seq}},"text":"hello"}'
      size: 64
      match: id
thresholds:
  - { metric: ws_rtt, p: 99, lt: 2s }
  - { metric: error_rate, lt: 0.1% }
)");
  ASSERT_EQ(run.exit_code, 0) << run.log;
  ASSERT_TRUE(run.has_result) << run.log;
  const std::string stats = target_->Stats();
  const v1::Summary& s = run.result.summary();
  ASSERT_TRUE(s.has_websocket()) << run.log;
  const v1::WebSocketSummary& ws = s.websocket();
  EXPECT_EQ(ws.connections(), 1000);
  EXPECT_EQ(StatsCount(stats, "ws_upgrades"), 1000) << stats;
  EXPECT_EQ(s.requests(), 1000);
  EXPECT_EQ(s.errors(), 0) << run.log;
  // Every message each way, as the target counted it; each was answered.
  EXPECT_GT(ws.messages_out(), 10'000);
  EXPECT_EQ(ws.messages_out(), StatsCount(stats, "ws_messages_in")) << stats;
  EXPECT_EQ(ws.messages_in(), StatsCount(stats, "ws_messages_out")) << stats;
  EXPECT_EQ(ws.messages_in(), ws.messages_out());
  // Round trips were measured for the replies, and every connection closed
  // cleanly at the end of the stages.
  EXPECT_FALSE(ws.rtt_histogram().empty());
  EXPECT_GT(ws.rtt_ms().p50(), 0);
  EXPECT_EQ(ws.close_codes().at("1000"), 1000);
  EXPECT_EQ(StatsCount(stats, "ws_open"), 0) << stats;
  EXPECT_TRUE(s.statuses().contains("101"));
  EXPECT_EQ(run.result.thresholds_size(), 2);
  EXPECT_TRUE(run.result.thresholds(0).passed());
}

TEST_F(WebSocketEndToEnd, ServerCloseWith1011IsCountedAsWsClose1011) {
  RunOutcome run = Run(R"(
name: ws-1011
defaults: { base_url: "http://127.0.0.1:$PORT" }
scenarios:
  - name: chat
    load: { vus: { stages: [ { to: 5, over: 0s }, { hold: 10s } ], shared_iterations: 20 } }
    websocket: { path: "/ws/echo?close=1011&after=2", send_every: 50ms, message: hi }
)");
  ASSERT_TRUE(run.has_result) << run.log;
  const v1::Summary& s = run.result.summary();
  EXPECT_EQ(s.requests(), 20);
  EXPECT_EQ(ErrorCount(s, "ws_close_1011"), 20) << run.log;
  EXPECT_EQ(s.errors(), 20);
  EXPECT_EQ(s.websocket().close_codes().at("1011"), 20);
  EXPECT_EQ(StatsCount(target_->Stats(), "ws_closes_sent", "1011"), 20);
  // Two echoes each before the close.
  EXPECT_EQ(s.websocket().messages_in(), 40);
  // No threshold of its own: the default error_rate < 1% fails it.
  EXPECT_EQ(run.exit_code, 3) << run.log;
}

TEST_F(WebSocketEndToEnd, RefusedUpgradeIsWsUpgrade403) {
  RunOutcome run = Run(R"(
name: ws-403
defaults: { base_url: "http://127.0.0.1:$PORT" }
scenarios:
  - name: chat
    load: { vus: { stages: [ { to: 2, over: 0s }, { hold: 10s } ], shared_iterations: 10 } }
    websocket: { path: /status/403, send_every: 1s }
thresholds:
  - { metric: error_rate, lt: 1% }
)");
  ASSERT_TRUE(run.has_result) << run.log;
  const v1::Summary& s = run.result.summary();
  EXPECT_EQ(s.requests(), 10);
  EXPECT_EQ(ErrorCount(s, "ws_upgrade_403"), 10) << run.log;
  EXPECT_EQ(ErrorCount(s, "http_403"), 0);
  EXPECT_EQ(s.statuses().at("403"), 10);
  EXPECT_EQ(run.exit_code, 3) << run.log;
}

TEST_F(WebSocketEndToEnd, ListenModeCountsWhatTheServerPushes) {
  RunOutcome run = Run(R"(
name: ws-listen
defaults: { base_url: "http://127.0.0.1:$PORT" }
scenarios:
  - name: feed
    max_connections: 50
    load: { arrival_rate: { stages: [ { to: 20/s, over: 0s }, { hold: 1s } ] } }
    websocket: { path: "/ws/stream?n=10&every=20&size=100", mode: listen, hold: 5s }
)");
  ASSERT_EQ(run.exit_code, 0) << run.log;
  ASSERT_TRUE(run.has_result) << run.log;
  const v1::Summary& s = run.result.summary();
  const std::string stats = target_->Stats();
  EXPECT_EQ(s.requests(), 20);
  EXPECT_EQ(s.websocket().messages_in(), 200);
  EXPECT_EQ(s.websocket().messages_out(), 0);
  EXPECT_EQ(StatsCount(stats, "ws_messages_out"), 200) << stats;
  // The server ended each stream with 1000 long before the hold was over.
  EXPECT_EQ(s.websocket().close_codes().at("1000"), 20);
  EXPECT_LT(s.websocket().session_ms().max(), 4000);
  EXPECT_EQ(s.errors(), 0);
}

TEST_F(WebSocketEndToEnd, ServerSentEventsAndTimeToLastByte) {
  RunOutcome run = Run(R"(
name: sse
defaults: { base_url: "http://127.0.0.1:$PORT" }
scenarios:
  - name: stream
    load: { vus: { stages: [ { to: 2, over: 0s }, { hold: 10s } ], shared_iterations: 10 } }
    requests: [ { path: "/sse?n=5&every=40" } ]
thresholds:
  - { metric: ttlb, p: 50, gt: 150ms }
)");
  ASSERT_EQ(run.exit_code, 0) << run.log;
  ASSERT_TRUE(run.has_result) << run.log;
  const v1::Summary& s = run.result.summary();
  EXPECT_EQ(s.requests(), 10);
  ASSERT_TRUE(s.has_streaming()) << run.log;
  EXPECT_EQ(s.streaming().events(), 50);
  EXPECT_EQ(StatsCount(target_->Stats(), "sse_events"), 50);
  // Five events 40 ms apart: the last byte comes >= 160 ms after the first.
  EXPECT_GE(s.streaming().ttlb_ms().p50(), 160);
  EXPECT_LT(s.phases_ms().ttfb().p50(), s.streaming().ttlb_ms().p50());
}

TEST_F(WebSocketEndToEnd, OverdueReplyIsWsTimeout) {
  RunOutcome run = Run(R"(
name: ws-timeout
defaults: { base_url: "http://127.0.0.1:$PORT" }
scenarios:
  - name: slow
    load: { vus: { stages: [ { to: 2, over: 0s }, { hold: 10s } ], shared_iterations: 4 } }
    websocket: { path: "/ws/echo?delay=3000", mode: request_reply, message: hi, reply_timeout: 200ms }
)");
  ASSERT_TRUE(run.has_result) << run.log;
  const v1::Summary& s = run.result.summary();
  EXPECT_EQ(s.requests(), 4);
  EXPECT_EQ(ErrorCount(s, "ws_timeout"), 4) << run.log;
  EXPECT_EQ(s.websocket().messages_out(), 4);
  EXPECT_EQ(s.websocket().messages_in(), 0);
}

TEST_F(WebSocketEndToEnd, WssCountsEqualTheTargets) {
  const TestCert cert = MakeTestCert(dir_);
  std::filesystem::create_directories(dir_ + "/tls");
  Target tls_target(dir_ + "/tls", &cert);
  const std::string plan = absl::StrReplaceAll(
      R"(
name: wss
defaults: { base_url: "https://127.0.0.1:$TLSPORT" }
scenarios:
  - name: secure
    tls: { ca_file: "$CA" }
    load: { vus: { stages: [ { to: 5, over: 0s }, { hold: 10s } ], shared_iterations: 10 } }
    websocket: { path: /ws/echo, mode: request_reply, message: '{"id":{{seq}}}', match: id, messages: 5 }
)",
      {{"$TLSPORT", absl::StrCat(tls_target.port())}, {"$CA", cert.cert}});
  RunOutcome run = Run(plan);
  ASSERT_EQ(run.exit_code, 0) << run.log;
  ASSERT_TRUE(run.has_result) << run.log;
  const v1::Summary& s = run.result.summary();
  const std::string stats = tls_target.Stats();
  EXPECT_EQ(s.requests(), 10);
  EXPECT_EQ(s.errors(), 0) << run.log;
  EXPECT_EQ(StatsCount(stats, "ws_upgrades"), 10) << stats;
  EXPECT_EQ(s.websocket().messages_out(), 50);
  EXPECT_EQ(s.websocket().messages_in(), 50);
  EXPECT_EQ(StatsCount(stats, "ws_messages_in"), 50) << stats;
  EXPECT_EQ(s.websocket().close_codes().at("1000"), 10);
  EXPECT_EQ(s.websocket().rtt_ms().p50() > 0, true);
  EXPECT_GT(s.phases_ms().tls().p50(), 0);
}

}  // namespace
}  // namespace stampede::testing
