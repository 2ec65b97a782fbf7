// Fuzzes plan loading (common/plan_loader.h): the input is the text of a plan
// file, YAML or JSON, as a user (or a controller handing plans to agents)
// might give it. Parsing must return a status, never crash or hang; a parsed
// plan must pass through validation and normalisation the same way; a
// failure must come with its issues, and a success with none.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "common/plan_loader.h"
#include "google/protobuf/util/message_differencer.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  // The committed plans refer to ${TARGET}; give it a value so that they get
  // past parsing (and leave STAMPEDE_TEST_SURELY_UNSET unset, as its name
  // says).
  setenv("TARGET", "http://127.0.0.1:8080", 1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace common = stampede::common;
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  // Both passes at once (validation of a partly parsed plan included): a
  // status and its issues, never a crash.
  std::vector<common::PlanIssue> all;
  absl::StatusOr<common::LoadedPlan> checked =
      common::ParseAndValidatePlan("fuzz.yaml", text, &all);
  FUZZ_CHECK(checked.ok() == all.empty());
  for (const common::PlanIssue& issue : all) {
    FUZZ_CHECK(!issue.message.empty());
    FUZZ_CHECK(!issue.ToString().empty());
  }

  std::vector<common::PlanIssue> issues;
  absl::StatusOr<common::LoadedPlan> loaded =
      common::ParsePlan("fuzz.yaml", text, &issues);
  if (!loaded.ok()) {
    FUZZ_CHECK(!issues.empty());
    FUZZ_CHECK(!loaded.status().message().empty());
    for (const common::PlanIssue& issue : issues) {
      FUZZ_CHECK(!issue.message.empty());
      FUZZ_CHECK(issue.line >= 0 && issue.col >= 0);
      FUZZ_CHECK(!issue.ToString().empty());
    }
    return 0;
  }
  FUZZ_CHECK(issues.empty());
  FUZZ_CHECK(loaded->file == "fuzz.yaml");

  const std::vector<common::PlanIssue> problems = common::ValidatePlan(*loaded);
  for (const common::PlanIssue& issue : problems) {
    FUZZ_CHECK(!issue.message.empty());
    FUZZ_CHECK(!issue.ToString().empty());
  }
  // Any path may be asked about, located or not.
  (void)loaded->IssueAt("scenarios[0].load", "probe").ToString();
  if (!problems.empty()) return 0;

  // A valid plan normalises to a plan that is still valid, and normalising
  // twice changes nothing.
  common::NormalizePlan(&loaded->plan);
  FUZZ_CHECK(common::ValidatePlan(*loaded).empty());
  const stampede::v1::TestPlan once = loaded->plan;
  common::NormalizePlan(&loaded->plan);
  FUZZ_CHECK(
      google::protobuf::util::MessageDifferencer::Equals(once, loaded->plan));
  return 0;
}
