// `stampede compare` on real runs against the reference target: unchanged
// reruns are not regressions, a target made slower is (exit 3), plans that
// differ are refused (exit 2), and a baseline directory keeps the last
// passing result.
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"
#include "tests/integration/e2e_fixture.h"
#include "tests/integration/process.h"

namespace stampede::testing {
namespace {

// 6 s at a steady 100/s: 5 steady intervals for the noise test.
constexpr char kPlan[] = R"(
name: compare-e2e
defaults: { base_url: "http://127.0.0.1:$PORT" }
scenarios:
  - name: api
    load: { arrival_rate: { stages: [ {to: RATE, over: 0s}, {hold: 6s} ] } }
    requests:
      - { name: home, path: / }
      - { name: bytes, path: /bytes/512 }
)";

class CompareEndToEnd : public EndToEnd {
 protected:
  // Runs the plan at `rate` into DIR/NAME.json; returns the exit code.
  int RunTo(const std::string& name, const std::string& rate = "100/s") {
    const std::string plan = absl::StrReplaceAll(kPlan, {{"RATE", rate}});
    RunOutcome run = Run(plan);
    EXPECT_EQ(run.exit_code, 0) << run.log;
    EXPECT_TRUE(run.has_result) << run.log;
    std::filesystem::rename(json_file(), File(name));
    return run.exit_code;
  }
  std::string File(const std::string& name) const {
    return absl::StrCat(dir_, "/", name, ".json");
  }
  // `stampede compare ARGS`: its exit code; its output in `out`.
  int Compare(const std::string& args, std::string* out) {
    const std::string log = dir_ + "/compare.log";
    Child compare({"/bin/sh", "-c",
                   absl::StrCat(BinaryPath("stampede"), " compare ", args)},
                  log);
    const int code = compare.Wait(30);
    *out = ReadFile(log);
    return code;
  }
};

TEST_F(CompareEndToEnd, RerunsAreNoiseASlowerTargetIsNotAndPlansMustMatch) {
  RunTo("base");
  std::string out;
  for (int rerun = 1; rerun <= 3; ++rerun) {
    const std::string name = absl::StrCat("rerun", rerun);
    RunTo(name);
    EXPECT_EQ(Compare(absl::StrCat(File("base"), " ", File(name)), &out), 0)
        << out;
    EXPECT_NE(out.find("no regression"), std::string::npos) << out;
    EXPECT_EQ(out.find("the plans differ"), std::string::npos) << out;
  }

  // The same plan against a target that answers 40 ms later.
  ASSERT_EQ(HttpGet(target_->port(), "/fault/latency/40").rfind("{", 0), 0u);
  RunTo("slower");
  ASSERT_EQ(HttpGet(target_->port(), "/fault/clear").rfind("{", 0), 0u);
  EXPECT_EQ(Compare(absl::StrCat(File("base"), " ", File("slower")), &out), 3)
      << out;
  EXPECT_NE(out.find("REGRESSION: (run) p50"), std::string::npos) << out;
  EXPECT_NE(out.find("REGRESSION: api home p95"), std::string::npos) << out;
  EXPECT_NE(out.find("(p="), std::string::npos) << out;

  // Another load is another plan: refused, unless asked for.
  RunTo("other", "50/s");
  EXPECT_EQ(Compare(absl::StrCat(File("base"), " ", File("other")), &out), 2)
      << out;
  EXPECT_NE(out.find("the plans differ"), std::string::npos) << out;
  EXPECT_NE(out.find("--allow-plan-change"), std::string::npos) << out;
  // Half the rate: rps regresses.
  EXPECT_EQ(Compare(absl::StrCat("--allow-plan-change ", File("base"), " ",
                                 File("other")),
                    &out),
            3)
      << out;
  EXPECT_NE(out.find("REGRESSION: (run) rps 100.0/s -> 50.0/s"),
            std::string::npos)
      << out;

  // A baseline directory: none yet (saved on pass), then read back; a
  // regression does not replace it.
  const std::string baselines = dir_ + "/baselines";
  const std::string kept = baselines + "/compare-e2e.json";
  EXPECT_EQ(Compare(absl::StrCat("--baseline-dir ", baselines,
                                 " --update-baseline ", File("base")),
                    &out),
            0)
      << out;
  EXPECT_NE(out.find("no baseline for plan \"compare-e2e\""), std::string::npos)
      << out;
  EXPECT_EQ(ReadFile(kept), ReadFile(File("base")));
  EXPECT_EQ(Compare(absl::StrCat("--baseline-dir ", baselines,
                                 " --update-baseline ", File("slower")),
                    &out),
            3)
      << out;
  EXPECT_NE(out.find("baseline kept: the new run regressed"), std::string::npos)
      << out;
  EXPECT_EQ(ReadFile(kept), ReadFile(File("base")));
  EXPECT_EQ(Compare(absl::StrCat("--baseline-dir ", baselines,
                                 " --update-baseline ", File("rerun1")),
                    &out),
            0)
      << out;
  EXPECT_NE(out.find("baseline updated: " + kept), std::string::npos) << out;
  EXPECT_EQ(ReadFile(kept), ReadFile(File("rerun1")));
}

}  // namespace
}  // namespace stampede::testing
