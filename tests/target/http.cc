#include "tests/target/http.h"

#include <algorithm>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/ws.h"

namespace stampede::target {
namespace {

namespace ws = ::stampede::common::ws;

constexpr uint64_t kMaxBytesBody = 16 * 1024 * 1024;
constexpr uint64_t kMaxCount = 1000000000;

struct Reason {
  int status;
  absl::string_view phrase;
};

constexpr Reason kReasons[] = {
    {101, "Switching Protocols"},
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {204, "No Content"},
    {206, "Partial Content"},
    {301, "Moved Permanently"},
    {302, "Found"},
    {303, "See Other"},
    {304, "Not Modified"},
    {307, "Temporary Redirect"},
    {308, "Permanent Redirect"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {408, "Request Timeout"},
    {409, "Conflict"},
    {410, "Gone"},
    {411, "Length Required"},
    {413, "Content Too Large"},
    {418, "I'm a teapot"},
    {426, "Upgrade Required"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
};

bool IsTokenChar(char c) {
  return absl::ascii_isalnum(c) ||
         absl::string_view("!#$%&'*+-.^_`|~").find(c) !=
             absl::string_view::npos;
}

bool IsToken(absl::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), IsTokenChar);
}

// Whether the comma-separated `list` holds `token` (case-insensitively).
bool ListHas(absl::string_view list, absl::string_view token) {
  for (absl::string_view item : absl::StrSplit(list, ',')) {
    if (absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(item), token))
      return true;
  }
  return false;
}

// Reads the query parameters `route` knows into *params (unknown ones are
// ignored). False when a known one has a bad value.
bool ParseStreamQuery(absl::string_view query, Route route,
                      StreamParams* params) {
  if (route == Route::kWsStream) {
    *params = {.count = 10, .every_ms = 100, .size = 16};
  } else if (route == Route::kSse) {
    *params = {.count = 5, .every_ms = 100};
  }
  for (absl::string_view pair : absl::StrSplit(query, '&')) {
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    absl::string_view key = pair.substr(0, eq);
    absl::string_view value =
        eq == absl::string_view::npos ? "" : pair.substr(eq + 1);
    uint64_t n = 0;
    auto number = [&](uint64_t max) {
      return ParseBoundedDecimal(value, max, &n);
    };
    if (route == Route::kWsEcho) {
      if (key == "close") {
        if (!number(4999) || !ws::IsValidCloseCode(n)) return false;
        params->close_code = static_cast<uint16_t>(n);
      } else if (key == "after") {
        if (!number(kMaxCount)) return false;
        params->close_after = n;
      } else if (key == "delay") {
        if (!number(kMaxDelayMs)) return false;
        params->delay_ms = static_cast<uint32_t>(n);
      }
      continue;
    }
    if (key == "n") {
      if (!number(kMaxCount)) return false;
      params->count = n;
    } else if (key == "every") {
      if (!number(kMaxDelayMs)) return false;
      params->every_ms = static_cast<uint32_t>(n);
    } else if (key == "size" && route == Route::kWsStream) {
      if (!number(kMaxWsMessage)) return false;
      params->size = static_cast<uint32_t>(n);
    }
  }
  return true;
}

// A request to a /ws/ path: the WebSocket route, or why it cannot upgrade.
Route RouteWebSocket(const RequestHead& req, absl::string_view path,
                     absl::string_view query, Pending* p,
                     std::string* upgrade_headers) {
  if (!req.upgrade_websocket || !req.connection_upgrade ||
      req.method != "GET" || p->http10 || req.content_length > 0 ||
      req.chunked || !req.saw_ws_version) {
    return Route::kWsBadUpgrade;
  }
  if (req.ws_version != "13") return Route::kWsBadVersion;
  std::string key;
  if (req.ws_key.size() != 24 || !absl::Base64Unescape(req.ws_key, &key) ||
      key.size() != 16) {
    return Route::kWsBadUpgrade;
  }
  absl::string_view protocol = absl::StripAsciiWhitespace(
      req.ws_protocol.substr(0, req.ws_protocol.find(',')));
  if (!req.ws_protocol.empty() && !IsToken(protocol))
    return Route::kWsBadUpgrade;
  Route route = path == "/ws/echo"     ? Route::kWsEcho
                : path == "/ws/stream" ? Route::kWsStream
                                       : Route::kNotFound;
  if (route == Route::kNotFound) return route;
  if (!ParseStreamQuery(query, route, &p->stream)) return Route::kBadParameter;
  *upgrade_headers = absl::StrCat(
      "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ",
      ws::AcceptFor(std::string_view(req.ws_key.data(), req.ws_key.size())));
  if (!protocol.empty())
    absl::StrAppend(upgrade_headers, "\r\nSec-WebSocket-Protocol: ", protocol);
  return route;
}

// The part of a /fault/ path after "/fault/".
Route RouteFault(absl::string_view rest, Pending* p) {
  uint64_t a = 0, b = 0;
  Route route = Route::kNotFound;
  bool ok = true;
  if (absl::ConsumePrefix(&rest, "freeze/")) {
    route = Route::kFreeze;
    ok = ParseBoundedDecimal(rest, kMaxDelayMs, &a);
  } else if (absl::ConsumePrefix(&rest, "latency/")) {
    route = Route::kFaultLatency;
    size_t dash = rest.find('-');
    ok = ParseBoundedDecimal(rest.substr(0, dash), kMaxDelayMs, &a);
    b = a;
    if (ok && dash != absl::string_view::npos) {
      ok =
          ParseBoundedDecimal(rest.substr(dash + 1), kMaxDelayMs, &b) && a <= b;
    }
  } else if (absl::ConsumePrefix(&rest, "status/")) {
    route = Route::kFaultStatus;
    size_t slash = rest.find('/');
    ok = slash != absl::string_view::npos &&
         ParseBoundedDecimal(rest.substr(0, slash), 599, &a) && a >= 200 &&
         ParsePercent(rest.substr(slash + 1), &b);
  } else if (absl::ConsumePrefix(&rest, "reset/")) {
    route = Route::kFaultReset;
    ok = ParsePercent(rest, &a);
  } else if (absl::ConsumePrefix(&rest, "ws_close/")) {
    route = Route::kFaultWsClose;
    ok = ParseBoundedDecimal(rest, 4999, &a) && ws::IsValidCloseCode(a);
  } else if (rest == "clear") {
    route = Route::kFaultClear;
  }
  p->arg = a;
  p->arg2 = b;
  return ok ? route : Route::kBadParameter;
}

}  // namespace

absl::string_view ReasonPhrase(int status) {
  for (const Reason& reason : kReasons) {
    if (reason.status == status) return reason.phrase;
  }
  if (status < 300) return "Success";
  if (status < 400) return "Redirection";
  if (status < 500) return "Client Error";
  return "Server Error";
}

bool ParseBoundedDecimal(absl::string_view text, uint64_t max, uint64_t* out) {
  if (text.empty() || text.size() > 18) return false;
  uint64_t value = 0;
  for (char c : text) {
    if (!absl::ascii_isdigit(c)) return false;
    value = value * 10 + (c - '0');
  }
  if (value > max) return false;
  *out = value;
  return true;
}

bool ParsePercent(absl::string_view text, uint64_t* share) {
  size_t dot = text.find('.');
  uint64_t whole = 0, fraction = 0;
  if (!ParseBoundedDecimal(text.substr(0, dot), 100, &whole)) return false;
  if (dot != absl::string_view::npos) {
    absl::string_view digits = text.substr(dot + 1);
    if (digits.size() > 6 || !ParseBoundedDecimal(digits, 999999, &fraction))
      return false;
    for (size_t i = digits.size(); i < 6; ++i) fraction *= 10;
  }
  const uint64_t value = whole * 1000000 + fraction;
  if (value > kShareOne) return false;
  *share = value;
  return true;
}

std::string FormatPercent(uint64_t share) {
  std::string out = absl::StrCat(share / 1000000);
  if (uint64_t fraction = share % 1000000; fraction != 0) {
    std::string digits = absl::StrFormat("%06d", fraction);
    digits.erase(digits.find_last_not_of('0') + 1);
    absl::StrAppend(&out, ".", digits);
  }
  return out;
}

size_t FindHeadEnd(absl::string_view buf, size_t* scan_from) {
  size_t pos = *scan_from;
  while (true) {
    size_t nl = buf.find('\n', pos);
    if (nl == absl::string_view::npos) {
      *scan_from = pos;
      return 0;
    }
    bool blank = nl == pos || (nl == pos + 1 && buf[pos] == '\r');
    if (blank && pos > 0) return nl + 1;
    pos = nl + 1;
  }
}

bool ParseRequestHead(absl::string_view head, RequestHead* req) {
  size_t pos = 0;
  auto next_line = [&](absl::string_view* line) {
    size_t nl = head.find('\n', pos);
    if (nl == absl::string_view::npos) return false;
    size_t end = (nl > pos && head[nl - 1] == '\r') ? nl - 1 : nl;
    *line = head.substr(pos, end - pos);
    pos = nl + 1;
    return true;
  };

  absl::string_view line;
  if (!next_line(&line)) return false;
  size_t sp1 = line.find(' ');
  if (sp1 == absl::string_view::npos) return false;
  size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == absl::string_view::npos) return false;
  absl::string_view method = line.substr(0, sp1);
  absl::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  absl::string_view version = line.substr(sp2 + 1);
  // Absolute form ("GET http://host:port/path"), as a client sends it to a
  // forward proxy: serve it as if it were ours, so tests can use the target
  // as an HTTP proxy.
  if (absl::StartsWithIgnoreCase(target, "http://")) {
    absl::string_view rest = target.substr(7);
    size_t slash = rest.find('/');
    target = slash == absl::string_view::npos ? absl::string_view("/")
                                              : rest.substr(slash);
  }
  if (!IsToken(method) || target.empty() || target[0] != '/') return false;
  for (char c : target) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  bool http10;
  if (version == "HTTP/1.1") {
    http10 = false;
  } else if (version == "HTTP/1.0") {
    http10 = true;
  } else {
    return false;
  }

  bool saw_close = false;
  bool saw_keep_alive = false;
  bool saw_length = false;
  bool saw_protocol = false;
  bool saw_cookie = false;
  while (next_line(&line) && !line.empty()) {
    size_t colon = line.find(':');
    if (colon == absl::string_view::npos) return false;
    absl::string_view name = line.substr(0, colon);
    absl::string_view value =
        absl::StripAsciiWhitespace(line.substr(colon + 1));
    if (!IsToken(name)) return false;
    if (absl::EqualsIgnoreCase(name, "content-length")) {
      uint64_t length;
      if (!ParseBoundedDecimal(value, UINT64_MAX, &length)) return false;
      if (saw_length && length != req->content_length) return false;
      saw_length = true;
      req->content_length = length;
    } else if (absl::EqualsIgnoreCase(name, "authorization")) {
      req->authorization = value;
    } else if (absl::EqualsIgnoreCase(name, "user-agent")) {
      req->user_agent = value;
    } else if (absl::EqualsIgnoreCase(name, "transfer-encoding")) {
      req->chunked = true;
    } else if (absl::EqualsIgnoreCase(name, "connection")) {
      saw_close |= ListHas(value, "close");
      saw_keep_alive |= ListHas(value, "keep-alive");
      req->connection_upgrade |= ListHas(value, "upgrade");
    } else if (absl::EqualsIgnoreCase(name, "upgrade")) {
      req->upgrade_websocket |= ListHas(value, "websocket");
    } else if (absl::EqualsIgnoreCase(name, "sec-websocket-key")) {
      req->ws_key = value;
    } else if (absl::EqualsIgnoreCase(name, "sec-websocket-version")) {
      req->ws_version = value;
      req->saw_ws_version = true;
    } else if (absl::EqualsIgnoreCase(name, "sec-websocket-protocol")) {
      if (!saw_protocol) req->ws_protocol = value;
      saw_protocol = true;
    } else if (absl::EqualsIgnoreCase(name, "cookie")) {
      if (!saw_cookie) req->cookie = value;
      saw_cookie = true;
    }
  }

  req->method = method;
  req->target = target;
  Pending& p = req->pending;
  p.http10 = http10;
  p.head = method == "HEAD";
  p.keep_alive = !saw_close && (!http10 || saw_keep_alive);
  return true;
}

Pending RouteRequest(const RequestHead& req, absl::string_view* path_out,
                     std::string* upgrade_headers) {
  absl::string_view target = req.target;
  const size_t end = target.find_first_of("?#");
  absl::string_view path = target.substr(0, end);
  absl::string_view query;
  if (end != absl::string_view::npos && target[end] == '?') {
    query = target.substr(end + 1);
    query = query.substr(0, query.find('#'));
  }
  *path_out = path;
  Pending p = req.pending;
  p.control = path == "/stats" || absl::StartsWith(path, "/stats/") ||
              absl::StartsWith(path, "/fault/");
  uint64_t n = 0;
  absl::string_view rest = path;
  if (path == "/") {
    p.route = Route::kOk;
  } else if (absl::ConsumePrefix(&rest, "/bytes/")) {
    bool ok = ParseBoundedDecimal(rest, kMaxBytesBody, &n);
    p.route = ok ? Route::kBytes : Route::kBadParameter;
  } else if (absl::ConsumePrefix(&rest, "/delay/")) {
    bool ok = ParseBoundedDecimal(rest, kMaxDelayMs, &n);
    p.route = ok ? Route::kDelay : Route::kBadParameter;
  } else if (absl::ConsumePrefix(&rest, "/capacity/")) {
    bool ok = ParseBoundedDecimal(rest, kMaxCapacity, &n) && n > 0;
    p.route = ok ? Route::kCapacity : Route::kBadParameter;
  } else if (absl::ConsumePrefix(&rest, "/status/")) {
    bool ok = ParseBoundedDecimal(rest, 599, &n) && n >= 200;
    p.route = ok ? Route::kStatus : Route::kBadParameter;
  } else if (path == "/stats") {
    p.route = Route::kStats;
  } else if (path == "/stats/reset") {
    p.route = Route::kStatsReset;
  } else if (absl::ConsumePrefix(&rest, "/fault/")) {
    p.route = RouteFault(rest, &p);
    return p;
  } else if (absl::StartsWith(path, "/ws/")) {
    p.route = RouteWebSocket(req, path, query, &p, upgrade_headers);
    return p;
  } else if (path == "/sse") {
    bool ok = ParseStreamQuery(query, Route::kSse, &p.stream);
    p.route = ok ? Route::kSse : Route::kBadParameter;
  } else if (absl::ConsumePrefix(&rest, "/auth/basic/")) {
    // USER/PASS in the path; the request must carry exactly them.
    const std::string expected = absl::StrCat(
        "Basic ", absl::Base64Escape(absl::StrReplaceAll(rest, {{"/", ":"}})));
    p.route = req.authorization == expected ? Route::kOk : Route::kUnauthorized;
  } else if (path == "/ok") {
    p.route = Route::kOk;
  } else if (absl::StartsWith(path, "/api/")) {
    p.route = Route::kApi;
  } else if (absl::ConsumePrefix(&rest, "/redirect/")) {
    bool ok = ParseBoundedDecimal(rest, kMaxRedirects, &n);
    p.route = ok ? Route::kRedirect : Route::kBadParameter;
  } else if (path == "/cookies/set") {
    p.route = Route::kCookiesSet;
  } else if (path == "/cookies/echo") {
    p.route = Route::kCookiesEcho;
  } else {
    p.route = Route::kNotFound;
  }
  p.arg = n;
  return p;
}

absl::string_view QueryOf(absl::string_view target) {
  const size_t end = target.find_first_of("?#");
  if (end == absl::string_view::npos || target[end] != '?') return "";
  absl::string_view query = target.substr(end + 1);
  return query.substr(0, query.find('#'));
}

bool CookiesToSet(absl::string_view query, std::string* headers,
                  std::string* body) {
  auto is_cookie_octet = [](char c) {
    return c == 0x21 || (c >= 0x23 && c <= 0x2B) || (c >= 0x2D && c <= 0x3A) ||
           (c >= 0x3C && c <= 0x5B) || (c >= 0x5D && c <= 0x7E);
  };
  size_t count = 0;
  body->clear();
  body->push_back('{');
  for (absl::string_view pair : absl::StrSplit(query, '&')) {
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    if (eq == absl::string_view::npos || ++count > kMaxSetCookies) return false;
    absl::string_view name = pair.substr(0, eq);
    absl::string_view value = pair.substr(eq + 1);
    if (!IsToken(name) ||
        !std::all_of(value.begin(), value.end(), is_cookie_octet)) {
      return false;
    }
    absl::StrAppend(headers, "\r\nSet-Cookie: ", name, "=", value, "; Path=/");
    if (count > 1) body->push_back(',');
    AppendJsonString(body, name);
    body->push_back(':');
    AppendJsonString(body, value);
  }
  body->push_back('}');
  return count > 0;
}

void AppendJsonString(std::string* out, absl::string_view s) {
  out->push_back('"');
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      absl::StrAppendFormat(out, "\\u%04x", c);
    } else {
      out->push_back(c);
    }
  }
  out->push_back('"');
}

}  // namespace stampede::target
