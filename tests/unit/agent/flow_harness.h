// A flow compiled the way the agent compiles it (FlowSpec over one prepared
// request per step, whose URLs are then cut to the origin), and one user
// walking it through a transport as a worker does: render, send, wait,
// judge. The seam the engines' flow tests share. Not thread-safe.
#ifndef STAMPEDE_TESTS_UNIT_AGENT_FLOW_HARNESS_H_
#define STAMPEDE_TESTS_UNIT_AGENT_FLOW_HARNESS_H_

#include <ctime>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "agent/load/flow.h"
#include "agent/transport.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "stampede/v1/plan.pb.h"
#include "tests/unit/agent/transport_harness.h"

namespace stampede::agent {

struct CompiledFlow {
  v1::Scenario scenario;
  std::vector<PreparedRequest> requests;  // one per request step
  std::unique_ptr<FlowSpec> spec;
};

// `flow_text`: the scenario's flow steps in protobuf text format (top-level
// steps only, no repeat blocks), paths after `base_url`.
inline std::unique_ptr<CompiledFlow> CompileFlow(const std::string& flow_text,
                                                 const std::string& base_url) {
  auto out = std::make_unique<CompiledFlow>();
  EXPECT_TRUE(
      google::protobuf::TextFormat::ParseFromString(flow_text, &out->scenario));
  for (const v1::FlowStep& step : out->scenario.flow()) {
    PreparedRequest p;
    p.request = static_cast<uint32_t>(out->requests.size());
    p.url = base_url + step.path();
    p.method = step.method().empty() ? "GET" : step.method();
    p.body = step.body();
    for (const auto& [name, value] : step.headers())
      p.headers.push_back(name + ": " + value);
    p.headers.push_back("User-Agent: stampede-flow-test");
    out->requests.push_back(std::move(p));
  }
  auto spec = FlowSpec::Compile(out->scenario, out->requests);
  EXPECT_TRUE(spec.ok()) << spec.status();
  if (spec.ok()) out->spec = std::move(*spec);
  // As the run spec does: the transport dials the origin, each send brings
  // its own target.
  for (PreparedRequest& p : out->requests) p.url = base_url + "/";
  return out;
}

struct StepResult {
  Outcome outcome;
  StepVerdict verdict;
  std::string head;
  std::string body;
  bool body_cut = false;
};

// One iteration of the flow by user `vu` on its own connection slot `vu`;
// a failed capture ends it, as in the worker.
template <typename T>
std::vector<StepResult> WalkFlow(TransportHarness<T>* harness,
                                 const CompiledFlow& flow, uint32_t vu) {
  std::vector<StepResult> results;
  FlowInstance user(flow.spec.get());
  std::mt19937_64 rng(vu + 1);
  user.Begin(vu + 1, 0);
  while (true) {
    const FlowInstance::Action a = user.Next(&rng);
    if (a.kind == FlowInstance::Action::Kind::kDone) break;
    if (a.kind == FlowInstance::Action::Kind::kThink) continue;
    const int64_t now_s = static_cast<int64_t>(time(nullptr));
    user.Render(*a.step, 0, now_s * 1000, &rng);
    const int64_t now = EventLoop::MonoNowNs();
    Sent sent{&flow.requests[a.step->request], now, now, vu};
    sent.connection = vu;
    sent.flow = user.send();
    const size_t before = harness->recorder.done.size();
    harness->transport->Send(sent);
    harness->RunUntilDone(before + 1);
    if (harness->recorder.done.size() <= before) break;  // it never ended
    StepResult r;
    r.outcome = harness->recorder.done.back().outcome;
    r.verdict = user.Judge(*a.step, r.outcome, 0, now_s);
    r.head = user.send()->head;
    r.body = user.send()->response_body;
    r.body_cut = user.send()->body_cut;
    results.push_back(std::move(r));
    if (results.back().verdict.capture_failed) user.Abort();
  }
  return results;
}

// The journey against the reference target's stateful routes (see
// tests/target/state.h): log in (token from the body, sid cookie into the
// jar), create an agent with the token, read it back, ask who we are with
// the cookie alone, delete the agent. Every step checks its status.
inline constexpr char kJourney[] = R"pb(
  flow {
    name: "login"
    method: "POST"
    path: "/api/login"
    body: '{"user":"ann","password":"pw-ann"}'
    headers { key: "Content-Type" value: "application/json" }
    capture {
      key: "token"
      value { json: "$.token" }
    }
    capture {
      key: "type"
      value { header: "content-type" }
    }
    check { status: 200 }
  }
  flow {
    name: "create agent"
    method: "POST"
    path: "/api/agents"
    headers { key: "Authorization" value: "Bearer {{token}}" }
    body: '{"id":"agent-{{vu}}","name":"Test Agent"}'
    capture {
      key: "agent_id"
      value { json: "$.id" }
    }
    check { status: 201 }
  }
  flow {
    name: "get agent"
    path: "/api/agents/{{agent_id}}"
    headers { key: "Authorization" value: "Bearer {{token}}" }
    check {
      status: 200
      json { key: "$.name" value: "Test Agent" }
    }
  }
  flow {
    name: "me by cookie"
    path: "/api/me"
    capture {
      key: "sid"
      value { cookie: "sid" }
    }
    check {
      status: 200
      json { key: "$.user" value: "ann" }
    }
  }
  flow {
    name: "delete agent"
    method: "DELETE"
    path: "/api/agents/{{agent_id}}"
    headers { key: "Authorization" value: "Bearer {{token}}" }
    check { status: 204 }
  }
)pb";

// What every engine must make of kJourney: each step answered as checked,
// nothing failed, the token from the body and the cookie from the head.
inline void ExpectJourneyPassed(const std::vector<StepResult>& steps) {
  ASSERT_EQ(steps.size(), 5u);
  const int statuses[] = {200, 201, 200, 200, 204};
  for (size_t i = 0; i < steps.size(); ++i) {
    EXPECT_EQ(steps[i].outcome.error, common::ErrorId::kNone) << "step " << i;
    EXPECT_EQ(steps[i].outcome.status, statuses[i]) << "step " << i;
    EXPECT_FALSE(steps[i].verdict.capture_failed) << "step " << i;
    EXPECT_FALSE(steps[i].verdict.check_failed)
        << "step " << i << "\n"
        << steps[i].head << steps[i].body;
  }
  std::string_view cookie;
  EXPECT_TRUE(FindHeader(steps[0].head, "set-cookie", &cookie))
      << steps[0].head;
  EXPECT_EQ(cookie.substr(0, 4), "sid=");
  EXPECT_NE(steps[0].body.find("\"token\":"), std::string::npos);
  EXPECT_NE(steps[2].body.find("\"agent-1\""), std::string::npos)
      << steps[2].body;
}

}  // namespace stampede::agent

#endif  // STAMPEDE_TESTS_UNIT_AGENT_FLOW_HARNESS_H_
