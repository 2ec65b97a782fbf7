// The live dashboard during real runs: a browser that connects late gets the
// run so far in one `history` event, then one `interval` event per merged
// interval, with the counts the JSON result ends with; POST /stop is refused
// without the token or from another origin, and with it stops the run (exit
// 4, every output written).
#include <chrono>
#include <filesystem>
#include <regex>
#include <string>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"
#include "tests/integration/e2e_fixture.h"
#include "tests/integration/process.h"

namespace stampede::testing {
namespace {

constexpr char kPlan[] = R"(
name: live
defaults: { base_url: "http://127.0.0.1:$PORT" }
scenarios:
  - name: api
    load: { arrival_rate: { stages: [ {to: 50/s, over: 0s}, {hold: HOLD} ] } }
    requests: [ { path: / } ]
)";

class DashboardEndToEnd : public EndToEnd {
 protected:
  // Waits for the controller's "dashboard: http://127.0.0.1:PORT/" line.
  int DashboardPort() {
    const std::regex re("dashboard: http://127\\.0\\.0\\.1:([0-9]+)/");
    for (int i = 0; i < 600; ++i) {
      std::smatch m;
      const std::string log = ReadFile(log_file());
      if (std::regex_search(log, m, re)) return std::stoi(m[1].str());
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return 0;
  }
  std::string Stop(int port, const std::string& headers) {
    return HttpExchange(
        port, absl::StrCat("POST /stop HTTP/1.1\r\nHost: x\r\n", headers,
                           "Content-Length: 0\r\n\r\n"));
  }
};

// `count` and the summed "requests" of the intervals in the events of kind
// `event` (history's are an array).
void CountIntervals(const std::string& stream, const std::string& event,
                    int* count, long long* requests) {
  const std::regex block("event: " + event + "\ndata: ([^\n]*)\n");
  const std::regex req("\"requests\":([0-9]+)");
  for (auto it = std::sregex_iterator(stream.begin(), stream.end(), block);
       it != std::sregex_iterator(); ++it) {
    const std::string data = (*it)[1].str();
    for (auto r = std::sregex_iterator(data.begin(), data.end(), req);
         r != std::sregex_iterator(); ++r) {
      ++*count;
      *requests += std::stoll((*r)[1].str());
    }
  }
}

TEST_F(DashboardEndToEnd, ALateClientGetsTheHistoryThenEveryInterval) {
  const std::string plan =
      PlanFile(absl::StrReplaceAll(kPlan, {{"HOLD", "6s"}}));
  Child controller({"/bin/sh", "-c", Command(plan) + " --dashboard-listen 0"},
                   log_file());
  const int port = DashboardPort();
  ASSERT_GT(port, 0) << ReadFile(log_file());
  const std::string page = HttpGet(port, "/");
  EXPECT_NE(page.find("connect-src 'self'"), std::string::npos);
  EXPECT_EQ(page.find("id=stop"), std::string::npos);  // read-only
  // Without --dashboard-token nothing stops the run from here.
  EXPECT_EQ(Stop(port, "Authorization: Bearer \r\n").rfind("HTTP/1.1 403", 0),
            0u);
  // Late: a few intervals are merged by now.
  for (int i = 0; i < 500 && ReadFile(log_file()).find("    2s  target") ==
                                 std::string::npos;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::string stream;
  std::thread client([&stream, port] {
    stream = HttpExchange(port,
                          "GET /events HTTP/1.1\r\nHost: x\r\nAccept: "
                          "text/event-stream\r\n\r\n");
  });
  // The page in a real browser draws what the stream brings, without a
  // console error.
  if (std::filesystem::exists("/usr/bin/chromium")) {
    const std::string browser_log = dir_ + "/chromium.log";
    Child browser(
        {"/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu",
         "--no-first-run", "--user-data-dir=" + dir_ + "/chromium-profile",
         "--enable-logging=stderr", "--v=0", "--virtual-time-budget=1000",
         "--dump-dom", absl::StrCat("http://127.0.0.1:", port, "/")},
        browser_log);
    EXPECT_EQ(browser.Wait(60), 0);
    const std::string dom = ReadFile(browser_log);
    EXPECT_EQ(dom.find(":CONSOLE"), std::string::npos) << dom.substr(0, 3000);
    std::smatch m;
    ASSERT_TRUE(
        std::regex_search(dom, m, std::regex("data-intervals=\"([0-9]+)\"")))
        << dom.substr(0, 3000);
    EXPECT_GE(std::stoi(m[1].str()), 2);
  }
  client.join();
  RunOutcome run = Collect(controller.Wait(60));
  ASSERT_EQ(run.exit_code, 0) << run.log;
  ASSERT_TRUE(run.has_result) << run.log;
  EXPECT_NE(stream.find("Content-Type: text/event-stream"), std::string::npos);
  int history = 0, streamed = 0;
  long long history_requests = 0, streamed_requests = 0;
  CountIntervals(stream, "history", &history, &history_requests);
  CountIntervals(stream, "interval", &streamed, &streamed_requests);
  EXPECT_GE(history, 2) << stream;
  EXPECT_GE(streamed, 1) << stream;
  EXPECT_EQ(history + streamed, run.result.intervals_size()) << stream;
  EXPECT_EQ(history_requests + streamed_requests,
            run.result.summary().requests());
  EXPECT_NE(
      stream.find(absl::StrCat("event: done\ndata: {\"status\":\"passed\","
                               "\"exit_code\":0,\"requests\":",
                               run.result.summary().requests())),
      std::string::npos)
      << stream;
}

TEST_F(DashboardEndToEnd, StopNeedsTheTokenAndThePagesOwnOrigin) {
  const std::string plan =
      PlanFile(absl::StrReplaceAll(kPlan, {{"HOLD", "30s"}}));
  Child controller(
      {"/bin/sh", "-c",
       Command(plan) + " --dashboard-listen 0 --dashboard-token s3cret-stop" +
           " --out md=" + dir_ + "/report.md"},
      log_file());
  const int port = DashboardPort();
  ASSERT_GT(port, 0) << ReadFile(log_file());
  EXPECT_NE(HttpGet(port, "/").find("id=stop"), std::string::npos);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(Stop(port, "").rfind("HTTP/1.1 403", 0), 0u);
  EXPECT_EQ(
      Stop(port, "Authorization: Bearer wrong\r\n").rfind("HTTP/1.1 403", 0),
      0u);
  EXPECT_EQ(Stop(port,
                 "Authorization: Bearer s3cret-stop\r\n"
                 "Origin: http://evil.example\r\n")
                .rfind("HTTP/1.1 403", 0),
            0u);
  EXPECT_EQ(
      Stop(port, absl::StrCat("Authorization: Bearer s3cret-stop\r\nOrigin: "
                              "http://127.0.0.1:",
                              port, "\r\n"))
          .rfind("HTTP/1.1 200", 0),
      0u);
  RunOutcome run = Collect(controller.Wait(60));
  EXPECT_EQ(run.exit_code, 4) << run.log;
  ASSERT_TRUE(run.has_result) << run.log;
  EXPECT_EQ(run.result.status(), "aborted");
  EXPECT_EQ(run.result.message(), "stopped from the dashboard");
  EXPECT_LT(run.result.duration_s(), 20);
  EXPECT_NE(ReadFile(dir_ + "/report.md").find("**Result: aborted**"),
            std::string::npos);
  // The token is the run's secret: not in the result's command line.
  EXPECT_EQ(ReadFile(json_file()).find("s3cret-stop"), std::string::npos);
}

}  // namespace
}  // namespace stampede::testing
