// A JSONPath subset that picks one value out of a JSON document, an HTTP
// response body, for a plan's captures and checks. Find reads the text in one
// streaming pass and builds no tree: values off the path are skipped, not
// decoded. A parsed JsonPath is immutable and thread-safe; Find allocates
// nothing once `value` has room for the result.
//
// The subset:
//   $          the root; every path starts with it
//   .name      an object member; the name is ASCII letters, digits, '_', '-'
//   ['key']    an object member with any key, in single or double quotes;
//   ["key"]    \' \" and \\ are the only escapes. A member matches when its
//              decoded JSON key is byte for byte the key.
//   [N]        an array element, [0] the first
//   [-N]       an array element counted from the end, [-1] the last
//   [*]        every element of an array, or every member value of an object
// A path names its first match in document order: $.items[*].id is the id of
// the first item that has an id. Of duplicate keys, the first one counts.
// Nothing else of JSONPath is accepted: no recursive descent (..), filters
// ([?...]), slices ([a:b]), unions ([a,b]), .* or whitespace. Parse says what
// is wrong and where, as a 1-based column counted in bytes.
//
// Documents are untrusted bytes. Find gives false for a document that is
// malformed before the match is complete: RFC 8259 grammar (whitespace is
// space, tab, CR, LF; a UTF-8 byte order mark at the start is skipped), with
// arrays and objects nested at most kMaxDepth deep, a string value that is
// valid UTF-8 once decoded, and a truncated document meaning "not found".
// Find stops at the match: what follows it is not read. Values that are
// skipped get their structure checked, not their UTF-8.
//
// Limits: kMaxDepth (256) levels of nesting in a document and steps in a
// path (a deeper step could never match); indexes up to kMaxIndex. Time is
// linear in the document, times one more pass over an array for each [-N]
// that enters it (to count its elements); memory is constant.
#ifndef STAMPEDE_COMMON_JSON_PATH_H_
#define STAMPEDE_COMMON_JSON_PATH_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace stampede::common {

// What a match is, so that a check can tell the string "201" from the
// number 201.
enum class JsonKind { kString, kNumber, kBool, kNull, kObject, kArray };

// "string", "number", "bool", "null", "object", "array".
std::string_view JsonKindName(JsonKind kind);

class JsonPath {
 public:
  static constexpr int kMaxDepth = 256;
  static constexpr int64_t kMaxIndex = 999'999'999;

  // The error, an InvalidArgument, reads e.g.
  // "column 4: '..' (recursive descent) is not supported".
  static absl::StatusOr<JsonPath> Parse(std::string_view expr);

  // The first match in `json`, into *value: a string decoded (escapes, and
  // \uXXXX with surrogate pairs, to UTF-8; a lone surrogate becomes U+FFFD),
  // any other value its JSON text as written (a number, true, false, null, a
  // whole object or array). `kind`, when not null, gets what the match is.
  // false, with *value empty, when nothing matches or the document is
  // malformed before the match is complete. *value keeps its capacity.
  bool Find(std::string_view json, std::string* value,
            JsonKind* kind = nullptr) const;

  // The expression as parsed.
  const std::string& text() const { return text_; }

 private:
  struct Step {
    enum class Kind { kKey, kIndex, kWildcard };
    Kind kind = Kind::kKey;
    std::string key;    // kKey, unescaped
    int64_t index = 0;  // kIndex; negative counts from the end
  };
  class Scanner;  // Find's state, in json_path.cc

  JsonPath() = default;

  std::string text_;
  std::vector<Step> steps_;
  // Steps after the first [*] must find where a value that did not match
  // ends, so that the [*] can go on to the next one; earlier steps may stop.
  size_t first_wildcard_ = SIZE_MAX;
};

}  // namespace stampede::common

#endif  // STAMPEDE_COMMON_JSON_PATH_H_
