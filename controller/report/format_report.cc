// JUnit XML and CSV renderings of a RunResult.
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "common/histogram.h"
#include "controller/report/format.h"

namespace stampede::controller {
namespace {

// A CSV cell (RFC 4180): quoted when it holds a comma, quote or line break.
std::string CsvQuote(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  return absl::StrCat("\"", absl::StrReplaceAll(s, {{"\"", "\"\""}}), "\"");
}

}  // namespace

std::string MarkupEscape(const std::string& s) {
  return absl::StrReplaceAll(s, {{"&", "&amp;"},
                                 {"<", "&lt;"},
                                 {">", "&gt;"},
                                 {"\"", "&quot;"},
                                 {"'", "&apos;"}});
}

std::string FormatJunit(const v1::RunResult& r) {
  int failures = 0;
  for (const v1::ThresholdResult& t : r.thresholds())
    failures += t.passed() || t.severity() == "warn" ? 0 : 1;
  const std::string suite =
      MarkupEscape(r.plan_name().empty() ? "stampede" : r.plan_name());
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  absl::StrAppend(&out, "<testsuites name=\"stampede\" tests=\"",
                  r.thresholds_size(), "\" failures=\"", failures, "\">\n");
  absl::StrAppend(&out, "  <testsuite name=\"", suite, "\" tests=\"",
                  r.thresholds_size(), "\" failures=\"", failures, "\" time=\"",
                  absl::StrFormat("%.3f", r.duration_s()), "\">\n");
  for (const v1::ThresholdResult& t : r.thresholds()) {
    absl::StrAppend(&out, "    <testcase classname=\"", suite,
                    ".thresholds\" name=\"", MarkupEscape(t.expression()),
                    "\"");
    if (t.passed()) {
      out += "/>\n";
    } else if (t.severity() == "warn") {
      // A warning is not a failure of the suite; it says what it saw.
      absl::StrAppend(
          &out, ">\n      <system-out>warning: ", MarkupEscape(t.expression()),
          " was not met: actual ", MarkupEscape(t.actual_text()),
          "</system-out>\n    </testcase>\n");
    } else {
      absl::StrAppend(
          &out, ">\n      <failure message=\"actual ",
          MarkupEscape(t.actual_text()), "\">", MarkupEscape(t.expression()),
          " was not met: actual ", MarkupEscape(t.actual_text()),
          ThresholdNote(t).empty() ? "" : "; ", MarkupEscape(ThresholdNote(t)),
          "</failure>\n    </testcase>\n");
    }
  }
  out += "  </testsuite>\n</testsuites>\n";
  return out;
}

std::string FormatCsv(const v1::RunResult& r) {
  std::string out = absl::StrCat(kCsvHeader, "\n");
  // Cells: kind, t, scenario, request; then the counts, rates and latencies;
  // then the generator's columns (intervals only).
  auto row = [&out](const std::string& kind, const std::string& t,
                    const std::string& scenario, const std::string& request,
                    int64_t requests, int64_t errors, double rps,
                    const std::string& target_rps, double p50, double p95,
                    double p99, const std::string& max,
                    const std::string& rest) {
    absl::StrAppend(
        &out, kind, ",", t, ",", CsvQuote(scenario), ",", CsvQuote(request),
        ",", requests, ",", errors, ",",
        absl::StrFormat("%g", requests > 0 ? static_cast<double>(errors) /
                                                 static_cast<double>(requests)
                                           : 0),
        ",", absl::StrFormat("%g", rps), ",", target_rps, ",",
        absl::StrFormat("%g,%g,%g,", p50, p95, p99), max, ",", rest, "\n");
  };
  for (const v1::IntervalResult& i : r.intervals()) {
    std::string max;
    if (absl::StatusOr<common::Histogram> h =
            common::Histogram::Decode(i.latency_histogram());
        h.ok() && h->Count() > 0)
      max = absl::StrFormat("%g", static_cast<double>(h->Max()) / 1000.0);
    row("interval", absl::StrFormat("%g", i.t()), "", "", i.requests(),
        i.errors(), i.rps(), absl::StrFormat("%g", i.target_rps()), i.p50_ms(),
        i.p95_ms(), i.p99_ms(), max,
        absl::StrCat(i.agents_reported(), ",", i.vus(), ",",
                     absl::StrFormat("%g", i.target_vus()), ",",
                     i.sends_skipped(), ",",
                     absl::StrFormat("%g,%g,", i.schedule_lag_p99_ms(),
                                     i.generator_busy()),
                     i.generator_limited() ? "true" : "false"));
  }
  auto whole = [&row](const std::string& kind, const std::string& scenario,
                      const std::string& request, const v1::Summary& s) {
    const v1::LatencySummary& l = s.latency_ms();
    row(kind, "", scenario, request, s.requests(), s.errors(), s.rps(), "",
        l.p50(), l.p95(), l.p99(), absl::StrFormat("%g", l.max()), ",,,,,,");
  };
  for (const v1::ScenarioResult& sc : r.scenarios()) {
    whole("scenario", sc.name(), "", sc.summary());
    for (const v1::RequestResult& q : sc.requests())
      whole("request", sc.name(), q.name(), q.summary());
  }
  whole("total", "", "", r.summary());
  return out;
}

}  // namespace stampede::controller
