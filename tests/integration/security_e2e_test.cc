// Trust end to end, with real processes on loopback: the control plane's
// mTLS (certificates made by scripts/dev-certs at test time), the refusal to
// leave loopback without it, and an agent whose clock is off (libfaketime).
#include <unistd.h>

#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "stampede/v1/result.pb.h"
#include "tests/integration/process.h"

namespace stampede::testing {
namespace {

constexpr char kPlan[] = R"(
name: secure
defaults: { base_url: "http://127.0.0.1:$PORT" }
scenarios:
  - name: s
    load: { arrival_rate: { stages: [ { to: 50/s, over: 0s }, { hold: 2s } ] } }
    requests: [ { path: / } ]
)";

class Security : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir();
    target_ = std::make_unique<Target>(dir_);
    port_ = FreePort();
    plan_file_ = dir_ + "/plan.yaml";
    WriteFile(
        plan_file_,
        absl::StrReplaceAll(kPlan, {{"$PORT", absl::StrCat(target_->port())}}));
  }

  // Certificates for a CA named `name`: ca.pem, controller.pem/.key and
  // agent-1.pem/.key in dir_/name.
  std::string Certs(const std::string& name) {
    const std::string dir = dir_ + "/" + name;
    Child make({std::string(STAMPEDE_SOURCE_DIR) + "/scripts/dev-certs", dir,
                "--agents", "1"},
               dir_ + "/dev-certs-" + name + ".log");
    EXPECT_EQ(make.Wait(60), 0)
        << ReadFile(dir_ + "/dev-certs-" + name + ".log");
    return dir;
  }

  std::vector<std::string> Controller(std::vector<std::string> extra) {
    std::vector<std::string> argv = {BinaryPath("stampede"),
                                     "run",
                                     plan_file_,
                                     "--listen",
                                     absl::StrCat("127.0.0.1:", port_),
                                     "--expect-agents",
                                     "1",
                                     "--registration-timeout",
                                     "5",
                                     "--out",
                                     "json=" + dir_ + "/r.json"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  }

  std::vector<std::string> Agent(std::vector<std::string> extra) {
    std::vector<std::string> argv = {BinaryPath("stampede-agent"),
                                     "--controller",
                                     absl::StrCat("localhost:", port_),
                                     "--agent-id",
                                     "agent-1",
                                     "--connect-timeout",
                                     "5"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  }

  std::string log() { return ReadFile(dir_ + "/stampede.log"); }

  std::string dir_;
  int port_ = 0;
  std::string plan_file_;
  std::unique_ptr<Target> target_;
};

TEST_F(Security, LeavingLoopbackWithoutCertificatesIsRefused) {
  Child controller({BinaryPath("stampede"), "run", plan_file_, "--listen",
                    absl::StrCat("0.0.0.0:", port_), "--expect-agents", "1"},
                   dir_ + "/stampede.log");
  EXPECT_EQ(controller.Wait(30), 2) << log();
  EXPECT_NE(log().find("would leave loopback without mTLS"), std::string::npos)
      << log();
  EXPECT_EQ(target_->Served(), 0);
}

TEST_F(Security, MutualTlsRunsAndAWrongClientCertificateIsRefused) {
  const std::string a = Certs("a");
  const std::string b = Certs("b");
  const std::vector<std::string> server = {
      "--tls-ca",    a + "/ca.pem",
      "--tls-cert",  a + "/controller.pem",
      "--tls-key",   a + "/controller.key",
      "--agent-san", "agent-*.stampede.local"};
  {
    Child controller(Controller(server), dir_ + "/stampede.log");
    Child agent(Agent({"--tls-ca", a + "/ca.pem", "--tls-cert",
                       a + "/agent-1.pem", "--tls-key", a + "/agent-1.key"}),
                dir_ + "/agent.log");
    ASSERT_EQ(controller.Wait(60), 0) << log() << ReadFile(dir_ + "/agent.log");
    EXPECT_EQ(agent.Wait(20), 0);
    v1::RunResult r;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(
                    ReadFile(dir_ + "/r.json"), &r)
                    .ok());
    EXPECT_EQ(r.summary().requests(), 100);
    EXPECT_FALSE(r.insecure_control_plane());
    EXPECT_EQ(target_->Served(), 100);
  }
  // An agent with a certificate from another CA never registers; nothing is
  // sent.
  Child controller(Controller(server), dir_ + "/stampede.log");
  Child agent(Agent({"--tls-ca", a + "/ca.pem", "--tls-cert",
                     b + "/agent-1.pem", "--tls-key", b + "/agent-1.key"}),
              dir_ + "/agent-wrong.log");
  EXPECT_EQ(controller.Wait(60), 5) << log();
  EXPECT_EQ(agent.Wait(30), 1);
  EXPECT_EQ(target_->Served(), 100);
  // A plaintext agent neither.
  Child again(Controller(server), dir_ + "/stampede.log");
  Child plain(Agent({}), dir_ + "/agent-plain.log");
  EXPECT_EQ(again.Wait(60), 5) << log();
  EXPECT_EQ(plain.Wait(30), 1);
  EXPECT_EQ(target_->Served(), 100);
}

TEST_F(Security, AgentClockTwoSecondsOffIsRefusedByName) {
  constexpr char kFaketime[] = "/usr/bin/faketime";
  if (access(kFaketime, X_OK) != 0) {
    GTEST_SKIP() << "needs " << kFaketime << " (Debian's faketime)";
  }
  Child controller(Controller({}), dir_ + "/stampede.log");
  // Only the wall clock is skewed; monotonic time stays true, as on a host
  // whose clock is simply set wrong.
  std::vector<std::string> argv = {
      "/usr/bin/env", "FAKETIME_DONT_FAKE_MONOTONIC=1", kFaketime, "-f", "+2s"};
  for (const std::string& arg : Agent({})) argv.push_back(arg);
  Child agent(argv, dir_ + "/agent.log");
  EXPECT_EQ(controller.Wait(60), 5) << log();
  // Measured from heartbeat round trips: two seconds, give or take a few ms
  // (exactly two prints as "2s").
  EXPECT_TRUE(std::regex_search(
      log(), std::regex("agent agent-1: its clock is "
                        "(1\\.9[5-9][0-9]*|2|2\\.0[0-4][0-9]*)s "
                        "off the controller's")))
      << log();
  EXPECT_EQ(target_->Served(), 0);
  EXPECT_EQ(agent.Wait(30), 1) << ReadFile(dir_ + "/agent.log");
}

}  // namespace
}  // namespace stampede::testing
