// The part of EventLoop (event_loop.h) that answers HTTP requests: the
// faults every load request meets first, then the routes (http.h), the
// control routes (/stats, /fault) and server-sent events.

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tests/target/event_loop.h"

namespace stampede::target {
namespace {

// Bigger /bytes bodies are sent from a shared read-only buffer instead of being
// copied.
constexpr uint64_t kInlineBodyMax = 16 * 1024;
// A stream that outruns its reader waits this long before trying again.
constexpr absl::Duration kBackoff = absl::Milliseconds(1);

constexpr absl::string_view kJson = "application/json";

}  // namespace

void EventLoop::RespondError(Conn& conn, int status, absl::string_view body) {
  conn.pending = Pending();
  conn.pending.keep_alive = false;
  conn.path.clear();
  Respond(conn, status, kTextPlain, body, 0, /*count=*/true);
}

// Answers conn.pending, whose body (if any) has been discarded. Never closes
// the connection itself (a reset is left to Advance).
void EventLoop::Dispatch(Conn& conn) {
  Pending& p = conn.pending;
  if (!p.control) {
    // Load requests obey the faults: a freeze holds them, then a reset, a
    // status or a latency may apply (decided once per request).
    const absl::Duration now = MonotonicNow();
    const absl::Duration frozen_until = faults_->frozen_until();
    if (now < frozen_until) {
      Wait(conn, frozen_until, TimerKind::kRedispatch, /*held=*/true);
      return;
    }
    if (!p.faults_applied) {
      p.faults_applied = true;
      const LoopFaults::Decision decision = loop_faults_.Decide();
      if (decision.reset) {
        stats_.CountFault(ThreadStats::Fault::kReset);
        conn.reset = conn.closing = true;
        return;
      }
      if (decision.status != 0) {
        stats_.CountFault(ThreadStats::Fault::kStatus);
        p.route = Route::kFaulted;
        p.arg = decision.status;
      }
      if (decision.latency > absl::ZeroDuration()) {
        Wait(conn, now + decision.latency, TimerKind::kRedispatch, false);
        return;
      }
    }
  }
  switch (p.route) {
    case Route::kOk:
      Respond(conn, 200, kTextPlain, "ok", 0, true);
      return;
    case Route::kBytes:
      Respond(conn, 200, kTextPlain, "", p.arg, true);
      return;
    case Route::kDelay:
      Wait(conn, MonotonicNow() + absl::Milliseconds(p.arg), TimerKind::kDelay,
           false);
      return;
    case Route::kCapacity:
      Wait(conn,
           faults_->ServeSerially(MonotonicNow(),
                                  absl::Nanoseconds(1'000'000'000 / p.arg)),
           TimerKind::kDelay, false);
      return;
    case Route::kStatus:
    case Route::kFaulted: {
      int status = static_cast<int>(p.arg);
      bool no_body = status == 204 || status == 304;
      Respond(conn, status, kTextPlain, no_body ? "" : ReasonPhrase(status), 0,
              true);
      return;
    }
    case Route::kWsEcho:
    case Route::kWsStream:
      Upgrade(conn);
      return;
    case Route::kWsBadUpgrade:
      Respond(conn, 400, kTextPlain,
              "expected a WebSocket upgrade: GET with Upgrade: websocket, "
              "Connection: Upgrade, Sec-WebSocket-Key and "
              "Sec-WebSocket-Version: 13",
              0, true);
      return;
    case Route::kWsBadVersion:
      Respond(conn, 426, kTextPlain, "WebSocket version 13 only", 0, true,
              "\r\nSec-WebSocket-Version: 13");
      return;
    case Route::kSse:
      StartSse(conn);
      return;
    case Route::kUnauthorized:
      Respond(conn, 401, kTextPlain, "unauthorized", 0, true,
              "\r\nWWW-Authenticate: Basic realm=\"stampede\"");
      return;
    case Route::kNotFound:
      Respond(conn, 404, kTextPlain, "not found", 0, true);
      return;
    case Route::kBadParameter:
      Respond(conn, 400, kTextPlain, "bad parameter", 0, true);
      return;
    case Route::kApi:
    case Route::kRedirect:
    case Route::kCookiesSet:
    case Route::kCookiesEcho:
      DispatchKept(conn);
      return;
    default:
      DispatchControl(conn);
      return;
  }
}

// /redirect needs only Pending; the others read Conn::kept.
void EventLoop::DispatchKept(Conn& conn) {
  static const StateRequest* const kNone = new StateRequest();
  const StateRequest& kept = conn.kept != nullptr ? *conn.kept : *kNone;
  switch (conn.pending.route) {
    case Route::kApi: {
      StateResponse response;
      state_->Handle(kept, &response);
      Respond(conn, response.status, kJson, response.body, 0, true,
              response.headers);
      return;
    }
    case Route::kRedirect: {
      const uint64_t n = conn.pending.arg;
      const std::string location =
          n == 0 ? std::string("\r\nLocation: /ok")
                 : absl::StrCat("\r\nLocation: /redirect/", n - 1);
      Respond(conn, 302, kTextPlain, "found", 0, true, location);
      return;
    }
    case Route::kCookiesSet: {
      std::string headers, body;
      if (!CookiesToSet(kept.query, &headers, &body)) {
        Respond(conn, 400, kTextPlain,
                "expected ?NAME=VALUE[&...]: up to 16 cookies, NAME a token, "
                "VALUE cookie octets",
                0, true);
        return;
      }
      Respond(conn, 200, kJson, body, 0, true, headers);
      return;
    }
    default:  // kCookiesEcho
      Respond(conn, 200, kTextPlain, kept.cookie, 0, true);
      return;
  }
}

// /stats and /fault: answered at once, never counted as requests.
void EventLoop::DispatchControl(Conn& conn) {
  const Pending& p = conn.pending;
  std::string body;
  switch (p.route) {
    case Route::kStats: {
      StatsSnapshot snapshot;
      for (const auto& peer : *peers_) peer->stats().AddTo(&snapshot);
      state_->AddTo(&snapshot);
      body = snapshot.ToJson();
      // /capacity/N's queue, as the server saw it.
      if (size_t end = body.rfind('}'); end != std::string::npos) {
        body.insert(
            end, absl::StrFormat(
                     ",\"capacity_queued\":%d,"
                     "\"capacity_max_wait_ms\":%.3f",
                     faults_->serial_queued(),
                     static_cast<double>(faults_->serial_max_wait_ns()) / 1e6));
      }
      break;
    }
    case Route::kStatsReset:
      for (const auto& peer : *peers_) peer->stats().Reset();
      state_->ResetCounts();
      faults_->ResetSerialStats();
      body = "{\"reset\":true}";
      break;
    case Route::kFreeze:
      faults_->FreezeUntil(MonotonicNow() + absl::Milliseconds(p.arg));
      body = absl::StrCat("{\"frozen_ms\":", p.arg, "}");
      break;
    case Route::kFaultLatency:
      faults_->SetLatency(p.arg, p.arg2);
      body = absl::StrCat("{\"latency_min_ms\":", p.arg,
                          ",\"latency_max_ms\":", p.arg2, "}");
      break;
    case Route::kFaultStatus:
      faults_->SetStatus(static_cast<int>(p.arg), p.arg2);
      body = absl::StrCat("{\"status\":", p.arg,
                          ",\"percent\":", FormatPercent(p.arg2), "}");
      break;
    case Route::kFaultReset:
      faults_->SetReset(p.arg);
      body = absl::StrCat("{\"reset_percent\":", FormatPercent(p.arg), "}");
      break;
    case Route::kFaultWsClose:
      faults_->CloseWebSockets(static_cast<uint16_t>(p.arg));
      body = absl::StrCat("{\"ws_close\":", p.arg, "}");
      break;
    case Route::kFaultClear:
      faults_->Clear();
      body = "{\"cleared\":true}";
      break;
    default:
      return;
  }
  // Freezes and WebSocket closes concern what every loop holds already.
  if (p.route == Route::kFreeze || p.route == Route::kFaultWsClose ||
      p.route == Route::kFaultClear) {
    for (const auto& peer : *peers_) peer->Wake();
  }
  Respond(conn, 200, kJson, body, 0, false);
}

void EventLoop::Respond(Conn& conn, int status, absl::string_view content_type,
                        absl::string_view body, uint64_t x_bytes, bool count,
                        absl::string_view extra) {
  const Pending& p = conn.pending;
  absl::string_view connection = !p.keep_alive ? "\r\nConnection: close\r\n\r\n"
                                 : p.http10
                                     ? "\r\nConnection: keep-alive\r\n\r\n"
                                     : "\r\n\r\n";
  absl::StrAppend(&conn.out, "HTTP/1.1 ", status, " ", ReasonPhrase(status),
                  "\r\nContent-Type: ", content_type,
                  "\r\nContent-Length: ", body.size() + x_bytes, extra,
                  connection);
  if (!p.head) {
    conn.out.append(body.data(), body.size());
    if (x_bytes <= kInlineBodyMax) {
      conn.out.append(x_bytes, 'x');
    } else {
      conn.x_remaining = x_bytes;
    }
  }
  if (!p.keep_alive) conn.closing = true;
  if (count) stats_.CountRequest(conn.path, status);
  std::string().swap(conn.upgrade_headers);  // An upgrade refused, if any.
  conn.kept.reset();  // `body` and `extra` may point into it: used above.
}

void EventLoop::StartSse(Conn& conn) {
  const Pending& p = conn.pending;
  // HTTP/1.0 has no chunked coding: the end of the stream is the close.
  absl::StrAppend(&conn.out,
                  "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                  "Cache-Control: no-cache\r\n",
                  p.http10 ? "" : "Transfer-Encoding: chunked\r\n",
                  !p.keep_alive || p.http10 ? "Connection: close\r\n" : "",
                  "\r\n");
  stats_.CountRequest(conn.path, 200);
  conn.sse_left = p.head ? 0 : p.stream.count;
  conn.sse_id = 0;
  if (p.head) {
    if (!p.keep_alive || p.http10) conn.closing = true;
    return;
  }
  SendSse(conn, MonotonicNow());
}

// Sends the events due (`due`: when the next one was), then waits for the
// next one or ends the stream.
void EventLoop::SendSse(Conn& conn, absl::Duration due) {
  const Pending& p = conn.pending;
  const absl::Duration now = MonotonicNow();
  if (const absl::Duration frozen_until = faults_->frozen_until();
      now < frozen_until) {
    Wait(conn, frozen_until, TimerKind::kSse, /*held=*/true);
    return;
  }
  const absl::Duration every = absl::Milliseconds(p.stream.every_ms);
  do {
    if (conn.sse_left == 0) break;
    if (conn.Unsent() >= kOutHighWater) {  // The client reads slower.
      Wait(conn, now + kBackoff, TimerKind::kSse, false);
      return;
    }
    --conn.sse_left;
    ++conn.sse_id;
    const std::string event = absl::StrCat(
        "id: ", conn.sse_id, "\ndata: {\"n\":", conn.sse_id, "}\n\n");
    if (p.http10) {
      conn.out += event;
    } else {
      absl::StrAppendFormat(&conn.out, "%x\r\n%s\r\n", event.size(), event);
    }
    stats_.CountSseEvent();
  } while (every == absl::ZeroDuration());
  if (conn.sse_left > 0) {
    // Keep the cadence, unless a freeze broke it.
    if (now - due >= every) due = now;
    Wait(conn, due + every, TimerKind::kSse, false);
    return;
  }
  if (!p.http10) conn.out += "0\r\n\r\n";
  if (!p.keep_alive || p.http10) conn.closing = true;
}

}  // namespace stampede::target
