#include "controller/liveness.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "google/protobuf/text_format.h"

namespace stampede::controller {
namespace {

v1::TestPlan PlanOf(const std::string& text) {
  v1::TestPlan plan;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &plan));
  return plan;
}

TEST(Liveness, LostShareIsByWeight) {
  EXPECT_DOUBLE_EQ(LostShare({1, 1, 1, 1}, {false, true, false, false}), 0.25);
  EXPECT_DOUBLE_EQ(LostShare({1, 3}, {false, true}), 0.75);
  EXPECT_DOUBLE_EQ(LostShare({2, 2}, {false, false}), 0);
}

TEST(Liveness, PolicyDefaultsToContinueUpToAQuarter) {
  const LossPolicy policy = LossPolicyOf(PlanOf(""));
  EXPECT_FALSE(policy.abort_on_loss);
  EXPECT_DOUBLE_EQ(policy.max_lost_share, 0.25);
  EXPECT_EQ(LossAbortReason(policy, 0.25, "a"), "");
  EXPECT_NE(LossAbortReason(policy, 1.0 / 3, "a").find("max_lost_share 25.0%"),
            std::string::npos);
}

TEST(Liveness, AbortPolicyAbortsOnAnyLossAndNamesTheAgent) {
  const LossPolicy policy = LossPolicyOf(PlanOf(R"(on_agent_loss: "abort")"));
  const std::string why = LossAbortReason(policy, 0.01, "edge-7");
  EXPECT_NE(why.find("edge-7"), std::string::npos) << why;
  EXPECT_NE(why.find("on_agent_loss: abort"), std::string::npos) << why;
}

TEST(Liveness, MaxLostShareReadsPercentOrFraction) {
  EXPECT_DOUBLE_EQ(
      LossPolicyOf(PlanOf(R"(max_lost_share: "50%")")).max_lost_share, 0.5);
  EXPECT_DOUBLE_EQ(
      LossPolicyOf(PlanOf(R"(max_lost_share: "0.1")")).max_lost_share, 0.1);
}

TEST(Liveness, PlannedRequestsSplitTheArrivalsExactly) {
  const v1::TestPlan plan = PlanOf(R"(
    scenarios { load { arrival_rate { stages { to { per_second: 100 } over { seconds: 0 } }
                                      stages { hold { seconds: 10 } } } } }
    scenarios { load { vus { stages { to: 5 over { seconds: 1 } } shared_iterations: 31 } } })");
  // 1,000 arrivals and 31 iterations over weights 1:2:1.
  const std::vector<uint32_t> weights = {1, 2, 1};
  int64_t total = 0;
  for (size_t a = 0; a < weights.size(); ++a)
    total += PlannedRequests(plan, weights, a);
  EXPECT_EQ(total, 1031);
  // Half of each: 500 arrivals, and 15 or 16 of the 31 iterations.
  EXPECT_GE(PlannedRequests(plan, weights, 1), 515);
  EXPECT_LE(PlannedRequests(plan, weights, 1), 516);
  EXPECT_LE(std::abs(PlannedRequests(plan, weights, 0) -
                     PlannedRequests(plan, weights, 2)),
            1);
}

TEST(Liveness, ClosedModelWithoutACountPlansNone) {
  const v1::TestPlan plan = PlanOf(
      "scenarios { load { vus { stages { to: 5 over { seconds: 1 } } } } }");
  EXPECT_EQ(PlannedRequests(plan, {1, 1}, 0), -1);
}

}  // namespace
}  // namespace stampede::controller
