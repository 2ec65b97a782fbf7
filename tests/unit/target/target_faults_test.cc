// The reference target's fault injection (status, reset, latency, freeze,
// ws_close), its /stats counts, and what an idle WebSocket costs it, checked
// against the real binary with the clients of target_harness.h.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <regex>

#include "tests/unit/target/target_harness.h"

namespace stampede::target {
namespace {

TEST_F(TargetTest, StatusFaultAnswersAnExactShare) {
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

TEST_F(TargetTest, ResetFaultResetsAnExactShareOfConnections) {
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

TEST_F(TargetTest, LatencyFaultDelaysResponsesAndUpgrades) {
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

TEST_F(TargetTest, FreezeHoldsEchoesUntilItEnds) {
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

TEST_F(TargetTest, WsCloseFaultClosesOpenSocketsOnly) {
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

TEST_F(TargetTest, StatsCountWhatHappened) {
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
TEST_F(TargetTest, IdleWebSocketsCostLittleMemory) {
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
