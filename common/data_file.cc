#include "common/data_file.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"

namespace stampede::common {
namespace {

// This absl build has its own absl::string_view (not an alias of
// std::string_view); the parsers work in std::string_view and convert for
// absl's functions.
absl::string_view ToAbsl(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

std::string Quote(std::string_view s) {
  return absl::StrCat("\"", ToAbsl(s), "\"");
}

constexpr std::string_view kBom = "\xEF\xBB\xBF";

// What templates accept after the data set's name: {{users.first_name}}.
bool IsTemplateName(std::string_view s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool letter =
        (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    if (!letter && !(digit && i > 0)) return false;
  }
  return true;
}

std::string NotATemplateName(std::string_view name) {
  return absl::StrCat(
      "column name ", Quote(name),
      " cannot be used in a template ({{NAME.column}}): a column name is "
      "letters, digits and _, not starting with a digit");
}

// The first problem: a byte offset into the text and what is wrong there.
struct Failure {
  size_t offset = 0;
  std::string message;
};

DataIssue IssueAt(std::string_view text, const Failure& f) {
  const size_t offset = f.offset < text.size() ? f.offset : text.size();
  DataIssue issue;
  issue.message = f.message;
  issue.line = 1;
  size_t line_start = 0;
  for (size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++issue.line;
      line_start = i + 1;
    }
  }
  if (line_start == 0 && text.substr(0, kBom.size()) == kBom &&
      offset >= kBom.size()) {
    line_start = kBom.size();
  }
  // Characters, not bytes, so that the column matches what an editor shows
  // for names with accents: UTF-8 continuation bytes are not counted.
  issue.col = 1;
  for (size_t i = line_start; i < offset; ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) ++issue.col;
  }
  return issue;
}

// Shared by both parsers: the limits on the table's shape.
class TableBuilder {
 public:
  explicit TableBuilder(const DataLimits& limits) : limits_(limits) {}

  // Whether a table of `rows` x `columns` is within the limits; if not, says
  // why in `message`.
  bool Fits(int64_t rows, int64_t columns, std::string* message) const {
    if (rows > limits_.max_rows) {
      *message = absl::StrCat("more than ", limits_.max_rows,
                              " rows, the limit for a data file");
      return false;
    }
    if (rows * columns > limits_.max_cells) {
      *message = absl::StrCat("more than ", limits_.max_cells,
                              " cells (rows x columns), the limit for a data "
                              "file; this would be row ",
                              rows, " of ", columns, " columns");
      return false;
    }
    return true;
  }

  // Whether `table` may take one more row.
  bool RowFits(const DataTable& table, std::string* message) const {
    return Fits(static_cast<int64_t>(table.rows.size()) + 1,
                static_cast<int64_t>(table.columns.size()), message);
  }

  bool ColumnFits(size_t columns_so_far, std::string* message) const {
    if (static_cast<int64_t>(columns_so_far) >= limits_.max_columns) {
      *message = absl::StrCat("more than ", limits_.max_columns,
                              " columns, the limit for a data file");
      return false;
    }
    return true;
  }

 private:
  const DataLimits& limits_;
};

// RFC 4180 records, strictly: a quote may only open a field or be doubled
// inside a quoted one, so a stray quote is reported where it is rather than
// silently changing which cells the rest of the file lands in.
class CsvParser {
 public:
  CsvParser(std::string_view text, const DataLimits& limits)
      : text_(text), builder_(limits), limits_(limits) {}

  bool Parse(DataTable* table) {
    if (text_.substr(0, kBom.size()) == kBom) pos_ = kBom.size();
    SkipEmptyLines();
    if (pos_ == text_.size()) {
      return Fail(pos_,
                  "the file is empty: a CSV data file starts with a header "
                  "row naming its columns");
    }
    if (!ReadHeader(table)) return false;
    const size_t columns = table->columns.size();
    for (SkipEmptyLines(); pos_ < text_.size(); SkipEmptyLines()) {
      std::string why;
      if (!builder_.RowFits(*table, &why)) return Fail(pos_, why);
      std::vector<std::string>& row = table->rows.emplace_back();
      row.reserve(columns);
      switch (ReadRecord(columns, &row, nullptr)) {
        case Read::kError:
          return false;
        case Read::kTooMany:
          return Fail(pos_, absl::StrCat("this row has more fields than the ",
                                         columns, " columns of the header"));
        case Read::kOk:
          break;
      }
      if (row.size() < columns) {
        return Fail(
            record_end_,
            absl::StrCat("this row has ", row.size(),
                         row.size() == 1 ? " field" : " fields",
                         ", the header has ", columns, ": no value for ",
                         Quote(table->columns[row.size()])));
      }
    }
    if (table->rows.empty()) {
      return Fail(pos_, "no data rows: the file has a header row but no rows");
    }
    return true;
  }

  const Failure& failure() const { return failure_; }

 private:
  enum class Read { kOk, kTooMany, kError };

  bool Fail(size_t offset, std::string message) {
    failure_.offset = offset;
    failure_.message = std::move(message);
    return false;
  }

  // Empty lines separate nothing: they are not rows of one empty cell (a
  // one-column file writes an empty value as "").
  void SkipEmptyLines() {
    for (;;) {
      if (text_.substr(pos_, 1) == "\n") {
        pos_ += 1;
      } else if (text_.substr(pos_, 2) == "\r\n") {
        pos_ += 2;
      } else {
        return;
      }
    }
  }

  bool ReadHeader(DataTable* table) {
    std::vector<size_t> starts;
    switch (ReadRecord(static_cast<size_t>(limits_.max_columns),
                       &table->columns, &starts)) {
      case Read::kError:
        return false;
      case Read::kTooMany: {
        std::string why;
        builder_.ColumnFits(table->columns.size(), &why);
        return Fail(pos_, why);
      }
      case Read::kOk:
        break;
    }
    absl::flat_hash_map<absl::string_view, size_t> seen;
    for (size_t i = 0; i < table->columns.size(); ++i) {
      const std::string& name = table->columns[i];
      if (name.empty()) {
        return Fail(starts[i],
                    absl::StrCat("column ", i + 1,
                                 " of the header has no name; every column "
                                 "needs one"));
      }
      if (!IsTemplateName(name)) return Fail(starts[i], NotATemplateName(name));
      auto [it, inserted] = seen.emplace(name, i);
      if (!inserted) {
        return Fail(starts[i], absl::StrCat("column name ", Quote(name),
                                            " appears twice (first as column ",
                                            it->second + 1, ")"));
      }
    }
    return true;
  }

  // Reads the record at pos_ into `fields`, and where each field starts into
  // `starts` if not null. Leaves pos_ after its line end (kOk), at the start
  // of a field past `max_fields` (kTooMany: nothing is read past it, so a
  // runaway line costs no memory), or sets failure_ (kError). record_end_ is
  // where the record's line end is.
  Read ReadRecord(size_t max_fields, std::vector<std::string>* fields,
                  std::vector<size_t>* starts) {
    const size_t n = text_.size();
    for (;;) {
      if (fields->size() == max_fields) return Read::kTooMany;
      if (starts != nullptr) starts->push_back(pos_);
      std::string& cell = fields->emplace_back();
      if (pos_ < n && text_[pos_] == '"') {
        if (!ReadQuoted(&cell)) return Read::kError;
      } else {
        size_t end = pos_;
        while (end < n && text_[end] != ',' && text_[end] != '\n' &&
               text_[end] != '\r' && text_[end] != '"') {
          ++end;
        }
        cell.assign(text_.data() + pos_, end - pos_);
        pos_ = end;
        if (pos_ < n && text_[pos_] == '"') {
          Fail(pos_,
               "a quote inside an unquoted field; quote the whole field and "
               "double each quote in it, e.g. \"say \"\"hi\"\"\"");
          return Read::kError;
        }
      }
      // The separator or line end after the field.
      record_end_ = pos_;
      if (pos_ == n) return Read::kOk;
      const char c = text_[pos_];
      if (c == ',') {
        ++pos_;
      } else if (c == '\n') {
        ++pos_;
        return Read::kOk;
      } else if (c == '\r' && pos_ + 1 < n && text_[pos_ + 1] == '\n') {
        pos_ += 2;
        return Read::kOk;
      } else if (c == '\r') {
        Fail(pos_,
             "a carriage return (CR) that does not end a line: lines end "
             "with LF or CRLF, and a CR inside a value needs the field "
             "quoted");
        return Read::kError;
      } else {
        Fail(pos_,
             "text after the closing quote of a field; a quoted field ends "
             "at its closing quote, and a quote inside it is written \"\"");
        return Read::kError;
      }
    }
  }

  // pos_ is at the opening quote; leaves it after the closing one.
  bool ReadQuoted(std::string* cell) {
    const size_t open = pos_++;
    for (;;) {
      const size_t quote = text_.find('"', pos_);
      if (quote == std::string_view::npos) {
        return Fail(open,
                    "the quote that opens this field is never closed (a "
                    "quote inside a quoted field is written \"\")");
      }
      cell->append(text_.data() + pos_, quote - pos_);
      pos_ = quote + 1;
      if (pos_ < text_.size() && text_[pos_] == '"') {
        cell->push_back('"');
        ++pos_;
        continue;
      }
      return true;
    }
  }

  std::string_view text_;
  TableBuilder builder_;
  const DataLimits& limits_;
  size_t pos_ = 0;
  size_t record_end_ = 0;
  Failure failure_;
};

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool IsJsonSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// One flat JSON object per line. Nothing nests, so the parser is a loop over
// key/value pairs with no recursion; each step moves forward, so it ends.
class JsonLinesParser {
 public:
  JsonLinesParser(std::string_view text, const DataLimits& limits)
      : text_(text), builder_(limits) {}

  bool Parse(DataTable* table) {
    size_t pos = text_.substr(0, kBom.size()) == kBom ? kBom.size() : 0;
    while (pos < text_.size()) {
      size_t eol = text_.find('\n', pos);
      if (eol == std::string_view::npos) eol = text_.size();
      i_ = pos;
      end_ = eol;
      SkipSpace();
      if (i_ < end_ && !ParseLine(table)) return false;
      pos = eol + 1;
    }
    if (table->rows.empty()) {
      return Fail(text_.size(),
                  "no data rows: a JSON lines data file has one object per "
                  "line, e.g. {\"email\": \"a@example.com\"}");
    }
    return true;
  }

  const Failure& failure() const { return failure_; }

 private:
  bool Fail(size_t offset, std::string message) {
    failure_.offset = offset;
    failure_.message = std::move(message);
    return false;
  }

  void SkipSpace() {
    while (i_ < end_ && IsJsonSpace(text_[i_])) ++i_;
  }

  // Takes `c`, or fails saying `what` was expected (followed by `key`,
  // quoted, if not empty). The message is built only on failure: this runs
  // for every key and value.
  bool Expect(char c, std::string_view what, std::string_view key = {}) {
    if (i_ < end_ && text_[i_] == c) {
      ++i_;
      return true;
    }
    const std::string expected = key.empty()
                                     ? std::string(what)
                                     : absl::StrCat(ToAbsl(what), Quote(key));
    if (i_ == end_) {
      return Fail(i_, absl::StrCat("the line ends where ", expected,
                                   " was expected: each line holds one "
                                   "whole JSON object"));
    }
    return Fail(i_, absl::StrCat("expected ", expected));
  }

  // The first line's keys become the columns; later lines must have exactly
  // those keys, in any order.
  bool ParseLine(DataTable* table) {
    const bool first = table->columns.empty() && table->rows.empty();
    const size_t line_start = i_;
    std::string why;
    if (!builder_.RowFits(*table, &why)) return Fail(i_, why);
    if (!Expect('{', "a JSON object ({...}) on each non-empty line")) {
      return false;
    }
    std::vector<std::string>& row = table->rows.emplace_back();
    if (!first) {
      row.resize(table->columns.size());
      ++line_mark_;
    }
    size_t filled = 0;
    SkipSpace();
    if (i_ < end_ && text_[i_] == '}') {
      ++i_;
    } else {
      for (;;) {
        SkipSpace();
        const size_t key_start = i_;
        if (i_ >= end_ || text_[i_] != '"') {
          return Expect('"', "a key in double quotes");
        }
        if (!ParseString(&key_)) return false;
        std::string* cell = nullptr;
        if (first) {
          if (!builder_.ColumnFits(table->columns.size(), &why)) {
            return Fail(key_start, why);
          }
          if (!IsTemplateName(key_)) {
            return Fail(key_start, NotATemplateName(key_));
          }
          const size_t index = table->columns.size();
          if (!index_.emplace(key_, index).second) {
            return Fail(key_start,
                        absl::StrCat("key ", Quote(key_), " appears twice"));
          }
          table->columns.push_back(key_);
          cell = &row.emplace_back();
          marks_.push_back(0);
        } else {
          // Lines are usually written with the first line's key order, so
          // the next column is tried before the hash.
          size_t index = filled;
          if (index >= table->columns.size() || table->columns[index] != key_) {
            auto it = index_.find(ToAbsl(key_));
            if (it == index_.end()) {
              return Fail(key_start,
                          absl::StrCat("extra key ", Quote(key_),
                                       ": the first line has no such key, "
                                       "and every line needs the same keys"));
            }
            index = it->second;
          }
          if (marks_[index] == line_mark_) {
            return Fail(key_start,
                        absl::StrCat("key ", Quote(key_), " appears twice"));
          }
          marks_[index] = line_mark_;
          cell = &row[index];
        }
        ++filled;
        SkipSpace();
        if (!Expect(':', ": after the key ", key_)) {
          return false;
        }
        SkipSpace();
        if (!ParseValue(cell)) return false;
        SkipSpace();
        if (i_ < end_ && text_[i_] == ',') {
          ++i_;
          continue;
        }
        if (!Expect('}', ", or } after the value of ", key_)) {
          return false;
        }
        break;
      }
    }
    const size_t closing = i_ - 1;
    SkipSpace();
    if (i_ < end_) {
      return Fail(i_,
                  "text after the object's closing }: each line holds one "
                  "JSON object");
    }
    if (first && table->columns.empty()) {
      return Fail(closing,
                  "the first object has no keys; its keys name the columns");
    }
    if (first &&
        !builder_.Fits(1, static_cast<int64_t>(table->columns.size()), &why)) {
      return Fail(line_start, why);
    }
    if (!first && filled < table->columns.size()) {
      for (size_t c = 0; c < marks_.size(); ++c) {
        if (marks_[c] != line_mark_) {
          return Fail(closing,
                      absl::StrCat("missing key ", Quote(table->columns[c]),
                                   ": the first line has it, and every line "
                                   "needs the same keys"));
        }
      }
    }
    return true;
  }

  bool ParseValue(std::string* out) {
    if (i_ == end_) return Expect('"', "a value");
    const char c = text_[i_];
    if (c == '"') return ParseString(out);
    if (c == '{' || c == '[') {
      return Fail(i_, absl::StrCat("the value of ", Quote(key_),
                                   " is an object or array; a cell holds a "
                                   "string, number, true, false or null"));
    }
    const std::string_view rest = text_.substr(i_, end_ - i_);
    for (std::string_view word : {"true", "false", "null"}) {
      if (rest.substr(0, word.size()) == word) {
        if (word == "null") {
          out->clear();
        } else {
          out->assign(word.data(), word.size());
        }
        i_ += word.size();
        return true;
      }
    }
    if (c == '-' || IsDigit(c)) return ParseNumber(out);
    return Fail(i_, absl::StrCat("expected the value of ", Quote(key_),
                                 ": a string, number, true, false or null"));
  }

  // JSON's number grammar, kept as written: "1e3" stays "1e3".
  bool ParseNumber(std::string* out) {
    const size_t start = i_;
    auto digits = [this](std::string_view after) {
      if (i_ == end_ || !IsDigit(text_[i_])) {
        return Fail(i_, absl::StrCat("invalid number: a digit must follow ",
                                     ToAbsl(after)));
      }
      while (i_ < end_ && IsDigit(text_[i_])) ++i_;
      return true;
    };
    if (text_[i_] == '-') ++i_;
    if (i_ < end_ && text_[i_] == '0') {
      ++i_;
      if (i_ < end_ && IsDigit(text_[i_])) {
        return Fail(start,
                    "invalid number: a JSON number has no leading zeros; "
                    "quote it to keep them (\"007\")");
      }
    } else if (!digits("the minus sign")) {
      return false;
    }
    if (i_ < end_ && text_[i_] == '.') {
      ++i_;
      if (!digits("the decimal point")) return false;
    }
    if (i_ < end_ && (text_[i_] == 'e' || text_[i_] == 'E')) {
      ++i_;
      if (i_ < end_ && (text_[i_] == '+' || text_[i_] == '-')) ++i_;
      if (!digits("the exponent's e")) return false;
    }
    out->assign(text_.data() + start, i_ - start);
    return true;
  }

  // Whether only the line end (its CR, for CRLF) is left from `at` on.
  bool AtLineEnd(size_t at) const {
    return at >= end_ || (at + 1 == end_ && text_[at] == '\r');
  }

  // Four hex digits at `at`, or -1.
  int Hex4(size_t at) const {
    if (at > end_ || end_ - at < 4) return -1;
    int v = 0;
    for (size_t k = at; k < at + 4; ++k) {
      const char c = text_[k];
      int d;
      if (c >= '0' && c <= '9') {
        d = c - '0';
      } else if (c >= 'a' && c <= 'f') {
        d = c - 'a' + 10;
      } else if (c >= 'A' && c <= 'F') {
        d = c - 'A' + 10;
      } else {
        return -1;
      }
      v = v * 16 + d;
    }
    return v;
  }

  // i_ is at the opening quote; decodes into `out` and leaves i_ after the
  // closing one.
  bool ParseString(std::string* out) {
    const size_t open = i_++;
    out->clear();
    for (;;) {
      size_t j = i_;
      while (j < end_ && text_[j] != '"' && text_[j] != '\\' &&
             static_cast<unsigned char>(text_[j]) >= 0x20) {
        ++j;
      }
      out->append(text_.data() + i_, j - i_);
      i_ = j;
      // A CRLF line's CR is the last byte before end_, not part of the string.
      if (AtLineEnd(i_) || (text_[i_] == '\\' && AtLineEnd(i_ + 1))) {
        return Fail(open,
                    "this string is not closed on its line (a quote inside a "
                    "string is written \\\")");
      }
      const char c = text_[i_];
      if (c == '"') {
        ++i_;
        return true;
      }
      if (c != '\\') {
        return Fail(i_,
                    "a control character inside a string; write it as an "
                    "escape (\\t, \\n, \\u0001)");
      }
      const char e = text_[i_ + 1];
      const char* simple = nullptr;
      switch (e) {
        case '"':
          simple = "\"";
          break;
        case '\\':
          simple = "\\";
          break;
        case '/':
          simple = "/";
          break;
        case 'b':
          simple = "\b";
          break;
        case 'f':
          simple = "\f";
          break;
        case 'n':
          simple = "\n";
          break;
        case 'r':
          simple = "\r";
          break;
        case 't':
          simple = "\t";
          break;
        default:
          break;
      }
      if (simple != nullptr) {
        out->push_back(*simple);
        i_ += 2;
        continue;
      }
      if (e != 'u') {
        return Fail(i_,
                    absl::StrCat("unknown escape \\", absl::string_view(&e, 1),
                                 " (JSON has \\\" \\\\ \\/ \\b \\f \\n "
                                 "\\r \\t \\uXXXX)"));
      }
      const int unit = Hex4(i_ + 2);
      if (unit < 0) {
        return Fail(i_, "\\u must be followed by four hex digits");
      }
      uint32_t cp = static_cast<uint32_t>(unit);
      if (cp >= 0xDC00 && cp <= 0xDFFF) {
        return Fail(i_,
                    "a low surrogate (\\uDC00-\\uDFFF) without the high one "
                    "before it");
      }
      size_t next = i_ + 6;
      if (cp >= 0xD800 && cp <= 0xDBFF) {
        const int low =
            next + 1 < end_ && text_[next] == '\\' && text_[next + 1] == 'u'
                ? Hex4(next + 2)
                : -1;
        if (low < 0xDC00 || low > 0xDFFF) {
          return Fail(i_,
                      "a high surrogate (\\uD800-\\uDBFF) must be followed by "
                      "a low one (\\uDC00-\\uDFFF), as in \\uD83D\\uDE00");
        }
        cp = 0x10000 + ((cp - 0xD800) << 10) +
             (static_cast<uint32_t>(low) - 0xDC00);
        next += 6;
      }
      AppendUtf8(cp, out);
      i_ = next;
    }
  }

  std::string_view text_;
  TableBuilder builder_;
  size_t i_ = 0;    // the cursor, within the line
  size_t end_ = 0;  // the line's end (its '\n', or the text's end)
  std::string key_;
  absl::flat_hash_map<std::string, size_t> index_;  // column by key
  // marks_[c] == line_mark_ when column c has a value on the current line;
  // bumping line_mark_ clears them all at once.
  std::vector<uint64_t> marks_;
  uint64_t line_mark_ = 0;
  Failure failure_;
};

std::string SizeText(int64_t bytes) {
  if (bytes >= (int64_t{1} << 20) && bytes % (int64_t{1} << 20) == 0) {
    return absl::StrCat(bytes >> 20, " MiB");
  }
  if (bytes >= (int64_t{1} << 20)) {
    return absl::StrFormat("%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  }
  return absl::StrCat(bytes, " bytes");
}

// `how` completes "the file is ... the limit".
absl::Status TooLarge(const std::string& path, const DataLimits& limits,
                      std::string_view how, DataIssue* issue) {
  std::string message =
      absl::StrCat("the file is ", ToAbsl(how), " the limit of ",
                   SizeText(limits.max_bytes), " for a data file");
  absl::Status status =
      absl::InvalidArgumentError(absl::StrCat(path, ": ", message));
  if (issue != nullptr) *issue = DataIssue{0, 0, std::move(message)};
  return status;
}

absl::Status WholeFile(absl::Status status, const std::string& path,
                       DataIssue* issue) {
  if (issue != nullptr) {
    const absl::string_view m = status.message();
    const std::string prefix = absl::StrCat(path, ": ");
    *issue = DataIssue{
        0, 0,
        std::string(absl::StartsWith(m, prefix) ? m.substr(prefix.size()) : m)};
  }
  return status;
}

}  // namespace

absl::StatusOr<DataFormat> DataFormatFor(std::string_view file_name) {
  const absl::string_view name = ToAbsl(file_name);
  if (absl::EndsWithIgnoreCase(name, ".csv")) return DataFormat::kCsv;
  if (absl::EndsWithIgnoreCase(name, ".jsonl") ||
      absl::EndsWithIgnoreCase(name, ".ndjson")) {
    return DataFormat::kJsonLines;
  }
  return absl::InvalidArgumentError(
      absl::StrCat(Quote(file_name),
                   ": unknown data file format; the name must end in .csv "
                   "(CSV with a header row) or .jsonl / .ndjson (JSON lines)"));
}

absl::StatusOr<DataTable> ParseDataFile(DataFormat format,
                                        std::string_view text,
                                        const DataLimits& limits,
                                        DataIssue* issue) {
  DataTable table;
  Failure failure;
  if (format == DataFormat::kCsv) {
    CsvParser parser(text, limits);
    if (parser.Parse(&table)) return table;
    failure = parser.failure();
  } else {
    JsonLinesParser parser(text, limits);
    if (parser.Parse(&table)) return table;
    failure = parser.failure();
  }
  DataIssue found = IssueAt(text, failure);
  absl::Status status = absl::InvalidArgumentError(
      absl::StrCat(found.line, ":", found.col, ": ", found.message));
  if (issue != nullptr) *issue = std::move(found);
  return status;
}

absl::StatusOr<DataTable> ReadDataFile(const std::string& path,
                                       const DataLimits& limits,
                                       DataIssue* issue) {
  absl::StatusOr<DataFormat> format = DataFormatFor(path);
  if (!format.ok()) return WholeFile(format.status(), path, issue);

  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    return WholeFile(absl::ErrnoToStatus(errno, absl::StrCat(path,
                                                             ": cannot "
                                                             "open")),
                     path, issue);
  }
  struct stat st;
  if (fstat(fileno(f), &st) != 0) {
    const int error = errno;
    std::fclose(f);
    return WholeFile(
        absl::ErrnoToStatus(error, absl::StrCat(path, ": cannot stat")), path,
        issue);
  }
  if (S_ISDIR(st.st_mode)) {
    std::fclose(f);
    return WholeFile(absl::InvalidArgumentError(
                         absl::StrCat(path, ": is a directory, not a file")),
                     path, issue);
  }
  // A regular file says its size: refuse a huge one before reading any of
  // it. Anything else (a pipe) is read up to one byte past the limit.
  if (S_ISREG(st.st_mode) && st.st_size > limits.max_bytes) {
    std::fclose(f);
    return TooLarge(path, limits,
                    absl::StrCat(SizeText(st.st_size), ", more than"), issue);
  }
  std::string text;
  if (S_ISREG(st.st_mode)) text.reserve(static_cast<size_t>(st.st_size));
  char buf[64 * 1024];
  bool too_large = false;
  for (;;) {
    const size_t n = std::fread(buf, 1, sizeof buf, f);
    if (n == 0) break;
    text.append(buf, n);
    if (static_cast<int64_t>(text.size()) > limits.max_bytes) {
      too_large = true;
      break;
    }
  }
  const bool failed = std::ferror(f) != 0;
  const int read_error = errno;
  std::fclose(f);
  if (too_large) {
    return TooLarge(path, limits, "larger than", issue);
  }
  if (failed) {
    return WholeFile(
        absl::ErrnoToStatus(read_error, absl::StrCat(path, ": cannot read")),
        path, issue);
  }
  absl::StatusOr<DataTable> table = ParseDataFile(*format, text, limits, issue);
  if (!table.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ":", table.status().message()));
  }
  return table;
}

}  // namespace stampede::common
