// Test types from one plan: what each `type:` gives a scenario without stages,
// what it leaves alone, and how --type, --vus, --rate and --duration reshape
// the stages, read as `stampede validate` and `run` load the plan.
#include "common/test_types.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "common/plan_loader.h"
#include "gtest/gtest.h"

namespace stampede::common {
namespace {

absl::Duration Length(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

// A load's stages as a user reads them: "to 5 over 1m, hold 4m".
std::string Stages(const v1::Load& load) {
  std::vector<std::string> out;
  if (load.has_vus()) {
    for (const v1::VuStage& s : load.vus().stages()) {
      out.push_back(
          s.has_hold()
              ? absl::StrCat("hold ", absl::FormatDuration(Length(s.hold())))
              : absl::StrCat("to ", s.to(), " over ",
                             absl::FormatDuration(Length(s.over()))));
    }
  } else {
    for (const v1::RateStage& s : load.arrival_rate().stages()) {
      out.push_back(
          s.has_hold()
              ? absl::StrCat("hold ", absl::FormatDuration(Length(s.hold())))
              : absl::StrCat("to ", s.to().per_second(), "/s over ",
                             absl::FormatDuration(Length(s.over()))));
    }
  }
  return absl::StrJoin(out, ", ");
}

absl::Duration Total(const v1::Load& load) {
  absl::Duration total;
  auto add = [&](const auto& stages) {
    for (const auto& s : stages)
      total += Length(s.has_hold() ? s.hold() : s.over());
  };
  if (load.has_vus()) add(load.vus().stages());
  if (load.has_arrival_rate()) add(load.arrival_rate().stages());
  return total;
}

// `scenarios` (YAML list items) under a plan of `type`, loaded and validated
// as `stampede validate` does, with `overrides`.
absl::StatusOr<LoadedPlan> Load(const std::string& type,
                                const std::string& scenarios,
                                const LoadOverrides& overrides = {},
                                std::vector<std::string>* lines = nullptr) {
  const std::string text =
      absl::StrCat("name: types\n", type.empty() ? "" : "type: ", type,
                   type.empty() ? "" : "\n",
                   "defaults: { base_url: \"http://127.0.0.1:8080\" }\n"
                   "scenarios:\n",
                   scenarios);
  std::vector<PlanIssue> issues;
  absl::StatusOr<LoadedPlan> loaded =
      ParseAndValidatePlan("p.yaml", text, &issues, overrides);
  if (lines != nullptr) {
    for (const PlanIssue& issue : issues) lines->push_back(issue.ToString());
  }
  return loaded;
}

constexpr char kBare[] = "  - { name: s, requests: [ { path: / } ] }\n";

TEST(TestTypesTest, EveryTypeGivesItsStagesAndLength) {
  struct Case {
    std::string type, stages;
    absl::Duration length;
  };
  const std::vector<Case> cases = {
      {"smoke", "to 5 over 1m, hold 4m", absl::Minutes(5)},
      {"load", "to 100 over 5m, hold 20m, to 0 over 5m", absl::Minutes(30)},
      {"stress", "to 500 over 10m, hold 10m, to 0 over 5m", absl::Minutes(25)},
      {"spike",
       "to 10 over 1m, hold 2m, to 200 over 10s, hold 1m, to 10 over 10s, "
       "hold 2m",
       absl::Minutes(6) + absl::Seconds(20)},
      {"soak", "to 50 over 5m, hold 3h50m, to 0 over 5m", absl::Hours(4)},
      {"breakpoint", "to 1000/s over 10m", absl::Minutes(10)},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.type);
    std::vector<std::string> lines;
    absl::StatusOr<LoadedPlan> loaded = Load(c.type, kBare, {}, &lines);
    ASSERT_TRUE(loaded.ok()) << absl::StrJoin(lines, "\n");
    const v1::Load& load = loaded->plan.scenarios(0).load();
    EXPECT_EQ(load.has_arrival_rate(), c.type == "breakpoint");
    EXPECT_EQ(Stages(load), c.stages);
    EXPECT_EQ(Total(load), c.length);
    EXPECT_EQ(loaded->plan.type(), c.type);  // still the result's label
  }
}

TEST(TestTypesTest, ScenarioWithItsOwnStagesKeepsThem) {
  absl::StatusOr<LoadedPlan> loaded = Load(
      "stress",
      "  - name: own\n"
      "    load: { arrival_rate: { stages: [ { to: 20/s, over: 30s } ] } }\n"
      "    requests: [ { path: / } ]\n"
      "  - { name: typed, requests: [ { path: / } ] }\n");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(Stages(loaded->plan.scenarios(0).load()), "to 20/s over 30s");
  EXPECT_EQ(Stages(loaded->plan.scenarios(1).load()),
            "to 500 over 10m, hold 10m, to 0 over 5m");
}

TEST(TestTypesTest, AnyOtherTypeIsOnlyALabel) {
  std::vector<std::string> lines;
  EXPECT_FALSE(Load("nightly", kBare, {}, &lines).ok());
  EXPECT_EQ(lines, std::vector<std::string>{
                       "p.yaml:5:5: scenarios[0].load: a scenario needs a "
                       "load, e.g. load: { arrival_rate: { stages: [...] } }"});
  // Names are lowercase: "Smoke" is a label too.
  EXPECT_FALSE(Load("Smoke", kBare).ok());
  absl::StatusOr<LoadedPlan> labelled =
      Load("nightly",
           "  - name: s\n"
           "    load: { vus: { stages: [ { hold: 5s } ] } }\n"
           "    requests: [ { path: / } ]\n");
  ASSERT_TRUE(labelled.ok()) << labelled.status();
  EXPECT_EQ(labelled->plan.type(), "nightly");
}

TEST(TestTypesTest, AModelWithoutStagesGetsThemAndKeepsItsSettings) {
  absl::StatusOr<LoadedPlan> loaded =
      Load("smoke",
           "  - name: s\n"
           "    load: { vus: { think_time: { constant: 1s }, "
           "iterations_per_vu: 3 } }\n"
           "    requests: [ { path: / } ]\n");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const v1::Vus& vus = loaded->plan.scenarios(0).load().vus();
  EXPECT_EQ(Stages(loaded->plan.scenarios(0).load()), "to 5 over 1m, hold 4m");
  EXPECT_EQ(vus.think_time().constant().seconds(), 1);
  EXPECT_EQ(vus.iterations_per_vu(), 3u);
}

TEST(TestTypesTest, AModelTheTypeCannotFillIsAnIssueAtIt) {
  std::vector<std::string> lines;
  EXPECT_FALSE(Load("smoke",
                    "  - name: s\n"
                    "    load: { arrival_rate: { spacing: poisson } }\n"
                    "    requests: [ { path: / } ]\n",
                    {}, &lines)
                   .ok());
  EXPECT_EQ(lines, std::vector<std::string>{
                       "p.yaml:6:27: scenarios[0].load.arrival_rate: type "
                       "smoke gives VU stages (closed model); write this "
                       "load's stages, or use vus"});
  lines.clear();
  EXPECT_FALSE(Load("breakpoint",
                    "  - name: s\n"
                    "    load: { vus: { think_time: { constant: 1s } } }\n"
                    "    requests: [ { path: / } ]\n",
                    {}, &lines)
                   .ok());
  EXPECT_EQ(lines, std::vector<std::string>{
                       "p.yaml:6:18: scenarios[0].load.vus: type breakpoint "
                       "gives arrival-rate stages (open model); write this "
                       "load's stages, or use arrival_rate"});
}

TEST(TestTypesTest, AUserMixSharesTheTypesStages) {
  // No plan-level load yet: the type gives one, split by weight.
  absl::StatusOr<LoadedPlan> loaded =
      Load("load",
           "  - { name: a, weight: 3, requests: [ { path: /a } ] }\n"
           "  - { name: b, weight: 1, requests: [ { path: /b } ] }\n");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(Stages(loaded->plan.load()),
            "to 100 over 5m, hold 20m, to 0 over 5m");
  EXPECT_EQ(Stages(loaded->plan.scenarios(1).load()),
            "to 100 over 5m, hold 20m, to 0 over 5m");
  // A plan-level load without stages keeps its think time.
  const std::string text =
      "type: smoke\n"
      "defaults: { base_url: \"http://127.0.0.1:8080\" }\n"
      "load: { vus: { think_time: { constant: 2s } } }\n"
      "scenarios:\n"
      "  - { name: a, weight: 1, requests: [ { path: /a } ] }\n";
  loaded = ParseAndValidatePlan("p.yaml", text, nullptr);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(Stages(loaded->plan.load()), "to 5 over 1m, hold 4m");
  EXPECT_EQ(loaded->plan.load().vus().think_time().constant().seconds(), 2);
}

TEST(TestTypesTest, TypeOverrideReplacesThePlansType) {
  LoadOverrides overrides;
  overrides.type = "soak";
  absl::StatusOr<LoadedPlan> loaded = Load("smoke", kBare, overrides);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->plan.type(), "soak");
  EXPECT_EQ(Total(loaded->plan.scenarios(0).load()), absl::Hours(4));
  // And gives stages to a plan that had no type at all.
  loaded = Load("", kBare, overrides);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->plan.type(), "soak");
}

TEST(TestTypesTest, VusScalesClosedModelPeaksProportionally) {
  LoadOverrides overrides;
  overrides.vus = "20";
  absl::StatusOr<LoadedPlan> loaded =
      Load("spike",
           std::string(kBare) +
               "  - name: open\n"
               "    load: { arrival_rate: { stages: [ { to: 8/s, over: 5s } "
               "] } }\n"
               "    requests: [ { path: / } ]\n",
           overrides);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  // 10 of 200 is 1 of 20; lengths unchanged; the open model untouched.
  EXPECT_EQ(Stages(loaded->plan.scenarios(0).load()),
            "to 1 over 1m, hold 2m, to 20 over 10s, hold 1m, to 1 over 10s, "
            "hold 2m");
  EXPECT_EQ(Stages(loaded->plan.scenarios(1).load()), "to 8/s over 5s");

  // Written stages scale as well; a level above 0 stays at least 1 VU.
  overrides.vus = "3";
  loaded = Load("",
                "  - name: s\n"
                "    load: { vus: { stages: [ { to: 10, over: 10s }, { to: "
                "60, over: 10s }, { to: 0, over: 5s } ] } }\n"
                "    requests: [ { path: / } ]\n",
                overrides);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(Stages(loaded->plan.scenarios(0).load()),
            "to 1 over 10s, to 3 over 10s, to 0 over 5s");
}

TEST(TestTypesTest, RateScalesOpenModelPeaks) {
  LoadOverrides overrides;
  overrides.rate = "200/s";
  absl::StatusOr<LoadedPlan> loaded = Load("breakpoint", kBare, overrides);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(Stages(loaded->plan.scenarios(0).load()), "to 200/s over 10m");

  overrides.rate = "30/m";  // 0.5/s
  loaded = Load("",
                "  - name: s\n"
                "    load: { arrival_rate: { stages: [ { to: 100/s, over: 10s "
                "}, { hold: 1m }, { to: 50/s, over: 10s } ] } }\n"
                "    requests: [ { path: / } ]\n",
                overrides);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(Stages(loaded->plan.scenarios(0).load()),
            "to 0.5/s over 10s, hold 1m, to 0.25/s over 10s");
}

TEST(TestTypesTest, DurationScalesEveryStageToTheTotal) {
  LoadOverrides overrides;
  overrides.duration = "10s";
  absl::StatusOr<LoadedPlan> loaded = Load("smoke", kBare, overrides);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(Stages(loaded->plan.scenarios(0).load()), "to 5 over 2s, hold 8s");

  overrides.duration = "90s";
  loaded = Load("load", kBare, overrides);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(Stages(loaded->plan.scenarios(0).load()),
            "to 100 over 15s, hold 1m, to 0 over 15s");

  // 6m20s into 1m: rounded to the millisecond, the last stage taking the
  // rest, so the total is exact; each scenario to its own total.
  overrides.duration = "1m";
  loaded = Load("spike",
                std::string(kBare) +
                    "  - name: own\n"
                    "    load: { arrival_rate: { stages: [ { to: 5/s, over: "
                    "0s }, { hold: 20s } ] } }\n"
                    "    requests: [ { path: / } ]\n",
                overrides);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(Total(loaded->plan.scenarios(0).load()), absl::Minutes(1));
  EXPECT_EQ(Stages(loaded->plan.scenarios(0).load()),
            "to 10 over 9.474s, hold 18.947s, to 200 over 1.579s, hold "
            "9.474s, to 10 over 1.579s, hold 18.947s");
  EXPECT_EQ(Stages(loaded->plan.scenarios(1).load()), "to 5/s over 0, hold 1m");
}

TEST(TestTypesTest, OverridesTogether) {
  LoadOverrides overrides;
  overrides.type = "soak";
  overrides.vus = "2";
  overrides.duration = "4m";
  absl::StatusOr<LoadedPlan> loaded = Load("smoke", kBare, overrides);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(Stages(loaded->plan.scenarios(0).load()),
            "to 2 over 5s, hold 3m50s, to 0 over 5s");
}

TEST(TestTypesTest, BadValuesAreClearErrors) {
  struct Case {
    LoadOverrides overrides;
    std::string want;
  };
  auto vus = [](std::string v) {
    LoadOverrides o;
    o.vus = std::move(v);
    return o;
  };
  auto rate = [](std::string v) {
    LoadOverrides o;
    o.rate = std::move(v);
    return o;
  };
  auto duration = [](std::string v) {
    LoadOverrides o;
    o.duration = std::move(v);
    return o;
  };
  const std::string kVus =
      ": the peak VU count is a whole number from 1 to 1000000";
  const std::vector<Case> cases = {
      {vus("0"), "--vus 0" + kVus},
      {vus("abc"), "--vus abc" + kVus},
      {vus("-3"), "--vus -3" + kVus},
      {vus("1.5"), "--vus 1.5" + kVus},
      {vus("2000000"), "--vus 2000000" + kVus},
      {rate("0/s"),
       "--rate 0/s: the peak arrival rate must be above 0/s and at most "
       "10000000/s"},
      {duration("0s"),
       "--duration 0s: each scenario's length must be from 1s to 24h"},
      {duration("25h"),
       "--duration 25h: each scenario's length must be from 1s to 24h"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.want);
    v1::TestPlan plan;
    plan.set_type("smoke");
    plan.add_scenarios();
    const v1::TestPlan before = plan;
    const absl::Status status = ApplyOverrides(c.overrides, &plan);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(status.message(), c.want);
    EXPECT_EQ(plan.DebugString(), before.DebugString());  // untouched
  }
  // The parsers' own words, with what the flag wants.
  v1::TestPlan plan;
  absl::Status status = ApplyOverrides(rate("abc"), &plan);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(status.message(), "--rate abc: ")) << status;
  EXPECT_TRUE(
      absl::EndsWith(status.message(), " (the peak arrival rate, e.g. 200/s)"))
      << status;
  status = ApplyOverrides(duration("-1s"), &plan);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(status.message(), "--duration -1s: ")) << status;
  EXPECT_TRUE(absl::EndsWith(status.message(),
                             " (each scenario's length, e.g. 90s, 2m)"))
      << status;
}

TEST(TestTypesTest, AnOverrideWithNothingToScaleIsAnError) {
  LoadOverrides overrides;
  overrides.vus = "10";
  std::vector<std::string> lines;
  EXPECT_FALSE(Load("breakpoint", kBare, overrides, &lines).ok());
  EXPECT_EQ(lines, std::vector<std::string>{
                       "p.yaml: --vus 10: the plan has no closed-model (vus) "
                       "load to scale"});
  overrides = {};
  overrides.rate = "10/s";
  lines.clear();
  EXPECT_FALSE(Load("smoke", kBare, overrides, &lines).ok());
  EXPECT_EQ(lines, std::vector<std::string>{
                       "p.yaml: --rate 10/s: the plan has no open-model "
                       "(arrival_rate) load to scale"});
  // A closed-model load that never ramps above 0 has no peak to scale.
  overrides = {};
  overrides.vus = "10";
  lines.clear();
  EXPECT_FALSE(Load("",
                    "  - name: s\n"
                    "    load: { vus: { stages: [ { hold: 5s } ] } }\n"
                    "    requests: [ { path: / } ]\n",
                    overrides, &lines)
                   .ok());
  EXPECT_EQ(lines,
            std::vector<std::string>{"p.yaml: --vus 10: scenarios[0].load "
                                     "never ramps above 0"});
}

TEST(TestTypesTest, ApplyOverridesOnAPlanInHand) {
  v1::TestPlan plan;
  plan.set_type("load");
  plan.add_scenarios()->set_name("s");
  LoadOverrides overrides;
  overrides.vus = "40";
  overrides.duration = "3m";
  ASSERT_TRUE(ApplyOverrides(overrides, &plan).ok());
  EXPECT_EQ(Stages(plan.scenarios(0).load()),
            "to 40 over 30s, hold 2m, to 0 over 30s");
}

}  // namespace
}  // namespace stampede::common
