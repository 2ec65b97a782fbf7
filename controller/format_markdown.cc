// The Markdown report of a RunResult.
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "common/units.h"
#include "controller/format.h"

namespace stampede::controller {
namespace {

using common::FormatMillis;

std::string Percent(double fraction) {
  return absl::StrFormat("%.2f%%", fraction * 100);
}

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

}  // namespace

std::string FormatMarkdown(const v1::RunResult& r) {
  std::string out = absl::StrCat(
      "# Load test report: ", r.plan_name().empty() ? "run" : r.plan_name(),
      "\n\n");
  absl::StrAppend(
      &out, "**Result: ", r.status(), "** (exit ", r.exit_code(), ")",
      r.message().empty() ? "" : absl::StrCat(": ", r.message()), "\n\n");
  out += "## Test configuration\n\n";
  absl::StrAppend(&out, "| | |\n| --- | --- |\n", "| run | `", r.run_id(),
                  "` |\n", "| started | ", r.started_at(), " |\n",
                  "| duration | ", absl::StrFormat("%.1f s", r.duration_s()),
                  " |\n", "| agents | ", r.agents_size(), " |\n",
                  "| scenarios | ", r.scenarios_size(), " |\n\n");
  out += "## Results\n\n";
  out +=
      "| scenario | request | requests | rps | errors | p50 ms | p95 ms | p99 "
      "ms | max ms |\n";
  out += "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n";
  for (const v1::ScenarioResult& sc : r.scenarios()) {
    for (const v1::RequestResult& q : sc.requests())
      out += MdRow(sc.name(), q.name(), q.summary());
  }
  out += MdRow("**total**", "", r.summary());
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
  if (r.thresholds_size() > 0) {
    out +=
        "\n## Thresholds\n\n| threshold | actual | verdict |\n| --- | ---: | "
        "--- |\n";
    for (const v1::ThresholdResult& t : r.thresholds()) {
      const std::string note = ThresholdNote(t);
      absl::StrAppend(
          &out, "| `", MdEscape(t.expression()), "` | ", t.actual_text(), " | ",
          t.passed() ? "PASS" : absl::StrCat("**", ThresholdVerdict(t), "**"),
          note.empty() ? "" : " (", note, note.empty() ? "" : ")", " |\n");
    }
  }
  std::string issues;
  std::map<std::string, int64_t> errors(r.summary().error_ids().begin(),
                                        r.summary().error_ids().end());
  for (const auto& [id, n] : errors) {
    absl::StrAppend(
        &issues, "- ", n, " × `", id, "`",
        id.rfind("local_", 0) == 0 ? " (the generator's own limit)" : "", "\n");
  }
  for (const v1::AgentResult& a : r.agents()) {
    if (a.state() != "finished") {
      absl::StrAppend(&issues, "- agent `", a.id(), "` was ", a.state(), "\n");
    }
  }
  if (r.generator_limited_intervals() > 0) {
    absl::StrAppend(&issues,
                    "- the generator, not the target, was the limit in ",
                    r.generator_limited_intervals(), " of ", r.intervals_size(),
                    " intervals\n");
  }
  if (r.insecure_control_plane()) {
    issues +=
        "- the control plane left loopback without encryption (`--insecure`)\n";
  }
  absl::StrAppend(&out, "\n## Issues found\n\n",
                  issues.empty() ? "None.\n" : issues);
  return out;
}

}  // namespace stampede::controller
