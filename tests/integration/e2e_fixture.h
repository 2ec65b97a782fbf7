// The end-to-end tests' fixture: a reference target per test, a plan file
// with $PORT filled in, `stampede run` with local agents, and the JSON result
// it wrote, parsed strictly into the result proto.
#ifndef STAMPEDE_TESTS_INTEGRATION_E2E_FIXTURE_H_
#define STAMPEDE_TESTS_INTEGRATION_E2E_FIXTURE_H_

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
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
