#include "tests/target/state.h"

#include <random>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "tests/target/http.h"

namespace stampede::target {
namespace {

// Whether `s` is well-formed UTF-8 (no overlong forms, surrogates or code
// points past U+10FFFF).
bool IsUtf8(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t more;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      more = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      more = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      more = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (s.size() - i <= more) return false;
    for (size_t k = 1; k <= more; ++k) {
      const unsigned char b = s[i + k];
      if ((b & 0xC0) != 0x80) return false;
      cp = cp << 6 | (b & 0x3F);
    }
    constexpr uint32_t kLeast[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kLeast[more] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += more + 1;
  }
  return true;
}

void AppendUtf8(std::string* out, uint32_t cp) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | cp >> 6));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | cp >> 12));
    out->push_back(static_cast<char>(0x80 | (cp >> 6 & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | cp >> 18));
    out->push_back(static_cast<char>(0x80 | (cp >> 12 & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp >> 6 & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// A forward-only reader of one JSON text. Every method stops at the end of
// the input, so no byte sequence can make it read past it; recursion is
// bounded by kMaxJsonDepth.
class JsonReader {
 public:
  explicit JsonReader(absl::string_view text) : s_(text) {}

  bool AtEnd() const { return pos_ == s_.size(); }
  char Peek() const { return AtEnd() ? '\0' : s_[pos_]; }
  void SkipSpace() {
    while (!AtEnd() && (s_[pos_] == ' ' || s_[pos_] == '\t' ||
                        s_[pos_] == '\n' || s_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool Consume(char c) {
    if (AtEnd() || s_[pos_] != c) return false;
    ++pos_;
    return true;
  }

  // A string, escapes decoded into *out (null: checked only). Keeps at most
  // `max` bytes; *too_long says whether there were more.
  bool ReadString(std::string* out, size_t max, bool* too_long) {
    if (!Consume('"')) return false;
    std::string decoded;  // one character's bytes
    while (!AtEnd()) {
      const char c = s_[pos_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return false;
      decoded.clear();
      if (c != '\\') {
        decoded.push_back(c);
      } else if (AtEnd()) {
        return false;
      } else {
        const char e = s_[pos_++];
        switch (e) {
          case '"':
          case '\\':
          case '/':
            decoded.push_back(e);
            break;
          case 'b':
            decoded.push_back('\b');
            break;
          case 'f':
            decoded.push_back('\f');
            break;
          case 'n':
            decoded.push_back('\n');
            break;
          case 'r':
            decoded.push_back('\r');
            break;
          case 't':
            decoded.push_back('\t');
            break;
          case 'u': {
            uint32_t cp;
            if (!ReadHex4(&cp)) return false;
            if (cp >= 0xDC00 && cp <= 0xDFFF) return false;  // a lone low half
            if (cp >= 0xD800 && cp <= 0xDBFF) {
              uint32_t low;
              if (!Consume('\\') || !Consume('u') || !ReadHex4(&low) ||
                  low < 0xDC00 || low > 0xDFFF) {
                return false;
              }
              cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            }
            AppendUtf8(&decoded, cp);
            break;
          }
          default:
            return false;
        }
      }
      if (out == nullptr) continue;
      if (out->size() + decoded.size() > max) {
        *too_long = true;
      } else {
        out->append(decoded);
      }
    }
    return false;  // unterminated
  }

  // Any JSON value, at nesting level `depth` (the top-level object is 1).
  bool SkipValue(size_t depth) {
    if (depth > kMaxJsonDepth) return false;
    bool too_long = false;
    switch (Peek()) {
      case '"':
        return ReadString(nullptr, 0, &too_long);
      case '{':
        return SkipContainer('}', depth, /*object=*/true);
      case '[':
        return SkipContainer(']', depth, /*object=*/false);
      case 't':
        return ConsumeWord("true");
      case 'f':
        return ConsumeWord("false");
      case 'n':
        return ConsumeWord("null");
      default:
        return SkipNumber();
    }
  }

 private:
  bool ReadHex4(uint32_t* cp) {
    if (s_.size() - pos_ < 4) return false;
    uint32_t value = 0;
    for (int i = 0; i < 4; ++i) {
      const char h = s_[pos_++];
      if (!absl::ascii_isxdigit(h)) return false;
      value = value << 4 |
              (absl::ascii_isdigit(h) ? h - '0'
                                      : absl::ascii_tolower(h) - 'a' + 10);
    }
    *cp = value;
    return true;
  }

  bool ConsumeWord(absl::string_view word) {
    if (!absl::StartsWith(s_.substr(pos_), word)) return false;
    pos_ += word.size();
    return true;
  }

  bool SkipDigits() {
    const size_t start = pos_;
    while (absl::ascii_isdigit(Peek())) ++pos_;
    return pos_ > start;
  }

  bool SkipNumber() {
    Consume('-');
    if (!Consume('0') && !SkipDigits()) return false;
    if (Consume('.') && !SkipDigits()) return false;
    if (Peek() == 'e' || Peek() == 'E') {
      ++pos_;
      if (!Consume('+')) Consume('-');
      if (!SkipDigits()) return false;
    }
    return true;
  }

  // The members or elements of an object or array opened at Peek().
  bool SkipContainer(char close, size_t depth, bool object) {
    ++pos_;
    SkipSpace();
    if (Consume(close)) return true;
    while (true) {
      if (object) {
        bool too_long = false;
        if (!ReadString(nullptr, 0, &too_long)) return false;
        SkipSpace();
        if (!Consume(':')) return false;
        SkipSpace();
      }
      if (!SkipValue(depth + 1)) return false;
      SkipSpace();
      if (Consume(close)) return true;
      if (!Consume(',')) return false;
      SkipSpace();
    }
  }

  absl::string_view s_;
  size_t pos_ = 0;
};

// The token of "Bearer TOKEN" (the scheme in any case), or "".
absl::string_view BearerToken(absl::string_view authorization) {
  constexpr absl::string_view kScheme = "bearer ";
  if (!absl::StartsWithIgnoreCase(authorization, kScheme)) return "";
  return absl::StripAsciiWhitespace(authorization.substr(kScheme.size()));
}

// The value of the cookie named `name` in a Cookie header, or "".
absl::string_view CookieValue(absl::string_view cookie,
                              absl::string_view name) {
  for (absl::string_view pair : absl::StrSplit(cookie, ';')) {
    pair = absl::StripAsciiWhitespace(pair);
    if (absl::ConsumePrefix(&pair, name) && absl::ConsumePrefix(&pair, "="))
      return pair;
  }
  return "";
}

void Error(StateResponse* response, int status, absl::string_view message) {
  response->status = status;
  response->body = "{\"error\":";
  AppendJsonString(&response->body, message);
  response->body += "}";
}

void MethodNotAllowed(StateResponse* response, absl::string_view allow) {
  Error(response, 405, "method not allowed");
  absl::StrAppend(&response->headers, "\r\nAllow: ", allow);
}

bool IsGet(absl::string_view method) {
  return method == "GET" || method == "HEAD";
}

void Count(absl::flat_hash_map<std::string, uint64_t>& counts, uint64_t& other,
           const std::string& key) {
  auto it = counts.find(key);
  if (it != counts.end()) {
    ++it->second;
  } else if (counts.size() < kMaxTracked) {
    counts.emplace(key, 1);
  } else {
    ++other;
  }
}

void AddCounts(const absl::flat_hash_map<std::string, uint64_t>& counts,
               uint64_t other, std::map<std::string, uint64_t>* out) {
  for (const auto& [key, count] : counts) (*out)[key] += count;
  if (other > 0) (*out)["(other)"] += other;
}

}  // namespace

bool ReadJsonFields(absl::string_view body, JsonFields* fields) {
  JsonReader reader(body);
  reader.SkipSpace();
  if (!reader.Consume('{')) return false;
  reader.SkipSpace();
  if (!reader.Consume('}')) {
    while (true) {
      std::string key;
      bool too_long = false;
      // Longer keys are none of ours: 8 bytes tell them apart.
      if (!reader.ReadString(&key, 8, &too_long)) return false;
      reader.SkipSpace();
      if (!reader.Consume(':')) return false;
      reader.SkipSpace();
      std::string* value = nullptr;
      bool* has = nullptr;
      if (!too_long) {
        if (key == "user") {
          value = &fields->user, has = &fields->has_user;
        } else if (key == "password") {
          value = &fields->password, has = &fields->has_password;
        } else if (key == "id") {
          value = &fields->id, has = &fields->has_id;
        } else if (key == "name") {
          value = &fields->name, has = &fields->has_name;
        }
      }
      if (value == nullptr) {
        if (!reader.SkipValue(2)) return false;
      } else {
        if (*has || reader.Peek() != '"') return false;
        if (!reader.ReadString(value, kMaxFieldBytes, &too_long) || too_long ||
            !IsUtf8(*value)) {
          return false;
        }
        *has = true;
      }
      reader.SkipSpace();
      if (reader.Consume('}')) break;
      if (!reader.Consume(',')) return false;
      reader.SkipSpace();
    }
  }
  reader.SkipSpace();
  return reader.AtEnd();
}

bool IsValidId(absl::string_view id) {
  if (id.empty() || id.size() > kMaxIdBytes) return false;
  for (char c : id) {
    if (!absl::ascii_isalnum(c) && c != '.' && c != '_' && c != '~' &&
        c != '-') {
      return false;
    }
  }
  return true;
}

AppState::AppState() : random_(std::random_device()()) {}

void AppState::Handle(const StateRequest& request, StateResponse* response) {
  response->status = 200;
  response->body.clear();
  response->headers.clear();
  // Parsed before taking the lock: the body may be up to kMaxStateBody.
  JsonFields fields;
  bool fields_ok = false;
  if (request.method == "POST" &&
      (request.path == "/api/login" || request.path == "/api/agents")) {
    fields_ok = ReadJsonFields(request.body, &fields);
  }
  absl::MutexLock lock(&mu_);
  Route(request, fields, fields_ok, response);
  switch (response->status) {
    case 401:
      ++unauthorized_;
      break;
    case 404:
      ++not_found_;
      break;
    case 409:
      ++conflict_;
      break;
    default:
      break;
  }
}

void AppState::Route(const StateRequest& request, const JsonFields& fields,
                     bool fields_ok, StateResponse* response) {
  absl::string_view path = request.path;
  absl::ConsumePrefix(&path, "/api");
  const absl::string_view method = request.method;
  if (path == "/login") {
    if (method != "POST") return MethodNotAllowed(response, "POST");
    return Login(fields, fields_ok, response);
  }
  if (path == "/me") {
    if (!IsGet(method)) return MethodNotAllowed(response, "GET, HEAD");
    const std::string* user = UserOf(BearerToken(request.authorization));
    if (user == nullptr) user = UserOf(CookieValue(request.cookie, "sid"));
    if (user == nullptr) return Error(response, 401, "no live token");
    response->body = "{\"user\":";
    AppendJsonString(&response->body, *user);
    response->body += "}";
    return;
  }
  absl::string_view rest = path;
  const bool agents = absl::ConsumePrefix(&rest, "/agents");
  const bool sessions = !agents && absl::ConsumePrefix(&rest, "/sessions");
  if ((!agents && !sessions) || (!rest.empty() && rest[0] != '/'))
    return Error(response, 404, "not found");
  if (UserOf(BearerToken(request.authorization)) == nullptr)
    return Error(response, 401, "a live bearer token is needed");
  if (agents) return Agents(rest, method, fields, fields_ok, response);
  Sessions(rest, method, response);
}

void AppState::Login(const JsonFields& fields, bool fields_ok,
                     StateResponse* response) {
  if (!fields_ok || !fields.has_user || !fields.has_password ||
      fields.user.empty()) {
    return Error(response, 400, "expected {\"user\":\"U\",\"password\":\"P\"}");
  }
  if (fields.password != absl::StrCat("pw-", fields.user))
    return Error(response, 401, "bad user or password");
  if (users_by_token_.size() >= kMaxStateEntries)
    return Error(response, 503, "too many tokens");
  std::string token = NewToken();
  users_by_token_.emplace(token, fields.user);
  Count(logins_by_user_, other_logins_, fields.user);
  response->body = absl::StrCat("{\"token\":\"", token, "\",\"user\":");
  AppendJsonString(&response->body, fields.user);
  response->body += "}";
  absl::StrAppend(&response->headers, "\r\nSet-Cookie: sid=", token,
                  "; Path=/; HttpOnly");
}

void AppState::Agents(absl::string_view rest, absl::string_view method,
                      const JsonFields& fields, bool fields_ok,
                      StateResponse* response) {
  auto answer = [&](int status, absl::string_view id, absl::string_view name) {
    response->status = status;
    response->body = "{\"id\":";
    AppendJsonString(&response->body, id);
    response->body += ",\"name\":";
    AppendJsonString(&response->body, name);
    response->body += "}";
  };
  if (rest.empty()) {
    if (method != "POST") return MethodNotAllowed(response, "POST");
    if (!fields_ok || !fields.has_name ||
        (fields.has_id && !IsValidId(fields.id))) {
      return Error(response, 400,
                   "expected {\"id\":\"X\",\"name\":\"N\"} (id optional: up "
                   "to 64 of A-Z a-z 0-9 . _ ~ -)");
    }
    if (fields.has_id && agent_names_.contains(fields.id))
      return Error(response, 409, "agent exists");
    if (agent_names_.size() >= kMaxStateEntries)
      return Error(response, 503, "too many agents");
    std::string id = fields.id;
    if (!fields.has_id) {
      do {  // skipping ids a client chose
        id = absl::StrCat("agent-", next_agent_++);
      } while (agent_names_.contains(id));
    }
    agent_names_.emplace(id, fields.name);
    ++agents_created_;
    return answer(201, id, fields.name);
  }
  const absl::string_view id = rest.substr(1);
  if (!IsValidId(id)) return Error(response, 404, "not found");
  if (IsGet(method)) {
    auto it = agent_names_.find(id);
    if (it == agent_names_.end()) return Error(response, 404, "no such agent");
    return answer(200, it->first, it->second);
  }
  if (method == "DELETE") {
    auto it = agent_names_.find(id);
    if (it == agent_names_.end()) return Error(response, 404, "no such agent");
    agent_names_.erase(it);
    ++agents_deleted_;
    response->status = 204;
    return;
  }
  MethodNotAllowed(response, "GET, HEAD, DELETE");
}

void AppState::Sessions(absl::string_view rest, absl::string_view method,
                        StateResponse* response) {
  if (rest.empty()) {
    if (method != "POST") return MethodNotAllowed(response, "POST");
    if (sessions_.size() >= kMaxStateEntries)
      return Error(response, 503, "too many sessions");
    std::string id = absl::StrCat("sess-", next_session_++);
    sessions_.emplace(id, Session());
    ++sessions_created_;
    response->status = 201;
    response->body = absl::StrCat("{\"id\":\"", id, "\"}");
    return;
  }
  absl::string_view id = rest.substr(1);
  if (!absl::ConsumeSuffix(&id, "/turns") || !IsValidId(id))
    return Error(response, 404, "not found");
  if (method != "POST") return MethodNotAllowed(response, "POST");
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return Error(response, 404, "no such session");
  const uint64_t turn = ++it->second.turns;
  Count(turns_by_session_, other_turns_, it->first);
  response->body =
      absl::StrCat("{\"session\":\"", it->first, "\",\"turn\":", turn, "}");
}

const std::string* AppState::UserOf(absl::string_view token) const {
  if (token.empty()) return nullptr;
  auto it = users_by_token_.find(token);
  return it == users_by_token_.end() ? nullptr : &it->second;
}

std::string AppState::NewToken() {
  // 128 random bits: unguessable enough for a test server, and a token from an
  // earlier run of it is never live in this one.
  std::string token;
  do {
    token = absl::StrCat(absl::Hex(random_(), absl::kZeroPad16),
                         absl::Hex(random_(), absl::kZeroPad16));
  } while (users_by_token_.contains(token));
  return token;
}

void AppState::AddTo(StatsSnapshot* snapshot) const {
  absl::MutexLock lock(&mu_);
  StateCounts& out = snapshot->state;
  AddCounts(logins_by_user_, other_logins_, &out.logins_by_user);
  AddCounts(turns_by_session_, other_turns_, &out.turns_by_session);
  out.agents_created += agents_created_;
  out.agents_deleted += agents_deleted_;
  out.agents_live += agent_names_.size();
  out.sessions_created += sessions_created_;
  out.unauthorized += unauthorized_;
  out.not_found += not_found_;
  out.conflict += conflict_;
}

void AppState::ResetCounts() {
  absl::MutexLock lock(&mu_);
  logins_by_user_.clear();
  turns_by_session_.clear();
  other_logins_ = other_turns_ = 0;
  agents_created_ = agents_deleted_ = sessions_created_ = 0;
  unauthorized_ = not_found_ = conflict_ = 0;
}

}  // namespace stampede::target
