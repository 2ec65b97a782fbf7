// Fuzzes common/json_path.h: the input up to its first newline is a path for
// Parse, the rest a response body for Find (with that path and a few fixed
// ones). The body is copied to a buffer of exactly its size, so that ASan
// catches a read past its end. Besides the sanitizers, checks that a parse
// error names a column within the expression, that Parse(text()) finds the
// same, that a miss leaves the value empty, that a string match is valid
// UTF-8 and found again when written back as a JSON string, that any other
// match is found again as a whole document, and that bytes appended after
// the document change no match.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/json_path.h"
#include "tests/fuzz/fuzz_check.h"

namespace stampede::common {
namespace {

// `value` as a JSON string literal.
std::string Quoted(std::string_view value) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (char c : value) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      out += "\\u00";
      out += kHex[u >> 4];
      out += kHex[u & 0xF];
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    int len = c < 0x80   ? 1
              : c < 0xC2 ? 0
              : c < 0xE0 ? 2
              : c < 0xF0 ? 3
              : c < 0xF5 ? 4
                         : 0;
    if (len == 0 || s.size() - i < static_cast<size_t>(len)) return false;
    uint32_t cp = len == 1 ? c : c & (0x7F >> len);
    for (int k = 1; k < len; ++k) {
      const unsigned char ck = static_cast<unsigned char>(s[i + k]);
      if ((ck & 0xC0) != 0x80) return false;
      cp = cp << 6 | (ck & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

void CheckFind(const JsonPath& path, std::string_view doc) {
  std::string value = "not yet";
  JsonKind kind = JsonKind::kNull;
  if (!path.Find(doc, &value, &kind)) {
    FUZZ_CHECK(value.empty());
    return;
  }
  // The same again, into a string that already holds something.
  std::string again = "something longer than most values, to be replaced";
  JsonKind again_kind = JsonKind::kNull;
  FUZZ_CHECK(path.Find(doc, &again, &again_kind));
  FUZZ_CHECK(again == value && again_kind == kind);

  const JsonPath root = *JsonPath::Parse("$");
  const JsonPath member = *JsonPath::Parse("$.k");
  if (kind == JsonKind::kString) {
    FUZZ_CHECK(IsValidUtf8(value));
    const std::string wrapped = "{\"k\": " + Quoted(value) + "}";
    FUZZ_CHECK(member.Find(wrapped, &again, &again_kind));
    FUZZ_CHECK(again == value && again_kind == JsonKind::kString);
  } else {
    FUZZ_CHECK(!value.empty());
    FUZZ_CHECK(root.Find(value, &again, &again_kind));
    FUZZ_CHECK(again == value && again_kind == kind);
    // (A container could nest one level too deep inside another.)
    if (kind != JsonKind::kObject && kind != JsonKind::kArray) {
      FUZZ_CHECK(member.Find("{\"k\":" + value + "}", &again, &again_kind));
      FUZZ_CHECK(again == value && again_kind == kind);
    }
  }
  // Find stops at the match; only a number that is the whole document could
  // have gone on.
  if (kind != JsonKind::kNumber || path.text() != "$") {
    std::string longer(doc);
    longer += "1]}x";
    FUZZ_CHECK(path.Find(longer, &again, &again_kind));
    FUZZ_CHECK(again == value && again_kind == kind);
  }
}

}  // namespace
}  // namespace stampede::common

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using stampede::common::CheckFind;
  using stampede::common::JsonPath;
  const char* text = reinterpret_cast<const char*>(data);
  const void* newline = std::memchr(text, '\n', size);
  const size_t path_size =
      newline == nullptr ? size : static_cast<const char*>(newline) - text;
  const std::string_view expr(text, path_size);
  // The body in a buffer of its exact size (std::string would have a '\0'
  // after it that ASan lets a stray read see).
  const size_t doc_size = newline == nullptr ? 0 : size - path_size - 1;
  std::unique_ptr<char[]> doc_bytes(new char[doc_size == 0 ? 1 : doc_size]);
  if (doc_size > 0)
    std::memcpy(doc_bytes.get(), text + path_size + 1, doc_size);
  const std::string_view doc(doc_bytes.get(), doc_size);

  absl::StatusOr<JsonPath> path = JsonPath::Parse(expr);
  if (!path.ok()) {
    const std::string message(path.status().message());
    FUZZ_CHECK(message.substr(0, 7) == "column ");
    const long column = std::strtol(message.c_str() + 7, nullptr, 10);
    FUZZ_CHECK(column >= 1 && static_cast<size_t>(column) <= expr.size() + 1);
  } else {
    FUZZ_CHECK(path->text() == expr);
    absl::StatusOr<JsonPath> reparsed = JsonPath::Parse(path->text());
    FUZZ_CHECK(reparsed.ok() && reparsed->text() == path->text());
    std::string a, b;
    stampede::common::JsonKind ka = stampede::common::JsonKind::kNull, kb = ka;
    const bool found_a = path->Find(doc, &a, &ka);
    const bool found_b = reparsed->Find(doc, &b, &kb);
    FUZZ_CHECK(found_a == found_b && a == b && (!found_a || ka == kb));
    CheckFind(*path, doc);
  }
  for (const char* fixed :
       {"$", "$[*]", "$[-1]", "$.a", "$[0][*].id", "$[*][-2]['k\\'s']"}) {
    CheckFind(*JsonPath::Parse(fixed), doc);
  }
  return 0;
}
