#include "common/template.h"

#include <charconv>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace stampede::common {
namespace {

constexpr char kAlphabet[] =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

bool IsNameChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' ||
         c == '.';
}

absl::Status ErrorAt(size_t offset, absl::string_view message,
                     size_t* error_offset) {
  if (error_offset != nullptr) *error_offset = offset;
  return absl::InvalidArgumentError(
      absl::StrCat("column ", offset + 1, ": ", message));
}

// "random_int(1, 100)" -> its arguments; false when `expr` is no call of
// `fn` with `count` integer arguments.
bool CallArgs(absl::string_view expr, absl::string_view fn, size_t count,
              int64_t* args, std::string* why) {
  if (expr.substr(0, fn.size()) != fn) return false;
  absl::string_view rest = absl::StripAsciiWhitespace(expr.substr(fn.size()));
  if (rest.empty() || rest.front() != '(' || rest.back() != ')') {
    *why = absl::StrCat(fn, " takes ", count == 1 ? "(N)" : "(A, B)");
    return false;
  }
  std::vector<absl::string_view> parts =
      absl::StrSplit(rest.substr(1, rest.size() - 2), ',');
  if (parts.size() != count) {
    *why = absl::StrCat(fn, " takes ", count, " integer argument",
                        count == 1 ? "" : "s");
    return false;
  }
  for (size_t i = 0; i < count; ++i) {
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(parts[i]), &args[i])) {
      *why = absl::StrCat(fn, ": '", absl::StripAsciiWhitespace(parts[i]),
                          "' is not an integer");
      return false;
    }
  }
  return true;
}

void AppendUint(uint64_t v, std::string* out) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, end);
}

void AppendInt(int64_t v, std::string* out) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, end);
}

}  // namespace

void AppendUrlEncoded(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' ||
        c == '~') {
      out->push_back(ch);
    } else {
      out->push_back('%');
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 15]);
    }
  }
}

void AppendJsonEscaped(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (c < 0x20) {
          out->append("\\u00");
          out->push_back(kHex[c >> 4]);
          out->push_back(kHex[c & 15]);
        } else {
          out->push_back(ch);
        }
    }
  }
}

absl::StatusOr<Template> Template::Literal(std::string_view text) {
  class NoNames final : public TemplateScope {
   public:
    bool Lookup(std::string_view, TemplateName*, std::string*) const override {
      return false;
    }
    bool InRepeat() const override { return false; }
  };
  return Compile(text, NoNames());
}

Template Template::Text(std::string_view text) {
  Template t;
  t.text_ = std::string(text);
  if (!text.empty()) {
    Segment s;
    s.size = static_cast<uint32_t>(text.size());
    t.segments_.push_back(s);
  }
  return t;
}

absl::StatusOr<Template> Template::Compile(std::string_view text_in,
                                           const TemplateScope& scope,
                                           size_t* error_offset) {
  const absl::string_view text(text_in.data(), text_in.size());
  Template t;
  auto add_literal = [&t](absl::string_view run) {
    if (run.empty()) return;
    if (!t.segments_.empty() && !t.segments_.back().slot &&
        t.segments_.back().offset + t.segments_.back().size == t.text_.size()) {
      t.segments_.back().size += static_cast<uint32_t>(run.size());
    } else {
      Segment s;
      s.offset = static_cast<uint32_t>(t.text_.size());
      s.size = static_cast<uint32_t>(run.size());
      t.segments_.push_back(s);
    }
    t.text_.append(run.data(), run.size());
  };
  if (text.size() > std::numeric_limits<uint32_t>::max() / 2) {
    return ErrorAt(0, "template too long", error_offset);
  }
  size_t i = 0;
  while (i < text.size()) {
    const size_t open = text.find("{{", i);
    if (open == absl::string_view::npos) {
      add_literal(text.substr(i));
      break;
    }
    if (open > 0 && text[open - 1] == '\\') {
      // "\{{": a literal "{{".
      add_literal(text.substr(i, open - 1 - i));
      add_literal("{{");
      i = open + 2;
      continue;
    }
    add_literal(text.substr(i, open - i));
    const size_t close = text.find("}}", open + 2);
    if (close == absl::string_view::npos) {
      return ErrorAt(open,
                     "'{{' without a closing '}}' (write \\{{ for a "
                     "literal {{)",
                     error_offset);
    }
    absl::string_view inner = text.substr(open + 2, close - open - 2);
    std::vector<absl::string_view> parts = absl::StrSplit(inner, '|');
    absl::string_view expr = absl::StripAsciiWhitespace(parts[0]);
    Segment s;
    s.slot = true;
    s.offset = static_cast<uint32_t>(t.text_.size());
    s.size = static_cast<uint32_t>(expr.size());
    for (size_t f = 1; f < parts.size(); ++f) {
      absl::string_view filter = absl::StripAsciiWhitespace(parts[f]);
      if (filter == "url" && s.filter == Filter::kNone) {
        s.filter = Filter::kUrl;
      } else if (filter == "json" && s.filter == Filter::kNone) {
        s.filter = Filter::kJson;
      } else {
        return ErrorAt(open,
                       absl::StrCat("unknown filter '", filter, "' in {{",
                                    inner, "}} (one of: url, json)"),
                       error_offset);
      }
    }
    std::string why;
    int64_t args[2] = {0, 0};
    if (expr.empty()) {
      return ErrorAt(open, "empty {{}}", error_offset);
    } else if (expr == "vu") {
      s.name.source = TemplateSource::kVu;
    } else if (expr == "iteration") {
      s.name.source = TemplateSource::kIteration;
    } else if (expr == "index") {
      if (!scope.InRepeat()) {
        return ErrorAt(open, "{{index}} is only defined inside a repeat",
                       error_offset);
      }
      s.name.source = TemplateSource::kIndex;
    } else if (expr == "agent") {
      s.name.source = TemplateSource::kAgent;
    } else if (expr == "uuid") {
      s.name.source = TemplateSource::kUuid;
    } else if (expr == "now_ms") {
      s.name.source = TemplateSource::kNowMs;
    } else if (expr == "seq") {
      return ErrorAt(open,
                     "{{seq}} is a WebSocket message's number: only "
                     "websocket.message has it",
                     error_offset);
    } else if (expr.substr(0, 10) == "random_int") {
      if (!CallArgs(expr, "random_int", 2, args, &why))
        return ErrorAt(open, why, error_offset);
      if (args[0] > args[1]) {
        return ErrorAt(open, "random_int(A, B) needs A <= B", error_offset);
      }
      s.name.source = TemplateSource::kRandomInt;
      s.a = args[0];
      s.b = args[1];
    } else if (expr.substr(0, 13) == "random_string") {
      if (!CallArgs(expr, "random_string", 1, args, &why))
        return ErrorAt(open, why, error_offset);
      if (args[0] < 1 || args[0] > static_cast<int64_t>(kMaxRandomString)) {
        return ErrorAt(
            open,
            absl::StrCat("random_string(N) needs 1 <= N <= ", kMaxRandomString),
            error_offset);
      }
      s.name.source = TemplateSource::kRandomString;
      s.a = args[0];
    } else {
      for (char c : expr) {
        if (!IsNameChar(c)) {
          return ErrorAt(open,
                         absl::StrCat("'", expr,
                                      "' is not a name (letters, digits, _ "
                                      "and a dot)"),
                         error_offset);
        }
      }
      if (!scope.Lookup(std::string_view(expr.data(), expr.size()), &s.name,
                        &why)) {
        return ErrorAt(
            open,
            why.empty() ? absl::StrCat("{{", expr,
                                       "}} is not defined: no earlier step "
                                       "captures it, and it is no data column, "
                                       "setup capture or built-in")
                        : why,
            error_offset);
      }
    }
    t.text_.append(expr.data(), expr.size());
    t.segments_.push_back(s);
    ++t.slots_;
    i = close + 2;
  }
  return t;
}

std::string Template::literal() const {
  std::string out;
  for (const Segment& s : segments_) {
    if (!s.slot) out.append(text_, s.offset, s.size);
  }
  return out;
}

std::vector<std::string> Template::Names() const {
  std::vector<std::string> out;
  for (const Segment& s : segments_) {
    if (s.slot) out.push_back(text_.substr(s.offset, s.size));
  }
  return out;
}

void Template::Render(const TemplateContext& context, std::string* out) const {
  RenderChecked(context, out, nullptr);
}

bool Template::RenderChecked(const TemplateContext& context, std::string* out,
                             bool (*rejected)(unsigned char)) const {
  bool found = false;
  for (const Segment& s : segments_) {
    if (!s.slot) {
      out->append(text_, s.offset, s.size);
      continue;
    }
    const size_t from = out->size();
    if (s.filter == Filter::kNone) {
      AppendValue(s, context, out);
    } else {
      // Filters need the value first; a thread-local scratch keeps its
      // capacity from render to render.
      thread_local std::string scratch;
      scratch.clear();
      AppendValue(s, context, &scratch);
      if (s.filter == Filter::kUrl) {
        AppendUrlEncoded(scratch, out);
      } else {
        AppendJsonEscaped(scratch, out);
      }
    }
    if (rejected != nullptr && !found) {
      for (size_t i = from; i < out->size(); ++i) {
        if (rejected(static_cast<unsigned char>((*out)[i]))) {
          found = true;
          break;
        }
      }
    }
  }
  return found;
}

void Template::AppendValue(const Segment& s, const TemplateContext& c,
                           std::string* out) const {
  switch (s.name.source) {
    case TemplateSource::kVariable:
      if (c.variables != nullptr && s.name.id < c.variables->size())
        out->append((*c.variables)[s.name.id]);
      return;
    case TemplateSource::kSetup:
      if (c.setup != nullptr && s.name.id < c.setup->size())
        out->append((*c.setup)[s.name.id]);
      return;
    case TemplateSource::kData:
      if (c.data != nullptr && s.name.id < c.data->size()) {
        const std::vector<std::string>* row = (*c.data)[s.name.id];
        if (row != nullptr && s.name.column < row->size())
          out->append((*row)[s.name.column]);
      }
      return;
    case TemplateSource::kVu:
      AppendUint(c.vu, out);
      return;
    case TemplateSource::kIteration:
      AppendUint(c.iteration, out);
      return;
    case TemplateSource::kIndex:
      AppendUint(c.index, out);
      return;
    case TemplateSource::kAgent:
      AppendUint(c.agent, out);
      return;
    case TemplateSource::kNowMs:
      AppendInt(c.now_ms, out);
      return;
    case TemplateSource::kUuid: {
      static constexpr char kHex[] = "0123456789abcdef";
      uint64_t hi = c.rng != nullptr ? (*c.rng)() : 0;
      uint64_t lo = c.rng != nullptr ? (*c.rng)() : 0;
      hi = (hi & ~uint64_t{0xF000}) | 0x4000;                  // version 4
      lo = (lo & ~(uint64_t{3} << 62)) | (uint64_t{2} << 62);  // variant 10
      for (int n = 0; n < 32; ++n) {
        if (n == 8 || n == 12 || n == 16 || n == 20) out->push_back('-');
        const uint64_t word = n < 16 ? hi : lo;
        out->push_back(kHex[(word >> (60 - 4 * (n % 16))) & 15]);
      }
      return;
    }
    case TemplateSource::kRandomInt: {
      int64_t v = s.a;
      if (c.rng != nullptr)
        v = std::uniform_int_distribution<int64_t>(s.a, s.b)(*c.rng);
      AppendInt(v, out);
      return;
    }
    case TemplateSource::kRandomString:
      for (int64_t n = 0; n < s.a; ++n) {
        const uint64_t r = c.rng != nullptr ? (*c.rng)() : 0;
        out->push_back(kAlphabet[r % (sizeof(kAlphabet) - 1)]);
      }
      return;
  }
}

}  // namespace stampede::common
