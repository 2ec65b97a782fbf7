// Test types from one plan, through the real binary: `stampede validate` and
// `stampede run` with --type, --vus, --rate and --duration; the run's result
// records the type and the stages as run.
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/integration/e2e_fixture.h"
#include "tests/integration/process.h"

namespace stampede::testing {
namespace {

// A scenario without a load: its stages come from the type.
constexpr char kSmoke[] = R"(name: types
type: smoke
defaults: { base_url: "http://127.0.0.1:$PORT" }
scenarios:
  - { name: home, requests: [ { path: / } ] }
)";

class TestTypesEndToEnd : public EndToEnd {
 protected:
  // `stampede validate PLAN FLAGS`: its exit code, with its output in *log.
  int Validate(const std::string& plan, const std::string& flags,
               std::string* log) {
    Child validate({"/bin/sh", "-c",
                    absl::StrCat(BinaryPath("stampede"), " validate ",
                                 PlanFile(plan), " ", flags)},
                   log_file());
    const int code = validate.Wait(30);
    *log = ReadFile(log_file());
    return code;
  }
};

TEST_F(TestTypesEndToEnd, ValidateTakesTheOverrides) {
  std::string log;
  EXPECT_EQ(Validate(kSmoke, "--duration 10s --vus 2", &log), 0) << log;
  EXPECT_TRUE(absl::StrContains(log, "plan.yaml: valid (1 scenario")) << log;

  // A bad value names its flag; the plan is invalid as overridden (exit 2).
  EXPECT_EQ(Validate(kSmoke, "--vus 0", &log), 2) << log;
  EXPECT_TRUE(absl::StrContains(
      log,
      "plan.yaml: --vus 0: the peak VU count is a whole number from 1 "
      "to 1000000"))
      << log;
  EXPECT_EQ(Validate(kSmoke, "--rate abc", &log), 2) << log;
  EXPECT_TRUE(absl::StrContains(log, "plan.yaml: --rate abc: ")) << log;
  EXPECT_EQ(Validate(kSmoke, "--duration=-1s", &log), 2) << log;
  EXPECT_TRUE(absl::StrContains(log, "plan.yaml: --duration -1s: ")) << log;
  // smoke is closed-model: --rate has nothing to scale.
  EXPECT_EQ(Validate(kSmoke, "--rate 50/s", &log), 2) << log;
  EXPECT_TRUE(absl::StrContains(log, "--rate 50/s: the plan has no open-model"))
      << log;

  // Without a type the scenario has no load; --type gives it one.
  const std::string untyped = R"(name: types
defaults: { base_url: "http://127.0.0.1:$PORT" }
scenarios:
  - { name: home, requests: [ { path: / } ] }
)";
  EXPECT_EQ(Validate(untyped, "", &log), 2) << log;
  EXPECT_TRUE(absl::StrContains(log,
                                "scenarios[0].load: a scenario needs a "
                                "load"))
      << log;
  EXPECT_EQ(Validate(untyped, "--type breakpoint --rate 20/s", &log), 0) << log;
}

TEST_F(TestTypesEndToEnd, RunRecordsTheTypeAndTheStagesAsRun) {
  const RunOutcome run =
      Run(absl::StrCat(kSmoke,
                       "  - name: own\n"
                       "    load: { arrival_rate: { stages: [ { to: "
                       "20/s, over: 0s }, { hold: 1s } ] } }\n"
                       "    requests: [ { path: / } ]\n"),
          "--type load --vus 2 --duration 2s");
  ASSERT_EQ(run.exit_code, 0) << run.log;
  ASSERT_TRUE(run.has_result) << run.log;
  EXPECT_EQ(run.result.test_type(), "load");
  // load is to 100 over 5m, hold 20m, to 0 over 5m: at 2 VUs and 2s, 1/6,
  // 2/3 and 1/6 of it.
  const v1::Vus& vus = run.result.plan().scenarios(0).load().vus();
  ASSERT_EQ(vus.stages_size(), 3);
  EXPECT_EQ(vus.stages(0).to(), 2u);
  EXPECT_EQ(vus.stages(0).over().nanos(), 333'000'000);
  EXPECT_EQ(vus.stages(1).hold().seconds(), 1);
  EXPECT_EQ(vus.stages(1).hold().nanos(), 333'000'000);
  EXPECT_EQ(vus.stages(2).to(), 0u);
  EXPECT_EQ(vus.stages(2).over().nanos(), 334'000'000);
  // The scenario with its own stages keeps them, stretched to 2s; --vus
  // leaves its rate alone.
  const v1::ArrivalRate& rate =
      run.result.plan().scenarios(1).load().arrival_rate();
  ASSERT_EQ(rate.stages_size(), 2);
  EXPECT_EQ(rate.stages(0).to().per_second(), 20);
  EXPECT_EQ(rate.stages(1).hold().seconds(), 2);
  EXPECT_GT(target_->Served(), 0);
}

}  // namespace
}  // namespace stampede::testing
