// Fuzzes the test-data file parser (common/data_file.h). Byte 0 picks the
// format (even: CSV, odd: JSON lines); the rest is the file. Besides the
// sanitizers, checks that a table keeps its promises (every row has one cell
// per column, column names are usable and unique, at least one row), that an
// error names a line and column inside the text, and that a table written
// back out (every CSV field quoted, every JSON value a string) parses to the
// same table.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "common/data_file.h"
#include "tests/fuzz/fuzz_check.h"

namespace stampede::common {
namespace {

bool IsNameChar(char c, bool first) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
         (!first && c >= '0' && c <= '9');
}

std::string ToCsv(const DataTable& t) {
  std::string out;
  auto line = [&out](const std::vector<std::string>& cells) {
    for (size_t i = 0; i < cells.size(); ++i) {
      if (i > 0) out.push_back(',');
      out.push_back('"');
      for (char c : cells[i]) {
        if (c == '"') out.push_back('"');
        out.push_back(c);
      }
      out.push_back('"');
    }
    out.push_back('\n');
  };
  line(t.columns);
  for (const auto& row : t.rows) line(row);
  return out;
}

void AppendJsonString(std::string_view s, std::string* out) {
  out->push_back('"');
  for (char c : s) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(c);
    } else if (u < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      out->append(buf);
    } else {
      out->push_back(c);
    }
  }
  out->push_back('"');
}

std::string ToJsonLines(const DataTable& t) {
  std::string out;
  for (const auto& row : t.rows) {
    out.push_back('{');
    for (size_t i = 0; i < row.size(); ++i) {
      if (i > 0) out.push_back(',');
      AppendJsonString(t.columns[i], &out);
      out.push_back(':');
      AppendJsonString(row[i], &out);
    }
    out.append("}\n");
  }
  return out;
}

}  // namespace
}  // namespace stampede::common

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace stampede::common;  // NOLINT: a harness, not a module
  if (size == 0) return 0;
  const DataFormat format =
      (data[0] & 1) == 0 ? DataFormat::kCsv : DataFormat::kJsonLines;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1,
                              size - 1);
  DataIssue issue;
  absl::StatusOr<DataTable> table =
      ParseDataFile(format, text, DataLimits(), &issue);
  if (!table.ok()) {
    FUZZ_CHECK(!issue.message.empty());
    FUZZ_CHECK(issue.line >= 1 && issue.col >= 1);
    // The line exists, and the column is at most one past its end.
    size_t line_start = 0;
    for (int l = 1; l < issue.line; ++l) {
      const size_t nl = text.find('\n', line_start);
      FUZZ_CHECK(nl != std::string_view::npos);
      line_start = nl + 1;
    }
    size_t line_end = text.find('\n', line_start);
    if (line_end == std::string_view::npos) line_end = text.size();
    FUZZ_CHECK(static_cast<size_t>(issue.col) <= line_end - line_start + 1);
    const std::string want = std::to_string(issue.line) + ":" +
                             std::to_string(issue.col) + ": " + issue.message;
    FUZZ_CHECK(std::string(table.status().message()) == want);
    return 0;
  }
  FUZZ_CHECK(!table->columns.empty());
  FUZZ_CHECK(!table->rows.empty());
  absl::flat_hash_set<std::string> names;
  for (const std::string& name : table->columns) {
    FUZZ_CHECK(!name.empty());
    for (size_t i = 0; i < name.size(); ++i) {
      FUZZ_CHECK(IsNameChar(name[i], i == 0));
    }
    FUZZ_CHECK(names.insert(name).second);
  }
  for (const auto& row : table->rows) {
    FUZZ_CHECK(row.size() == table->columns.size());
  }
  const std::string again_text =
      format == DataFormat::kCsv ? ToCsv(*table) : ToJsonLines(*table);
  absl::StatusOr<DataTable> again = ParseDataFile(format, again_text);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->columns == table->columns);
  FUZZ_CHECK(again->rows == table->rows);
  return 0;
}
