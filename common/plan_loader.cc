// The YAML half of the plan loader: walks a yaml-cpp node tree against the
// TestPlan descriptors, converting scalars by field type and collecting every
// problem with its file:line:col and field path. Semantic checks live in
// plan_validate.cc.
#include "common/plan_loader.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/test_types.h"
#include "common/text.h"
#include "common/units.h"
#include "common/yaml_documents.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/message.h"

namespace stampede::common {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::OneofDescriptor;
using google::protobuf::Reflection;

constexpr std::string_view kDurationType = "google.protobuf.Duration";
constexpr std::string_view kRateType = "stampede.v1.Rate";

std::string Quote(absl::string_view s) { return absl::StrCat("\"", s, "\""); }

// What a node is, for "expected X, got Y" messages.
std::string Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a sequence";
    case YAML::NodeType::Scalar:
      return absl::StrCat("the value ", Quote(node.Scalar()));
    case YAML::NodeType::Null:
      return "nothing";
    case YAML::NodeType::Undefined:
      break;
  }
  return "an undefined node";
}

// What a field wants, for the same messages.
std::string Expected(const FieldDescriptor* field) {
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      return "a string";
    case FieldDescriptor::CPPTYPE_BOOL:
      return "true or false";
    case FieldDescriptor::CPPTYPE_INT32:
    case FieldDescriptor::CPPTYPE_INT64:
      return "a whole number";
    case FieldDescriptor::CPPTYPE_UINT32:
    case FieldDescriptor::CPPTYPE_UINT64:
      return "a non-negative whole number";
    case FieldDescriptor::CPPTYPE_DOUBLE:
    case FieldDescriptor::CPPTYPE_FLOAT:
      return "a number";
    case FieldDescriptor::CPPTYPE_ENUM:
      return "one of the names of " + field->enum_type()->name();
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      const std::string& type = field->message_type()->full_name();
      if (type == kDurationType) return "a duration (e.g. 30s, 5m, 250ms)";
      if (type == kRateType) return "a rate (e.g. 500/s, 30/m)";
      return "a map";
    }
  }
  return "a value";
}

template <typename T>
bool ParseInteger(std::string_view text, T* out) {
  if (text.empty()) return false;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, *out, 10);
  return ec == std::errc() && ptr == end;
}

class Walker {
 public:
  Walker(std::string_view file, std::vector<PlanIssue>* issues,
         std::map<std::string, std::pair<int, int>>* locations)
      : file_(file), issues_(issues), locations_(locations) {}

  void Error(const YAML::Mark& mark, std::string_view path,
             std::string message) {
    PlanIssue issue;
    issue.file = file_;
    if (!mark.is_null()) {
      issue.line = mark.line + 1;
      issue.col = mark.column + 1;
    }
    issue.path = std::string(path);
    issue.message = std::move(message);
    if (unparsed_ != nullptr) unparsed_->push_back(issue.path);
    issues_->push_back(std::move(issue));
  }

  // String values that came from ${VAR}: as expanded -> as written.
  void RecordEnvValues(std::map<std::string, std::string>* env_values) {
    env_values_ = env_values;
  }
  // The paths of fields that did not parse, and of fields a mistyped key
  // probably meant.
  void RecordUnparsed(std::vector<std::string>* unparsed) {
    unparsed_ = unparsed;
  }

  void Locate(const std::string& path, const YAML::Mark& mark) {
    if (!mark.is_null()) (*locations_)[path] = {mark.line + 1, mark.column + 1};
  }

  // `node` is the value written for a message of type `msg`.
  void ParseMessageValue(const YAML::Node& node, Message* msg,
                         const std::string& path) {
    const std::string& type = msg->GetDescriptor()->full_name();
    if (type == kDurationType || type == kRateType) {
      ParseSpecial(node, msg, path);
      return;
    }
    if (!node.IsMap()) {
      Error(node.Mark(), path,
            absl::StrCat("expected a map, got ", Describe(node)));
      return;
    }
    const Descriptor* desc = msg->GetDescriptor();
    const Reflection* refl = msg->GetReflection();
    std::set<std::string> seen;
    for (const auto& kv : node) {
      const YAML::Node& key = kv.first;
      const YAML::Node& value = kv.second;
      if (!key.IsScalar()) {
        Error(key.Mark(), path,
              absl::StrCat("a key must be a plain name, got ", Describe(key)));
        continue;
      }
      const std::string& name = key.Scalar();
      const std::string child =
          path.empty() ? name : absl::StrCat(path, ".", name);
      if (!seen.insert(name).second) {
        Error(key.Mark(), child, absl::StrCat("duplicate key ", Quote(name)));
        continue;
      }
      const FieldDescriptor* field = desc->FindFieldByName(name);
      if (field == nullptr) {
        const FieldDescriptor* meant = nullptr;
        Error(key.Mark(), child, UnknownField(desc, name, &meant));
        // What was probably meant is not also reported as missing.
        if (meant != nullptr && unparsed_ != nullptr) {
          unparsed_->push_back(path.empty()
                                   ? meant->name()
                                   : absl::StrCat(path, ".", meant->name()));
        }
        continue;
      }
      if (value.IsNull()) {
        Locate(child, key.Mark());
        Error(key.Mark(), child, "missing value");
        continue;
      }
      if (const OneofDescriptor* oneof = field->real_containing_oneof();
          oneof != nullptr) {
        const FieldDescriptor* set = refl->GetOneofFieldDescriptor(*msg, oneof);
        if (set != nullptr && set != field) {
          Error(value.Mark(), child,
                absl::StrCat(Quote(set->name()), " is already set; ",
                             oneof->name(),
                             " takes only one of: ", OneofNames(oneof)));
          continue;
        }
      }
      ParseField(value, msg, field, child);
    }
  }

 private:
  std::string UnknownField(const Descriptor* desc, const std::string& name,
                           const FieldDescriptor** meant) {
    std::string message = absl::StrCat("unknown field ", Quote(name));
    // Up to 2 edits, and fewer edits than the key has letters: "x" is no typo
    // of "p".
    int best = std::min<int>(3, static_cast<int>(name.size()));
    const FieldDescriptor* suggestion = nullptr;
    for (int i = 0; i < desc->field_count(); ++i) {
      const int d = EditDistance(name, desc->field(i)->name());
      if (d < best) {
        best = d;
        suggestion = desc->field(i);
      }
    }
    if (suggestion != nullptr) {
      absl::StrAppend(&message, " (did you mean ", Quote(suggestion->name()),
                      "?)");
      *meant = suggestion;
    }
    return message;
  }

  static std::string OneofNames(const OneofDescriptor* oneof) {
    std::vector<std::string> names;
    for (int i = 0; i < oneof->field_count(); ++i)
      names.push_back(oneof->field(i)->name());
    return absl::StrJoin(names, ", ");
  }

  // Sets field `field` of `msg` from `value` (not null); handles maps and
  // repeated fields.
  void ParseField(const YAML::Node& value, Message* msg,
                  const FieldDescriptor* field, const std::string& path) {
    Locate(path, value.Mark());
    const Reflection* refl = msg->GetReflection();
    if (field->is_map()) {
      ParseMap(value, msg, field, path);
      return;
    }
    if (field->is_repeated()) {
      if (!value.IsSequence()) {
        Error(value.Mark(), path,
              absl::StrCat("expected a sequence (a list), got ",
                           Describe(value)));
        return;
      }
      for (size_t i = 0; i < value.size(); ++i) {
        const YAML::Node& item = value[i];
        const std::string child = absl::StrCat(path, "[", i, "]");
        Locate(child, item.Mark());
        if (item.IsNull()) {
          Error(item.Mark(), child, "missing value");
          continue;
        }
        if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
          ParseMessageValue(item, refl->AddMessage(msg, field), child);
        } else {
          ParseScalar(item, msg, field, child);
        }
      }
      return;
    }
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      ParseMessageValue(value, refl->MutableMessage(msg, field), path);
    } else {
      ParseScalar(value, msg, field, path);
    }
  }

  // A map field: a YAML map whose entries become map entries, keyed "path.KEY".
  void ParseMap(const YAML::Node& value, Message* msg,
                const FieldDescriptor* field, const std::string& path) {
    if (!value.IsMap()) {
      Error(value.Mark(), path,
            absl::StrCat("expected a map, got ", Describe(value)));
      return;
    }
    const FieldDescriptor* key_field = field->message_type()->map_key();
    const FieldDescriptor* value_field = field->message_type()->map_value();
    std::set<std::string> seen;
    for (const auto& kv : value) {
      if (!kv.first.IsScalar()) {
        Error(kv.first.Mark(), path,
              absl::StrCat("a key must be a plain value, got ",
                           Describe(kv.first)));
        continue;
      }
      const std::string& key = kv.first.Scalar();
      const std::string child = absl::StrCat(path, ".", key);
      if (!seen.insert(key).second) {
        Error(kv.first.Mark(), child,
              absl::StrCat("duplicate key ", Quote(key)));
        continue;
      }
      if (kv.second.IsNull()) {
        Locate(child, kv.first.Mark());
        Error(kv.first.Mark(), child, "missing value");
        continue;
      }
      Locate(child, kv.second.Mark());
      Message* entry = msg->GetReflection()->AddMessage(msg, field);
      // Keys are taken as written: no ${VAR} expansion in names.
      if (!SetScalar(kv.first, key, entry, key_field, child)) continue;
      if (value_field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
        ParseMessageValue(
            kv.second,
            entry->GetReflection()->MutableMessage(entry, value_field), child);
      } else {
        ParseScalar(kv.second, entry, value_field, child);
      }
    }
  }

  // Durations and rates are written as one scalar ("30s", "500/s").
  void ParseSpecial(const YAML::Node& node, Message* msg,
                    const std::string& path) {
    const bool duration = msg->GetDescriptor()->full_name() == kDurationType;
    if (!node.IsScalar()) {
      Error(node.Mark(), path,
            absl::StrCat("expected ",
                         duration ? "a duration (e.g. 30s, 5m, 250ms)"
                                  : "a rate (e.g. 500/s)",
                         ", got ", Describe(node)));
      return;
    }
    std::string text;
    if (!Expand(node, path, &text)) return;
    if (duration) {
      absl::StatusOr<absl::Duration> d = ParseDuration(text);
      if (!d.ok()) {
        Error(node.Mark(), path, std::string(d.status().message()));
        return;
      }
      absl::Duration rem;
      const int64_t seconds = absl::IDivDuration(*d, absl::Seconds(1), &rem);
      auto* out = static_cast<google::protobuf::Duration*>(msg);
      out->set_seconds(seconds);
      out->set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(rem)));
    } else {
      absl::StatusOr<double> rate = ParseRate(text);
      if (!rate.ok()) {
        Error(node.Mark(), path, std::string(rate.status().message()));
        return;
      }
      const FieldDescriptor* per_second =
          msg->GetDescriptor()->FindFieldByName("per_second");
      msg->GetReflection()->SetDouble(msg, per_second, *rate);
    }
  }

  bool Expand(const YAML::Node& node, const std::string& path,
              std::string* out) {
    std::string error;
    if (!ExpandEnv(node.Scalar(), out, &error)) {
      Error(node.Mark(), path, std::move(error));
      return false;
    }
    return true;
  }

  // A non-message field (or element) from a scalar node, after ${VAR}
  // expansion.
  void ParseScalar(const YAML::Node& node, Message* msg,
                   const FieldDescriptor* field, const std::string& path) {
    if (!node.IsScalar()) {
      Error(
          node.Mark(), path,
          absl::StrCat("expected ", Expected(field), ", got ", Describe(node)));
      return;
    }
    std::string text;
    if (!Expand(node, path, &text)) return;
    if (env_values_ != nullptr &&
        field->type() == FieldDescriptor::TYPE_STRING &&
        text != node.Scalar() && node.Scalar().find("${") != std::string::npos)
      (*env_values_)[text] = node.Scalar();
    SetScalar(node, text, msg, field, path);
  }

  // Converts `text` by the field's type and sets (or, if repeated, adds) it.
  bool SetScalar(const YAML::Node& node, const std::string& text, Message* msg,
                 const FieldDescriptor* field, const std::string& path) {
    const Reflection* refl = msg->GetReflection();
    const bool rep = field->is_repeated();
    auto fail = [&](std::string why) {
      Error(node.Mark(), path, std::move(why));
      return false;
    };
    const bool is_unsigned =
        field->cpp_type() == FieldDescriptor::CPPTYPE_UINT32 ||
        field->cpp_type() == FieldDescriptor::CPPTYPE_UINT64;
    auto bad_number = [&]() {
      return fail(
          absl::StrCat("expected ", Expected(field), ", got ", Quote(text)));
    };
    auto out_of_range = [&]() {
      return fail(absl::StrCat("number ", text, " is out of range for ",
                               field->cpp_type_name()));
    };
    // Tells "not a whole number", "negative" and "too large" apart for the
    // message.
    auto integer_error = [&]() {
      const std::string_view digits = !text.empty() && text[0] == '-'
                                          ? std::string_view(text).substr(1)
                                          : text;
      const bool whole = !digits.empty() &&
                         std::all_of(digits.begin(), digits.end(), [](char c) {
                           return c >= '0' && c <= '9';
                         });
      if (!whole) return bad_number();
      if (is_unsigned && text[0] == '-') {
        return fail(absl::StrCat("must not be negative, got ", text));
      }
      return out_of_range();
    };
    switch (field->cpp_type()) {
      case FieldDescriptor::CPPTYPE_STRING:
        rep ? refl->AddString(msg, field, text)
            : refl->SetString(msg, field, text);
        return true;
      case FieldDescriptor::CPPTYPE_BOOL: {
        if (text != "true" && text != "false") {
          return fail(
              absl::StrCat("expected true or false, got ", Quote(text)));
        }
        const bool b = text == "true";
        rep ? refl->AddBool(msg, field, b) : refl->SetBool(msg, field, b);
        return true;
      }
      case FieldDescriptor::CPPTYPE_INT32: {
        int32_t v;
        if (!ParseInteger(text, &v)) return integer_error();
        rep ? refl->AddInt32(msg, field, v) : refl->SetInt32(msg, field, v);
        return true;
      }
      case FieldDescriptor::CPPTYPE_INT64: {
        int64_t v;
        if (!ParseInteger(text, &v)) return integer_error();
        rep ? refl->AddInt64(msg, field, v) : refl->SetInt64(msg, field, v);
        return true;
      }
      case FieldDescriptor::CPPTYPE_UINT32: {
        uint32_t v;
        if (!ParseInteger(text, &v)) return integer_error();
        rep ? refl->AddUInt32(msg, field, v) : refl->SetUInt32(msg, field, v);
        return true;
      }
      case FieldDescriptor::CPPTYPE_UINT64: {
        uint64_t v;
        if (!ParseInteger(text, &v)) return integer_error();
        rep ? refl->AddUInt64(msg, field, v) : refl->SetUInt64(msg, field, v);
        return true;
      }
      case FieldDescriptor::CPPTYPE_DOUBLE:
      case FieldDescriptor::CPPTYPE_FLOAT: {
        double v;
        if (text.empty() || text[0] == '+') return bad_number();
        const char* end = text.data() + text.size();
        auto [ptr, ec] = std::from_chars(text.data(), end, v);
        if (ptr != end ||
            (ec != std::errc() && ec != std::errc::result_out_of_range)) {
          return bad_number();
        }
        const bool is_float =
            field->cpp_type() == FieldDescriptor::CPPTYPE_FLOAT;
        if (ec == std::errc::result_out_of_range || !std::isfinite(v) ||
            (is_float && std::fabs(v) > std::numeric_limits<float>::max())) {
          return out_of_range();
        }
        if (is_float) {
          const float f = static_cast<float>(v);
          rep ? refl->AddFloat(msg, field, f) : refl->SetFloat(msg, field, f);
        } else {
          rep ? refl->AddDouble(msg, field, v) : refl->SetDouble(msg, field, v);
        }
        return true;
      }
      case FieldDescriptor::CPPTYPE_ENUM: {
        const auto* ev = field->enum_type()->FindValueByName(text);
        if (ev == nullptr) return bad_number();
        rep ? refl->AddEnum(msg, field, ev) : refl->SetEnum(msg, field, ev);
        return true;
      }
      case FieldDescriptor::CPPTYPE_MESSAGE:
        break;
    }
    return fail(absl::StrCat("expected ", Expected(field)));
  }

  std::string file_;
  std::vector<PlanIssue>* issues_;
  std::map<std::string, std::pair<int, int>>* locations_;
  std::map<std::string, std::string>* env_values_ = nullptr;
  std::vector<std::string>* unparsed_ = nullptr;
};

absl::Status IssuesToStatus(const std::vector<PlanIssue>& issues) {
  std::vector<std::string> lines;
  lines.reserve(issues.size());
  for (const PlanIssue& issue : issues) lines.push_back(issue.ToString());
  return absl::InvalidArgumentError(absl::StrJoin(lines, "\n"));
}

// The parent of a field path: "a.b[2]" -> "a.b" -> "a" -> "".
std::string_view ParentPath(std::string_view path) {
  if (!path.empty() && path.back() == ']') {
    const size_t open = path.rfind('[');
    if (open != std::string_view::npos) return path.substr(0, open);
  }
  const size_t dot = path.rfind('.');
  return dot == std::string_view::npos ? std::string_view()
                                       : path.substr(0, dot);
}

}  // namespace

std::string PlanIssue::ToString() const {
  std::string out = file;
  if (line > 0) absl::StrAppend(&out, ":", line, ":", col);
  absl::StrAppend(&out, ": ");
  if (!path.empty()) absl::StrAppend(&out, path, ": ");
  absl::StrAppend(&out, message);
  return out;
}

PlanIssue LoadedPlan::IssueAt(std::string_view path,
                              std::string message) const {
  PlanIssue issue;
  issue.file = file;
  issue.path = std::string(path);
  issue.message = std::move(message);
  std::string_view at = path;
  while (true) {
    auto it = locations.find(std::string(at));
    if (it != locations.end()) {
      issue.line = it->second.first;
      issue.col = it->second.second;
      break;
    }
    if (at.empty()) break;
    at = ParentPath(at);
  }
  return issue;
}

namespace {

// UTF-8 bytes of code point `c` (what a YAML \u or \U escape decodes to).
size_t Utf8Length(uint32_t c) {
  return c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
}

// One unit of a scalar as written at raw[at...]: how many bytes it spans
// there and how many the value has for it once YAML has decoded it (quote
// '"' or '\'', or 0 for plain and literal block text) and ${VAR} (or
// ${VAR:-default}) is expanded. 0 raw bytes: the closing quote, where the value
// ends.
std::pair<size_t, size_t> NextUnit(std::string_view raw, size_t at,
                                   char quote) {
  const char c = raw[at];
  if (c == quote) {
    if (quote == '\'' && at + 1 < raw.size() && raw[at + 1] == '\'')
      return {2, 1};  // '' is one '
    return {0, 0};
  }
  if (quote == '"' && c == '\\' && at + 1 < raw.size()) {
    auto hex = [&](size_t n) -> std::pair<size_t, size_t> {
      uint32_t v = 0;
      const std::string_view digits = raw.substr(at + 2, n);
      std::from_chars(digits.data(), digits.data() + digits.size(), v, 16);
      return {2 + n, n == 2 ? 1 : Utf8Length(v)};
    };
    switch (raw[at + 1]) {
      case 'x':
        return hex(2);
      case 'u':
        return hex(4);
      case 'U':
        return hex(8);
      case 'N':  // U+0085
      case '_':  // U+00A0
        return {2, 2};
      case 'L':  // U+2028
      case 'P':  // U+2029
        return {2, 3};
      default:
        return {2, 1};
    }
  }
  if (raw.compare(at, 3, "$${") == 0) return {3, 2};
  if (raw.compare(at, 2, "${") == 0) {
    const size_t close = raw.find('}', at + 2);
    if (close != std::string_view::npos) {
      const std::string_view body = raw.substr(at + 2, close - at - 2);
      const size_t dash = body.find(":-");
      const char* value =
          std::getenv(std::string(body.substr(0, dash)).c_str());
      const size_t length = value == nullptr ? 0 : std::strlen(value);
      if (dash != std::string_view::npos && length == 0)
        return {close + 1 - at, body.size() - dash - 2};  // the default
      return {close + 1 - at, length};
    }
  }
  return {1, 1};
}

// Walks `raw`, one line of a scalar as written, until *rest more bytes of
// the value are behind: true, with *at where the next byte is written; or
// false, with *rest less what the whole line holds.
bool FindInLine(std::string_view raw, char quote, size_t* rest, size_t* at) {
  size_t i = 0;
  while (i < raw.size()) {
    const auto [raw_bytes, value_bytes] = NextUnit(raw, i, quote);
    if (raw_bytes == 0) break;
    if (*rest == 0 || value_bytes > *rest) {
      *at = i;
      return true;
    }
    *rest -= value_bytes;
    i += raw_bytes;
  }
  return false;
}

}  // namespace

PlanIssue LoadedPlan::IssueInValue(std::string_view path, size_t offset,
                                   std::string message) const {
  PlanIssue issue = IssueAt(path, std::move(message));
  if (issue.line <= 0 || issue.col <= 0 ||
      !locations.contains(std::string(path)))
    return issue;
  // The start of the value's line in the text.
  size_t at = 0;
  for (int line = 1; line < issue.line && at != std::string::npos; ++line) {
    at = text.find('\n', at);
    if (at != std::string::npos) ++at;
  }
  if (at == std::string::npos) return issue;
  const size_t start = at + static_cast<size_t>(issue.col) - 1;
  if (start >= text.size()) return issue;
  const std::string_view all = text;
  auto line_at = [&](size_t from) {
    const size_t end = all.find('\n', from);
    return all.substr(from, end == std::string_view::npos ? end : end - from);
  };
  const char first = text[start];
  size_t rest = offset;
  size_t found = 0;
  if (first == '|') {
    // A literal block: its lines follow, indented as its first non-empty
    // line is (more indentation than that is part of the value).
    size_t line_start = text.find('\n', start);
    int line = issue.line + 1;
    size_t indent = std::string::npos;
    while (line_start != std::string::npos) {
      ++line_start;
      const std::string_view raw = line_at(line_start);
      const size_t spaces = raw.find_first_not_of(' ');
      if (spaces == std::string_view::npos) {  // an empty line: one '\n'
        if (rest == 0) break;
        --rest;
      } else {
        if (indent == std::string::npos) indent = spaces;
        if (spaces < indent) break;  // the block ended before the offset
        if (FindInLine(raw.substr(indent), 0, &rest, &found)) {
          issue.line = line;
          issue.col = static_cast<int>(indent + found) + 1;
          return issue;
        }
        if (rest == 0) break;
        --rest;  // the line's '\n'
      }
      ++line;
      line_start = text.find('\n', line_start);
    }
    return issue;
  }
  // One line, plain or quoted; a value going on past its line keeps its
  // start.
  const bool quoted = first == '"' || first == '\'';
  const std::string_view raw = line_at(start + (quoted ? 1 : 0));
  if (FindInLine(raw, quoted ? first : 0, &rest, &found))
    issue.col += static_cast<int>(found) + (quoted ? 1 : 0);
  return issue;
}

namespace {

// The test type's stages and the command line's overrides, put in before
// validation so that every later pass sees the plan as it will run. A
// model the type cannot fill is an issue there (and in `unparsed`, so the
// validator does not also call its stages missing).
void ApplyTestType(const LoadOverrides& overrides, LoadedPlan* loaded,
                   std::vector<PlanIssue>* found,
                   std::vector<std::string>* unparsed) {
  if (!overrides.type.empty()) loaded->plan.set_type(overrides.type);
  const std::vector<TestTypeIssue> typed = ExpandTestType(&loaded->plan);
  for (const TestTypeIssue& issue : typed) {
    found->push_back(loaded->IssueAt(issue.path, issue.message));
    if (unparsed != nullptr) unparsed->push_back(issue.path);
  }
  if (!typed.empty() || overrides.empty()) return;
  if (absl::Status s = ApplyOverrides(overrides, &loaded->plan); !s.ok()) {
    PlanIssue issue;
    issue.file = loaded->file;
    issue.message = std::string(s.message());
    found->push_back(std::move(issue));
  }
}

// Parses `text` into `loaded`, as far as it goes: a field that cannot be
// parsed is left unset and its issue added to `found`; then expands its test
// type and applies `overrides`. Returns whether the text was one YAML map (so
// that what was parsed is a plan worth checking).
bool ParseInto(std::string_view file, std::string_view text,
               std::vector<PlanIssue>* found, LoadedPlan* loaded,
               const LoadOverrides& overrides = {},
               std::vector<std::string>* unparsed = nullptr) {
  loaded->file = std::string(file);
  loaded->text = std::string(text);
  Walker walker(file, found, &loaded->locations);
  walker.RecordEnvValues(&loaded->env_values);
  walker.RecordUnparsed(unparsed);
  try {
    // Not YAML::LoadAll: it never returns on some bad input (see
    // yaml_documents.h).
    const YamlDocuments scan = ScanYamlDocuments(text);
    std::vector<YAML::Node> docs;
    if (scan.starts.size() == 1) docs.push_back(YAML::Load(std::string(text)));
    if (scan.stuck) {
      walker.Error(scan.stuck_at, "",
                   "YAML syntax error: unexpected text at the top level (a "
                   "stray ',' after the plan?)");
    } else if (scan.starts.size() > 1) {
      walker.Error(scan.starts[1], "",
                   absl::StrCat("a plan file holds one YAML document; found ",
                                scan.starts.size()));
    } else if (docs.empty() || docs[0].IsNull()) {
      walker.Error(YAML::Mark::null_mark(), "", "the plan is empty");
    } else if (!docs[0].IsMap()) {
      walker.Error(
          docs[0].Mark(), "",
          absl::StrCat(
              "a plan must be a map of fields (name, defaults, scenarios, "
              "thresholds), got ",
              Describe(docs[0])));
    } else {
      walker.Locate("", docs[0].Mark());
      walker.ParseMessageValue(docs[0], &loaded->plan, "");
      ApplyTestType(overrides, loaded, found, unparsed);
      return true;
    }
  } catch (const YAML::ParserException& e) {
    walker.Error(e.mark, "", absl::StrCat("YAML syntax error: ", e.msg));
  } catch (const YAML::Exception& e) {
    walker.Error(e.mark, "", absl::StrCat("YAML error: ", e.msg));
  }
  return false;
}

// Whether `a` is `b` or a field within it ("scenarios[0].load" is within
// "scenarios[0]"; "" is within nothing but itself).
bool Within(const std::string& a, const std::string& b) {
  if (b.empty()) return a.empty();
  return a.size() >= b.size() && a.compare(0, b.size(), b) == 0 &&
         (a.size() == b.size() || a[b.size()] == '.' || a[b.size()] == '[');
}

}  // namespace

absl::StatusOr<LoadedPlan> ParsePlan(std::string_view file,
                                     std::string_view text,
                                     std::vector<PlanIssue>* issues) {
  std::vector<PlanIssue> found;
  LoadedPlan loaded;
  ParseInto(file, text, &found, &loaded);
  if (issues != nullptr)
    issues->insert(issues->end(), found.begin(), found.end());
  if (!found.empty()) return IssuesToStatus(found);
  return loaded;
}

namespace {

// The file's text; a file that cannot be read is one issue at line 0 (added
// to `issues` when given) and the error.
absl::StatusOr<std::string> ReadPlanText(const std::string& file,
                                         std::vector<PlanIssue>* issues) {
  std::string text;
  int error = 0;
  if (FILE* f = std::fopen(file.c_str(), "rb"); f == nullptr) {
    error = errno;
  } else {
    char buf[64 * 1024];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) text.append(buf, n);
    if (std::ferror(f)) error = errno != 0 ? errno : EIO;
    std::fclose(f);
  }
  if (error == 0) return text;
  PlanIssue issue;
  issue.file = file;
  issue.message = absl::StrCat("cannot read the file: ", std::strerror(error));
  if (issues != nullptr) issues->push_back(issue);
  return IssuesToStatus({issue});
}

}  // namespace

absl::StatusOr<LoadedPlan> LoadPlanFile(const std::string& file,
                                        std::vector<PlanIssue>* issues) {
  absl::StatusOr<std::string> text = ReadPlanText(file, issues);
  if (!text.ok()) return text.status();
  return ParsePlan(file, *text, issues);
}

absl::StatusOr<LoadedPlan> ParseAndValidatePlan(
    std::string_view file, std::string_view text,
    std::vector<PlanIssue>* issues, const LoadOverrides& overrides) {
  std::vector<PlanIssue> found;
  LoadedPlan loaded;
  std::vector<std::string> unparsed;
  const bool is_map =
      ParseInto(file, text, &found, &loaded, overrides, &unparsed);
  std::map<std::string, DataTable> tables;
  if (is_map) {
    // Every problem in one pass: the semantic checks run on what parsed,
    // leaving out what they would say about a field that did not parse, a
    // field containing it, or the field a mistyped key meant (`lod:` is not
    // also a missing load).
    for (PlanIssue& issue : ValidatePlan(loaded, &tables)) {
      const bool shadowed = std::any_of(
          unparsed.begin(), unparsed.end(), [&issue](const std::string& at) {
            return Within(issue.path, at) || Within(at, issue.path);
          });
      if (!shadowed) found.push_back(std::move(issue));
    }
  }
  if (issues != nullptr)
    issues->insert(issues->end(), found.begin(), found.end());
  if (!found.empty()) return IssuesToStatus(found);
  NormalizePlan(&loaded.plan);
  loaded.data = std::move(tables);
  return loaded;
}

absl::StatusOr<LoadedPlan> LoadAndValidatePlan(const std::string& file,
                                               std::vector<PlanIssue>* issues,
                                               const LoadOverrides& overrides) {
  absl::StatusOr<std::string> text = ReadPlanText(file, issues);
  if (!text.ok()) return text.status();
  return ParseAndValidatePlan(file, *text, issues, overrides);
}

}  // namespace stampede::common
