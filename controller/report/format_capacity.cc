// A capacity search's part of the outputs (RunResult.capacity): the step
// table, the knee, the answer and the projection, as console text and
// Markdown. The JSON carries the message whole; the HTML draws the curve.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "controller/report/format.h"

namespace stampede::controller {
namespace {

std::string Rate(double r) { return absl::StrFormat("%g/s", r); }
std::string Ms(double ms) { return absl::StrFormat("%.2f", ms); }

std::vector<std::vector<std::string>> StepRows(const v1::CapacityResult& c) {
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"step", "phase", "rate", "achieved", "p50 ms", "p95 ms",
                  "p99 ms", "errors", "bad s", "verdict", "why"});
  for (const v1::CapacityStep& s : c.steps()) {
    rows.push_back({absl::StrCat(s.number()), s.phase(), Rate(s.rate()),
                    absl::StrFormat("%.1f/s", s.achieved()), Ms(s.p50_ms()),
                    Ms(s.p95_ms()), Ms(s.p99_ms()),
                    absl::StrFormat("%.2f%%", s.error_rate() * 100),
                    absl::StrCat(s.bad_seconds(), "/", s.judged_seconds()),
                    s.verdict(), s.why()});
  }
  return rows;
}

std::vector<std::vector<std::string>> ProjectionRows(
    const v1::CapacityProjection& p) {
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"load", "year", "rps", "instances", "how"});
  for (const v1::CapacityProjectionRow& r : p.rows()) {
    rows.push_back(
        {r.scenario(), r.scenario() == "target" ? "-" : absl::StrCat(r.year()),
         absl::StrFormat("%.1f", r.rps()), absl::StrCat(r.instances()),
         absl::StrFormat("ceil(%.1f / %g) = %d, + ceil(%d x %g%%) = %d",
                         r.rps(), p.per_instance_rps(), r.base_instances(),
                         r.base_instances(), p.buffer() * 100,
                         r.buffer_instances())});
  }
  return rows;
}

std::string MdCell(const std::string& s) {
  return absl::StrReplaceAll(
      s, {{"|", "\\|"}, {"<", "&lt;"}, {">", "&gt;"}, {"\n", " "}});
}

std::string MdTable(const std::vector<std::vector<std::string>>& rows) {
  std::string out;
  for (size_t i = 0; i < rows.size(); ++i) {
    out += "|";
    for (const std::string& cell : rows[i])
      absl::StrAppend(&out, " ", MdCell(cell), " |");
    out += "\n";
    if (i == 0) {
      out += "|";
      for (size_t k = 0; k < rows[i].size(); ++k) out += " --- |";
      out += "\n";
    }
  }
  return out;
}

std::string LittleLine(const v1::CapacityProjection& p, double max_rate) {
  return absl::StrFormat(
      "Little's law at the answer: %g/s x the final trial's p95 = %.1f "
      "requests in flight (measured there: %.1f on average)",
      max_rate, p.littles_law_concurrency(), p.measured_in_flight());
}

}  // namespace

std::string FormatProjection(const v1::CapacityProjection& p) {
  std::string out =
      absl::StrCat("per instance: ", Rate(p.per_instance_rps()), " (", p.from(),
                   "); buffer ", absl::StrFormat("%g%%", p.buffer() * 100),
                   ", rounded up\n");
  if (p.rows_size() > 0) out += TextTable(ProjectionRows(p));
  return out;
}

std::string FormatCapacityText(const v1::RunResult& r) {
  if (!r.has_capacity()) return "";
  const v1::CapacityResult& c = r.capacity();
  std::string out =
      absl::StrCat("\n  capacity search of scenario ", c.scenario(), ":\n");
  std::string table = TextTable(StepRows(c));
  out += "    " + absl::StrReplaceAll(table, {{"\n", "\n    "}});
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (c.knee_rate() > 0)
    absl::StrAppend(&out, "  knee of the latency-throughput curve: ",
                    Rate(c.knee_rate()), "\n");
  absl::StrAppend(&out, "  answer: ", c.answer(), "\n");
  if (c.has_projection()) {
    std::string p = FormatProjection(c.projection());
    absl::StrAppend(&out, "  ", absl::StrReplaceAll(p, {{"\n", "\n  "}}));
    while (!out.empty() && out.back() == ' ') out.pop_back();
    absl::StrAppend(&out, "  ", LittleLine(c.projection(), c.max_rate()), "\n");
  }
  return out;
}

std::string FormatCapacityMarkdown(const v1::RunResult& r) {
  if (!r.has_capacity()) return "";
  const v1::CapacityResult& c = r.capacity();
  std::string out = "\n## Capacity\n\n";
  absl::StrAppend(&out, "**", MdCell(c.answer()), "**\n\n");
  absl::StrAppend(
      &out,
      absl::StrFormat(
          "Scenario `%s`, from %s to at most %s; steps of %gs after a %gs "
          "warm-up, growth x%g, width %g%%, exceed ratio %g%%, final trial "
          "%gs.\n\n",
          MdCell(c.scenario()), Rate(c.from()), Rate(c.max()), c.step_seconds(),
          c.warmup_seconds(), c.growth(), c.width() * 100,
          c.exceed_ratio() * 100, c.final_seconds()));
  out += MdTable(StepRows(c));
  if (c.knee_rate() > 0)
    absl::StrAppend(&out, "\nKnee of the latency-throughput curve: ",
                    Rate(c.knee_rate()), "\n");
  if (c.has_projection()) {
    const v1::CapacityProjection& p = c.projection();
    absl::StrAppend(
        &out, "\n### Projection\n\nPer instance: ", Rate(p.per_instance_rps()),
        " (", MdCell(p.from()), "); buffer ",
        absl::StrFormat("%g%%", p.buffer() * 100), ", rounded up.\n\n");
    if (p.rows_size() > 0) out += MdTable(ProjectionRows(p));
    absl::StrAppend(&out, "\n", LittleLine(p, c.max_rate()), ".\n");
  }
  return out;
}

std::string FormatCapacityHtml(const v1::RunResult& r) {
  if (!r.has_capacity()) return "";
  const v1::CapacityResult& c = r.capacity();
  auto table = [](const std::vector<std::vector<std::string>>& rows,
                  const std::string& id) {
    std::string out = absl::StrCat("<table id=", id, "><thead><tr>");
    for (const std::string& h : rows[0])
      absl::StrAppend(&out, "<th>", MarkupEscape(h), "</th>");
    out += "</tr></thead><tbody>\n";
    for (size_t i = 1; i < rows.size(); ++i) {
      out += "<tr>";
      for (const std::string& cell : rows[i])
        absl::StrAppend(&out, "<td>", MarkupEscape(cell), "</td>");
      out += "</tr>\n";
    }
    return out + "</tbody></table>\n";
  };
  std::string out = absl::StrCat(
      "<h2>Capacity</h2>\n<p id=capacity-answer><strong>",
      MarkupEscape(c.answer()), "</strong></p>\n<p>Scenario <code>",
      MarkupEscape(c.scenario()), "</code>, ",
      MarkupEscape(absl::StrFormat(
          "from %s to at most %s; steps of %gs after a %gs warm-up, growth "
          "x%g, width %g%%, exceed ratio %g%%, final trial %gs.",
          Rate(c.from()), Rate(c.max()), c.step_seconds(), c.warmup_seconds(),
          c.growth(), c.width() * 100, c.exceed_ratio() * 100,
          c.final_seconds())),
      c.knee_rate() > 0
          ? absl::StrCat(" Knee of the curve: ", Rate(c.knee_rate()), ".")
          : "",
      "</p>\n<div class=chart id=chart-capacity></div>\n");
  out += table(StepRows(c), "capacity-steps");
  if (c.has_projection()) {
    const v1::CapacityProjection& p = c.projection();
    absl::StrAppend(&out, "<h3>Projection</h3>\n<p>Per instance: ",
                    Rate(p.per_instance_rps()), " (", MarkupEscape(p.from()),
                    "); buffer ", absl::StrFormat("%g%%", p.buffer() * 100),
                    ", rounded up. ", MarkupEscape(LittleLine(p, c.max_rate())),
                    ".</p>\n");
    if (p.rows_size() > 0)
      out += table(ProjectionRows(p), "capacity-projection");
  }
  return out + "<p>The sections below are the final trial's.</p>\n";
}

std::string CapacityDataJson(const v1::RunResult& r) {
  if (!r.has_capacity()) return "";
  const v1::CapacityResult& c = r.capacity();
  std::string rate, achieved, p50, p95, p99, verdict;
  for (const v1::CapacityStep& s : c.steps()) {
    const char* sep = rate.empty() ? "" : ",";
    absl::StrAppend(&rate, sep, absl::StrFormat("%g", s.rate()));
    absl::StrAppend(&achieved, sep, absl::StrFormat("%g", s.achieved()));
    absl::StrAppend(&p50, sep, absl::StrFormat("%g", s.p50_ms()));
    absl::StrAppend(&p95, sep, absl::StrFormat("%g", s.p95_ms()));
    absl::StrAppend(&p99, sep, absl::StrFormat("%g", s.p99_ms()));
    // pass | fail | inconclusive | undecided: plain words, safe in JSON.
    absl::StrAppend(&verdict, sep, "\"", s.verdict(), "\"");
  }
  return absl::StrCat(",\"capacity\":{\"rate\":[", rate, "],\"achieved\":[",
                      achieved, "],\"p50\":[", p50, "],\"p95\":[", p95,
                      "],\"p99\":[", p99, "],\"verdict\":[", verdict,
                      "],\"knee\":", absl::StrFormat("%g", c.knee_rate()),
                      ",\"max_rate\":", absl::StrFormat("%g", c.max_rate()),
                      "}");
}

}  // namespace stampede::controller
