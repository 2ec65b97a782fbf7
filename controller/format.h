// Outputs of a run, each a pure function of the RunResult (or of one interval,
// for the live view). Thread-safe.
#ifndef STAMPEDE_CONTROLLER_FORMAT_H_
#define STAMPEDE_CONTROLLER_FORMAT_H_

#include <string>

#include "stampede/v1/result.pb.h"

namespace stampede::controller {

// The JSON contract "stampede.result/v1" (see README), pretty-printed, ending
// in a newline.
std::string FormatJson(const v1::RunResult& result);

// The final console summary: totals, a table per scenario and request,
// thresholds, agents, and the verdict.
std::string FormatSummary(const v1::RunResult& result);

// A capacity report in Markdown: configuration, results table, thresholds with
// PASS/FAIL, and issues found (errors by id, lost agents, generator-limited
// intervals).
std::string FormatMarkdown(const v1::RunResult& result);

// JUnit XML for CI: one test case per threshold, failed when the threshold
// failed.
std::string FormatJunit(const v1::RunResult& result);

// The interval time series as CSV, one row per interval, with a header row.
std::string FormatCsv(const v1::RunResult& result);

// The HdrHistogram interval log (format version 1.3): one line per interval
// with its merged latency histogram (µs) in HdrHistogram's compressed V2
// encoding, base64; StartTime and BaseTime are the run's start, so interval
// timestamps are seconds since it. Interval_Max is in milliseconds. Readable
// by HdrHistogram's HistogramLogReader and HistogramLogProcessor.
std::string FormatHdrLog(const v1::RunResult& result);

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

#endif  // STAMPEDE_CONTROLLER_FORMAT_H_
