// The native engines' resolver against a real name server: dnsmasq (Debian's
// dnsmasq-base) on a loopback port, serving a hosts file the test rewrites.
// Expiry is judged on a fake clock; nothing is asserted about durations.
#include "agent/net/resolver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <unistd.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "agent/net/event_loop.h"
#include "gtest/gtest.h"
#include "tests/integration/process.h"

namespace stampede::agent::net {
namespace {

using testing::Child;

constexpr const char* kDnsmasq = "/usr/sbin/dnsmasq";

std::string Ip(const sockaddr_storage& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (a.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(a).sin_addr, buf,
              sizeof(buf));
  } else {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(a).sin6_addr,
              buf, sizeof(buf));
  }
  return buf;
}

int PortOf(const sockaddr_storage& a) {
  return ntohs(a.ss_family == AF_INET
                   ? reinterpret_cast<const sockaddr_in&>(a).sin_port
                   : reinterpret_cast<const sockaddr_in6&>(a).sin6_port);
}

class ResolverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access(kDnsmasq, X_OK) != 0)
      GTEST_SKIP() << kDnsmasq << " is missing (Debian's dnsmasq-base)";
    dir_ = testing::MakeTempDir();
    hosts_ = dir_ + "/hosts";
    SetHosts("127.0.0.2 api.stampede.test\n127.0.0.3 api.stampede.test\n");
    port_ = testing::FreePort();
    // Names under .test that the file does not list are NXDOMAIN, never
    // forwarded anywhere (no upstream servers at all).
    dnsmasq_ = std::make_unique<Child>(
        std::vector<std::string>{
            kDnsmasq, "--keep-in-foreground", "--conf-file=/dev/null",
            "--no-resolv", "--no-hosts", "--bind-interfaces",
            "--listen-address=127.0.0.1", "--port=" + std::to_string(port_),
            "--addn-hosts=" + hosts_, "--local-ttl=30", "--local=/test/",
            "--user=root", "--pid-file=" + dir_ + "/pid", "--log-facility=-"},
        dir_ + "/dnsmasq.log");
    // Ready once it answers: the resolver's own lookups are the probe.
    for (int i = 0; i < 100; ++i) {
      auto r = MakeResolver({});
      const int id = r->Add("api.stampede.test");
      r->WaitForAnswers(200'000'000);
      if (r->AddressCount(id) > 0) return;
      usleep(50'000);
    }
    FAIL() << "dnsmasq never answered; see " << dir_ << "/dnsmasq.log";
  }

  void SetHosts(const std::string& content) {
    testing::WriteFile(hosts_, content);
  }
  // dnsmasq re-reads its hosts files on SIGHUP.
  void Reload() {
    kill(dnsmasq_->pid(), SIGHUP);
    usleep(200'000);
  }

  std::unique_ptr<Resolver> MakeResolver(DnsOptions options) {
    options.servers = {"127.0.0.1:" + std::to_string(port_)};
    auto r = Resolver::Create(loop_.get(), options, [this] { return now_; });
    EXPECT_TRUE(r.ok()) << r.status();
    return std::move(*r);
  }

  // The next `n` picks of `id` on port 80, as IPs.
  std::vector<std::string> Picks(Resolver& r, int id, int n) {
    std::vector<std::string> out;
    for (int i = 0; i < n; ++i) {
      sockaddr_storage addr;
      socklen_t len;
      int64_t lookup_ns;
      if (!r.Pick(id, 80, &addr, &len, &lookup_ns)) {
        out.push_back("none");
        continue;
      }
      EXPECT_EQ(PortOf(addr), 80);
      out.push_back(Ip(addr));
    }
    return out;
  }

  // Drives the resolver as a worker does until `done` or ~5 s of turns.
  template <typename F>
  void RunUntil(Resolver& r, F done) {
    for (int i = 0; i < 500 && !done(); ++i) {
      r.OnDeadline();
      loop_->SetDeadline(EventLoop::MonoNowNs() + 10'000'000);
      loop_->RunOnce();
    }
  }

  std::string dir_, hosts_;
  int port_ = 0;
  std::unique_ptr<Child> dnsmasq_;
  std::unique_ptr<EventLoop> loop_ = std::move(EventLoop::Create()).value();
  int64_t now_ = 1'000'000'000;
};

TEST_F(ResolverTest, SpreadsNewConnectionsOverEveryAddress) {
  auto r = MakeResolver({});
  const int id = r->Add("API.stampede.test");
  r->WaitForAnswers(5'000'000'000);
  ASSERT_EQ(r->AddressCount(id), 2u);
  std::vector<std::string> picks = Picks(*r, id, 4);
  EXPECT_EQ(std::set<std::string>(picks.begin(), picks.end()),
            (std::set<std::string>{"127.0.0.2", "127.0.0.3"}));
  EXPECT_NE(picks[0], picks[1]);  // round robin
  EXPECT_EQ(picks[0], picks[2]);
  // The same name (any case) is one entry.
  EXPECT_EQ(r->Add("api.STAMPEDE.test"), id);
}

TEST_F(ResolverTest, FirstAlwaysTakesTheSameAddress) {
  DnsOptions options;
  options.select = DnsOptions::Select::kFirst;
  auto r = MakeResolver(options);
  const int id = r->Add("api.stampede.test");
  r->WaitForAnswers(5'000'000'000);
  std::vector<std::string> picks = Picks(*r, id, 3);
  EXPECT_EQ(picks[0], picks[1]);
  EXPECT_EQ(picks[1], picks[2]);
}

TEST_F(ResolverTest, TheLookupIsTimedOnceForTheFirstConnection) {
  auto r = MakeResolver({});
  const int id = r->Add("api.stampede.test");
  r->WaitForAnswers(5'000'000'000);
  sockaddr_storage addr;
  socklen_t len;
  int64_t first = -1, second = -1;
  ASSERT_TRUE(r->Pick(id, 443, &addr, &len, &first));
  ASSERT_TRUE(r->Pick(id, 443, &addr, &len, &second));
  EXPECT_GE(first, 0);
  EXPECT_EQ(second, Resolver::kNotTimed);
}

TEST_F(ResolverTest, KeepsAnAnswerForItsTtlThenLooksUpAgain) {
  auto r = MakeResolver({});
  const int id = r->Add("api.stampede.test");
  r->WaitForAnswers(5'000'000'000);
  ASSERT_EQ(r->AddressCount(id), 2u);
  const uint64_t lookups = r->lookups();
  // The deployment rolls: the name now has one new address.
  SetHosts("127.0.0.4 api.stampede.test\n");
  Reload();
  now_ += 29'000'000'000;  // within the 30 s TTL: nothing asked
  r->OnDeadline();
  EXPECT_EQ(r->lookups(), lookups);
  EXPECT_EQ(Picks(*r, id, 1)[0] != "127.0.0.4", true);
  now_ += 2'000'000'000;  // past it: looked up again, in the background
  RunUntil(*r, [&] { return r->AddressCount(id) == 1; });
  EXPECT_EQ(r->lookups(), lookups + 1);
  EXPECT_EQ(Picks(*r, id, 2),
            (std::vector<std::string>{"127.0.0.4", "127.0.0.4"}));
}

TEST_F(ResolverTest, ATtlOverrideDecidesWhenToLookUpAgain) {
  DnsOptions options;
  options.ttl_ns = 5'000'000'000;
  auto r = MakeResolver(options);
  const int id = r->Add("api.stampede.test");
  r->WaitForAnswers(5'000'000'000);
  const uint64_t lookups = r->lookups();
  now_ += 6'000'000'000;
  RunUntil(*r, [&] { return r->lookups() > lookups; });
  EXPECT_EQ(r->lookups(), lookups + 1);
  EXPECT_EQ(r->AddressCount(id), 2u);
}

TEST_F(ResolverTest, ANameThatStopsResolvingHasNoAddressUntilItIsBack) {
  auto r = MakeResolver({});
  const int id = r->Add("api.stampede.test");
  r->WaitForAnswers(5'000'000'000);
  SetHosts("127.0.0.9 other.stampede.test\n");
  Reload();
  now_ += 31'000'000'000;
  RunUntil(*r, [&] { return r->AddressCount(id) == 0; });
  EXPECT_EQ(Picks(*r, id, 1)[0], "none");  // dns_failure for a connection
  EXPECT_EQ(r->failures(), 1u);
  SetHosts("127.0.0.5 api.stampede.test\n");
  Reload();
  now_ += Resolver::kRetryNs;
  RunUntil(*r, [&] { return r->AddressCount(id) == 1; });
  EXPECT_EQ(Picks(*r, id, 1)[0], "127.0.0.5");
}

TEST_F(ResolverTest, AnUnknownNameFailsWithoutCrashing) {
  auto r = MakeResolver({});
  const int id = r->Add("missing.stampede.test");
  r->WaitForAnswers(5'000'000'000);
  EXPECT_EQ(r->AddressCount(id), 0u);
  EXPECT_EQ(Picks(*r, id, 1)[0], "none");
}

TEST(ResolverFixedTest, HostsOverrideAndNumericHostsNeverQuery) {
  auto loop = std::move(EventLoop::Create()).value();
  DnsOptions options;
  options.hosts = {{"checkout.shop.svc.cluster.local", "127.0.0.7"}};
  auto r = std::move(Resolver::Create(loop.get(), options)).value();
  const int named = r->Add("checkout.shop.svc.cluster.local");
  const int v4 = r->Add("127.0.0.8");
  const int v6 = r->Add("::1");
  EXPECT_EQ(r->DeadlineNs(), 0);  // nothing to look up
  sockaddr_storage addr;
  socklen_t len;
  int64_t lookup;
  ASSERT_TRUE(r->Pick(named, 8443, &addr, &len, &lookup));
  EXPECT_EQ(Ip(addr), "127.0.0.7");
  EXPECT_EQ(PortOf(addr), 8443);
  EXPECT_EQ(r->Host(named), "checkout.shop.svc.cluster.local");
  ASSERT_TRUE(r->Pick(v4, 80, &addr, &len, &lookup));
  EXPECT_EQ(Ip(addr), "127.0.0.8");
  ASSERT_TRUE(r->Pick(v6, 80, &addr, &len, &lookup));
  EXPECT_EQ(Ip(addr), "::1");
  EXPECT_EQ(r->lookups(), 0u);
}

TEST(ResolverFixedTest, RefusesAHostsEntryThatIsNotAnAddress) {
  auto loop = std::move(EventLoop::Create()).value();
  DnsOptions options;
  options.hosts = {{"api", "not-an-ip"}};
  auto r = Resolver::Create(loop.get(), options);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("not-an-ip"), std::string_view::npos);
}

}  // namespace
}  // namespace stampede::agent::net
