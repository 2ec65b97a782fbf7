// A plan with 400 request names, end to end (controller, one agent started by
// hand, the reference target, all on loopback): every planned arrival is sent
// and reported under its own name, and the agent's memory stays small. Each
// name has several histograms per worker per interval, which is what once made
// an agent grow to gigabytes on such a plan (issue 14).
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "tests/integration/e2e_fixture.h"
#include "tests/integration/process.h"

namespace stampede::testing {
namespace {

constexpr int kNames = 400;
constexpr int kRate = 400;  // per second, round-robin over the names
constexpr int kSeconds = 3;
constexpr int kArrivals = kRate * kSeconds;
// The dense histograms took about 6 MB per name on one agent; what is left
// per name is a few KiB of counters and the pages its latencies touched.
constexpr long long kMaxAgentRssKb = 200 * 1024;

// VmHWM (peak resident set, kB) of `pid` from /proc; -1 once it has exited.
long long PeakRssKb(int pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    absl::string_view rest = line;
    if (!absl::ConsumePrefix(&rest, "VmHWM:")) continue;
    rest = absl::StripAsciiWhitespace(rest);
    absl::ConsumeSuffix(&rest, " kB");
    long long kb = 0;
    return absl::SimpleAtoi(rest, &kb) ? kb : -1;
  }
  return -1;
}

std::string ManyNamesPlan() {
  std::string plan = absl::StrCat(R"(
name: names
defaults: { base_url: "http://127.0.0.1:$PORT", timeout: 5s }
scenarios:
  - name: many-names
    load: { arrival_rate: { stages: [ {to: )",
                                  kRate, "/s, over: 0s}, {hold: ", kSeconds,
                                  R"(s} ] } }
    requests:
)");
  for (int i = 0; i < kNames; ++i)
    absl::StrAppend(&plan, "      - { name: r", i, ", path: \"/?r=", i,
                    "\" }\n");
  return plan;
}

class NamesEndToEnd : public EndToEnd {};

TEST_F(NamesEndToEnd, FourHundredNamesSendEveryArrivalInLittleMemory) {
  const int port = FreePort();
  Child controller(
      {"/bin/sh", "-c",
       absl::StrCat(BinaryPath("stampede"), " run ", PlanFile(ManyNamesPlan()),
                    " --listen 127.0.0.1:", port,
                    " --expect-agents 1 --out json=", json_file())},
      log_file());
  Child agent({BinaryPath("stampede-agent"), "--controller",
               absl::StrCat("127.0.0.1:", port), "--workers", "2"},
              dir_ + "/agent.log");

  // VmHWM only grows, so the last reading before the exit is the peak (or
  // within the last 20 ms of it).
  long long peak_kb = -1;
  int agent_exit = -1;
  const auto give_up =
      std::chrono::steady_clock::now() + std::chrono::seconds(90);
  while (agent.pid() != 0 && std::chrono::steady_clock::now() < give_up) {
    if (const long long kb = PeakRssKb(agent.pid()); kb > peak_kb) peak_kb = kb;
    agent_exit = agent.Wait(0.02);
  }
  EXPECT_EQ(agent_exit, 0) << ReadFile(dir_ + "/agent.log");
  RunOutcome run = Collect(controller.Wait(60));
  ASSERT_EQ(run.exit_code, 0) << run.log;
  ASSERT_TRUE(run.has_result) << run.log;
  const v1::RunResult& r = run.result;

  EXPECT_EQ(r.summary().requests(), kArrivals);
  EXPECT_EQ(r.summary().errors(), 0);
  EXPECT_EQ(target_->Served(), kArrivals);
  ASSERT_EQ(r.agents_size(), 1);
  EXPECT_EQ(r.agents(0).planned_requests(), kArrivals);
  EXPECT_EQ(r.agents(0).requests(), kArrivals);
  // Round-robin over the names: each one its equal part, under its own name.
  ASSERT_EQ(r.scenarios_size(), 1);
  ASSERT_EQ(r.scenarios(0).requests_size(), kNames);
  for (int i = 0; i < kNames; ++i) {
    const v1::RequestResult& req = r.scenarios(0).requests(i);
    EXPECT_EQ(req.name(), absl::StrCat("r", i));
    EXPECT_EQ(req.summary().requests(), kArrivals / kNames) << req.name();
  }

  ASSERT_GT(peak_kb, 0) << "no /proc reading of the agent";
  EXPECT_LT(peak_kb, kMaxAgentRssKb)
      << "agent peak RSS " << peak_kb / 1024 << " MB";
  std::printf("agent peak RSS with %d names: %.1f MB\n", kNames,
              static_cast<double>(peak_kb) / 1024);
}

}  // namespace
}  // namespace stampede::testing
