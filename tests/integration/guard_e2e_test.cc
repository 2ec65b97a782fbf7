// The agents' guard rails end to end: local agents started with
// --allow-targets / --max-rate (through the controller's --agent-arg) refuse
// a plan beyond them at Prepare, so the run is refused and the target sees
// nothing; a plan inside them runs as usual.
#include <string>

#include "gtest/gtest.h"
#include "tests/integration/e2e_fixture.h"
#include "tests/integration/process.h"

namespace stampede::testing {
namespace {

// 100/s for 2 s: 50/s on each of the 2 local agents.
constexpr char kPlan[] = R"(
name: guard
defaults: { base_url: "http://127.0.0.1:$PORT" }
scenarios:
  - name: browse
    transport: $TRANSPORT
    load: { arrival_rate: { stages: [ {to: 100/s, over: 1s}, {hold: 1s} ] } }
    requests:
      - { name: home, path: / }
)";

// What `stampede run` exits with when an agent's Ready carries an error.
constexpr int kExitRefused = 1;

class GuardEndToEnd : public EndToEnd {};

TEST_F(GuardEndToEnd, TargetOutsideTheAllowListIsRefusedAtPrepare) {
  RunOutcome run = Run(kPlan, "--agent-arg=--allow-targets=127.0.0.2/32");
  EXPECT_EQ(run.exit_code, kExitRefused) << run.log;
  EXPECT_NE(run.log.find("agent local-"), std::string::npos) << run.log;
  EXPECT_NE(run.log.find("scenario browse: GET http://127.0.0.1:"),
            std::string::npos)
      << run.log;
  EXPECT_NE(run.log.find("is not allowed by --allow-targets"),
            std::string::npos)
      << run.log;
  EXPECT_NE(run.log.find("is outside 127.0.0.2/32"), std::string::npos)
      << run.log;
  EXPECT_EQ(target_->Served(), 0);
  EXPECT_EQ(RequestsServed(HttpGet(target_->port(), "/stats")), 0);
}

TEST_F(GuardEndToEnd, PlanInsideTheAllowListRuns) {
  RunOutcome run = Run(kPlan,
                       "--agent-arg=--allow-targets=10.0.0.0/8,127.0.0.0/8 "
                       "--agent-arg=--max-rate=50 "
                       "--agent-arg=--max-connections=256 "
                       "--agent-arg=--max-duration=1m");
  ASSERT_EQ(run.exit_code, 0) << run.log;
  ASSERT_TRUE(run.has_result) << run.log;
  EXPECT_EQ(run.result.summary().requests(), 150);
  EXPECT_EQ(run.result.summary().errors(), 0);
  EXPECT_EQ(target_->Served(), 150);
}

TEST_F(GuardEndToEnd, HostPatternsHoldThroughLibcurl) {
  // libcurl resolves "localhost" itself and asks us for each socket: the
  // pattern allows whatever it resolved to.
  transport_ = "curl";
  RunOutcome run = Run(
      absl::StrReplaceAll(kPlan, {{"http://127.0.0.1:", "http://localhost:"}}),
      "--agent-arg=--allow-targets=LocalHost");
  ASSERT_EQ(run.exit_code, 0) << run.log;
  EXPECT_EQ(run.result.summary().requests(), 150);
  EXPECT_EQ(run.result.summary().errors(), 0);
  EXPECT_EQ(run.result.summary().error_ids().count("blocked_target"), 0u);
  EXPECT_EQ(target_->Served(), 150);
}

TEST_F(GuardEndToEnd, ShareOverTheRateCapIsRefused) {
  RunOutcome run = Run(kPlan, "--agent-arg=--max-rate=10");
  EXPECT_EQ(run.exit_code, kExitRefused) << run.log;
  EXPECT_NE(run.log.find("scenario browse asks for 50/s on this agent, over "
                         "--max-rate 10/s"),
            std::string::npos)
      << run.log;
  EXPECT_EQ(target_->Served(), 0);
}

TEST_F(GuardEndToEnd, BadAgentFlagsStopTheAgents) {
  // The agents exit 2 at once; the controller gives up on them.
  RunOutcome run = Run(kPlan, "--agent-arg=--allow-targets=10.0.0.1/8");
  EXPECT_NE(run.exit_code, 0) << run.log;
  EXPECT_EQ(target_->Served(), 0);
}

}  // namespace
}  // namespace stampede::testing
