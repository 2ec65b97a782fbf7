// The end-to-end tests' fixture: a reference target per test, a plan file
// with $PORT filled in, `stampede run` with local agents, and the JSON result
// it wrote, parsed strictly into the result proto.
#ifndef STAMPEDE_TESTS_INTEGRATION_E2E_FIXTURE_H_
#define STAMPEDE_TESTS_INTEGRATION_E2E_FIXTURE_H_

#include <map>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "stampede/v1/result.pb.h"
#include "tests/integration/process.h"

namespace stampede::testing {

struct RunOutcome {
  int exit_code = -1;
  std::string log;
  v1::RunResult result;
  bool has_result = false;
};

// The log and the result (parsed strictly: unknown fields fail, JSON ==
// proto) that a finished `stampede run` left in its files.
inline RunOutcome CollectRun(int exit_code, const std::string& log_file,
                             const std::string& json_file) {
  RunOutcome out;
  out.exit_code = exit_code;
  out.log = ReadFile(log_file);
  const std::string text = ReadFile(json_file);
  google::protobuf::util::JsonParseOptions strict;
  out.has_result = !text.empty() && google::protobuf::util::JsonStringToMessage(
                                        text, &out.result, strict)
                                        .ok();
  return out;
}

// The reference target's /stats (tests/target/state.h) read as a user would
// read its counters. `stats` is the JSON text; a count absent is -1.
inline google::protobuf::Struct ParseStats(const std::string& stats) {
  google::protobuf::Struct out;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(stats, &out).ok())
      << stats;
  return out;
}

// The stateful routes' counter `key` (state.KEY), e.g. "not_found".
inline long long StateCount(const std::string& stats, const std::string& key) {
  const google::protobuf::Struct parsed = ParseStats(stats);
  auto state = parsed.fields().find("state");
  if (state == parsed.fields().end()) return -1;
  auto it = state->second.struct_value().fields().find(key);
  return it == state->second.struct_value().fields().end()
             ? -1
             : static_cast<long long>(it->second.number_value());
}

// A map of counts under "state", e.g. logins_by_user or turns_by_session.
inline std::map<std::string, long long> CountMap(const std::string& stats,
                                                 const std::string& key) {
  std::map<std::string, long long> out;
  const google::protobuf::Struct parsed = ParseStats(stats);
  auto state = parsed.fields().find("state");
  if (state == parsed.fields().end()) return out;
  auto it = state->second.struct_value().fields().find(key);
  if (it == state->second.struct_value().fields().end()) return out;
  for (const auto& [name, value] : it->second.struct_value().fields())
    out[name] = static_cast<long long>(value.number_value());
  return out;
}

// The connections the target accepted since its counts were reset.
inline long long Connections(const std::string& stats) {
  const google::protobuf::Struct parsed = ParseStats(stats);
  auto it = parsed.fields().find("connections");
  return it == parsed.fields().end()
             ? -1
             : static_cast<long long>(it->second.number_value());
}

class EndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir();
    target_ = std::make_unique<Target>(dir_);
  }

  // Writes `plan`, with $PORT replaced by the target's port; returns its path.
  std::string PlanFile(const std::string& plan) {
    std::string plan_file = dir_ + "/plan.yaml";
    WriteFile(plan_file, absl::StrReplaceAll(
                             plan, {{"$PORT", absl::StrCat(target_->port())},
                                    {"$TRANSPORT", transport_}}));
    return plan_file;
  }

  // `stampede run PLAN --out json=...` with 2 local agents, as a command line.
  std::string Command(const std::string& plan_file, int agents = 2) {
    return absl::StrCat(BinaryPath("stampede"), " run ", plan_file,
                        " --local-agents ", agents,
                        " --out json=", json_file());
  }

  std::string json_file() const { return dir_ + "/result.json"; }
  std::string log_file() const { return dir_ + "/stampede.log"; }

  // The log and the result a finished run left.
  RunOutcome Collect(int exit_code) {
    return CollectRun(exit_code, log_file(), json_file());
  }

  // Writes `plan` and runs `stampede run` on it to the end.
  RunOutcome Run(const std::string& plan, const std::string& extra_flags = "") {
    Child controller(
        {"/bin/sh", "-c", Command(PlanFile(plan)) + " " + extra_flags},
        log_file());
    return Collect(controller.Wait(120));
  }

  std::string dir_;
  std::unique_ptr<Target> target_;
  std::string transport_ = "auto";  // what $TRANSPORT in a plan becomes
};

}  // namespace stampede::testing

#endif  // STAMPEDE_TESTS_INTEGRATION_E2E_FIXTURE_H_
