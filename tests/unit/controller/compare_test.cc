// `stampede compare`: what is a regression, and what is noise.
#include "controller/report/compare.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "controller/report/format.h"
#include "controller/result.h"
#include "gtest/gtest.h"

namespace stampede::controller {
namespace {

// A run of one scenario with one request, whose summaries all read `p95`
// ms, and one interval per value of `interval_p95s` (the first a warm-up).
v1::RunResult AResult(double p95, const std::vector<double>& interval_p95s,
                      const std::string& fingerprint = "sha256:aa") {
  v1::RunResult r;
  r.set_status("passed");
  r.set_plan_name("shop");
  r.set_plan_fingerprint(fingerprint);
  v1::Summary s;
  s.set_requests(1000);
  s.set_rps(100);
  s.set_error_rate(0.002);
  s.mutable_latency_ms()->set_p50(1);
  s.mutable_latency_ms()->set_p95(p95);
  s.mutable_latency_ms()->set_p99(p95 * 2);
  *r.mutable_summary() = s;
  v1::ScenarioResult* sc = r.add_scenarios();
  sc->set_name("browse");
  *sc->mutable_summary() = s;
  v1::RequestResult* q = sc->add_requests();
  q->set_name("GET /");
  *q->mutable_summary() = s;
  for (double v : interval_p95s) {
    v1::IntervalResult* i = r.add_intervals();
    i->set_requests(100);
    i->set_p50_ms(1);
    i->set_p95_ms(v);
    i->set_p99_ms(v * 2);
  }
  return r;
}

bool HasWarning(const Comparison& c, const std::string& part) {
  for (const std::string& w : c.warnings)
    if (w.find(part) != std::string::npos) return true;
  return false;
}

// Values computed by hand from the normal approximation (tie and continuity
// corrected), as scipy.stats.mannwhitneyu(method="asymptotic") gives them.
TEST(MannWhitney, MatchesTheNormalApproximation) {
  NoiseTest apart = MannWhitney({1, 2, 3, 4, 5}, {6, 7, 8, 9, 10});
  EXPECT_DOUBLE_EQ(apart.u, 0);
  EXPECT_NEAR(apart.z, 2.50672, 1e-4);
  EXPECT_NEAR(apart.p, 0.012186, 1e-5);
  EXPECT_TRUE(apart.b_higher);
  EXPECT_FALSE(MannWhitney({6, 7, 8, 9, 10}, {1, 2, 3, 4, 5}).b_higher);

  NoiseTest tied = MannWhitney({1, 2, 2, 3}, {2, 3, 3, 4});
  EXPECT_DOUBLE_EQ(tied.u, 3);
  EXPECT_NEAR(tied.z, 1.36570, 1e-4);
  EXPECT_NEAR(tied.p, 0.17203, 1e-4);

  EXPECT_DOUBLE_EQ(MannWhitney({2, 2, 2, 2}, {2, 2, 2, 2}).p, 1);
}

TEST(Compare, SteadyIntervalsLeaveOutTheFirstAndTheEmpty) {
  v1::RunResult r = AResult(2, {40, 2, 3, 4});
  r.mutable_intervals(2)->set_requests(0);
  EXPECT_EQ(SteadyIntervals(r, 95), (std::vector<double>{2, 4}));
  EXPECT_EQ(SteadyIntervals(r, 99), (std::vector<double>{4, 8}));
}

// The case a user reported: an unchanged rerun whose whole-run p95 went from
// 1.52 to 16.2 ms (+970 %) because a few seconds had a hiccup; its seconds
// are like the baseline's, so it is noise, not a regression.
TEST(Compare, AJumpThePerIntervalDataDoesNotShowIsNoise) {
  const v1::RunResult base =
      AResult(1.52, {30, 1.5, 16, 1.4, 2, 1.6, 15, 1.5, 1.7, 1.6});
  const v1::RunResult next =
      AResult(16.2, {30, 1.6, 1.5, 17, 1.4, 1.8, 1.5, 16, 1.6, 1.5});
  Comparison c = Compare(base, next, {});
  EXPECT_FALSE(c.refused);
  EXPECT_TRUE(c.regressions.empty()) << c.table;
  EXPECT_NE(c.table.find("noise (p="), std::string::npos) << c.table;
}

TEST(Compare, ASlowerTargetIsARegressionInEveryRow) {
  const v1::RunResult base = AResult(2, {30, 2, 2.1, 1.9, 2, 2.2, 2});
  const v1::RunResult next = AResult(42, {60, 41, 42, 43, 42, 41, 44});
  Comparison c = Compare(base, next, {});
  // p95 and p99 in the run's, the scenario's and the request's rows.
  ASSERT_EQ(c.regressions.size(), 6u) << c.table;
  EXPECT_EQ(c.regressions[0].rfind("(run) p95 2 ms -> 42 ms (+2000.0%)", 0), 0u)
      << c.regressions[0];
  EXPECT_NE(c.regressions[0].find("(p="), std::string::npos);
  EXPECT_EQ(c.regressions[2].rfind("browse (all) p95", 0), 0u)
      << c.regressions[2];
  EXPECT_EQ(c.regressions[4].rfind("browse GET / p95", 0), 0u)
      << c.regressions[4];
}

// +100 %, beyond the noise, but 2 ms: within the floor.
TEST(Compare, ALatencyChangeWithinTheFloorIsNotARegression) {
  const v1::RunResult base = AResult(2, {5, 2, 2, 2, 2, 2});
  const v1::RunResult next = AResult(4, {5, 4, 4, 4, 4, 4});
  CompareOptions options;
  options.latency_floor_ms = 5;
  EXPECT_TRUE(Compare(base, next, options).regressions.empty());
  options.latency_floor_ms = 1;
  EXPECT_FALSE(Compare(base, next, options).regressions.empty());
}

TEST(Compare, ThroughputAndErrorRatesRegressByTheLimitAndTheFloor) {
  const v1::RunResult base = AResult(2, {2, 2, 2, 2, 2});
  v1::RunResult next = base;
  next.mutable_scenarios(0)->mutable_requests(0)->mutable_summary()->set_rps(
      70);
  next.mutable_summary()->set_error_rate(0.05);
  Comparison c = Compare(base, next, {});
  ASSERT_EQ(c.regressions.size(), 2u) << c.table;
  EXPECT_EQ(c.regressions[0].rfind("(run) error_rate 0.200% -> 5.000%", 0), 0u)
      << c.regressions[0];
  EXPECT_EQ(c.regressions[1].rfind("browse GET / rps 100.0/s -> 70.0/s", 0), 0u)
      << c.regressions[1];

  v1::RunResult tiny = AResult(2, {2, 2, 2, 2, 2});
  tiny.mutable_summary()->set_error_rate(0.00001);
  v1::RunResult doubled = tiny;
  doubled.mutable_summary()->set_error_rate(0.00002);
  EXPECT_TRUE(Compare(tiny, doubled, {}).regressions.empty());
}

TEST(Compare, PlansThatDifferAreRefusedUnlessAllowed) {
  const v1::RunResult base = AResult(2, {2, 2, 2, 2, 2}, "sha256:aa");
  const v1::RunResult next = AResult(2, {2, 2, 2, 2, 2}, "sha256:bb");
  Comparison refused = Compare(base, next, {});
  EXPECT_TRUE(refused.refused);
  EXPECT_TRUE(HasWarning(refused, "--allow-plan-change"));
  EXPECT_TRUE(refused.table.empty());

  CompareOptions allow;
  allow.allow_plan_change = true;
  Comparison allowed = Compare(base, next, allow);
  EXPECT_FALSE(allowed.refused);
  EXPECT_TRUE(HasWarning(allowed, "the plans differ"));
  EXPECT_FALSE(allowed.table.empty());

  Comparison old = Compare(AResult(2, {2, 2, 2, 2, 2}, ""), next, {});
  EXPECT_FALSE(old.refused);
  EXPECT_TRUE(HasWarning(old, "no plan fingerprint"));
}

TEST(Compare, AWeakBaselineAndUntestableNoiseAreSaid) {
  v1::RunResult base = AResult(2, {2, 2});
  base.set_status("aborted");
  base.set_message("stopped by a signal");
  const v1::RunResult next = AResult(40, {40, 40});
  Comparison c = Compare(base, next, {});
  EXPECT_TRUE(HasWarning(c, "status aborted: stopped by a signal"));
  EXPECT_TRUE(HasWarning(c, "the noise could not be tested"));
  // Judged by the limit and the floor alone, and said so.
  ASSERT_FALSE(c.regressions.empty());
  EXPECT_NE(c.regressions[0].find("noise untested"), std::string::npos)
      << c.regressions[0];
}

// A baseline written before intervals carried p95_ms reads 0 there: ranked
// against any real run it would always look "beyond noise". The p95 rows are
// then judged by the limit and the floor, and the output says why.
TEST(Compare, ABaselineWithoutIntervalP95IsNotNoiseTestedOnP95) {
  v1::RunResult base =
      AResult(1.52, {30, 1.5, 16, 1.4, 2, 1.6, 15, 1.5, 1.7, 1.6});
  for (v1::IntervalResult& i : *base.mutable_intervals()) i.clear_p95_ms();
  const v1::RunResult next =
      AResult(16.2, {30, 1.6, 1.5, 17, 1.4, 1.8, 1.5, 16, 1.6, 1.5});
  Comparison c = Compare(base, next, {});
  EXPECT_TRUE(HasWarning(c,
                         "the baseline's intervals have no p95_ms (a result "
                         "from an older Stampede): the p95 noise could not "
                         "be tested"))
      << c.table;
  EXPECT_FALSE(HasWarning(c, "fewer than 4 steady intervals"));
  // p95 is judged by the limit and the floor (14.7 ms worse), and says so;
  // p99 is still tested, and is noise.
  ASSERT_EQ(c.regressions.size(), 3u) << c.table;
  for (const std::string& r : c.regressions) {
    EXPECT_NE(r.find(" p95 "), std::string::npos) << r;
    EXPECT_NE(r.find("(noise untested)"), std::string::npos) << r;
  }
  EXPECT_NE(c.table.find("noise (p="), std::string::npos) << c.table;
}

TEST(Compare, ScenariosAndRequestsInOnlyOneRunAreNamed) {
  const v1::RunResult base = AResult(2, {2, 2, 2, 2, 2});
  v1::RunResult next = base;
  next.mutable_scenarios(0)->mutable_requests(0)->set_name("GET /v2");
  next.add_scenarios()->set_name("checkout");
  Comparison c = Compare(base, next, {});
  EXPECT_TRUE(HasWarning(c,
                         "request \"GET /\" of scenario \"browse\" is only "
                         "in the baseline"));
  EXPECT_TRUE(HasWarning(c,
                         "request \"GET /v2\" of scenario \"browse\" is "
                         "only in the new run"));
  EXPECT_TRUE(HasWarning(c, "scenario \"checkout\" is only in the new run"));
}

TEST(Compare, BaselinePathKeepsThePlanNameSafe) {
  EXPECT_EQ(BaselinePath("base", "checkout-slo"), "base/checkout-slo.json");
  EXPECT_EQ(BaselinePath("base", "../etc/pass wd"), "base/.._etc_pass_wd.json");
  EXPECT_EQ(BaselinePath("base", ""), "base/run.json");
  EXPECT_EQ(BaselinePath("base", ".."), "base/run.json");
}

// `stampede compare --baseline-dir DIR --update-baseline NEW`: what it did
// to DIR, in its own words. `new_file` holds `next` as --out json wrote it.
struct Outcome {
  int code;
  std::string out;
};
Outcome UpdateBaseline(const std::string& dir, const v1::RunResult& next) {
  const std::string new_file = dir + "/result.json";
  std::ofstream(new_file, std::ios::binary | std::ios::trunc)
      << FormatJson(next);
  CompareCommandOptions options;
  options.baseline_dir = dir + "/baselines";
  options.next = new_file;
  options.update_baseline = true;
  ::testing::internal::CaptureStdout();
  const int code = CompareCommand(options);
  return {code, ::testing::internal::GetCapturedStdout()};
}

TEST(CompareCommand, AFirstRunIsSavedAsTheBaselineOnlyWhenItPassed) {
  std::string dir = ::testing::TempDir() + "compare-XXXXXX";
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  v1::RunResult next = AResult(2, {2, 2, 2, 2, 2});
  next.set_schema("stampede.result/v1");
  next.set_status("failed");
  const std::string kept = dir + "/baselines/shop.json";

  Outcome failed = UpdateBaseline(dir, next);
  EXPECT_EQ(failed.code, kExitPassed) << failed.out;
  EXPECT_NE(failed.out.find("no baseline for plan \"shop\" yet"),
            std::string::npos)
      << failed.out;
  // There was no baseline to keep.
  EXPECT_NE(failed.out.find("no baseline saved: the new run did not pass "
                            "(status failed)"),
            std::string::npos)
      << failed.out;
  EXPECT_FALSE(std::filesystem::exists(kept));

  next.set_status("passed");
  Outcome passed = UpdateBaseline(dir, next);
  EXPECT_EQ(passed.code, kExitPassed) << passed.out;
  EXPECT_NE(passed.out.find("baseline saved: " + kept), std::string::npos)
      << passed.out;
  EXPECT_TRUE(std::filesystem::exists(kept));

  // Now there is one: a run that did not pass leaves it as it was.
  next.set_status("failed");
  Outcome again = UpdateBaseline(dir, next);
  EXPECT_EQ(again.code, kExitPassed) << again.out;
  EXPECT_NE(again.out.find("baseline kept: the new run did not pass"),
            std::string::npos)
      << again.out;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace stampede::controller
