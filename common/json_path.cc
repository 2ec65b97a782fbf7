#include "common/json_path.h"

#include <bitset>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace stampede::common {
namespace {

constexpr size_t kNpos = std::string_view::npos;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || IsDigit(c) ||
         c == '_' || c == '-';
}

bool IsJsonSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Appends `cp` (at most U+10FFFF, not a surrogate) as UTF-8; returns the
// length, at most 4.
int EncodeUtf8(uint32_t cp, char* out) {
  if (cp < 0x80) {
    out[0] = static_cast<char>(cp);
    return 1;
  }
  if (cp < 0x800) {
    out[0] = static_cast<char>(0xC0 | (cp >> 6));
    out[1] = static_cast<char>(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = static_cast<char>(0xE0 | (cp >> 12));
    out[1] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out[2] = static_cast<char>(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = static_cast<char>(0xF0 | (cp >> 18));
  out[1] = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
  out[2] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
  out[3] = static_cast<char>(0x80 | (cp & 0x3F));
  return 4;
}

// RFC 3629 UTF-8: no overlong forms, no surrogates, nothing past U+10FFFF.
bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    int len;
    unsigned char lo = 0x80, hi = 0xBF;  // bounds of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (s.size() - i < static_cast<size_t>(len)) return false;
    const unsigned char c1 = static_cast<unsigned char>(s[i + 1]);
    if (c1 < lo || c1 > hi) return false;
    for (int k = 2; k < len; ++k) {
      const unsigned char ck = static_cast<unsigned char>(s[i + k]);
      if (ck < 0x80 || ck > 0xBF) return false;
    }
    i += len;
  }
  return true;
}

// How a byte of the expression reads in an error.
std::string Shown(char c) {
  if (c >= 0x21 && c <= 0x7E) return std::string("'") + c + "'";
  if (c == ' ') return "a space";
  static constexpr char kHex[] = "0123456789abcdef";
  const unsigned char u = static_cast<unsigned char>(c);
  return std::string("byte 0x") + kHex[u >> 4] + kHex[u & 0xF];
}

absl::Status ErrorAt(size_t index, std::string_view what) {
  return absl::InvalidArgumentError("column " + std::to_string(index + 1) +
                                    ": " + std::string(what));
}

}  // namespace

std::string_view JsonKindName(JsonKind kind) {
  switch (kind) {
    case JsonKind::kString:
      return "string";
    case JsonKind::kNumber:
      return "number";
    case JsonKind::kBool:
      return "bool";
    case JsonKind::kNull:
      return "null";
    case JsonKind::kObject:
      return "object";
    case JsonKind::kArray:
      return "array";
  }
  return "?";
}

absl::StatusOr<JsonPath> JsonPath::Parse(std::string_view expr) {
  JsonPath path;
  path.text_ = std::string(expr);
  if (expr.empty()) return ErrorAt(0, "empty path; a path starts with '$'");
  if (expr[0] != '$') {
    return ErrorAt(0, "a path starts with '$', found " + Shown(expr[0]));
  }
  const size_t n = expr.size();
  size_t i = 1;
  while (i < n) {
    const size_t step_at = i;
    Step step;
    if (expr[i] == '.') {
      ++i;
      if (i < n && expr[i] == '.') {
        return ErrorAt(step_at, "'..' (recursive descent) is not supported");
      }
      if (i < n && expr[i] == '*') {
        return ErrorAt(step_at, "'.*' is not supported; write '[*]'");
      }
      const size_t name_at = i;
      while (i < n && IsNameChar(expr[i])) ++i;
      if (i == name_at) {
        return ErrorAt(step_at,
                       std::string("expected a name (letters, digits, '_', "
                                   "'-') after '.'") +
                           (i < n ? ", found " + Shown(expr[i]) : "") +
                           "; quote other keys as ['...']");
      }
      step.kind = Step::Kind::kKey;
      step.key = std::string(expr.substr(name_at, i - name_at));
    } else if (expr[i] == '[') {
      ++i;
      if (i >= n) return ErrorAt(i, "expected a quoted key, an index or '*'");
      const char c = expr[i];
      if (c == '\'' || c == '"') {
        const size_t open_at = i;
        ++i;
        bool closed = false;
        while (i < n) {
          if (expr[i] == c) {
            closed = true;
            ++i;
            break;
          }
          if (expr[i] == '\\') {
            if (i + 1 >= n) break;
            const char e = expr[i + 1];
            if (e != '\'' && e != '"' && e != '\\') {
              return ErrorAt(i, "unknown escape '\\" + std::string(1, e) +
                                    "' in a quoted key (only \\', \\\" and "
                                    "\\\\)");
            }
            step.key.push_back(e);
            i += 2;
            continue;
          }
          step.key.push_back(expr[i]);
          ++i;
        }
        if (!closed) {
          return ErrorAt(open_at, "unterminated quoted key");
        }
        step.kind = Step::Kind::kKey;
      } else if (c == '*') {
        ++i;
        step.kind = Step::Kind::kWildcard;
      } else if (c == '-' || IsDigit(c)) {
        const bool negative = c == '-';
        if (negative) ++i;
        const size_t digits_at = i;
        int64_t value = 0;
        while (i < n && IsDigit(expr[i])) {
          value = value * 10 + (expr[i] - '0');
          if (value > kMaxIndex) {
            return ErrorAt(digits_at,
                           "index larger than " + std::to_string(kMaxIndex));
          }
          ++i;
        }
        if (i == digits_at) {
          return ErrorAt(i, "expected a digit after '-'");
        }
        if (expr[digits_at] == '0' && i - digits_at > 1) {
          return ErrorAt(digits_at, "an index has no leading zeros");
        }
        if (negative && value == 0) {
          return ErrorAt(step_at + 1,
                         "'-0' is not an index; the last element is [-1]");
        }
        step.kind = Step::Kind::kIndex;
        step.index = negative ? -value : value;
        if (i < n && expr[i] == ':') {
          return ErrorAt(i, "slices ('[start:end]') are not supported");
        }
      } else if (c == ':') {
        return ErrorAt(i, "slices ('[start:end]') are not supported");
      } else if (c == '?') {
        return ErrorAt(i, "filters ('[?...]') are not supported");
      } else if (c == '(') {
        return ErrorAt(i, "script expressions ('[(...)]') are not supported");
      } else {
        return ErrorAt(
            i, "expected a quoted key, an index or '*', found " + Shown(c));
      }
      if (i >= n) return ErrorAt(i, "expected ']'");
      if (expr[i] == ',') {
        return ErrorAt(i, "unions ('[a,b]') are not supported");
      }
      if (expr[i] != ']') {
        return ErrorAt(i, "expected ']', found " + Shown(expr[i]));
      }
      ++i;
    } else {
      return ErrorAt(i, "expected '.' or '[', found " + Shown(expr[i]));
    }
    if (path.steps_.size() == static_cast<size_t>(kMaxDepth)) {
      return ErrorAt(step_at, "more than " + std::to_string(kMaxDepth) +
                                  " steps (documents nest at most that deep)");
    }
    if (step.kind == Step::Kind::kWildcard &&
        path.first_wildcard_ == SIZE_MAX) {
      path.first_wildcard_ = path.steps_.size();
    }
    path.steps_.push_back(std::move(step));
  }
  return path;
}

// One Find: the document and the path. Values are read by position; every
// read checks the position against the end first. Skipping is iterative with
// a fixed stack; Match recurses once per path step, so at most kMaxDepth deep
// whatever the document.
class JsonPath::Scanner {
 public:
  Scanner(const JsonPath& path, std::string_view json)
      : path_(path), s_(json), n_(json.size()) {}

  bool Find(std::string* value, JsonKind* kind) {
    size_t pos = 0;
    if (s_.substr(0, 3) == "\xEF\xBB\xBF") pos = 3;
    pos = SkipSpace(pos);
    size_t end;
    return Match(pos, 0, 0, &end, value, kind) == Result::kFound;
  }

 private:
  enum class Result { kFound, kNotFound, kMalformed };
  using Step = JsonPath::Step;

  size_t SkipSpace(size_t pos) const {
    while (pos < n_ && IsJsonSpace(s_[pos])) ++pos;
    return pos;
  }

  // The string at `pos` (its opening quote): the position after its closing
  // quote, or kNpos if it is malformed or cut short. Checks escapes and
  // control characters, not UTF-8.
  size_t SkipString(size_t pos) const {
    ++pos;
    while (pos < n_) {
      const unsigned char c = static_cast<unsigned char>(s_[pos]);
      if (c == '"') return pos + 1;
      if (c < 0x20) return kNpos;
      if (c == '\\') {
        if (pos + 1 >= n_) return kNpos;
        switch (s_[pos + 1]) {
          case '"':
          case '\\':
          case '/':
          case 'b':
          case 'f':
          case 'n':
          case 'r':
          case 't':
            pos += 2;
            continue;
          case 'u':
            if (Hex4(pos + 2) < 0) return kNpos;
            pos += 6;
            continue;
          default:
            return kNpos;
        }
      }
      ++pos;
    }
    return kNpos;
  }

  // The four hex digits at `pos` as a number, or -1.
  int32_t Hex4(size_t pos) const {
    if (pos > n_ || n_ - pos < 4) return -1;
    int32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      const int h = HexValue(s_[pos + k]);
      if (h < 0) return -1;
      v = v * 16 + h;
    }
    return v;
  }

  // The escape at `pos` (its backslash), decoded as UTF-8 into `out` with its
  // length in *len: the position after it (after both halves of a surrogate
  // pair), or kNpos if malformed.
  size_t DecodeEscape(size_t pos, char* out, int* len) const {
    if (pos + 1 >= n_) return kNpos;
    char simple = 0;
    switch (s_[pos + 1]) {
      case '"':
        simple = '"';
        break;
      case '\\':
        simple = '\\';
        break;
      case '/':
        simple = '/';
        break;
      case 'b':
        simple = '\b';
        break;
      case 'f':
        simple = '\f';
        break;
      case 'n':
        simple = '\n';
        break;
      case 'r':
        simple = '\r';
        break;
      case 't':
        simple = '\t';
        break;
      case 'u':
        break;
      default:
        return kNpos;
    }
    if (simple != 0) {
      out[0] = simple;
      *len = 1;
      return pos + 2;
    }
    const int32_t unit = Hex4(pos + 2);
    if (unit < 0) return kNpos;
    pos += 6;
    uint32_t cp = static_cast<uint32_t>(unit);
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      // A high surrogate pairs with a low one right after it; alone, it is
      // not a character.
      int32_t low = -1;
      if (pos + 1 < n_ && s_[pos] == '\\' && s_[pos + 1] == 'u') {
        low = Hex4(pos + 2);
      }
      if (low >= 0xDC00 && low <= 0xDFFF) {
        cp = 0x10000 + ((cp - 0xD800) << 10) +
             (static_cast<uint32_t>(low) - 0xDC00);
        pos += 6;
      } else {
        cp = 0xFFFD;
      }
    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
      cp = 0xFFFD;
    }
    *len = EncodeUtf8(cp, out);
    return pos;
  }

  // The number at `pos`, RFC 8259 grammar: the position after it, or kNpos.
  size_t SkipNumber(size_t pos) const {
    if (pos < n_ && s_[pos] == '-') ++pos;
    if (pos >= n_) return kNpos;
    if (s_[pos] == '0') {
      ++pos;
    } else if (IsDigit(s_[pos])) {
      while (pos < n_ && IsDigit(s_[pos])) ++pos;
    } else {
      return kNpos;
    }
    if (pos < n_ && s_[pos] == '.') {
      const size_t digits = ++pos;
      while (pos < n_ && IsDigit(s_[pos])) ++pos;
      if (pos == digits) return kNpos;
    }
    if (pos < n_ && (s_[pos] == 'e' || s_[pos] == 'E')) {
      ++pos;
      if (pos < n_ && (s_[pos] == '+' || s_[pos] == '-')) ++pos;
      const size_t digits = pos;
      while (pos < n_ && IsDigit(s_[pos])) ++pos;
      if (pos == digits) return kNpos;
    }
    return pos;
  }

  size_t SkipWord(size_t pos, std::string_view word) const {
    if (s_.substr(pos, word.size()) != word) return kNpos;
    return pos + word.size();
  }

  // A value that is not an object or array: the position after it, or kNpos.
  size_t SkipScalar(size_t pos) const {
    switch (s_[pos]) {
      case '"':
        return SkipString(pos);
      case 't':
        return SkipWord(pos, "true");
      case 'f':
        return SkipWord(pos, "false");
      case 'n':
        return SkipWord(pos, "null");
      default:
        return SkipNumber(pos);
    }
  }

  // After an object's '{' or ',' (and space): its next key, the ':' and the
  // space after it, up to where the member's value starts; kNpos if
  // malformed.
  size_t SkipKey(size_t pos) const {
    if (pos >= n_ || s_[pos] != '"') return kNpos;
    pos = SkipString(pos);
    if (pos == kNpos) return kNpos;
    pos = SkipSpace(pos);
    if (pos >= n_ || s_[pos] != ':') return kNpos;
    return SkipSpace(pos + 1);
  }

  // The value at `pos`, inside `depth` arrays and objects: the position after
  // it, or kNpos if it is malformed, cut short or nests past kMaxDepth.
  size_t SkipValue(size_t pos, int depth) const {
    std::bitset<kMaxDepth> is_object;  // of each container opened here
    int open = 0;
    while (true) {
      // A value starts at `pos`.
      if (pos >= n_) return kNpos;
      const char c = s_[pos];
      if (c == '{' || c == '[') {
        if (depth + open >= kMaxDepth) return kNpos;
        is_object[open++] = c == '{';
        pos = SkipSpace(pos + 1);
        if (pos < n_ && s_[pos] == (c == '{' ? '}' : ']')) {
          ++pos;
          --open;
        } else {
          if (c == '{') pos = SkipKey(pos);
          if (pos == kNpos) return kNpos;
          continue;
        }
      } else {
        pos = SkipScalar(pos);
        if (pos == kNpos) return kNpos;
      }
      // A value ended at `pos`: close containers until one goes on.
      while (true) {
        if (open == 0) return pos;
        pos = SkipSpace(pos);
        if (pos >= n_) return kNpos;
        const bool object = is_object[open - 1];
        if (s_[pos] == ',') {
          pos = SkipSpace(pos + 1);
          if (object) pos = SkipKey(pos);
          if (pos == kNpos) return kNpos;
          break;
        }
        if (s_[pos] != (object ? '}' : ']')) return kNpos;
        ++pos;
        --open;
      }
    }
  }

  // The key at `pos` (its opening quote), compared as decoded with `key`
  // without copying it: the position after its closing quote, or kNpos.
  size_t CompareKey(size_t pos, std::string_view key, bool* equal) const {
    size_t k = 0;
    bool same = true;
    ++pos;
    while (pos < n_) {
      const unsigned char c = static_cast<unsigned char>(s_[pos]);
      if (c == '"') {
        *equal = same && k == key.size();
        return pos + 1;
      }
      if (c < 0x20) return kNpos;
      if (c == '\\') {
        char buf[4];
        int len = 0;
        pos = DecodeEscape(pos, buf, &len);
        if (pos == kNpos) return kNpos;
        if (same) {
          same = key.size() - k >= static_cast<size_t>(len) &&
                 std::memcmp(key.data() + k, buf, len) == 0;
          k += len;
        }
        continue;
      }
      if (same) {
        same = k < key.size() && key[k] == static_cast<char>(c);
        ++k;
      }
      ++pos;
    }
    return kNpos;
  }

  // The string at `pos` decoded into *value; false if malformed or not
  // valid UTF-8.
  bool DecodeString(size_t pos, std::string* value) const {
    value->clear();
    ++pos;
    size_t run = pos;  // start of bytes to copy as they are
    while (pos < n_) {
      const unsigned char c = static_cast<unsigned char>(s_[pos]);
      if (c == '"') {
        value->append(s_.data() + run, pos - run);
        return IsValidUtf8(*value);
      }
      if (c < 0x20) return false;
      if (c == '\\') {
        value->append(s_.data() + run, pos - run);
        char buf[4];
        int len = 0;
        pos = DecodeEscape(pos, buf, &len);
        if (pos == kNpos) return false;
        value->append(buf, len);
        run = pos;
        continue;
      }
      ++pos;
    }
    return false;
  }

  // The match at `pos`, inside `depth` containers, into *value.
  bool Extract(size_t pos, int depth, std::string* value,
               JsonKind* kind) const {
    size_t end = kNpos;
    JsonKind k = JsonKind::kNumber;
    switch (s_[pos]) {
      case '"':
        if (kind != nullptr) *kind = JsonKind::kString;
        return DecodeString(pos, value);
      case '{':
      case '[':
        k = s_[pos] == '{' ? JsonKind::kObject : JsonKind::kArray;
        end = SkipValue(pos, depth);
        break;
      case 't':
      case 'f':
      case 'n':
        k = s_[pos] == 'n' ? JsonKind::kNull : JsonKind::kBool;
        end = SkipScalar(pos);
        break;
      default:
        k = JsonKind::kNumber;
        end = SkipNumber(pos);
        // Inside a container, a number cut off by the end of the document
        // may have been longer.
        if (depth > 0 && end == n_) return false;
        break;
    }
    if (end == kNpos) return false;
    value->assign(s_.data() + pos, end - pos);
    if (kind != nullptr) *kind = k;
    return true;
  }

  // Whether a step may stop at the first miss, or must say where the value
  // it looked in ends (because a [*] before it goes on to the next value).
  bool NeedEnd(size_t step) const { return step > path_.first_wildcard_; }

  // Steps `step`... of the path from the value at `pos` (space skipped),
  // which is inside `depth` containers. On kNotFound with NeedEnd(step),
  // *end is the position after the value.
  Result Match(size_t pos, size_t step, int depth, size_t* end,
               std::string* value, JsonKind* kind) const {
    if (pos >= n_) return Result::kMalformed;
    if (step == path_.steps_.size()) {
      return Extract(pos, depth, value, kind) ? Result::kFound
                                              : Result::kMalformed;
    }
    const Step& st = path_.steps_[step];
    const char c = s_[pos];
    const bool fits = c == '[' ? st.kind != Step::Kind::kKey
                               : c == '{' && st.kind != Step::Kind::kIndex;
    if (!fits) {
      if (!NeedEnd(step)) return Result::kNotFound;
      *end = SkipValue(pos, depth);
      return *end == kNpos ? Result::kMalformed : Result::kNotFound;
    }
    if (depth >= kMaxDepth) return Result::kMalformed;
    if (c == '{') return MatchObject(pos, step, depth, end, value, kind);
    if (st.kind == Step::Kind::kIndex && st.index < 0) {
      return MatchFromEnd(pos, step, depth, end, value, kind);
    }
    return MatchArray(pos, step, depth, end, value, kind);
  }

  Result MatchObject(size_t pos, size_t step, int depth, size_t* end,
                     std::string* value, JsonKind* kind) const {
    const Step& st = path_.steps_[step];
    const bool wildcard = st.kind == Step::Kind::kWildcard;
    pos = SkipSpace(pos + 1);
    if (pos < n_ && s_[pos] == '}') {
      *end = pos + 1;
      return Result::kNotFound;
    }
    bool seen = false;  // the key, so that a duplicate is not tried again
    while (true) {
      if (pos >= n_ || s_[pos] != '"') return Result::kMalformed;
      bool equal = false;
      pos = wildcard ? SkipString(pos) : CompareKey(pos, st.key, &equal);
      if (pos == kNpos) return Result::kMalformed;
      pos = SkipSpace(pos);
      if (pos >= n_ || s_[pos] != ':') return Result::kMalformed;
      pos = SkipSpace(pos + 1);
      if (wildcard || (equal && !seen)) {
        seen = true;
        const Result r = Match(pos, step + 1, depth + 1, &pos, value, kind);
        if (r != Result::kNotFound) return r;
        if (!NeedEnd(step) && !wildcard) return Result::kNotFound;
      } else {
        pos = SkipValue(pos, depth + 1);
        if (pos == kNpos) return Result::kMalformed;
      }
      pos = SkipSpace(pos);
      if (pos >= n_) return Result::kMalformed;
      if (s_[pos] == '}') {
        *end = pos + 1;
        return Result::kNotFound;
      }
      if (s_[pos] != ',') return Result::kMalformed;
      pos = SkipSpace(pos + 1);
    }
  }

  // [N] and [*] on the array at `pos`.
  Result MatchArray(size_t pos, size_t step, int depth, size_t* end,
                    std::string* value, JsonKind* kind) const {
    const Step& st = path_.steps_[step];
    const bool wildcard = st.kind == Step::Kind::kWildcard;
    pos = SkipSpace(pos + 1);
    if (pos < n_ && s_[pos] == ']') {
      *end = pos + 1;
      return Result::kNotFound;
    }
    for (int64_t i = 0;; ++i) {
      if (wildcard || i == st.index) {
        const Result r = Match(pos, step + 1, depth + 1, &pos, value, kind);
        if (r != Result::kNotFound) return r;
        if (!NeedEnd(step) && !wildcard) return Result::kNotFound;
      } else {
        pos = SkipValue(pos, depth + 1);
        if (pos == kNpos) return Result::kMalformed;
      }
      pos = SkipSpace(pos);
      if (pos >= n_) return Result::kMalformed;
      if (s_[pos] == ']') {
        *end = pos + 1;
        return Result::kNotFound;
      }
      if (s_[pos] != ',') return Result::kMalformed;
      pos = SkipSpace(pos + 1);
    }
  }

  // [-N] on the array at `pos`: one pass counts the elements, a second
  // goes to the one wanted.
  Result MatchFromEnd(size_t pos, size_t step, int depth, size_t* end,
                      std::string* value, JsonKind* kind) const {
    const size_t first = SkipSpace(pos + 1);
    int64_t count = 0;
    pos = first;
    if (pos < n_ && s_[pos] == ']') {
      *end = pos + 1;
      return Result::kNotFound;
    }
    while (true) {
      pos = SkipValue(pos, depth + 1);
      if (pos == kNpos) return Result::kMalformed;
      ++count;
      pos = SkipSpace(pos);
      if (pos >= n_) return Result::kMalformed;
      if (s_[pos] == ']') break;
      if (s_[pos] != ',') return Result::kMalformed;
      pos = SkipSpace(pos + 1);
    }
    *end = pos + 1;
    const int64_t target = count + path_.steps_[step].index;
    if (target < 0) return Result::kNotFound;
    // The array is well formed: this pass cannot fail before the target.
    pos = first;
    for (int64_t i = 0; i < target; ++i) {
      pos = SkipSpace(SkipValue(pos, depth + 1));
      pos = SkipSpace(pos + 1);  // the ','
    }
    size_t ignored;
    return Match(pos, step + 1, depth + 1, &ignored, value, kind);
  }

  const JsonPath& path_;
  const std::string_view s_;
  const size_t n_;
};

bool JsonPath::Find(std::string_view json, std::string* value,
                    JsonKind* kind) const {
  if (Scanner(*this, json).Find(value, kind)) return true;
  value->clear();
  return false;
}

}  // namespace stampede::common
