// Outputs of a run, each a pure function of the RunResult (or of one interval,
// for the live view). Thread-safe.
#ifndef STAMPEDE_CONTROLLER_REPORT_FORMAT_H_
#define STAMPEDE_CONTROLLER_REPORT_FORMAT_H_

#include <string>
#include <vector>

#include "stampede/v1/result.pb.h"

namespace stampede::controller {

// The JSON contract "stampede.result/v1" (see README), pretty-printed, ending
// in a newline.
std::string FormatJson(const v1::RunResult& result);

// The final console summary: totals, a table per scenario and request,
// thresholds, agents, and the verdict.
std::string FormatSummary(const v1::RunResult& result);

// The report in Markdown, after the teams' template: Test Configuration
// (type, duration, peak VUs, target hosts, ...), Results Summary (Metric /
// Target / Actual / Status per threshold), requests, statuses (expected or
// not), streaming, WebSocket, flows and setup when present, and Issues Found
// (failed thresholds, top error ids, generator-limited intervals, lost
// agents).
std::string FormatMarkdown(const v1::RunResult& result);

// The HTML report: one file that opens with no network access (uPlot and the
// data embedded): the verdict and the template's configuration, thresholds
// (Metric / Target / Actual / Status), charts over time (rate, latency
// percentiles drawn from the per-interval histograms, errors, VUs, in flight,
// agents; generator-limited intervals shaded), the latency distribution by
// percentile for the run or a chosen request, requests, phases, streaming,
// WebSocket, agents and issues found. A request picked in the page's selector
// redraws the rate, latency and error charts with that request's own series.
// With `baseline`, its distribution, rate and p95 are drawn beside (dashed)
// and the compare verdict shown.
std::string FormatHtml(const v1::RunResult& result,
                       const v1::RunResult* baseline = nullptr);
// The live dashboard's page: the report's charts, filled by the server-sent
// events of /events (dashboard.h); with `can_stop`, a Stop button that asks
// for the token and POSTs /stop.
std::string FormatLiveHtml(const std::string& title, bool can_stop);
// The HTML report's embedded series are kept to these many bytes each: the
// run's (rates, every interval's histogram), every request name's (counts,
// errors, p50/p90/p95/p99/max) and the baseline's (rate, p95). A longer run's
// intervals are merged, k a point (k = 2, 3, 4, 5, 10, 20, ...), until each
// fits. With the rest (assets, tables, two histograms per request) a one-hour
// run of 20 requests stays under 2 MB.
inline constexpr size_t kHtmlSeriesBudget = 900'000;
inline constexpr size_t kHtmlRequestSeriesBudget = 500'000;
inline constexpr size_t kHtmlBaselineBudget = 150'000;

// `s` safe as XML or HTML text or attribute value (& < > " ' escaped).
std::string MarkupEscape(const std::string& s);

// The template's Peak VUs, as text: observed and planned VUs, and for an
// open model its peak arrival rate and requests in flight; "-" for none.
std::string PeakLoadText(const v1::RunResult& result);
// Every scenario's target origins (base_urls), each once, in order.
std::vector<std::string> TargetOrigins(const v1::RunResult& result);

// JUnit XML for CI: one test case per threshold, failed when the threshold
// failed.
std::string FormatJunit(const v1::RunResult& result);

// The result as CSV in long form (README, "CSV"): a header row (kCsvHeader),
// one `interval` row per interval (the whole run's), then per scenario a
// `scenario` row and its `request` rows, and a last `total` row. A cell that
// does not apply to a row's kind is empty.
inline constexpr char kCsvHeader[] =
    "kind,t,scenario,request,requests,errors,error_rate,rps,target_rps,p50_ms,"
    "p95_ms,p99_ms,max_ms,agents_reported,vus,target_vus,sends_skipped,"
    "schedule_lag_p99_ms,generator_busy,generator_limited";
std::string FormatCsv(const v1::RunResult& result);

// The HdrHistogram interval log (format version 1.3): one line per interval
// with its merged latency histogram (µs) in HdrHistogram's compressed V2
// encoding, base64; StartTime and BaseTime are the run's start, so interval
// timestamps are seconds since it. Interval_Max is in milliseconds. Readable
// by HdrHistogram's HistogramLogReader and HistogramLogProcessor.
std::string FormatHdrLog(const v1::RunResult& result);

// `rows` (the first the header) as aligned columns, each line indented by two
// spaces, as the console summary prints its tables.
std::string TextTable(const std::vector<std::vector<std::string>>& rows);

// A capacity search (RunResult.capacity): the step table, the knee, the
// answer and the projection; "" without one. In format_capacity.cc.
std::string FormatCapacityText(const v1::RunResult& result);
std::string FormatCapacityMarkdown(const v1::RunResult& result);
// The HTML report's Capacity section (its curve drawn by report.js), and the
// steps for that chart as the page's data: ,"capacity":{...}.
std::string FormatCapacityHtml(const v1::RunResult& result);
std::string CapacityDataJson(const v1::RunResult& result);
// The projection's rows, each with its arithmetic, as a text table.
std::string FormatProjection(const v1::CapacityProjection& projection);

// An engine as Ready and the result name it ("h2") for people: "native
// HTTP/1.1", "native HTTP/2", "native WebSocket", "libcurl".
std::string EngineTitle(const std::string& engine);

// What the live judging added to a threshold's verdict: "" or, e.g., "failed
// at 12s, aborted the run".
std::string ThresholdNote(const v1::ThresholdResult& threshold);

// PASS, FAIL, or WARN (a warn threshold that failed: the run still passes).
std::string ThresholdVerdict(const v1::ThresholdResult& threshold);

// One live line: elapsed, target and achieved rate, p50/p95/p99, error %,
// agents reporting.
std::string FormatLiveLine(const v1::IntervalResult& interval, double p95_ms,
                           size_t agents_expected);

}  // namespace stampede::controller

#endif  // STAMPEDE_CONTROLLER_REPORT_FORMAT_H_
