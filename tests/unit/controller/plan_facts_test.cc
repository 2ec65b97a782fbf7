// What a result records about its plan: the plan as run with ${VAR} values
// put back, each scenario's targets and peak, and the plan's fingerprint.
#include "controller/plan_facts.h"

#include <cstdlib>
#include <string>
#include <vector>

#include "common/plan_loader.h"
#include "gtest/gtest.h"

namespace stampede::controller {
namespace {

using common::LoadedPlan;
using common::PlanIssue;

LoadedPlan Parse(const std::string& text) {
  std::vector<PlanIssue> issues;
  absl::StatusOr<LoadedPlan> loaded =
      common::ParsePlan("plan.yaml", text, &issues);
  EXPECT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_TRUE(issues.empty());
  common::NormalizePlan(&loaded->plan);
  return *std::move(loaded);
}

constexpr char kPlan[] = R"(
name: shop
defaults:
  base_url: "${STAMPEDE_TEST_BASE}"
  headers: { Authorization: "Bearer ${STAMPEDE_TEST_SECRET}" }
scenarios:
  - name: browse
    load: { arrival_rate: { stages: [ { to: 50/s, over: 2s }, { to: 200/s, over: 2s }, { hold: 5s } ] } }
    requests:
      - { path: "/cart/${STAMPEDE_TEST_SECRET}" }
      - { path: "https://user:pw@cdn.shop.test:8443/img.png" }
      - { path: "https://{{host}}/x" }
  - name: users
    load: { vus: { stages: [ { to: 20, over: 2s }, { to: 5, over: 2s } ] } }
    flow:
      - path: /login
      - steps:
          - path: "http://auth.shop.test/token"
thresholds:
  - { metric: latency, p: 95, lt: 500ms }
)";

class PlanFactsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("STAMPEDE_TEST_BASE", "http://127.0.0.1:8080", 1);
    setenv("STAMPEDE_TEST_SECRET", "tok-0123456789", 1);
  }
};

TEST_F(PlanFactsTest, ThePlanAsRunShowsVariablesNotTheirValues) {
  LoadedPlan loaded = Parse(kPlan);
  v1::TestPlan as_run = loaded.plan;
  common::RedactPlan(loaded.env_values, &as_run);
  const std::string text = as_run.DebugString();
  EXPECT_EQ(text.find("tok-0123456789"), std::string::npos) << text;
  EXPECT_EQ(as_run.defaults().headers().at("Authorization"),
            "Bearer ${STAMPEDE_TEST_SECRET}");
  // Copied by NormalizePlan into the scenario, and into a request's name.
  EXPECT_EQ(as_run.scenarios(0).headers().at("Authorization"),
            "Bearer ${STAMPEDE_TEST_SECRET}");
  EXPECT_EQ(as_run.scenarios(0).requests(0).path(),
            "/cart/${STAMPEDE_TEST_SECRET}");
  EXPECT_EQ(as_run.scenarios(0).requests(0).name(),
            "GET /cart/${STAMPEDE_TEST_SECRET}");
  EXPECT_EQ(as_run.scenarios(0).base_url(), "${STAMPEDE_TEST_BASE}");
  // What did not come from a variable stays.
  EXPECT_EQ(as_run.scenarios(1).flow(0).path(), "/login");
  // The plan that runs keeps the values.
  EXPECT_EQ(loaded.plan.defaults().headers().at("Authorization"),
            "Bearer tok-0123456789");
}

TEST_F(PlanFactsTest, OriginsAreEveryTargetOnceWithoutUserInfo) {
  LoadedPlan loaded = Parse(kPlan);
  EXPECT_EQ(ScenarioOrigins(loaded.plan, 0),
            (std::vector<std::string>{"http://127.0.0.1:8080",
                                      "https://cdn.shop.test:8443"}));
  EXPECT_EQ(ScenarioOrigins(loaded.plan, 1),
            (std::vector<std::string>{"http://127.0.0.1:8080",
                                      "http://auth.shop.test"}));
  EXPECT_EQ(OriginOf("wss://chat.test/ws?x=1"), "wss://chat.test");
  EXPECT_EQ(OriginOf("/relative"), "");
  EXPECT_EQ(OriginOf("ftp://files.test/"), "");
}

TEST_F(PlanFactsTest, PeaksAreThePlansHighestLevels) {
  LoadedPlan loaded = Parse(kPlan);
  EXPECT_DOUBLE_EQ(ScenarioPeakOf(loaded.plan, 0).target_rps, 200);
  EXPECT_EQ(ScenarioPeakOf(loaded.plan, 0).vus, 0);
  EXPECT_EQ(ScenarioPeakOf(loaded.plan, 1).vus, 20);
}

TEST_F(PlanFactsTest, FingerprintChangesWithTheLoadNotWithTheVerdict) {
  LoadedPlan loaded = Parse(kPlan);
  const std::vector<std::string> origins = ScenarioOrigins(loaded.plan, 0);
  const std::string base = PlanFingerprint(loaded.plan, origins);
  EXPECT_EQ(base.rfind("sha256:", 0), 0u);
  EXPECT_EQ(base.size(), 7u + 64);
  EXPECT_EQ(PlanFingerprint(loaded.plan, origins), base);

  v1::TestPlan renamed = loaded.plan;
  renamed.set_name("other");
  renamed.clear_thresholds();
  renamed.set_type("soak");
  EXPECT_EQ(PlanFingerprint(renamed, origins), base);

  v1::TestPlan faster = loaded.plan;
  faster.mutable_scenarios(0)
      ->mutable_load()
      ->mutable_arrival_rate()
      ->mutable_stages(1)
      ->mutable_to()
      ->set_per_second(300);
  EXPECT_NE(PlanFingerprint(faster, origins), base);

  // A redacted plan aimed elsewhere reads the same; its origins do not.
  EXPECT_NE(PlanFingerprint(loaded.plan, {"http://10.0.0.9:8080"}), base);
}

}  // namespace
}  // namespace stampede::controller
