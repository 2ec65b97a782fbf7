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

TEST_F(ThresholdsTest, NoDataFailsRatherThanPassing) {
  v1::Threshold t;
  t.set_request("missing");
  t.set_stat("max");
  t.set_lt("1s");
  v1::ThresholdResult r = Judge("latency", t);
  EXPECT_FALSE(r.passed());
  EXPECT_EQ(r.expression(), "max latency{request=missing} < 1s");
}

}  // namespace
}  // namespace stampede::controller
