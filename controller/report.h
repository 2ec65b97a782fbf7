// The commands that work on saved results: `stampede report` re-renders a
// result file in any output format; `stampede compare` judges a new result
// against a baseline. Pure functions plus thin file-reading entry points;
// thread-safe.
#ifndef STAMPEDE_CONTROLLER_REPORT_H_
#define STAMPEDE_CONTROLLER_REPORT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "stampede/v1/result.pb.h"

namespace stampede::controller {

// The output formats, by the names --out and --format take.
inline constexpr const char* kFormats[] = {"json", "md",      "junit",
                                           "csv",  "summary", "hdr"};
bool IsFormat(const std::string& name);
// `result` rendered as `format` (one of kFormats).
std::string Render(const std::string& format, const v1::RunResult& result);

// Reads a result written by --out json=FILE.
absl::StatusOr<v1::RunResult> ReadResult(const std::string& file);

struct Comparison {
  std::string table;  // side by side, with the change of each metric
  std::vector<std::string>
      regressions;  // one line per metric that got worse beyond the limit
};

// Throughput, error rate and latency percentiles of `next` against `baseline`.
// A metric regresses when it is worse by more than `max_regression` (0.2 = 20
// %): rps lower, p50/p95/ p99 latency higher, or the error rate higher by that
// share and by at least 0.1 points.
Comparison Compare(const v1::RunResult& baseline, const v1::RunResult& next,
                   double max_regression);

// `stampede report FILE --format F [--output OUT]`: exit code (0, or 2 for a
// bad file).
int ReportCommand(const std::string& file, const std::string& format,
                  const std::string& out);
// `stampede compare BASE NEW [--max-regression P]`: 0, 3 on a regression, 2 for
// bad input.
int CompareCommand(const std::string& baseline, const std::string& next,
                   const std::string& max_regression);

}  // namespace stampede::controller

#endif  // STAMPEDE_CONTROLLER_REPORT_H_
