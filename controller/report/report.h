// `stampede report`: re-renders a saved result file in any output format
// (compare.h judges one against a baseline). Pure functions plus thin
// file-reading entry points; thread-safe.
#ifndef STAMPEDE_CONTROLLER_REPORT_REPORT_H_
#define STAMPEDE_CONTROLLER_REPORT_REPORT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "stampede/v1/result.pb.h"

namespace stampede::controller {

// The output formats, by the names --out and --format take.
inline constexpr const char* kFormats[] = {"json",    "md",  "junit", "csv",
                                           "summary", "hdr", "html"};
bool IsFormat(const std::string& name);
// `result` rendered as `format` (one of kFormats).
std::string Render(const std::string& format, const v1::RunResult& result);

// Reads a result written by --out json=FILE.
absl::StatusOr<v1::RunResult> ReadResult(const std::string& file);

// `stampede report FILE --format F [--output OUT] [--baseline OLD]` (the
// baseline drawn by html only): exit code (0, or 2 for a bad file).
int ReportCommand(const std::string& file, const std::string& format,
                  const std::string& out,
                  const std::string& baseline_file = "");
}  // namespace stampede::controller

#endif  // STAMPEDE_CONTROLLER_REPORT_REPORT_H_
