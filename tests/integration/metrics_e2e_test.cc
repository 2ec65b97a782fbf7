// `stampede run --metrics-listen` during a real local run (controller, two
// agents, the reference target, all on loopback): /metrics parses as
// Prometheus text (promtool, from Debian's prometheus package), follows the
// run while it goes, and at the end its counters equal the result JSON's.
// The endpoint is read-only.
#include <sys/wait.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/integration/e2e_fixture.h"
#include "tests/integration/process.h"

namespace stampede::testing {
namespace {

std::string Scrape(int port) {
  const std::string response =
      HttpExchange(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  const size_t body = response.find("\r\n\r\n");
  if (!absl::StartsWith(response, "HTTP/1.1 200") || body == std::string::npos)
    return "";
  return response.substr(body + 4);
}

// Every sample: "name{labels}" -> value.
std::map<std::string, double> Samples(const std::string& text) {
  std::map<std::string, double> out;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    out[std::string(line.substr(0, space))] =
        std::stod(std::string(line.substr(space + 1)));
  }
  return out;
}

// The sum of every sample of family `name` whose labels contain `has`.
double Sum(const std::map<std::string, double>& samples,
           const std::string& name, const std::string& has = "") {
  double sum = 0;
  for (const auto& [key, value] : samples) {
    if (key == name ||
        (absl::StartsWith(key, name + "{") && absl::StrContains(key, has))) {
      sum += value;
    }
  }
  return sum;
}

// promtool's exit code on `text` (127 when promtool is missing): the one
// scripts/setup unpacked, else one on the PATH.
int Promtool(const std::string& dir, const std::string& text) {
  const std::string file = dir + "/scrape.txt";
  WriteFile(file, text);
  const std::string promtool = std::filesystem::exists(STAMPEDE_PROMTOOL)
                                   ? STAMPEDE_PROMTOOL
                                   : "promtool";
  const int status =
      std::system(absl::StrCat(promtool, " check metrics < ", file, " > ", dir,
                               "/promtool.log 2>&1")
                      .c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

class MetricsEndToEnd : public EndToEnd {};

TEST_F(MetricsEndToEnd, FollowsTheRunAndEndsEqualToTheResult) {
  const int port = FreePort();
  const std::string plan = PlanFile(R"(
name: metrics
defaults: { base_url: "http://127.0.0.1:$PORT", timeout: 2s }
scenarios:
  - name: browse
    load: { arrival_rate: { stages: [ { to: 100/s, over: 2s }, { hold: 4s } ] } }
    requests:
      - { name: home, path: /, weight: 3 }
      - { name: broken, path: /status/503, weight: 1 }
thresholds:
  - { metric: latency, p: 95, lt: 500ms }
  - { metric: error_rate, lt: 1% }
)");
  // Not through a shell: the SIGTERM below is for the controller itself.
  const std::vector<std::string> argv = absl::StrSplit(
      absl::StrCat(Command(plan), " --metrics-listen 127.0.0.1:", port,
                   " --metrics-hold 60 --out json=-"),
      ' ');
  Child controller(argv, log_file());

  // While it runs: the run's phase, its agents and growing counts.
  std::string during;
  const auto give_up =
      std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < give_up) {
    const std::string text = Scrape(port);
    const auto s = Samples(text);
    if (Sum(s, "stampede_run_phase", "phase=\"running\"") == 1 &&
        Sum(s, "stampede_requests_total") > 0) {
      during = text;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_FALSE(during.empty()) << ReadFile(log_file());
  EXPECT_EQ(Promtool(dir_, during), 0)
      << ReadFile(dir_ + "/promtool.log") << "\n"
      << during;
  const auto mid = Samples(during);
  EXPECT_EQ(Sum(mid, "stampede_agents", "state=\"running\""), 2) << during;
  EXPECT_EQ(Sum(mid, "stampede_run_phase", "phase=\"done\""), 0);

  // Read-only: nothing but GET/HEAD, nothing but /metrics and /.
  EXPECT_TRUE(
      absl::StartsWith(HttpExchange(port,
                                    "POST /metrics HTTP/1.1\r\nHost: x\r\n"
                                    "Content-Length: 0\r\n\r\n"),
                       "HTTP/1.1 405"));
  EXPECT_TRUE(absl::StartsWith(
      HttpExchange(port, "GET /stop HTTP/1.1\r\nHost: x\r\n\r\n"),
      "HTTP/1.1 404"));

  // The run ends, the result is written, and /metrics stays up for
  // --metrics-hold with the final numbers.
  while (!std::filesystem::exists(json_file()) &&
         std::chrono::steady_clock::now() <
             give_up + std::chrono::seconds(30)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // fully written
  const std::string after = Scrape(port);
  // A signal ends the hold; the exit code is still the verdict.
  kill(controller.pid(), SIGTERM);
  RunOutcome run = Collect(controller.Wait(30));
  ASSERT_TRUE(run.has_result) << run.log;
  EXPECT_EQ(run.exit_code, 3) << run.log;  // error_rate < 1% fails: 25% 503s
  // --out json=-: the result also on standard output, after the summary.
  EXPECT_TRUE(absl::StrContains(run.log, "\"schema\": \"stampede.result/v1\""))
      << run.log;
  ASSERT_FALSE(after.empty()) << run.log;
  EXPECT_EQ(Promtool(dir_, after), 0) << ReadFile(dir_ + "/promtool.log");

  const auto end = Samples(after);
  const v1::Summary& summary = run.result.summary();
  EXPECT_EQ(summary.requests(), 500);  // 100 in the ramp, 400 held
  EXPECT_EQ(Sum(end, "stampede_requests_total"),
            static_cast<double>(summary.requests()));
  EXPECT_EQ(Sum(end, "stampede_request_duration_seconds_count"),
            static_cast<double>(summary.requests()));
  EXPECT_EQ(Sum(end, "stampede_errors_total", "error=\"http_503\""),
            static_cast<double>(summary.error_ids().at("http_503")));
  EXPECT_EQ(Sum(end, "stampede_responses_total", "status=\"200\""),
            static_cast<double>(summary.statuses().at("200")));
  EXPECT_EQ(Sum(end, "stampede_run_phase", "phase=\"done\""), 1);
  EXPECT_EQ(Sum(end, "stampede_agents", "state=\"finished\""), 2);
  EXPECT_EQ(Sum(end, "stampede_threshold_failing", "error_rate"), 1);
  EXPECT_EQ(Sum(end, "stampede_threshold_failing", "latency"), 0);
  // The quantile is the merged histogram's, as the result reports it.
  const v1::RequestResult& home = run.result.scenarios(0).requests(0);
  ASSERT_EQ(home.name(), "home");
  EXPECT_NEAR(Sum(end, "stampede_latency_seconds",
                  "request=\"home\",quantile=\"0.95\""),
              home.summary().latency_ms().p95() / 1e3, 1e-9)
      << after;

  // The families the dashboard and docs rely on (deploy/metrics.txt) are
  // exactly what the exporter declares.
  std::set<std::string> declared, listed;
  for (absl::string_view line : absl::StrSplit(after, '\n')) {
    if (absl::ConsumePrefix(&line, "# TYPE "))
      declared.insert(std::string(line));
  }
  std::istringstream list(
      ReadFile(std::string(STAMPEDE_SOURCE_DIR) + "/deploy/metrics.txt"));
  for (std::string line; std::getline(list, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string name, type;
    fields >> name >> type;
    listed.insert(name + " " + type);
  }
  EXPECT_EQ(declared, listed);
}

TEST_F(MetricsEndToEnd, AnAddressThatIsNotOneIsAUsageError) {
  Child controller({"/bin/sh", "-c",
                    absl::StrCat(Command(PlanFile(R"(
name: bad
defaults: { base_url: "http://127.0.0.1:$PORT" }
scenarios:
  - name: s
    load: { arrival_rate: { stages: [ { to: 10/s, over: 1s } ] } }
    requests: [ { name: r, path: / } ]
)")),
                                 " --metrics-listen example.com:9464")},
                   log_file());
  EXPECT_EQ(controller.Wait(30), 2);
  EXPECT_TRUE(absl::StrContains(ReadFile(log_file()),
                                "--metrics-listen example.com:9464"))
      << ReadFile(log_file());
}

}  // namespace
}  // namespace stampede::testing
