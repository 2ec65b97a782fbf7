// `stampede capacity` against the reference target's /capacity/500: one
// serial server of 2 ms a request, so the service's capacity is exactly
// 500/s, and an SLO of p95 < 20 ms. Real controller, real agents, one session
// for the whole search.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tests/integration/e2e_fixture.h"
#include "tests/integration/process.h"

namespace stampede::testing {
namespace {

constexpr char kPlan[] = R"(
name: capacity
defaults:
  base_url: http://127.0.0.1:$PORT
scenarios:
  - name: api
    load:
      arrival_rate:
        stages: [{ to: 10/s, over: 0s }, { hold: 1s }]
    requests:
      - { name: serial, path: /capacity/500 }
capacity:
  scenario: api
  from: 100/s
  max: 2000/s
  step: 3s
  warmup: 2s
  final: 6s
thresholds:
  - { metric: latency, p: 95, lt: 20ms }
)";

class Capacity : public EndToEnd {
 protected:
  RunOutcome Search(const std::string& flags) {
    const std::string command = absl::StrCat(
        BinaryPath("stampede"), " capacity ", PlanFile(kPlan),
        " --local-agents 2 --out json=", json_file(), " --out md=", dir_,
        "/report.md --out html=", dir_, "/report.html ", flags);
    Child controller({"/bin/sh", "-c", command}, log_file());
    return Collect(controller.Wait(240));
  }
};

TEST_F(Capacity, FindsTheServiceCapacityWithinTheWidthAndProjectsIt) {
  RunOutcome out = Search(
      "--per-instance --instances 1 --target-rps 1500/s "
      "--growth 20%,100% --years 3 --from 100/s");
  ASSERT_EQ(out.exit_code, 0) << out.log;
  ASSERT_TRUE(out.has_result) << out.log;
  const v1::CapacityResult& c = out.result.capacity();
  EXPECT_EQ(out.result.test_type(), "capacity");
  // The answer lies within the search width (5 %) below the true 500/s.
  EXPECT_LE(c.max_rate(), 500) << out.log;
  EXPECT_GE(c.max_rate(), 500 * 0.95) << out.log;
  EXPECT_TRUE(c.confirmed());
  EXPECT_FALSE(c.generator_limited());
  // Every step's verdict agrees with the server's queue: well below its
  // capacity nothing waits, above it the queue grows by the excess every
  // second.
  ASSERT_GE(c.steps_size(), 5);
  bool measured = false;
  for (const v1::CapacityStep& s : c.steps()) {
    if (s.rate() <= 500 * 0.97) {
      EXPECT_EQ(s.verdict(), "pass") << s.rate() << ": " << s.why();
    }
    if (s.rate() >= 500 * 1.05) {
      EXPECT_EQ(s.verdict(), "fail") << s.rate() << ": " << s.why();
    }
    EXPECT_NE(s.verdict(), "inconclusive") << s.rate() << ": " << s.why();
    if (s.phase() != "final" && s.rate() == c.max_rate() &&
        s.verdict() == "pass")
      measured = true;
    if (s.verdict() == "pass") {
      EXPECT_NEAR(s.achieved(), s.rate(), s.rate() * 0.05) << s.rate();
      EXPECT_LT(s.p95_ms(), 20);
    }
  }
  // Never an untested midpoint; the final trial at the answer passed.
  EXPECT_TRUE(measured);
  const v1::CapacityStep& last = c.steps(c.steps_size() - 1);
  EXPECT_EQ(last.phase(), "final");
  EXPECT_EQ(last.rate(), c.max_rate());
  EXPECT_EQ(last.verdict(), "pass");
  EXPECT_GE(last.judged_seconds(), 5);
  // The server saw its own queue: requests that found it busy, some waiting
  // far beyond the SLO (the failed steps).
  const google::protobuf::Struct stats = ParseStats(target_->Stats());
  EXPECT_GT(stats.fields().at("capacity_queued").number_value(), 100);
  EXPECT_GT(stats.fields().at("capacity_max_wait_ms").number_value(), 20);
  // The projection, by the teams' formula, from the measured answer.
  const v1::CapacityProjection& p = c.projection();
  EXPECT_DOUBLE_EQ(p.per_instance_rps(), c.max_rate());
  ASSERT_EQ(p.rows_size(), 1 + 2 * 4);
  const long long base = static_cast<long long>(std::ceil(1500 / c.max_rate()));
  EXPECT_EQ(p.rows(0).instances(),
            base + static_cast<long long>(std::ceil(base * 0.2 - 1e-9)));
  EXPECT_GT(p.littles_law_concurrency(), 0);
  // The outputs a team reads.
  EXPECT_TRUE(absl::StrContains(out.log, "answer: max rate")) << out.log;
  const std::string md = ReadFile(dir_ + "/report.md");
  EXPECT_TRUE(absl::StrContains(md, "## Capacity")) << md;
  EXPECT_TRUE(absl::StrContains(md, "| step | phase | rate |")) << md;
  EXPECT_TRUE(absl::StrContains(md, "### Projection")) << md;
  const std::string html = ReadFile(dir_ + "/report.html");
  EXPECT_TRUE(absl::StrContains(html, "id=chart-capacity"));
  EXPECT_TRUE(absl::StrContains(html, "\"capacity\":{\"rate\":["));
}

TEST_F(Capacity, AGeneratorCappedBelowTheServiceIsInconclusiveNotAFailure) {
  // Each of the 2 agents may send 150/s: the generator tops out at 300/s,
  // below the service's 500/s.
  RunOutcome out = Search("--agent-arg=--max-rate=150/s");
  ASSERT_EQ(out.exit_code, 0) << out.log;
  ASSERT_TRUE(out.has_result) << out.log;
  const v1::CapacityResult& c = out.result.capacity();
  EXPECT_TRUE(c.generator_limited()) << out.log;
  EXPECT_LE(c.max_rate(), 300);
  EXPECT_GE(c.max_rate(), 300 * 0.95);
  EXPECT_TRUE(absl::StrContains(c.answer(), "generator")) << c.answer();
  int inconclusive = 0;
  for (const v1::CapacityStep& s : c.steps()) {
    EXPECT_NE(s.verdict(), "fail") << s.rate() << ": " << s.why();
    if (s.rate() > 300) {
      EXPECT_EQ(s.verdict(), "inconclusive") << s.rate();
      EXPECT_TRUE(absl::StrContains(s.why(), "--max-rate")) << s.why();
      ++inconclusive;
    }
  }
  EXPECT_GE(inconclusive, 2);
}

TEST_F(Capacity, APlanWithoutACapacityBlockIsRefused) {
  const std::string plan = PlanFile(R"(
defaults: { base_url: "http://127.0.0.1:$PORT" }
scenarios:
  - name: api
    load: { arrival_rate: { stages: [{ to: 10/s, over: 0s }, { hold: 1s }] } }
    requests: [{ path: / }]
)");
  Child controller({"/bin/sh", "-c",
                    absl::StrCat(BinaryPath("stampede"), " capacity ", plan)},
                   log_file());
  EXPECT_EQ(controller.Wait(30), 2);
  EXPECT_TRUE(absl::StrContains(ReadFile(log_file()), "no capacity: block"));
}

}  // namespace
}  // namespace stampede::testing
