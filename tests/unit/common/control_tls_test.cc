// The control plane's mTLS and token checks, end to end over loopback: a real
// gRPC server with the project's Controller service and a real channel, using
// certificates made at test time by scripts/dev-certs (plus a second,
// unrelated CA for the "wrong CA" cases).
#include "common/control_tls.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "grpcpp/grpcpp.h"
#include "stampede/v1/agent.grpc.pb.h"

namespace stampede::common {
namespace {

using v1::AgentMessage;
using v1::ControllerMessage;

// Answers the first message with a Refuse whose reason says who spoke and
// whether the service could see the token, then ends the call OK.
class Echo : public grpc::ServerBidiReactor<AgentMessage, ControllerMessage> {
 public:
  explicit Echo(grpc::CallbackServerContext* context) {
    saw_authorization_ = context->client_metadata().count("authorization") > 0;
    StartRead(&in_);
  }
  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status::OK);
      return;
    }
    out_.mutable_refuse()->set_reason(
        "hello " + in_.hello().agent_id() +
        (saw_authorization_ ? " (saw authorization)" : ""));
    StartWrite(&out_);
  }
  void OnWriteDone(bool ok) override {
    Finish(ok ? grpc::Status::OK
              : grpc::Status(grpc::StatusCode::CANCELLED, "write failed"));
  }
  void OnDone() override { delete this; }

 private:
  bool saw_authorization_ = false;
  AgentMessage in_;
  ControllerMessage out_;
};

class EchoService : public v1::Controller::CallbackService {
 public:
  grpc::ServerBidiReactor<AgentMessage, ControllerMessage>* Session(
      grpc::CallbackServerContext* context) override {
    sessions_.fetch_add(1);
    return new Echo(context);
  }
  int sessions() const { return sessions_.load(); }

 private:
  std::atomic<int> sessions_{0};
};

struct Outcome {
  grpc::Status status;
  std::string reply;
};

class ControlTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string tmpl = ::testing::TempDir() + "control_tls_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = new std::string(tmpl);
    for (const auto& [sub, agents] :
         {std::pair<std::string, int>{"a", 2}, {"b", 1}}) {
      const std::string cmd = std::string("'") + STAMPEDE_SOURCE_DIR +
                              "/scripts/dev-certs' '" + *dir_ + "/" + sub +
                              "' --agents " + std::to_string(agents) + " > '" +
                              *dir_ + "/" + sub + ".log' 2>&1";
      ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    }
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*dir_);
    delete dir_;
    dir_ = nullptr;
  }

  // A file made by dev-certs: set "a" is the run's PKI, "b" an unrelated one.
  static std::string F(const std::string& set, const std::string& name) {
    return *dir_ + "/" + set + "/" + name;
  }

  static ControlTlsOptions ServerOptions() {
    ControlTlsOptions o;
    o.ca_file = F("a", "ca.pem");
    o.cert_file = F("a", "controller.pem");
    o.key_file = F("a", "controller.key");
    return o;
  }
  static ControlTlsOptions AgentOptions(const std::string& set = "a",
                                        const std::string& agent = "agent-1") {
    ControlTlsOptions o;
    o.ca_file = F("a", "ca.pem");  // trusts the controller's CA
    o.cert_file = F(set, agent + ".pem");
    o.key_file = F(set, agent + ".key");
    return o;
  }

  void StartServer(const ControlTlsOptions& options) {
    auto creds = ServerCredentialsFor(options);
    ASSERT_TRUE(creds.ok()) << creds.status();
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", *creds, &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_NE(port_, 0);
  }
  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
  }

  // One Session call: Hello, read the answer, finish.
  Outcome CallWith(std::shared_ptr<grpc::ChannelCredentials> creds,
                   const grpc::ChannelArguments& args) {
    auto channel = grpc::CreateCustomChannel(
        "127.0.0.1:" + std::to_string(port_), creds, args);
    auto stub = v1::Controller::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(20));
    auto stream = stub->Session(&context);
    AgentMessage hello;
    hello.mutable_hello()->set_agent_id("t1");
    stream->Write(hello);
    stream->WritesDone();
    Outcome out;
    ControllerMessage answer;
    if (stream->Read(&answer)) out.reply = answer.refuse().reason();
    out.status = stream->Finish();
    return out;
  }
  Outcome Call(const ControlTlsOptions& options) {
    auto creds = ChannelCredentialsFor(options);
    EXPECT_TRUE(creds.ok()) << creds.status();
    if (!creds.ok()) return {};
    grpc::ChannelArguments args;
    ApplyChannelArgs(options, &args);
    return CallWith(*creds, args);
  }

  static std::string* dir_;
  EchoService service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

std::string* ControlTlsTest::dir_ = nullptr;

TEST_F(ControlTlsTest, RightCaCertAndKeyAreServed) {
  StartServer(ServerOptions());
  Outcome out = Call(AgentOptions());
  EXPECT_TRUE(out.status.ok()) << out.status.error_message();
  EXPECT_EQ(out.reply, "hello t1");
  EXPECT_EQ(service_.sessions(), 1);
}

TEST_F(ControlTlsTest, MatchingSanPatternIsServed) {
  ControlTlsOptions server = ServerOptions();
  server.agent_san = "agent-*.stampede.local";
  StartServer(server);
  Outcome out = Call(AgentOptions("a", "agent-2"));
  EXPECT_TRUE(out.status.ok()) << out.status.error_message();
  EXPECT_EQ(out.reply, "hello t1");
}

TEST_F(ControlTlsTest, ClientCertificateFromAnotherCaIsRefused) {
  StartServer(ServerOptions());
  Outcome out = Call(AgentOptions("b", "agent-1"));
  EXPECT_FALSE(out.status.ok());
  EXPECT_EQ(out.status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << out.status.error_message();
  EXPECT_EQ(service_.sessions(), 0);
}

TEST_F(ControlTlsTest, NoClientCertificateIsRefused) {
  StartServer(ServerOptions());
  grpc::SslCredentialsOptions ssl;
  std::ifstream ca(F("a", "ca.pem"));
  ssl.pem_root_certs.assign(std::istreambuf_iterator<char>(ca), {});
  ASSERT_FALSE(ssl.pem_root_certs.empty());
  Outcome out = CallWith(grpc::SslCredentials(ssl), grpc::ChannelArguments());
  // Refused at the handshake, before any call could be checked.
  EXPECT_EQ(out.status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << out.status.error_message();
  EXPECT_EQ(service_.sessions(), 0);
}

TEST_F(ControlTlsTest, PlaintextAgentIsRefused) {
  StartServer(ServerOptions());
  Outcome out =
      CallWith(grpc::InsecureChannelCredentials(), grpc::ChannelArguments());
  EXPECT_EQ(out.status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << out.status.error_message();
  EXPECT_EQ(service_.sessions(), 0);
}

TEST_F(ControlTlsTest, ControllerFromAnotherCaIsRefusedByTheAgent) {
  ControlTlsOptions server = ServerOptions();
  server.cert_file = F("b", "controller.pem");
  server.key_file = F("b", "controller.key");
  StartServer(server);
  Outcome out = Call(AgentOptions());
  EXPECT_EQ(out.status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << out.status.error_message();
  EXPECT_EQ(service_.sessions(), 0);
}

TEST_F(ControlTlsTest, SanNotMatchingThePatternIsRefusedNamingIt) {
  ControlTlsOptions server = ServerOptions();
  server.agent_san = "agent-2.stampede.local";
  StartServer(server);
  Outcome out = Call(AgentOptions("a", "agent-1"));
  EXPECT_EQ(out.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_NE(out.status.error_message().find("agent-1.stampede.local"),
            std::string::npos)
      << out.status.error_message();
  EXPECT_NE(out.status.error_message().find("\"agent-2.stampede.local\""),
            std::string::npos)
      << out.status.error_message();
  EXPECT_EQ(service_.sessions(), 0);
}

TEST_F(ControlTlsTest, RightTokenIsServedAndHiddenFromTheService) {
  ControlTlsOptions server = ServerOptions();
  server.token = "s3cret-token";
  StartServer(server);
  ControlTlsOptions agent = AgentOptions();
  agent.token = "s3cret-token";
  Outcome out = Call(agent);
  EXPECT_TRUE(out.status.ok()) << out.status.error_message();
  EXPECT_EQ(out.reply, "hello t1");
}

TEST_F(ControlTlsTest, MissingTokenIsRefused) {
  ControlTlsOptions server = ServerOptions();
  server.token = "s3cret-token";
  StartServer(server);
  Outcome out = Call(AgentOptions());
  EXPECT_EQ(out.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_NE(out.status.error_message().find("no token"), std::string::npos)
      << out.status.error_message();
  EXPECT_EQ(service_.sessions(), 0);
}

TEST_F(ControlTlsTest, WrongTokenIsRefused) {
  ControlTlsOptions server = ServerOptions();
  server.token = "s3cret-token";
  StartServer(server);
  for (const char* wrong : {"s3cret-tokeN", "s3cret", "s3cret-token2"}) {
    ControlTlsOptions agent = AgentOptions();
    agent.token = wrong;
    Outcome out = Call(agent);
    EXPECT_EQ(out.status.error_code(), grpc::StatusCode::UNAUTHENTICATED)
        << wrong;
    EXPECT_EQ(out.status.error_message(), "wrong token") << wrong;
  }
  EXPECT_EQ(service_.sessions(), 0);
}

TEST_F(ControlTlsTest, ServerNameOverrideChecksTheControllerName) {
  StartServer(ServerOptions());
  ControlTlsOptions agent = AgentOptions();
  agent.server_name = "localhost";  // one of the controller's SANs
  Outcome ok = Call(agent);
  EXPECT_TRUE(ok.status.ok()) << ok.status.error_message();
  agent.server_name = "ctl.elsewhere.example";
  Outcome wrong = Call(agent);
  EXPECT_EQ(wrong.status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << wrong.status.error_message();
  EXPECT_EQ(service_.sessions(), 1);
}

TEST_F(ControlTlsTest, FileErrorsNameTheFile) {
  ControlTlsOptions o = ServerOptions();
  o.ca_file = *dir_ + "/nope/ca.pem";
  auto s = ServerCredentialsFor(o);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find(o.ca_file), std::string::npos)
      << s.status();
  EXPECT_NE(s.status().message().find("No such file"), std::string::npos)
      << s.status();

  o = AgentOptions();
  o.key_file = *dir_ + "/missing.key";
  auto c = ChannelCredentialsFor(o);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find(o.key_file), std::string::npos)
      << c.status();

  const std::string garbage = *dir_ + "/garbage.pem";
  std::ofstream(garbage) << "not a certificate\n";
  o = AgentOptions();
  o.cert_file = garbage;
  c = ChannelCredentialsFor(o);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find(garbage), std::string::npos)
      << c.status();
  EXPECT_NE(c.status().message().find("no PEM certificate"), std::string::npos)
      << c.status();

  o = AgentOptions();
  o.key_file = garbage;
  c = ChannelCredentialsFor(o);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("no unencrypted PEM private key"),
            std::string::npos)
      << c.status();
}

TEST_F(ControlTlsTest, KeyOfAnotherCertificateIsAnError) {
  ControlTlsOptions o = AgentOptions();
  o.key_file = F("a", "agent-2.key");
  auto c = ChannelCredentialsFor(o);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("does not belong to certificate"),
            std::string::npos)
      << c.status();
  EXPECT_NE(c.status().message().find(o.cert_file), std::string::npos)
      << c.status();
}

TEST_F(ControlTlsTest, IncompleteOptionsAreErrors) {
  ControlTlsOptions o = AgentOptions();
  o.key_file.clear();
  auto c = ChannelCredentialsFor(o);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("the key file is not set"),
            std::string::npos)
      << c.status();

  ControlTlsOptions token_only;
  token_only.token = "x";
  EXPECT_FALSE(token_only.enabled());
  auto s = ServerCredentialsFor(token_only);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("only over TLS"), std::string::npos)
      << s.status();

  o = AgentOptions();
  o.token = "two words";
  EXPECT_FALSE(ChannelCredentialsFor(o).ok());
}

TEST(MatchesSanPattern, Wildcards) {
  EXPECT_TRUE(
      MatchesSanPattern("agent-1.stampede.local", "agent-*.stampede.local"));
  EXPECT_TRUE(MatchesSanPattern("agent-12.rack2.stampede.local",
                                "agent-*.stampede.local"));
  EXPECT_TRUE(
      MatchesSanPattern("Agent-1.Stampede.LOCAL", "agent-*.stampede.local"));
  EXPECT_TRUE(MatchesSanPattern("a.b.c", "*"));
  EXPECT_TRUE(MatchesSanPattern("x.stampede.local", "*.stampede.local"));
  EXPECT_TRUE(MatchesSanPattern("agent-1-eu.x", "agent-*-*.x"));
  EXPECT_TRUE(MatchesSanPattern("exact.name", "exact.name"));

  EXPECT_FALSE(MatchesSanPattern("agent-.stampede.local",
                                 "agent-*.stampede.local"));  // '*' needs one
  EXPECT_FALSE(MatchesSanPattern("agent-1.stampede.local.evil.com",
                                 "agent-*.stampede.local"));
  EXPECT_FALSE(MatchesSanPattern("evil-agent-1.stampede.local",
                                 "agent-*.stampede.local"));
  EXPECT_FALSE(MatchesSanPattern(".stampede.local", "*.stampede.local"));
  EXPECT_FALSE(MatchesSanPattern("", "*"));
  EXPECT_FALSE(MatchesSanPattern("exact.name", "exact.nam"));
  EXPECT_FALSE(MatchesSanPattern("exact.nam", "exact.name"));
  EXPECT_FALSE(MatchesSanPattern("anything", ""));
  EXPECT_FALSE(MatchesSanPattern("agent-1-.x", "agent-*-*.x"));
}

}  // namespace
}  // namespace stampede::common
