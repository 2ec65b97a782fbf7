// User journeys end to end: `stampede run` with local agents walks flows
// against the reference target's stateful routes (tests/target/state.h), and
// the target's own counts say what a user would: no 401, 404 or 409 the plan
// did not mean, each VU on its own session and connection, nothing sent after
// a failed capture.
#include <map>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"
#include "tests/integration/e2e_fixture.h"
#include "tests/integration/process.h"

namespace stampede::testing {
namespace {

int64_t ErrorId(const v1::Summary& s, const std::string& id) {
  auto it = s.error_ids().find(id);
  return it == s.error_ids().end() ? 0 : it->second;
}

class FlowsEndToEnd : public EndToEnd {
 protected:
  RunOutcome RunWith(const std::string& plan, int agents) {
    // Counts from here on: the target's start and earlier probes are not
    // the run's.
    HttpGet(target_->port(), "/stats/reset");
    Child controller({"/bin/sh", "-c", Command(PlanFile(plan), agents)},
                     log_file());
    return Collect(controller.Wait(120));
  }
};

constexpr char kLoginCreateGetDelete[] = R"(
name: journey
defaults: { base_url: "http://127.0.0.1:$PORT", timeout: 5s }
scenarios:
  - name: agents
    load: { vus: { stages: [ { to: 9, over: 0s }, { hold: 3s } ] } }
    flow:
      - name: login
        method: POST
        path: /api/login
        body: '{"user":"user{{vu}}","password":"pw-user{{vu}}"}'
        capture: { token: { json: $.token } }
        check: { status: [200] }
      - name: create
        method: POST
        path: /api/agents
        headers: { Authorization: "Bearer {{token}}" }
        body: '{"id":"agent-{{vu}}-{{iteration}}","name":"Test Agent"}'
        capture: { agent_id: { json: $.id } }
        check: { status: [201], json: { $.name: "Test Agent" } }
      - name: get
        path: "/api/agents/{{agent_id}}"
        headers: { Authorization: "Bearer {{token}}" }
        check: { status: [200] }
      - name: delete
        method: DELETE
        path: "/api/agents/{{agent_id}}"
        headers: { Authorization: "Bearer {{token}}" }
        check: { status: [204] }
)";

TEST_F(FlowsEndToEnd, LoginThenCreateGetDeleteByCapturedIdSendsNoStray4xx) {
  RunOutcome run = RunWith(kLoginCreateGetDelete, 3);
  ASSERT_EQ(run.exit_code, 0) << run.log;
  ASSERT_TRUE(run.has_result) << run.log;
  const std::string stats = target_->Stats();
  // Every id came from the response that created it, every token from its
  // login: the target refused nothing.
  EXPECT_EQ(StateCount(stats, "unauthorized"), 0) << stats;
  EXPECT_EQ(StateCount(stats, "not_found"), 0) << stats;
  EXPECT_EQ(StateCount(stats, "conflict"), 0) << stats;
  const long long created = StateCount(stats, "agents_created");
  EXPECT_GT(created, 9);
  // Flows cut by the run's end leave at most one agent per VU behind.
  EXPECT_GE(StateCount(stats, "agents_deleted"), created - 9);
  const v1::ScenarioResult& sc = run.result.scenarios(0);
  EXPECT_EQ(sc.summary().errors(), 0) << run.log;
  ASSERT_EQ(sc.requests_size(), 4);
  EXPECT_EQ(sc.requests(0).name(), "login");
  EXPECT_EQ(sc.requests(3).name(), "delete");
  EXPECT_TRUE(sc.flows().flow());
  EXPECT_GT(sc.flows().completed(), 0);
  EXPECT_EQ(sc.flows().aborted(), 0);
  EXPECT_LE(sc.flows().started() - sc.flows().completed(), 9);
  // {{vu}} is unique across the 3 agents: 9 users logged in.
  const auto logins = CountMap(stats, "logins_by_user");
  EXPECT_EQ(logins.size(), 9u) << stats;
  for (int vu = 1; vu <= 9; ++vu)
    EXPECT_TRUE(logins.contains(absl::StrCat("user", vu))) << stats;
  // A VU is a user: its own connection, kept for all its requests (the
  // one more is the /stats request that asked).
  EXPECT_EQ(Connections(stats), 9 + 1) << stats;
}

TEST_F(FlowsEndToEnd, TheJourneyRunsOnLibcurlToo) {
  RunOutcome run = RunWith(
      absl::StrReplaceAll(
          kLoginCreateGetDelete,
          {{"  - name: agents\n", "  - name: agents\n    transport: curl\n"}}),
      2);
  ASSERT_EQ(run.exit_code, 0) << run.log;
  ASSERT_TRUE(run.has_result) << run.log;
  const std::string stats = target_->Stats();
  EXPECT_EQ(StateCount(stats, "unauthorized"), 0) << stats;
  EXPECT_EQ(StateCount(stats, "not_found"), 0) << stats;
  EXPECT_EQ(StateCount(stats, "conflict"), 0) << stats;
  EXPECT_GT(StateCount(stats, "agents_created"), 9);
  const v1::ScenarioResult& sc = run.result.scenarios(0);
  EXPECT_EQ(sc.engine(), "curl");
  EXPECT_EQ(sc.summary().errors(), 0) << run.log;
  EXPECT_GT(sc.flows().completed(), 0);
  EXPECT_EQ(sc.flows().aborted(), 0);
  EXPECT_EQ(CountMap(stats, "logins_by_user").size(), 9u) << stats;
}

TEST_F(FlowsEndToEnd, TheJourneyRunsOnHttp2WithAConnectionPerUser) {
  // nginx speaks h2c to the agents and HTTP/1.1 to the reference target;
  // it would end each connection after 1000 streams (GOAWAY), more than a
  // user's connection should need here.
  const int h2_port = FreePort();
  Nginx nginx(
      MakeTempDir(),
      absl::StrCat(
          "  keepalive_requests 1000000;\n  server {\n    listen 127.0.0.1:",
          h2_port,
          " http2;\n    location / { proxy_pass "
          "http://127.0.0.1:",
          target_->port(),
          "; proxy_http_version 1.1; proxy_set_header "
          "Connection \"\"; }\n  }\n"));
  RunOutcome run =
      RunWith(absl::StrReplaceAll(
                  kLoginCreateGetDelete,
                  {{"  - name: agents\n",
                    "  - name: agents\n    http_version: \"2\"\n"},
                   {"127.0.0.1:$PORT", absl::StrCat("127.0.0.1:", h2_port)}}),
              3);
  ASSERT_EQ(run.exit_code, 0) << run.log;
  ASSERT_TRUE(run.has_result) << run.log;
  const std::string stats = target_->Stats();
  EXPECT_EQ(StateCount(stats, "unauthorized"), 0) << stats;
  EXPECT_EQ(StateCount(stats, "not_found"), 0) << stats;
  EXPECT_EQ(StateCount(stats, "conflict"), 0) << stats;
  EXPECT_GT(StateCount(stats, "agents_created"), 9);
  const v1::ScenarioResult& sc = run.result.scenarios(0);
  EXPECT_EQ(sc.engine(), "h2");
  EXPECT_EQ(sc.summary().errors(), 0) << run.log;
  EXPECT_GT(sc.flows().completed(), 0);
  EXPECT_EQ(sc.flows().aborted(), 0);
  EXPECT_EQ(CountMap(stats, "logins_by_user").size(), 9u) << stats;
  // Each of the 9 users had its own HTTP/2 connection for all its steps.
  std::set<std::string> connections;
  for (const std::string& line : nginx.LogLines()) {
    EXPECT_NE(line.find(" HTTP/2.0 "), std::string::npos) << line;
    connections.insert(line.substr(0, line.find(' ')));
  }
  EXPECT_EQ(connections.size(), 9u);
}

TEST_F(FlowsEndToEnd, EachVusTurnsLandOnItsOwnSession) {
  RunOutcome run = RunWith(R"(
name: sessions
defaults: { base_url: "http://127.0.0.1:$PORT" }
scenarios:
  - name: chat
    load: { vus: { stages: [ { to: 4, over: 0s }, { hold: 20s } ],
                   iterations_per_vu: 1 } }
    flow:
      - name: login
        method: POST
        path: /api/login
        body: '{"user":"u{{vu}}","password":"pw-u{{vu}}"}'
        capture: { token: { json: $.token } }
      - name: new session
        method: POST
        path: /api/sessions
        headers: { Authorization: "Bearer {{token}}" }
        capture: { session: { json: $.id } }
        check: { status: [201] }
      - repeat: 15
        steps:
          - name: turn
            method: POST
            path: "/api/sessions/{{session}}/turns"
            headers: { Authorization: "Bearer {{token}}" }
            body: '{"turn":{{index}}}'
            check: { status: [200] }
          - think: { constant: 10ms }
)",
                           2);
  ASSERT_EQ(run.exit_code, 0) << run.log;
  const std::string stats = target_->Stats();
  const auto turns = CountMap(stats, "turns_by_session");
  ASSERT_EQ(turns.size(), 4u) << stats;
  for (const auto& [session, n] : turns) EXPECT_EQ(n, 15) << session;
  const v1::ScenarioResult& sc = run.result.scenarios(0);
  ASSERT_EQ(sc.requests_size(), 3);
  EXPECT_EQ(sc.requests(2).name(), "turn");  // one series for all 60 turns
  EXPECT_EQ(sc.requests(2).summary().requests(), 60);
  EXPECT_EQ(sc.flows().started(), 4);
  EXPECT_EQ(sc.flows().completed(), 4);
}

TEST_F(FlowsEndToEnd, AFailedCaptureEndsTheFlowAndSendsNothingFurther) {
  RunOutcome run = RunWith(R"(
name: capture-fails
defaults: { base_url: "http://127.0.0.1:$PORT" }
scenarios:
  - name: broken
    load: { vus: { stages: [ { to: 3, over: 0s }, { hold: 20s } ],
                   iterations_per_vu: 2 } }
    flow:
      - name: home
        path: /ok
        capture: { token: { json: $.token } }
      - name: me
        path: /api/me
        headers: { Authorization: "Bearer {{token}}" }
      - name: me again
        path: /api/me
        headers: { Authorization: "Bearer {{token}}" }
)",
                           1);
  ASSERT_TRUE(run.has_result) << run.log;
  const v1::ScenarioResult& sc = run.result.scenarios(0);
  EXPECT_EQ(sc.requests(0).summary().requests(), 6);
  EXPECT_EQ(ErrorId(sc.requests(0).summary(), "capture_failed"), 6);
  // Never sent with an empty token: the target saw no /api/me at all.
  EXPECT_EQ(sc.requests(1).summary().requests(), 0);
  EXPECT_EQ(sc.requests(2).summary().requests(), 0);
  EXPECT_EQ(StateCount(target_->Stats(), "unauthorized"), 0);
  EXPECT_EQ(sc.flows().started(), 6);
  EXPECT_EQ(sc.flows().aborted(), 6);
  EXPECT_EQ(sc.flows().completed(), 0);
  EXPECT_EQ(sc.flows().skipped_steps(), 12);
}

TEST_F(FlowsEndToEnd, CookiesTheTargetSetsGoBackWithTheUsersLaterRequests) {
  RunOutcome run = RunWith(R"(
name: cookies
defaults: { base_url: "http://127.0.0.1:$PORT" }
scenarios:
  - name: jar
    load: { vus: { stages: [ { to: 2, over: 0s }, { hold: 20s } ],
                   iterations_per_vu: 3 } }
    flow:
      - name: set
        path: "/cookies/set?flavour=v{{vu}}"
        capture: { flavour: { cookie: flavour } }
      - name: echo
        path: /cookies/echo
        check: { body_contains: "flavour=v" }
thresholds:
  - { metric: error_rate, lt: 0.1% }
)",
                           1);
  ASSERT_EQ(run.exit_code, 0) << run.log;
  const v1::ScenarioResult& sc = run.result.scenarios(0);
  EXPECT_EQ(sc.requests(1).summary().requests(), 6);
  EXPECT_EQ(sc.summary().errors(), 0);
  EXPECT_EQ(sc.flows().completed(), 6);
}

constexpr char kOpenFlows[] = R"(
name: open-flows
defaults: { base_url: "http://127.0.0.1:$PORT" }
scenarios:
  - name: visits
    load: { arrival_rate: { stages: [ { to: 20/s, over: 0s }, { hold: 2s } ] } }
    flow:
      - { name: first, path: /ok }
      - think: { constant: 50ms }
      - { name: second, path: /ok }
)";

// The arrivals' flows, each whole; and each arrival is a new user, which
// connects for its first step and keeps that connection for its second.
void ExpectOneUserPerArrival(const RunOutcome& run) {
  const v1::ScenarioResult& sc = run.result.scenarios(0);
  EXPECT_EQ(sc.flows().started(), 40);
  EXPECT_EQ(sc.flows().completed(), 40);
  EXPECT_EQ(sc.flows().dropped(), 0);
  EXPECT_EQ(sc.summary().errors(), 0) << run.log;
  ASSERT_EQ(sc.requests_size(), 2);
  EXPECT_EQ(sc.requests(0).summary().requests(), 40);
  EXPECT_EQ(sc.requests(1).summary().requests(), 40);
  EXPECT_EQ(sc.requests(0).summary().phases_ms().new_connections(), 40);
  EXPECT_EQ(sc.requests(1).summary().phases_ms().new_connections(), 0);
}

TEST_F(FlowsEndToEnd, OpenModelStartsOneFlowPerArrivalEachANewUser) {
  RunOutcome run = RunWith(kOpenFlows, 2);
  ASSERT_EQ(run.exit_code, 0) << run.log;
  ExpectOneUserPerArrival(run);
  // The target saw 40 users (and the /stats request that asked), although
  // the flow slots that carried them were used again and again.
  EXPECT_EQ(Connections(target_->Stats()), 40 + 1);
}

TEST_F(FlowsEndToEnd, OpenModelUsersEachHaveTheirOwnHttp2Connection) {
  Nginx nginx(MakeTempDir());  // h2c; /ok is answered 200 "ok"
  RunOutcome run = RunWith(
      absl::StrReplaceAll(
          kOpenFlows,
          {{"  - name: visits\n",
            "  - name: visits\n    http_version: \"2\"\n"},
           {"127.0.0.1:$PORT", absl::StrCat("127.0.0.1:", nginx.port())}}),
      2);
  ASSERT_EQ(run.exit_code, 0) << run.log;
  EXPECT_EQ(run.result.scenarios(0).engine(), "h2");
  ExpectOneUserPerArrival(run);
  std::map<std::string, int> steps_by_connection;
  for (const std::string& line : nginx.LogLines(80)) {
    EXPECT_NE(line.find(" HTTP/2.0 "), std::string::npos) << line;
    ++steps_by_connection[line.substr(0, line.find(' '))];
  }
  EXPECT_EQ(steps_by_connection.size(), 40u);
  for (const auto& [connection, steps] : steps_by_connection)
    EXPECT_EQ(steps, 2) << connection;
}

constexpr char kSetupThenUsers[] = R"(
name: setup-once
defaults: { base_url: "http://127.0.0.1:$PORT" }
setup:
  - name: admin login
    method: POST
    path: /api/login
    body: '{"user":"admin","password":"$PASSWORD"}'
    capture: { token: { json: $.token } }
    check: { status: [200] }
scenarios:
  - name: users
    load: { vus: { stages: [ { to: 6, over: 0s }, { hold: 20s } ],
                   iterations_per_vu: 3 } }
    flow:
      - name: me
        path: /api/me
        headers: { Authorization: "Bearer {{setup.token}}" }
        check: { status: [200], json: { $.user: admin } }
)";

TEST_F(FlowsEndToEnd, SetupRunsOnceAndItsCapturesReachEveryAgent) {
  RunOutcome run = RunWith(
      absl::StrReplaceAll(kSetupThenUsers, {{"$PASSWORD", "pw-admin"}}), 3);
  ASSERT_EQ(run.exit_code, 0) << run.log;
  const std::string stats = target_->Stats();
  // One login for the whole cluster, and its token good on every agent.
  const auto logins = CountMap(stats, "logins_by_user");
  ASSERT_EQ(logins.size(), 1u) << stats;
  EXPECT_EQ(logins.at("admin"), 1) << stats;
  EXPECT_EQ(StateCount(stats, "unauthorized"), 0) << stats;
  const v1::ScenarioResult& sc = run.result.scenarios(0);
  EXPECT_EQ(sc.requests(0).summary().requests(), 18);
  EXPECT_EQ(sc.summary().errors(), 0);
  EXPECT_TRUE(run.result.setup().passed());
  ASSERT_EQ(run.result.setup().captured_size(), 1);
  EXPECT_EQ(run.result.setup().captured(0), "token");
}

TEST_F(FlowsEndToEnd, AFailingSetupStopsTheRunBeforeAnyLoad) {
  RunOutcome run = RunWith(
      absl::StrReplaceAll(kSetupThenUsers, {{"$PASSWORD", "wrong"}}), 2);
  EXPECT_EQ(run.exit_code, 8) << run.log;
  ASSERT_TRUE(run.has_result) << run.log;
  EXPECT_EQ(run.result.status(), "setup_failed");
  EXPECT_FALSE(run.result.setup().passed());
  EXPECT_EQ(run.result.setup().failed_step(), "admin login");
  EXPECT_NE(run.result.message().find("setup step \"admin login\" failed: "
                                      "http_401"),
            std::string::npos)
      << run.result.message();
  // The setup's login was the only request the target saw.
  EXPECT_EQ(target_->Served(), 1);
  EXPECT_EQ(run.result.scenarios(0).summary().requests(), 0);
}

TEST_F(FlowsEndToEnd, ChecksAreCountedOneByOneAndJudgedByTheirThreshold) {
  RunOutcome run = RunWith(R"(
name: checks
defaults: { base_url: "http://127.0.0.1:$PORT" }
scenarios:
  - name: s
    load: { vus: { stages: [ { to: 2, over: 0s }, { hold: 20s } ],
                   iterations_per_vu: 5 } }
    flow:
      - name: home
        path: /ok
        check: { status: [200], body_contains: "no such text" }
thresholds:
  - { metric: checks, gte: 99% }
  - { metric: checks, request: home, gte: 50% }
)",
                           2);
  EXPECT_EQ(run.exit_code, 3) << run.log;
  ASSERT_TRUE(run.has_result) << run.log;
  const v1::Summary& s = run.result.scenarios(0).requests(0).summary();
  EXPECT_EQ(s.checks_passed(), 10);  // the status, 10 times
  EXPECT_EQ(s.checks_failed(), 10);  // the body, 10 times
  EXPECT_EQ(s.checks_failed_by().at("home: body_contains"), 10);
  EXPECT_EQ(s.checks_failed_by().count("home: status"), 0u);
  EXPECT_EQ(s.error_ids().at("check_failed"), 10);
  // The plan's two, and the default error_rate < 1%, which the failed
  // checks (errors of their step) fail too.
  ASSERT_EQ(run.result.thresholds_size(), 3);
  EXPECT_FALSE(run.result.thresholds(0).passed());
  EXPECT_DOUBLE_EQ(run.result.thresholds(0).actual(), 0.5);
  EXPECT_TRUE(run.result.thresholds(1).passed());
  EXPECT_EQ(run.result.thresholds(2).expression(), "error_rate < 1% (default)");
  EXPECT_FALSE(run.result.thresholds(2).passed());
  EXPECT_NE(run.log.find("home: body_contains: 10 failed"), std::string::npos)
      << run.log;
}

TEST_F(FlowsEndToEnd, AChecksThresholdWithNothingToJudgeFails) {
  RunOutcome run = RunWith(R"(
name: no-checks
defaults: { base_url: "http://127.0.0.1:$PORT" }
scenarios:
  - name: s
    load: { vus: { stages: [ { to: 1, over: 0s }, { hold: 20s } ],
                   iterations_per_vu: 2 } }
    flow:
      - { name: home, path: /ok }
thresholds:
  - { metric: checks, gte: 99% }
)",
                           1);
  EXPECT_EQ(run.exit_code, 3) << run.log;
  ASSERT_EQ(run.result.thresholds_size(), 2);  // and the default, passed
  EXPECT_FALSE(run.result.thresholds(0).passed());
  EXPECT_TRUE(run.result.thresholds(1).passed());
}

// With a seed, a run's random choices replay: the same ids again, so the
// second run's creates all meet the first run's agents (409); without one,
// each run draws anew.
TEST_F(FlowsEndToEnd, ASeedReplaysTheRandomValues) {
  const std::string plan = R"(
name: seeded
SEED
defaults: { base_url: "http://127.0.0.1:$PORT" }
scenarios:
  - name: s
    load: { vus: { stages: [ { to: 2, over: 0s }, { hold: 20s } ],
                   iterations_per_vu: 3 } }
    flow:
      - name: login
        method: POST
        path: /api/login
        body: '{"user":"u{{vu}}","password":"pw-u{{vu}}"}'
        capture: { token: { json: $.token } }
      - name: create
        method: POST
        path: /api/agents
        headers: { Authorization: "Bearer {{token}}" }
        body: '{"id":"r-{{random_string(12)}}","name":"n"}'
)";
  const std::string seeded = absl::StrReplaceAll(plan, {{"SEED", "seed: 42"}});
  RunOutcome first = RunWith(seeded, 1);
  ASSERT_EQ(first.exit_code, 0) << first.log;
  EXPECT_EQ(first.result.summary().errors(), 0) << first.log;
  EXPECT_EQ(StateCount(target_->Stats(), "agents_created"), 6);
  EXPECT_EQ(StateCount(target_->Stats(), "conflict"), 0);
  RunOutcome second = RunWith(seeded, 1);
  ASSERT_TRUE(second.has_result) << second.log;
  EXPECT_EQ(StateCount(target_->Stats(), "conflict"), 6);
  RunOutcome unseeded = RunWith(absl::StrReplaceAll(plan, {{"SEED", ""}}), 1);
  ASSERT_EQ(unseeded.exit_code, 0) << unseeded.log;
  EXPECT_EQ(StateCount(target_->Stats(), "conflict"), 0);
}

// Redirects are followed per step, each hop a request of the step, up to
// max_redirects (default 10); with 0 the 3xx is the step's answer.
TEST_F(FlowsEndToEnd, RedirectsAreFollowedPerStepAndEachHopIsTimed) {
  RunOutcome run = RunWith(R"(
name: redirects
defaults: { base_url: "http://127.0.0.1:$PORT" }
scenarios:
  - name: follow
    load: { vus: { stages: [ { to: 1, over: 0s }, { hold: 20s } ],
                   iterations_per_vu: 2 } }
    flow:
      - name: chain
        path: /redirect/3
        check: { status: [200] }
  - name: curl
    transport: curl
    load: { vus: { stages: [ { to: 1, over: 0s }, { hold: 20s } ],
                   iterations_per_vu: 2 } }
    flow:
      - name: chain on libcurl
        method: POST
        path: /redirect/3
        body: x
        check: { status: [200] }
  - name: stay
    max_redirects: 0
    load: { vus: { stages: [ { to: 1, over: 0s }, { hold: 20s } ],
                   iterations_per_vu: 2 } }
    flow:
      - name: first hop
        path: /redirect/3
        check: { status: [302] }
)",
                           1);
  ASSERT_EQ(run.exit_code, 0) << run.log;
  // /redirect/3, 2, 1, 0, then /ok: five hops per iteration.
  const v1::Summary& chain = run.result.scenarios(0).requests(0).summary();
  EXPECT_EQ(chain.requests(), 10);
  EXPECT_EQ(chain.statuses().at("302"), 8);
  EXPECT_EQ(chain.statuses().at("200"), 2);
  EXPECT_EQ(chain.checks_passed(), 2);  // judged on the final answer only
  EXPECT_EQ(chain.errors(), 0);
  // libcurl follows alike; a 302 turns the POST into a GET, without a body.
  const v1::ScenarioResult& curl = run.result.scenarios(1);
  EXPECT_EQ(curl.engine(), "curl");
  EXPECT_EQ(curl.requests(0).summary().requests(), 10) << run.log;
  EXPECT_EQ(curl.requests(0).summary().statuses().at("200"), 2);
  EXPECT_EQ(curl.requests(0).summary().checks_passed(), 2);
  EXPECT_EQ(curl.requests(0).summary().errors(), 0);
  const v1::Summary& stay = run.result.scenarios(2).requests(0).summary();
  EXPECT_EQ(stay.requests(), 2);
  EXPECT_EQ(stay.checks_passed(), 2);
  EXPECT_EQ(run.result.scenarios(0).flows().completed(), 2);
}

TEST_F(FlowsEndToEnd, ValidateNamesAnUndefinedVariableAtItsPlace) {
  const std::string plan = PlanFile(R"(name: bad
defaults: { base_url: "http://127.0.0.1:$PORT" }
scenarios:
  - name: s
    load: { vus: { stages: [ { hold: 1s } ] } }
    flow:
      - { name: get, path: "/api/agents/{{agent_id}}" }
)");
  Child validate({"/bin/sh", "-c",
                  absl::StrCat(BinaryPath("stampede"), " validate ", plan)},
                 log_file());
  EXPECT_EQ(validate.Wait(30), 2);
  const std::string log = ReadFile(log_file());
  // Line 7, the column of "{{" inside the quoted path.
  EXPECT_NE(log.find("plan.yaml:7:41: scenarios[0].flow[0].path: "
                     "{{agent_id}} is not defined"),
            std::string::npos)
      << log;
}

}  // namespace
}  // namespace stampede::testing
