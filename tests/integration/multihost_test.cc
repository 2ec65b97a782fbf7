// Multi-host end to end on one machine: the reference target, the controller
// and three agents each run in a Linux network namespace of their own, linked
// by veth pairs to a bridge in a sixth namespace, so every process has its own
// address and the control plane and the load really cross a network. Each
// agent also gets its own UTS namespace, hence its own host name. The test
// creates the namespaces (named after its PID) and removes them; it signals
// only the processes it started. Without root (CAP_NET_ADMIN, CAP_SYS_ADMIN)
// it is skipped.
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "common/histogram.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "stampede/v1/result.pb.h"
#include "tests/integration/process.h"

namespace stampede::testing {
namespace {

constexpr char kIp[] = "/usr/sbin/ip";
constexpr char kUnshare[] = "/usr/bin/unshare";
constexpr char kSetpriv[] = "/usr/bin/setpriv";
// A private subnet unlikely to be in use; it exists only inside the
// namespaces this test creates.
constexpr char kSubnet[] = "10.213.77.";
constexpr int kAgents = 3;
constexpr int kControlPort = 7070;  // each namespace has its own ports

// One simulated machine: a namespace with one veth to the bridge.
struct Host {
  std::string ns;
  std::string address;
};

class MultiHost : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir();
    prefix_ = absl::StrCat("stp", getpid(), "-");
    if (access(kIp, X_OK) != 0 || access(kUnshare, X_OK) != 0 ||
        access(kSetpriv, X_OK) != 0) {
      GTEST_SKIP() << "multi-host test skipped: needs " << kIp << " (iproute2)"
                   << ", " << kUnshare << " and " << kSetpriv
                   << " (util-linux)";
    }
    std::string error;
    const std::string bridge_ns = prefix_ + "br";
    if (!Ip({"netns", "add", bridge_ns}, &error)) {
      GTEST_SKIP() << "multi-host test skipped: cannot create a network "
                      "namespace (needs root, or CAP_NET_ADMIN and "
                      "CAP_SYS_ADMIN): "
                   << error;
    }
    namespaces_.push_back(bridge_ns);
    ASSERT_TRUE(
        Ip({"-n", bridge_ns, "link", "add", "br0", "type", "bridge"}, &error))
        << error;
    ASSERT_TRUE(Ip({"-n", bridge_ns, "link", "set", "br0", "up"}, &error))
        << error;
    target_ = AddHost("tgt", 2);
    controller_ = AddHost("ctl", 3);
    for (int i = 1; i <= kAgents; ++i) {
      agents_.push_back(AddHost(absl::StrCat("a", i), 10 + i));
    }
  }

  void TearDown() override {
    // Our own children first (SIGKILL to each PID we started), then the
    // namespaces we created, which takes their veths and the bridge along.
    children_.clear();
    for (auto it = namespaces_.rbegin(); it != namespaces_.rend(); ++it) {
      std::string error;
      EXPECT_TRUE(Ip({"netns", "del", *it}, &error)) << error;
    }
  }

  // Runs `ip ARGS`; on failure `error` gets the command and its output.
  bool Ip(const std::vector<std::string>& args, std::string* error) {
    std::vector<std::string> argv = {kIp};
    argv.insert(argv.end(), args.begin(), args.end());
    const std::string log = dir_ + "/ip.log";
    Child ip(argv, log);
    if (ip.Wait(10) == 0) return true;
    *error = absl::StrCat("ip ", absl::StrJoin(args, " "), ": ", ReadFile(log));
    return false;
  }

  // A namespace `prefix_ + name` with lo up and eth0 at kSubnet + `octet`,
  // its veth peer enslaved to the bridge. Records failures with ADD_FAILURE.
  Host AddHost(const std::string& name, int octet) {
    Host host{prefix_ + name, absl::StrCat(kSubnet, octet)};
    const std::string bridge_ns = prefix_ + "br";
    const std::string peer = "v-" + name;
    std::string error;
    if (!Ip({"netns", "add", host.ns}, &error)) {
      ADD_FAILURE() << error;
      return host;
    }
    namespaces_.push_back(host.ns);
    const std::vector<std::vector<std::string>> steps = {
        {"link", "add", "eth0", "netns", host.ns, "type", "veth", "peer",
         "name", peer, "netns", bridge_ns},
        {"-n", bridge_ns, "link", "set", peer, "master", "br0"},
        {"-n", bridge_ns, "link", "set", peer, "up"},
        {"-n", host.ns, "addr", "add", host.address + "/24", "dev", "eth0"},
        {"-n", host.ns, "link", "set", "eth0", "up"},
        {"-n", host.ns, "link", "set", "lo", "up"},
    };
    for (const std::vector<std::string>& step : steps) {
      if (!Ip(step, &error)) {
        ADD_FAILURE() << error;
        break;
      }
    }
    return host;
  }

  // Starts `argv` inside `host`'s network namespace. `ip netns exec` and
  // setpriv exec, so the child's PID is the program's own; setpriv has it
  // killed if this process dies first (say, on a CTest timeout), since the
  // target would never exit on its own.
  Child& Spawn(const Host& host, const std::vector<std::string>& argv,
               const std::string& log) {
    std::vector<std::string> full = {kIp,      "netns",       "exec", host.ns,
                                     kSetpriv, "--pdeathsig", "KILL", "--"};
    full.insert(full.end(), argv.begin(), argv.end());
    children_.push_back(std::make_unique<Child>(full, log));
    return *children_.back();
  }

  // Runs `fn` on a thread that joins `host`'s network namespace (that thread
  // alone: the rest of this process stays where it is).
  template <typename Fn>
  void InNamespace(const Host& host, Fn fn) {
    std::string error;
    std::thread thread([&] {
      const std::string path = "/run/netns/" + host.ns;
      int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
        error = absl::StrCat("cannot join ", path, ": ", std::strerror(errno));
      } else {
        fn();
      }
      if (fd >= 0) close(fd);
    });
    thread.join();
    ASSERT_TRUE(error.empty()) << error;
  }

  // The target in its namespace; returns its port (0 if it did not start).
  int StartTarget() {
    Spawn(target_,
          {BinaryPath("stampede-target"), "--listen", target_.address + ":0",
           "--port-file", dir_ + "/target.port"},
          dir_ + "/target.log");
    int port = 0;
    for (int i = 0; i < 500 && port == 0; ++i) {
      port = std::atoi(ReadFile(dir_ + "/target.port").c_str());
      if (port == 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return port;
  }

  // The controller, for `plan` (with $TARGET filled in), waiting for the
  // agents; then the agents, each with a host name of its own.
  Child& StartRun(const std::string& plan, int target_port) {
    const std::string plan_file = dir_ + "/plan.yaml";
    WriteFile(plan_file,
              absl::StrReplaceAll(
                  plan, {{"$TARGET",
                          absl::StrCat(target_.address, ":", target_port)}}));
    const std::string control =
        absl::StrCat(controller_.address, ":", kControlPort);
    Child& controller =
        Spawn(controller_,
              {BinaryPath("stampede"), "--log-level", "info", "run", plan_file,
               "--listen", control, "--expect-agents", absl::StrCat(kAgents),
               "--registration-timeout", "20", "--insecure", "--out",
               "json=" + json_file()},
              controller_log());
    for (int i = 0; i < kAgents; ++i) {
      // A host name of its own (new UTS namespace), then the agent itself.
      agent_children_.push_back(&Spawn(
          agents_[i],
          {kUnshare, "--uts", "/bin/sh", "-c", "hostname \"$0\" && exec \"$@\"",
           absl::StrCat("stp-host-", i + 1), BinaryPath("stampede-agent"),
           "--controller", control, "--agent-id", absl::StrCat("agent-", i + 1),
           "--workers", "1"},
          absl::StrCat(dir_, "/agent-", i + 1, ".log")));
    }
    return controller;
  }

  // Requests the target has served, asked from the controller's host.
  long long Served(int target_port) {
    std::string stats;
    InNamespace(controller_, [&] {
      stats = HttpGet(target_.address, target_port, "/stats");
    });
    return RequestsServed(stats);
  }

  std::string json_file() const { return dir_ + "/result.json"; }
  std::string controller_log() const { return dir_ + "/stampede.log"; }

  std::string dir_;
  std::string prefix_;
  std::vector<Child*> agent_children_;
  std::vector<std::string> namespaces_;  // created by this test, in order
  std::vector<std::unique_ptr<Child>> children_;
  Host target_, controller_;
  std::vector<Host> agents_;
};

// 100/s for 3 s, open model: exactly 300 arrivals, split over three agents.
constexpr char kPlan[] = R"(
name: multihost
defaults: { base_url: "http://$TARGET" }
scenarios:
  - name: s
    load: { arrival_rate: { stages: [ {to: 100/s, over: 0s}, {hold: 3s} ] } }
    requests:
      - { name: home, path: /, weight: 3 }
      - { name: bytes, path: /bytes/256, weight: 1 }
thresholds:
  - { metric: error_rate, lt: 1% }
)";

TEST_F(MultiHost, AgentsOnThreeHostsDeliverThePlanExactly) {
  const auto started = std::chrono::steady_clock::now();

  const int target_port = StartTarget();
  ASSERT_NE(target_port, 0) << ReadFile(dir_ + "/target.log");
  Child& controller = StartRun(kPlan, target_port);
  const int exit_code = controller.Wait(60);
  const std::string log = ReadFile(controller_log());
  ASSERT_EQ(exit_code, 0) << log;

  v1::RunResult r;
  google::protobuf::util::JsonParseOptions strict;  // JSON == proto
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(ReadFile(json_file()),
                                                          &r, strict)
                  .ok())
      << ReadFile(json_file());
  EXPECT_EQ(r.status(), "passed");
  EXPECT_TRUE(r.insecure_control_plane());

  // Exactly the plan, exactly what the target saw.
  EXPECT_EQ(Served(target_port), 300);
  EXPECT_EQ(r.summary().requests(), 300);
  EXPECT_EQ(r.summary().errors(), 0);
  ASSERT_EQ(r.scenarios_size(), 1);
  ASSERT_EQ(r.scenarios(0).requests_size(), 2);
  EXPECT_EQ(r.scenarios(0).requests(0).summary().requests(), 225);
  EXPECT_EQ(r.scenarios(0).requests(1).summary().requests(), 75);

  // Three agents on three hosts, each with a share, the shares summing to the
  // whole.
  ASSERT_EQ(r.agents_size(), kAgents) << log;
  std::set<std::string> ids, hosts;
  int64_t agent_sum = 0;
  for (const v1::AgentResult& a : r.agents()) {
    EXPECT_EQ(a.state(), "finished") << a.id();
    EXPECT_GT(a.requests(), 0) << a.id();
    agent_sum += a.requests();
    ids.insert(a.id());
    hosts.insert(a.host());
  }
  EXPECT_EQ(agent_sum, r.summary().requests());
  EXPECT_EQ(ids, (std::set<std::string>{"agent-1", "agent-2", "agent-3"}));
  EXPECT_EQ(hosts,
            (std::set<std::string>{"stp-host-1", "stp-host-2", "stp-host-3"}));
  // And they really came from three addresses across the bridge.
  for (const Host& agent : agents_) {
    EXPECT_NE(log.find("registered from ipv4:" + agent.address + ":"),
              std::string::npos)
        << agent.address << "\n"
        << log;
  }

  // The merged histograms account for every request, and merging the three
  // agents' data by interval, by request or by agent gives the same buckets:
  // the merge is exact.
  common::Histogram by_interval, by_request, by_agent;
  for (const v1::AgentResult& a : r.agents()) {
    absl::StatusOr<common::Histogram> h =
        common::Histogram::Decode(a.latency_histogram());
    ASSERT_TRUE(h.ok()) << h.status();
    EXPECT_EQ(h->Count(), a.requests()) << a.id();
    by_agent.Merge(*h);
  }
  int64_t interval_sum = 0;
  for (const v1::IntervalResult& i : r.intervals()) {
    interval_sum += i.requests();
    ASSERT_TRUE(by_interval.MergeEncoded(i.latency_histogram()).ok());
  }
  for (const v1::RequestResult& q : r.scenarios(0).requests()) {
    absl::StatusOr<common::Histogram> h =
        common::Histogram::Decode(q.latency_histogram());
    ASSERT_TRUE(h.ok()) << h.status();
    EXPECT_EQ(h->Count(), q.summary().requests()) << q.name();
    by_request.Merge(*h);
  }
  EXPECT_EQ(interval_sum, r.summary().requests());
  EXPECT_EQ(by_request.Count(), r.summary().requests());
  EXPECT_TRUE(by_interval == by_request);
  EXPECT_TRUE(by_agent == by_request);
  // Nothing arrived too late to be shown, and the start was together: each
  // agent's clock was measured and its first send was on time.
  EXPECT_EQ(r.late_intervals(), 0);
  for (const v1::AgentResult& a : r.agents()) {
    EXPECT_GE(a.clock_rtt_ms(), 0) << a.id();
    EXPECT_GE(a.first_send_late_ms(), 0) << a.id();
  }
  EXPECT_GE(r.start_spread_ms(), 0);
  EXPECT_LT(r.start_spread_ms(), 100);
  std::printf("start spread across the three hosts: %.3f ms\n",
              r.start_spread_ms());

  std::printf(
      "multi-host run: %.1f s from the target's start to the result\n",
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started)
          .count());
}

// 150/s for 20 s over three agents; losing one (a third) is allowed.
constexpr char kLongPlan[] = R"(
name: partition
defaults: { base_url: "http://$TARGET" }
max_lost_share: 50%
scenarios:
  - name: s
    load: { arrival_rate: { stages: [ {to: 150/s, over: 0s}, {hold: 20s} ] } }
    requests: [ { path: / } ]
)";

TEST_F(MultiHost, PartitionedAgentIsLostAndFencesItselfWithoutDoubleLoad) {
  constexpr char kIptables[] = "/usr/sbin/iptables";
  if (access(kIptables, X_OK) != 0) {
    GTEST_SKIP() << "needs " << kIptables << " (Debian's iptables)";
  }
  const int target_port = StartTarget();
  ASSERT_NE(target_port, 0) << ReadFile(dir_ + "/target.log");
  Child& controller = StartRun(kLongPlan, target_port);
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (Served(target_port) < 450 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_GE(Served(target_port), 450) << ReadFile(controller_log());

  // Cut agent-2 off from the controller both ways; the target stays
  // reachable. Dropped, not refused: the stream neither breaks nor answers.
  const auto cut_at = Clock::now();
  for (const char* chain : {"OUTPUT", "INPUT"}) {
    Child rule({kIp, "netns", "exec", agents_[1].ns, kIptables, "-A", chain,
                std::string(chain) == "OUTPUT" ? "-d" : "-s",
                controller_.address, "-j", "DROP"},
               dir_ + "/iptables.log");
    ASSERT_EQ(rule.Wait(10), 0) << ReadFile(dir_ + "/iptables.log");
  }
  // Sample the target's count every half second until the run ends: the
  // rate must never exceed the plan's (nobody takes over the lost share),
  // and agent-2's third must stop within its lease (10 s) and a second.
  std::vector<std::pair<double, long long>> samples;
  double lost_after = -1;
  while (controller.Wait(0.5) == -1 &&
         Clock::now() - cut_at < std::chrono::seconds(40)) {
    const double t =
        std::chrono::duration<double>(Clock::now() - cut_at).count();
    samples.emplace_back(t, Served(target_port));
    if (lost_after < 0 &&
        ReadFile(controller_log()).find("agent agent-2 lost") !=
            std::string::npos) {
      lost_after = t;
    }
  }
  ASSERT_GE(lost_after, 0) << ReadFile(controller_log());
  EXPECT_LT(lost_after, 6.0) << "lost within 5 s (sampled every 0.5 s)";
  // Per-second rates between samples about a second apart.
  double after_lease_rate = -1;
  for (size_t i = 0; i + 2 < samples.size(); ++i) {
    const double dt = samples[i + 2].first - samples[i].first;
    const double rate = (samples[i + 2].second - samples[i].second) / dt;
    EXPECT_LT(rate, 150 * 1.25) << "at " << samples[i].first << " s";
    if (samples[i].first > 11.5 && samples[i + 2].first < 17 &&
        after_lease_rate < 0) {
      after_lease_rate = rate;
    }
  }
  // Two agents' worth (100/s) once the lease has run out.
  EXPECT_GT(after_lease_rate, 80);
  EXPECT_LT(after_lease_rate, 120);
  EXPECT_EQ(agent_children_[1]->Wait(15), 1);
  // It stopped on its own: its lease ran out, or gRPC's keepalive noticed
  // the dead link first (pings every 10 s, 5 s to answer).
  const std::string agent_log = ReadFile(dir_ + "/agent-2.log");
  EXPECT_TRUE(agent_log.find("the lease ran out") != std::string::npos ||
              agent_log.find("the controller ended the session") !=
                  std::string::npos)
      << agent_log;
  v1::RunResult r;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(ReadFile(json_file()), &r)
          .ok());
  EXPECT_EQ(r.status(), "degraded") << r.message();
  EXPECT_EQ(r.exit_code(), 6);
}

}  // namespace
}  // namespace stampede::testing
