// End to end with real processes on loopback: the reference target, the
// controller, and local agents it spawns, talking gRPC. Checks what a user
// would: the result's counts are the target's counts, exactly, and the verdict
// and exit code follow the plan.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <regex>
#include <set>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/plan_loader.h"
#include "common/schedule.h"
#include "common/version.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "stampede/v1/result.pb.h"
#include "tests/integration/e2e_fixture.h"
#include "tests/integration/process.h"

namespace stampede::testing {
namespace {

// The tests that must hold for every HTTP transport, run once per transport.
class EveryTransport : public EndToEnd,
                       public ::testing::WithParamInterface<std::string> {
 protected:
  void SetUp() override {
    EndToEnd::SetUp();
    transport_ = GetParam();
  }
};

INSTANTIATE_TEST_SUITE_P(Transports, EveryTransport,
                         ::testing::Values("native", "curl"));

constexpr char kRampPlan[] = R"(
name: e2e-ramp
defaults: { base_url: "http://127.0.0.1:$PORT" }
scenarios:
  - name: browse
    transport: $TRANSPORT
    load: { arrival_rate: { stages: [ {to: 150/s, over: 2s}, {hold: 3s} ] } }
    requests:
      - { name: home, path: /, weight: 3 }
      - { name: bytes, path: /bytes/512, weight: 1 }
thresholds:
  - { metric: latency, p: 95, lt: 2s }
  - { metric: error_rate, lt: 1% }
)";

TEST_P(EveryTransport, MergedCountsEqualWhatTheTargetServed) {
  RunOutcome run = Run(kRampPlan);
  ASSERT_EQ(run.exit_code, 0) << run.log;
  ASSERT_TRUE(run.has_result) << run.log;
  const v1::RunResult& r = run.result;
  EXPECT_EQ(r.schema(), "stampede.result/v1");
  EXPECT_EQ(r.status(), "passed");

  // Exactly what the target served, and exactly what the plan asked for: 150/s
  // ramped over 2 s (150 arrivals) then held 3 s (450), split over 2 agents
  // with nothing lost or doubled.
  EXPECT_EQ(r.summary().requests(), target_->Served());
  EXPECT_EQ(r.summary().requests(), 600);
  EXPECT_EQ(r.summary().errors(), 0);

  int64_t agent_sum = 0;
  ASSERT_EQ(r.agents_size(), 2);
  for (const v1::AgentResult& a : r.agents()) {
    EXPECT_EQ(a.state(), "finished");
    EXPECT_GT(a.requests(), 0);
    agent_sum += a.requests();
  }
  EXPECT_EQ(agent_sum, r.summary().requests());
  // One host, one clock: the estimated offsets are near zero, and the agents
  // started together.
  for (const v1::AgentResult& a : r.agents()) {
    EXPECT_GE(a.clock_rtt_ms(), 0);
    EXPECT_LT(std::abs(a.clock_offset_ms()), 20);
    EXPECT_GE(a.first_send_late_ms(), 0);
    EXPECT_LT(a.first_send_late_ms(), 100);
  }
  EXPECT_LT(r.start_spread_ms(), 100);

  // Weights 3:1 are honoured exactly over every 4 arrivals.
  ASSERT_EQ(r.scenarios_size(), 1);
  ASSERT_EQ(r.scenarios(0).requests_size(), 2);
  EXPECT_EQ(r.scenarios(0).requests(0).summary().requests(), 450);
  EXPECT_EQ(r.scenarios(0).requests(1).summary().requests(), 150);
  EXPECT_EQ(r.summary().statuses().at("200"), 600);

  EXPECT_GT(r.summary().latency_ms().p50(), 0);
  EXPECT_LE(r.summary().latency_ms().p50(), r.summary().latency_ms().p99());
  EXPECT_GE(r.intervals_size(), 4);
  // A light run: the generator kept up, and said so.
  EXPECT_EQ(r.generator_limited_intervals(), 0);
  for (const v1::IntervalResult& i : r.intervals()) {
    EXPECT_FALSE(i.generator_limited()) << i.generator_note();
    EXPECT_LT(i.generator_busy(), 0.9);
    EXPECT_GT(i.open_fds(), 0);
  }
  ASSERT_EQ(r.thresholds_size(), 2);
  EXPECT_TRUE(r.thresholds(0).passed());
  EXPECT_EQ(r.thresholds(0).expression(), "p(95) latency < 2s");

  // The live view printed a line per interval and the summary its verdict.
  EXPECT_NE(run.log.find("achieved"), std::string::npos) << run.log;
  EXPECT_NE(run.log.find("result: passed (exit 0)"), std::string::npos)
      << run.log;
}

TEST_F(EndToEnd, ThresholdThatCannotPassExitsThree) {
  RunOutcome run = Run(R"(
defaults: { base_url: "http://127.0.0.1:$PORT" }
scenarios:
  - name: s
    load: { arrival_rate: { stages: [ {to: 50/s, over: 0s}, {hold: 2s} ] } }
    requests: [ { path: / } ]
thresholds:
  - { metric: latency, p: 50, lt: 1us }
)");
  EXPECT_EQ(run.exit_code, 3) << run.log;
  ASSERT_TRUE(run.has_result) << run.log;
  EXPECT_EQ(run.result.status(), "failed");
  EXPECT_EQ(run.result.exit_code(), 3);
  // With the default one: the plan judges no error rate of its own.
  ASSERT_EQ(run.result.thresholds_size(), 2);
  EXPECT_FALSE(run.result.thresholds(0).passed());
  EXPECT_GT(run.result.thresholds(0).actual(), 0.001);
  EXPECT_EQ(run.result.thresholds(1).expression(), "error_rate < 1% (default)");
  EXPECT_TRUE(run.result.thresholds(1).passed());
  EXPECT_EQ(run.result.summary().requests(), target_->Served());
}

TEST_F(EndToEnd, ErrorStatusesAreCountedByIdAndFailTheErrorRate) {
  RunOutcome run = Run(R"(
defaults: { base_url: "http://127.0.0.1:$PORT" }
scenarios:
  - name: s
    load: { arrival_rate: { stages: [ {to: 40/s, over: 0s}, {hold: 2s} ] } }
    requests:
      - { name: ok, path: /, weight: 1 }
      - { name: broken, path: /status/503, weight: 1 }
thresholds:
  - { metric: error_rate, lt: 1% }
  - { metric: error_rate, request: ok, lt: 1% }
)");
  EXPECT_EQ(run.exit_code, 3) << run.log;
  ASSERT_TRUE(run.has_result) << run.log;
  EXPECT_EQ(run.result.summary().requests(), 80);
  EXPECT_EQ(run.result.summary().errors(), 40);
  EXPECT_EQ(run.result.summary().error_ids().at("http_503"), 40);
  EXPECT_DOUBLE_EQ(run.result.summary().error_rate(), 0.5);
  EXPECT_FALSE(run.result.thresholds(0).passed());
  EXPECT_TRUE(
      run.result.thresholds(1).passed());  // filtered to the healthy request
}

// The seeds' rule, judged live on merged data: an error rate above the bound
// stops a 30 s run within seconds, with exit 4 and the threshold named.
TEST_F(EndToEnd, AbortThresholdStopsTheRunEarlyAndSaysWhy) {
  RunOutcome run = Run(R"(
defaults: { base_url: "http://127.0.0.1:$PORT" }
scenarios:
  - name: s
    load: { arrival_rate: { stages: [ {to: 50/s, over: 0s}, {hold: 30s} ] } }
    requests:
      - { name: ok, path: / }
      - { name: broken, path: /status/503 }
thresholds:
  - { metric: error_rate, lt: 10%, for: 2s, abort: true, grace: 1s }
  - { metric: latency, p: 99, lt: 10s }
)");
  EXPECT_EQ(run.exit_code, 4) << run.log;
  ASSERT_TRUE(run.has_result) << run.log;
  const v1::RunResult& r = run.result;
  EXPECT_EQ(r.status(), "aborted");
  EXPECT_EQ(r.message(),
            "threshold error_rate < 10% for 2s grace 1s abort failed at 2s "
            "(actual 50.000%): aborted")
      << run.log;
  ASSERT_EQ(r.thresholds_size(), 2);
  EXPECT_FALSE(r.thresholds(0).passed());
  EXPECT_TRUE(r.thresholds(0).aborted());
  EXPECT_DOUBLE_EQ(r.thresholds(0).failed_at_s(), 2);
  EXPECT_TRUE(r.thresholds(1).passed());
  EXPECT_FALSE(r.thresholds(1).aborted());
  // Stopped long before the plan's 30 s, and nothing sent went uncounted.
  EXPECT_LT(r.duration_s(), 10);
  EXPECT_LT(r.summary().requests(), 500);
  EXPECT_EQ(r.summary().requests(), target_->Served());
  EXPECT_NE(run.log.find("threshold FAILING at 2s: error_rate < 10%"),
            std::string::npos)
      << run.log;
}

// "429s are expected, but not more than 5 %", and a "note, don't stop" rule:
// shares of a status and of an error id are threshold metrics, and a warn
// threshold that fails (live, too) is in every output while the run passes.
TEST_F(EndToEnd, StatusSharesAndWarnThresholdsAreJudgedWithoutFailingTheRun) {
  RunOutcome run =
      Run(R"(
defaults: { base_url: "http://127.0.0.1:$PORT" }
scenarios:
  - name: s
    load: { arrival_rate: { stages: [ {to: 100/s, over: 0s}, {hold: 3s} ] } }
    expected_statuses: [200, 429]
    requests:
      - { name: ok, path: /, weight: 9 }
      - { name: limited, path: /status/429, weight: 1 }
thresholds:
  - { metric: status_rate, status: 429, lt: 15% }
  - { metric: status_rate, status: 4xx, lt: 5%, for: 1s, severity: warn }
  - { metric: error_rate, error: http_429, lt: 1% }
)",
          absl::StrCat("--out md=", dir_, "/report.md --out junit=", dir_,
                       "/junit.xml"));
  EXPECT_EQ(run.exit_code, 0) << run.log;
  ASSERT_TRUE(run.has_result) << run.log;
  const v1::RunResult& r = run.result;
  EXPECT_EQ(r.status(), "passed");
  EXPECT_EQ(r.message(),
            "1 warn threshold not met (warnings do not fail the run)");
  // And the default error_rate < 1%: one error id's share judges no error
  // rate.
  ASSERT_EQ(r.thresholds_size(), 4);
  EXPECT_TRUE(r.thresholds(3).passed());
  // 1 of every 10 requests was a 429: 10 %.
  EXPECT_TRUE(r.thresholds(0).passed()) << r.thresholds(0).actual_text();
  EXPECT_DOUBLE_EQ(r.thresholds(0).actual(), 0.1);
  EXPECT_EQ(r.thresholds(0).severity(), "fail");
  EXPECT_FALSE(r.thresholds(1).passed());
  EXPECT_EQ(r.thresholds(1).severity(), "warn");
  EXPECT_DOUBLE_EQ(r.thresholds(1).failed_at_s(), 1);
  EXPECT_EQ(r.thresholds(1).expression(),
            "status_rate{status=4xx} < 5% for 1s warn");
  // An expected 429 is no error.
  EXPECT_TRUE(r.thresholds(2).passed());
  EXPECT_DOUBLE_EQ(r.thresholds(2).actual(), 0);
  // Live, at the end, and in the report and the JUnit file.
  EXPECT_NE(run.log.find("threshold WARNING (warn: the run goes on) at 1s: "
                         "status_rate{status=4xx} < 5% for 1s warn"),
            std::string::npos)
      << run.log;
  EXPECT_NE(run.log.find("WARN  status_rate{status=4xx} < 5% for 1s warn"),
            std::string::npos)
      << run.log;
  const std::string report = ReadFile(dir_ + "/report.md");
  EXPECT_NE(report.find("| **WARN** (worst window ending at "),
            std::string::npos)
      << report;
  EXPECT_NE(report.find("s; failed at 1s) |"), std::string::npos) << report;
  EXPECT_GT(r.thresholds(1).worst_window_end_s(), 0);
  EXPECT_GE(r.thresholds(1).actual(), 0.05);  // its worst window's share
  const std::string junit = ReadFile(dir_ + "/junit.xml");
  EXPECT_NE(junit.find("tests=\"4\" failures=\"0\""), std::string::npos)
      << junit;
  EXPECT_NE(junit.find("<system-out>warning: status_rate{status=4xx}"),
            std::string::npos)
      << junit;
}

// "A run of all 404s passes p95 < 3s" no more: latency thresholds judge the
// successful responses, and there were none; responses: all asks for every
// one, fast 404s included.
TEST_F(EndToEnd, AnAll404RunFailsItsLatencyThreshold) {
  RunOutcome run = Run(R"(
defaults: { base_url: "http://127.0.0.1:$PORT" }
scenarios:
  - name: s
    load: { arrival_rate: { stages: [ {to: 20/s, over: 0s}, {hold: 1s} ] } }
    requests: [ { name: missing, path: /status/404 } ]
thresholds:
  - { metric: latency, p: 95, lt: 3s }
  - { metric: latency, p: 95, lt: 3s, responses: all }
  - { metric: error_rate, lte: 100% }
)");
  EXPECT_EQ(run.exit_code, 3) << run.log;
  ASSERT_TRUE(run.has_result) << run.log;
  const v1::RunResult& r = run.result;
  EXPECT_EQ(r.summary().error_ids().at("http_404"), 20);
  ASSERT_EQ(r.thresholds_size(), 3);
  EXPECT_FALSE(r.thresholds(0).passed());
  EXPECT_EQ(r.thresholds(0).actual_text(), "0ms");
  EXPECT_TRUE(r.thresholds(1).passed());
  EXPECT_EQ(r.thresholds(1).expression(), "p(95) latency{responses=all} < 3s");
  EXPECT_GT(r.thresholds(1).actual(), 0);
  EXPECT_TRUE(r.thresholds(2).passed());
}

// A plan without thresholds is judged by error_rate < 1% (default): a run of
// 503s fails, and says by what; turned off, it passes and says nothing was
// judged, and how much failed.
TEST_F(EndToEnd, APlanWithoutThresholdsFailsOnErrorsByDefault) {
  constexpr char kPlan[] = R"(
defaults: { base_url: "http://127.0.0.1:$PORT" }
DEFAULTS
scenarios:
  - name: s
    load: { arrival_rate: { stages: [ {to: 20/s, over: 0s}, {hold: 1s} ] } }
    requests:
      - { name: broken, path: /status/503 }
)";
  RunOutcome run = Run(absl::StrReplaceAll(kPlan, {{"DEFAULTS", ""}}));
  EXPECT_EQ(run.exit_code, 3) << run.log;
  ASSERT_TRUE(run.has_result) << run.log;
  EXPECT_EQ(run.result.status(), "failed");
  ASSERT_EQ(run.result.thresholds_size(), 1);
  EXPECT_EQ(run.result.thresholds(0).expression(), "error_rate < 1% (default)");
  EXPECT_FALSE(run.result.thresholds(0).passed());
  EXPECT_NE(run.log.find("FAIL  error_rate < 1% (default)  (actual 100.000%;"),
            std::string::npos)
      << run.log;

  run = Run(
      absl::StrReplaceAll(kPlan, {{"DEFAULTS", "default_thresholds: false"}}));
  EXPECT_EQ(run.exit_code, 0) << run.log;
  ASSERT_TRUE(run.has_result) << run.log;
  EXPECT_EQ(run.result.thresholds_size(), 0);
  EXPECT_EQ(run.result.message(),
            "no thresholds: nothing was judged; 100.0% of the requests failed");
  EXPECT_NE(run.log.find("result: passed (exit 0): no thresholds: nothing was "
                         "judged; 100.0% of the requests failed"),
            std::string::npos)
      << run.log;
}

// A port nothing listens on: bound, then closed.
int ClosedPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

// Users that cannot connect back off (100 ms, doubling, capped at 5 s):
// 10 VUs against a closed port for 3 s try a handful of times each, not tens
// of thousands, so requests and rps say what users did.
TEST_F(EndToEnd, VusThatCannotConnectBackOff) {
  const std::string plan =
      absl::StrReplaceAll(R"(
name: refused
defaults: { base_url: "http://127.0.0.1:CLOSED" }
scenarios:
  - name: closed
    load: { vus: { stages: [ { to: 10, over: 0s }, { hold: 3s } ] } }
    requests: [ { path: / } ]
)",
                          {{"CLOSED", absl::StrCat(ClosedPort())}});
  RunOutcome run = Run(plan);
  ASSERT_TRUE(run.has_result) << run.log;
  const v1::Summary& s = run.result.summary();
  // 0.1 + 0.2 + 0.4 + 0.8 + 1.6 s: at most 6 tries per VU in 3 s.
  EXPECT_GE(s.requests(), 10);
  EXPECT_LE(s.requests(), 10 * 7) << run.log;
  EXPECT_EQ(s.errors(), s.requests());
  EXPECT_EQ(s.error_ids().at("tcp_refused"), s.requests());
}

// Rate limiting as part of the test: 429 is expected, so only the 503s and
// the 302 (not in the list) are errors.
TEST_F(EndToEnd, ExpectedStatusesAreNotErrors) {
  RunOutcome run = Run(R"(
defaults: { base_url: "http://127.0.0.1:$PORT" }
scenarios:
  - name: s
    expected_statuses: [200, 429]
    load: { arrival_rate: { stages: [ {to: 40/s, over: 0s}, {hold: 2s} ] } }
    requests:
      - { name: ok, path: / }
      - { name: limited, path: /status/429 }
      - { name: broken, path: /status/503 }
      - { name: moved, path: /status/302 }
thresholds:
  - { metric: error_rate, request: limited, lt: 1% }
)");
  EXPECT_EQ(run.exit_code, 0) << run.log;
  ASSERT_TRUE(run.has_result) << run.log;
  const v1::Summary& s = run.result.summary();
  EXPECT_EQ(s.requests(), 80);
  EXPECT_EQ(s.statuses().at("429"), 20);
  EXPECT_EQ(s.errors(), 40);
  EXPECT_EQ(s.error_ids().at("http_503"), 20);
  EXPECT_EQ(s.error_ids().at("http_302"), 20);
  EXPECT_EQ(s.error_ids().count("http_429"), 0u);
  EXPECT_TRUE(run.result.thresholds(0).passed());
}

// The result fills the report template: the plan as run (its ${VAR} secret
// never written anywhere), its fingerprint (the same for a rerun), type,
// command line, targets and peak VUs.
TEST_F(EndToEnd, TheResultRecordsThePlanAsRunWithoutItsSecrets) {
  const std::string plan = PlanFile(R"(
name: template
type: stress
defaults:
  base_url: "http://127.0.0.1:$PORT"
  headers: { Authorization: "Bearer ${STAMPEDE_E2E_SECRET}" }
scenarios:
  - name: users
    load: { vus: { stages: [ {to: 3, over: 0s}, {hold: 2s} ], think_time: { constant: 50ms } } }
    requests: [ { name: home, path: / } ]
)");
  const std::string secret = "e2e-s3cret-4711";
  std::vector<v1::RunResult> results;
  for (int run = 0; run < 2; ++run) {
    Child controller(
        {"/bin/sh", "-c",
         absl::StrCat("STAMPEDE_E2E_SECRET=", secret, " ", Command(plan),
                      " --out md=", dir_, "/report.md --out csv=", dir_,
                      "/result.csv")},
        log_file());
    RunOutcome outcome = Collect(controller.Wait(60));
    ASSERT_EQ(outcome.exit_code, 0) << outcome.log;
    ASSERT_TRUE(outcome.has_result) << outcome.log;
    for (const std::string& file :
         {json_file(), dir_ + "/report.md", dir_ + "/result.csv", log_file()}) {
      EXPECT_EQ(ReadFile(file).find(secret), std::string::npos) << file;
    }
    results.push_back(outcome.result);
  }
  const v1::RunResult& r = results[0];
  EXPECT_EQ(r.plan().defaults().headers().at("Authorization"),
            "Bearer ${STAMPEDE_E2E_SECRET}");
  EXPECT_EQ(r.test_type(), "stress");
  EXPECT_NE(r.command_line().find(" run " + plan), std::string::npos)
      << r.command_line();
  EXPECT_EQ(r.peak_vus(), 3);
  ASSERT_EQ(r.scenarios(0).base_urls_size(), 1);
  EXPECT_EQ(r.scenarios(0).base_urls(0),
            absl::StrCat("http://127.0.0.1:", target_->port()));
  EXPECT_EQ(r.scenarios(0).peak_vus(), 3);
  EXPECT_EQ(r.plan_fingerprint().rfind("sha256:", 0), 0u);
  EXPECT_EQ(results[1].plan_fingerprint(), r.plan_fingerprint());
  const std::string md = ReadFile(dir_ + "/report.md");
  EXPECT_NE(md.find("| Test Type | stress |"), std::string::npos) << md;
  EXPECT_NE(md.find("| Peak VUs | 3 (plan: 3) |"), std::string::npos) << md;
  EXPECT_NE(md.find("| `error_rate` | `< 1% (default)` | 0.000% | PASS |"),
            std::string::npos)
      << md;
}

TEST_F(EndToEnd, ScenariosStartAtTheirOffsetsAndPoissonKeepsTheRateOnAverage) {
  RunOutcome run = Run(R"(
defaults: { base_url: "http://127.0.0.1:$PORT" }
scenarios:
  - name: steady
    load: { arrival_rate: { stages: [ {to: 50/s, over: 0s}, {hold: 3s} ] } }
    requests: [ { path: / } ]
  - name: bursty
    start_after: 1s
    load:
      arrival_rate: { spacing: poisson, stages: [ {to: 100/s, over: 0s}, {hold: 2s} ] }
    requests: [ { path: /bytes/10 } ]
)");
  ASSERT_EQ(run.exit_code, 0) << run.log;
  ASSERT_TRUE(run.has_result) << run.log;
  const v1::RunResult& r = run.result;
  EXPECT_EQ(r.summary().requests(), target_->Served());
  EXPECT_EQ(r.scenarios(0).summary().requests(), 150);
  // Poisson with mean 200 has a standard deviation of ~14: 5 of them either
  // way.
  EXPECT_GT(r.scenarios(1).summary().requests(), 130);
  EXPECT_LT(r.scenarios(1).summary().requests(), 270);
  ASSERT_GE(r.intervals_size(), 3);
  // The first second is the steady scenario's alone, to the request.
  EXPECT_EQ(r.intervals(0).requests(), 50);
  EXPECT_DOUBLE_EQ(r.intervals(0).target_rps(), 50);
  EXPECT_DOUBLE_EQ(r.intervals(1).target_rps(), 150);
  EXPECT_DOUBLE_EQ(r.duration_s(), 3);
}

TEST_F(EndToEnd, ClosedModelVuCountAndRequestCountFollowTheStages) {
  RunOutcome run = Run(R"(
defaults: { base_url: "http://127.0.0.1:$PORT" }
scenarios:
  - name: users
    load:
      vus:
        stages: [ {to: 4, over: 2s}, {hold: 2s} ]
        think_time: { constant: 100ms }
    requests: [ { path: / } ]
)");
  ASSERT_EQ(run.exit_code, 0) << run.log;
  ASSERT_TRUE(run.has_result) << run.log;
  const v1::RunResult& r = run.result;
  EXPECT_EQ(r.summary().requests(), target_->Served());
  ASSERT_GE(r.intervals_size(), 3) << run.log;
  // Ramping 0 -> 4 over 2 s: 2 or 3 VUs by 1 s (VU v runs while the level is
  // above v), then 4, split over two agents.
  EXPECT_GE(r.intervals(0).vus(), 2);
  EXPECT_LE(r.intervals(0).vus(), 3);
  EXPECT_EQ(r.intervals(1).vus(), 4);
  EXPECT_EQ(r.intervals(2).vus(), 4);
  // Each VU loops request -> 100 ms think: about 10 requests per VU-second. The
  // hold gives 2 s x 4 VUs; in the ramp VU v runs from when the level passes v
  // (0, 0.5, 1, 1.5 s), 5 VU-seconds. 13 VU-seconds: at most ~130 requests (+1
  // per VU for the first one); well over half of that even on a loaded machine.
  EXPECT_GE(r.summary().requests(), 75);
  EXPECT_LE(r.summary().requests(), 134);
  // In the closed model latency is service time: nothing waits for a send slot.
  EXPECT_DOUBLE_EQ(r.summary().latency_ms().p99(),
                   r.summary().service_time_ms().p99());
}

TEST_F(EndToEnd, ClosedModelIterationCapsAreExactAcrossAgents) {
  RunOutcome per_vu = Run(R"(
defaults: { base_url: "http://127.0.0.1:$PORT" }
scenarios:
  - name: users
    load:
      vus: { stages: [ {to: 3, over: 0s}, {hold: 20s} ], iterations_per_vu: 5 }
    requests: [ { path: / } ]
)");
  ASSERT_EQ(per_vu.exit_code, 0) << per_vu.log;
  ASSERT_TRUE(per_vu.has_result) << per_vu.log;
  EXPECT_EQ(per_vu.result.summary().requests(), 15);
  EXPECT_EQ(target_->Served(), 15);

  HttpGet(target_->port(), "/stats/reset");
  RunOutcome shared = Run(R"(
defaults: { base_url: "http://127.0.0.1:$PORT" }
scenarios:
  - name: users
    load:
      vus:
        stages: [ {to: 4, over: 0s}, {hold: 20s} ]
        shared_iterations: 37
        think_time: { uniform: { min: 1ms, max: 5ms } }
    requests: [ { path: / } ]
)");
  ASSERT_EQ(shared.exit_code, 0) << shared.log;
  ASSERT_TRUE(shared.has_result) << shared.log;
  EXPECT_EQ(shared.result.summary().requests(), 37);
  EXPECT_EQ(target_->Served(), 37);
  // Both caps end the run as soon as the work is done, not after the 20 s hold.
  EXPECT_LT(shared.result.intervals_size(), 10);
}

TEST_F(EndToEnd, InterruptedRunStopsAgentsAndStillWritesTheResult) {
  const std::string log = log_file();
  // exec: the shell becomes stampede, so the signal reaches the controller
  // itself.
  Child controller({"/bin/sh", "-c", "exec " + Command(PlanFile(R"(
defaults: { base_url: "http://127.0.0.1:$PORT" }
scenarios:
  - name: long
    load: { arrival_rate: { stages: [ {to: 100/s, over: 0s}, {hold: 60s} ] } }
    requests: [ { path: / } ]
)"))},
                   log);
  // Interrupt once the live view has shown two intervals.
  for (int i = 0;
       i < 300 && ReadFile(log).find("    2s  target") == std::string::npos;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_NE(ReadFile(log).find("    2s  target"), std::string::npos)
      << ReadFile(log);
  kill(controller.pid(), SIGINT);
  RunOutcome run = Collect(controller.Wait(30));
  EXPECT_EQ(run.exit_code, 4) << run.log;
  ASSERT_TRUE(run.has_result) << run.log;
  const v1::RunResult& result = run.result;
  EXPECT_EQ(result.status(), "aborted");
  EXPECT_EQ(result.exit_code(), 4);
  EXPECT_EQ(result.message(), "interrupted by signal");
  // Agents stopped sending well before the plan's 60 s, and every request they
  // sent that the target served is in the result.
  EXPECT_GT(result.summary().requests(), 150);
  EXPECT_LT(result.summary().requests(), 1500);
  EXPECT_EQ(result.summary().requests(), target_->Served());
  for (const v1::AgentResult& a : result.agents())
    EXPECT_EQ(a.state(), "finished");
}

// A target that stalls for 1 s in a steady 200/s open-model run, with two
// connections per agent: the arrivals the stall held up show in the corrected
// latency (p99 near the stall, p90 where the arithmetic puts it), the few
// requests the stall caught in flight do not move service time's p99, and
// afterwards the target gets no burst of catch-up sends: arrivals later than
// max_lateness (100 ms by default) are counted as skipped, not sent.
TEST_P(EveryTransport,
       StalledTargetShowsInCorrectedLatencyWithoutCatchUpBurst) {
  Child controller({"/bin/sh", "-c", Command(PlanFile(R"(
defaults: { base_url: "http://127.0.0.1:$PORT" }
scenarios:
  - name: steady
    transport: $TRANSPORT
    max_connections: 2
    load: { arrival_rate: { stages: [ {to: 200/s, over: 0s}, {hold: 5s} ] } }
    requests: [ { path: / } ]
)"))},
                   log_file());
  // Freeze once the run is into its second second.
  for (int i = 0; i < 300 && ReadFile(log_file()).find("    1s  target") ==
                                 std::string::npos;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(HttpGet(target_->port(), "/fault/freeze/1000"),
            "{\"frozen_ms\":1000}");
  RunOutcome run = Collect(controller.Wait(60));
  ASSERT_EQ(run.exit_code, 0) << run.log;
  ASSERT_TRUE(run.has_result) << run.log;
  const v1::Summary& summary = run.result.summary();
  // Only what was sent reached the target, and every send was answered.
  EXPECT_EQ(summary.requests(), target_->Served());
  EXPECT_EQ(summary.errors(), 0);
  int64_t skipped = 0;
  int64_t busiest_second = 0;
  for (const v1::IntervalResult& in : run.result.intervals()) {
    skipped += in.sends_skipped();
    busiest_second = std::max(busiest_second, in.requests());
  }
  // ~200 arrivals fell in the stall; those still waiting 100 ms after their
  // time (all but the last ~20) were skipped.
  EXPECT_GE(skipped, 140);
  EXPECT_LE(skipped, 200);
  EXPECT_EQ(summary.requests() + skipped, 1000);
  // No second carried the stalled arrivals on top of its own 200.
  EXPECT_LE(busiest_second, 240);
  // Waits spread evenly over the stall: the k-th worst of the 1000 arrivals
  // waited about 1000 ms - 5 ms * k.
  EXPECT_GE(summary.latency_ms().p99(), 900);
  EXPECT_LE(summary.latency_ms().p99(), 1100);
  EXPECT_GE(summary.latency_ms().p90(), 400);
  EXPECT_LE(summary.latency_ms().p90(), 600);
  // Four requests (two connections on each of two agents) sat through the
  // stall: fewer than 1 % of them.
  EXPECT_LT(summary.service_time_ms().p99(), 100);
  EXPECT_GE(summary.service_time_ms().max(), 900);
}

// Connections as the plan asks: with keep_alive off every request opens its
// own connection, from the plan's source addresses in turn; kept alive, a few
// connections carry everything. Both show in the phase timings.
TEST_P(EveryTransport, KeepAliveOffAndLocalAddressesShapeTheConnections) {
  RunOutcome run = Run(R"(
defaults: { base_url: "http://127.0.0.1:$PORT" }
scenarios:
  - name: fresh
    transport: $TRANSPORT
    keep_alive: false
    local_addresses: [127.0.0.2, 127.0.0.3]
    load: { arrival_rate: { stages: [ {to: 50/s, over: 0s}, {hold: 2s} ] } }
    requests: [ { path: / } ]
  - name: reused
    transport: $TRANSPORT
    load: { arrival_rate: { stages: [ {to: 50/s, over: 0s}, {hold: 2s} ] } }
    requests: [ { path: /bytes/100 } ]
)");
  ASSERT_EQ(run.exit_code, 0) << run.log;
  ASSERT_TRUE(run.has_result) << run.log;
  const v1::RunResult& r = run.result;
  EXPECT_EQ(r.summary().requests(), 200);
  EXPECT_EQ(r.summary().requests(), target_->Served());
  const v1::Summary& fresh = r.scenarios(0).requests(0).summary();
  const v1::Summary& reused = r.scenarios(1).requests(0).summary();
  ASSERT_TRUE(fresh.has_phases_ms()) << run.log;
  ASSERT_TRUE(reused.has_phases_ms()) << run.log;
  EXPECT_EQ(fresh.phases_ms().new_connections(), 100);
  EXPECT_GT(fresh.phases_ms().connect().p50(), 0);
  EXPECT_LT(reused.phases_ms().new_connections(), 20);
  // Time to first byte for every request, within the request's own time.
  EXPECT_GT(fresh.phases_ms().ttfb().p50(), 0);
  EXPECT_LE(reused.phases_ms().ttfb().max(), reused.service_time_ms().max());
  // The target saw the fresh connections from both source addresses, half
  // each (two agents, two workers each, every one taking them in turn).
  const std::string stats = HttpGet(target_->port(), "/stats");
  for (const char* peer : {"127.0.0.2", "127.0.0.3"}) {
    std::smatch m;
    std::regex count(absl::StrCat("\"", peer, "\":([0-9]+)"));
    ASSERT_TRUE(std::regex_search(stats, m, count)) << stats;
    EXPECT_GE(std::stoi(m[1].str()), 40) << stats;
    EXPECT_LE(std::stoi(m[1].str()), 60) << stats;
  }
}

// Agents whose clocks run ahead: a little is measured, corrected and warned
// about; too much refuses the run before any load (exit 5).
TEST_F(EndToEnd, AgentClockSkewIsMeasuredCorrectedOrRefused) {
  const std::string plan = PlanFile(R"(
defaults: { base_url: "http://127.0.0.1:$PORT" }
scenarios:
  - name: s
    load: { arrival_rate: { stages: [ {to: 50/s, over: 0s}, {hold: 2s} ] } }
    requests: [ { path: / } ]
)");
  auto skewed_agent = [&](int skew_ms) {
    const std::string wrapper =
        absl::StrCat(dir_, "/agent-skewed-", skew_ms, ".sh");
    WriteFile(wrapper,
              absl::StrCat("#!/bin/sh\nexec ", BinaryPath("stampede-agent"),
                           " --simulate-clock-skew ", skew_ms, " \"$@\"\n"));
    chmod(wrapper.c_str(), 0755);
    return wrapper;
  };

  Child warned(
      {"/bin/sh", "-c", Command(plan) + " --agent-binary " + skewed_agent(200)},
      log_file());
  RunOutcome run = Collect(warned.Wait(60));
  EXPECT_EQ(run.exit_code, 0) << run.log;
  ASSERT_TRUE(run.has_result) << run.log;
  EXPECT_NE(run.log.find("'s clock is"), std::string::npos) << run.log;
  for (const v1::AgentResult& a : run.result.agents()) {
    // Controller minus agent: the agents read 200 ms ahead.
    EXPECT_NEAR(a.clock_offset_ms(), -200, 20);
  }
  // Corrected, the shares still add up to the plan and start together.
  EXPECT_EQ(run.result.summary().requests(), 100);
  EXPECT_LT(run.result.start_spread_ms(), 100);

  Child refused(
      {"/bin/sh", "-c", Command(plan) + " --agent-binary " + skewed_agent(800)},
      log_file());
  RunOutcome refusal = Collect(refused.Wait(60));
  EXPECT_EQ(refusal.exit_code, 5) << refusal.log;
  EXPECT_NE(refusal.log.find("above --max-clock-skew 500ms"), std::string::npos)
      << refusal.log;
  EXPECT_EQ(target_->Served(), 100);  // the refused run sent nothing
}

// What the native engine does not carry goes through libcurl: a forward
// proxy (the target serves absolute-form requests, as a proxy would) in
// front of a dead address, and HTTP basic authentication, right and wrong.
TEST_F(EndToEnd, ProxyAndAuthGoThroughLibcurl) {
  RunOutcome run = Run(R"(
defaults: { base_url: "http://127.0.0.1:$PORT" }
scenarios:
  - name: proxied
    base_url: "http://127.0.0.1:1"
    proxy: "http://127.0.0.1:$PORT"
    load: { arrival_rate: { stages: [ {to: 20/s, over: 0s}, {hold: 2s} ] } }
    requests: [ { path: /bytes/10 } ]
  - name: authed
    auth: { username: stampede, password: s3cret }
    load: { arrival_rate: { stages: [ {to: 20/s, over: 0s}, {hold: 2s} ] } }
    requests: [ { path: /auth/basic/stampede/s3cret } ]
  - name: refused
    auth: { username: stampede, password: wrong }
    load: { arrival_rate: { stages: [ {to: 20/s, over: 0s}, {hold: 2s} ] } }
    requests: [ { path: /auth/basic/stampede/s3cret } ]
)");
  ASSERT_TRUE(run.has_result) << run.log;
  const v1::RunResult& r = run.result;
  EXPECT_EQ(r.summary().requests(), 120);
  EXPECT_EQ(r.summary().requests(), target_->Served());
  EXPECT_EQ(r.scenarios(0).summary().statuses().at("200"), 40);
  EXPECT_EQ(r.scenarios(1).summary().statuses().at("200"), 40);
  EXPECT_EQ(r.scenarios(2).summary().errors(), 40);
  EXPECT_EQ(r.scenarios(2).summary().error_ids().at("http_401"), 40);
  EXPECT_EQ(r.summary().errors(), 40);
}

// Remote agents of different sizes: with --split workers an agent with three
// worker threads gets three times the share of one with one, exactly.
TEST_F(EndToEnd, SplitByWorkersWeighsEachAgentsShare) {
  const int port = FreePort();
  Child controller(
      {"/bin/sh", "-c",
       absl::StrCat(
           BinaryPath("stampede"), " run ", PlanFile(R"(
defaults: { base_url: "http://127.0.0.1:$PORT" }
scenarios:
  - name: s
    load: { arrival_rate: { stages: [ {to: 100/s, over: 0s}, {hold: 4s} ] } }
    requests: [ { path: / } ]
)"),
           " --listen 127.0.0.1:", port,
           " --expect-agents 2 --split workers --out json=", json_file())},
      log_file());
  const std::string controller_at = absl::StrCat("127.0.0.1:", port);
  Child small({BinaryPath("stampede-agent"), "--controller", controller_at,
               "--agent-id", "small", "--workers", "1"},
              dir_ + "/small.log");
  Child big({BinaryPath("stampede-agent"), "--controller", controller_at,
             "--agent-id", "big", "--workers", "3"},
            dir_ + "/big.log");
  RunOutcome run = Collect(controller.Wait(60));
  ASSERT_EQ(run.exit_code, 0) << run.log;
  ASSERT_TRUE(run.has_result) << run.log;
  const v1::RunResult& r = run.result;
  EXPECT_EQ(r.summary().requests(), 400);
  EXPECT_EQ(target_->Served(), 400);
  ASSERT_EQ(r.agents_size(), 2);
  // Agents are listed by id: big, small.
  EXPECT_EQ(r.agents(0).id(), "big");
  EXPECT_DOUBLE_EQ(r.agents(0).share(), 0.75);
  EXPECT_EQ(r.agents(0).requests(), 300);
  EXPECT_EQ(r.agents(1).id(), "small");
  EXPECT_DOUBLE_EQ(r.agents(1).share(), 0.25);
  EXPECT_EQ(r.agents(1).requests(), 100);
  EXPECT_EQ(small.Wait(30), 0);
  EXPECT_EQ(big.Wait(30), 0);
}

// Each error id from a real cause, counted once per request.
TEST_P(EveryTransport, ErrorIdsComeFromRealCauses) {
  // A port nobody listens on: bind one, note it, close it.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const int closed_port = ntohs(addr.sin_port);
  close(fd);

  RunOutcome run = Run(absl::StrCat(R"(
default_thresholds: false   # the errors are what is measured
scenarios:
  - name: refused
    transport: $TRANSPORT
    base_url: "http://127.0.0.1:)",
                                    closed_port, R"("
    load: { arrival_rate: { stages: [ {to: 20/s, over: 0s}, {hold: 1s} ] } }
    requests: [ { path: / } ]
  - name: slow
    transport: $TRANSPORT
    base_url: "http://127.0.0.1:$PORT"
    timeout: 200ms
    load: { arrival_rate: { stages: [ {to: 10/s, over: 0s}, {hold: 1s} ] } }
    requests: [ { path: /delay/5000 } ]
)"));
  ASSERT_EQ(run.exit_code, 0)
      << run.log;  // no thresholds: errors alone do not fail
  ASSERT_TRUE(run.has_result) << run.log;
  const v1::RunResult& r = run.result;
  EXPECT_EQ(r.scenarios(0).summary().requests(), 20);
  EXPECT_EQ(r.scenarios(0).summary().errors(), 20);
  EXPECT_EQ(r.scenarios(0).summary().error_ids().at("tcp_refused"), 20);
  EXPECT_EQ(r.scenarios(0).summary().error_ids().size(), 1u);
  EXPECT_EQ(r.scenarios(1).summary().requests(), 10);
  EXPECT_EQ(r.scenarios(1).summary().error_ids().at("request_timeout"), 10);
  EXPECT_EQ(r.scenarios(1).summary().error_ids().size(), 1u);
  // A timed-out request's latency is its timeout, not the server's 5 s.
  EXPECT_LT(r.scenarios(1).summary().latency_ms().max(), 1000);
}

// HTTPS through either transport: the target's counts exactly, with the plan's
// CA file or with verification off; with neither, the self-signed certificate
// is refused, once per request.
TEST_P(EveryTransport, HttpsCountsEqualWhatTheTargetServed) {
  const std::string tls_dir = dir_ + "/tls";
  ASSERT_EQ(mkdir(tls_dir.c_str(), 0700), 0);
  const TestCert cert = MakeTestCert(tls_dir);
  Target https(tls_dir, &cert);
  RunOutcome run = Run(absl::StrCat(R"(
default_thresholds: false   # the errors are what is measured
scenarios:
  - name: trusted
    transport: $TRANSPORT
    base_url: "https://localhost:)",
                                    https.port(), R"("
    tls: { ca_file: ")",
                                    cert.cert, R"(" }
    load: { arrival_rate: { stages: [ {to: 50/s, over: 0s}, {hold: 2s} ] } }
    requests: [ { path: / } ]
  - name: untrusted
    transport: $TRANSPORT
    base_url: "https://127.0.0.1:)",
                                    https.port(), R"("
    load: { arrival_rate: { stages: [ {to: 10/s, over: 0s}, {hold: 1s} ] } }
    requests: [ { path: / } ]
  - name: unchecked
    transport: $TRANSPORT
    base_url: "https://127.0.0.1:)",
                                    https.port(), R"("
    tls: { insecure_skip_verify: true }
    load: { arrival_rate: { stages: [ {to: 10/s, over: 0s}, {hold: 1s} ] } }
    requests: [ { path: / } ]
)"));
  ASSERT_EQ(run.exit_code, 0) << run.log;
  ASSERT_TRUE(run.has_result) << run.log;
  const v1::RunResult& r = run.result;
  ASSERT_EQ(r.scenarios_size(), 3);
  EXPECT_EQ(r.scenarios(0).summary().requests(), 100);
  EXPECT_EQ(r.scenarios(0).summary().errors(), 0);
  EXPECT_EQ(r.scenarios(2).summary().requests(), 10);
  EXPECT_EQ(r.scenarios(2).summary().errors(), 0);
  EXPECT_EQ(https.Served(), 110);
  EXPECT_EQ(r.scenarios(1).summary().requests(), 10);
  EXPECT_EQ(r.scenarios(1).summary().error_ids().at("tls_certificate"), 10);
  EXPECT_EQ(r.scenarios(1).summary().error_ids().size(), 1u);
}

// The CA file is read where the load is made: an agent without it says so.
TEST_F(EndToEnd, AgentRefusesAPlanWhoseCaFileItCannotRead) {
  RunOutcome run = Run(R"(
defaults: { base_url: "https://127.0.0.1:$PORT" }
scenarios:
  - name: s
    tls: { ca_file: /nonexistent/stampede-ca.pem }
    load: { arrival_rate: { stages: [ {to: 10/s, over: 0s}, {hold: 1s} ] } }
    requests: [ { path: / } ]
)");
  EXPECT_NE(run.exit_code, 0) << run.log;
  EXPECT_NE(run.log.find("tls.ca_file /nonexistent/stampede-ca.pem cannot be "
                         "read on this agent"),
            std::string::npos)
      << run.log;
  EXPECT_EQ(target_->Served(), 0);
}

TEST_P(EveryTransport, OutOfFileDescriptorsIsTheGeneratorsErrorNotTheTargets) {
  // 100 fds for each process: the agent runs out long before 400 connections.
  Child controller({"/bin/sh", "-c",
                    "ulimit -n 100 && exec " +
                        Command(PlanFile(R"(
defaults: { base_url: "http://127.0.0.1:$PORT" }
scenarios:
  - name: s
    max_connections: 400
    transport: $TRANSPORT
    load: { arrival_rate: { stages: [ {to: 400/s, over: 0s}, {hold: 1s} ] } }
    requests: [ { path: /delay/700 } ]
)"),
                                1) +
                        " --strict"},
                   log_file());
  RunOutcome run = Collect(controller.Wait(60));
  // --strict: a run the generator limited fails with its own exit code.
  ASSERT_EQ(run.exit_code, 7) << run.log;
  ASSERT_TRUE(run.has_result) << run.log;
  const v1::RunResult& r = run.result;
  EXPECT_EQ(r.status(), "failed");
  ASSERT_GE(r.generator_limited_intervals(), 1);
  ASSERT_GE(r.intervals_size(), 1);
  EXPECT_TRUE(r.intervals(0).generator_limited());
  EXPECT_NE(r.intervals(0).generator_note().find("failed on local limits"),
            std::string::npos);
  EXPECT_GT(r.intervals(0).open_fds(), 50);
  EXPECT_NE(run.log.find("WARNING generator-limited"), std::string::npos)
      << run.log;
  ASSERT_TRUE(r.summary().error_ids().contains("local_emfile")) << run.log;
  const int64_t local = r.summary().error_ids().at("local_emfile");
  EXPECT_GT(local, 0);
  // Sends the generator could not make are not the target's requests or
  // errors...
  EXPECT_EQ(r.summary().errors(), 0);
  EXPECT_EQ(r.summary().requests(), target_->Served());
  // ...and every planned arrival is accounted for, once.
  EXPECT_EQ(r.summary().requests() + local, 400);
  EXPECT_NE(run.log.find("WARNING: the generator failed"), std::string::npos);
}

TEST_F(EndToEnd, MalformedPlanExitsTwoAndStartsNoAgent) {
  // An agent binary that leaves a mark if anyone starts it.
  std::string marker = dir_ + "/agent-started";
  std::string fake_agent = dir_ + "/fake-agent";
  WriteFile(fake_agent, "#!/bin/sh\ntouch " + marker + "\nexec " +
                            BinaryPath("stampede-agent") + " \"$@\"\n");
  chmod(fake_agent.c_str(), 0755);
  RunOutcome run = Run(R"(
scenarios:
  - name: s
    load: { arrival_rate: { stages: [ {to: 50/s, ovr: 2s} ] } }
    requests: [ { path: / } ]
)",
                       "--agent-binary " + fake_agent);
  EXPECT_EQ(run.exit_code, 2) << run.log;
  EXPECT_FALSE(run.has_result);
  EXPECT_NE(run.log.find("plan.yaml:4:"), std::string::npos) << run.log;
  EXPECT_NE(run.log.find("scenarios[0].load.arrival_rate.stages[0].ovr"),
            std::string::npos)
      << run.log;
  struct stat st;
  EXPECT_NE(stat(marker.c_str(), &st), 0)
      << "an agent was started for an invalid plan";
  EXPECT_EQ(target_->Served(), 0);
}

// Every engine identifies itself: native HTTP/1.1, libcurl and the WebSocket
// handshake send User-Agent: stampede/VERSION, as the target counted them;
// a plan's own User-Agent replaces it, and an empty one sends none.
TEST_F(EndToEnd, EveryEngineSendsStampedesUserAgentUnlessThePlanSetsOne) {
  RunOutcome run = Run(R"(
defaults: { base_url: "http://127.0.0.1:$PORT" }
scenarios:
  - name: native
    load: { arrival_rate: { stages: [ {to: 40/s, over: 0s}, {hold: 1s} ] } }
    requests: [ { path: / } ]
  - name: curl
    transport: curl
    load: { arrival_rate: { stages: [ {to: 20/s, over: 0s}, {hold: 1s} ] } }
    requests: [ { path: / } ]
  - name: ws
    load: { vus: { stages: [ { to: 2, over: 0s }, { hold: 5s } ], shared_iterations: 6 } }
    websocket: { path: "/ws/echo?close=1000&after=1", send_every: 50ms, message: hi }
  - name: own
    headers: { User-Agent: "checkout-probe/7" }
    load: { arrival_rate: { stages: [ {to: 10/s, over: 0s}, {hold: 1s} ] } }
    requests: [ { path: / } ]
  - name: none
    transport: curl
    load: { arrival_rate: { stages: [ {to: 10/s, over: 0s}, {hold: 1s} ] } }
    requests: [ { path: /, headers: { User-Agent: "" } } ]
)");
  ASSERT_EQ(run.exit_code, 0) << run.log;
  ASSERT_TRUE(run.has_result) << run.log;
  EXPECT_EQ(run.result.summary().requests(), 40 + 20 + 6 + 10 + 10);
  EXPECT_EQ(run.result.summary().errors(), 0) << run.log;
  const std::string stats = target_->Stats();
  auto count = [&](const std::string& agent) -> long long {
    std::smatch m;
    const std::regex pattern("\"" + agent + "\":([0-9]+)");
    return std::regex_search(stats, m, pattern) ? std::stoll(m[1].str()) : 0;
  };
  EXPECT_EQ(count(absl::StrCat("stampede/", std::string(common::kVersion))),
            40 + 20 + 6)
      << stats;
  EXPECT_EQ(count("checkout-probe/7"), 10) << stats;
  // The 10 sent without one, and this test's own /stats request.
  EXPECT_EQ(count("\\(none\\)"), 11) << stats;
}

// No interval after the run's end: the answers that arrive after it (in flight
// at the end) are folded into the plan's last interval, so a windowed rps
// threshold on a steady run does not fail on a near-empty trailing interval.
// Against a target that answers in 30 ms this failed every time before; six
// runs in a row now pass, each with exactly the plan's intervals.
TEST_F(EndToEnd, NoIntervalAfterTheRunsEndEntersAWindowOrTheOutputs) {
  for (int round = 0; round < 6; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round));
    RunOutcome run = Run(R"(
defaults: { base_url: "http://127.0.0.1:$PORT" }
scenarios:
  - name: steady
    load: { arrival_rate: { stages: [ {to: 300/s, over: 0s}, {hold: 2s} ] } }
    requests: [ { path: /delay/30 } ]
thresholds:
  - { metric: rps, gte: 285/s, for: 2s }
)");
    ASSERT_EQ(run.exit_code, 0) << run.log;
    ASSERT_TRUE(run.has_result) << run.log;
    const v1::RunResult& r = run.result;
    EXPECT_EQ(r.summary().requests(), 600);
    ASSERT_EQ(r.intervals_size(), 2) << run.log;
    EXPECT_EQ(r.intervals(1).t(), 2);
    EXPECT_EQ(r.intervals(0).requests() + r.intervals(1).requests(), 600);
    EXPECT_EQ(run.log.find("\n    3s "), std::string::npos) << run.log;
  }
}

// A scenario's rps is over its own scheduled time: a health check that runs
// 200/s for the last second of a 2 s run reports (and is judged at) 200/s,
// not the 100/s the whole run's length would make of it.
TEST_F(EndToEnd, ScenarioRpsIsOverItsOwnActiveTime) {
  RunOutcome run = Run(R"(
defaults: { base_url: "http://127.0.0.1:$PORT" }
scenarios:
  - name: warm
    load: { arrival_rate: { stages: [ {to: 100/s, over: 0s}, {hold: 2s} ] } }
    requests: [ { path: / } ]
  - name: health
    start_after: 1s
    load: { arrival_rate: { stages: [ {to: 200/s, over: 0s}, {hold: 1s} ] } }
    requests: [ { path: / } ]
thresholds:
  - { metric: rps, scenario: health, gte: 190/s }
  - { metric: rps, gte: 190/s }
)");
  ASSERT_TRUE(run.has_result) << run.log;
  const v1::RunResult& r = run.result;
  ASSERT_EQ(r.scenarios_size(), 2);
  EXPECT_EQ(r.scenarios(1).summary().requests(), 200);
  EXPECT_DOUBLE_EQ(r.scenarios(1).summary().rps(), 200);
  EXPECT_DOUBLE_EQ(r.scenarios(0).summary().rps(), 100);
  ASSERT_EQ(r.thresholds_size(), 3);  // and the default error_rate < 1%
  EXPECT_TRUE(r.thresholds(0).passed()) << r.thresholds(0).actual_text();
  EXPECT_DOUBLE_EQ(r.thresholds(0).actual(), 200);
  // The whole plan: 400 requests over the 2 s both scenarios cover.
  EXPECT_DOUBLE_EQ(r.thresholds(1).actual(), 200);
  EXPECT_EQ(run.exit_code, 0) << run.log;
}

// A ramp then a hold: the hold (stage 2) is judged on its own seconds, where
// the whole scenario's rate (the ramp's slow start included) is lower.
TEST_F(EndToEnd, AStageThresholdJudgesTheHoldNotTheRamp) {
  RunOutcome run = Run(R"(
defaults: { base_url: "http://127.0.0.1:$PORT" }
scenarios:
  - name: api
    load: { arrival_rate: { stages: [ {to: 200/s, over: 2s}, {hold: 2s} ] } }
    requests: [ { path: / } ]
thresholds:
  - { metric: rps, scenario: api, stage: 2, gte: 190/s }
  - { metric: rps, scenario: api, gte: 190/s, severity: warn }
  - { metric: latency, p: 99, scenario: api, stage: 2, lt: 250ms }
)");
  ASSERT_TRUE(run.has_result) << run.log;
  const v1::RunResult& r = run.result;
  ASSERT_EQ(r.thresholds_size(), 4);  // and the default error_rate < 1%
  EXPECT_EQ(r.thresholds(0).expression(), "rps{scenario=api,stage=2} >= 190/s");
  EXPECT_TRUE(r.thresholds(0).passed()) << r.thresholds(0).actual_text();
  EXPECT_NEAR(r.thresholds(0).actual(), 200, 5);
  // The whole scenario: 200 ramp + 400 hold requests over its 4 s.
  EXPECT_FALSE(r.thresholds(1).passed()) << r.thresholds(1).actual_text();
  EXPECT_NEAR(r.thresholds(1).actual(), 150, 5);
  EXPECT_TRUE(r.thresholds(2).passed()) << r.thresholds(2).actual_text();
  EXPECT_GT(r.thresholds(2).actual(), 0);
  EXPECT_EQ(run.exit_code, 0) << run.log;
}

// HTTP/2 against a real h2c server: nginx, since the reference target speaks
// HTTP/1.1 only. What nginx logged is what it served.
class Http2EndToEnd : public EndToEnd {
 protected:
  void SetUp() override {
    EndToEnd::SetUp();
    nginx_ = std::make_unique<Nginx>(dir_);
  }
  // Runs `plan` with $H2PORT replaced by nginx's port.
  RunOutcome RunH2(const std::string& plan) {
    return Run(
        absl::StrReplaceAll(plan, {{"$H2PORT", absl::StrCat(nginx_->port())}}));
  }
  std::unique_ptr<Nginx> nginx_;
};

TEST_F(Http2EndToEnd, CountsEqualWhatNginxServedOverHttp2) {
  RunOutcome run = RunH2(R"(
defaults: { base_url: "http://127.0.0.1:$H2PORT" }
default_thresholds: false   # counts, not a verdict: the 404s are meant
scenarios:
  - name: h2
    http_version: "2"
    load: { arrival_rate: { stages: [ {to: 200/s, over: 0s}, {hold: 3s} ] } }
    requests:
      - { name: ok, path: /, weight: 3 }
      - { name: missing, path: /status/404, weight: 1 }
)");
  ASSERT_EQ(run.exit_code, 0) << run.log;
  ASSERT_TRUE(run.has_result) << run.log;
  const v1::RunResult& r = run.result;
  const std::vector<std::string> lines = nginx_->LogLines(600);
  EXPECT_EQ(r.summary().requests(), 600);
  EXPECT_EQ(r.summary().requests(), static_cast<int64_t>(lines.size()));
  int served_404 = 0;
  for (const std::string& line : lines) {
    EXPECT_NE(line.find(" HTTP/2.0 "), std::string::npos) << line;
    if (line.find(" 404 /status/404") != std::string::npos) ++served_404;
  }
  EXPECT_EQ(served_404, 150);
  EXPECT_EQ(r.summary().statuses().at("200"), 450);
  EXPECT_EQ(r.summary().statuses().at("404"), 150);
  EXPECT_EQ(r.summary().errors(), 150);
  EXPECT_EQ(r.summary().error_ids().at("http_404"), 150);
  ASSERT_EQ(r.agents_size(), 2);
  for (const v1::AgentResult& a : r.agents()) EXPECT_GT(a.requests(), 0);
}

TEST_F(Http2EndToEnd, ManyStreamsShareFewConnections) {
  // 64 VUs, 16 streams per connection; nginx ends a connection with GOAWAY
  // after 1000 requests (keepalive_requests), which costs nothing either.
  RunOutcome run = RunH2(R"(
defaults: { base_url: "http://127.0.0.1:$H2PORT" }
scenarios:
  - name: h2
    http_version: "2"
    max_streams_per_connection: 16
    load:
      vus: { stages: [ {to: 64, over: 0s}, {hold: 60s} ], shared_iterations: 4000 }
    requests: [ { path: /many } ]
)");
  ASSERT_EQ(run.exit_code, 0) << run.log;
  ASSERT_TRUE(run.has_result) << run.log;
  const std::vector<std::string> lines = nginx_->LogLines(4000);
  EXPECT_EQ(run.result.summary().requests(), 4000);
  EXPECT_EQ(static_cast<int64_t>(lines.size()), 4000);
  EXPECT_EQ(run.result.summary().errors(), 0);
  std::set<std::string> connections;
  for (const std::string& line : lines) {
    EXPECT_NE(line.find(" HTTP/2.0 200 /many"), std::string::npos) << line;
    connections.insert(line.substr(0, line.find(' ')));
  }
  // 4 connections at a time (64 / 16), renewed every 1000 requests at most.
  EXPECT_LE(connections.size(), 16u);
}

TEST_F(Http2EndToEnd, CountsEqualWhatNginxServedOverH2WithTls) {
  // The same nginx, now `listen ... ssl http2` with a test certificate: the
  // agents negotiate h2 by ALPN and check the certificate against the plan's
  // CA file.
  nginx_.reset();
  const std::string tls_dir = dir_ + "/h2tls";
  ASSERT_EQ(mkdir(tls_dir.c_str(), 0700), 0);
  const TestCert cert = MakeTestCert(tls_dir);
  nginx_ = std::make_unique<Nginx>(tls_dir, "", &cert);
  RunOutcome run = RunH2(absl::StrCat(R"(
defaults: { base_url: "https://localhost:$H2PORT" }
default_thresholds: false   # counts, not a verdict: the 404s are meant
scenarios:
  - name: h2tls
    http_version: "2"
    tls: { ca_file: ")",
                                      cert.cert, R"(" }
    load: { arrival_rate: { stages: [ {to: 200/s, over: 0s}, {hold: 2s} ] } }
    requests:
      - { name: ok, path: /, weight: 3 }
      - { name: missing, path: /status/404, weight: 1 }
)"));
  ASSERT_EQ(run.exit_code, 0) << run.log;
  ASSERT_TRUE(run.has_result) << run.log;
  const v1::RunResult& r = run.result;
  const std::vector<std::string> lines = nginx_->LogLines(400);
  EXPECT_EQ(r.summary().requests(), 400);
  EXPECT_EQ(r.summary().requests(), static_cast<int64_t>(lines.size()));
  std::set<std::string> connections;
  for (const std::string& line : lines) {
    EXPECT_NE(line.find(" HTTP/2.0 "), std::string::npos) << line;
    connections.insert(line.substr(0, line.find(' ')));
  }
  // Streams share connections: a few per agent, not one per request.
  EXPECT_LE(connections.size(), 8u);
  EXPECT_EQ(r.summary().statuses().at("200"), 300);
  EXPECT_EQ(r.summary().statuses().at("404"), 100);
  EXPECT_EQ(r.summary().error_ids().at("http_404"), 100);
  EXPECT_EQ(r.summary().error_ids().count("tls_handshake"), 0u);
}

// http_version auto (the default) on https://: h2 where nginx offers it by
// ALPN, HTTP/1.1 where it does not; the result and the console say which and
// why. Every request carries stampede's User-Agent unless the plan sets one.
TEST_F(Http2EndToEnd, AutoSpeaksWhatTheServerChoosesByAlpn) {
  for (const bool http2 : {true, false}) {
    SCOPED_TRACE(http2 ? "nginx with h2" : "nginx with HTTP/1.1 only");
    nginx_.reset();
    const std::string tls_dir =
        absl::StrCat(dir_, "/alpn", http2 ? "h2" : "h1");
    ASSERT_EQ(mkdir(tls_dir.c_str(), 0700), 0);
    const TestCert cert = MakeTestCert(tls_dir);
    nginx_ = std::make_unique<Nginx>(tls_dir, "", &cert, http2);
    RunOutcome run = RunH2(absl::StrCat(R"(
defaults: { base_url: "https://localhost:$H2PORT" }
scenarios:
  - name: auto
    tls: { ca_file: ")",
                                        cert.cert, R"(" }
    load: { arrival_rate: { stages: [ {to: 100/s, over: 0s}, {hold: 1s} ] } }
    requests: [ { path: /auto } ]
  - name: own-agent
    http_version: "1.1"
    headers: { User-Agent: "capacity-check/2" }
    tls: { ca_file: ")",
                                        cert.cert, R"(" }
    load: { arrival_rate: { stages: [ {to: 20/s, over: 0s}, {hold: 1s} ] } }
    requests: [ { path: /own } ]
)"));
    ASSERT_EQ(run.exit_code, 0) << run.log;
    ASSERT_TRUE(run.has_result) << run.log;
    const v1::RunResult& r = run.result;
    ASSERT_EQ(r.scenarios_size(), 2);
    EXPECT_EQ(r.scenarios(0).engine(), http2 ? "h2" : "http1");
    EXPECT_NE(r.scenarios(0).engine_why().find(
                  http2 ? "chose h2 by ALPN" : "chose http/1.1 by ALPN"),
              std::string::npos)
        << r.scenarios(0).engine_why();
    EXPECT_EQ(r.scenarios(1).engine(), "http1");
    EXPECT_NE(run.log.find(http2 ? "auto: native HTTP/2 (http_version auto"
                                 : "auto: native HTTP/1.1 (http_version auto"),
              std::string::npos)
        << run.log;
    EXPECT_EQ(r.summary().errors(), 0);
    const std::vector<std::string> lines = nginx_->LogLines(120);
    ASSERT_EQ(lines.size(), 120u);
    int auto_lines = 0, own_lines = 0;
    for (const std::string& line : lines) {
      if (line.find(" /auto ") != std::string::npos) {
        ++auto_lines;
        EXPECT_NE(line.find(http2 ? " HTTP/2.0 200 /auto ua=stampede/"
                                  : " HTTP/1.1 200 /auto ua=stampede/"),
                  std::string::npos)
            << line;
      } else {
        ++own_lines;
        EXPECT_NE(line.find(" HTTP/1.1 200 /own ua=capacity-check/2 "),
                  std::string::npos)
            << line;
      }
    }
    EXPECT_EQ(auto_lines, 100);
    EXPECT_EQ(own_lines, 20);
  }
}

// IPv6 targets on every engine: the reference target on [::1] for native
// HTTP/1.1, WebSocket and libcurl, and nginx on [::1] for HTTP/2 (h2c). Nothing
// else listens there, so every 200 (and 101) came over IPv6.
TEST_F(Http2EndToEnd, Ipv6TargetsWorkOnEveryEngine) {
  const std::string v6_dir = dir_ + "/v6";
  ASSERT_EQ(mkdir(v6_dir.c_str(), 0700), 0);
  Target v6(v6_dir, nullptr, "[::1]:0");
  const int h2_port = FreePort();
  nginx_.reset();
  const std::string nginx_dir = dir_ + "/nginx6";
  ASSERT_EQ(mkdir(nginx_dir.c_str(), 0700), 0);
  nginx_ = std::make_unique<Nginx>(
      nginx_dir, absl::StrCat("  server { listen [::1]:", h2_port,
                              " http2; location / { return 200 \"v6\"; } }"));
  const std::string plan = absl::StrReplaceAll(
      R"(
defaults: { base_url: "http://[::1]:$V6PORT" }
scenarios:
  - name: http1
    load: { arrival_rate: { stages: [ {to: 50/s, over: 0s}, {hold: 1s} ] } }
    requests: [ { path: / } ]
  - name: curl
    transport: curl
    load: { arrival_rate: { stages: [ {to: 20/s, over: 0s}, {hold: 1s} ] } }
    requests: [ { path: / } ]
  - name: ws
    load: { vus: { stages: [ { to: 2, over: 0s }, { hold: 5s } ], shared_iterations: 4 } }
    websocket: { path: "/ws/echo?close=1000&after=2", send_every: 50ms, message: hi }
  - name: h2c
    base_url: "http://[::1]:$H2V6PORT"
    http_version: "2"
    load: { arrival_rate: { stages: [ {to: 30/s, over: 0s}, {hold: 1s} ] } }
    requests: [ { path: / } ]
)",
      {{"$V6PORT", absl::StrCat(v6.port())},
       {"$H2V6PORT", absl::StrCat(h2_port)}});
  RunOutcome run = Run(plan);
  ASSERT_EQ(run.exit_code, 0) << run.log;
  ASSERT_TRUE(run.has_result) << run.log;
  const v1::RunResult& r = run.result;
  ASSERT_EQ(r.scenarios_size(), 4);
  const std::vector<std::pair<std::string, int64_t>> want = {
      {"http1", 50}, {"curl", 20}, {"ws", 4}, {"h2c", 30}};
  for (int s = 0; s < 4; ++s) {
    SCOPED_TRACE(want[s].first);
    EXPECT_EQ(r.scenarios(s).summary().requests(), want[s].second);
    EXPECT_EQ(r.scenarios(s).summary().errors(), 0) << run.log;
  }
  EXPECT_EQ(r.scenarios(0).engine(), "http1");
  EXPECT_EQ(r.scenarios(1).engine(), "curl");
  EXPECT_EQ(r.scenarios(2).engine(), "websocket");
  EXPECT_EQ(r.scenarios(3).engine(), "h2");
  EXPECT_EQ(r.scenarios(3).summary().statuses().at("200"), 30);
}

}  // namespace
}  // namespace stampede::testing
