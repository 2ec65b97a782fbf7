#include "common/plan_loader.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace stampede::common {
namespace {

namespace fs = std::filesystem;

const std::string kPlans = STAMPEDE_SOURCE_DIR "/tests/testdata/plans";

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<fs::path> PlanFiles(const std::string& dir,
                                const std::string& ext) {
  std::vector<fs::path> files;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() == ext) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<std::string> Lines(const std::vector<PlanIssue>& issues) {
  std::vector<std::string> lines;
  for (const PlanIssue& issue : issues) lines.push_back(issue.ToString());
  return lines;
}

// Every bad/NN-name.yaml must produce exactly the issue lines in
// bad/NN-name.expected, with the file written as its bare name.
TEST(PlanLoaderTest, BadPlansProduceExpectedIssues) {
  unsetenv("STAMPEDE_TEST_SURELY_UNSET");
  const std::string dir = kPlans + "/bad";
  const std::vector<fs::path> cases = PlanFiles(dir, ".yaml");
  EXPECT_GE(cases.size(), 15u);
  for (const fs::path& plan : cases) {
    SCOPED_TRACE(plan.filename().string());
    fs::path expected_file = plan;
    expected_file.replace_extension(".expected");
    ASSERT_TRUE(fs::exists(expected_file)) << "missing " << expected_file;
    std::vector<std::string> want;
    for (absl::string_view line :
         absl::StrSplit(ReadFile(expected_file), '\n')) {
      if (!line.empty()) want.emplace_back(line);
    }
    ASSERT_FALSE(want.empty()) << "empty " << expected_file;

    std::vector<PlanIssue> issues;
    absl::StatusOr<LoadedPlan> loaded =
        LoadAndValidatePlan(plan.string(), &issues);
    ASSERT_FALSE(loaded.ok());
    EXPECT_EQ(loaded.status().code(), absl::StatusCode::kInvalidArgument);
    const std::vector<std::string> full = Lines(issues);
    EXPECT_EQ(loaded.status().message(), absl::StrJoin(full, "\n"));
    std::vector<std::string> got;
    for (const std::string& line : full) {
      got.emplace_back(absl::StripPrefix(line, dir + "/"));
    }
    EXPECT_EQ(got, want) << "got:\n" << absl::StrJoin(got, "\n");
  }
}

TEST(PlanLoaderTest, GoodPlansLoadAndAreNormalized) {
  std::vector<fs::path> files = PlanFiles(kPlans + "/good", ".yaml");
  const std::vector<fs::path> json = PlanFiles(kPlans + "/good", ".json");
  files.insert(files.end(), json.begin(), json.end());
  ASSERT_GE(files.size(), 4u);
  for (const fs::path& file : files) {
    SCOPED_TRACE(file.filename().string());
    std::vector<PlanIssue> issues;
    absl::StatusOr<LoadedPlan> loaded =
        LoadAndValidatePlan(file.string(), &issues);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    EXPECT_TRUE(issues.empty());
    ASSERT_GT(loaded->plan.scenarios_size(), 0);
    for (const v1::Scenario& scenario : loaded->plan.scenarios()) {
      EXPECT_TRUE(scenario.has_timeout());
      EXPECT_GT(scenario.timeout().seconds(), 0);
      EXPECT_GT(scenario.max_connections(), 0u);
      for (const v1::Request& request : scenario.requests()) {
        EXPECT_FALSE(request.name().empty());
        EXPECT_FALSE(request.method().empty());
        EXPECT_GE(request.weight(), 1u);
      }
    }
  }
}

TEST(PlanLoaderTest, QuickstartValuesAndDefaults) {
  absl::StatusOr<LoadedPlan> loaded =
      LoadAndValidatePlan(kPlans + "/good/quickstart.yaml", nullptr);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const v1::TestPlan& plan = loaded->plan;
  ASSERT_EQ(plan.scenarios_size(), 1);
  const v1::Scenario& s = plan.scenarios(0);
  EXPECT_EQ(s.name(), "browse");
  EXPECT_EQ(s.base_url(), "http://127.0.0.1:8080");  // from defaults
  EXPECT_EQ(s.timeout().seconds(), 10);              // built-in default
  EXPECT_EQ(s.max_connections(), 256u);
  const auto& stages = s.load().arrival_rate().stages();
  ASSERT_EQ(stages.size(), 2);
  EXPECT_DOUBLE_EQ(stages[0].to().per_second(), 200);
  EXPECT_EQ(stages[0].over().seconds(), 10);
  EXPECT_FALSE(stages[0].has_hold());
  EXPECT_EQ(stages[1].hold().seconds(), 20);
  EXPECT_FALSE(stages[1].has_to());
  ASSERT_EQ(s.requests_size(), 2);
  EXPECT_EQ(s.requests(0).method(), "GET");
  EXPECT_EQ(s.requests(0).weight(), 3u);
  EXPECT_EQ(s.requests(1).method(), "POST");
  EXPECT_EQ(s.requests(1).body(), R"({"n":1})");
  ASSERT_EQ(plan.thresholds_size(), 2);
  EXPECT_EQ(plan.thresholds(0).metric(), "latency");
  EXPECT_DOUBLE_EQ(plan.thresholds(0).p(), 95);
  EXPECT_EQ(plan.thresholds(0).lt(), "500ms");
  EXPECT_EQ(plan.thresholds(1).lt(), "1%");
}

TEST(PlanLoaderTest, JsonPlanEqualsYamlTwin) {
  absl::StatusOr<LoadedPlan> yaml =
      LoadAndValidatePlan(kPlans + "/good/quickstart.yaml", nullptr);
  absl::StatusOr<LoadedPlan> json =
      LoadAndValidatePlan(kPlans + "/good/quickstart.json", nullptr);
  ASSERT_TRUE(yaml.ok()) << yaml.status();
  ASSERT_TRUE(json.ok()) << json.status();
  std::string diff;
  google::protobuf::util::MessageDifferencer differencer;
  differencer.ReportDifferencesToString(&diff);
  EXPECT_TRUE(differencer.Compare(yaml->plan, json->plan)) << diff;
}

TEST(PlanLoaderTest, NormalizeFillsDefaultsWithoutOverriding) {
  absl::StatusOr<LoadedPlan> loaded =
      LoadAndValidatePlan(kPlans + "/good/full.yaml", nullptr);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const v1::TestPlan& plan = loaded->plan;
  ASSERT_EQ(plan.scenarios_size(), 2);
  const v1::Scenario& browse = plan.scenarios(0);
  EXPECT_EQ(browse.base_url(), "http://shop.internal:8080");
  EXPECT_EQ(browse.timeout().seconds(), 2);  // from defaults
  EXPECT_EQ(browse.max_connections(), 1000u);
  EXPECT_EQ(browse.headers().at("Authorization"), "Bearer static-token");
  EXPECT_EQ(browse.headers().at("X-Template"), "${not_expanded}");
  EXPECT_EQ(browse.requests(1).weight(), 1u);
  EXPECT_EQ(browse.requests(2).name(), "GET /health");
  EXPECT_EQ(browse.requests(2).method(), "GET");

  const v1::Scenario& admin = plan.scenarios(1);
  EXPECT_EQ(admin.base_url(), "https://admin.internal");
  EXPECT_EQ(admin.timeout().seconds(), 30);
  EXPECT_EQ(admin.max_connections(), 256u);
  EXPECT_EQ(admin.headers().at("Authorization"),
            "Bearer admin-token");  // scenario wins
  EXPECT_EQ(admin.headers().at("X-Template"), "${not_expanded}");
  EXPECT_EQ(admin.requests(0).name(), "DELETE /api/v1/cache");
  EXPECT_DOUBLE_EQ(admin.load().arrival_rate().stages(0).to().per_second(),
                   2.0 / 60);
  EXPECT_EQ(admin.load().arrival_rate().stages(1).hold().seconds(), 3600);

  // A second pass changes nothing.
  v1::TestPlan again = plan;
  NormalizePlan(&again);
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(again, plan));
}

// The default verdict: a plan that judges no error rate gets error_rate < 1%
// (origin "default") once; one of its own, or default_thresholds: false,
// leaves the thresholds as written; a plan cannot claim the origin.
TEST(PlanLoaderTest, APlanThatJudgesNoErrorRateGetsTheDefaultThreshold) {
  auto normalized = [](const std::string& tail) {
    std::vector<PlanIssue> issues;
    absl::StatusOr<LoadedPlan> loaded =
        ParsePlan("p.yaml",
                  "scenarios:\n  - name: s\n    base_url: http://a.test\n"
                  "    load: { vus: { stages: [ { to: 1, over: 1s } ] } }\n"
                  "    requests: [ { path: / } ]\n" +
                      tail,
                  &issues);
    EXPECT_TRUE(loaded.ok());
    if (!loaded.ok()) return v1::TestPlan();
    EXPECT_TRUE(ValidatePlan(*loaded).empty());
    NormalizePlan(&loaded->plan);
    return loaded->plan;
  };
  v1::TestPlan plan = normalized("");
  ASSERT_EQ(plan.thresholds_size(), 1);
  EXPECT_EQ(plan.thresholds(0).metric(), "error_rate");
  EXPECT_EQ(plan.thresholds(0).lt(), "1%");
  EXPECT_EQ(plan.thresholds(0).origin(), "default");
  v1::TestPlan again = plan;
  NormalizePlan(&again);
  EXPECT_EQ(again.thresholds_size(), 1);  // once
  // Latency alone, or one error id's share, judges no error rate.
  EXPECT_EQ(normalized("thresholds: [ { metric: latency, p: 95, lt: 1s }, "
                       "{ metric: error_rate, error: http_429, lt: 5% } ]\n")
                .thresholds_size(),
            3);
  plan = normalized(
      "thresholds: [ { metric: error_rate, scenario: s, lt: 10% } ]\n");
  ASSERT_EQ(plan.thresholds_size(), 1);
  EXPECT_EQ(plan.thresholds(0).lt(), "10%");
  EXPECT_EQ(normalized("default_thresholds: false\n").thresholds_size(), 0);
  EXPECT_EQ(normalized("default_thresholds: true\n").thresholds_size(), 1);

  std::vector<PlanIssue> issues;
  absl::StatusOr<LoadedPlan> claimed = ParsePlan(
      "p.yaml",
      "scenarios:\n  - name: s\n    base_url: http://a.test\n"
      "    load: { vus: { stages: [ { to: 1, over: 1s } ] } }\n"
      "    requests: [ { path: / } ]\n"
      "thresholds: [ { metric: error_rate, lt: 5%, origin: mine } ]\n",
      &issues);
  ASSERT_TRUE(claimed.ok());
  issues = ValidatePlan(*claimed);
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].ToString(),
            "p.yaml:6:53: thresholds[0].origin: origin is set by stampede "
            "(\"default\", for its default threshold), not by plans");
}

TEST(PlanLoaderTest, ExpandsEnvironmentVariables) {
  setenv("STAMPEDE_TEST_TOKEN", "s3cret", 1);
  setenv("STAMPEDE_TEST_RATE", "75/s", 1);
  setenv("STAMPEDE_TEST_EMPTY", "", 1);
  const std::string text = R"(
name: "${STAMPEDE_TEST_TOKEN}-plan"
defaults:
  base_url: http://localhost:8080
  headers:
    Authorization: "Bearer ${STAMPEDE_TEST_TOKEN}"
    X-Literal: "$${STAMPEDE_TEST_TOKEN} costs $5"
    X-Empty: "[${STAMPEDE_TEST_EMPTY}]"
scenarios:
  - name: browse
    load: { arrival_rate: { stages: [ { to: "${STAMPEDE_TEST_RATE}", over: 5s } ] } }
    requests: [ { path: / } ]
)";
  std::vector<PlanIssue> issues;
  absl::StatusOr<LoadedPlan> loaded = ParsePlan("env.yaml", text, &issues);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_TRUE(issues.empty());
  EXPECT_EQ(loaded->plan.name(), "s3cret-plan");
  const auto& headers = loaded->plan.defaults().headers();
  EXPECT_EQ(headers.at("Authorization"), "Bearer s3cret");
  EXPECT_EQ(headers.at("X-Literal"), "${STAMPEDE_TEST_TOKEN} costs $5");
  EXPECT_EQ(headers.at("X-Empty"), "[]");
  EXPECT_DOUBLE_EQ(loaded->plan.scenarios(0)
                       .load()
                       .arrival_rate()
                       .stages(0)
                       .to()
                       .per_second(),
                   75);
}

TEST(PlanLoaderTest, UnsetOrMalformedVariableIsAnError) {
  unsetenv("STAMPEDE_TEST_SURELY_UNSET");
  std::vector<PlanIssue> issues;
  absl::StatusOr<LoadedPlan> loaded = ParsePlan(
      "env.yaml",
      "name: a${STAMPEDE_TEST_SURELY_UNSET}\ndefaults:\n  base_url: ${X\n",
      &issues);
  EXPECT_FALSE(loaded.ok());
  EXPECT_EQ(Lines(issues), (std::vector<std::string>{
                               "env.yaml:1:7: name: environment variable "
                               "STAMPEDE_TEST_SURELY_UNSET is not set",
                               "env.yaml:3:13: defaults.base_url: unterminated "
                               "${ in \"${X\" (write $${ for a "
                               "literal ${)"}));
}

// ${VAR:-default}: VAR when set and not empty, else the default as written
// (which may be empty); the form as written is kept for RedactPlan.
TEST(PlanLoaderTest, ExpandsDefaultsWhenUnsetOrEmpty) {
  setenv("STAMPEDE_TEST_HOST", "api.internal", 1);
  setenv("STAMPEDE_TEST_EMPTY", "", 1);
  unsetenv("STAMPEDE_TEST_SURELY_UNSET");
  const std::string text = R"(
name: "${STAMPEDE_TEST_SURELY_UNSET:-nightly}"
type: ${STAMPEDE_TEST_EMPTY:-smoke}
defaults:
  base_url: "http://${STAMPEDE_TEST_HOST:-localhost}:8080"
  headers:
    X-Empty-Default: "[${STAMPEDE_TEST_SURELY_UNSET:-}]"
    X-Odd-Default: "${STAMPEDE_TEST_SURELY_UNSET:-a:-b -c}"
    X-Literal: "$${STAMPEDE_TEST_HOST:-x}"
scenarios:
  - name: browse
    load: { arrival_rate: { stages: [ { to: "${STAMPEDE_TEST_SURELY_UNSET:-40/s}", over: 5s } ] } }
    requests: [ { path: / } ]
)";
  std::vector<PlanIssue> issues;
  absl::StatusOr<LoadedPlan> loaded = ParsePlan("env.yaml", text, &issues);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_TRUE(issues.empty());
  EXPECT_EQ(loaded->plan.name(), "nightly");     // unset: the default
  EXPECT_EQ(loaded->plan.type(), "smoke");       // empty: the default
  EXPECT_EQ(loaded->plan.defaults().base_url(),  // set: its value
            "http://api.internal:8080");
  const auto& headers = loaded->plan.defaults().headers();
  EXPECT_EQ(headers.at("X-Empty-Default"), "[]");
  EXPECT_EQ(headers.at("X-Odd-Default"), "a:-b -c");  // taken literally
  EXPECT_EQ(headers.at("X-Literal"), "${STAMPEDE_TEST_HOST:-x}");
  EXPECT_DOUBLE_EQ(loaded->plan.scenarios(0)
                       .load()
                       .arrival_rate()
                       .stages(0)
                       .to()
                       .per_second(),
                   40);
  EXPECT_EQ(loaded->env_values.at("http://api.internal:8080"),
            "http://${STAMPEDE_TEST_HOST:-localhost}:8080");
  EXPECT_EQ(loaded->env_values.at("nightly"),
            "${STAMPEDE_TEST_SURELY_UNSET:-nightly}");

  // Set, the variable wins over its default.
  setenv("STAMPEDE_TEST_EMPTY", "load", 1);
  loaded = ParsePlan("env.yaml", text, nullptr);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->plan.type(), "load");
  unsetenv("STAMPEDE_TEST_EMPTY");
  loaded = ParsePlan("env.yaml", text, nullptr);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->plan.type(), "smoke");
}

TEST(PlanLoaderTest, MalformedDefaultsAreErrorsAtTheirValue) {
  unsetenv("STAMPEDE_TEST_SURELY_UNSET");
  std::vector<PlanIssue> issues;
  absl::StatusOr<LoadedPlan> loaded =
      ParsePlan("env.yaml",
                "name: ${STAMPEDE_TEST_SURELY_UNSET:-a${B}}\n"
                "type: \"${STAMPEDE_TEST_SURELY_UNSET-smoke}\"\n"
                "defaults:\n"
                "  base_url: x${STAMPEDE_TEST_SURELY_UNSET:smoke}\n"
                "  headers: { A: \"${:-x}\", B: \"${X:-y\" }\n",
                &issues);
  EXPECT_FALSE(loaded.ok());
  EXPECT_EQ(
      Lines(issues),
      (std::vector<std::string>{
          "env.yaml:1:7: name: the default in "
          "\"${STAMPEDE_TEST_SURELY_UNSET:-a${B}\" holds ${: a default is "
          "literal text (no nesting)",
          "env.yaml:2:7: type: unsupported "
          "\"${STAMPEDE_TEST_SURELY_UNSET-smoke}\"; a default is written "
          "${VAR:-default}",
          "env.yaml:4:13: defaults.base_url: unsupported "
          "\"${STAMPEDE_TEST_SURELY_UNSET:smoke}\"; a default is written "
          "${VAR:-default}",
          "env.yaml:5:17: defaults.headers.A: invalid environment variable "
          "name \"\" in ${...}",
          "env.yaml:5:30: defaults.headers.B: unterminated ${ in \"${X:-y\" "
          "(write $${ for a literal ${)"}));
}

// A default's length, not the variable's, moves the column of what follows.
TEST(PlanLoaderTest, IssueAfterADefaultIsAtItsColumn) {
  unsetenv("STAMPEDE_TEST_SURELY_UNSET");
  const std::string text =
      "defaults: { base_url: \"http://api.test\" }\n"
      "scenarios:\n"
      "  - name: s\n"
      "    load: { vus: { stages: [ { to: 1, over: 1s } ] } }\n"
      "    flow:\n"
      "      - name: a\n"
      "        path: \"${STAMPEDE_TEST_SURELY_UNSET:-/v1}/x/{{nope}}\"\n";
  std::vector<PlanIssue> issues;
  EXPECT_FALSE(ParseAndValidatePlan("f.yaml", text, &issues).ok());
  ASSERT_FALSE(issues.empty());
  EXPECT_EQ(issues[0].line, 7);
  EXPECT_EQ(issues[0].col, 53) << issues[0].ToString();
}

TEST(PlanLoaderTest, CollectsAllParseErrors) {
  const std::string text =
      "nmae: x\n"
      "scenarios:\n"
      "  - name: a\n"
      "    max_connections: lots\n"
      "    requests: { path: / }\n";
  std::vector<PlanIssue> issues;
  absl::StatusOr<LoadedPlan> loaded = ParsePlan("p.yaml", text, &issues);
  EXPECT_FALSE(loaded.ok());
  EXPECT_EQ(
      Lines(issues),
      (std::vector<std::string>{
          "p.yaml:1:1: nmae: unknown field \"nmae\" (did you mean \"name\"?)",
          "p.yaml:4:22: scenarios[0].max_connections: expected a non-negative "
          "whole "
          "number, got \"lots\"",
          "p.yaml:5:15: scenarios[0].requests: expected a sequence (a list), "
          "got a map"}));
}

TEST(PlanLoaderTest, RecordsLocationsOfNestedFields) {
  const std::string text =
      "scenarios:\n"
      "  - name: browse\n"
      "    load:\n"
      "      arrival_rate:\n"
      "        stages:\n"
      "          - { to: 10/s, over: 5s }\n"
      "          - to: 20/s\n"
      "            over:   1m\n"
      "    headers: { X-Id: \"7\" }\n";
  absl::StatusOr<LoadedPlan> loaded = ParsePlan("p.yaml", text, nullptr);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const auto& at = loaded->locations;
  using Loc = std::pair<int, int>;
  EXPECT_EQ(at.at("scenarios[0].name"), Loc(2, 11));
  EXPECT_EQ(at.at("scenarios[0].load.arrival_rate.stages[0]"), Loc(6, 13));
  EXPECT_EQ(at.at("scenarios[0].load.arrival_rate.stages[0].over"), Loc(6, 31));
  EXPECT_EQ(at.at("scenarios[0].load.arrival_rate.stages[1].to"), Loc(7, 17));
  EXPECT_EQ(at.at("scenarios[0].load.arrival_rate.stages[1].over"), Loc(8, 21));
  EXPECT_EQ(at.at("scenarios[0].headers.X-Id"), Loc(9, 22));

  // A validation issue on an unwritten field is placed at its nearest written
  // parent.
  PlanIssue issue =
      loaded->IssueAt("scenarios[0].load.arrival_rate.stages[1].hold", "m");
  EXPECT_EQ(issue.ToString(),
            "p.yaml:7:13: scenarios[0].load.arrival_rate.stages[1].hold: m");
  issue = loaded->IssueAt("scenarios[0].requests", "none");
  EXPECT_EQ(issue.ToString(), "p.yaml:2:5: scenarios[0].requests: none");
}

TEST(PlanLoaderTest, IssueToString) {
  PlanIssue issue{"plan.yaml", 3, 7, "scenarios[0].name", "missing value"};
  EXPECT_EQ(issue.ToString(),
            "plan.yaml:3:7: scenarios[0].name: missing value");
  issue.path.clear();
  EXPECT_EQ(issue.ToString(), "plan.yaml:3:7: missing value");
  issue = {"plan.yaml", 0, 0, "version", "too new"};
  EXPECT_EQ(issue.ToString(), "plan.yaml: version: too new");
}

TEST(PlanLoaderTest, ConvertsScalarsStrictly) {
  struct Case {
    std::string text;
    std::string want;  // "" when the plan must parse
  } cases[] = {
      {"version: 1", ""},
      {"version: 4294967295", ""},
      {"version: 4294967296",
       "p.yaml:1:10: version: number 4294967296 is out of range for uint32"},
      {"version: -1", "p.yaml:1:10: version: must not be negative, got -1"},
      {"version: 1.0",
       "p.yaml:1:10: version: expected a non-negative whole number, got "
       "\"1.0\""},
      {"version: 0x10",
       "p.yaml:1:10: version: expected a non-negative whole number, got "
       "\"0x10\""},
      {"version: ' 1'",
       "p.yaml:1:10: version: expected a non-negative whole number, got \" "
       "1\""},
      {"name: 42", ""},
      {"name: [a]", "p.yaml:1:7: name: expected a string, got a sequence"},
      {"thresholds: [ { p: 99.5 } ]", ""},
      {"thresholds: [ { p: 1e400 } ]",
       "p.yaml:1:20: thresholds[0].p: number 1e400 is out of range for double"},
      {"thresholds: [ { p: nan } ]",
       "p.yaml:1:20: thresholds[0].p: number nan is out of range for double"},
      {"thresholds: [ { p: 9x } ]",
       "p.yaml:1:20: thresholds[0].p: expected a number, got \"9x\""},
      {"defaults: { timeout: { seconds: 1 } }",
       "p.yaml:1:22: defaults.timeout: expected a duration (e.g. 30s, 5m, "
       "250ms), got a map"},
      {"defaults: { headers: [a] }",
       "p.yaml:1:22: defaults.headers: expected a map, got a sequence"},
      {"defaults: { headers: { a: { b: c } } }",
       "p.yaml:1:27: defaults.headers.a: expected a string, got a map"},
      {"defaults: ~", "p.yaml:1:1: defaults: missing value"},
      {"scenarios: [ ~ ]", "p.yaml:1:14: scenarios[0]: missing value"},
      {"scenarios: [ { load: { arrival_rate: { stages: [ { to: 1.5/s, over: "
       "1.5s } ] } } } ]",
       ""},
      {"\"12\": x", "p.yaml:1:1: 12: unknown field \"12\""},
      {"thresholds: [ { x: 1 } ]",
       "p.yaml:1:17: thresholds[0].x: unknown field \"x\""},
      {"thresholds: [ { lr: 1s } ]",
       "p.yaml:1:17: thresholds[0].lr: unknown field \"lr\" (did you mean "
       "\"lt\"?)"},
      {"scenarios: [ { reqeusts: [] } ]",
       "p.yaml:1:16: scenarios[0].reqeusts: unknown field \"reqeusts\" (did "
       "you mean "
       "\"requests\"?)"},
      {"scenarios: [ { load: { arrival_rate: {}, arrival_rate: {} } } ]",
       "p.yaml:1:42: scenarios[0].load.arrival_rate: duplicate key "
       "\"arrival_rate\""},
      {"defaults: { headers: { A: x, A: y } }",
       "p.yaml:1:30: defaults.headers.A: duplicate key \"A\""},
      {"? [a]\n: x", "p.yaml:1:3: a key must be a plain name, got a sequence"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    std::vector<PlanIssue> issues;
    absl::StatusOr<LoadedPlan> loaded = ParsePlan("p.yaml", c.text, &issues);
    EXPECT_EQ(absl::StrJoin(Lines(issues), "\n"), c.want);
    EXPECT_EQ(loaded.ok(), c.want.empty());
  }
}

TEST(PlanLoaderTest, DurationsKeepSubsecondPrecision) {
  absl::StatusOr<LoadedPlan> loaded = ParsePlan(
      "p.yaml",
      "defaults: { timeout: 1.25s }\nscenarios: [ { timeout: 250ms } ]",
      nullptr);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->plan.defaults().timeout().seconds(), 1);
  EXPECT_EQ(loaded->plan.defaults().timeout().nanos(), 250'000'000);
  EXPECT_EQ(loaded->plan.scenarios(0).timeout().seconds(), 0);
  EXPECT_EQ(loaded->plan.scenarios(0).timeout().nanos(), 250'000'000);
}

TEST(PlanLoaderTest, UnreadableFileIsOneIssueWithoutLine) {
  std::vector<PlanIssue> issues;
  absl::StatusOr<LoadedPlan> loaded =
      LoadPlanFile("/nonexistent/plan.yaml", &issues);
  EXPECT_FALSE(loaded.ok());
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].line, 0);
  EXPECT_EQ(issues[0].ToString(),
            "/nonexistent/plan.yaml: cannot read the file: No such file or "
            "directory");
}

TEST(PlanLoaderTest, ValidatesProgrammaticPlansWithoutLocations) {
  LoadedPlan loaded;
  loaded.file = "built";
  v1::Scenario* s = loaded.plan.add_scenarios();
  s->set_name("s");
  s->mutable_load()
      ->mutable_arrival_rate()
      ->add_stages()
      ->mutable_hold()
      ->set_seconds(5);
  s->add_requests()->set_path("https://example.com/");
  EXPECT_TRUE(ValidatePlan(loaded).empty());
  s->mutable_requests(0)->set_path("/x");
  EXPECT_EQ(Lines(ValidatePlan(loaded)),
            (std::vector<std::string>{
                "built: scenarios[0].base_url: no base_url for paths like "
                "\"/...\"; set base_url in the scenario or in defaults"}));
}

// The data files are read once, by the plan load, relative to the plan's
// directory: the controller sends these tables, agents never read a file.
TEST(PlanLoaderTest, DataSetsAreReadOnceWithThePlan) {
  absl::StatusOr<LoadedPlan> loaded =
      LoadAndValidatePlan(kPlans + "/good/data-flow.yaml", nullptr);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_EQ(loaded->data.size(), 2u);
  const DataTable& users = loaded->data.at("users");
  EXPECT_EQ(users.columns,
            (std::vector<std::string>{"user", "password", "email"}));
  ASSERT_EQ(users.rows.size(), 2u);
  EXPECT_EQ(users.rows[1][1], "pw-bob");
  EXPECT_EQ(loaded->plan.data().at("users").mode(), "unique");
}

}  // namespace
}  // namespace stampede::common
