// JUnit XML and CSV renderings of a RunResult.
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "controller/format.h"

namespace stampede::controller {
namespace {

std::string XmlEscape(const std::string& s) {
  return absl::StrReplaceAll(s, {{"&", "&amp;"},
                                 {"<", "&lt;"},
                                 {">", "&gt;"},
                                 {"\"", "&quot;"},
                                 {"'", "&apos;"}});
}

}  // namespace

std::string FormatJunit(const v1::RunResult& r) {
  int failures = 0;
  for (const v1::ThresholdResult& t : r.thresholds())
    failures += t.passed() || t.severity() == "warn" ? 0 : 1;
  const std::string suite =
      XmlEscape(r.plan_name().empty() ? "stampede" : r.plan_name());
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  absl::StrAppend(&out, "<testsuites name=\"stampede\" tests=\"",
                  r.thresholds_size(), "\" failures=\"", failures, "\">\n");
  absl::StrAppend(&out, "  <testsuite name=\"", suite, "\" tests=\"",
                  r.thresholds_size(), "\" failures=\"", failures, "\" time=\"",
                  absl::StrFormat("%.3f", r.duration_s()), "\">\n");
  for (const v1::ThresholdResult& t : r.thresholds()) {
    absl::StrAppend(&out, "    <testcase classname=\"", suite,
                    ".thresholds\" name=\"", XmlEscape(t.expression()), "\"");
    if (t.passed()) {
      out += "/>\n";
    } else if (t.severity() == "warn") {
      // A warning is not a failure of the suite; it says what it saw.
      absl::StrAppend(
          &out, ">\n      <system-out>warning: ", XmlEscape(t.expression()),
          " was not met: actual ", XmlEscape(t.actual_text()),
          "</system-out>\n    </testcase>\n");
    } else {
      absl::StrAppend(
          &out, ">\n      <failure message=\"actual ",
          XmlEscape(t.actual_text()), "\">", XmlEscape(t.expression()),
          " was not met: actual ", XmlEscape(t.actual_text()),
          ThresholdNote(t).empty() ? "" : "; ", XmlEscape(ThresholdNote(t)),
          "</failure>\n    </testcase>\n");
    }
  }
  out += "  </testsuite>\n</testsuites>\n";
  return out;
}

std::string FormatCsv(const v1::RunResult& r) {
  std::string out =
      "t,rps,target_rps,p50_ms,p99_ms,requests,errors,agents_reported,vus,"
      "sends_skipped,"
      "schedule_lag_p99_ms,generator_busy,generator_limited\n";
  for (const v1::IntervalResult& i : r.intervals()) {
    absl::StrAppend(
        &out,
        absl::StrFormat("%g,%g,%g,%g,%g,", i.t(), i.rps(), i.target_rps(),
                        i.p50_ms(), i.p99_ms()),
        i.requests(), ",", i.errors(), ",", i.agents_reported(), ",", i.vus(),
        ",", i.sends_skipped(), ",",
        absl::StrFormat("%g,%g,", i.schedule_lag_p99_ms(), i.generator_busy()),
        i.generator_limited() ? "true" : "false", "\n");
  }
  return out;
}

}  // namespace stampede::controller
