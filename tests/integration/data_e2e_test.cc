// Test data end to end: `stampede run` with local agents reads a plan's
// data: file once in the controller, and the agents (which never see the
// file) log each user in as the split says; the reference target counts
// logins per user (tests/target/state.h: user U with password "pw-" + U).
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/integration/e2e_fixture.h"
#include "tests/integration/process.h"

namespace stampede::testing {
namespace {

class DataEndToEnd : public EndToEnd {
 protected:
  // users.csv beside the plan: user1..N with their passwords, and a column
  // the target ignores.
  void WriteUsers(int n) {
    std::string csv = "user,password,team\n";
    for (int i = 1; i <= n; ++i)
      absl::StrAppend(&csv, "user", i, ",pw-user", i, ",\"a, b\"\n");
    WriteFile(dir_ + "/users.csv", csv);
  }

  RunOutcome RunWith(const std::string& plan, int agents) {
    HttpGet(target_->port(), "/stats/reset");
    Child controller({"/bin/sh", "-c", Command(PlanFile(plan), agents)},
                     log_file());
    return Collect(controller.Wait(120));
  }

  const v1::DataResult* DataOf(const RunOutcome& run, const std::string& name) {
    for (const v1::DataResult& d : run.result.data())
      if (d.name() == name) return &d;
    return nullptr;
  }
};

// mode: unique, per: iteration over 3 agents: every row is one login, once
// in the whole cluster, and once the rows are used up the VUs stop.
constexpr char kUniquePerIteration[] = R"(
name: unique logins
defaults: { base_url: "http://127.0.0.1:$PORT", timeout: 5s }
data:
  users: { file: users.csv, mode: unique, per: iteration, on_exhausted: stop }
scenarios:
  - name: login
    load: { vus: { stages: [ { to: 7, over: 0s }, { hold: 3s } ] } }
    flow:
      - name: login
        method: POST
        path: /api/login
        body: '{"user":"{{users.user}}","password":"{{users.password | json}}"}'
        check: { status: [200] }
)";

TEST_F(DataEndToEnd, UniqueRowsOverThreeAgentsLogInEveryUserExactlyOnce) {
  WriteUsers(61);
  RunOutcome run = RunWith(kUniquePerIteration, 3);
  ASSERT_EQ(run.exit_code, 0) << run.log;
  ASSERT_TRUE(run.has_result) << run.log;
  const std::string stats = target_->Stats();
  const std::map<std::string, long long> logins =
      CountMap(stats, "logins_by_user");
  ASSERT_EQ(logins.size(), 61u) << stats;
  for (int i = 1; i <= 61; ++i) {
    auto it = logins.find(absl::StrCat("user", i));
    ASSERT_NE(it, logins.end()) << "user" << i << " never logged in";
    EXPECT_EQ(it->second, 1) << "user" << i;
  }
  const v1::ScenarioResult& sc = run.result.scenarios(0);
  EXPECT_EQ(sc.summary().errors(), 0) << run.log;
  EXPECT_EQ(sc.requests(0).summary().requests(), 61);
  EXPECT_EQ(sc.flows().completed(), 61);
  EXPECT_GT(sc.flows().data_exhausted(), 0);
  const v1::DataResult* users = DataOf(run, "users");
  ASSERT_NE(users, nullptr) << run.log;
  EXPECT_EQ(users->mode(), "unique");
  EXPECT_EQ(users->rows(), 61);
  EXPECT_EQ(users->taken(), 61);
  EXPECT_EQ(users->used(), 61);
  EXPECT_EQ(users->left(), 0);
  EXPECT_NE(run.log.find("users (unique): 61 rows"), std::string::npos)
      << run.log;
}

// per: vu: VU j of the plan is user j+1; VUs past the file's rows do not
// start, and are counted.
constexpr char kUniquePerVu[] = R"(
name: one user per vu
defaults: { base_url: "http://127.0.0.1:$PORT", timeout: 5s }
data:
  users: { file: users.csv, mode: unique }
scenarios:
  - name: login
    load: { vus: { stages: [ { to: 9, over: 0s }, { hold: 2s } ], iterations_per_vu: 2 } }
    flow:
      - name: login
        method: POST
        path: /api/login
        body: '{"user":"{{users.user}}","password":"{{users.password}}","vu":{{vu}}}'
        check: { status: [200] }
)";

TEST_F(DataEndToEnd, UniquePerVuGivesEachVuItsOwnRowAndCountsTheRest) {
  WriteUsers(5);
  RunOutcome run = RunWith(kUniquePerVu, 3);
  ASSERT_EQ(run.exit_code, 0) << run.log;
  ASSERT_TRUE(run.has_result) << run.log;
  const std::map<std::string, long long> logins =
      CountMap(target_->Stats(), "logins_by_user");
  ASSERT_EQ(logins.size(), 5u);
  // Each VU keeps its user for both its iterations.
  for (const auto& [user, n] : logins) EXPECT_EQ(n, 2) << user;
  const v1::ScenarioResult& sc = run.result.scenarios(0);
  EXPECT_EQ(sc.summary().errors(), 0) << run.log;
  EXPECT_EQ(sc.flows().completed(), 10);
  EXPECT_EQ(sc.flows().data_exhausted(), 4);  // VUs 6..9 of the plan
  const v1::DataResult* users = DataOf(run, "users");
  ASSERT_NE(users, nullptr);
  EXPECT_EQ(users->taken(), 10);
  EXPECT_EQ(users->used(), 5);
  EXPECT_EQ(users->left(), 0);
}

// circular, the default: every agent has every row; VU j takes row j % rows.
constexpr char kCircular[] = R"(
name: circular
defaults: { base_url: "http://127.0.0.1:$PORT", timeout: 5s }
data:
  users: { file: users.csv }
scenarios:
  - name: login
    load: { vus: { stages: [ { to: 6, over: 0s }, { hold: 2s } ], iterations_per_vu: 1 } }
    flow:
      - { name: login, method: POST, path: /api/login,
          body: '{"user":"{{users.user}}","password":"{{users.password}}"}',
          check: { status: [200] } }
)";

TEST_F(DataEndToEnd, CircularDataWrapsAroundTheFileAcrossAgents) {
  WriteUsers(4);
  RunOutcome run = RunWith(kCircular, 3);
  ASSERT_EQ(run.exit_code, 0) << run.log;
  const std::map<std::string, long long> logins =
      CountMap(target_->Stats(), "logins_by_user");
  EXPECT_EQ(logins,
            (std::map<std::string, long long>{
                {"user1", 2}, {"user2", 2}, {"user3", 1}, {"user4", 1}}));
  const v1::DataResult* users = DataOf(run, "users");
  ASSERT_NE(users, nullptr);
  EXPECT_EQ(users->mode(), "circular");
  EXPECT_EQ(users->taken(), 6);
}

TEST_F(DataEndToEnd, ValidateNamesAMissingFileAndABadColumnAtTheirPlace) {
  WriteUsers(2);
  WriteFile(dir_ + "/broken.csv", "user,password\nalice,\"pw\n");
  const std::string plan = PlanFile(R"(name: bad
defaults: { base_url: "http://127.0.0.1:$PORT" }
data:
  users: { file: users.csv, mode: unique }
  gone: { file: nowhere.csv }
  broken: { file: broken.csv }
scenarios:
  - name: s
    load: { vus: { stages: [ { hold: 1s } ] } }
    flow:
      - { name: login, method: POST, path: /api/login, body: "{{users.pasword}}" }
)");
  Child validate({"/bin/sh", "-c",
                  absl::StrCat(BinaryPath("stampede"), " validate ", plan)},
                 log_file());
  EXPECT_EQ(validate.Wait(30), 2);
  const std::string log = ReadFile(log_file());
  EXPECT_NE(log.find("plan.yaml:5:17: data.gone.file: data file nowhere.csv: "
                     "cannot open: No such file or directory"),
            std::string::npos)
      << log;
  // The data file's own line and column follow its name.
  EXPECT_NE(log.find("plan.yaml:6:19: data.broken.file: data file "
                     "broken.csv:2:7: "),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("plan.yaml:11:63: scenarios[0].flow[0].body: "
                     "{{users.pasword}} is not defined: data set users has "
                     "no column \"pasword\" (it has user, password, team)"),
            std::string::npos)
      << log;
}

}  // namespace
}  // namespace stampede::testing
