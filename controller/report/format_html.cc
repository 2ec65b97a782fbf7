// The HTML report of a RunResult: one file, no network access when opened.
// Tables are rendered here; the charts are drawn in the page by uPlot from
// the embedded data (the per-interval merged histograms themselves, so any
// percentile can be drawn).
#include <algorithm>
#include <cstdlib>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "common/histogram.h"
#include "common/units.h"
#include "controller/report/compare.h"
#include "controller/report/format.h"

namespace stampede::controller {

// controller/CMakeLists.txt embeds these (html_assets.cc).
extern const unsigned char kUplotJs[];
extern const size_t kUplotJsSize;
extern const unsigned char kUplotCss[];
extern const size_t kUplotCssSize;
extern const unsigned char kReportJs[];
extern const size_t kReportJsSize;
extern const unsigned char kReportCss[];
extern const size_t kReportCssSize;

namespace {

using common::FormatMillis;

absl::string_view Asset(const unsigned char* bytes, size_t size) {
  return absl::string_view(reinterpret_cast<const char*>(bytes), size);
}

std::string Html(const std::string& s) { return MarkupEscape(s); }

// A JSON string; '<' as \u003c, so the data cannot end its <script>.
std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
      absl::StrAppend(&out, absl::StrFormat("\\u%04x", c));
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out + "\"";
}

std::string Number(double v) {
  if (!std::isfinite(v)) return "null";
  return absl::StrFormat("%.6g", v);
}

// One point of the time series, possibly several intervals merged.
struct Point {
  double t = 0;
  double rps = 0, target = 0;
  int64_t errors = 0, vus = 0, in_flight = 0;
  uint32_t agents = 0;
  bool limited = false;
  std::string histogram;  // encoded
};

// The intervals as points, `k` per point (k > 1 when a long run must fit the
// size budget): rates averaged, counts summed, VUs and in-flight at their
// most, agents at their fewest, histograms merged.
std::vector<Point> PointsOf(const v1::RunResult& r, int k) {
  std::vector<Point> out;
  for (int i = 0; i < r.intervals_size(); i += k) {
    Point p;
    common::Histogram merged;
    int n = 0;
    p.agents = UINT32_MAX;
    for (int j = i; j < std::min(i + k, r.intervals_size()); ++j, ++n) {
      const v1::IntervalResult& in = r.intervals(j);
      p.t = in.t();
      p.rps += in.rps();
      p.target += in.target_rps();
      p.errors += in.errors();
      p.vus = std::max(p.vus, in.vus());
      p.in_flight = std::max(p.in_flight, in.in_flight());
      p.agents = std::min(p.agents, in.agents_reported());
      p.limited = p.limited || in.generator_limited();
      if (k == 1) {
        p.histogram = in.latency_histogram();
      } else if (!in.latency_histogram().empty()) {
        merged.MergeEncoded(in.latency_histogram()).IgnoreError();
      }
    }
    p.rps /= n;
    p.target /= n;
    if (k > 1) p.histogram = merged.Encode();
    out.push_back(std::move(p));
  }
  return out;
}

std::string SeriesJson(const std::vector<Point>& points, double interval_s) {
  std::string t, rps, target, errors, vus, in_flight, agents, limited, h;
  for (const Point& p : points) {
    const char* sep = t.empty() ? "" : ",";
    absl::StrAppend(&t, sep, Number(p.t));
    absl::StrAppend(&rps, sep, Number(p.rps));
    absl::StrAppend(&target, sep, Number(p.target));
    absl::StrAppend(&errors, sep, p.errors);
    absl::StrAppend(&vus, sep, p.vus);
    absl::StrAppend(&in_flight, sep, p.in_flight);
    absl::StrAppend(&agents, sep, p.agents);
    absl::StrAppend(&limited, sep, p.limited ? 1 : 0);
    absl::StrAppend(&h, sep, "\"", absl::Base64Escape(p.histogram), "\"");
  }
  return absl::StrCat("\"interval_s\":", Number(interval_s), ",\"t\":[", t,
                      "],\"rps\":[", rps, "],\"target\":[", target,
                      "],\"errors\":[", errors, "],\"vus\":[", vus,
                      "],\"in_flight\":[", in_flight, "],\"agents\":[", agents,
                      "],\"limited\":[", limited, "],\"h\":[", h, "]");
}

// A run's latency over all its requests, encoded.
std::string RunHistogram(const v1::RunResult& r) {
  common::Histogram all;
  for (const v1::ScenarioResult& sc : r.scenarios()) {
    for (const v1::RequestResult& q : sc.requests()) {
      if (!q.latency_histogram().empty())
        all.MergeEncoded(q.latency_histogram()).IgnoreError();
    }
  }
  return all.Encode();
}

std::string DataJson(const v1::RunResult& r, const v1::RunResult* baseline) {
  // The series at full resolution, or merged k intervals a point until it
  // fits the budget.
  const double interval_s =
      r.intervals_size() > 1 ? r.intervals(1).t() - r.intervals(0).t() : 1;
  std::string series;
  for (int k = 1;; k = k < 5 ? k + 1 : k * 2) {
    series = SeriesJson(PointsOf(r, k), interval_s * k);
    if (series.size() <= kHtmlSeriesBudget || k >= r.intervals_size()) break;
  }
  std::string requests;
  for (const v1::ScenarioResult& sc : r.scenarios()) {
    for (const v1::RequestResult& q : sc.requests()) {
      absl::StrAppend(&requests, requests.empty() ? "" : ",",
                      "{\"s\":", JsonString(sc.name()),
                      ",\"r\":", JsonString(q.name()), ",\"h\":\"",
                      absl::Base64Escape(q.latency_histogram()), "\"}");
    }
  }
  std::string out = absl::StrCat("{", series, ",\"requests\":[", requests, "]");
  if (baseline != nullptr) {
    absl::StrAppend(&out, ",\"baseline\":\"",
                    absl::Base64Escape(RunHistogram(*baseline)), "\"");
  }
  return out + "}";
}

std::string Table(const std::vector<std::string>& header,
                  const std::vector<std::vector<std::string>>& rows,
                  const std::vector<std::string>& row_attrs = {},
                  bool numbers = true) {
  std::string out = "<table><tr>";
  for (const std::string& h : header) absl::StrAppend(&out, "<th>", h, "</th>");
  out += "</tr>\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    absl::StrAppend(&out, "<tr",
                    i < row_attrs.size() ? absl::StrCat(" ", row_attrs[i]) : "",
                    ">");
    for (const std::string& cell : rows[i]) {
      // Cells that start with a digit (or '-', a sign) are numbers.
      const bool numeric = numbers && !cell.empty() &&
                           (std::isdigit(static_cast<unsigned char>(cell[0])) ||
                            (cell[0] == '-' && cell.size() > 1));
      absl::StrAppend(&out, numeric ? "<td class=n>" : "<td>", cell, "</td>");
    }
    out += "</tr>\n";
  }
  return out + "</table>\n";
}

std::string Pct(double fraction) {
  return absl::StrFormat("%.2f%%", fraction * 100);
}

}  // namespace

std::string FormatLiveHtml(const std::string& title, bool can_stop) {
  return absl::StrCat(
      "<!doctype html>\n<html lang=en><head><meta charset=utf-8>\n"
      // Only its own events: nothing from elsewhere.
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src "
      "'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
      "connect-src 'self'; img-src data:\">\n<title>Live: ",
      Html(title), "</title>\n<style>\n", Asset(kUplotCss, kUplotCssSize), "\n",
      Asset(kReportCss, kReportCssSize),
      "</style></head>\n<body>\n<h1>Live: ", Html(title),
      "</h1>\n<p><span class=\"verdict aborted\" id=verdict>running</span> "
      "<span id=status class=note>connecting</span>",
      can_stop ? " <button id=stop>Stop the run</button>" : "",
      "</p>\n<div class=chart id=chart-rate></div><div class=chart "
      "id=chart-latency></div><div class=chart id=chart-errors></div><div "
      "class=chart id=chart-users></div>\n<h2>Latency distribution</h2>\n"
      "<p><select id=pick><option value=\"\">whole run so "
      "far</option></select></p>\n<div class=chart "
      "id=chart-spectrum></div>\n<script id=stampede-data "
      "type=\"application/json\">{\"live\":true,\"interval_s\":1,\"t\":[],"
      "\"rps\":[],\"target\":[],\"errors\":[],\"vus\":[],\"in_flight\":[],"
      "\"agents\":[],\"limited\":[],\"h\":[],\"requests\":[]}</script>\n"
      "<script>",
      Asset(kUplotJs, kUplotJsSize), "</script>\n<script>",
      Asset(kReportJs, kReportJsSize), "</script>\n</body></html>\n");
}

std::string FormatHtml(const v1::RunResult& r, const v1::RunResult* baseline) {
  const std::string title = r.plan_name().empty() ? "run" : r.plan_name();
  std::string out = absl::StrCat(
      "<!doctype html>\n<html lang=en><head><meta charset=utf-8>\n"
      // Nothing may leave the page: no fetch, no image, font or script from
      // elsewhere.
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src "
      "'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
      "img-src data:\">\n<meta name=viewport "
      "content=\"width=device-width\">\n<title>Load test report: ",
      Html(title), "</title>\n<style>\n", Asset(kUplotCss, kUplotCssSize), "\n",
      Asset(kReportCss, kReportCssSize),
      "</style></head>\n<body>\n<h1>Load test report: ", Html(title),
      "</h1>\n<p><span class=\"verdict ", Html(r.status()), "\" id=verdict>",
      Html(r.status()), "</span> exit ", r.exit_code(),
      r.message().empty() ? "" : absl::StrCat(": ", Html(r.message())),
      "</p>\n");

  // Test Configuration, as the teams' template has it.
  std::string host_text;
  for (const std::string& h : TargetOrigins(r))
    absl::StrAppend(&host_text, host_text.empty() ? "" : ", ", "<code>",
                    Html(h), "</code>");
  out += "<h2>Test Configuration</h2>\n";
  out += Table(
      {"", ""},
      {{"Test Type", r.test_type().empty() ? "-" : Html(r.test_type())},
       {"Duration", absl::StrFormat("%.1f s", r.duration_s())},
       {"Peak VUs", Html(PeakLoadText(r))},
       {"Target Host", host_text.empty() ? "-" : host_text},
       {"Run", absl::StrCat("<code>", Html(r.run_id()), "</code>")},
       {"Started", Html(r.started_at())},
       {"Agents", absl::StrCat(r.agents_size())},
       {"Plan", absl::StrCat("<code>", Html(r.plan_fingerprint()), "</code>")},
       {"Command", absl::StrCat("<code>", Html(r.command_line()), "</code>")}},
      {}, false);

  out += "<h2>Results Summary</h2>\n";
  if (r.thresholds_size() == 0) {
    out += "<p>No thresholds: nothing was judged.</p>\n";
  } else {
    std::vector<std::vector<std::string>> rows;
    for (const v1::ThresholdResult& t : r.thresholds()) {
      const std::string verdict = ThresholdVerdict(t);
      const std::string note = ThresholdNote(t);
      rows.push_back(
          {absl::StrCat("<code>",
                        Html(t.metric().empty() ? t.expression() : t.metric()),
                        "</code>"),
           absl::StrCat("<code>", Html(t.target()), "</code>"),
           Html(t.actual_text()),
           absl::StrCat("<span class=", verdict, ">", verdict, "</span>",
                        note.empty() ? ""
                                     : absl::StrCat(" <span class=note>",
                                                    Html(note), "</span>"))});
    }
    out += Table({"Metric", "Target", "Actual", "Status"}, rows);
  }

  out +=
      "<h2>Over time</h2>\n<p class=note>Generator-limited intervals are "
      "shaded red: their latencies are partly the generator's own.</p>\n"
      "<div class=chart id=chart-rate></div><div class=chart "
      "id=chart-latency></div><div class=chart id=chart-errors></div><div "
      "class=chart id=chart-users></div>\n<h2>Latency distribution</h2>\n"
      "<p><label>Request <select id=pick><option value=\"\">whole "
      "run</option>";
  int index = 0;
  for (const v1::ScenarioResult& sc : r.scenarios()) {
    for (const v1::RequestResult& q : sc.requests()) {
      absl::StrAppend(&out, "<option value=\"", index++, "\">", Html(sc.name()),
                      " / ", Html(q.name()), "</option>");
    }
  }
  out += "</select></label></p>\n<div class=chart id=chart-spectrum></div>\n";

  out += "<h2>Requests</h2>\n";
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> attrs;
  index = 0;
  auto summary_row = [](const std::string& scenario, const std::string& request,
                        const v1::Summary& s) {
    const v1::LatencySummary& l = s.latency_ms();
    return std::vector<std::string>{Html(scenario),
                                    Html(request),
                                    absl::StrCat(s.requests()),
                                    absl::StrFormat("%.1f", s.rps()),
                                    Pct(s.error_rate()),
                                    FormatMillis(l.p50()),
                                    FormatMillis(l.p95()),
                                    FormatMillis(l.p99()),
                                    FormatMillis(l.max())};
  };
  for (const v1::ScenarioResult& sc : r.scenarios()) {
    for (const v1::RequestResult& q : sc.requests()) {
      rows.push_back(summary_row(sc.name(), q.name(), q.summary()));
      attrs.push_back(absl::StrCat("data-request=\"", index++, "\""));
    }
  }
  rows.push_back(summary_row("total", "", r.summary()));
  attrs.push_back("id=total");
  out += Table({"scenario", "request", "requests", "rps", "errors", "p50 ms",
                "p95 ms", "p99 ms", "max ms"},
               rows, attrs);

  // Phases, streaming and WebSocket, when the run had them.
  std::vector<std::vector<std::string>> phases, streams, sockets;
  for (const v1::ScenarioResult& sc : r.scenarios()) {
    for (const v1::RequestResult& q : sc.requests()) {
      const v1::Summary& s = q.summary();
      if (s.has_phases_ms()) {
        const v1::PhaseTimings& p = s.phases_ms();
        phases.push_back(
            {Html(sc.name()), Html(q.name()), absl::StrCat(p.new_connections()),
             FormatMillis(p.dns().p50()), FormatMillis(p.connect().p50()),
             FormatMillis(p.tls().p50()), FormatMillis(p.ttfb().p50()),
             FormatMillis(p.ttfb().p95())});
      }
      if (s.has_streaming()) {
        streams.push_back({Html(sc.name()), Html(q.name()),
                           absl::StrCat(s.streaming().events()),
                           FormatMillis(s.streaming().ttlb_ms().p50()),
                           FormatMillis(s.streaming().ttlb_ms().p99())});
      }
      if (s.has_websocket()) {
        const v1::WebSocketSummary& ws = s.websocket();
        sockets.push_back(
            {Html(sc.name()), Html(q.name()), absl::StrCat(ws.connections()),
             absl::StrCat(ws.messages_out()), absl::StrCat(ws.messages_in()),
             FormatMillis(ws.rtt_ms().p50()), FormatMillis(ws.rtt_ms().p99())});
      }
    }
  }
  if (!phases.empty()) {
    out += "<h2>Phases</h2>\n";
    out += Table({"scenario", "request", "new connections", "dns p50 ms",
                  "connect p50 ms", "tls p50 ms", "ttfb p50 ms", "ttfb p95 ms"},
                 phases);
  }
  if (!streams.empty()) {
    out += "<h2>Streaming</h2>\n";
    out +=
        Table({"scenario", "request", "events", "ttlb p50 ms", "ttlb p99 ms"},
              streams);
  }
  if (!sockets.empty()) {
    out += "<h2>WebSocket</h2>\n";
    out += Table({"scenario", "request", "connections", "messages out",
                  "messages in", "rtt p50 ms", "rtt p99 ms"},
                 sockets);
  }

  out += "<h2>Agents</h2>\n";
  std::vector<std::vector<std::string>> agents;
  for (const v1::AgentResult& a : r.agents()) {
    agents.push_back({Html(a.id()), Html(a.host()), Html(a.state()),
                      Pct(a.share()), absl::StrCat(a.requests()),
                      absl::StrCat(a.errors()),
                      absl::StrFormat("%.3f", a.clock_offset_ms()),
                      a.first_send_late_ms() < 0
                          ? "-"
                          : absl::StrFormat("%.3f", a.first_send_late_ms())});
  }
  out += Table({"agent", "host", "state", "share", "requests", "errors",
                "clock offset ms", "first send late ms"},
               agents);

  std::string issues;
  for (const v1::ThresholdResult& t : r.thresholds()) {
    if (t.passed()) continue;
    absl::StrAppend(&issues, "<li>", ThresholdVerdict(t), ": <code>",
                    Html(t.expression()), "</code> (actual ",
                    Html(t.actual_text()),
                    t.failed_at_s() > 0
                        ? absl::StrFormat(", failed at %gs", t.failed_at_s())
                        : "",
                    ")</li>\n");
  }
  std::vector<std::pair<int64_t, std::string>> errors;
  for (const auto& [id, n] : r.summary().error_ids()) errors.push_back({n, id});
  std::sort(errors.rbegin(), errors.rend());
  for (const auto& [n, id] : errors)
    absl::StrAppend(&issues, "<li>", n, " &times; <code>", Html(id),
                    "</code></li>\n");
  if (r.generator_limited_intervals() > 0) {
    absl::StrAppend(&issues,
                    "<li>the generator, not the target, was the limit "
                    "in ",
                    r.generator_limited_intervals(), " of ", r.intervals_size(),
                    " intervals</li>\n");
  }
  for (const v1::AgentResult& a : r.agents()) {
    if (a.state() != "finished")
      absl::StrAppend(&issues, "<li>agent <code>", Html(a.id()), "</code> was ",
                      Html(a.state()), "</li>\n");
  }
  absl::StrAppend(&out, "<h2>Issues Found</h2>\n",
                  issues.empty() ? "<p>None.</p>\n"
                                 : absl::StrCat("<ul>", issues, "</ul>\n"));
  if (baseline != nullptr) {
    Comparison c = Compare(*baseline, r, CompareOptions());
    std::string text;
    for (const std::string& w : c.warnings)
      absl::StrAppend(&text, "WARNING: ", w, "\n");
    absl::StrAppend(&text, c.table);
    for (const std::string& g : c.regressions)
      absl::StrAppend(&text, "REGRESSION: ", g, "\n");
    if (!c.refused && c.regressions.empty()) text += "no regression\n";
    absl::StrAppend(&out, "<h2>Against the baseline</h2>\n<p>Run <code>",
                    Html(baseline->run_id()),
                    "</code> (dashed in the latency distribution).</p>\n<pre "
                    "id=compare>",
                    Html(text), "</pre>\n");
  }

  absl::StrAppend(&out, "<script id=stampede-data type=\"application/json\">",
                  DataJson(r, baseline), "</script>\n<script>",
                  Asset(kUplotJs, kUplotJsSize), "</script>\n<script>",
                  Asset(kReportJs, kReportJsSize),
                  "</script>\n</body></html>\n");
  return out;
}

}  // namespace stampede::controller
