// Merging what agents report: exact (bucket for bucket), by interval index,
// late data kept.
#include "controller/aggregator.h"

#include <random>

#include "gtest/gtest.h"

namespace stampede::controller {
namespace {

v1::TestPlan TwoRequestPlan() {
  v1::TestPlan plan;
  v1::Scenario* s = plan.add_scenarios();
  s->set_name("s");
  s->add_requests()->set_name("a");
  s->add_requests()->set_name("b");
  return plan;
}

// One agent's interval with `n` random latencies for request `r`.
v1::Interval MakeInterval(uint64_t k, uint32_t r, int n, std::mt19937_64& rng,
                          common::Histogram* also_into) {
  common::Histogram h;
  std::lognormal_distribution<double> dist(7, 1.5);
  for (int i = 0; i < n; ++i) {
    auto v = static_cast<int64_t>(dist(rng));
    h.Record(v);
    also_into->Record(v);
  }
  v1::Interval interval;
  interval.set_index(k);
  v1::RequestStats* stats = interval.add_stats();
  stats->set_scenario(0);
  stats->set_request(r);
  stats->set_latency(h.Encode());
  stats->set_service_time(h.Encode());
  stats->set_requests(n);
  stats->set_errors(n / 10);
  (*stats->mutable_status_counts())[200] = n;
  return interval;
}

TEST(Aggregator, MergedHistogramIsExactlyTheSumOfTheAgents) {
  v1::TestPlan plan = TwoRequestPlan();
  Aggregator agg(plan, 3);
  std::mt19937_64 rng(3);
  common::Histogram expected_a, expected_b;
  int64_t requests = 0;
  for (uint64_t k = 0; k < 5; ++k) {
    for (size_t agent = 0; agent < 3; ++agent) {
      int n = 100 + static_cast<int>(rng() % 400);
      ASSERT_TRUE(agg.Add(agent, MakeInterval(k, 0, n, rng, &expected_a)).ok());
      ASSERT_TRUE(
          agg.Add(agent, MakeInterval(k, 1, n / 2, rng, &expected_b)).ok());
      requests += n + n / 2;
    }
  }
  EXPECT_TRUE(agg.cells()[0][0].latency == expected_a);
  EXPECT_TRUE(agg.cells()[0][1].latency == expected_b);
  EXPECT_EQ(agg.cells()[0][0].requests + agg.cells()[0][1].requests, requests);
  int64_t per_agent = 0;
  for (const AgentTotals& t : agg.agents()) per_agent += t.requests;
  EXPECT_EQ(per_agent, requests);
}

TEST(Aggregator, IntervalsAreTakenByIndexOnceEveryExpectedAgentReported) {
  Aggregator agg(TwoRequestPlan(), 2);
  std::mt19937_64 rng(5);
  common::Histogram sink;
  ASSERT_TRUE(agg.Add(0, MakeInterval(0, 0, 10, rng, &sink)).ok());
  ASSERT_TRUE(agg.Add(0, MakeInterval(1, 0, 10, rng, &sink)).ok());
  EXPECT_FALSE(
      agg.TakeNext({0, 1}, false).has_value());  // agent 1 has not sent k=0
  ASSERT_TRUE(agg.Add(1, MakeInterval(0, 0, 7, rng, &sink)).ok());
  std::optional<IntervalView> v = agg.TakeNext({0, 1}, false);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->index, 0u);
  EXPECT_EQ(v->requests, 17);
  EXPECT_EQ(v->agents.size(), 2u);
  // Forced: k=1 goes without agent 1; its late part still counts in the totals.
  v = agg.TakeNext({0, 1}, true);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->requests, 10);
  ASSERT_TRUE(agg.Add(1, MakeInterval(1, 0, 5, rng, &sink)).ok());
  EXPECT_EQ(agg.late_intervals(), 1);
  EXPECT_EQ(agg.cells()[0][0].requests, 32);
}

// Each interval also splits by request name (the HTML report's per-request
// series), exactly, and MergeInto (a coarser interval) adds the splits up.
TEST(Aggregator, AnIntervalKeepsEachRequestsShareExactly) {
  Aggregator agg(TwoRequestPlan(), 2);
  std::mt19937_64 rng(7);
  common::Histogram a0, b0, a1;
  ASSERT_TRUE(agg.Add(0, MakeInterval(0, 0, 40, rng, &a0)).ok());
  ASSERT_TRUE(agg.Add(1, MakeInterval(0, 0, 60, rng, &a0)).ok());
  ASSERT_TRUE(agg.Add(1, MakeInterval(0, 1, 30, rng, &b0)).ok());
  ASSERT_TRUE(agg.Add(0, MakeInterval(1, 0, 20, rng, &a1)).ok());
  ASSERT_TRUE(agg.Add(1, MakeInterval(1, 0, 10, rng, &a1)).ok());
  std::optional<IntervalView> v = agg.TakeNext({0, 1}, false);
  ASSERT_TRUE(v.has_value());
  ASSERT_EQ(v->by_request.size(), 1u);
  ASSERT_EQ(v->by_request[0].size(), 2u);
  EXPECT_EQ(v->by_request[0][0].requests, 100);
  EXPECT_EQ(v->by_request[0][0].errors, 4 + 6);
  EXPECT_TRUE(v->by_request[0][0].latency == a0);
  EXPECT_EQ(v->by_request[0][1].requests, 30);
  EXPECT_TRUE(v->by_request[0][1].latency == b0);
  std::optional<IntervalView> next = agg.TakeNext({0, 1}, false);
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->by_request[0][1].requests, 0);
  MergeInto(&*v, std::move(*next));
  EXPECT_EQ(v->by_request[0][0].requests, 130);
  common::Histogram both = a0;
  both.Merge(a1);
  EXPECT_TRUE(v->by_request[0][0].latency == both);
  EXPECT_EQ(v->by_request[0][1].requests, 30);
}

TEST(Aggregator, RejectsDataOutsideThePlanOrUndecodableWithoutMergingAnything) {
  Aggregator agg(TwoRequestPlan(), 1);
  std::mt19937_64 rng(9);
  common::Histogram sink;
  v1::Interval bad_index = MakeInterval(0, 0, 10, rng, &sink);
  bad_index.mutable_stats(0)->set_request(7);
  EXPECT_FALSE(agg.Add(0, bad_index).ok());
  v1::Interval bad_bytes = MakeInterval(0, 0, 10, rng, &sink);
  bad_bytes.mutable_stats(0)->set_latency("\x01\xff");
  EXPECT_FALSE(agg.Add(0, bad_bytes).ok());
  EXPECT_EQ(agg.cells()[0][0].requests, 0);
  EXPECT_EQ(agg.agents()[0].requests, 0);
  EXPECT_FALSE(agg.HasPending());
}

TEST(Aggregator, RejectsImplausibleCountsSoSumsCannotOverflow) {
  Aggregator agg(TwoRequestPlan(), 1);
  std::mt19937_64 rng(11);
  common::Histogram sink;
  v1::Interval negative = MakeInterval(0, 0, 10, rng, &sink);
  negative.mutable_stats(0)->set_requests(-5);
  EXPECT_FALSE(agg.Add(0, negative).ok());
  v1::Interval huge = MakeInterval(0, 0, 10, rng, &sink);
  huge.mutable_stats(0)->set_errors(int64_t{1} << 62);
  EXPECT_FALSE(agg.Add(0, huge).ok());
  v1::Interval huge_status = MakeInterval(0, 0, 10, rng, &sink);
  (*huge_status.mutable_stats(0)->mutable_status_counts())[200] = int64_t{1}
                                                                  << 62;
  EXPECT_FALSE(agg.Add(0, huge_status).ok());
  // A histogram that decodes fine alone but holds 2^62 values: twice of it
  // would overflow the merged total.
  common::Histogram big;
  big.RecordN(100, int64_t{1} << 62);
  v1::Interval huge_histogram = MakeInterval(0, 0, 10, rng, &sink);
  huge_histogram.mutable_stats(0)->set_latency(big.Encode());
  absl::Status s = agg.Add(0, huge_histogram);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("more than any agent sends"), std::string::npos)
      << s.message();
  EXPECT_EQ(agg.cells()[0][0].requests, 0);
  EXPECT_EQ(agg.cells()[0][0].latency.Count(), 0);
  // Ordinary data still goes in.
  EXPECT_TRUE(agg.Add(0, MakeInterval(0, 0, 10, rng, &sink)).ok());
}

}  // namespace
}  // namespace stampede::controller
