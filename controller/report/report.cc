#include "controller/report/report.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/exit_codes.h"
#include "common/units.h"
#include "controller/report/format.h"
#include "google/protobuf/util/json_util.h"

namespace stampede::controller {

bool IsFormat(const std::string& name) {
  for (const char* f : kFormats) {
    if (name == f) return true;
  }
  return false;
}

std::string Render(const std::string& format, const v1::RunResult& result) {
  if (format == "md") return FormatMarkdown(result);
  if (format == "junit") return FormatJunit(result);
  if (format == "csv") return FormatCsv(result);
  if (format == "summary") return FormatSummary(result);
  if (format == "hdr") return FormatHdrLog(result);
  if (format == "html") return FormatHtml(result);
  return FormatJson(result);
}

absl::StatusOr<v1::RunResult> ReadResult(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in)
    return absl::NotFoundError(absl::StrCat(file, ": cannot read the file"));
  std::stringstream text;
  text << in.rdbuf();
  v1::RunResult result;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;  // results from newer builds still read
  auto status =
      google::protobuf::util::JsonStringToMessage(text.str(), &result, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        file, ": not a Stampede result: ", std::string(status.message())));
  }
  if (result.schema() != "stampede.result/v1") {
    return absl::InvalidArgumentError(
        absl::StrCat(file, ": schema \"", result.schema(),
                     "\", expected stampede.result/v1"));
  }
  return result;
}

int ReportCommand(const std::string& file, const std::string& format,
                  const std::string& out, const std::string& baseline_file) {
  absl::StatusOr<v1::RunResult> result = ReadResult(file);
  if (!result.ok()) {
    std::fprintf(stderr, "%s\n",
                 std::string(result.status().message()).c_str());
    return kExitInvalid;
  }
  absl::StatusOr<v1::RunResult> baseline;
  if (!baseline_file.empty()) {
    if (format != "html") {
      std::fprintf(stderr, "--baseline is drawn by --format html only\n");
      return kExitInvalid;
    }
    baseline = ReadResult(baseline_file);
    if (!baseline.ok()) {
      std::fprintf(stderr, "%s\n",
                   std::string(baseline.status().message()).c_str());
      return kExitInvalid;
    }
  }
  std::string text = baseline_file.empty() ? Render(format, *result)
                                           : FormatHtml(*result, &*baseline);
  if (out.empty()) {
    std::fputs(text.c_str(), stdout);
    return kExitPassed;
  }
  std::ofstream f(out, std::ios::binary | std::ios::trunc);
  f << text;
  f.close();
  if (!f.good()) {
    std::fprintf(stderr, "--output %s: cannot write the file\n", out.c_str());
    return kExitInternal;
  }
  return kExitPassed;
}

}  // namespace stampede::controller
