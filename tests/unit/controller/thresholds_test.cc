// Thresholds are judged on merged data, filtered by scenario and request.
#include "controller/thresholds.h"

#include "gtest/gtest.h"

namespace stampede::controller {
namespace {

class ThresholdsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : {"browse", "buy"}) {
      v1::Scenario* s = plan_.add_scenarios();
      s->set_name(name);
      s->add_requests()->set_name("GET /");
      // Both run the whole 10 s: 100/s, then buy 10/s.
      v1::RateStage* stage =
          s->mutable_load()->mutable_arrival_rate()->add_stages();
      stage->mutable_to()->set_per_second(100);
      stage->mutable_over()->set_seconds(10);
    }
    cells_.resize(2, std::vector<Cell>(1));
    // browse: 1000 requests at 10 ms, 5 errors; buy: 100 requests at 900 ms, 50
    // errors.
    cells_[0][0].latency.RecordN(10'000, 1000);
    cells_[0][0].requests = 1000;
    cells_[0][0].errors = 5;
    cells_[1][0].latency.RecordN(900'000, 100);
    cells_[1][0].requests = 100;
    cells_[1][0].errors = 50;
  }

  v1::ThresholdResult Judge(const std::string& yaml_like_metric,
                            v1::Threshold t) {
    t.set_metric(yaml_like_metric);
    *plan_.add_thresholds() = t;
    auto results = EvaluateThresholds(plan_, cells_, 10.0);
    return results.back();
  }

  v1::TestPlan plan_;
  std::vector<std::vector<Cell>> cells_;
};

TEST_F(ThresholdsTest, PercentileOverAllScenariosSeesTheSlowOne) {
  v1::Threshold t;
  t.set_p(95);
  t.set_lt("500ms");
  v1::ThresholdResult r = Judge("latency", t);
  EXPECT_FALSE(r.passed());
  EXPECT_NEAR(r.actual(), 900, 1);
  EXPECT_EQ(r.expression(), "p(95) latency < 500ms");
}

TEST_F(ThresholdsTest, ScenarioFilterJudgesOnlyThatScenario) {
  v1::Threshold t;
  t.set_scenario("browse");
  t.set_p(99);
  t.set_lt("500ms");
  v1::ThresholdResult r = Judge("latency", t);
  EXPECT_TRUE(r.passed());
  EXPECT_NEAR(r.actual(), 10, 0.02);
  EXPECT_EQ(r.expression(), "p(99) latency{scenario=browse} < 500ms");
}

TEST_F(ThresholdsTest, ErrorRateIsErrorsOverRequests) {
  v1::Threshold t;
  t.set_lt("1%");
  v1::ThresholdResult r = Judge("error_rate", t);
  EXPECT_FALSE(r.passed());
  EXPECT_NEAR(r.actual(), 55.0 / 1100.0, 1e-12);
  t.set_scenario("browse");
  EXPECT_TRUE(Judge("error_rate", t).passed());  // 0.5 %
}

TEST_F(ThresholdsTest, RpsAndComparisonsAtTheBoundary) {
  v1::Threshold t;
  t.set_gte("110/s");  // 1100 requests over 10 s
  EXPECT_TRUE(Judge("rps", t).passed());
  t.clear_gte();
  t.set_gt("110/s");
  EXPECT_FALSE(Judge("rps", t).passed());
}

TEST_F(ThresholdsTest, RpsIsOverTheActiveTimeOfTheScenariosItCounts) {
  // buy starts 6 s in, so its 100 requests came in 4 s: 25/s, not 10/s.
  plan_.mutable_scenarios(1)->mutable_start_after()->set_seconds(6);
  plan_.mutable_scenarios(1)
      ->mutable_load()
      ->mutable_arrival_rate()
      ->mutable_stages(0)
      ->mutable_over()
      ->set_seconds(4);
  v1::Threshold t;
  t.set_scenario("buy");
  t.set_gte("25/s");
  v1::ThresholdResult r = Judge("rps", t);
  EXPECT_TRUE(r.passed()) << r.actual_text();
  EXPECT_DOUBLE_EQ(r.actual(), 25);
  EXPECT_DOUBLE_EQ(ScenarioActiveSeconds(plan_, 1, 0, 10), 4);
  EXPECT_DOUBLE_EQ(ScenarioActiveSeconds(plan_, 1, 0, 8), 2);  // cut short
  // Both scenarios: their times overlap, 10 s in all.
  t.clear_scenario();
  EXPECT_DOUBLE_EQ(ActiveSeconds(plan_, t, 0, 10), 10);
  EXPECT_DOUBLE_EQ(ActiveSeconds(plan_, t, 7, 9), 2);
}

TEST_F(ThresholdsTest, NoDataFailsRatherThanPassing) {
  v1::Threshold t;
  t.set_request("missing");
  t.set_stat("max");
  t.set_lt("1s");
  v1::ThresholdResult r = Judge("latency", t);
  EXPECT_FALSE(r.passed());
  EXPECT_EQ(r.expression(), "max latency{request=missing} < 1s");
}

// "429s are expected, but not more than 5 %": a status's (or a class's)
// share of the requests, and one error id's share.
TEST_F(ThresholdsTest, StatusAndErrorSharesCountOnlyTheirOwn) {
  cells_[0][0].statuses = {{200, 900}, {429, 95}, {503, 5}};
  cells_[1][0].statuses = {{200, 50}, {404, 45}, {0, 5}};
  cells_[0][0].error_ids = {{"http_503", 5}};
  cells_[1][0].error_ids = {{"http_404", 45}, {"tcp_refused", 5}};
  v1::Threshold t;
  t.set_status("429");
  t.set_lt("10%");
  v1::ThresholdResult r = Judge("status_rate", t);
  EXPECT_TRUE(r.passed());
  EXPECT_DOUBLE_EQ(r.actual(), 95.0 / 1100.0);
  EXPECT_EQ(r.expression(), "status_rate{status=429} < 10%");
  t.set_status("4xx");
  r = Judge("status_rate", t);
  EXPECT_FALSE(r.passed());  // 140 of 1100: 12.7 %
  EXPECT_DOUBLE_EQ(r.actual(), 140.0 / 1100.0);
  t.set_scenario("buy");
  EXPECT_DOUBLE_EQ(Judge("status_rate", t).actual(), 45.0 / 100.0);

  v1::Threshold e;
  e.set_error("tcp_refused");
  e.set_lte("5%");
  r = Judge("error_rate", e);
  EXPECT_TRUE(r.passed());
  EXPECT_DOUBLE_EQ(r.actual(), 5.0 / 1100.0);
  EXPECT_EQ(r.expression(), "error_rate{error=tcp_refused} <= 5%");
  e.set_error("ws_timeout");  // none
  EXPECT_DOUBLE_EQ(Judge("error_rate", e).actual(), 0);
}

// Latency thresholds judge successful responses: failures are error_rate's.
// A run whose every request failed has no latency to keep a bound with.
TEST_F(ThresholdsTest, LatencyJudgesSuccessfulResponsesUnlessAskedForAll) {
  // buy's 50 failed requests were its slow ones (900 ms); its other 50 too.
  cells_[1][0].latency_failed.RecordN(900'000, 50);
  v1::Threshold t;
  t.set_scenario("buy");
  t.set_p(50);
  t.set_lt("1s");
  v1::ThresholdResult r = Judge("latency", t);
  EXPECT_TRUE(r.passed());
  EXPECT_NEAR(r.actual(), 900, 1);
  // browse's 5 errors were fast: taking them out leaves the same 10 ms.
  cells_[0][0].latency_failed.RecordN(10'000, 5);
  // Every buy request failed: no successful latency, so no pass.
  cells_[1][0].latency_failed.RecordN(900'000, 50);
  r = Judge("latency", t);
  EXPECT_FALSE(r.passed());
  EXPECT_EQ(r.actual_text(), "0ms");
  t.set_responses("all");
  r = Judge("latency", t);
  EXPECT_TRUE(r.passed());
  EXPECT_EQ(r.expression(), "p(50) latency{responses=all,scenario=buy} < 1s");
  // Over both scenarios, p99 of successes is browse's 10 ms: buy's 900 ms
  // answers all failed.
  v1::Threshold both;
  both.set_p(99);
  both.set_lt("100ms");
  r = Judge("latency", both);
  EXPECT_TRUE(r.passed()) << r.actual_text();
  both.set_responses("all");
  EXPECT_FALSE(Judge("latency", both).passed());
}

TEST_F(ThresholdsTest, SeverityIsInTheResultAndTheText) {
  v1::Threshold t;
  t.set_p(95);
  t.set_lt("500ms");
  EXPECT_EQ(Judge("latency", t).severity(), "fail");
  t.set_severity("warn");
  t.mutable_for_()->set_seconds(300);
  v1::ThresholdResult r = Judge("latency", t);
  EXPECT_FALSE(r.passed());
  EXPECT_EQ(r.severity(), "warn");
  EXPECT_EQ(r.expression(), "p(95) latency < 500ms for 5m warn");
}

}  // namespace
}  // namespace stampede::controller
