// `stampede compare`: what is a regression, and what is noise.
#include "controller/compare.h"

#include "gtest/gtest.h"

namespace stampede::controller {
namespace {

v1::RunResult SampleResult() {
  v1::RunResult r;
  r.mutable_summary()->set_rps(200);
  r.mutable_summary()->set_error_rate(0.002);
  r.mutable_summary()->mutable_latency_ms()->set_p50(0.412);
  r.mutable_summary()->mutable_latency_ms()->set_p95(2.5);
  r.mutable_summary()->mutable_latency_ms()->set_p99(12.75);
  return r;
}

TEST(Compare, FlagsA25PercentP95RegressionAndPassesA10PercentOne) {
  v1::RunResult base = SampleResult();
  v1::RunResult slower = base;
  slower.mutable_summary()->mutable_latency_ms()->set_p95(
      base.summary().latency_ms().p95() * 1.25);
  Comparison c = Compare(base, slower, 0.20);
  ASSERT_EQ(c.regressions.size(), 1u) << c.table;
  EXPECT_EQ(c.regressions[0].rfind("p95 ", 0), 0u) << c.regressions[0];
  EXPECT_NE(c.table.find("+25.0%"), std::string::npos) << c.table;

  v1::RunResult a_bit_slower = base;
  a_bit_slower.mutable_summary()->mutable_latency_ms()->set_p95(
      base.summary().latency_ms().p95() * 1.10);
  EXPECT_TRUE(Compare(base, a_bit_slower, 0.20).regressions.empty());
}

TEST(Compare, LowerThroughputAndMoreErrorsRegressButTinyErrorRatesDoNot) {
  v1::RunResult base = SampleResult();
  v1::RunResult next = base;
  next.mutable_summary()->set_rps(base.summary().rps() * 0.7);
  next.mutable_summary()->set_error_rate(0.05);
  Comparison c = Compare(base, next, 0.20);
  ASSERT_EQ(c.regressions.size(), 2u) << c.table;
  EXPECT_EQ(c.regressions[0].rfind("rps ", 0), 0u);
  EXPECT_EQ(c.regressions[1].rfind("error_rate ", 0), 0u);

  base.mutable_summary()->set_error_rate(0.00001);
  next = base;
  next.mutable_summary()->set_error_rate(0.00002);  // doubled, but 0.001 points
  EXPECT_TRUE(Compare(base, next, 0.20).regressions.empty());
}

}  // namespace
}  // namespace stampede::controller
