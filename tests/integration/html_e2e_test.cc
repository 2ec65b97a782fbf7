// The HTML report of a real run, opened in a real browser (headless Chromium,
// Debian's `chromium`) with no network: it draws without a console error, the
// numbers it drew from equal the JSON result's, the request selector redraws
// the charts with that request's own series, a baseline is drawn beside, and
// a screenshot is kept for people.
#include <cstdlib>
#include <filesystem>
#include <regex>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/integration/e2e_fixture.h"
#include "tests/integration/process.h"

namespace stampede::testing {
namespace {

std::string Chromium() {
  for (const char* path : {"/usr/bin/chromium", "/usr/bin/chromium-browser"})
    if (std::filesystem::exists(path)) return path;
  return "";
}

// Where CI keeps what people look at: $STAMPEDE_ARTIFACTS, else
// build/artifacts.
std::string ArtifactsDir() {
  const char* env = std::getenv("STAMPEDE_ARTIFACTS");
  const std::string dir = env != nullptr && *env != '\0'
                              ? std::string(env)
                              : std::string(STAMPEDE_BINARY_DIR) + "/artifacts";
  std::filesystem::create_directories(dir);
  return dir;
}

// The value of data-NAME on the page's <body>, as the page's script left it.
std::string DataAttribute(const std::string& dom, const std::string& name) {
  std::smatch m;
  const std::regex re("data-" + name + "=\"([^\"]*)\"");
  return std::regex_search(dom, m, re) ? m[1].str() : "";
}

class HtmlEndToEnd : public EndToEnd {
 protected:
  // Headless Chromium on `url`: with `screenshot`, a PNG there, else the DOM
  // after the scripts ran. Its console (errors included) goes to the log
  // too. No network: every name resolves nowhere, and the page's own policy
  // allows no request.
  std::string Browse(const std::string& url, const std::string& screenshot) {
    const std::string log = dir_ + "/chromium.log";
    std::vector<std::string> argv = {
        Chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--hide-scrollbars",
        "--user-data-dir=" + dir_ + "/chromium-profile",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--enable-logging=stderr",
        "--v=0",
        "--window-size=1200,2800"};
    argv.push_back(screenshot.empty() ? "--dump-dom"
                                      : "--screenshot=" + screenshot);
    argv.push_back(url);
    Child browser(argv, log);
    EXPECT_EQ(browser.Wait(90), 0) << ReadFile(log);
    return ReadFile(log);
  }
};

TEST_F(HtmlEndToEnd, TheReportDrawsOfflineFromTheRunsOwnNumbers) {
  if (Chromium().empty())
    GTEST_SKIP() << "no chromium (scripts/setup installs it)";
  const std::string html = dir_ + "/report.html";
  RunOutcome run =
      Run(R"(
name: html-report
type: smoke
defaults: { base_url: "http://127.0.0.1:$PORT" }
scenarios:
  - name: shop
    load: { arrival_rate: { stages: [ {to: 100/s, over: 1s}, {hold: 3s} ] } }
    requests:
      - { name: home, path: /, weight: 3 }
      - { name: search, path: /delay/5 }
thresholds:
  - { metric: latency, p: 95, lt: 1ms, severity: warn }
)",
          "--out html=" + html + " --out json=" + dir_ + "/result.json");
  ASSERT_EQ(run.exit_code, 0) << run.log;
  ASSERT_TRUE(run.has_result) << run.log;
  const std::string page = ReadFile(html);
  // One file: nothing it would load from elsewhere.
  EXPECT_FALSE(std::regex_search(page, std::regex("(src|href)\\s*=")));
  EXPECT_NE(page.find("Content-Security-Policy"), std::string::npos);
  EXPECT_NE(page.find("<td>Test Type</td><td>smoke</td>"), std::string::npos);
  EXPECT_NE(page.find("<span class=WARN>WARN</span>"), std::string::npos);

  const std::string dom = Browse("file://" + html + "#request=1", "");
  EXPECT_EQ(DataAttribute(dom, "ready"), "1") << dom.substr(0, 2000);
  EXPECT_EQ(dom.find(":CONSOLE"), std::string::npos) << dom.substr(0, 4000);
  double p95 = 0;
  ASSERT_TRUE(absl::SimpleAtod(DataAttribute(dom, "p95"), &p95));
  EXPECT_DOUBLE_EQ(p95, run.result.summary().latency_ms().p95());
  EXPECT_EQ(DataAttribute(dom, "requests"),
            absl::StrCat(run.result.summary().requests()));
  EXPECT_EQ(DataAttribute(dom, "charts"), "5");
  // #request=1 picked the second request: the time charts are drawn from its
  // own series (as many requests as the JSON gives it), and its corrected
  // and service-time lines join the run's in the distribution.
  const v1::RequestResult& search = run.result.scenarios(0).requests(1);
  ASSERT_EQ(search.name(), "search");
  EXPECT_EQ(DataAttribute(dom, "selected"), "shop / search");
  EXPECT_EQ(DataAttribute(dom, "series-of"), "shop / search");
  EXPECT_EQ(DataAttribute(dom, "series-requests"),
            absl::StrCat(search.summary().requests()));
  EXPECT_EQ(DataAttribute(dom, "spectrum-series"), "3");
  const std::string whole = Browse("file://" + html, "");
  EXPECT_EQ(DataAttribute(whole, "selected"), "whole run");
  EXPECT_EQ(DataAttribute(whole, "series-of"), "whole run");
  int64_t in_intervals = 0;
  for (const v1::IntervalResult& i : run.result.intervals())
    in_intervals += i.requests();
  EXPECT_EQ(DataAttribute(whole, "series-requests"),
            absl::StrCat(in_intervals));
  EXPECT_NE(DataAttribute(whole, "series-requests"),
            DataAttribute(dom, "series-requests"));
  EXPECT_EQ(DataAttribute(whole, "spectrum-series"),
            "2");  // corrected, service
  EXPECT_EQ(DataAttribute(whole, "baseline-series"), "0");

  // The same result as its own baseline: dashed beside the run in the rate,
  // latency and distribution charts, with compare's verdict.
  const std::string against = dir_ + "/against.html";
  Child report(
      {BinaryPath("stampede"), "report", dir_ + "/result.json", "--format",
       "html", "--baseline", dir_ + "/result.json", "--output", against},
      dir_ + "/report.log");
  ASSERT_EQ(report.Wait(30), 0) << ReadFile(dir_ + "/report.log");
  EXPECT_NE(ReadFile(against).find("no regression"), std::string::npos);
  const std::string overlaid = Browse("file://" + against, "");
  EXPECT_EQ(overlaid.find(":CONSOLE"), std::string::npos)
      << overlaid.substr(0, 4000);
  EXPECT_EQ(DataAttribute(overlaid, "baseline-series"), "2");
  EXPECT_EQ(DataAttribute(overlaid, "spectrum-series"), "3");

  const std::string png = ArtifactsDir() + "/html-report.png";
  std::filesystem::remove(png);
  Browse("file://" + html + "#request=1", png);
  const std::string shot = ReadFile(png);
  ASSERT_GT(shot.size(), 10000u);
  EXPECT_EQ(shot.substr(1, 3), "PNG");
}

}  // namespace
}  // namespace stampede::testing
