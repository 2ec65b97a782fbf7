// Outputs are pure functions of the RunResult, checked against golden files. To
// refresh a golden file after an intended change: STAMPEDE_UPDATE_GOLDEN=1
// ./bin/format_test
#include "controller/format.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "controller/report.h"
#include "controller/result.h"
#include "gtest/gtest.h"

namespace stampede::controller {
namespace {

v1::RunResult SampleResult() {
  v1::RunResult r;
  r.set_schema("stampede.result/v1");
  r.set_status("failed");
  r.set_exit_code(3);
  r.set_plan_name("golden \"plan\"");
  r.set_run_id("0123456789abcdef");
  r.set_started_at("2026-11-22T10:00:00Z");
  r.set_duration_s(30);
  r.set_message("thresholds failed");
  v1::Summary* s = r.mutable_summary();
  s->set_requests(6000);
  s->set_errors(12);
  s->set_error_rate(0.002);
  s->set_rps(200);
  s->mutable_latency_ms()->set_p50(0.412);
  s->mutable_latency_ms()->set_p90(1.25);
  s->mutable_latency_ms()->set_p95(2.5);
  s->mutable_latency_ms()->set_p99(12.75);
  s->mutable_latency_ms()->set_p999(480);
  s->mutable_latency_ms()->set_max(1204.5);
  s->mutable_latency_ms()->set_mean(0.9);
  (*s->mutable_statuses())["200"] = 5988;
  (*s->mutable_statuses())["503"] = 12;
  (*s->mutable_error_ids())["http_503"] = 12;
  v1::ScenarioResult* sc = r.add_scenarios();
  sc->set_name("browse");
  *sc->mutable_summary() = *s;
  v1::RequestResult* q = sc->add_requests();
  q->set_name("GET /");
  *q->mutable_summary() = *s;
  v1::PhaseTimings* phases = q->mutable_summary()->mutable_phases_ms();
  phases->set_new_connections(64);
  phases->mutable_connect()->set_p50(0.08);
  phases->mutable_connect()->set_p95(0.2);
  phases->mutable_ttfb()->set_p50(0.35);
  phases->mutable_ttfb()->set_p95(2.25);
  phases->mutable_ttfb()->set_p99(12.5);
  v1::ThresholdResult* t = r.add_thresholds();
  t->set_expression("p(95) latency < 2ms");
  t->set_passed(false);
  t->set_actual(2.5);
  t->set_actual_text("2.5ms");
  v1::AgentResult* a = r.add_agents();
  a->set_id("local-0");
  a->set_host("h");
  a->set_requests(6000);
  a->set_errors(12);
  a->set_state("finished");
  v1::IntervalResult* i = r.add_intervals();
  i->set_t(1);
  i->set_rps(200);
  i->set_target_rps(200);
  i->set_p50_ms(0.4);
  i->set_p99_ms(12);
  i->set_requests(200);
  i->set_agents_reported(1);
  return r;
}

void ExpectGolden(const std::string& name, const std::string& actual) {
  std::string path =
      std::string(STAMPEDE_SOURCE_DIR) + "/tests/testdata/golden/" + name;
  if (std::getenv("STAMPEDE_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(path) << actual;
  }
  std::ifstream in(path);
  std::stringstream expected;
  expected << in.rdbuf();
  EXPECT_EQ(actual, expected.str()) << "golden file " << path;
}

TEST(Format, JsonMatchesGolden) {
  ExpectGolden("result.json", FormatJson(SampleResult()));
}

TEST(Format, MarkdownMatchesGolden) {
  ExpectGolden("report.md", FormatMarkdown(SampleResult()));
}

TEST(Format, JunitMatchesGolden) {
  ExpectGolden("junit.xml", FormatJunit(SampleResult()));
}

TEST(Format, CsvMatchesGolden) {
  ExpectGolden("intervals.csv", FormatCsv(SampleResult()));
}

TEST(Format, JunitEscapesAndCountsFailures) {
  v1::RunResult r = SampleResult();
  r.mutable_thresholds(0)->set_expression("p(95) latency{request=a<b&c} < 2ms");
  v1::ThresholdResult* ok = r.add_thresholds();
  ok->set_expression("error_rate < 1%");
  ok->set_passed(true);
  std::string xml = FormatJunit(r);
  EXPECT_NE(xml.find("tests=\"2\" failures=\"1\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("a&lt;b&amp;c"), std::string::npos) << xml;
  EXPECT_NE(xml.find("name=\"error_rate &lt; 1%\"/>"), std::string::npos)
      << xml;
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

TEST(Format, SummaryMatchesGolden) {
  ExpectGolden("summary.txt", FormatSummary(SampleResult()));
}

TEST(Format, LiveLineShowsRatesPercentilesAndSkippedSends) {
  v1::IntervalResult i = SampleResult().intervals(0);
  std::string line = FormatLiveLine(i, 3.5, 2);
  EXPECT_NE(line.find("target    200.0/s"), std::string::npos) << line;
  EXPECT_NE(line.find("agents 1/2"), std::string::npos) << line;
  EXPECT_EQ(line.find("WARNING"), std::string::npos) << line;
  i.set_sends_skipped(17);
  JudgeGenerator(&i);
  line = FormatLiveLine(i, 3.5, 2);
  EXPECT_NE(line.find("WARNING generator-limited: 17 sends skipped"),
            std::string::npos)
      << line;
}

TEST(Format, GeneratorIsJudgedBySkipsLocalFailuresAndBusyWorkers) {
  v1::IntervalResult i;
  i.set_generator_busy(0.5);
  JudgeGenerator(&i);
  EXPECT_FALSE(i.generator_limited());
  i.set_generator_busy(0.97);
  i.set_local_errors(3);
  JudgeGenerator(&i);
  EXPECT_TRUE(i.generator_limited());
  EXPECT_EQ(i.generator_note(),
            "3 sends failed on local limits; a worker thread was 97% busy");
}

}  // namespace
}  // namespace stampede::controller
