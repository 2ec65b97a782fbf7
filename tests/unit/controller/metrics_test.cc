// The Prometheus exposition of the merged state: cumulative buckets and
// quantiles from the merged HDR histogram, escaped labels, every family
// present before any data. The endpoint itself is tested end to end in
// tests/integration/metrics_e2e_test.cc.
#include "controller/metrics.h"

#include <map>
#include <string>

#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"

namespace stampede::controller {
namespace {

// "name{labels}" -> value, for every sample line.
std::map<std::string, std::string> Samples(const std::string& text) {
  std::map<std::string, std::string> out;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    out[std::string(line.substr(0, space))] =
        std::string(line.substr(space + 1));
  }
  return out;
}

class MetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    v1::Scenario* s = plan_.add_scenarios();
    s->set_name("shop \"eu\"");
    s->add_requests()->set_name("GET /\\items");
    plan_.set_name("p");
    cells_.resize(1, std::vector<Cell>(1));
    in_.plan = &plan_;
    in_.run_id = "r1";
    in_.phase = "running";
    in_.cells = &cells_;
  }

  v1::TestPlan plan_;
  std::vector<std::vector<Cell>> cells_;
  MetricsInput in_;
};

constexpr char kLabels[] = R"(scenario="shop \"eu\"",request="GET /\\items")";

TEST_F(MetricsTest, BucketsAreCumulativeOverTheMergedHistogram) {
  Cell& c = cells_[0][0];
  c.latency.RecordN(100, 10);        // 0.1 ms
  c.latency.RecordN(2'000, 5);       // 2 ms
  c.latency.RecordN(70'000'000, 1);  // 70 s: above the last bound
  c.requests = 16;
  const auto samples = Samples(RenderMetrics(in_));
  auto bucket = [&](const std::string& le) {
    return samples.at(std::string("stampede_request_duration_seconds_bucket{") +
                      kLabels + ",le=\"" + le + "\"}");
  };
  EXPECT_EQ(bucket("0.0005"), "10");
  EXPECT_EQ(bucket("0.001"), "10");
  EXPECT_EQ(bucket("0.0025"), "15");
  EXPECT_EQ(bucket("60"), "15");
  EXPECT_EQ(bucket("+Inf"), "16");
  EXPECT_EQ(samples.at(std::string("stampede_request_duration_seconds_count{") +
                       kLabels + "}"),
            "16");
  EXPECT_EQ(samples.at(std::string("stampede_requests_total{") + kLabels + "}"),
            "16");
}

TEST_F(MetricsTest, QuantilesAreTheHistogramsPercentiles) {
  Cell& c = cells_[0][0];
  for (int v = 1; v <= 1000; ++v) c.latency.Record(v * 1000);  // 1..1000 ms
  const auto samples = Samples(RenderMetrics(in_));
  auto quantile = [&](const std::string& q) {
    return std::stod(samples.at(std::string("stampede_latency_seconds{") +
                                kLabels + ",quantile=\"" + q + "\"}"));
  };
  EXPECT_DOUBLE_EQ(quantile("0.5"),
                   static_cast<double>(c.latency.ValueAtPercentile(50)) / 1e6);
  EXPECT_DOUBLE_EQ(quantile("0.99"),
                   static_cast<double>(c.latency.ValueAtPercentile(99)) / 1e6);
  EXPECT_NEAR(quantile("0.95"), 0.950, 0.001);
}

TEST_F(MetricsTest, StatusesErrorsAgentsAndThresholdsAreLabelled) {
  Cell& c = cells_[0][0];
  c.statuses[200] = 7;
  c.statuses[503] = 3;
  c.error_ids["http_503"] = 3;
  in_.agents = {{"running", 2}, {"lost", 1}};
  in_.thresholds = {{"p(95) latency < 500ms", true, false, 12.5},
                    {"error_rate < 1%", true, true, 0.3},
                    {"rps > 10", false, false, 0}};
  const auto samples = Samples(RenderMetrics(in_));
  EXPECT_EQ(samples.at(std::string("stampede_responses_total{") + kLabels +
                       ",status=\"503\"}"),
            "3");
  EXPECT_EQ(samples.at(std::string("stampede_errors_total{") + kLabels +
                       ",error=\"http_503\"}"),
            "3");
  EXPECT_EQ(samples.at("stampede_agents{state=\"lost\"}"), "1");
  EXPECT_EQ(
      samples.at("stampede_threshold_failing{threshold=\"error_rate < 1%\"}"),
      "1");
  EXPECT_EQ(samples.at("stampede_threshold_failing{threshold=\"p(95) latency "
                       "< 500ms\"}"),
            "0");
  EXPECT_EQ(samples.at("stampede_threshold_actual{threshold=\"p(95) latency "
                       "< 500ms\"}"),
            "12.5");
  // Not judged yet: not failing, and no value to show.
  EXPECT_EQ(samples.at("stampede_threshold_failing{threshold=\"rps > 10\"}"),
            "0");
  EXPECT_EQ(samples.count("stampede_threshold_actual{threshold=\"rps > 10\"}"),
            0u);
  EXPECT_EQ(samples.at("stampede_run_phase{phase=\"running\"}"), "1");
  EXPECT_EQ(samples.at("stampede_run_phase{phase=\"done\"}"), "0");
}

TEST_F(MetricsTest, EveryFamilyIsDeclaredBeforeTheRunHasData) {
  MetricsInput empty;
  empty.phase = "registering";
  const std::string text = RenderMetrics(empty);
  for (const char* family :
       {"stampede_requests_total counter", "stampede_errors_total counter",
        "stampede_request_duration_seconds histogram",
        "stampede_latency_seconds summary", "stampede_agents gauge",
        "stampede_threshold_failing gauge"}) {
    EXPECT_NE(text.find(std::string("# TYPE ") + family), std::string::npos)
        << family;
  }
  EXPECT_EQ(Samples(text).count("stampede_requests_total"), 0u);
}

}  // namespace
}  // namespace stampede::controller
