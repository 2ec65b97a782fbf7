// Workers sized to the CPUs an agent may use, end to end: an agent confined to
// one CPU (taskset, or a cgroup v2 cpu.max of one CPU) reports 1 core and runs
// 1 worker, as the JSON result's agents[] shows, and says why in its log; a
// controller confined the same way spawns one local agent. Only the PIDs
// started here are signalled, and only the cgroup made here is removed.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "stampede/v1/result.pb.h"
#include "tests/integration/process.h"

namespace stampede::testing {
namespace {

// 20/s for 1 s: enough for the agent to register, run and report.
constexpr char kPlan[] = R"(
name: cpus
defaults: { base_url: "http://127.0.0.1:$PORT" }
scenarios:
  - name: browse
    load: { arrival_rate: { stages: [ {to: 20/s, over: 0s}, {hold: 1s} ] } }
    requests:
      - { name: home, path: / }
)";

constexpr char kCgroupRoot[] = "/sys/fs/cgroup";

std::string Taskset() {
  for (const char* path : {"/usr/bin/taskset", "/bin/taskset"}) {
    if (access(path, X_OK) == 0) return path;
  }
  return "";
}

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

bool HasWord(const std::string& text, const std::string& word) {
  for (absl::string_view w : absl::StrSplit(text, absl::ByAnyChar(" \n"))) {
    if (w == word) return true;
  }
  return false;
}

// A cgroup v2 child of the root made by this test and removed (by its name)
// when done; the processes in it must have exited by then.
class TestCgroup {
 public:
  // Makes it with cpu.max `cpu_max`; on failure returns nullptr and says why.
  static std::unique_ptr<TestCgroup> Make(const std::string& cpu_max,
                                          std::string* why) {
    const std::string root = kCgroupRoot;
    if (geteuid() != 0) {
      *why = "not running as root";
      return nullptr;
    }
    if (!Exists(root + "/cgroup.controllers")) {
      *why = absl::StrCat(
          "cgroup v2 is not mounted at ", root,
          " (cgroup v1 or a hybrid hierarchy), and the agent reads only v2");
      return nullptr;
    }
    if (!HasWord(ReadFile(root + "/cgroup.controllers"), "cpu")) {
      *why = "the cpu controller is not available in " + root;
      return nullptr;
    }
    if (!HasWord(ReadFile(root + "/cgroup.subtree_control"), "cpu")) {
      std::ofstream(root + "/cgroup.subtree_control") << "+cpu";
      if (!HasWord(ReadFile(root + "/cgroup.subtree_control"), "cpu")) {
        *why = "cannot enable the cpu controller in " + root +
               "/cgroup.subtree_control";
        return nullptr;
      }
    }
    auto cgroup = std::unique_ptr<TestCgroup>(
        new TestCgroup(absl::StrCat(root, "/stampede-test-", getpid())));
    if (mkdir(cgroup->dir_.c_str(), 0755) != 0) {
      *why = "cannot create " + cgroup->dir_;
      cgroup->dir_.clear();
      return nullptr;
    }
    std::ofstream(cgroup->dir_ + "/cpu.max") << cpu_max;
    if (!absl::StartsWith(ReadFile(cgroup->dir_ + "/cpu.max"), cpu_max)) {
      *why = "cannot write cpu.max in " + cgroup->dir_;
      return nullptr;
    }
    return cgroup;
  }

  ~TestCgroup() {
    if (dir_.empty()) return;
    // A process just reaped can linger in cgroup.procs for a moment.
    for (int i = 0; i < 100 && rmdir(dir_.c_str()) != 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  const std::string& dir() const { return dir_; }

 private:
  explicit TestCgroup(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
};

class Cpus : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir();
    target_ = std::make_unique<Target>(dir_);
    plan_file_ = dir_ + "/plan.yaml";
    WriteFile(
        plan_file_,
        absl::StrReplaceAll(kPlan, {{"$PORT", absl::StrCat(target_->port())}}));
  }

  // Runs a controller waiting for one remote agent, and the agent through
  // `launcher` (argv put before the agent's, e.g. taskset), without
  // --workers. Returns the controller's exit code; fills result_.
  int RunRemoteAgent(const std::vector<std::string>& launcher) {
    const int port = FreePort();
    Child controller({BinaryPath("stampede"), "run", plan_file_, "--listen",
                      absl::StrCat("127.0.0.1:", port), "--expect-agents", "1",
                      "--out", "json=" + json_file()},
                     log_file());
    std::vector<std::string> argv = launcher;
    argv.insert(argv.end(),
                {BinaryPath("stampede-agent"), "--controller",
                 absl::StrCat("127.0.0.1:", port), "--agent-id", "confined"});
    Child agent(argv, agent_log_file());
    const int code = controller.Wait(60);
    agent.Wait(10);
    ParseResult();
    return code;
  }

  void ParseResult() {
    google::protobuf::util::JsonParseOptions strict;
    has_result_ = google::protobuf::util::JsonStringToMessage(
                      ReadFile(json_file()), &result_, strict)
                      .ok();
  }

  std::string json_file() const { return dir_ + "/result.json"; }
  std::string log_file() const { return dir_ + "/stampede.log"; }
  std::string agent_log_file() const { return dir_ + "/agent.log"; }

  std::string dir_;
  std::unique_ptr<Target> target_;
  std::string plan_file_;
  v1::RunResult result_;
  bool has_result_ = false;
};

TEST_F(Cpus, AgentUnderTasksetRunsOneWorker) {
  const std::string taskset = Taskset();
  ASSERT_FALSE(taskset.empty()) << "taskset (util-linux) is not installed";
  const int code = RunRemoteAgent({taskset, "-c", "0"});
  const std::string agent_log = ReadFile(agent_log_file());
  ASSERT_EQ(code, 0) << ReadFile(log_file()) << agent_log;
  ASSERT_TRUE(has_result_) << ReadFile(json_file());
  ASSERT_EQ(result_.agents_size(), 1);
  EXPECT_EQ(result_.agents(0).id(), "confined");
  EXPECT_EQ(result_.agents(0).cores(), 1u);
  EXPECT_EQ(result_.agents(0).workers(), 1u);
  EXPECT_EQ(result_.summary().requests(), 20);
  EXPECT_NE(agent_log.find("usable CPUs: 1 of "), std::string::npos)
      << agent_log;
  if (std::thread::hardware_concurrency() > 1) {
    EXPECT_NE(agent_log.find(" CPUs: affinity"), std::string::npos)
        << agent_log;
  }
  EXPECT_NE(agent_log.find("with 1 workers"), std::string::npos) << agent_log;
}

TEST_F(Cpus, ControllerUnderTasksetSpawnsOneLocalAgent) {
  const std::string taskset = Taskset();
  ASSERT_FALSE(taskset.empty()) << "taskset (util-linux) is not installed";
  // No --local-agents: the default follows the controller's usable CPUs, and
  // the agents it spawns inherit its affinity.
  Child controller({taskset, "-c", "0", BinaryPath("stampede"), "run",
                    plan_file_, "--out", "json=" + json_file()},
                   log_file());
  const int code = controller.Wait(60);
  ASSERT_EQ(code, 0) << ReadFile(log_file());
  ParseResult();
  ASSERT_TRUE(has_result_) << ReadFile(json_file());
  ASSERT_EQ(result_.agents_size(), 1);
  EXPECT_EQ(result_.agents(0).cores(), 1u);
  EXPECT_EQ(result_.agents(0).workers(), 1u);
  EXPECT_EQ(result_.summary().requests(), 20);
}

TEST_F(Cpus, AgentInACgroupWithOneCpuOfQuotaRunsOneWorker) {
  std::string why;
  std::unique_ptr<TestCgroup> cgroup = TestCgroup::Make("100000 100000", &why);
  if (cgroup == nullptr) GTEST_SKIP() << "no test cgroup: " << why;
  // The shell moves itself into the cgroup, then becomes the agent.
  const int code =
      RunRemoteAgent({"/bin/sh", "-c",
                      absl::StrCat("echo $$ > ", cgroup->dir(),
                                   "/cgroup.procs && exec \"$0\" \"$@\"")});
  const std::string agent_log = ReadFile(agent_log_file());
  ASSERT_EQ(code, 0) << ReadFile(log_file()) << agent_log;
  ASSERT_TRUE(has_result_) << ReadFile(json_file());
  ASSERT_EQ(result_.agents_size(), 1);
  EXPECT_EQ(result_.agents(0).cores(), 1u);
  EXPECT_EQ(result_.agents(0).workers(), 1u);
  if (std::thread::hardware_concurrency() > 1) {
    EXPECT_NE(agent_log.find("CPUs: cgroup cpu.max 100000 100000 in /"),
              std::string::npos)
        << agent_log;
  }
}

}  // namespace
}  // namespace stampede::testing
