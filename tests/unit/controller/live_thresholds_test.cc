// Thresholds judged while the run goes: on all data so far, or on a sliding
// window; after a grace; an abort threshold names itself and when it failed.
#include "controller/live_thresholds.h"

#include "common/histogram.h"
#include "controller/thresholds.h"
#include "gtest/gtest.h"

namespace stampede::controller {
namespace {

class LiveThresholdsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    v1::Scenario* s = plan_.add_scenarios();
    s->set_name("api");
    s->add_requests()->set_name("GET /");
    cells_.resize(1, std::vector<Cell>(1));
  }

  // One second of merged data: `requests` at `latency_us`, `errors` of them
  // failed. Adds it to the cumulative cells as the aggregator would.
  IntervalView Second(int64_t requests, int64_t errors, int64_t latency_us) {
    IntervalView view;
    view.index = next_index_++;
    v1::RequestStats stats;
    common::Histogram h;
    h.RecordN(latency_us, requests);
    stats.set_latency(h.Encode());
    stats.set_requests(requests);
    stats.set_errors(errors);
    view.stats.push_back(stats);
    cells_[0][0].latency.Merge(h);
    cells_[0][0].requests += requests;
    cells_[0][0].errors += errors;
    return view;
  }

  v1::TestPlan plan_;
  std::vector<std::vector<Cell>> cells_;
  uint64_t next_index_ = 0;
};

TEST_F(LiveThresholdsTest, WindowFailsOnlyWhenAFullWindowCrossesAndRecovers) {
  v1::Threshold* t = plan_.add_thresholds();
  t->set_metric("error_rate");
  t->set_lt("1%");
  t->mutable_for_()->set_seconds(3);
  LiveThresholds live(plan_, absl::Seconds(1));

  // 5 % errors in the first second: the window is not full yet.
  EXPECT_TRUE(live.OnInterval(Second(100, 5, 1000), cells_).empty());
  EXPECT_TRUE(live.OnInterval(Second(100, 0, 1000), cells_).empty());
  // Full window: 5 errors of 300 = 1.7 % >= 1 %: failing, at t = 3 s.
  auto changes = live.OnInterval(Second(100, 0, 1000), cells_);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_TRUE(changes[0].failing);
  EXPECT_DOUBLE_EQ(changes[0].t_s, 3);
  EXPECT_NEAR(changes[0].result.actual(), 5.0 / 300, 1e-9);
  // The bad second leaves the window: passing again.
  changes = live.OnInterval(Second(100, 0, 1000), cells_);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_FALSE(changes[0].failing);
  EXPECT_FALSE(live.aborted_by());

  // Over the whole run 5 of 400 (1.25 %) also fails; a window that failed
  // fails the run either way, and says when.
  std::vector<v1::ThresholdResult> final_results =
      EvaluateThresholds(plan_, cells_, 4);
  live.Finish(&final_results);
  EXPECT_FALSE(final_results[0].passed());
  EXPECT_DOUBLE_EQ(final_results[0].failed_at_s(), 3);
  EXPECT_FALSE(final_results[0].aborted());
  // The numbers shown are the worst window's, not the run's 1.25 %.
  EXPECT_NEAR(final_results[0].actual(), 5.0 / 300, 1e-9);
  EXPECT_EQ(final_results[0].actual_text(), "1.667%");
  EXPECT_DOUBLE_EQ(final_results[0].worst_window_end_s(), 3);
}

// A windowed rps floor: its worst window is its slowest, wherever it was.
TEST_F(LiveThresholdsTest,
       AWindowedThresholdShowsItsWorstWindowEvenWhenItPasses) {
  v1::Scenario* s = plan_.mutable_scenarios(0);
  v1::RateStage* stage =
      s->mutable_load()->mutable_arrival_rate()->add_stages();
  stage->mutable_to()->set_per_second(100);
  stage->mutable_over()->set_seconds(5);
  v1::Threshold* t = plan_.add_thresholds();
  t->set_metric("rps");
  t->set_gte("90/s");
  t->mutable_for_()->set_seconds(2);
  LiveThresholds live(plan_, absl::Seconds(1));
  // Windows: 200, 190, 194 (the slowest ends at 3 s), 200 requests.
  for (int64_t n : {100, 100, 90, 104, 96})
    EXPECT_TRUE(live.OnInterval(Second(n, 0, 1000), cells_).empty());
  std::vector<v1::ThresholdResult> final_results =
      EvaluateThresholds(plan_, cells_, 5);
  live.Finish(&final_results);
  EXPECT_TRUE(final_results[0].passed());
  EXPECT_DOUBLE_EQ(final_results[0].actual(), 95);  // not the run's 98/s
  EXPECT_EQ(final_results[0].actual_text(), "95.0/s");
  EXPECT_DOUBLE_EQ(final_results[0].worst_window_end_s(), 3);
  EXPECT_EQ(final_results[0].failed_at_s(), 0);
}

// A status share judged on a window: the 429s of its seconds over their
// requests, whatever the other statuses and errors were.
TEST_F(LiveThresholdsTest, AStatusShareIsJudgedOnItsWindowAndLive) {
  for (bool windowed : {false, true}) {
    SCOPED_TRACE(windowed ? "for: 2s" : "since the start");
    plan_.clear_thresholds();
    cells_.assign(1, std::vector<Cell>(1));
    next_index_ = 0;
    v1::Threshold* t = plan_.add_thresholds();
    t->set_metric("status_rate");
    t->set_status("429");
    t->set_lt("5%");
    if (windowed) t->mutable_for_()->set_seconds(2);
    LiveThresholds live(plan_, absl::Seconds(1));
    auto second = [&](int64_t ok, int64_t limited) {
      IntervalView view = Second(ok + limited + 10, 10, 1000);
      v1::RequestStats& stats = view.stats[0];
      (*stats.mutable_status_counts())[200] = ok;
      (*stats.mutable_status_counts())[429] = limited;
      (*stats.mutable_status_counts())[503] = 10;  // the errors: not 429s
      cells_[0][0].statuses[200] += ok;
      cells_[0][0].statuses[429] += limited;
      cells_[0][0].statuses[503] += 10;
      return live.OnInterval(view, cells_);
    };
    EXPECT_TRUE(second(88, 2).empty());  // 2 %
    EXPECT_TRUE(second(88, 2).empty());
    // 12 of 100 429s: the window's share is 14 of 200 (7 %), the run's 16 of
    // 300 (5.3 %).
    auto changes = second(78, 12);
    ASSERT_EQ(changes.size(), 1u);
    EXPECT_TRUE(changes[0].failing);
    EXPECT_NEAR(changes[0].result.actual(), windowed ? 14.0 / 200 : 16.0 / 300,
                1e-9);
  }
}

TEST_F(LiveThresholdsTest, WindowedThresholdPassesWhenNoWindowFailed) {
  v1::Threshold* t = plan_.add_thresholds();
  t->set_metric("error_rate");
  t->set_lt("1%");
  t->mutable_for_()->set_seconds(2);
  LiveThresholds live(plan_, absl::Seconds(1));
  // 0.5 % errors in every window of two seconds.
  for (int i = 0; i < 4; ++i)
    EXPECT_TRUE(
        live.OnInterval(Second(200, i % 2 == 0 ? 2 : 0, 1000), cells_).empty());
  std::vector<v1::ThresholdResult> final_results =
      EvaluateThresholds(plan_, cells_, 4);
  live.Finish(&final_results);
  EXPECT_TRUE(final_results[0].passed());
  EXPECT_EQ(final_results[0].failed_at_s(), 0);
  // Every window was 0.5 %: the first of the worst is the one shown.
  EXPECT_DOUBLE_EQ(final_results[0].actual(), 0.005);
  EXPECT_DOUBLE_EQ(final_results[0].worst_window_end_s(), 2);
}

TEST_F(LiveThresholdsTest, AbortAfterGraceNamesTheThresholdAndTheTime) {
  v1::Threshold* t = plan_.add_thresholds();
  t->set_metric("latency");
  t->set_p(95);
  t->set_lt("500ms");
  t->set_abort(true);
  t->mutable_grace()->set_seconds(2);
  LiveThresholds live(plan_, absl::Seconds(1));
  // Slow from the start, but not judged before 2 s.
  EXPECT_TRUE(live.OnInterval(Second(10, 0, 800'000), cells_).empty());
  EXPECT_FALSE(live.aborted_by());
  auto changes = live.OnInterval(Second(10, 0, 800'000), cells_);
  ASSERT_EQ(changes.size(), 1u);
  ASSERT_TRUE(live.aborted_by());
  EXPECT_EQ(*live.aborted_by(), 0u);
  EXPECT_EQ(live.AbortReason(),
            "threshold p(95) latency < 500ms grace 2s abort failed at 2s "
            "(actual 800ms): aborted");
  std::vector<v1::ThresholdResult> final_results =
      EvaluateThresholds(plan_, cells_, 2);
  live.Finish(&final_results);
  EXPECT_FALSE(final_results[0].passed());
  EXPECT_TRUE(final_results[0].aborted());
  EXPECT_DOUBLE_EQ(final_results[0].failed_at_s(), 2);
}

TEST_F(LiveThresholdsTest, NoDataIsNotAFailureWhileRunning) {
  v1::Threshold* t = plan_.add_thresholds();
  t->set_metric("latency");
  t->set_p(99);
  t->set_lt("1s");
  t->set_abort(true);
  LiveThresholds live(plan_, absl::Seconds(1));
  IntervalView empty;
  EXPECT_TRUE(live.OnInterval(empty, cells_).empty());
  EXPECT_FALSE(live.aborted_by());
}

}  // namespace
}  // namespace stampede::controller

namespace stampede::controller {
namespace {

// A stage threshold judges its stage's seconds only: a ramp's slow start and a
// cool-down's spike do not count; rps divides by the stage's length.
TEST_F(LiveThresholdsTest, AStageIsJudgedOnItsOwnIntervals) {
  v1::Load* load = plan_.mutable_scenarios(0)->mutable_load();
  v1::RateStage* ramp = load->mutable_arrival_rate()->add_stages();
  ramp->mutable_to()->set_per_second(100);
  ramp->mutable_over()->set_seconds(2);
  load->mutable_arrival_rate()->add_stages()->mutable_hold()->set_seconds(3);
  v1::RateStage* down = load->mutable_arrival_rate()->add_stages();
  down->mutable_to()->set_per_second(0);
  down->mutable_over()->set_seconds(1);
  v1::Threshold* rps = plan_.add_thresholds();
  rps->set_metric("rps");
  rps->set_scenario("api");
  rps->set_stage(2);
  rps->set_gte("95/s");
  v1::Threshold* p95 = plan_.add_thresholds();
  p95->set_metric("latency");
  p95->set_p(95);
  p95->set_scenario("api");
  p95->set_stage(2);
  p95->set_lt("10ms");
  EXPECT_TRUE(NeedsIntervalStats(plan_));
  EXPECT_EQ(ThresholdExpression(*rps), "rps{scenario=api,stage=2} >= 95/s");
  LiveThresholds live(plan_, absl::Seconds(1));
  // The ramp: slow and few; not judged.
  EXPECT_TRUE(live.OnInterval(Second(25, 0, 1000), cells_).empty());
  EXPECT_TRUE(live.OnInterval(Second(75, 0, 1000), cells_).empty());
  // The hold: 100/s at 2 ms.
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(live.OnInterval(Second(100, 0, 2000), cells_).empty());
  // The cool-down: 50 requests at 900 ms; not the stage's.
  EXPECT_TRUE(live.OnInterval(Second(50, 0, 900'000), cells_).empty());
  std::vector<v1::ThresholdResult> final_results =
      EvaluateThresholds(plan_, cells_, 6);
  // On the whole run both fail: 425 / 6 s, and a p95 of 900 ms.
  EXPECT_FALSE(final_results[0].passed());
  EXPECT_FALSE(final_results[1].passed());
  live.Finish(&final_results);
  EXPECT_TRUE(final_results[0].passed()) << final_results[0].actual_text();
  EXPECT_DOUBLE_EQ(final_results[0].actual(), 100);
  EXPECT_TRUE(final_results[1].passed()) << final_results[1].actual_text();
  EXPECT_NEAR(final_results[1].actual(), 2, 0.01);
}

// A stage the run never reached (stopped early) has nothing to show it was
// kept: it fails, and says why.
TEST_F(LiveThresholdsTest, AStageTheRunNeverReachedFails) {
  v1::Load* load = plan_.mutable_scenarios(0)->mutable_load();
  load->mutable_arrival_rate()->add_stages()->mutable_hold()->set_seconds(2);
  load->mutable_arrival_rate()->add_stages()->mutable_hold()->set_seconds(2);
  v1::Threshold* t = plan_.add_thresholds();
  t->set_metric("error_rate");
  t->set_scenario("api");
  t->set_stage(2);
  t->set_lt("1%");
  LiveThresholds live(plan_, absl::Seconds(1));
  live.OnInterval(Second(100, 0, 1000), cells_);
  std::vector<v1::ThresholdResult> final_results =
      EvaluateThresholds(plan_, cells_, 1);
  live.Finish(&final_results);
  EXPECT_FALSE(final_results[0].passed());
  EXPECT_EQ(final_results[0].actual_text(),
            "no data (the run ended before the stage)");
}

}  // namespace
}  // namespace stampede::controller
