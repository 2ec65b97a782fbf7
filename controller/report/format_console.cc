#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/units.h"
#include "controller/report/format.h"

namespace stampede::controller {

std::string EngineTitle(const std::string& engine) {
  if (engine == "http1") return "native HTTP/1.1";
  if (engine == "h2") return "native HTTP/2";
  if (engine == "websocket") return "native WebSocket";
  if (engine == "curl") return "libcurl";
  return engine;
}

namespace {

using common::FormatMillis;

std::string Row(const std::vector<std::string>& cells,
                const std::vector<size_t>& widths) {
  std::string out = " ";
  for (size_t i = 0; i < cells.size(); ++i) {
    // The first two columns are names (left-aligned); numbers are
    // right-aligned.
    out += i < 2 ? absl::StrFormat(" %-*s", widths[i], cells[i])
                 : absl::StrFormat(" %*s", widths[i], cells[i]);
  }
  return out + "\n";
}

std::vector<std::string> SummaryCells(std::string scenario, std::string request,
                                      const v1::Summary& s) {
  const v1::LatencySummary& l = s.latency_ms();
  return {std::move(scenario),
          std::move(request),
          absl::StrCat(s.requests()),
          absl::StrFormat("%.1f", s.rps()),
          absl::StrFormat("%.2f%%", s.error_rate() * 100),
          FormatMillis(l.p50()),
          FormatMillis(l.p90()),
          FormatMillis(l.p95()),
          FormatMillis(l.p99()),
          FormatMillis(l.max())};
}

}  // namespace

std::string FormatLiveLine(const v1::IntervalResult& i, double p95_ms,
                           size_t agents_expected) {
  double error_pct = i.requests() > 0
                         ? 100.0 * static_cast<double>(i.errors()) /
                               static_cast<double>(i.requests())
                         : 0;
  // Closed model only: VUs (target and active) say more than a rate.
  const bool closed_only = i.target_rps() == 0 && i.target_vus() > 0;
  std::string line = absl::StrFormat(
      "%5.0fs  %s  achieved %8.1f/s  p50 %7sms  p95 %7sms  p99 "
      "%7sms  "
      "err %6.2f%%  agents %u/%zu",
      i.t(),
      closed_only
          ? absl::StrFormat("vus %5.0f (%5d active)", i.target_vus(), i.vus())
          : absl::StrFormat("target %8.1f/s", i.target_rps()),
      i.rps(), FormatMillis(i.p50_ms()), FormatMillis(p95_ms),
      FormatMillis(i.p99_ms()), error_pct, i.agents_reported(),
      agents_expected);
  if (i.vus() > 0 && !closed_only) absl::StrAppend(&line, "  vus ", i.vus());
  if (i.generator_limited()) {
    absl::StrAppend(&line, "  WARNING generator-limited: ", i.generator_note());
  }
  return line + "\n";
}

namespace {

std::string Table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths(rows[0].size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i)
      widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) out += Row(row, widths);
  return out;
}

}  // namespace

std::string TextTable(const std::vector<std::vector<std::string>>& rows) {
  return Table(rows);
}

namespace {

// Where the time went, for the requests that had phases timed.
std::string PhaseTable(const v1::RunResult& r) {
  auto pair = [](const v1::LatencySummary& l, bool timed) -> std::string {
    return timed ? absl::StrFormat("%.3g / %.3g", l.p50(), l.p95()) : "-";
  };
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"scenario", "request", "new conns", "connect p50/p95",
                  "tls p50/p95", "ttfb p50/p95", "ttfb p99"});
  for (const v1::ScenarioResult& sc : r.scenarios()) {
    for (const v1::RequestResult& q : sc.requests()) {
      if (!q.summary().has_phases_ms()) continue;
      const v1::PhaseTimings& p = q.summary().phases_ms();
      rows.push_back(
          {sc.name(), q.name(), absl::StrCat(p.new_connections()),
           pair(p.connect(), p.has_connect()), pair(p.tls(), p.has_tls()),
           pair(p.ttfb(), p.has_ttfb()),
           p.has_ttfb() ? absl::StrFormat("%.3g", p.ttfb().p99()) : "-"});
    }
  }
  if (rows.size() == 1) return "";
  return "\n  phases (ms):\n" + Table(rows);
}

// WebSocket connections and streamed responses, for the requests that had
// them.
std::string StreamTable(const v1::RunResult& r) {
  auto three = [](const v1::LatencySummary& l) {
    return absl::StrFormat("%.4g / %.4g / %.4g", l.p50(), l.p95(), l.p99());
  };
  std::vector<std::vector<std::string>> ws_rows;
  ws_rows.push_back({"scenario", "request", "connections", "msgs out",
                     "msgs in", "rtt p50/p95/p99", "session p50 s",
                     "close codes"});
  std::vector<std::vector<std::string>> stream_rows;
  stream_rows.push_back({"scenario", "request", "events", "ttlb p50/p95/p99"});
  for (const v1::ScenarioResult& sc : r.scenarios()) {
    for (const v1::RequestResult& q : sc.requests()) {
      const v1::Summary& s = q.summary();
      if (s.has_websocket()) {
        const v1::WebSocketSummary& ws = s.websocket();
        std::map<std::string, int64_t> codes(ws.close_codes().begin(),
                                             ws.close_codes().end());
        std::string closes;
        for (const auto& [code, n] : codes)
          absl::StrAppend(&closes, closes.empty() ? "" : " ", code, ":", n);
        ws_rows.push_back(
            {sc.name(), q.name(), absl::StrCat(ws.connections()),
             absl::StrCat(ws.messages_out()), absl::StrCat(ws.messages_in()),
             ws.has_rtt_ms() ? three(ws.rtt_ms()) : "-",
             ws.has_session_ms()
                 ? absl::StrFormat("%.3g", ws.session_ms().p50() / 1000)
                 : "-",
             closes.empty() ? "-" : closes});
      }
      if (s.has_streaming()) {
        stream_rows.push_back(
            {sc.name(), q.name(), absl::StrCat(s.streaming().events()),
             s.streaming().has_ttlb_ms() ? three(s.streaming().ttlb_ms())
                                         : "-"});
      }
    }
  }
  std::string out;
  if (ws_rows.size() > 1)
    absl::StrAppend(&out, "\n  websocket (ms):\n", Table(ws_rows));
  if (stream_rows.size() > 1)
    absl::StrAppend(&out, "\n  streaming (ms):\n", Table(stream_rows));
  return out;
}

}  // namespace

std::string ThresholdNote(const v1::ThresholdResult& t) {
  std::string note;
  if (t.worst_window_end_s() > 0) {
    absl::StrAppend(&note, "worst window ending at ",
                    absl::StrFormat("%g", t.worst_window_end_s()), "s");
  }
  // A threshold that passed in the end (an rps one low during the ramp) does
  // not read "failed".
  if (t.failed_at_s() > 0 && (!t.passed() || t.aborted())) {
    absl::StrAppend(&note, note.empty() ? "" : "; ", "failed at ",
                    absl::StrFormat("%g", t.failed_at_s()), "s",
                    t.aborted() ? ", aborted the run" : "");
  }
  return note;
}

std::string ThresholdVerdict(const v1::ThresholdResult& t) {
  if (t.passed()) return "PASS";
  return t.severity() == "warn" ? "WARN" : "FAIL";
}

std::string FormatSummary(const v1::RunResult& r) {
  std::string out;
  const v1::Summary& s = r.summary();
  absl::StrAppend(&out, "\n", r.plan_name().empty() ? "run" : r.plan_name(),
                  " (run ", r.run_id(), "): ", s.requests(), " requests in ",
                  absl::StrFormat("%.1fs", r.duration_s()), ", ",
                  absl::StrFormat("%.1f/s", s.rps()), ", ", s.errors(),
                  " errors (", absl::StrFormat("%.2f%%", s.error_rate() * 100),
                  ")\n\n");

  std::vector<std::vector<std::string>> rows;
  rows.push_back({"scenario", "request", "requests", "rps", "errors", "p50 ms",
                  "p90 ms", "p95 ms", "p99 ms", "max ms"});
  for (const v1::ScenarioResult& sc : r.scenarios()) {
    for (const v1::RequestResult& q : sc.requests()) {
      rows.push_back(SummaryCells(sc.name(), q.name(), q.summary()));
    }
    if (sc.requests_size() > 1)
      rows.push_back(SummaryCells(sc.name(), "(all)", sc.summary()));
  }
  rows.push_back(SummaryCells("total", "", s));
  out += Table(rows);
  out += PhaseTable(r) + StreamTable(r);

  std::string engines;
  for (const v1::ScenarioResult& sc : r.scenarios()) {
    if (sc.engine().empty()) continue;
    absl::StrAppend(&engines, "    ", sc.name(), ": ", EngineTitle(sc.engine()),
                    sc.engine_why().empty() ? "" : " (", sc.engine_why(),
                    sc.engine_why().empty() ? "" : ")", "\n");
  }
  if (!engines.empty()) out += "\n  engines:\n" + engines;

  if (r.setup().ran()) {
    const v1::SetupResult& su = r.setup();
    out += su.passed()
               ? absl::StrCat("\n  setup: passed on ", su.agent(),
                              su.captured().empty() ? "" : ", captured ",
                              absl::StrJoin(su.captured(), ", "), "\n")
               : absl::StrCat("\n  setup: FAILED on ", su.agent(), " at ",
                              su.failed_step(), ": ", su.error(), "\n");
  }

  std::string flows;
  for (const v1::ScenarioResult& sc : r.scenarios()) {
    const v1::FlowResult& f = sc.flows();
    if (!f.flow()) continue;
    absl::StrAppend(&flows, "    ", sc.name(), ": ", f.started(), " started, ",
                    f.completed(), " completed, ", f.aborted(), " aborted");
    if (f.dropped() > 0) absl::StrAppend(&flows, ", ", f.dropped(), " dropped");
    if (f.skipped_steps() > 0)
      absl::StrAppend(&flows, " (", f.skipped_steps(), " steps not sent)");
    if (f.data_exhausted() > 0)
      absl::StrAppend(&flows, ", ", f.data_exhausted(),
                      " not started: data used up");
    flows += "\n";
    const v1::Summary& cs = sc.summary();
    if (cs.checks_passed() + cs.checks_failed() > 0) {
      absl::StrAppend(
          &flows, "      checks: ", cs.checks_passed(), " passed, ",
          cs.checks_failed(), " failed",
          absl::StrFormat(" (%.2f%% passed)",
                          100.0 * static_cast<double>(cs.checks_passed()) /
                              static_cast<double>(cs.checks_passed() +
                                                  cs.checks_failed())));
      std::map<std::string, int64_t> by(cs.checks_failed_by().begin(),
                                        cs.checks_failed_by().end());
      for (const auto& [name, n] : by)
        absl::StrAppend(&flows, "\n        ", name, ": ", n, " failed");
      flows += "\n";
    }
  }
  if (!flows.empty()) out += "\n  flows:\n" + flows;

  std::string data;
  for (const v1::DataResult& d : r.data()) {
    absl::StrAppend(&data, "    ", d.name(), " (", d.mode(), "): ", d.rows(),
                    " rows, taken ", d.taken(), " times");
    if (d.mode() == "unique")
      absl::StrAppend(&data, "; ", d.used(), " used, ", d.left(), " left");
    data += "\n";
  }
  if (!data.empty()) out += "\n  data:\n" + data;

  if (!s.error_ids().empty()) {
    out += "\n  errors by id:";
    std::map<std::string, int64_t> errors(s.error_ids().begin(),
                                          s.error_ids().end());
    for (const auto& [id, n] : errors) absl::StrAppend(&out, " ", id, "=", n);
    out += "\n";
  }
  int64_t local_failures = 0;
  for (const auto& [id, n] : s.error_ids()) {
    if (id.rfind("local_", 0) == 0) local_failures += n;
  }
  if (local_failures > 0) {
    absl::StrAppend(
        &out, "\n  WARNING: the generator failed ", local_failures,
        " sends on its own limits (local_*); the target never saw them and "
        "they are not in the counts above\n");
  }
  if (r.thresholds_size() > 0) {
    out += "\n  thresholds:\n";
    for (const v1::ThresholdResult& t : r.thresholds()) {
      const std::string note = ThresholdNote(t);
      absl::StrAppend(&out, "    ", ThresholdVerdict(t), "  ", t.expression(),
                      "  (actual ", t.actual_text(), note.empty() ? "" : "; ",
                      note, ")\n");
    }
  }
  out += "\n  agents:";
  for (const v1::AgentResult& a : r.agents()) {
    absl::StrAppend(&out, " ", a.id(), "=", a.requests(),
                    a.state() == "finished" ? "" : " ",
                    a.state() == "finished" ? "" : a.state());
  }
  if (r.agents_size() > 1) {
    absl::StrAppend(&out, "  (start spread ",
                    absl::StrFormat("%.3g", r.start_spread_ms()), " ms)");
  }
  if (r.generator_limited_intervals() > 0) {
    absl::StrAppend(
        &out, "\n\n  WARNING: the generator, not the target, was the limit in ",
        r.generator_limited_intervals(), " of ", r.intervals_size(),
        " intervals (see the live lines, or intervals[].generator_note)");
  }
  if (r.insecure_control_plane()) {
    out +=
        "\n\n  WARNING: the control plane left loopback unencrypted "
        "(--insecure)";
  }
  out += FormatCapacityText(r);
  absl::StrAppend(
      &out, "\n\n  result: ", r.status(), " (exit ", r.exit_code(), ")",
      r.message().empty() ? "" : absl::StrCat(": ", r.message()), "\n");
  return out;
}

}  // namespace stampede::controller
