// The example plans in examples/ run as their header comments say, with
// TARGET=http://127.0.0.1:PORT, against a fresh reference target: every one
// that walks the stateful /api/ routes gets no 401, 404 or 409 and no error,
// completes flows, and puts exactly its planned number of users in each
// scenario (the user mix's weights); a second run on the same target, which
// keeps the first run's agents, is as clean. Every example validates.
#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"
#include "tests/integration/e2e_fixture.h"
#include "tests/integration/process.h"

namespace stampede::testing {
namespace {

std::string ExamplesDir() {
  return std::string(STAMPEDE_SOURCE_DIR) + "/examples";
}

// The example plans' names (file names without .yaml), sorted.
std::vector<std::string> Examples() {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(ExamplesDir())) {
    if (entry.path().extension() == ".yaml")
      names.push_back(entry.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// The examples that walk the reference target's stateful routes.
std::vector<std::string> StatefulExamples() {
  std::vector<std::string> names;
  for (const std::string& name : Examples()) {
    if (absl::StrContains(ReadFile(ExamplesDir() + "/" + name + ".yaml"),
                          "/api/"))
      names.push_back(name);
  }
  return names;
}

// What one scenario of an example is planned to be: its users log in as
// PREFIX<vu>, and there are `vus` of them once ramped.
struct Users {
  std::string scenario;
  std::string prefix;
  int vus;
};

// What each stateful example promises beyond "no 4xx, no errors, flows
// completed", as its header comment says.
struct Expected {
  std::vector<Users> users;
  int logins_per_user = 0;    // 0: any number (a login per iteration)
  int turns_per_session = 0;  // 0: sessions are not checked
};

const std::map<std::string, Expected>& ExpectedOf() {
  static const auto* expected = new std::map<std::string, Expected>{
      {"create-get-delete", {{{"agents", "user", 20}}}},
      {"weighted-users",
       {{{"writers", "writer", 15}, {"readers", "reader", 5}}}},
      {"chat-session", {{{"chat", "chat", 20}}, 1, 15}},
      {"login-token",
       {{{"bearer", "bearer", 10}, {"cookie", "cookie", 10}}, 1}},
      // 60/30/8/2 of 50 users.
      {"user-mix",
       {{{"browsers", "browser", 30},
         {"creators", "creator", 15},
         {"chatters", "chatter", 4},
         {"importers", "importer", 1}}}},
  };
  return *expected;
}

const v1::ScenarioResult* ScenarioNamed(const v1::RunResult& result,
                                        const std::string& name) {
  for (const v1::ScenarioResult& s : result.scenarios())
    if (s.name() == name) return &s;
  return nullptr;
}

class ExamplesEndToEnd : public EndToEnd,
                         public ::testing::WithParamInterface<std::string> {
 protected:
  // `stampede run examples/NAME.yaml` with 2 local agents and TARGET set, as
  // a user runs it; the target's counts are zeroed first.
  RunOutcome RunExample(const std::string& name) {
    HttpGet(target_->port(), "/stats/reset");
    std::filesystem::remove(json_file());  // never judge an earlier run's
    const std::string command = absl::StrCat(
        "TARGET=http://127.0.0.1:", target_->port(), " ",
        Command(absl::StrCat(ExamplesDir(), "/", name, ".yaml"), 2));
    Child controller({"/bin/sh", "-c", command}, log_file());
    return Collect(controller.Wait(120));
  }

  // What a user of the example would check after a run.
  void ExpectClean(const std::string& name, const RunOutcome& run) {
    ASSERT_EQ(run.exit_code, 0) << run.log;
    ASSERT_TRUE(run.has_result) << run.log;
    const std::string stats_text = target_->Stats();
    ASSERT_TRUE(ParseStats(stats_text).fields().contains("state"))
        << stats_text;
    // Every token came from its user's login, every id from the answer
    // that made it, and no id was taken already.
    EXPECT_EQ(StateCount(stats_text, "unauthorized"), 0) << stats_text;
    EXPECT_EQ(StateCount(stats_text, "not_found"), 0) << stats_text;
    EXPECT_EQ(StateCount(stats_text, "conflict"), 0) << stats_text;
    EXPECT_EQ(run.result.summary().errors(), 0) << run.log;
    for (const v1::ScenarioResult& s : run.result.scenarios()) {
      EXPECT_TRUE(s.flows().flow()) << s.name();
      EXPECT_GT(s.flows().completed(), 0) << s.name() << "\n" << run.log;
      EXPECT_EQ(s.flows().aborted(), 0) << s.name() << "\n" << run.log;
    }

    auto it = ExpectedOf().find(name);
    ASSERT_NE(it, ExpectedOf().end())
        << name << " walks the stateful routes: say what it promises in "
        << "ExpectedOf()";
    const Expected& expected = it->second;
    ASSERT_EQ(run.result.scenarios_size(),
              static_cast<int>(expected.users.size()));
    const auto logins = CountMap(stats_text, "logins_by_user");
    size_t users = 0;
    for (const Users& u : expected.users) {
      // The users the target saw log in under this scenario's names: its
      // VUs, each one user, exactly its share of the mix. {{vu}} is unique
      // in the run: the scenarios (listed in plan order) number their users
      // one after the other, from 1.
      const int first = static_cast<int>(users);
      int seen = 0;
      for (const auto& [user, n] : logins) {
        if (!absl::StartsWith(user, u.prefix)) continue;
        const std::string number = user.substr(u.prefix.size());
        if (number.empty() ||
            !std::all_of(number.begin(), number.end(), absl::ascii_isdigit))
          continue;
        ++seen;
        EXPECT_GT(std::stoi(number), first) << user;
        EXPECT_LE(std::stoi(number), first + u.vus) << user;
        if (expected.logins_per_user > 0) {
          EXPECT_EQ(n, expected.logins_per_user) << user;
        }
      }
      EXPECT_EQ(seen, u.vus) << u.scenario << "\n" << stats_text;
      users += static_cast<size_t>(seen);
      // And the run's own view: each VU opened one connection and kept it.
      const v1::ScenarioResult* s = ScenarioNamed(run.result, u.scenario);
      ASSERT_NE(s, nullptr) << u.scenario;
      int64_t connections = 0;
      for (const v1::RequestResult& r : s->requests())
        connections += r.summary().phases_ms().new_connections();
      EXPECT_EQ(connections, u.vus) << u.scenario;
    }
    EXPECT_EQ(logins.size(), users) << stats_text;
    // The VUs of all scenarios together, once ramped.
    int64_t peak_vus = 0;
    for (const v1::IntervalResult& i : run.result.intervals())
      peak_vus = std::max<int64_t>(peak_vus, i.vus());
    EXPECT_EQ(peak_vus, static_cast<int64_t>(users));

    if (expected.turns_per_session > 0) {
      // One session per user, every turn on it.
      const auto turns = CountMap(stats_text, "turns_by_session");
      EXPECT_EQ(turns.size(), users) << stats_text;
      for (const auto& [session, n] : turns)
        EXPECT_EQ(n, expected.turns_per_session) << session;
    }
  }
};

TEST_P(ExamplesEndToEnd, RunsWithNoStray4xx) {
  const std::string name = GetParam();
  {
    SCOPED_TRACE("first run");
    RunOutcome run = RunExample(name);
    ExpectClean(name, run);
    if (HasFatalFailure()) return;
  }
  // An example that names its own agents runs again on the same target,
  // which keeps the agents of the first run's flows cut by its end: ids made
  // anew each run never collide with them.
  if (!absl::StrContains(ReadFile(ExamplesDir() + "/" + name + ".yaml"),
                         R"("id":")"))
    return;
  SCOPED_TRACE("second run on the same target");
  RunOutcome again = RunExample(name);
  ExpectClean(name, again);
}

INSTANTIATE_TEST_SUITE_P(Stateful, ExamplesEndToEnd,
                         ::testing::ValuesIn(StatefulExamples()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return absl::StrReplaceAll(info.param, {{"-", "_"}});
                         });

// The user journeys the examples are there to show (issue 15's "Done when")
// are all still there, and all walk the stateful routes.
TEST(Examples, EveryJourneyHasAStatefulExample) {
  const std::vector<std::string> stateful = StatefulExamples();
  for (const auto& [name, expected] : ExpectedOf()) {
    EXPECT_NE(std::find(stateful.begin(), stateful.end(), name), stateful.end())
        << name;
  }
}

TEST(Examples, EveryExampleValidates) {
  const std::vector<std::string> examples = Examples();
  ASSERT_FALSE(examples.empty());
  const std::string dir = MakeTempDir();
  for (const std::string& name : examples) {
    const std::string log = dir + "/" + name + ".log";
    Child validate(
        {"/bin/sh", "-c",
         absl::StrCat("TARGET=http://127.0.0.1:8080 ", BinaryPath("stampede"),
                      " validate ", ExamplesDir(), "/", name, ".yaml")},
        log);
    EXPECT_EQ(validate.Wait(30), 0) << name << ": " << ReadFile(log);
    EXPECT_TRUE(absl::StrContains(ReadFile(log), ": valid (")) << ReadFile(log);
  }
}

}  // namespace
}  // namespace stampede::testing
