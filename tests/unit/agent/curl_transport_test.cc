// The libcurl engine's flow steps against the real reference target: a whole
// journey through its stateful routes, the kept head and body, and steps
// that must never be sent. Nothing is asserted about durations.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "agent/curl/transport.h"
#include "agent/load/flow.h"
#include "agent/net/event_loop.h"
#include "tests/integration/process.h"
#include "tests/unit/agent/flow_harness.h"
#include "tests/unit/agent/transport_harness.h"

namespace stampede::agent {
namespace {

using common::ErrorId;

struct Client : TransportHarness<CurlTransport> {
  explicit Client(size_t max_connections) {
    transport =
        std::move(CurlTransport::Create(loop.get(), &recorder, max_connections))
            .value();
  }
};

FlowSend Step(const std::string& target, const std::string& headers = "",
              const std::string& body = "", size_t body_limit = 4096) {
  FlowSend f;
  f.target = target;
  f.headers = headers;
  f.body = body;
  f.keep_head = true;
  f.body_limit = body_limit;
  return f;
}

Sent FlowSent(const PreparedRequest& request, FlowSend* flow, uint32_t user) {
  const int64_t now = EventLoop::MonoNowNs();
  Sent sent{&request, now, now, user};
  sent.connection = user;
  sent.flow = flow;
  return sent;
}

class CurlFlowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    target_ = std::make_unique<testing::Target>(testing::MakeTempDir());
  }
  std::string Origin() const {
    return "http://127.0.0.1:" + std::to_string(target_->port());
  }
  // A flow's prepared request: the origin and "/", as the run spec cuts it.
  PreparedRequest Prepared(const std::string& method) const {
    PreparedRequest r;
    r.url = Origin() + "/";
    r.method = method;
    return r;
  }
  std::unique_ptr<testing::Target> target_;
};

TEST_F(CurlFlowTest, JourneyRunsOverLibcurl) {
  auto flow = CompileFlow(kJourney, Origin());
  ASSERT_NE(flow->spec, nullptr);
  Client client(1);
  for (const PreparedRequest& r : flow->requests) client.transport->Prepare(r);
  const std::vector<StepResult> steps = WalkFlow(&client, *flow, 0);
  ExpectJourneyPassed(steps);
  ASSERT_FALSE(steps.empty());
  EXPECT_EQ(steps[0].head.substr(0, 17), "HTTP/1.1 200 OK\r\n")
      << steps[0].head;
  std::string_view type;
  EXPECT_TRUE(FindHeader(steps[0].head, "content-type", &type));
  EXPECT_EQ(type, "application/json");
  // The head ends with its last header line: the blank line is not kept.
  EXPECT_NE(steps[0].head.substr(steps[0].head.size() - 4), "\r\n\r\n");
  EXPECT_EQ(client.transport->InFlight(), 0u);
}

TEST_F(CurlFlowTest, BodyIsKeptUpToItsLimitAndTheHeadOnlyWhenAsked) {
  Client client(1);
  PreparedRequest r = Prepared("POST");
  client.transport->Prepare(r);
  FlowSend login =
      Step("/api/login", "Content-Type: application/json\r\n",
           R"({"user":"bob","password":"pw-bob"})", /*body_limit=*/9);
  login.keep_head = false;
  client.transport->Send(FlowSent(r, &login, 0));
  client.RunUntilDone(1);
  EXPECT_EQ(client.recorder.done[0].outcome.error, ErrorId::kNone);
  EXPECT_EQ(client.recorder.done[0].outcome.status, 200);
  EXPECT_EQ(login.response_body, R"({"token":)");
  EXPECT_TRUE(login.body_cut);
  EXPECT_EQ(login.head, "");
  FlowSend wrong = Step("/api/login", "Content-Type: application/json\r\n",
                        R"({"user":"bob","password":"nope"})");
  client.transport->Send(FlowSent(r, &wrong, 0));
  client.RunUntilDone(2);
  EXPECT_EQ(client.recorder.done[1].outcome.status, 401);
  EXPECT_EQ(wrong.head.substr(0, 12), "HTTP/1.1 401");
  EXPECT_FALSE(wrong.body_cut);
}

TEST_F(CurlFlowTest, PlainRequestAfterAFlowStepGoesAsPrepared) {
  // The same easy handle carried a flow step's URL, headers and body; the
  // plan request sent on it next must be its own again.
  Client client(1);
  PreparedRequest r = Prepared("POST");
  PreparedRequest ok;
  ok.url = Origin() + "/ok";
  ok.method = "GET";
  client.transport->Prepare(r);
  client.transport->Prepare(ok);
  FlowSend login = Step("/api/login", "Content-Type: application/json\r\n",
                        R"({"user":"cy","password":"pw-cy"})");
  client.transport->Send(FlowSent(r, &login, 0));
  client.RunUntilDone(1);
  client.Send(ok);
  client.RunUntilDone(2);
  EXPECT_EQ(client.recorder.done[0].outcome.status, 200);
  EXPECT_EQ(client.recorder.done[1].outcome.error, ErrorId::kNone);
  EXPECT_EQ(client.recorder.done[1].outcome.status, 200);
  EXPECT_GT(client.recorder.done[1].outcome.bytes_in, 0);
  // Nothing of the plain response went into the flow's buffers.
  EXPECT_NE(login.response_body.find("\"token\":"), std::string::npos);
}

TEST(CurlTransportTest, InvalidFlowStepFailsUnsent) {
  // Nothing listens there: a step that went out would be refused.
  const int port = testing::FreePort();
  Client client(2);
  PreparedRequest r;
  r.url = "http://127.0.0.1:" + std::to_string(port) + "/";
  r.method = "GET";
  client.transport->Prepare(r);
  FlowSend marked = Step("/a b");
  marked.invalid = true;  // as FlowInstance::Render marks it
  client.transport->Send(FlowSent(r, &marked, 0));
  EXPECT_EQ(client.transport->InFlight(), 1u);
  EXPECT_TRUE(client.recorder.done.empty());  // never from inside Send
  client.RunUntilDone(1);
  EXPECT_EQ(client.recorder.done[0].outcome.error, ErrorId::kInvalidRequest);
  EXPECT_EQ(client.recorder.done[0].outcome.status, 0);
  EXPECT_EQ(client.transport->InFlight(), 0u);
  EXPECT_TRUE(client.transport->HasCapacity());
}

}  // namespace
}  // namespace stampede::agent
