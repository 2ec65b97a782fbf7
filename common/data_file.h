// Test-data files a plan's `data:` section names (users.csv, accounts.jsonl):
// parsed into a table of columns and rows that plan templates read as
// {{users.email}}. The file is a user's, so it is untrusted: every problem is
// an error naming its line and column, and sizes are bounded. Thread-safe (no
// shared state).
#ifndef STAMPEDE_COMMON_DATA_FILE_H_
#define STAMPEDE_COMMON_DATA_FILE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace stampede::common {

struct DataTable {
  // From the CSV header row, or the keys of the first JSON line in their
  // order. Each matches [A-Za-z_][A-Za-z0-9_]* and none repeats.
  std::vector<std::string> columns;
  // At least one; every row has exactly columns.size() cells.
  std::vector<std::vector<std::string>> rows;
};

// Where the first problem is. `line` and `col` are 1-based: lines are physical
// lines (a newline inside a quoted CSV field starts a new one), columns count
// characters (UTF-8 code points, a BOM not included). Both are 0 for a problem
// with the whole file (cannot read it, too large).
struct DataIssue {
  int line = 0;
  int col = 0;
  std::string message;
};

enum class DataFormat { kCsv, kJsonLines };

// The limits a file is held to. The defaults leave room for a million users
// while keeping the controller's memory for one table to about 1 GiB in the
// worst case (a cell costs its text plus a 32-byte std::string).
inline constexpr int64_t kMaxDataFileBytes = int64_t{256} << 20;  // 256 MiB
inline constexpr int64_t kMaxRows = 1'000'000;
inline constexpr int kMaxColumns = 1024;
inline constexpr int64_t kMaxCells = int64_t{16} << 20;  // rows x columns

struct DataLimits {
  int64_t max_bytes = kMaxDataFileBytes;  // only ReadDataFile checks it
  int64_t max_rows = kMaxRows;
  int max_columns = kMaxColumns;
  int64_t max_cells = kMaxCells;
};

// Format from the file name's extension, ignoring case: .csv -> kCsv,
// .jsonl / .ndjson -> kJsonLines. Anything else is InvalidArgument.
absl::StatusOr<DataFormat> DataFormatFor(std::string_view file_name);

// Parses the whole text. CSV: RFC 4180 as spreadsheets export it (header row
// first, "" for a quote inside a quoted field, LF or CRLF line ends, a UTF-8
// BOM skipped, empty lines skipped). JSON lines: one flat object per non-empty
// line with string, number, true/false or null values (null is an empty cell,
// a number its text as written), the same keys on every line.
//
// On failure returns InvalidArgument "LINE:COL: message" for the first
// problem and, if `issue` is not null, fills it with the same.
absl::StatusOr<DataTable> ParseDataFile(DataFormat format,
                                        std::string_view text,
                                        const DataLimits& limits = DataLimits(),
                                        DataIssue* issue = nullptr);

// Reads `path` (format from its name) and parses it. A file larger than
// limits.max_bytes is refused before it is read. Errors are
// "PATH:LINE:COL: message", or "PATH: message" for the whole file; `issue` as
// for ParseDataFile. A file that cannot be opened or read has its errno's code
// (NotFound, PermissionDenied, ...); every other problem is InvalidArgument.
absl::StatusOr<DataTable> ReadDataFile(const std::string& path,
                                       const DataLimits& limits = DataLimits(),
                                       DataIssue* issue = nullptr);

}  // namespace stampede::common

#endif  // STAMPEDE_COMMON_DATA_FILE_H_
