// A flow as one virtual user walks it, driven by hand: the plan's YAML goes
// through ParsePlan, ValidatePlan, NormalizePlan and RunSpec::FromPrepare as
// a run's would, then a FlowInstance gives its actions, renders each step and
// judges the responses the test writes into its FlowSend.
#include "agent/load/flow.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/load/run_spec.h"
#include "common/plan_loader.h"
#include "stampede/v1/agent.pb.h"

// Every allocation in this binary is counted, so that a test can hold a warm
// flow to its promise of rendering and judging without allocating.
namespace {
std::atomic<int64_t> g_allocations{0};
}  // namespace

void* operator new(size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
// GCC takes the replaced new and delete, once inlined, for a mismatched pair.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace stampede::agent {
namespace {

using Kind = FlowInstance::Action::Kind;

constexpr int64_t kNowMs = 1'700'000'000'000;  // the tests' wall clock
constexpr int64_t kNowS = kNowMs / 1000;
constexpr uint64_t kAgent = 0;

// A run of one closed-model scenario on http://api.test whose `flow:` is
// `flow` (YAML, steps indented by six spaces); `scenario` adds fields to the
// scenario. Null (and a test failure) when the plan is not valid.
std::unique_ptr<RunSpec> Spec(const std::string& flow,
                              const std::string& scenario = "") {
  const std::string text =
      absl::StrCat("scenarios:\n  - name: s\n    base_url: http://api.test\n",
                   "    load: { vus: { stages: [ { to: 1, over: 1s } ] } }\n",
                   scenario, "    flow:\n", flow);
  std::vector<common::PlanIssue> issues;
  absl::StatusOr<common::LoadedPlan> loaded =
      common::ParsePlan("f.yaml", text, &issues);
  if (loaded.ok()) issues = common::ValidatePlan(*loaded);
  if (!loaded.ok() || !issues.empty()) {
    std::vector<std::string> lines;
    for (const common::PlanIssue& issue : issues)
      lines.push_back(issue.ToString());
    ADD_FAILURE() << "invalid plan:\n" << absl::StrJoin(lines, "\n");
    return nullptr;
  }
  common::NormalizePlan(&loaded->plan);
  v1::Prepare prepare;
  prepare.set_run_id("flow-test");
  *prepare.mutable_plan() = loaded->plan;
  prepare.mutable_share()->set_index(0);
  prepare.mutable_share()->set_count(1);
  absl::StatusOr<std::unique_ptr<RunSpec>> spec = RunSpec::FromPrepare(prepare);
  if (!spec.ok()) {
    ADD_FAILURE() << spec.status();
    return nullptr;
  }
  EXPECT_NE((*spec)->scenarios[0].flow, nullptr);
  return std::move(*spec);
}

const FlowSpec& FlowOf(const RunSpec& spec) { return *spec.scenarios[0].flow; }

// What a send shows: its target, then its body when it has one.
std::string Label(const FlowSend& send) {
  return send.body.empty() ? send.target
                           : absl::StrCat(send.target, " ", send.body);
}

class FlowTest : public ::testing::Test {
 protected:
  // The next send of `flow`, rendered; fails the test on a think or the end.
  const FlowStepSpec* NextSend(FlowInstance& flow) {
    FlowInstance::Action a = flow.Next(&rng_);
    if (a.kind != Kind::kSend) {
      ADD_FAILURE() << "no send next";
      return nullptr;
    }
    flow.Render(*a.step, kAgent, kNowMs, &rng_);
    return a.step;
  }

  // Answers the step sent last with `status`, a head (status line and header
  // lines) and a body.
  StepVerdict Answer(FlowInstance& flow, const FlowStepSpec& step, int status,
                     const std::string& head, const std::string& body = "",
                     int64_t latency_ns = 1'000'000) {
    flow.send()->head = head;
    flow.send()->response_body = body;
    Outcome outcome;
    outcome.status = status;
    return flow.Judge(step, outcome, latency_ns, kNowS);
  }

  // Walks one whole iteration, answering each send 200 with no headers:
  // each send's label, "think:N" for think times in ms, then "done".
  std::string Walk(FlowInstance& flow, uint64_t iteration = 0) {
    flow.Begin(1, iteration);
    std::vector<std::string> out;
    for (int n = 0; n < 1000; ++n) {
      FlowInstance::Action a = flow.Next(&rng_);
      if (a.kind == Kind::kDone) {
        out.push_back("done");
        break;
      }
      if (a.kind == Kind::kThink) {
        out.push_back(absl::StrCat("think:", a.think_ns / 1'000'000));
        continue;
      }
      flow.Render(*a.step, kAgent, kNowMs, &rng_);
      out.push_back(Label(*flow.send()));
      Answer(flow, *a.step, 200, "HTTP/1.1 200 OK\r\n");
    }
    return absl::StrJoin(out, " ");
  }

  std::mt19937_64 rng_{42};
};

// a, a think, two passes of {b, three c, e, a think}, d: 12 request steps.
constexpr char kNestedFlow[] =
    "      - { name: a, path: /a }\n"
    "      - think: { constant: 1s }\n"
    "      - repeat: 2\n"
    "        steps:\n"
    "          - { name: b, path: \"/b/{{index}}\" }\n"
    "          - repeat: 3\n"
    "            steps: [ { name: c, path: /c, body: \"c{{index}}\" } ]\n"
    "          - { name: e, path: \"/e/{{index}}\" }\n"
    "          - think: { constant: 5ms }\n"
    "      - { name: d, path: /d }\n";
constexpr int kNestedRequests = 12;

TEST_F(FlowTest, ActionsComeInOrderWithTheInnermostLoopsIndex) {
  std::unique_ptr<RunSpec> spec = Spec(kNestedFlow);
  ASSERT_NE(spec, nullptr);
  FlowInstance flow(&FlowOf(*spec));
  const std::string want =
      "/a think:1000 "
      "/b/0 /c c0 /c c1 /c c2 /e/0 think:5 "
      "/b/1 /c c0 /c c1 /c c2 /e/1 think:5 "
      "/d done";
  EXPECT_EQ(Walk(flow), want);
  // The next iteration walks it again from the start.
  EXPECT_EQ(Walk(flow, 1), want);
  EXPECT_FALSE(flow.aborted());
}

TEST_F(FlowTest, ThinkTimesAreWithinTheirBounds) {
  std::unique_ptr<RunSpec> spec = Spec(
      "      - think: { uniform: { min: 10ms, max: 20ms } }\n"
      "      - { name: a, path: /a }\n"
      "      - think: { exponential: 1s }\n");
  ASSERT_NE(spec, nullptr);
  FlowInstance flow(&FlowOf(*spec));
  for (int i = 0; i < 100; ++i) {
    flow.Begin(1, i);
    FlowInstance::Action a = flow.Next(&rng_);
    ASSERT_EQ(a.kind, Kind::kThink);
    EXPECT_GE(a.think_ns, 10'000'000);
    EXPECT_LE(a.think_ns, 20'000'000);
    ASSERT_EQ(flow.Next(&rng_).kind, Kind::kSend);
    a = flow.Next(&rng_);
    ASSERT_EQ(a.kind, Kind::kThink);
    EXPECT_GE(a.think_ns, 0);
    EXPECT_EQ(flow.Next(&rng_).kind, Kind::kDone);
  }
}

TEST_F(FlowTest, RendersTemplatesWithCapturesAndTheCookieJar) {
  std::unique_ptr<RunSpec> spec = Spec(
      "      - name: login\n"
      "        method: POST\n"
      "        path: /login\n"
      "        headers: { Content-Type: application/json }\n"
      "        body: '{\"u\":\"user{{vu}}\",\"i\":{{iteration}}}'\n"
      "        capture: { token: { json: $.token }, id: { header: X-Id "
      "} }\n"
      "      - name: get\n"
      "        path: \"/items/{{id}}?t={{token | url}}\"\n"
      "        headers: { Authorization: \"Bearer {{token}}\" }\n"
      "        body: '{\"t\":\"{{token | json}}\"}'\n",
      "    headers: { X-Run: \"{{not a template}}\" }\n");
  ASSERT_NE(spec, nullptr);
  FlowInstance flow(&FlowOf(*spec));
  flow.Begin(7, 3);
  const FlowStepSpec* login = NextSend(flow);
  ASSERT_NE(login, nullptr);
  const FlowSend& send = *flow.send();
  EXPECT_EQ(send.target, "/login");
  EXPECT_EQ(send.body, "{\"u\":\"user7\",\"i\":3}");
  EXPECT_NE(send.headers.find("Content-Type: application/json\r\n"),
            std::string::npos)
      << send.headers;
  // The scenario's headers are sent as written.
  EXPECT_NE(send.headers.find("X-Run: {{not a template}}\r\n"),
            std::string::npos)
      << send.headers;
  EXPECT_EQ(send.headers.find("Cookie:"), std::string::npos);
  EXPECT_FALSE(send.invalid);
  StepVerdict v = Answer(flow, *login, 200,
                         "HTTP/1.1 200 OK\r\nX-Id:  42 \r\n"
                         "Set-Cookie: sid=s1; Path=/\r\n",
                         "{\"token\":\"a b\\\"c\"}");
  EXPECT_FALSE(v.capture_failed);
  EXPECT_FALSE(v.check_failed);

  ASSERT_NE(NextSend(flow), nullptr);
  EXPECT_EQ(send.target, "/items/42?t=a%20b%22c");
  EXPECT_NE(send.headers.find("Authorization: Bearer a b\"c\r\n"),
            std::string::npos)
      << send.headers;
  EXPECT_NE(send.headers.find("\r\nCookie: sid=s1\r\n"), std::string::npos)
      << send.headers;
  EXPECT_EQ(send.body, "{\"t\":\"a b\\\"c\"}");
  EXPECT_FALSE(send.invalid);
}

// A captured value that would break the request line or a header is never
// sent: the send is marked invalid.
TEST_F(FlowTest, RenderMarksPathsWithSpacesAndHeadersWithNewlinesInvalid) {
  std::unique_ptr<RunSpec> spec = Spec(
      "      - { name: a, path: /a, capture: { v: { json: $.v } } }\n"
      "      - { name: p, path: \"/p/{{v}}\" }\n"
      "      - { name: h, path: /h, headers: { X-V: \"{{v}}\" } }\n");
  ASSERT_NE(spec, nullptr);
  FlowInstance flow(&FlowOf(*spec));
  struct Case {
    std::string json;  // the value of v, as JSON
    bool path_invalid;
    bool header_invalid;
  };
  for (const Case& c :
       {Case{"\"x y\"", true, false}, Case{"\"x\\ny\"", true, true},
        Case{"\"x\\ry\"", true, true}, Case{"\"x\\ty\"", true, false},
        Case{"\"ok\"", false, false}}) {
    SCOPED_TRACE(c.json);
    flow.Begin(1, 0);
    const FlowStepSpec* a = NextSend(flow);
    ASSERT_NE(a, nullptr);
    ASSERT_FALSE(Answer(flow, *a, 200, "HTTP/1.1 200 OK\r\n",
                        absl::StrCat("{\"v\":", c.json, "}"))
                     .capture_failed);
    ASSERT_NE(NextSend(flow), nullptr);
    EXPECT_EQ(flow.send()->invalid, c.path_invalid) << flow.send()->target;
    ASSERT_NE(NextSend(flow), nullptr);
    EXPECT_EQ(flow.send()->invalid, c.header_invalid) << flow.send()->headers;
  }
}

// One capture of each kind, found or not: the value a later step renders.
TEST_F(FlowTest, CapturesFromTheResponse) {
  struct Case {
    std::string capture;  // the YAML of `v`'s source
    std::string head;     // after the status line
    std::string body;
    std::string want;  // "" for capture_failed
  };
  const std::vector<Case> cases = {
      {"{ json: \"$.items[-1].id\" }", "",
       "{\"items\":[{\"id\":1},{\"id\":22}]}", "22"},
      {"{ json: $.name }", "", "{\"name\":\"caf\\u00e9\"}", "caf\xc3\xa9"},
      {"{ json: $.missing }", "", "{\"name\":\"x\"}", ""},
      {"{ json: $.a }", "", "{\"a\": ", ""},  // truncated
      {"{ header: x-request-id }", "X-Request-ID:\tabc-1 \r\n", "", "abc-1"},
      {"{ header: X-Other }", "X-Request-ID: abc\r\n", "", ""},
      {"{ regex: \"id=(\\\\d+)\" }", "", "name=x id=314 id=5", "314"},
      {"{ regex: \"[0-9]+\" }", "", "abc 2718 x", "2718"},
      {"{ regex: \"id=(\\\\d+)\" }", "", "no ids here", ""},
      {"{ cookie: sid }", "set-cookie: sid=s-9; Path=/; HttpOnly\r\n", "",
       "s-9"},
      {"{ cookie: sid }", "Set-Cookie: other=1\r\n", "", ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.capture + " " + c.head + c.body);
    std::unique_ptr<RunSpec> spec = Spec(
        absl::StrCat("      - { name: a, path: /a, capture: { v: ", c.capture,
                     " } }\n"
                     "      - { name: b, path: /b, body: \"{{v}}\" }\n"));
    ASSERT_NE(spec, nullptr);
    FlowInstance flow(&FlowOf(*spec));
    flow.Begin(1, 0);
    const FlowStepSpec* a = NextSend(flow);
    ASSERT_NE(a, nullptr);
    const StepVerdict v =
        Answer(flow, *a, 200, "HTTP/1.1 200 OK\r\n" + c.head, c.body);
    EXPECT_EQ(v.capture_failed, c.want.empty());
    EXPECT_FALSE(v.check_failed);
    if (c.want.empty()) continue;
    ASSERT_NE(NextSend(flow), nullptr);
    EXPECT_EQ(flow.send()->body, c.want);
  }
}

TEST_F(FlowTest, NoAnswerFailsEveryCapture) {
  std::unique_ptr<RunSpec> spec = Spec(
      "      - { name: a, path: /a, capture: { v: { header: X-V } } }\n"
      "      - { name: b, path: /b, body: \"{{v}}\" }\n");
  ASSERT_NE(spec, nullptr);
  FlowInstance flow(&FlowOf(*spec));
  flow.Begin(1, 0);
  const FlowStepSpec* a = NextSend(flow);
  ASSERT_NE(a, nullptr);
  // Whatever the transport left behind, status 0 is no response.
  EXPECT_TRUE(
      Answer(flow, *a, 0, "HTTP/1.1 200 OK\r\nX-V: 1\r\n").capture_failed);
}

TEST_F(FlowTest, ChecksJudgeTheResponse) {
  struct Case {
    std::string check;  // the YAML of the step's check
    int status;
    std::string head;  // after the status line
    std::string body;
    int64_t latency_ms;
    bool failed;
  };
  const std::vector<Case> cases = {
      {"{ status: [200, 201] }", 201, "", "", 1, false},
      {"{ status: [200, 201] }", 500, "", "", 1, true},
      {"{ body_contains: \"ok\" }", 200, "", "{\"state\":\"ok\"}", 1, false},
      {"{ body_contains: \"ok\" }", 200, "", "{\"state\":\"bad\"}", 1, true},
      {"{ json: { $.name: Test Agent } }", 200, "",
       "{\"name\":\"Test\\u0020Agent\"}", 1, false},
      {"{ json: { $.name: Test Agent } }", 200, "", "{\"name\":\"Other\"}", 1,
       true},
      {"{ json: { $.name: Test Agent } }", 200, "", "{\"id\":1}", 1, true},
      {"{ json: { $.n: 5, $.ok: true } }", 200, "", "{\"n\": 5 ,\"ok\":true}",
       1, false},
      {"{ json: { $.n: 5, $.ok: true } }", 200, "", "{\"n\":6,\"ok\":true}", 1,
       true},
      {"{ json: { $.n: 5, $.ok: true } }", 200, "", "{\"n\":5,\"ok\":false}", 1,
       true},
      {"{ json: { $.n: -0.25 } }", 200, "", "[1, {\"n\":-0.25}]", 1, true},
      {"{ json: { \"$[1].n\": -0.25 } }", 200, "", "[1, {\"n\":-0.25}]", 1,
       false},
      {"{ header: { Content-Type: application/json } }", 200,
       "content-type:  application/json\r\n", "", 1, false},
      {"{ header: { content-type: application/json } }", 200,
       "Content-Type: text/html\r\n", "", 1, true},
      {"{ header: { content-type: application/json } }", 200, "", "", 1, true},
      {"{ latency_lt: 100ms }", 200, "", "", 99, false},
      {"{ latency_lt: 100ms }", 200, "", "", 100, true},
      {"{ status: [200], latency_lt: 100ms, body_contains: x }", 200, "", "x",
       5, false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(absl::StrCat(c.check, " ", c.status, " ", c.head, c.body, " ",
                              c.latency_ms, "ms"));
    std::unique_ptr<RunSpec> spec = Spec(
        absl::StrCat("      - { name: a, path: /a, check: ", c.check, " }\n"));
    ASSERT_NE(spec, nullptr);
    FlowInstance flow(&FlowOf(*spec));
    flow.Begin(1, 0);
    const FlowStepSpec* a = NextSend(flow);
    ASSERT_NE(a, nullptr);
    // A step that checks its body keeps it; one that checks only its head
    // does not.
    EXPECT_EQ(flow.send()->body_limit > 0,
              a->body_contains.has_value() || !a->json_checks.empty());
    const StepVerdict v =
        Answer(flow, *a, c.status, "HTTP/1.1 200 OK\r\n" + c.head, c.body,
               c.latency_ms * 1'000'000);
    EXPECT_EQ(v.check_failed, c.failed);
    EXPECT_FALSE(v.capture_failed);
  }
}

// An expected value is a template: it compares with what an earlier step
// captured, and with built-ins, rendered as the request was.
TEST_F(FlowTest, CheckValuesAreTemplates) {
  std::unique_ptr<RunSpec> spec = Spec(
      "      - { name: a, path: /a, capture: { id: { json: $.id } } }\n"
      "      - name: b\n"
      "        path: /b/{{id}}\n"
      "        check:\n"
      "          json: { $.id: \"{{id}}\", $.vu: \"{{vu}}\" }\n"
      "          header: { X-Of: \"user-{{vu}}\" }\n"
      "          body_contains: \"\\\\{{id}}\"\n");
  ASSERT_NE(spec, nullptr);
  for (const bool same : {true, false}) {
    SCOPED_TRACE(same ? "the captured values" : "other values");
    FlowInstance flow(&FlowOf(*spec));
    flow.Begin(7, 0);
    const FlowStepSpec* a = NextSend(flow);
    ASSERT_NE(a, nullptr);
    Answer(flow, *a, 200, "HTTP/1.1 200 OK\r\n", "{\"id\":\"x-42\"}");
    const FlowStepSpec* b = NextSend(flow);
    ASSERT_NE(b, nullptr);
    const StepVerdict v =
        Answer(flow, *b, 200,
               same ? "HTTP/1.1 200 OK\r\nX-Of: user-7\r\n"
                    : "HTTP/1.1 200 OK\r\nX-Of: user-8\r\n",
               same ? "{\"id\":\"x-42\",\"vu\":7,\"t\":\"{{id}}\"}"
                    : "{\"id\":\"x-43\",\"vu\":7,\"t\":\"x-42\"}");
    EXPECT_EQ(v.check_failed, !same);
    // json $.id, json $.vu, header X-Of, body_contains: in CheckNames order.
    EXPECT_EQ(v.checks_passed, same ? 4u : 1u);
  }
}

TEST_F(FlowTest, SetCookieLinesFeedTheJar) {
  std::unique_ptr<RunSpec> spec = Spec(
      "      - { name: a, path: /login }\n"
      "      - { name: b, path: /app/x }\n"
      "      - { name: c, path: /other }\n");
  ASSERT_NE(spec, nullptr);
  FlowInstance flow(&FlowOf(*spec));
  flow.Begin(1, 0);
  const FlowStepSpec* a = NextSend(flow);
  ASSERT_NE(a, nullptr);
  Answer(flow, *a, 200,
         "HTTP/1.1 200 OK\r\n"
         "Set-Cookie: sid=s1\r\n"
         "set-cookie:theme=dark; Path=/\r\n"
         "SET-COOKIE: app=1; Path=/app\r\n"
         "Set-Cookie: gone=1; Max-Age=0\r\n"
         "X-Set-Cookie: not=1\r\n");
  EXPECT_EQ(flow.cookies().size(), 3u);
  ASSERT_NE(NextSend(flow), nullptr);
  // Longest path first; sid's default path is / (from /login).
  EXPECT_NE(
      flow.send()->headers.find("\r\nCookie: app=1; sid=s1; theme=dark\r\n"),
      std::string::npos)
      << flow.send()->headers;
  ASSERT_NE(NextSend(flow), nullptr);
  EXPECT_NE(flow.send()->headers.find("\r\nCookie: sid=s1; theme=dark\r\n"),
            std::string::npos)
      << flow.send()->headers;
}

// Steps sent before each point of the nested flow, and what Abort counts.
TEST_F(FlowTest, AbortCountsTheRequestStepsLeft) {
  std::unique_ptr<RunSpec> spec = Spec(kNestedFlow);
  ASSERT_NE(spec, nullptr);
  FlowInstance flow(&FlowOf(*spec));
  for (int sent = 0; sent <= kNestedRequests; ++sent) {
    for (bool past_think : {false, true}) {
      SCOPED_TRACE(absl::StrCat(sent, " sent", past_think ? ", past" : ""));
      flow.Begin(1, 0);
      int n = 0;
      FlowInstance::Action a;
      while (n < sent) {
        a = flow.Next(&rng_);
        ASSERT_NE(a.kind, Kind::kDone);
        if (a.kind == Kind::kSend) ++n;
      }
      // Also from inside a think time, when the step sent last has one.
      if (past_think && sent > 0) {
        if (flow.Next(&rng_).kind != Kind::kThink) continue;
      }
      EXPECT_EQ(flow.Abort(), static_cast<uint64_t>(kNestedRequests - sent));
      EXPECT_TRUE(flow.aborted());
      EXPECT_EQ(flow.Next(&rng_).kind, Kind::kDone);
    }
  }
  // Begin starts over, no longer aborted.
  EXPECT_EQ(Walk(flow).substr(0, 2), "/a");
  EXPECT_FALSE(flow.aborted());
}

TEST_F(FlowTest, AbortCountsLargeRepeats) {
  std::unique_ptr<RunSpec> spec = Spec(
      "      - repeat: 1000\n"
      "        steps:\n"
      "          - repeat: 1000\n"
      "            steps: [ { name: a, path: /a }, { name: b, path: /b } "
      "]\n");
  ASSERT_NE(spec, nullptr);
  FlowInstance flow(&FlowOf(*spec));
  flow.Begin(1, 0);
  EXPECT_EQ(flow.Abort(), 2'000'000u);
  flow.Begin(1, 1);
  ASSERT_EQ(flow.Next(&rng_).kind, Kind::kSend);
  EXPECT_EQ(flow.Abort(), 1'999'999u);
}

TEST_F(FlowTest, BeginClearsCookiesUnlessTheFlowKeepsThem) {
  const std::string steps =
      "      - { name: a, path: /a }\n"
      "      - { name: b, path: /b }\n";
  for (bool keep : {false, true}) {
    SCOPED_TRACE(keep ? "keep_cookies" : "default");
    std::unique_ptr<RunSpec> spec =
        Spec(steps, keep ? "    keep_cookies: true\n" : "");
    ASSERT_NE(spec, nullptr);
    FlowInstance flow(&FlowOf(*spec));
    flow.Begin(1, 0);
    const FlowStepSpec* a = NextSend(flow);
    ASSERT_NE(a, nullptr);
    Answer(flow, *a, 200, "HTTP/1.1 200 OK\r\nSet-Cookie: sid=s1\r\n");
    EXPECT_EQ(flow.cookies().size(), 1u);
    flow.Begin(1, 1);
    EXPECT_EQ(flow.cookies().size(), keep ? 1u : 0u);
    ASSERT_NE(NextSend(flow), nullptr);
    EXPECT_EQ(flow.send()->headers.find("Cookie: sid=s1") != std::string::npos,
              keep)
        << flow.send()->headers;
  }
}

// Each iteration renders its own captures; one whose capture fails ends
// there, so a later step never goes out with the previous iteration's value.
TEST_F(FlowTest, IterationsRenderTheirOwnCaptures) {
  std::unique_ptr<RunSpec> spec = Spec(
      "      - { name: login, path: /login, capture: { t: { json: $.t "
      "} } }\n"
      "      - { name: use, path: \"/use/{{iteration}}\", body: "
      "\"{{t}}\" }\n");
  ASSERT_NE(spec, nullptr);
  FlowInstance flow(&FlowOf(*spec));
  for (int i = 0; i < 2; ++i) {
    flow.Begin(1, i);
    EXPECT_EQ(flow.iteration(), static_cast<uint64_t>(i));
    const FlowStepSpec* login = NextSend(flow);
    ASSERT_NE(login, nullptr);
    ASSERT_FALSE(Answer(flow, *login, 200, "HTTP/1.1 200 OK\r\n",
                        absl::StrCat("{\"t\":\"t", i, "\"}"))
                     .capture_failed);
    ASSERT_NE(NextSend(flow), nullptr);
    EXPECT_EQ(Label(*flow.send()), absl::StrCat("/use/", i, " t", i));
  }
  flow.Begin(1, 2);
  const FlowStepSpec* login = NextSend(flow);
  ASSERT_NE(login, nullptr);
  ASSERT_TRUE(
      Answer(flow, *login, 200, "HTTP/1.1 200 OK\r\n", "{}").capture_failed);
  EXPECT_EQ(flow.Abort(), 1u);  // what the worker does on capture_failed
  EXPECT_EQ(flow.Next(&rng_).kind, Kind::kDone);
}

TEST_F(FlowTest, OnCheckFailAndMaxFlowsReachTheSpec) {
  std::unique_ptr<RunSpec> spec = Spec("      - { name: a, path: /a }\n");
  ASSERT_NE(spec, nullptr);
  EXPECT_FALSE(FlowOf(*spec).abort_on_check_fail);
  EXPECT_FALSE(FlowOf(*spec).keep_cookies);
  EXPECT_EQ(FlowOf(*spec).max_flows, common::kDefaultMaxFlows);
  spec = Spec("      - { name: a, path: /a }\n",
              "    on_check_fail: abort_flow\n    max_flows: 7\n");
  ASSERT_NE(spec, nullptr);
  EXPECT_TRUE(FlowOf(*spec).abort_on_check_fail);
  EXPECT_EQ(FlowOf(*spec).max_flows, 7u);
  // The transport dials the origin only; each send brings its target.
  EXPECT_EQ(spec->scenarios[0].requests[0].url, "http://api.test/");
}

// Once warm (buffers, variables and the jar at their size), a whole
// iteration renders and judges without allocating.
TEST_F(FlowTest, AWarmIterationAllocatesNothing) {
  std::unique_ptr<RunSpec> spec = Spec(
      "      - name: login\n"
      "        method: POST\n"
      "        path: /login\n"
      "        body: '{\"u\":\"user{{vu}}\"}'\n"
      "        capture: { t: { json: $.t }, r: { regex: \"r=(\\\\w+)\" }, "
      "h: { header: X-H }, k: { cookie: sid } }\n"
      "        check: { status: [200], json: { $.ok: true }, header: { "
      "X-H: h1 } }\n"
      "      - repeat: 3\n"
      "        steps:\n"
      "          - { name: get, path: \"/i/{{index}}?t={{t | url}}\", "
      "headers: { A: \"{{h}} {{r}} {{k}}\" }, body: \"{{t | json}}\" }\n");
  ASSERT_NE(spec, nullptr);
  FlowInstance flow(&FlowOf(*spec));
  int64_t allocations = 0;
  for (int i = 0; i < 3; ++i) {
    const int64_t before = g_allocations.load();
    flow.Begin(1, i);
    for (int n = 0; n < 10; ++n) {
      FlowInstance::Action a = flow.Next(&rng_);
      if (a.kind == Kind::kDone) break;
      flow.Render(*a.step, kAgent, kNowMs, &rng_);
      FlowSend* send = flow.send();
      send->head.assign(
          "HTTP/1.1 200 OK\r\nX-H: h1\r\nSet-Cookie: sid=abc; Path=/\r\n");
      send->response_body.assign("{\"t\":\"tok en\",\"ok\":true} r=xyz");
      Outcome outcome;
      outcome.status = 200;
      const StepVerdict v = flow.Judge(*a.step, outcome, 1000, kNowS);
      EXPECT_FALSE(v.capture_failed || v.check_failed);
    }
    allocations = g_allocations.load() - before;
  }
  EXPECT_EQ(allocations, 0);
}

}  // namespace
}  // namespace stampede::agent
