// The reference target's HTTP/1.1 request side: head parsing, routing (with
// query parameters and WebSocket upgrade checks) and small text helpers.
// Pure functions; safe from any thread.

#ifndef STAMPEDE_TESTS_TARGET_HTTP_H_
#define STAMPEDE_TESTS_TARGET_HTTP_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace stampede::target {

inline constexpr uint64_t kMaxDelayMs = 600000;
// The largest WebSocket data message echoed (or streamed); longer ones are
// closed with 1009.
inline constexpr uint64_t kMaxWsMessage = 1024 * 1024;
// Shares (of requests to fault) are kept exactly, in units of 1e-8: 100% is
// kShareOne. A PERCENT therefore takes at most six decimals.
inline constexpr uint64_t kShareOne = 100000000;
// The most /capacity/N serves per second (service time 1 µs).
inline constexpr uint64_t kMaxCapacity = 1000000;
// The longest /redirect/N chain.
inline constexpr uint64_t kMaxRedirects = 1000;
// Cookies one /cookies/set may set.
inline constexpr size_t kMaxSetCookies = 16;

enum class Route : uint8_t {
  kOk,
  kBytes,
  kDelay,
  kStatus,
  kStats,
  kStatsReset,
  kFreeze,
  kFaultLatency,  // arg, arg2: min and max ms
  kFaultStatus,   // arg: code; arg2: share
  kFaultReset,    // arg: share
  kFaultWsClose,  // arg: close code
  kFaultClear,
  kWsEcho,        // a valid upgrade; see StreamParams
  kWsStream,      // a valid upgrade; see StreamParams
  kWsBadUpgrade,  // 400: a /ws/ path without a valid upgrade
  kWsBadVersion,  // 426: Sec-WebSocket-Version is not 13
  kSse,
  kNotFound,
  kBadParameter,
  kUnauthorized,  // /auth/basic/USER/PASS without those credentials
  kFaulted,       // a /fault/status share: answer arg (a status) instead
  kRedirect,      // /redirect/N (arg: N)
  kCapacity,      // /capacity/N: one serial server of N requests/s (arg: N)
  // The routes below read more of the request than Pending holds (see
  // NeedsRequestCopy): the event loop copies it out of the head for them only.
  kApi,          // under /api/: the stateful routes (state.h)
  kCookiesSet,   // /cookies/set?NAME=VALUE...
  kCookiesEcho,  // /cookies/echo
};

// Whether `route` needs its request's method, query, Authorization, Cookie
// (and, for kApi, body) kept past the head.
inline bool NeedsRequestCopy(Route route) { return route >= Route::kApi; }

// Query parameters of /ws/echo, /ws/stream and /sse.
struct StreamParams {
  uint64_t count = 0;  // n: messages or events to send
  uint32_t every_ms = 0;
  uint32_t size = 0;        // /ws/stream: bytes per message
  uint32_t delay_ms = 0;    // /ws/echo: how long each echo is held
  uint16_t close_code = 0;  // /ws/echo: 0 = never close
  uint64_t close_after = 0;
};

// What a parsed request asks for; kept until it is answered.
struct Pending {
  Route route = Route::kOk;
  bool keep_alive = true;
  bool http10 = false;
  bool head = false;
  bool control = false;         // /stats* or /fault/*: faults never apply
  bool faults_applied = false;  // the faults were decided (once per request)
  uint64_t arg = 0;
  uint64_t arg2 = 0;
  StreamParams stream;
};

// Views into the head's bytes: valid while they are.
struct RequestHead {
  absl::string_view method;
  absl::string_view target;
  absl::string_view authorization;  // the Authorization header's value
  absl::string_view user_agent;     // the User-Agent header's value
  absl::string_view cookie;         // the first Cookie header's value
  absl::string_view ws_key;         // Sec-WebSocket-Key
  absl::string_view ws_version;     // Sec-WebSocket-Version
  absl::string_view ws_protocol;    // the first Sec-WebSocket-Protocol header
  bool upgrade_websocket = false;   // Upgrade lists "websocket"
  bool connection_upgrade = false;  // Connection lists "upgrade"
  bool saw_ws_version = false;
  Pending pending;
  bool chunked = false;
  uint64_t content_length = 0;
};

absl::string_view ReasonPhrase(int status);

// Digits only (no sign, no spaces), at most `max`.
bool ParseBoundedDecimal(absl::string_view text, uint64_t max, uint64_t* out);

// "2", "0.5", "100": a percentage from 0 to 100 with at most six decimals, as
// a share in units of 1/kShareOne.
bool ParsePercent(absl::string_view text, uint64_t* share);
// The inverse, shortest form: 50000000 -> "50", 500000 -> "0.5".
std::string FormatPercent(uint64_t share);

// Finds the blank line ending a request head. Returns the head's length
// including that line, or 0 if it has not all arrived; *scan_from (a line
// start) lets the next call resume.
size_t FindHeadEnd(absl::string_view buf, size_t* scan_from);

// Parses a complete head (request line, header lines, blank line). False means
// 400.
bool ParseRequestHead(absl::string_view head, RequestHead* req);

// Routes a parsed request. *path gets the target's path (no query), for
// stats. For a valid WebSocket upgrade, *upgrade_headers gets the 101's
// header lines after the status line (each starting with "\r\n").
Pending RouteRequest(const RequestHead& req, absl::string_view* path,
                     std::string* upgrade_headers);

// The query of a request target ("a=1" of "/p?a=1#f"), or "".
absl::string_view QueryOf(absl::string_view target);

// For /cookies/set: appends a "\r\nSet-Cookie: NAME=VALUE; Path=/" line to
// *headers for each NAME=VALUE of `query`, and writes them as a JSON object
// to *body. False (400) without any pair, with more than kMaxSetCookies, or
// when a NAME is not an HTTP token or a VALUE has bytes a cookie value may not
// (RFC 6265 cookie-octets; no percent-decoding is done).
bool CookiesToSet(absl::string_view query, std::string* headers,
                  std::string* body);

void AppendJsonString(std::string* out, absl::string_view s);

}  // namespace stampede::target

#endif  // STAMPEDE_TESTS_TARGET_HTTP_H_
