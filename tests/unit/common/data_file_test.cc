#include "common/data_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace stampede::common {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

using Rows = std::vector<std::vector<std::string>>;

DataTable Csv(std::string_view text) {
  absl::StatusOr<DataTable> t = ParseDataFile(DataFormat::kCsv, text);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *t : DataTable();
}

DataTable Json(std::string_view text) {
  absl::StatusOr<DataTable> t = ParseDataFile(DataFormat::kJsonLines, text);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *t : DataTable();
}

// The error for `text`, checked to be InvalidArgument "LINE:COL: ..." and to
// agree with the DataIssue filled beside it.
DataIssue Issue(DataFormat format, std::string_view text,
                const DataLimits& limits = DataLimits()) {
  DataIssue issue;
  absl::StatusOr<DataTable> t = ParseDataFile(format, text, limits, &issue);
  EXPECT_FALSE(t.ok()) << "input: " << text;
  if (t.ok()) return issue;
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(t.status().message()),
            std::to_string(issue.line) + ":" + std::to_string(issue.col) +
                ": " + issue.message);
  return issue;
}

DataIssue CsvIssue(std::string_view text) {
  return Issue(DataFormat::kCsv, text);
}
DataIssue JsonIssue(std::string_view text) {
  return Issue(DataFormat::kJsonLines, text);
}

#define EXPECT_AT(issue_expr, want_line, want_col, want_text) \
  do {                                                        \
    const DataIssue issue_ = (issue_expr);                    \
    EXPECT_EQ(issue_.line, want_line) << issue_.message;      \
    EXPECT_EQ(issue_.col, want_col) << issue_.message;        \
    EXPECT_THAT(issue_.message, HasSubstr(want_text));        \
  } while (0)

TEST(DataFormatForTest, PicksTheFormatFromTheExtension) {
  EXPECT_EQ(*DataFormatFor("users.csv"), DataFormat::kCsv);
  EXPECT_EQ(*DataFormatFor("data/Users.CSV"), DataFormat::kCsv);
  EXPECT_EQ(*DataFormatFor("users.jsonl"), DataFormat::kJsonLines);
  EXPECT_EQ(*DataFormatFor("users.ndjson"), DataFormat::kJsonLines);
  for (std::string_view bad :
       {"users.txt", "users.json", "users.csv.gz", "users", ""}) {
    absl::StatusOr<DataFormat> f = DataFormatFor(bad);
    ASSERT_FALSE(f.ok()) << bad;
    EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(f.status().message()), HasSubstr(".csv"));
  }
}

TEST(CsvTest, HeaderNamesTheColumns) {
  DataTable t = Csv("email,password\na@x.io,pw1\nb@x.io,pw2\n");
  EXPECT_THAT(t.columns, ElementsAre("email", "password"));
  EXPECT_EQ(t.rows, (Rows{{"a@x.io", "pw1"}, {"b@x.io", "pw2"}}));
}

TEST(CsvTest, QuotedFieldsHoldCommasQuotesAndNewlines) {
  DataTable t =
      Csv("name,note\n"
          "\"Smith, Jo\",\"say \"\"hi\"\"\"\n"
          "\"\",\"two\nlines\"\n"
          "\"crlf\",\"a\r\nb\"\n");
  EXPECT_EQ(t.rows, (Rows{{"Smith, Jo", "say \"hi\""},
                          {"", "two\nlines"},
                          {"crlf", "a\r\nb"}}));
}

TEST(CsvTest, EmptyFieldsAreEmptyCells) {
  DataTable t = Csv("a,b,c\n,,\nx,,\n");
  EXPECT_EQ(t.rows, (Rows{{"", "", ""}, {"x", "", ""}}));
}

TEST(CsvTest, BomCrlfAndMissingFinalLineEnd) {
  DataTable t = Csv("\xEF\xBB\xBFid,email\r\n1,a@x.io\r\n2,b@x.io");
  EXPECT_THAT(t.columns, ElementsAre("id", "email"));
  EXPECT_EQ(t.rows, (Rows{{"1", "a@x.io"}, {"2", "b@x.io"}}));
}

TEST(CsvTest, EmptyLinesAreSkipped) {
  DataTable t = Csv("\n\r\nid\n\n1\r\n\r\n\n2\n\n");
  EXPECT_EQ(t.rows, (Rows{{"1"}, {"2"}}));
}

TEST(CsvTest, CellsKeepSpacesAndUtf8AsWritten) {
  DataTable t = Csv("name,city\n  Zoë , São Paulo\n");
  EXPECT_EQ(t.rows, (Rows{{"  Zoë ", " São Paulo"}}));
}

TEST(CsvTest, RowWithTooFewOrTooManyFieldsIsAnErrorAtItsLine) {
  EXPECT_AT(CsvIssue("a,b,c\n1,2,3\n4,5\n"), 3, 4,
            "this row has 2 fields, the header has 3: no value for \"c\"");
  EXPECT_AT(CsvIssue("a,b\n1,2\n\n3,4,5,6\n"), 4, 5,
            "more fields than the 2 columns");
  // A quoted newline moves later rows down a line.
  EXPECT_AT(CsvIssue("a,b\n\"1\n1\",2\n3\n"), 4, 2, "has 1 field,");
}

TEST(CsvTest, QuoteProblemsNameTheirPlace) {
  EXPECT_AT(CsvIssue("a,b\n1,\"never closed\n2,3\n"), 2, 3, "never closed");
  EXPECT_AT(CsvIssue("a,b\n1,\"x\"y\n"), 2, 6, "after the closing quote");
  EXPECT_AT(CsvIssue("a,b\n1,\"x\" \n"), 2, 6, "after the closing quote");
  EXPECT_AT(CsvIssue("a,b\n1,ab\"c\"\n"), 2, 5,
            "a quote inside an unquoted field");
  EXPECT_AT(CsvIssue("a,b\n1,2\r3,4\n"), 2, 4, "carriage return");
  // Columns count characters, not bytes.
  EXPECT_AT(CsvIssue("a,b\nZoë,\"x\"y\n"), 2, 8, "after the closing quote");
  // The BOM is not a column.
  EXPECT_AT(CsvIssue("\xEF\xBB\xBF\"a\"b\n"), 1, 4, "after the closing quote");
}

TEST(CsvTest, HeaderProblems) {
  EXPECT_AT(CsvIssue(""), 1, 1, "the file is empty");
  EXPECT_AT(CsvIssue("\xEF\xBB\xBF\n\r\n"), 3, 1, "the file is empty");
  EXPECT_AT(CsvIssue("email,password\n"), 2, 1, "no data rows");
  EXPECT_AT(CsvIssue("email,password"), 1, 15, "no data rows");
  EXPECT_AT(CsvIssue("id,,email\n1,2,3\n"), 1, 4,
            "column 2 of the header has no name");
  EXPECT_AT(CsvIssue("id,First Name\n1,2\n"), 1, 4,
            "column name \"First Name\" cannot be used in a template");
  EXPECT_AT(CsvIssue("2fa\n1\n"), 1, 1, "\"2fa\" cannot be used");
  EXPECT_AT(CsvIssue("id,email,id\n1,2,3\n"), 1, 10,
            "column name \"id\" appears twice (first as column 1)");
  // Names that are fine: letters, digits after the first, underscores.
  EXPECT_THAT(Csv("_a,b2,C_3\n1,2,3\n").columns,
              ElementsAre("_a", "b2", "C_3"));
  // A quoted header name is still a name.
  EXPECT_THAT(Csv("\"email\"\nx\n").columns, ElementsAre("email"));
}

TEST(JsonLinesTest, OneObjectPerLine) {
  DataTable t = Json(
      "{\"email\": \"a@x.io\", \"id\": 7, \"admin\": true, \"team\": null}\n"
      "\n"
      "  {\"team\":\"red\",\"admin\":false,\"id\":-1.5e+3,\"email\":\"b\"}  "
      "\r\n"
      "{\"email\":\"\",\"id\":0,\"admin\":true,\"team\":\"\"}");
  EXPECT_THAT(t.columns, ElementsAre("email", "id", "admin", "team"));
  EXPECT_EQ(t.rows, (Rows{{"a@x.io", "7", "true", ""},
                          {"b", "-1.5e+3", "false", "red"},
                          {"", "0", "true", ""}}));
}

TEST(JsonLinesTest, StringEscapesAreDecoded) {
  DataTable t = Json(
      "\xEF\xBB\xBF{\"s\": \"q\\\" b\\\\ s\\/ \\b\\f\\n\\r\\t"
      " \\u00e9 \\u20AC \\uD83D\\uDE00\"}\n");
  EXPECT_EQ(t.rows, (Rows{{"q\" b\\ s/ \b\f\n\r\t \xC3\xA9 \xE2\x82\xAC "
                           "\xF0\x9F\x98\x80"}}));
}

TEST(JsonLinesTest, EachErrorNamesItsPlace) {
  EXPECT_AT(JsonIssue(""), 1, 1, "no data rows");
  EXPECT_AT(JsonIssue("\n \n"), 3, 1, "no data rows");
  EXPECT_AT(JsonIssue("[1]\n"), 1, 1, "expected a JSON object");
  EXPECT_AT(JsonIssue("{}\n"), 1, 2, "the first object has no keys");
  EXPECT_AT(JsonIssue("{\"a\":1}\n{\"a\":{\"b\":1}}\n"), 2, 6,
            "is an object or array");
  EXPECT_AT(JsonIssue("{\"a\":[1]}\n"), 1, 6, "is an object or array");
  EXPECT_AT(JsonIssue("{\"a\":1,\"b\":2}\n{\"b\":3}\n"), 2, 7,
            "missing key \"a\"");
  EXPECT_AT(JsonIssue("{\"a\":1}\n{\"a\":2,\"c\":3}\n"), 2, 8,
            "extra key \"c\"");
  EXPECT_AT(JsonIssue("{\"a\":1,\"a\":2}\n"), 1, 8, "\"a\" appears twice");
  EXPECT_AT(JsonIssue("{\"a\":1}\n{\"a\":1,\"a\":2}\n"), 2, 8,
            "\"a\" appears twice");
  EXPECT_AT(JsonIssue("{\"first name\":1}\n"), 1, 2,
            "\"first name\" cannot be used in a template");
  EXPECT_AT(JsonIssue("{\"a\":1}\n{\"a\":\n2}\n"), 2, 6, "the line ends");
  EXPECT_AT(JsonIssue("{\"a\":\"x}\n"), 1, 6, "not closed on its line");
  EXPECT_AT(JsonIssue("{\"a\":\"x\\\r\n"), 1, 6, "not closed on its line");
  EXPECT_AT(JsonIssue("{\"a\":\"x\ty\"}\n"), 1, 8, "control character");
  EXPECT_AT(JsonIssue("{\"a\":\"\\x\"}\n"), 1, 7, "unknown escape \\x");
  EXPECT_AT(JsonIssue("{\"a\":\"\\u12g4\"}\n"), 1, 7, "four hex digits");
  EXPECT_AT(JsonIssue("{\"a\":\"\\uD83D\"}\n"), 1, 7, "high surrogate");
  EXPECT_AT(JsonIssue("{\"a\":\"\\uD83Dx\"}\n"), 1, 7, "high surrogate");
  EXPECT_AT(JsonIssue("{\"a\":\"\\uDE00\"}\n"), 1, 7, "low surrogate");
  EXPECT_AT(JsonIssue("{\"a\":01}\n"), 1, 6, "leading zeros");
  EXPECT_AT(JsonIssue("{\"a\":-}\n"), 1, 7, "a digit must follow");
  EXPECT_AT(JsonIssue("{\"a\":1.}\n"), 1, 8, "a digit must follow");
  EXPECT_AT(JsonIssue("{\"a\":1e}\n"), 1, 8, "a digit must follow");
  EXPECT_AT(JsonIssue("{\"a\":yes}\n"), 1, 6, "expected the value of \"a\"");
  EXPECT_AT(JsonIssue("{\"a\":truex}\n"), 1, 10, "expected , or }");
  EXPECT_AT(JsonIssue("{\"a\":1,}\n"), 1, 8, "a key in double quotes");
  EXPECT_AT(JsonIssue("{a:1}\n"), 1, 2, "a key in double quotes");
  EXPECT_AT(JsonIssue("{\"a\" 1}\n"), 1, 6, "expected : after the key");
  EXPECT_AT(JsonIssue("{\"a\":1} x\n"), 1, 9, "text after the object");
  EXPECT_AT(JsonIssue("{\"a\":1}{\"a\":2}\n"), 1, 8, "text after the object");
  EXPECT_AT(JsonIssue("{\"é\":1}\n"), 1, 2, "cannot be used in a template");
  EXPECT_AT(JsonIssue("{\"a\":\"é\", \"b\":x}\n"), 1, 15, "expected the value");
}

TEST(LimitsTest, RowsColumnsAndCells) {
  DataLimits limits;
  limits.max_rows = 2;
  EXPECT_TRUE(ParseDataFile(DataFormat::kCsv, "a\n1\n2\n", limits).ok());
  EXPECT_AT(Issue(DataFormat::kCsv, "a\n1\n2\n3\n", limits), 4, 1,
            "more than 2 rows");
  EXPECT_AT(Issue(DataFormat::kJsonLines, "{\"a\":1}\n{\"a\":1}\n{\"a\":1}\n",
                  limits),
            3, 1, "more than 2 rows");

  limits = DataLimits();
  limits.max_columns = 2;
  EXPECT_AT(Issue(DataFormat::kCsv, "a,b,c\n1,2,3\n", limits), 1, 5,
            "more than 2 columns");
  EXPECT_AT(
      Issue(DataFormat::kJsonLines, "{\"a\":1,\"b\":2,\"c\":3}\n", limits), 1,
      14, "more than 2 columns");

  limits = DataLimits();
  limits.max_cells = 5;
  EXPECT_TRUE(ParseDataFile(DataFormat::kCsv, "a,b\n1,2\n3,4\n", limits).ok());
  EXPECT_AT(Issue(DataFormat::kCsv, "a,b\n1,2\n3,4\n5,6\n", limits), 4, 1,
            "more than 5 cells");
  limits.max_cells = 2;
  EXPECT_AT(
      Issue(DataFormat::kJsonLines, "{\"a\":1,\"b\":2,\"c\":3}\n", limits), 1,
      1, "more than 2 cells");
}

// A file in the test's temporary directory, removed at the end.
class DataFileOnDisk : public ::testing::Test {
 protected:
  std::string Write(const std::string& name, std::string_view content) {
    const char* dir = std::getenv("TEST_TMPDIR");
    std::string path = std::string(dir != nullptr ? dir : "/tmp") +
                       "/data_file_test_" + std::to_string(getpid()) + "_" +
                       name;
    std::FILE* f = std::fopen(path.c_str(), "wb");
    EXPECT_NE(f, nullptr) << path;
    if (f == nullptr) return path;
    std::fwrite(content.data(), 1, content.size(), f);
    std::fclose(f);
    paths_.push_back(path);
    return path;
  }
  void TearDown() override {
    for (const std::string& p : paths_) std::remove(p.c_str());
  }

 private:
  std::vector<std::string> paths_;
};

TEST_F(DataFileOnDisk, ReadsByExtension) {
  absl::StatusOr<DataTable> csv =
      ReadDataFile(Write("users.csv", "email\na@x.io\n"));
  ASSERT_TRUE(csv.ok()) << csv.status();
  EXPECT_EQ(csv->rows, (Rows{{"a@x.io"}}));
  absl::StatusOr<DataTable> json =
      ReadDataFile(Write("users.ndjson", "{\"email\":\"a@x.io\"}\n"));
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ(json->rows, (Rows{{"a@x.io"}}));
}

TEST_F(DataFileOnDisk, ErrorsNameTheFileAndPlace) {
  const std::string path = Write("bad.csv", "a,b\n1,2\n3\n");
  DataIssue issue;
  absl::StatusOr<DataTable> t = ReadDataFile(path, DataLimits(), &issue);
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(std::string(t.status().message()),
              StartsWith(path + ":3:2: this row has 1"));
  EXPECT_EQ(issue.line, 3);
  EXPECT_EQ(issue.col, 2);

  const std::string missing = path + ".missing.csv";
  t = ReadDataFile(missing, DataLimits(), &issue);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(t.status().message()),
              StartsWith(missing + ": cannot open"));
  EXPECT_EQ(issue.line, 0);
  EXPECT_THAT(issue.message, StartsWith("cannot open"));

  t = ReadDataFile(Write("users.txt", "a\n1\n"), DataLimits(), &issue);
  EXPECT_THAT(std::string(t.status().message()),
              HasSubstr("unknown data file format"));
}

TEST_F(DataFileOnDisk, RefusesAFileOverTheByteLimit) {
  DataLimits limits;
  limits.max_bytes = 16;
  const std::string fits = Write("fits.csv", "a\n1234567890123\n");  // 16
  EXPECT_TRUE(ReadDataFile(fits, limits).ok());
  const std::string big = Write("big.csv", "a\n12345678901234\n");  // 17
  DataIssue issue;
  absl::StatusOr<DataTable> t = ReadDataFile(big, limits, &issue);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(std::string(t.status().message()),
            big +
                ": the file is 17 bytes, more than the limit of 16 bytes "
                "for a data file");
  EXPECT_EQ(issue.line, 0);
  EXPECT_EQ(issue.col, 0);
}

// Something that is not a regular file has no size to check first: it is
// read up to the limit and no further (here a .csv name for /dev/zero, which
// never ends).
TEST_F(DataFileOnDisk, StopsReadingAnEndlessFileAtTheLimit) {
  const std::string link = Write("endless.csv", "");
  std::remove(link.c_str());
  ASSERT_EQ(symlink("/dev/zero", link.c_str()), 0);
  DataLimits limits;
  limits.max_bytes = 1 << 20;
  absl::StatusOr<DataTable> t = ReadDataFile(link, limits);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(std::string(t.status().message()),
            link +
                ": the file is larger than the limit of 1 MiB for a data "
                "file");
}

TEST_F(DataFileOnDisk, RefusesADirectory) {
  const char* dir = std::getenv("TEST_TMPDIR");
  const std::string path =
      std::string(dir != nullptr ? dir : "/tmp") + "/data_file_test_dir.csv";
  ASSERT_TRUE(mkdir(path.c_str(), 0700) == 0 || errno == EEXIST);
  absl::StatusOr<DataTable> t = ReadDataFile(path);
  rmdir(path.c_str());
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("is a directory"));
}

}  // namespace
}  // namespace stampede::common
