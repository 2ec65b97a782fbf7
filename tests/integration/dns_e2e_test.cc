// The native engines' name resolution (c-ares, agent/net/resolver.*) end to end
// through `stampede run`, with real processes on loopback: dnsmasq (Debian's
// dnsmasq-base) serves svc.stampede.test from a hosts file the test rewrites
// (and SIGHUPs), and a reference target listens on each of the name's
// addresses, 127.0.0.2 and 127.0.0.3, on one port. Each target's own /stats
// says where the connections went. Every plan has `keep_alive: false`, so each
// request is a new connection, and so a new pick of the name's addresses.
// Timing is judged with generous margins only: what the test waits for it
// polls, and "stopped" means "after the change was served plus twice the TTL".
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <regex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "stampede/v1/result.pb.h"
#include "tests/integration/e2e_fixture.h"
#include "tests/integration/process.h"

namespace stampede::testing {
namespace {

constexpr const char* kDnsmasq = "/usr/sbin/dnsmasq";
constexpr const char* kName = "svc.stampede.test";
constexpr const char* kFirstIp = "127.0.0.2";
constexpr const char* kSecondIp = "127.0.0.3";

using Clock = std::chrono::steady_clock;

void SleepFor(double seconds) {
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
}

// What a name server said to one A query.
struct DnsAnswer {
  bool answered = false;  // a reply came
  int rcode = -1;         // 0 NOERROR, 3 NXDOMAIN
  std::set<std::string> addresses;
};

// One A query for `name` over UDP to 127.0.0.1:port, waiting up to 300 ms.
// Enough of RFC 1035 for dnsmasq's answers: the question is skipped, answer
// names may be compressed.
DnsAnswer QueryA(int port, const std::string& name) {
  DnsAnswer out;
  std::string q = {'\x5e', '\xed', '\x01', '\x00',  // id, RD
                   '\x00', '\x01', '\x00', '\x00',  // 1 question
                   '\x00', '\x00', '\x00', '\x00'};
  size_t start = 0;
  while (start <= name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    q.push_back(static_cast<char>(dot - start));
    q.append(name, start, dot - start);
    start = dot + 1;
  }
  q.append({'\x00', '\x00', '\x01', '\x00', '\x01'});  // root, A, IN
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  timeval tv{0, 300'000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  unsigned char buf[1500];
  ssize_t n = -1;
  if (sendto(fd, q.data(), q.size(), 0, reinterpret_cast<sockaddr*>(&addr),
             sizeof(addr)) == static_cast<ssize_t>(q.size())) {
    n = recv(fd, buf, sizeof(buf), 0);
  }
  close(fd);
  if (n < 12 || buf[0] != 0x5e || buf[1] != 0xed) return out;
  out.answered = true;
  out.rcode = buf[3] & 0x0f;
  const int answers = buf[6] << 8 | buf[7];
  size_t at = 12;
  auto skip_name = [&] {
    while (at < static_cast<size_t>(n)) {
      const unsigned char len = buf[at];
      if (len == 0) {
        ++at;
        return;
      }
      if ((len & 0xc0) == 0xc0) {
        at += 2;
        return;
      }
      at += 1 + len;
    }
  };
  skip_name();
  at += 4;  // type, class
  for (int i = 0; i < answers && at < static_cast<size_t>(n); ++i) {
    skip_name();
    if (at + 10 > static_cast<size_t>(n)) break;
    const int type = buf[at] << 8 | buf[at + 1];
    const int len = buf[at + 8] << 8 | buf[at + 9];
    at += 10;
    if (type == 1 && len == 4 && at + 4 <= static_cast<size_t>(n)) {
      out.addresses.insert(absl::StrCat(buf[at], ".", buf[at + 1], ".",
                                        buf[at + 2], ".", buf[at + 3]));
    }
    at += len;
  }
  return out;
}

// The reference target listening on one IPv4 address of loopback.
class AddressTarget {
 public:
  // `port` 0: one of its choosing.
  AddressTarget(const std::string& dir, const std::string& ip, int port)
      : ip_(ip),
        port_file_(absl::StrCat(dir, "/target-", ip, ".port")),
        child_({BinaryPath("stampede-target"), "--listen",
                absl::StrCat(ip, ":", port), "--port-file", port_file_},
               absl::StrCat(dir, "/target-", ip, ".log")) {
    for (int i = 0; i < 500 && port_ == 0; ++i) {
      port_ = std::atoi(ReadFile(port_file_).c_str());
      if (port_ == 0) SleepFor(0.01);
    }
    if (port_ == 0)
      throw std::runtime_error(absl::StrCat(
          "stampede-target on ", ip, " did not start (port ", port, ")"));
  }
  int port() const { return port_; }
  const std::string& ip() const { return ip_; }
  std::string Stats() {
    ++stats_calls_;
    return HttpGet(ip_, port_, "/stats");
  }
  // Requests served so far, from /stats; -1 when it did not answer.
  long long Served() { return RequestsServed(Stats()); }
  // Connections accepted so far from the load, from /stats: all of them but
  // the ones that asked for /stats (this one included).
  long long LoadConnections() {
    std::smatch m;
    const std::string stats = Stats();
    static const std::regex kConnections("\"connections\":([0-9]+)");
    if (!std::regex_search(stats, m, kConnections)) return -1;
    return std::stoll(m[1].str()) - stats_calls_;
  }

 private:
  long long stats_calls_ = 0;
  std::string ip_;
  std::string port_file_;
  Child child_;
  int port_ = 0;
};

class DnsEndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access(kDnsmasq, X_OK) != 0)
      GTEST_SKIP() << kDnsmasq
                   << " is missing (Debian's dnsmasq-base; scripts/setup "
                      "installs it)";
    dir_ = MakeTempDir();
    first_ = std::make_unique<AddressTarget>(dir_, kFirstIp, 0);
    second_ = std::make_unique<AddressTarget>(dir_, kSecondIp, first_->port());
    hosts_ = dir_ + "/hosts";
    SetHosts({kFirstIp, kSecondIp});
    dns_port_ = FreePort();
    // Names under .test that the file does not list are NXDOMAIN, never
    // forwarded (no upstream servers at all); its answers live 1 s.
    dnsmasq_ = std::make_unique<Child>(
        std::vector<std::string>{
            kDnsmasq, "--keep-in-foreground", "--conf-file=/dev/null",
            "--no-resolv", "--no-hosts", "--bind-interfaces",
            "--listen-address=127.0.0.1", absl::StrCat("--port=", dns_port_),
            "--addn-hosts=" + hosts_, "--local-ttl=1", "--local=/test/",
            "--user=root", "--pid-file=" + dir_ + "/dnsmasq.pid",
            "--log-facility=-"},
        dir_ + "/dnsmasq.log");
    ASSERT_TRUE(WaitForDns({kFirstIp, kSecondIp}))
        << "dnsmasq never answered; see " << dir_ << "/dnsmasq.log:\n"
        << ReadFile(dir_ + "/dnsmasq.log");
  }

  // The hosts file: `kName` with these addresses (none: only another name).
  void SetHosts(const std::vector<std::string>& ips) {
    std::string content = "127.0.0.9 other.stampede.test\n";
    for (const std::string& ip : ips)
      absl::StrAppend(&content, ip, " ", kName, "\n");
    WriteFile(hosts_, content);
  }

  // Rewrites the hosts file, has dnsmasq re-read it (SIGHUP) and waits until
  // it answers with exactly `ips` (NXDOMAIN for none).
  void ChangeName(const std::vector<std::string>& ips) {
    SetHosts(ips);
    kill(dnsmasq_->pid(), SIGHUP);
    ASSERT_TRUE(WaitForDns(std::set<std::string>(ips.begin(), ips.end())))
        << "dnsmasq did not take the new hosts file";
  }

  // Until dnsmasq answers `kName` with `ips` (or NXDOMAIN when empty), up to
  // 5 s.
  bool WaitForDns(const std::set<std::string>& ips) {
    const auto give_up = Clock::now() + std::chrono::seconds(5);
    while (Clock::now() < give_up) {
      const DnsAnswer a = QueryA(dns_port_, kName);
      if (a.answered &&
          (ips.empty() ? a.rcode == 3 : a.rcode == 0 && a.addresses == ips))
        return true;
      SleepFor(0.05);
    }
    return false;
  }

  // A plan of `rate`/s for `seconds` to http://kName:PORT/ over new
  // connections, resolved by our dnsmasq; `dns_extra` goes into `dns:`.
  std::string Plan(int rate, int seconds, const std::string& dns_extra = "") {
    const std::string plan =
        absl::StrCat(R"(
name: dns
dns: { servers: ["127.0.0.1:)",
                     dns_port_, "\"]", dns_extra, R"( }
defaults: { base_url: "http://)",
                     kName, ":", first_->port(),
                     R"(", timeout: 5s }
scenarios:
  - name: names
    transport: native
    keep_alive: false
    load: { arrival_rate: { stages: [ {to: )",
                     rate, "/s, over: 0s}, {hold: ", seconds, R"(s} ] } }
    requests:
      - { name: home, path: / }
)");
    const std::string file = dir_ + "/plan.yaml";
    WriteFile(file, plan);
    return file;
  }

  // `stampede run PLAN` with 2 local agents, started now; see Collect.
  std::unique_ptr<Child> Start(const std::string& plan_file) {
    return std::make_unique<Child>(
        std::vector<std::string>{BinaryPath("stampede"), "run", plan_file,
                                 "--local-agents", "2", "--out",
                                 "json=" + json_file()},
        log_file());
  }

  std::string json_file() const { return dir_ + "/result.json"; }
  std::string log_file() const { return dir_ + "/stampede.log"; }

  // The log and the (strictly parsed) result a finished run left.
  RunOutcome Collect(int exit_code) {
    return CollectRun(exit_code, log_file(), json_file());
  }

  // Polls until `done` or `timeout_s`; false on time-out.
  static bool Until(const std::function<bool()>& done, double timeout_s) {
    const auto give_up =
        Clock::now() + std::chrono::duration<double>(timeout_s);
    while (!done()) {
      if (Clock::now() > give_up) return false;
      SleepFor(0.02);
    }
    return true;
  }

  long long ServedByBoth() { return first_->Served() + second_->Served(); }

  std::string dir_, hosts_;
  int dns_port_ = 0;
  std::unique_ptr<AddressTarget> first_, second_;
  std::unique_ptr<Child> dnsmasq_;
};

// 200/s for 2 s over new connections to a name with two addresses.
TEST_F(DnsEndToEnd, NewConnectionsAreSpreadOverEveryAddressOfTheName) {
  constexpr int kRequests = 400;
  std::unique_ptr<Child> controller = Start(Plan(200, 2));
  RunOutcome run = Collect(controller->Wait(60));
  ASSERT_EQ(run.exit_code, 0) << run.log;
  ASSERT_TRUE(run.has_result) << run.log;
  const v1::RunResult& r = run.result;
  EXPECT_EQ(r.status(), "passed");
  ASSERT_EQ(r.scenarios_size(), 1);
  EXPECT_EQ(r.scenarios(0).engine(), "http1") << r.scenarios(0).engine_why();

  EXPECT_EQ(r.summary().requests(), kRequests);
  EXPECT_EQ(r.summary().errors(), 0) << run.log;
  const long long first = first_->Served();
  const long long second = second_->Served();
  std::printf("%s served %lld, %s %lld of %d\n", kFirstIp, first, kSecondIp,
              second, kRequests);
  // What each listener served adds up to the result, exactly.
  EXPECT_EQ(first + second, r.summary().requests())
      << kFirstIp << " served " << first << ", " << kSecondIp << " " << second;
  // Round robin per worker: close to half each.
  EXPECT_GE(first, kRequests * 3 / 10) << first << " of " << kRequests;
  EXPECT_GE(second, kRequests * 3 / 10) << second << " of " << kRequests;
  // One connection per request, at both ends.
  EXPECT_EQ(first_->LoadConnections(), first);
  EXPECT_EQ(second_->LoadConnections(), second);
  ASSERT_TRUE(r.summary().has_phases_ms());
  EXPECT_EQ(r.summary().phases_ms().new_connections(), kRequests);
  // Each worker's lookup is timed once, on the first connection to use it.
  EXPECT_TRUE(r.summary().phases_ms().has_dns());
}

// The record changes mid-run (TTL 1 s): new connections move to the new
// address, none are lost.
TEST_F(DnsEndToEnd, AChangedRecordMovesNewConnections) {
  constexpr int kRate = 100;
  constexpr int kSeconds = 6;
  std::unique_ptr<Child> controller = Start(Plan(kRate, kSeconds, ", ttl: 1s"));
  // ~1.5 s of load on both addresses first.
  ASSERT_TRUE(Until(
      [&] {
        return first_->Served() > 0 && second_->Served() > 0 &&
               ServedByBoth() >= kRate * 3 / 2;
      },
      30))
      << "the run never reached both addresses: " << ReadFile(log_file());

  ChangeName({kSecondIp});  // returns once dnsmasq answers with it alone
  const long long first_at_change = first_->Served();
  // Every worker's answer expires within 1 s of this; twice that and more.
  SleepFor(2.5);
  const long long first_settled = first_->Served();
  const long long second_settled = second_->Served();

  RunOutcome run = Collect(controller->Wait(60));
  ASSERT_EQ(run.exit_code, 0) << run.log;
  ASSERT_TRUE(run.has_result) << run.log;
  const v1::RunResult& r = run.result;
  const long long first_end = first_->Served();
  const long long second_end = second_->Served();
  const std::string counts = absl::StrCat(
      kFirstIp, ": ", first_at_change, " at the change, ", first_settled,
      " 2.5 s later, ", first_end, " at the end; ", kSecondIp, ": ",
      second_settled, " 2.5 s after, ", second_end, " at the end");

  std::printf("%s\n", counts.c_str());
  EXPECT_EQ(r.summary().requests(), kRate * kSeconds) << counts;
  EXPECT_EQ(r.summary().errors(), 0) << run.log;
  EXPECT_EQ(first_end + second_end, r.summary().requests()) << counts;
  // The old address got at most a TTL's worth after the change...
  EXPECT_LE(first_settled - first_at_change, kRate * 2) << counts;
  // ...and nothing once every answer had expired.
  EXPECT_EQ(first_end, first_settled) << counts;
  // The new one took the rest of the run (~1.5 s at 100/s).
  EXPECT_GE(second_end - second_settled, kRate / 2) << counts;
}

// The name stops resolving mid-run (NXDOMAIN), then comes back: the
// connections in between fail with dns_failure, the run goes on to its end
// (failing only the default error_rate < 1% at the end), and requests succeed
// again.
TEST_F(DnsEndToEnd, ANameThatStopsResolvingFailsWithDnsFailureAndTheRunGoesOn) {
  constexpr int kRate = 100;
  constexpr int kSeconds = 6;
  std::unique_ptr<Child> controller = Start(Plan(kRate, kSeconds, ", ttl: 1s"));
  ASSERT_TRUE(Until([&] { return ServedByBoth() >= kRate; }, 30))
      << "the run never started: " << ReadFile(log_file());

  ChangeName({});  // NXDOMAIN from now on
  const long long served_at_removal = ServedByBoth();
  SleepFor(2.5);  // every answer expired, then failed lookups
  const long long served_while_gone = ServedByBoth();
  ChangeName({kFirstIp, kSecondIp});
  const long long served_at_restore = ServedByBoth();

  RunOutcome run = Collect(controller->Wait(60));
  ASSERT_EQ(run.exit_code, 3) << run.log;
  ASSERT_TRUE(run.has_result) << run.log;
  const v1::RunResult& r = run.result;
  const long long served_end = ServedByBoth();
  const std::string counts =
      absl::StrCat("served: ", served_at_removal, " at the removal, ",
                   served_while_gone, " 2.5 s later, ", served_at_restore,
                   " at the restore, ", served_end, " at the end");

  std::printf(
      "%s; dns_failure %lld\n", counts.c_str(),
      static_cast<long long>(r.summary().error_ids().count("dns_failure") > 0
                                 ? r.summary().error_ids().at("dns_failure")
                                 : 0));
  // Ran to its end: failed by the default threshold, not stopped.
  EXPECT_EQ(r.status(), "failed") << r.message();
  EXPECT_EQ(r.message(), "thresholds failed");
  // The whole plan ran: every arrival is a request, sent or failed.
  EXPECT_EQ(r.summary().requests(), kRate * kSeconds) << counts;
  EXPECT_GE(r.duration_s(), kSeconds - 0.5);
  const auto& ids = r.summary().error_ids();
  ASSERT_EQ(ids.count("dns_failure"), 1u) << run.log;
  const long long failed = ids.at("dns_failure");
  EXPECT_GT(failed, 0);
  // dns_failure is the only error, and every other request was served.
  EXPECT_EQ(r.summary().errors(), failed) << run.log;
  EXPECT_EQ(ids.size(), 1u) << run.log;
  EXPECT_EQ(served_end + failed, r.summary().requests()) << counts;
  // A name gone for 2.5 s fails at least ~1 s of arrivals on every worker.
  EXPECT_GE(failed, kRate / 2) << counts;
  // Back again: served again, within its 1 s retry.
  EXPECT_GE(served_end - served_at_restore, kRate / 4) << counts;

  // In time: the first interval with requests had no errors (they came after
  // the removal), nor had the last (after the restore).
  const v1::IntervalResult* first = nullptr;
  const v1::IntervalResult* last = nullptr;
  for (const v1::IntervalResult& i : r.intervals()) {
    if (i.requests() == 0) continue;
    if (first == nullptr) first = &i;
    last = &i;
  }
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->errors(), 0) << "at t=" << first->t();
  EXPECT_EQ(last->errors(), 0) << "at t=" << last->t();
}

}  // namespace
}  // namespace stampede::testing
