// Faults end to end, with real processes on loopback: a controller waiting
// for remote agents that the test starts itself (so it holds their PIDs), the
// reference target, and SIGKILL / SIGSTOP sent only to those PIDs. Checks what
// an operator relies on: a dead agent is reported lost within seconds and its
// share is reported missing; a dead or silent controller stops every agent's
// load within its lease.
#include <signal.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "stampede/v1/result.pb.h"
#include "tests/integration/process.h"

namespace stampede::testing {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

class Faults : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir();
    target_ = std::make_unique<Target>(dir_);
    port_ = FreePort();
  }

  // Starts `stampede run` on `plan` waiting for `agents` remote agents, and
  // the agents.
  void Start(const std::string& plan, int agents) {
    const std::string plan_file = dir_ + "/plan.yaml";
    WriteFile(plan_file, absl::StrReplaceAll(
                             plan, {{"$PORT", absl::StrCat(target_->port())}}));
    controller_ = std::make_unique<Child>(
        std::vector<std::string>{BinaryPath("stampede"), "run", plan_file,
                                 "--listen", absl::StrCat("127.0.0.1:", port_),
                                 "--expect-agents", absl::StrCat(agents),
                                 "--out", "json=" + json_file()},
        log_file());
    for (int i = 0; i < agents; ++i) {
      agents_.push_back(std::make_unique<Child>(
          std::vector<std::string>{BinaryPath("stampede-agent"), "--controller",
                                   absl::StrCat("127.0.0.1:", port_),
                                   "--agent-id", absl::StrCat("agent-", i),
                                   "--workers", "1"},
          absl::StrCat(dir_, "/agent-", i, ".log")));
    }
  }

  // Waits until the target has served at least `n` requests.
  bool AwaitServed(long long n, double timeout_s) {
    const auto start = Clock::now();
    while (SecondsSince(start) < timeout_s) {
      if (target_->Served() >= n) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  // Waits until the target's count has not moved for `quiet_s`; returns when
  // the last request came (seconds after `since`), or -1 on timeout.
  double AwaitQuiet(Clock::time_point since, double quiet_s, double timeout_s) {
    long long last = target_->Served();
    auto last_change = Clock::now();
    while (SecondsSince(since) < timeout_s) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      const long long now = target_->Served();
      if (now != last) {
        last = now;
        last_change = Clock::now();
      } else if (SecondsSince(last_change) >= quiet_s) {
        return std::chrono::duration<double>(last_change - since).count();
      }
    }
    return -1;
  }

  bool LogSays(const std::string& text) {
    return ReadFile(log_file()).find(text) != std::string::npos;
  }

  v1::RunResult Result() {
    v1::RunResult r;
    google::protobuf::util::JsonParseOptions strict;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(
                    ReadFile(json_file()), &r, strict)
                    .ok());
    return r;
  }

  std::string json_file() const { return dir_ + "/result.json"; }
  std::string log_file() const { return dir_ + "/stampede.log"; }

  std::string dir_;
  int port_ = 0;
  std::unique_ptr<Target> target_;
  std::unique_ptr<Child> controller_;
  std::vector<std::unique_ptr<Child>> agents_;
};

constexpr char kThreeAgents[] = R"(
name: lose-one
defaults: { base_url: "http://127.0.0.1:$PORT" }
max_lost_share: 50%
scenarios:
  - name: steady
    load: { arrival_rate: { stages: [ { to: 300/s, over: 0s }, { hold: 8s } ] } }
    requests: [ { path: / } ]
)";

TEST_F(Faults, KilledAgentIsLostWithinFiveSecondsAndItsShareIsMissing) {
  Start(kThreeAgents, 3);
  ASSERT_TRUE(AwaitServed(600, 20)) << ReadFile(log_file());
  const auto killed_at = Clock::now();
  ASSERT_EQ(kill(agents_[1]->pid(), SIGKILL), 0);
  while (!LogSays("agent agent-1 lost") && SecondsSince(killed_at) < 10) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const double lost_after = SecondsSince(killed_at);
  EXPECT_LT(lost_after, 5.0) << ReadFile(log_file());
  // The same agent restarted is a stranger to this run: it gets no share
  // and is not counted twice.
  Child restarted({BinaryPath("stampede-agent"), "--controller",
                   absl::StrCat("127.0.0.1:", port_), "--agent-id", "agent-1",
                   "--workers", "1"},
                  dir_ + "/agent-1-again.log");
  EXPECT_EQ(controller_->Wait(60), 6) << ReadFile(log_file());
  const v1::RunResult r = Result();
  EXPECT_EQ(r.status(), "degraded") << r.message();
  EXPECT_NEAR(r.lost_share(), 1.0 / 3, 1e-5);  // JSON keeps 6 digits
  ASSERT_EQ(r.agents_size(), 3);
  int lost = 0;
  for (const v1::AgentResult& a : r.agents()) {
    EXPECT_EQ(a.planned_requests(), 800) << a.id();
    if (a.state() == "lost") {
      ++lost;
      EXPECT_EQ(a.id(), "agent-1");
      EXPECT_LT(a.requests(), 800);
      EXPECT_EQ(r.missing_requests(), 800 - a.requests());
    } else {
      EXPECT_EQ(a.requests(), 800) << a.id();
    }
  }
  EXPECT_EQ(lost, 1);
  // The target saw all that was reported, plus what the killed agent sent in
  // its last moments and never reported (at most a couple of intervals).
  const long long served = target_->Served();
  EXPECT_GE(served, r.summary().requests());
  EXPECT_LE(served - r.summary().requests(), 250);
  // Nobody took over the lost share: the others sent exactly theirs.
  EXPECT_LT(served, 2400);
  EXPECT_EQ(restarted.Wait(20), 1) << ReadFile(dir_ + "/agent-1-again.log");
}

TEST_F(Faults, AgentStoppedBySigtermDrainsReportsAndDegradesTheRun) {
  Start(kThreeAgents, 3);
  ASSERT_TRUE(AwaitServed(600, 20)) << ReadFile(log_file());
  ASSERT_EQ(kill(agents_[0]->pid(), SIGTERM), 0);
  EXPECT_EQ(agents_[0]->Wait(15), 0) << "drained, sent Final, exit 0";
  EXPECT_EQ(controller_->Wait(60), 6) << ReadFile(log_file());
  const v1::RunResult r = Result();
  EXPECT_EQ(r.status(), "degraded") << r.message();
  ASSERT_EQ(r.agents_size(), 3);
  EXPECT_EQ(r.agents(0).id(), "agent-0");
  EXPECT_EQ(r.agents(0).state(), "stopped");
  EXPECT_LT(r.agents(0).requests(), 800);
  EXPECT_EQ(r.missing_requests(), 800 - r.agents(0).requests());
  // It drained and reported everything it sent: the counts agree exactly.
  EXPECT_EQ(target_->Served(), r.summary().requests());
}

TEST_F(Faults, LossBeyondThePolicyAbortsWithExitSix) {
  Start(absl::StrReplaceAll(kThreeAgents,
                            {{"max_lost_share: 50%", "on_agent_loss: abort"}}),
        3);
  ASSERT_TRUE(AwaitServed(300, 20)) << ReadFile(log_file());
  ASSERT_EQ(kill(agents_[2]->pid(), SIGKILL), 0);
  EXPECT_EQ(controller_->Wait(60), 6) << ReadFile(log_file());
  const v1::RunResult r = Result();
  EXPECT_EQ(r.status(), "aborted");
  EXPECT_NE(r.message().find("on_agent_loss: abort"), std::string::npos)
      << r.message();
  // Stopped early: well short of the 2,400 planned.
  EXPECT_LT(target_->Served(), 2000);
  for (int i : {0, 1}) EXPECT_EQ(agents_[i]->Wait(20), 0);
}

TEST_F(Faults, KilledControllerStopsEveryAgentAtOnce) {
  Start(R"(
name: lose-controller
defaults: { base_url: "http://127.0.0.1:$PORT" }
scenarios:
  - name: steady
    load: { arrival_rate: { stages: [ { to: 200/s, over: 0s }, { hold: 30s } ] } }
    requests: [ { path: / } ]
)",
        2);
  ASSERT_TRUE(AwaitServed(400, 20)) << ReadFile(log_file());
  const auto killed_at = Clock::now();
  ASSERT_EQ(kill(controller_->pid(), SIGKILL), 0);
  const double last = AwaitQuiet(killed_at, 1.5, 20);
  ASSERT_GE(last, 0) << "the target never went quiet";
  EXPECT_LT(last, 11.0) << "load went on past the lease";
  // The stream broke, so they stop long before the lease runs out (the
  // bound leaves room for a loaded machine).
  EXPECT_LT(last, 4.0);
  for (auto& a : agents_) EXPECT_EQ(a->Wait(15), 1);
}

TEST_F(Faults, SilentControllerLetsTheLeaseRunOutAndAgentsStop) {
  Start(R"(
name: silent-controller
defaults: { base_url: "http://127.0.0.1:$PORT" }
scenarios:
  - name: steady
    load: { arrival_rate: { stages: [ { to: 200/s, over: 0s }, { hold: 40s } ] } }
    requests: [ { path: / } ]
)",
        2);
  ASSERT_TRUE(AwaitServed(400, 20)) << ReadFile(log_file());
  // A stopped process keeps its sockets: the stream stays up but nothing
  // answers, as across a partition.
  const auto stopped_at = Clock::now();
  ASSERT_EQ(kill(controller_->pid(), SIGSTOP), 0);
  const double last = AwaitQuiet(stopped_at, 1.5, 25);
  kill(controller_->pid(), SIGCONT);
  ASSERT_GE(last, 0) << "the target never went quiet";
  // The lease is 10 s from the last reply, which came at most ~1 s before
  // the stop; the agents stop within the lease and a second.
  EXPECT_LT(last, 11.0);
  EXPECT_GT(last, 5.0) << "stopped before the lease ran out?";
  for (auto& a : agents_) EXPECT_EQ(a->Wait(15), 1);
  for (int i = 0; i < 2; ++i) {
    EXPECT_NE(ReadFile(absl::StrCat(dir_, "/agent-", i, ".log"))
                  .find("the lease ran out"),
              std::string::npos);
  }
}

// The generator's own stall is named as such: an agent stopped (SIGSTOP) for
// 1.5 s while 40 slow requests are in flight. Their replies arrive while it is
// stopped; once it runs again it reads them before judging any time-out, so
// none is a request_timeout charged to the target, and the interval says the
// agent's event loop stalled.
TEST_F(Faults, StoppedAgentIsAGeneratorStallNotTargetTimeouts) {
  Start(R"(
name: stall
defaults: { base_url: "http://127.0.0.1:$PORT", timeout: 500ms }
scenarios:
  - name: slow
    load: { arrival_rate: { stages: [ { to: 200/s, over: 0s }, { hold: 5s } ] } }
    requests: [ { path: /delay/200 } ]
)",
        1);
  ASSERT_TRUE(AwaitServed(200, 20)) << ReadFile(log_file());
  ASSERT_EQ(kill(agents_[0]->pid(), SIGSTOP), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  ASSERT_EQ(kill(agents_[0]->pid(), SIGCONT), 0);
  EXPECT_EQ(controller_->Wait(30), 0) << ReadFile(log_file());
  const v1::RunResult r = Result();
  EXPECT_EQ(r.summary().error_ids().count("request_timeout"), 0u)
      << ReadFile(log_file());
  EXPECT_GT(r.summary().requests(), 600);
  bool stalled = false;
  for (const v1::IntervalResult& i : r.intervals()) {
    if (i.loop_stall_max_ms() >= 1000) {
      stalled = true;
      EXPECT_TRUE(i.generator_limited());
      EXPECT_NE(i.generator_note().find("event loop stalled for"),
                std::string::npos)
          << i.generator_note();
    }
  }
  EXPECT_TRUE(stalled) << "no interval shows the 1.5 s stall";
  EXPECT_TRUE(LogSays("WARNING: the generator, not the target, was the limit"))
      << ReadFile(log_file());
}

}  // namespace
}  // namespace stampede::testing
