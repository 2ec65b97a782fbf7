#include "common/load_mix.h"

#include <cmath>
#include <numeric>
#include <random>

#include "common/plan_loader.h"
#include "gtest/gtest.h"

namespace stampede::common {
namespace {

TEST(LoadMix, SplitsTheIssuesExamplesExactly) {
  const LoadMix mix({60, 30, 8, 2});
  EXPECT_EQ(mix.Count(0, 1000), 600u);
  EXPECT_EQ(mix.Count(1, 1000), 300u);
  EXPECT_EQ(mix.Count(2, 1000), 80u);
  EXPECT_EQ(mix.Count(3, 1000), 20u);
  EXPECT_EQ(mix.Count(0, 50), 30u);
  EXPECT_EQ(mix.Count(1, 50), 15u);
  EXPECT_EQ(mix.Count(2, 50), 4u);
  EXPECT_EQ(mix.Count(3, 50), 1u);
}

// Over random weights and levels: every item goes to exactly one member,
// ItemOf and Count agree, and no member is ever more than one item from its
// exact share (the deal is smooth at every level, not only per period).
TEST(LoadMix, EveryLevelIsSplitExactlyAndSmoothly) {
  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    const size_t members = 1 + rng() % 6;
    std::vector<uint32_t> weights;
    for (size_t i = 0; i < members; ++i) weights.push_back(1 + rng() % 100);
    const LoadMix mix(weights);
    const double total = std::accumulate(weights.begin(), weights.end(), 0.0);
    std::vector<uint64_t> seen(members, 0);
    const uint64_t items = 3 * static_cast<uint64_t>(total) + rng() % 50;
    std::vector<int> owner(items, -1);
    for (size_t i = 0; i < members; ++i) {
      for (uint64_t k = 0; mix.ItemOf(i, k) < items; ++k) {
        const uint64_t item = mix.ItemOf(i, k);
        ASSERT_EQ(owner[item], -1) << "item " << item << " dealt twice";
        owner[item] = static_cast<int>(i);
        EXPECT_EQ(mix.Count(i, item), k);
      }
    }
    for (uint64_t n = 0; n <= items; ++n) {
      uint64_t sum = 0;
      for (size_t i = 0; i < members; ++i) {
        const uint64_t c = mix.Count(i, n);
        sum += c;
        EXPECT_LE(std::abs(static_cast<double>(c) -
                           static_cast<double>(n) * weights[i] / total),
                  1.0)
            << "member " << i << " of " << members << " at " << n;
      }
      EXPECT_EQ(sum, n);
    }
    for (uint64_t item = 0; item < items; ++item) EXPECT_GE(owner[item], 0);
  }
}

TEST(LoadMix, APlanLevelLoadIsSharedByWeightedScenarios) {
  std::vector<PlanIssue> issues;
  auto loaded = ParsePlan("mix.yaml", R"(
name: mix
defaults: { base_url: "http://127.0.0.1:1" }
load: { vus: { stages: [ { to: 50, over: 10s } ] } }
scenarios:
  - { name: a, weight: 60, requests: [ { path: / } ] }
  - { name: b, weight: 30, requests: [ { path: / } ] }
  - { name: c, weight: 8, requests: [ { path: / } ] }
  - { name: d, weight: 2, requests: [ { path: / } ] }
  - name: own
    load: { vus: { stages: [ { to: 5, over: 1s } ] } }
    requests: [ { path: / } ]
)",
                          &issues);
  ASSERT_TRUE(loaded.ok());
  EXPECT_TRUE(ValidatePlan(*loaded).empty());
  NormalizePlan(&loaded->plan);
  const v1::TestPlan& plan = loaded->plan;
  const double expected[] = {30, 15, 4, 1};
  for (size_t s = 0; s < 4; ++s) {
    auto mix = MixOf(plan, s);
    ASSERT_TRUE(mix.has_value());
    EXPECT_TRUE(plan.scenarios(s).load().has_vus());  // the shared load
    EXPECT_EQ(ScenarioVuLevel(mix, 50), expected[s]);
    EXPECT_EQ(ScenarioVuLevel(mix, 0), 0);
  }
  EXPECT_FALSE(MixOf(plan, 4).has_value());
  EXPECT_EQ(ScenarioVuLevel(MixOf(plan, 4), 5), 5);
}

TEST(LoadMix, ValidateExplainsAMixThatCannotRun) {
  std::vector<PlanIssue> issues;
  auto loaded = ParsePlan("mix.yaml", R"(name: mix
defaults: { base_url: "http://127.0.0.1:1" }
scenarios:
  - { name: a, weight: 60, requests: [ { path: / } ] }
  - name: b
    weight: 30
    load: { vus: { stages: [ { to: 5, over: 1s } ] } }
    requests: [ { path: / } ]
)",
                          &issues);
  ASSERT_TRUE(loaded.ok());
  std::vector<std::string> messages;
  for (const PlanIssue& i : ValidatePlan(*loaded))
    messages.push_back(i.ToString());
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_NE(messages[0].find("mix.yaml:4:24: scenarios[0].weight: weight "
                             "shares the plan-level load"),
            std::string::npos)
      << messages[0];
  EXPECT_NE(messages[1].find("scenarios[1].weight: a scenario with a weight "
                             "takes its share"),
            std::string::npos)
      << messages[1];
}

}  // namespace
}  // namespace stampede::common
