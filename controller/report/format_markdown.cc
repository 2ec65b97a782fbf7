// The Markdown report of a RunResult.
#include <algorithm>
#include <cstdlib>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "common/units.h"
#include "controller/report/format.h"

namespace stampede::controller {
namespace {

using common::FormatMillis;

std::string Percent(double fraction) {
  return absl::StrFormat("%.2f%%", fraction * 100);
}

// Issues Found lists this many error ids, most frequent first.
constexpr size_t kTopErrors = 5;

std::string MdEscape(const std::string& s) {
  return absl::StrReplaceAll(s, {{"|", "\\|"}});
}

std::string MdRow(const std::string& scenario, const std::string& request,
                  const v1::Summary& s) {
  const v1::LatencySummary& l = s.latency_ms();
  return absl::StrCat(
      "| ", MdEscape(scenario), " | ", MdEscape(request), " | ", s.requests(),
      " | ", absl::StrFormat("%.1f", s.rps()), " | ", Percent(s.error_rate()),
      " | ", FormatMillis(l.p50()), " | ", FormatMillis(l.p95()), " | ",
      FormatMillis(l.p99()), " | ", FormatMillis(l.max()), " |\n");
}

// The statuses a scenario counts as successes: its expected_statuses, or
// 100-399 when the plan (or an older result) names none.
bool Expected(const v1::RunResult& r, int scenario, int status) {
  if (scenario < r.plan().scenarios_size()) {
    const auto& want = r.plan().scenarios(scenario).expected_statuses();
    if (!want.empty())
      return std::find(want.begin(), want.end(), status) != want.end();
  }
  return status >= 100 && status < 400;
}

// "Peak VUs" as the template asks: observed, and what the plan asked for.
std::string TargetHosts(const v1::RunResult& r) {
  const std::vector<std::string> hosts = TargetOrigins(r);
  if (hosts.empty()) return "-";
  std::string out;
  for (const std::string& h : hosts)
    absl::StrAppend(&out, out.empty() ? "" : ", ", "`", MdEscape(h), "`");
  return out;
}

}  // namespace

std::string PeakLoadText(const v1::RunResult& r) {
  int64_t planned_vus = 0;
  double planned_rps = 0;
  for (const v1::ScenarioResult& sc : r.scenarios()) {
    planned_vus += sc.peak_vus();
    planned_rps += sc.peak_target_rps();
  }
  std::string out;
  if (planned_vus > 0 || r.peak_vus() > 0) {
    out = absl::StrCat(r.peak_vus(), " (plan: ", planned_vus, ")");
  }
  if (planned_rps > 0) {
    // An open model's users are its requests in flight.
    int64_t in_flight = 0;
    for (const v1::IntervalResult& i : r.intervals())
      in_flight = std::max(in_flight, i.in_flight());
    absl::StrAppend(&out, out.empty() ? "" : "; ", "open model, peak ",
                    absl::StrFormat("%g/s", planned_rps), " arrivals, up to ",
                    in_flight, " in flight (at interval ends)");
  }
  return out.empty() ? "-" : out;
}

std::vector<std::string> TargetOrigins(const v1::RunResult& r) {
  std::vector<std::string> hosts;
  for (const v1::ScenarioResult& sc : r.scenarios()) {
    for (const std::string& url : sc.base_urls()) {
      if (std::find(hosts.begin(), hosts.end(), url) == hosts.end())
        hosts.push_back(url);
    }
  }
  return hosts;
}

std::string FormatMarkdown(const v1::RunResult& r) {
  std::string out = absl::StrCat(
      "# Load test report: ", r.plan_name().empty() ? "run" : r.plan_name(),
      "\n\n");
  absl::StrAppend(
      &out, "**Result: ", r.status(), "** (exit ", r.exit_code(), ")",
      r.message().empty() ? "" : absl::StrCat(": ", r.message()), "\n\n");
  if (r.has_capacity()) {
    // The search first; the rest of the report is its final trial's.
    out += FormatCapacityMarkdown(r).substr(1);
    out += "\nThe sections below are the final trial's.\n\n";
  }
  out += "## Test Configuration\n\n";
  absl::StrAppend(&out, "| | |\n| --- | --- |\n", "| Test Type | ",
                  r.test_type().empty() ? "-" : MdEscape(r.test_type()), " |\n",
                  "| Duration | ", absl::StrFormat("%.1f s", r.duration_s()),
                  " |\n", "| Peak VUs | ", PeakLoadText(r), " |\n",
                  "| Target Host | ", TargetHosts(r), " |\n", "| Run | `",
                  r.run_id(), "` |\n", "| Started | ", r.started_at(), " |\n",
                  "| Agents | ", r.agents_size(), " |\n", "| Scenarios | ",
                  r.scenarios_size(), " |\n");
  if (!r.plan_fingerprint().empty())
    absl::StrAppend(&out, "| Plan | `", r.plan_fingerprint(), "` |\n");
  if (!r.command_line().empty()) {
    absl::StrAppend(&out, "| Command | `", MdEscape(r.command_line()), "` |\n");
  }
  out += "\n## Results Summary\n\n";
  if (r.thresholds_size() == 0) {
    out += "No thresholds: nothing was judged.\n";
  } else {
    out +=
        "| Metric | Target | Actual | Status |\n| --- | --- | ---: | --- "
        "|\n";
    for (const v1::ThresholdResult& t : r.thresholds()) {
      const std::string note = ThresholdNote(t);
      // Results from before metric and target were apart: the expression.
      const bool split = !t.metric().empty();
      absl::StrAppend(
          &out, "| `", MdEscape(split ? t.metric() : t.expression()), "` | ",
          split ? absl::StrCat("`", MdEscape(t.target()), "`") : "", " | ",
          t.actual_text(), " | ",
          t.passed() ? "PASS" : absl::StrCat("**", ThresholdVerdict(t), "**"),
          note.empty() ? "" : " (", note, note.empty() ? "" : ")", " |\n");
    }
  }
  out += "\n## Requests\n\n";
  out +=
      "| scenario | request | requests | rps | errors | p50 ms | p95 ms | p99 "
      "ms | max ms |\n";
  out += "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n";
  for (const v1::ScenarioResult& sc : r.scenarios()) {
    for (const v1::RequestResult& q : sc.requests())
      out += MdRow(sc.name(), q.name(), q.summary());
  }
  out += MdRow("**total**", "", r.summary());
  std::string status_rows;
  for (int i = 0; i < r.scenarios_size(); ++i) {
    const v1::ScenarioResult& sc = r.scenarios(i);
    for (const v1::RequestResult& q : sc.requests()) {
      std::map<int, int64_t> statuses;
      for (const auto& [code, n] : q.summary().statuses())
        statuses[std::atoi(code.c_str())] += n;
      for (const auto& [code, n] : statuses) {
        absl::StrAppend(
            &status_rows, "| ", MdEscape(sc.name()), " | ", MdEscape(q.name()),
            " | ", code, " | ", n, " | ",
            Percent(q.summary().requests() > 0
                        ? static_cast<double>(n) /
                              static_cast<double>(q.summary().requests())
                        : 0),
            " | ", Expected(r, i, code) ? "yes" : "**no**", " |\n");
      }
    }
  }
  if (!status_rows.empty()) {
    absl::StrAppend(
        &out,
        "\n## Statuses\n\nExpected: a scenario's "
        "`expected_statuses`, else 100-399; any other status is "
        "an error.\n\n| scenario | request | status | responses | "
        "share | expected |\n| --- | --- | ---: | ---: | ---: | --- "
        "|\n",
        status_rows);
  }
  std::string stream_rows;
  for (const v1::ScenarioResult& sc : r.scenarios()) {
    for (const v1::RequestResult& q : sc.requests()) {
      if (!q.summary().has_streaming()) continue;
      const v1::StreamingSummary& st = q.summary().streaming();
      absl::StrAppend(&stream_rows, "| ", MdEscape(sc.name()), " | ",
                      MdEscape(q.name()), " | ", st.events(), " | ",
                      FormatMillis(q.summary().phases_ms().ttfb().p50()), " | ",
                      FormatMillis(st.ttlb_ms().p50()), " | ",
                      FormatMillis(st.ttlb_ms().p99()), " |\n");
    }
  }
  if (!stream_rows.empty()) {
    absl::StrAppend(&out,
                    "\n## Streaming\n\n| scenario | request | events | ttfb "
                    "p50 ms | ttlb p50 ms | ttlb p99 ms |\n| --- | --- | ---: "
                    "| ---: | ---: | ---: |\n",
                    stream_rows);
  }
  std::string ws_rows;
  for (const v1::ScenarioResult& sc : r.scenarios()) {
    for (const v1::RequestResult& q : sc.requests()) {
      if (!q.summary().has_websocket()) continue;
      const v1::WebSocketSummary& ws = q.summary().websocket();
      std::map<std::string, int64_t> codes(ws.close_codes().begin(),
                                           ws.close_codes().end());
      std::string closes;
      for (const auto& [code, n] : codes)
        absl::StrAppend(&closes, closes.empty() ? "" : ", ", code, ": ", n);
      absl::StrAppend(&ws_rows, "| ", MdEscape(sc.name()), " | ",
                      MdEscape(q.name()), " | ", ws.connections(), " | ",
                      ws.messages_out(), " | ", ws.messages_in(), " | ",
                      absl::StrFormat("%.3g", ws.rtt_ms().p50()), " | ",
                      absl::StrFormat("%.3g", ws.rtt_ms().p99()), " | ",
                      closes.empty() ? "-" : closes, " |\n");
    }
  }
  if (!ws_rows.empty()) {
    absl::StrAppend(&out,
                    "\n## WebSocket\n\n| scenario | request | connections | "
                    "messages out | messages in | rtt p50 ms | rtt p99 ms | "
                    "close codes |\n| --- | --- | ---: | ---: | ---: | ---: | "
                    "---: | --- |\n",
                    ws_rows);
  }
  std::string flow_rows;
  for (const v1::ScenarioResult& sc : r.scenarios()) {
    const v1::FlowResult& f = sc.flows();
    if (!f.flow()) continue;
    const v1::Summary& cs = sc.summary();
    absl::StrAppend(&flow_rows, "| ", MdEscape(sc.name()), " | ", f.started(),
                    " | ", f.completed(), " | ", f.aborted(), " | ",
                    f.dropped(), " | ", f.skipped_steps(), " | ",
                    cs.checks_passed(), " | ", cs.checks_failed(), " |\n");
  }
  if (!flow_rows.empty()) {
    absl::StrAppend(
        &out,
        "\n## Flows\n\n| scenario | started | completed | aborted | "
        "dropped | steps not sent | checks passed | checks failed "
        "|\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
        flow_rows);
  }
  if (r.setup().ran()) {
    absl::StrAppend(
        &out, "\n## Setup\n\n",
        r.setup().passed()
            ? absl::StrCat("Passed on ", r.setup().agent(), ".\n")
            : absl::StrCat("**Failed** on ", r.setup().agent(), " at step `",
                           MdEscape(r.setup().failed_step()),
                           "`: ", MdEscape(r.setup().error()), ".\n"));
  }
  std::string issues;
  for (const v1::ThresholdResult& t : r.thresholds()) {
    if (t.passed()) continue;
    absl::StrAppend(&issues, "- ", ThresholdVerdict(t), ": `",
                    MdEscape(t.expression()), "` (actual ", t.actual_text(),
                    ")\n");
  }
  // The top error ids, most frequent first.
  std::vector<std::pair<int64_t, std::string>> errors;
  for (const auto& [id, n] : r.summary().error_ids()) errors.push_back({n, id});
  std::sort(errors.begin(), errors.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  for (size_t e = 0; e < errors.size() && e < kTopErrors; ++e) {
    const std::string& id = errors[e].second;
    absl::StrAppend(
        &issues, "- ", errors[e].first, " × `", id, "` (",
        Percent(r.summary().requests() > 0
                    ? static_cast<double>(errors[e].first) /
                          static_cast<double>(r.summary().requests())
                    : 0),
        " of requests)",
        id.rfind("local_", 0) == 0 ? " (the generator's own limit)" : "", "\n");
  }
  if (errors.size() > kTopErrors) {
    absl::StrAppend(&issues, "- and ", errors.size() - kTopErrors,
                    " more error ids (see summary.error_ids in the JSON)\n");
  }
  for (const v1::AgentResult& a : r.agents()) {
    if (a.state() != "finished") {
      absl::StrAppend(&issues, "- agent `", a.id(), "` was ", a.state(), "\n");
    }
  }
  if (r.generator_limited_intervals() > 0) {
    std::string at;
    int shown = 0;
    for (const v1::IntervalResult& i : r.intervals()) {
      if (!i.generator_limited() || shown >= 3) continue;
      absl::StrAppend(&at, shown++ == 0 ? "" : "; ",
                      absl::StrFormat("%gs", i.t()), ": ", i.generator_note());
    }
    absl::StrAppend(
        &issues, "- the generator, not the target, was the limit in ",
        r.generator_limited_intervals(), " of ", r.intervals_size(),
        " intervals (", MdEscape(at),
        r.generator_limited_intervals() > shown ? "; ..." : "", ")\n");
  }
  if (r.insecure_control_plane()) {
    issues +=
        "- the control plane left loopback without encryption (`--insecure`)\n";
  }
  absl::StrAppend(&out, "\n## Issues Found\n\n",
                  issues.empty() ? "None.\n" : issues);
  return out;
}

}  // namespace stampede::controller
