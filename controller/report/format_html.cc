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
  int64_t requests = 0, errors = 0, vus = 0, in_flight = 0;
  uint32_t agents = 0;
  bool limited = false;
  std::map<std::string, int64_t> error_ids;
  std::string histogram;  // encoded
};

// The k that merges a run's intervals into few enough points: 1, 2, 3, 4,
// 5, 10, 20, ...
int NextK(int k) { return k < 5 ? k + 1 : k * 2; }

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
      p.requests += in.requests();
      p.errors += in.errors();
      for (const auto& [id, count] : in.error_ids()) p.error_ids[id] += count;
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

// `value` of each of `items`, as a JSON array.
template <typename T, typename Fn>
std::string Array(const std::vector<T>& items, Fn&& value) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i)
    absl::StrAppend(&out, i == 0 ? "" : ",", value(items[i]));
  return out + "]";
}

// Errors by id as series: the five most frequent ids, then "other".
std::string ErrorIdsJson(const std::vector<Point>& points) {
  std::map<std::string, int64_t> totals;
  for (const Point& p : points)
    for (const auto& [id, n] : p.error_ids) totals[id] += n;
  std::vector<std::pair<int64_t, std::string>> ranked;
  for (const auto& [id, n] : totals) ranked.push_back({-n, id});
  std::sort(ranked.begin(), ranked.end());
  constexpr size_t kShown = 5;
  std::string out;
  for (size_t k = 0; k < std::min(ranked.size(), kShown + 1); ++k) {
    const bool other = k == kShown;
    const std::string& id = ranked[k].second;
    absl::StrAppend(&out, k == 0 ? "" : ",",
                    "{\"id\":", JsonString(other ? "other" : id), ",\"n\":",
                    Array(points,
                          [&](const Point& p) -> int64_t {
                            if (!other) {
                              auto it = p.error_ids.find(id);
                              return it == p.error_ids.end() ? 0 : it->second;
                            }
                            int64_t shown = 0;
                            for (size_t j = 0; j < kShown; ++j) {
                              auto it = p.error_ids.find(ranked[j].second);
                              if (it != p.error_ids.end()) shown += it->second;
                            }
                            int64_t all = 0;
                            for (const auto& [any, n] : p.error_ids) all += n;
                            return all - shown;
                          }),
                    "}");
  }
  return absl::StrCat("[", out, "]");
}

std::string SeriesJson(const std::vector<Point>& points, double interval_s) {
  std::string h;
  for (const Point& p : points)
    absl::StrAppend(&h, h.empty() ? "\"" : ",\"",
                    absl::Base64Escape(p.histogram), "\"");
  using P = const Point&;
  return absl::StrCat(
      "\"interval_s\":", Number(interval_s),
      ",\"t\":", Array(points, [](P p) { return Number(p.t); }),
      ",\"rps\":", Array(points, [](P p) { return Number(p.rps); }),
      ",\"target\":", Array(points, [](P p) { return Number(p.target); }),
      ",\"n\":", Array(points, [](P p) { return p.requests; }),
      ",\"errors\":", Array(points, [](P p) { return p.errors; }),
      ",\"error_ids\":", ErrorIdsJson(points),
      ",\"vus\":", Array(points, [](P p) { return p.vus; }),
      ",\"in_flight\":", Array(points, [](P p) { return p.in_flight; }),
      ",\"agents\":", Array(points, [](P p) { return p.agents; }),
      ",\"limited\":", Array(points, [](P p) { return p.limited ? 1 : 0; }),
      ",\"h\":[", h, "]");
}

// Every request name's series, `k` intervals a point: "rq_t" (each point's
// end), "rq_span" (how many intervals it holds) and per request (flat, in
// plan order) its counts, errors and p50/p90/p95/p99/max in ms (null where
// it had none). Empty strings when the result has no per-request data.
struct RequestSeries {
  std::string head;
  std::vector<std::string> per_request;
  size_t size() const {
    size_t n = head.size();
    for (const std::string& s : per_request) n += s.size();
    return n;
  }
};

RequestSeries RequestSeriesOf(const v1::RunResult& r, int k) {
  std::vector<int> offset;
  int names = 0;
  for (const v1::ScenarioResult& sc : r.scenarios()) {
    offset.push_back(names);
    names += sc.requests_size();
  }
  bool any = false;
  for (const v1::IntervalResult& in : r.intervals())
    any = any || in.by_request_size() > 0;
  RequestSeries out;
  if (!any) return out;
  struct Acc {
    int64_t n = 0, errors = 0;
    common::Histogram h;
  };
  constexpr double kPcts[] = {50, 90, 95, 99};
  std::vector<std::string> n(names), errors(names);
  std::vector<std::vector<std::string>> cols(5,
                                             std::vector<std::string>(names));
  std::string t, span;
  for (int i = 0; i < r.intervals_size(); i += k) {
    std::vector<Acc> acc(names);
    int held = 0;
    for (int j = i; j < std::min(i + k, r.intervals_size()); ++j, ++held) {
      const v1::IntervalResult& in = r.intervals(j);
      for (const v1::RequestInterval& q : in.by_request()) {
        if (q.scenario() >= offset.size() ||
            static_cast<int>(q.request()) >=
                r.scenarios(static_cast<int>(q.scenario())).requests_size())
          continue;
        Acc& a = acc[offset[q.scenario()] + static_cast<int>(q.request())];
        a.n += q.requests();
        a.errors += q.errors();
        if (!q.latency_histogram().empty())
          a.h.MergeEncoded(q.latency_histogram()).IgnoreError();
      }
    }
    const char* sep = t.empty() ? "" : ",";
    absl::StrAppend(
        &t, sep,
        Number(r.intervals(std::min(i + k, r.intervals_size()) - 1).t()));
    absl::StrAppend(&span, sep, held);
    for (int q = 0; q < names; ++q) {
      const Acc& a = acc[q];
      absl::StrAppend(&n[q], sep, a.n);
      absl::StrAppend(&errors[q], sep, a.errors);
      for (int c = 0; c < 5; ++c) {
        const int64_t us = c < 4 ? a.h.ValueAtPercentile(kPcts[c]) : a.h.Max();
        absl::StrAppend(&cols[c][q], sep,
                        a.h.Count() == 0 ? "null" : Number(us / 1000.0));
      }
    }
  }
  const double interval_s =
      r.intervals_size() > 1 ? r.intervals(1).t() - r.intervals(0).t() : 1;
  out.head = absl::StrCat(",\"rq_interval_s\":", Number(interval_s),
                          ",\"rq_t\":[", t, "],\"rq_span\":[", span, "]");
  constexpr const char* kNames[] = {"p50", "p90", "p95", "p99", "max"};
  for (int q = 0; q < names; ++q) {
    std::string one =
        absl::StrCat(",\"n\":[", n[q], "],\"errors\":[", errors[q], "]");
    for (int c = 0; c < 5; ++c)
      absl::StrAppend(&one, ",\"", kNames[c], "\":[", cols[c][q], "]");
    out.per_request.push_back(std::move(one));
  }
  return out;
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

// The baseline as the page overlays it: its whole-run histogram, and its
// achieved rate and p95 over time.
std::string BaselineJson(const v1::RunResult& b) {
  std::string series;
  for (int k = 1;; k = NextK(k)) {
    const std::vector<Point> points = PointsOf(b, k);
    using P = const Point&;
    series = absl::StrCat(
        ",\"t\":", Array(points, [](P p) { return Number(p.t); }),
        ",\"rps\":", Array(points, [](P p) { return Number(p.rps); }),
        ",\"p95\":", Array(points, [](P p) {
          common::Histogram h;
          if (!p.histogram.empty()) h.MergeEncoded(p.histogram).IgnoreError();
          return h.Count() == 0 ? std::string("null")
                                : Number(h.ValueAtPercentile(95) / 1000.0);
        }));
    if (series.size() <= kHtmlBaselineBudget || k >= b.intervals_size()) break;
  }
  return absl::StrCat("{\"run\":", JsonString(b.run_id()), ",\"h\":\"",
                      absl::Base64Escape(RunHistogram(b)), "\"", series, "}");
}

std::string DataJson(const v1::RunResult& r, const v1::RunResult* baseline) {
  // The series at full resolution, or merged k intervals a point until it
  // fits the budget.
  const double interval_s =
      r.intervals_size() > 1 ? r.intervals(1).t() - r.intervals(0).t() : 1;
  std::string series;
  for (int k = 1;; k = NextK(k)) {
    series = SeriesJson(PointsOf(r, k), interval_s * k);
    if (series.size() <= kHtmlSeriesBudget || k >= r.intervals_size()) break;
  }
  RequestSeries by_request;
  for (int k = 1;; k = NextK(k)) {
    by_request = RequestSeriesOf(r, k);
    if (by_request.size() <= kHtmlRequestSeriesBudget ||
        k >= r.intervals_size())
      break;
  }
  std::string requests;
  size_t index = 0;
  for (const v1::ScenarioResult& sc : r.scenarios()) {
    for (const v1::RequestResult& q : sc.requests()) {
      absl::StrAppend(
          &requests, requests.empty() ? "" : ",",
          "{\"s\":", JsonString(sc.name()), ",\"r\":", JsonString(q.name()),
          ",\"h\":\"", absl::Base64Escape(q.latency_histogram()),
          "\",\"st\":\"", absl::Base64Escape(q.service_time_histogram()), "\"",
          index < by_request.per_request.size() ? by_request.per_request[index]
                                                : "",
          "}");
      ++index;
    }
  }
  std::string out = absl::StrCat("{", series, by_request.head,
                                 ",\"requests\":[", requests, "]");
  if (baseline != nullptr)
    absl::StrAppend(&out, ",\"baseline\":", BaselineJson(*baseline));
  return out + CapacityDataJson(r) + "}";
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
      "</p>\n<p><select id=pick><option value=\"\">whole run so "
      "far</option></select></p>\n<div class=chart id=chart-rate></div><div "
      "class=chart id=chart-latency></div><div class=chart "
      "id=chart-errors></div><div class=chart id=chart-users></div>\n"
      "<h2>Latency distribution</h2>\n<div class=chart "
      "id=chart-spectrum></div>\n<script id=stampede-data "
      "type=\"application/json\">{\"live\":true,\"interval_s\":1,\"t\":[],"
      "\"rps\":[],\"target\":[],\"n\":[],\"errors\":[],\"error_ids\":[],"
      "\"vus\":[],\"in_flight\":[],\"agents\":[],\"limited\":[],\"h\":[],"
      "\"requests\":[]}</script>\n"
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
  out += FormatCapacityHtml(r);

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
      "shaded red: their latencies are partly the generator's own. The "
      "request picked here redraws the rate, latency, error and distribution "
      "charts with its own numbers.</p>\n"
      "<p><label>Request <select id=pick><option value=\"\">whole "
      "run</option>";
  int index = 0;
  for (const v1::ScenarioResult& sc : r.scenarios()) {
    for (const v1::RequestResult& q : sc.requests()) {
      absl::StrAppend(&out, "<option value=\"", index++, "\">", Html(sc.name()),
                      " / ", Html(q.name()), "</option>");
    }
  }
  out +=
      "</select></label></p>\n<div class=chart id=chart-rate></div><div "
      "class=chart id=chart-latency></div><div class=chart "
      "id=chart-errors></div><div class=chart id=chart-users></div>\n"
      "<h2>Latency distribution</h2>\n<div class=chart "
      "id=chart-spectrum></div>\n";

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
                    "</code>, dashed in the rate, latency and distribution "
                    "charts.</p>\n<pre "
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
