// What `stampede validate` says about a scenario's flow: every mistake a user
// can make in one gets a message at its place in the file (a template's slot
// at its own line and column), a valid flow gets none, and NormalizePlan
// lists the flow's request steps as the scenario's requests.
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/flow.h"
#include "common/plan_loader.h"
#include "gtest/gtest.h"

namespace stampede::common {
namespace {

// Lines 1-5 of every plan here; the flow's steps start on line 6 with
// "      - ".
constexpr char kHead[] =
    "defaults: { base_url: \"http://api.test\" }\n"
    "scenarios:\n"
    "  - name: s\n"
    "    load: { vus: { stages: [ { to: 1, over: 1s } ] } }\n"
    "    flow:\n";

std::vector<std::string> Lines(const std::vector<PlanIssue>& issues) {
  std::vector<std::string> lines;
  for (const PlanIssue& issue : issues) lines.push_back(issue.ToString());
  return lines;
}

// The issues of kHead + `flow` (and `tail`, more of the plan after it), as
// "f.yaml:LINE:COL: PATH: message" lines; a parse failure's issues too.
std::vector<std::string> Issues(const std::string& flow,
                                const std::string& tail = "") {
  std::vector<PlanIssue> issues;
  absl::StatusOr<LoadedPlan> loaded =
      ParsePlan("f.yaml", absl::StrCat(kHead, flow, tail), &issues);
  if (!loaded.ok()) {
    ADD_FAILURE() << "does not parse:\n" << absl::StrJoin(Lines(issues), "\n");
    return Lines(issues);
  }
  return Lines(ValidatePlan(*loaded));
}

using Want = std::vector<std::string>;

constexpr char kUndefined[] =
    "{{nope}} is not defined: no earlier step captures it, and it is no data "
    "column, setup capture or built-in";

TEST(FlowCheckTest, UndefinedNameInASingleQuotedBodyIsAtItsColumn) {
  EXPECT_EQ(Issues("      - name: a\n"
                   "        path: /a\n"
                   "        body: '{\"id\":\"{{nope}}\"}'\n"),
            Want{absl::StrCat("f.yaml:8:23: scenarios[0].flow[0].body: ",
                              kUndefined)});
}

TEST(FlowCheckTest, UndefinedNameInAPlainBodyIsAtItsColumn) {
  EXPECT_EQ(Issues("      - name: a\n"
                   "        path: /a\n"
                   "        body: x={{nope}}\n"),
            Want{absl::StrCat("f.yaml:8:17: scenarios[0].flow[0].body: ",
                              kUndefined)});
}

TEST(FlowCheckTest, UndefinedNameInAQuotedPathIsAtItsColumn) {
  EXPECT_EQ(Issues("      - name: a\n"
                   "        path: \"/items/{{nope}}\"\n"),
            Want{absl::StrCat("f.yaml:7:23: scenarios[0].flow[0].path: ",
                              kUndefined)});
  // In a flow mapping, and in a full URL's path.
  EXPECT_EQ(
      Issues("      - { name: a, path: \"http://api.test/x/{{nope}}\" }\n"),
      Want{absl::StrCat("f.yaml:6:45: scenarios[0].flow[0].path: ",
                        kUndefined)});
}

TEST(FlowCheckTest, UndefinedNameInAHeaderValueIsAtItsColumn) {
  EXPECT_EQ(
      Issues("      - name: a\n"
             "        path: /a\n"
             "        headers: { X-Token: \"Bearer {{nope}}\" }\n"),
      Want{absl::StrCat("f.yaml:8:37: scenarios[0].flow[0].headers.X-Token: ",
                        kUndefined)});
}

TEST(FlowCheckTest, UndefinedNameInALiteralBlockBodyIsAtItsLineAndColumn) {
  EXPECT_EQ(Issues("      - name: a\n"
                   "        path: /a\n"
                   "        body: |\n"
                   "          {\"a\": 1,\n"
                   "          \"id\": \"{{nope}}\"}\n"),
            Want{absl::StrCat("f.yaml:10:18: scenarios[0].flow[0].body: ",
                              kUndefined)});
}

// A check's expected values are templates too: a name nothing defines is at
// its column, and the step's own captures are not yet defined there.
TEST(FlowCheckTest, UndefinedNameInACheckValueIsAtItsColumn) {
  EXPECT_EQ(
      Issues("      - name: a\n"
             "        path: /a\n"
             "        check: { json: { $.id: \"{{nope}}\" } }\n"),
      Want{absl::StrCat("f.yaml:8:33: scenarios[0].flow[0].check.json.$.id: ",
                        kUndefined)});
  EXPECT_EQ(
      Issues("      - name: a\n"
             "        path: /a\n"
             "        check: { header: { X-Id: \"{{nope}}\" }, body_contains: "
             "\"{{nope}}\" }\n"),
      (Want{
          absl::StrCat("f.yaml:8:35: scenarios[0].flow[0].check.header.X-Id: ",
                       kUndefined),
          absl::StrCat(
              "f.yaml:8:64: scenarios[0].flow[0].check.body_contains: ",
              kUndefined)}));
  EXPECT_EQ(
      Issues("      - name: a\n"
             "        path: /a\n"
             "        capture: { nope: { json: $.id } }\n"
             "        check: { json: { $.id: \"{{nope}}\" } }\n"),
      Want{absl::StrCat("f.yaml:9:33: scenarios[0].flow[0].check.json.$.id: ",
                        kUndefined)});
  // What an earlier step captured is defined; \{{ is literal.
  EXPECT_EQ(Issues("      - name: a\n"
                   "        path: /a\n"
                   "        capture: { id: { json: $.id } }\n"
                   "      - name: b\n"
                   "        path: /b\n"
                   "        check: { json: { $.id: \"{{id}}\", $.t: "
                   "\"\\\\{{x}}\" } }\n"),
            Want{});
}

// JSON bodies are usually written indented: the lines' extra indentation is
// part of the value, and the column must count it once.
TEST(FlowCheckTest, UndefinedNameInAnIndentedLiteralBlockIsAtItsColumn) {
  EXPECT_EQ(Issues("      - name: a\n"
                   "        path: /a\n"
                   "        body: |\n"
                   "          {\n"
                   "            \"id\": \"{{nope}}\"\n"
                   "          }\n"),
            Want{absl::StrCat("f.yaml:10:20: scenarios[0].flow[0].body: ",
                              kUndefined)});
}

// A double-quoted JSON body escapes its quotes: the column is where the slot
// is written, not where it is in the decoded value.
TEST(FlowCheckTest, UndefinedNameAfterEscapesIsAtItsColumn) {
  EXPECT_EQ(Issues("      - name: a\n"
                   "        path: /a\n"
                   "        body: \"{\\\"id\\\":\\\"{{nope}}\\\"}\"\n"),
            Want{absl::StrCat("f.yaml:8:26: scenarios[0].flow[0].body: ",
                              kUndefined)});
  EXPECT_EQ(Issues("      - name: a\n"
                   "        path: /a\n"
                   "        body: 'it''s {{nope}}'\n"),
            Want{absl::StrCat("f.yaml:8:22: scenarios[0].flow[0].body: ",
                              kUndefined)});
}

// ${VAR} is expanded before templates are compiled: the column is where the
// slot is written, whatever the variable's length.
TEST(FlowCheckTest, UndefinedNameAfterAnEnvironmentVariableIsAtItsColumn) {
  setenv("STAMPEDE_TEST_FLOW_PREFIX", "/v1", 1);
  EXPECT_EQ(
      Issues("      - name: a\n"
             "        path: \"${STAMPEDE_TEST_FLOW_PREFIX}/x/{{nope}}\"\n"),
      Want{absl::StrCat("f.yaml:7:47: scenarios[0].flow[0].path: ",
                        kUndefined)});
}

TEST(FlowCheckTest, NamesAreDefinedByEarlierStepsOnly) {
  // A step's own capture, or a later step's, is not defined for it.
  EXPECT_EQ(
      Issues("      - name: a\n"
             "        path: /a/{{id}}\n"
             "        capture: { id: { json: $.id } }\n"
             "      - { name: b, path: \"/b/{{id}}\" }\n"),
      Want{"f.yaml:7:18: scenarios[0].flow[0].path: {{id}} is not defined: no "
           "earlier step captures it, and it is no data column, setup "
           "capture or built-in"});
  // Inside a repeat, an earlier step of the block and one before it are.
  EXPECT_EQ(Issues("      - { name: a, path: /a, capture: { t: { header: X-T "
                   "} } }\n"
                   "      - repeat: 2\n"
                   "        steps:\n"
                   "          - { name: b, path: \"/b/{{t}}\", capture: { id: "
                   "{ json: $.id } } }\n"
                   "          - { name: c, path: \"/c/{{id}}/{{index}}\" }\n"
                   "      - { name: d, path: \"/d/{{id}}\" }\n"),
            Want{});
}

TEST(FlowCheckTest, SetupAndDataNamesSayWhatIsMissing) {
  EXPECT_EQ(Issues("      - { name: a, path: \"/a/{{setup.token}}\" }\n"
                   "      - { name: b, path: \"/b/{{users.email}}\" }\n"),
            (Want{"f.yaml:6:30: scenarios[0].flow[0].path: {{setup.token}} is "
                  "not defined: the plan has no setup step that captures token",
                  "f.yaml:7:30: scenarios[0].flow[1].path: {{users.email}} is "
                  "not defined: the plan has no data set users"}));
}

TEST(FlowCheckTest, SeqIsOnlyAWebSocketMessages) {
  EXPECT_EQ(Issues("      - { name: a, path: /a, body: \"n={{seq}}\" }\n"),
            Want{"f.yaml:6:39: scenarios[0].flow[0].body: {{seq}} is a "
                 "WebSocket message's number: only websocket.message has it"});
}

TEST(FlowCheckTest, IndexIsOnlyDefinedInsideARepeat) {
  EXPECT_EQ(Issues("      - { name: a, path: \"/a/{{index}}\" }\n"
                   "      - repeat: 2\n"
                   "        steps: [ { name: b, path: \"/b/{{index}}\" } ]\n"
                   "      - { name: c, path: /c, body: \"{{ index }}\" }\n"),
            (Want{"f.yaml:6:30: scenarios[0].flow[0].path: {{index}} is only "
                  "defined inside a repeat",
                  "f.yaml:9:37: scenarios[0].flow[2].body: {{index}} is only "
                  "defined inside a repeat"}));
}

TEST(FlowCheckTest, CaptureNamesThatAreBuiltInsOrNoIdentifiers) {
  EXPECT_EQ(
      Issues("      - name: a\n"
             "        path: /a\n"
             "        capture:\n"
             "          vu: { json: $.vu }\n"
             "          index: { json: $.i }\n"
             "          seq: { json: $.s }\n"
             "          setup: { json: $.s }\n"
             "          2fa: { json: $.s }\n"
             "          a.b: { json: $.s }\n"),
      (Want{"f.yaml:9:15: scenarios[0].flow[0].capture.vu: \"vu\" is a "
            "built-in name; capture into another",
            "f.yaml:10:18: scenarios[0].flow[0].capture.index: \"index\" is "
            "a built-in name; capture into another",
            "f.yaml:11:16: scenarios[0].flow[0].capture.seq: \"seq\" is a "
            "built-in name; capture into another",
            "f.yaml:12:18: scenarios[0].flow[0].capture.setup: \"setup\" is "
            "a built-in name; capture into another",
            "f.yaml:13:16: scenarios[0].flow[0].capture.2fa: capture name "
            "\"2fa\" must be letters, digits and _ (not first a digit)",
            "f.yaml:14:16: scenarios[0].flow[0].capture.a.b: capture name "
            "\"a.b\" must be letters, digits and _ (not first a digit)"}));
}

TEST(FlowCheckTest, CaptureSourcesJsonPathsAndRegexes) {
  EXPECT_EQ(
      Issues("      - name: a\n"
             "        path: /a\n"
             "        capture:\n"
             "          both: { json: $.a, header: X-A }\n"
             "          none: {}\n"
             "          path: { json: $..a }\n"
             "          two: { regex: \"id=(\\\\d+)-(\\\\d+)\" }\n"
             "          broken: { regex: \"id=(\" }\n"
             "          one: { regex: \"id=(?:x)(\\\\d+)\" }\n"
             "        check: { json: { \"$.a[\": x } }\n"),
      (Want{"f.yaml:9:17: scenarios[0].flow[0].capture.both: a capture takes "
            "exactly one of: json (a JSONPath), header, regex, cookie",
            "f.yaml:10:17: scenarios[0].flow[0].capture.none: a capture takes "
            "exactly one of: json (a JSONPath), header, regex, cookie",
            "f.yaml:11:25: scenarios[0].flow[0].capture.path.json: JSONPath "
            "\"$..a\": column 2: '..' (recursive descent) is not supported",
            "f.yaml:12:25: scenarios[0].flow[0].capture.two.regex: at most "
            "one group (...): its match is the value; use (?:...) for the "
            "others",
            "f.yaml:13:28: scenarios[0].flow[0].capture.broken.regex: not a "
            "regular expression (RE2 syntax): missing ): id=(",
            "f.yaml:15:34: scenarios[0].flow[0].check.json.$.a[: JSONPath "
            "\"$.a[\": column 5: expected a quoted key, an index or '*'"}));
}

TEST(FlowCheckTest, RepeatBlocksNeedACountAndSteps) {
  EXPECT_EQ(Issues("      - { name: a, path: /a }\n"
                   "      - repeat: 3\n"
                   "      - steps: [ { name: b, path: /b } ]\n"
                   "      - repeat: 2000000\n"
                   "        steps: [ { name: c, path: /c } ]\n"
                   "      - { repeat: 2, steps: [] }\n"),
            (Want{"f.yaml:7:9: scenarios[0].flow[1]: repeat needs steps: "
                  "[...], the steps it repeats",
                  "f.yaml:8:9: scenarios[0].flow[2]: steps need repeat: N, "
                  "how many times (1 or more)",
                  "f.yaml:9:17: scenarios[0].flow[3].repeat: repeat is at "
                  "most 1000000",
                  "f.yaml:11:9: scenarios[0].flow[4]: repeat needs steps: "
                  "[...], the steps it repeats"}));
}

// `depth` repeat blocks inside each other around one request step.
std::string Nested(int depth) {
  std::string flow;
  std::string indent = "      ";
  for (int d = 0; d < depth; ++d) {
    absl::StrAppend(&flow, indent, "- repeat: 2\n", indent, "  steps:\n");
    indent += "    ";
  }
  absl::StrAppend(&flow, indent, "- { name: x, path: /x }\n");
  return flow;
}

TEST(FlowCheckTest, RepeatBlocksNestAtMostEightDeep) {
  EXPECT_EQ(Issues(Nested(kMaxFlowDepth)), Want{});
  // The ninth block is the one refused (lines 6-21 open eight blocks).
  EXPECT_EQ(Issues(absl::StrCat(Nested(kMaxFlowDepth + 1),
                                "      - { name: top, path: /top }\n")),
            Want{absl::StrCat(
                "f.yaml:22:41: scenarios[0].flow[0]",
                absl::StrJoin(std::vector<std::string>(8, ".steps[0]"), ""),
                ": repeat blocks nest at most 8 deep")});
}

TEST(FlowCheckTest, StepShapesAndNames) {
  EXPECT_EQ(
      Issues("      - { name: login, path: /login }\n"
             "      - { name: login, method: POST, path: /login2 }\n"
             "      - { path: /x }\n"
             "      - repeat: 2\n"
             "        steps: [ { method: GET, path: /x } ]\n"
             "      - { name: pause, think: { constant: 1s } }\n"
             "      - { think: { constant: 1s }, path: /y }\n"
             "      - { method: FETCH, path: y }\n"
             "      - { name: z, path: /z, check: { status: [200, 99] } }\n"
             "      - think: { uniform: { min: 2s, max: 1s } }\n"),
      (Want{"f.yaml:7:17: scenarios[0].flow[1].name: duplicate step name "
            "\"login\" (also scenarios[0].flow[0])",
            "f.yaml:10:18: scenarios[0].flow[3].steps[0].name: duplicate step "
            "name \"GET /x\" (also scenarios[0].flow[2]); give them names",
            "f.yaml:11:17: scenarios[0].flow[4].name: only a request step has "
            "a name",
            "f.yaml:12:9: scenarios[0].flow[5]: a step is one of: a request "
            "(method, path, headers, body, capture, check), {think: ...} or "
            "{repeat: N, steps: [...]}",
            "f.yaml:13:19: scenarios[0].flow[6].method: unknown method "
            "\"FETCH\"; use one of GET HEAD POST PUT PATCH DELETE OPTIONS",
            "f.yaml:13:32: scenarios[0].flow[6].path: path \"y\" must start "
            "with \"/\" or be a full http:// or https:// URL",
            "f.yaml:14:53: scenarios[0].flow[7].check.status[1]: status 99 is "
            "not an HTTP status (100-599)",
            "f.yaml:15:27: scenarios[0].flow[8].think.uniform: needs 0s <= "
            "min <= max"}));
}

TEST(FlowCheckTest, WhatAFlowScenarioRulesOut) {
  EXPECT_EQ(Issues("      - { name: a, path: /a }\n",
                   "    requests: [ { path: /r } ]\n"
                   "    on_check_fail: stop\n"),
            (Want{"f.yaml:6:7: scenarios[0].flow: a scenario has either "
                  "requests or a flow, not both",
                  "f.yaml:8:20: scenarios[0].on_check_fail: unknown value "
                  "\"stop\"; use continue or abort_flow"}));
}

TEST(FlowCheckTest, FlowsRunOnEveryHttpEngine) {
  // HTTP/2, and libcurl (forced, or for a proxy and HTTP authentication).
  EXPECT_EQ(
      Issues("      - { name: a, path: /a }\n", "    http_version: \"2\"\n"),
      Want{});
  EXPECT_EQ(Issues("      - { name: a, path: /a }\n",
                   "    transport: curl\n"
                   "    proxy: http://proxy.test:3128\n"
                   "    auth: { username: u, password: p, scheme: digest }\n"),
            Want{});
}

TEST(FlowCheckTest, TheExampleFlowIsValid) {
  setenv("TARGET", "http://127.0.0.1:8080", 1);
  std::vector<PlanIssue> issues;
  absl::StatusOr<LoadedPlan> loaded = LoadAndValidatePlan(
      STAMPEDE_SOURCE_DIR "/examples/create-get-delete.yaml", &issues);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_TRUE(issues.empty());
}

// Metrics are keyed by step name: a threshold on one step's latency names a
// step of the flow.
TEST(FlowCheckTest, ThresholdsMayNameAFlowStep) {
  const std::string flow =
      "      - { name: login, path: /login }\n"
      "      - repeat: 2\n"
      "        steps: [ { name: turn, path: /turn } ]\n";
  EXPECT_EQ(Issues(flow,
                   "thresholds:\n"
                   "  - { metric: latency, p: 95, lt: 1s, request: turn }\n"
                   "  - { metric: latency, p: 95, lt: 1s, scenario: s, "
                   "request: login }\n"),
            Want{});
  EXPECT_EQ(Issues(flow,
                   "thresholds:\n"
                   "  - { metric: latency, p: 95, lt: 1s, request: logout }\n"),
            Want{"f.yaml:10:48: thresholds[0].request: no request named "
                 "\"logout\" in any scenario"});
}

TEST(FlowCheckTest, NormalizeListsRequestStepsOnceInOrder) {
  std::vector<PlanIssue> issues;
  absl::StatusOr<LoadedPlan> loaded = ParsePlan(
      "f.yaml",
      absl::StrCat(kHead,
                   "      - { name: login, method: POST, path: /login }\n"
                   "      - think: { constant: 1s }\n"
                   "      - repeat: 2\n"
                   "        steps:\n"
                   "          - { path: \"/a/{{index}}\" }\n"
                   "          - repeat: 3\n"
                   "            steps: [ { name: inner, path: /in } ]\n"
                   "          - think: { constant: 1s }\n"
                   "      - { method: DELETE, path: /bye }\n"),
      &issues);
  ASSERT_TRUE(loaded.ok()) << absl::StrJoin(Lines(issues), "\n");
  ASSERT_EQ(Lines(ValidatePlan(*loaded)), Want{});
  for (int pass = 0; pass < 2; ++pass) {
    SCOPED_TRACE(pass);
    NormalizePlan(&loaded->plan);
    const v1::Scenario& s = loaded->plan.scenarios(0);
    std::vector<std::string> requests;
    for (const v1::Request& r : s.requests()) {
      requests.push_back(
          absl::StrCat(r.name(), " = ", r.method(), " ", r.path()));
    }
    EXPECT_EQ(requests, (Want{"login = POST /login",
                              "GET /a/{{index}} = GET "
                              "/a/{{index}}",
                              "inner = GET /in", "DELETE /bye = DELETE /bye"}));
    EXPECT_EQ(s.max_flows(), kDefaultMaxFlows);
    // A normalized plan is still valid (what the controller hands on).
    EXPECT_EQ(Lines(ValidatePlan(*loaded)), Want{});
  }
}

}  // namespace
}  // namespace stampede::common
