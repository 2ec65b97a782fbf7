#include <cmath>
#include <map>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "controller/report/format.h"
#include "google/protobuf/util/json_util.h"

namespace stampede::controller {
namespace {

// A small streaming JSON writer: commas and indentation are its business, not
// the caller's.
class JsonWriter {
 public:
  std::string Take() {
    out_.push_back('\n');
    return std::move(out_);
  }
  JsonWriter& BeginObject(std::string_view key = {}) { return Open(key, '{'); }
  JsonWriter& BeginArray(std::string_view key = {}) { return Open(key, '['); }
  JsonWriter& End() {
    char close = stack_.back() == '{' ? '}' : ']';
    bool empty = first_.back();
    stack_.pop_back();
    first_.pop_back();
    if (!empty) Newline();
    out_.push_back(close);
    return *this;
  }
  JsonWriter& String(std::string_view key, std::string_view value) {
    Key(key);
    Quote(value);
    return *this;
  }
  JsonWriter& Int(std::string_view key, int64_t value) {
    Key(key);
    absl::StrAppend(&out_, value);
    return *this;
  }
  JsonWriter& Number(std::string_view key, double value) {
    Key(key);
    if (!std::isfinite(value)) {
      out_ += "null";
    } else if (value == std::floor(value) && std::abs(value) < 1e15) {
      absl::StrAppend(&out_, static_cast<int64_t>(value));
    } else {
      absl::StrAppend(&out_, absl::StrFormat("%.6g", value));
    }
    return *this;
  }
  // `json` is a whole JSON value, written as it is (its lines indented to
  // this level).
  JsonWriter& Raw(std::string_view key, std::string_view json) {
    Key(key);
    const std::string indent(2 * stack_.size(), ' ');
    for (char c : json) {
      out_.push_back(c);
      if (c == '\n') out_ += indent;
    }
    return *this;
  }
  JsonWriter& Bool(std::string_view key, bool value) {
    Key(key);
    out_ += value ? "true" : "false";
    return *this;
  }

 private:
  JsonWriter& Open(std::string_view key, char c) {
    Key(key);
    out_.push_back(c);
    stack_.push_back(c);
    first_.push_back(true);
    return *this;
  }
  void Newline() {
    out_.push_back('\n');
    out_.append(2 * stack_.size(), ' ');
  }
  void Key(std::string_view key) {
    if (!stack_.empty()) {
      if (!first_.back()) out_.push_back(',');
      first_.back() = false;
      Newline();
    }
    if (!key.empty()) {
      Quote(key);
      out_ += ": ";
    }
  }
  void Quote(std::string_view s) {
    out_.push_back('"');
    for (unsigned char c : s) {
      switch (c) {
        case '"':
          out_ += "\\\"";
          break;
        case '\\':
          out_ += "\\\\";
          break;
        case '\n':
          out_ += "\\n";
          break;
        case '\r':
          out_ += "\\r";
          break;
        case '\t':
          out_ += "\\t";
          break;
        default:
          if (c < 0x20) {
            absl::StrAppend(&out_, absl::StrFormat("\\u%04x", c));
          } else {
            out_.push_back(static_cast<char>(c));
          }
      }
    }
    out_.push_back('"');
  }

  std::string out_;
  std::string stack_;
  std::vector<bool> first_;
};

void WriteLatency(JsonWriter& w, std::string_view key,
                  const v1::LatencySummary& l) {
  w.BeginObject(key)
      .Number("p50", l.p50())
      .Number("p90", l.p90())
      .Number("p95", l.p95())
      .Number("p99", l.p99())
      .Number("p999", l.p999())
      .Number("max", l.max())
      .Number("mean", l.mean())
      .End();
}

void WriteSummary(JsonWriter& w, std::string_view key, const v1::Summary& s) {
  w.BeginObject(key)
      .Int("requests", s.requests())
      .Int("errors", s.errors())
      .Number("error_rate", s.error_rate())
      .Number("rps", s.rps());
  WriteLatency(w, "latency_ms", s.latency_ms());
  WriteLatency(w, "service_time_ms", s.service_time_ms());
  // Sorted keys, so the output is stable.
  std::map<std::string, int64_t> statuses(s.statuses().begin(),
                                          s.statuses().end());
  w.BeginObject("statuses");
  for (const auto& [code, n] : statuses) w.Int(code, n);
  w.End();
  std::map<std::string, int64_t> errors(s.error_ids().begin(),
                                        s.error_ids().end());
  w.BeginObject("error_ids");
  for (const auto& [id, n] : errors) w.Int(id, n);
  w.End();
  w.Int("bytes_in", s.bytes_in()).Int("bytes_out", s.bytes_out());
  if (s.checks_passed() + s.checks_failed() > 0) {
    w.Int("checks_passed", s.checks_passed())
        .Int("checks_failed", s.checks_failed());
    std::map<std::string, int64_t> by(s.checks_failed_by().begin(),
                                      s.checks_failed_by().end());
    w.BeginObject("checks_failed_by");
    for (const auto& [name, n] : by) w.Int(name, n);
    w.End();
  }
  if (s.has_phases_ms()) {
    const v1::PhaseTimings& p = s.phases_ms();
    w.BeginObject("phases_ms").Int("new_connections", p.new_connections());
    if (p.has_dns()) WriteLatency(w, "dns", p.dns());
    if (p.has_connect()) WriteLatency(w, "connect", p.connect());
    if (p.has_tls()) WriteLatency(w, "tls", p.tls());
    if (p.has_ttfb()) WriteLatency(w, "ttfb", p.ttfb());
    w.End();
  }
  if (s.has_streaming()) {
    w.BeginObject("streaming").Int("events", s.streaming().events());
    if (s.streaming().has_ttlb_ms())
      WriteLatency(w, "ttlb_ms", s.streaming().ttlb_ms());
    w.End();
  }
  if (s.has_websocket()) {
    const v1::WebSocketSummary& ws = s.websocket();
    w.BeginObject("websocket")
        .Int("connections", ws.connections())
        .Int("messages_out", ws.messages_out())
        .Int("messages_in", ws.messages_in());
    if (ws.has_rtt_ms()) WriteLatency(w, "rtt_ms", ws.rtt_ms());
    if (ws.has_session_ms()) WriteLatency(w, "session_ms", ws.session_ms());
    std::map<std::string, int64_t> closes(ws.close_codes().begin(),
                                          ws.close_codes().end());
    w.BeginObject("close_codes");
    for (const auto& [code, n] : closes) w.Int(code, n);
    w.End();
    if (!ws.rtt_histogram().empty())
      w.String("rtt_histogram", absl::Base64Escape(ws.rtt_histogram()));
    w.End();
  }
  w.End();
}

}  // namespace

std::string FormatJson(const v1::RunResult& r) {
  JsonWriter w;
  w.BeginObject()
      .String("schema", r.schema())
      .String("status", r.status())
      .Int("exit_code", r.exit_code())
      .String("plan_name", r.plan_name())
      .String("run_id", r.run_id())
      .String("started_at", r.started_at())
      .Number("duration_s", r.duration_s())
      .String("message", r.message())
      .String("test_type", r.test_type())
      .String("command_line", r.command_line())
      .String("plan_fingerprint", r.plan_fingerprint())
      .Int("peak_vus", r.peak_vus())
      .Bool("insecure_control_plane", r.insecure_control_plane())
      .Int("generator_limited_intervals", r.generator_limited_intervals())
      .Number("start_spread_ms", r.start_spread_ms())
      .Int("late_intervals", r.late_intervals())
      .Number("lost_share", r.lost_share())
      .Int("missing_requests", r.missing_requests());
  if (r.setup().ran()) {
    const v1::SetupResult& su = r.setup();
    w.BeginObject("setup")
        .Bool("ran", true)
        .Bool("passed", su.passed())
        .String("agent", su.agent());
    w.BeginArray("captured");
    for (const std::string& name : su.captured()) w.String("", name);
    w.End()
        .String("failed_step", su.failed_step())
        .String("error", su.error())
        .End();
  }
  WriteSummary(w, "summary", r.summary());
  w.BeginArray("scenarios");
  for (const v1::ScenarioResult& s : r.scenarios()) {
    w.BeginObject()
        .String("name", s.name())
        .String("engine", s.engine())
        .String("engine_why", s.engine_why());
    w.BeginArray("base_urls");
    for (const std::string& url : s.base_urls()) w.String("", url);
    w.End()
        .Int("peak_vus", s.peak_vus())
        .Number("peak_target_rps", s.peak_target_rps());
    if (s.flows().flow()) {
      const v1::FlowResult& f = s.flows();
      w.BeginObject("flows")
          .Bool("flow", true)
          .Int("started", f.started())
          .Int("completed", f.completed())
          .Int("aborted", f.aborted())
          .Int("dropped", f.dropped())
          .Int("skipped_steps", f.skipped_steps())
          .Int("data_exhausted", f.data_exhausted())
          .End();
    }
    WriteSummary(w, "summary", s.summary());
    w.BeginArray("requests");
    for (const v1::RequestResult& q : s.requests()) {
      w.BeginObject().String("name", q.name());
      WriteSummary(w, "summary", q.summary());
      // bytes as proto JSON writes them: standard base64.
      w.String("latency_histogram", absl::Base64Escape(q.latency_histogram()));
      if (!q.service_time_histogram().empty()) {
        w.String("service_time_histogram",
                 absl::Base64Escape(q.service_time_histogram()));
      }
      w.End();
    }
    w.End().End();
  }
  w.End().BeginArray("thresholds");
  for (const v1::ThresholdResult& t : r.thresholds()) {
    w.BeginObject()
        .String("expression", t.expression())
        .String("metric", t.metric())
        .String("target", t.target())
        .Bool("passed", t.passed())
        .Number("actual", t.actual())
        .String("actual_text", t.actual_text())
        .Number("failed_at_s", t.failed_at_s())
        .Bool("aborted", t.aborted())
        .String("severity", t.severity())
        .Number("worst_window_end_s", t.worst_window_end_s())
        .End();
  }
  w.End();
  if (r.data_size() > 0) {  // plans without data: sets keep their old form
    w.BeginArray("data");
    for (const v1::DataResult& d : r.data()) {
      w.BeginObject()
          .String("name", d.name())
          .String("mode", d.mode())
          .Int("rows", d.rows())
          .Int("taken", d.taken())
          .Int("used", d.used())
          .Int("left", d.left())
          .End();
    }
    w.End();
  }
  w.BeginArray("agents");
  for (const v1::AgentResult& a : r.agents()) {
    w.BeginObject()
        .String("id", a.id())
        .String("host", a.host())
        .Int("requests", a.requests())
        .Int("errors", a.errors())
        .String("state", a.state())
        .Int("sends_skipped", a.sends_skipped())
        .Number("clock_offset_ms", a.clock_offset_ms())
        .Number("clock_rtt_ms", a.clock_rtt_ms())
        .Number("first_send_late_ms", a.first_send_late_ms())
        .String("latency_histogram", absl::Base64Escape(a.latency_histogram()))
        .Number("share", a.share())
        .Int("planned_requests", a.planned_requests())
        .Int("cores", a.cores())
        .Int("workers", a.workers())
        .End();
  }
  w.End().BeginArray("intervals");
  for (const v1::IntervalResult& i : r.intervals()) {
    w.BeginObject()
        .Number("t", i.t())
        .Number("rps", i.rps())
        .Number("target_rps", i.target_rps())
        .Number("p50_ms", i.p50_ms())
        .Number("p95_ms", i.p95_ms())
        .Number("p99_ms", i.p99_ms())
        .Int("requests", i.requests())
        .Int("errors", i.errors())
        .Int("agents_reported", i.agents_reported())
        .Int("sends_skipped", i.sends_skipped())
        .Int("vus", i.vus())
        .Number("target_vus", i.target_vus())
        .Number("schedule_lag_p99_ms", i.schedule_lag_p99_ms())
        .Number("schedule_lag_max_ms", i.schedule_lag_max_ms())
        .Int("in_flight", i.in_flight())
        .Int("local_errors", i.local_errors())
        .Number("generator_busy", i.generator_busy())
        .Int("open_fds", i.open_fds())
        .Number("loop_stall_max_ms", i.loop_stall_max_ms())
        .Bool("generator_limited", i.generator_limited())
        .String("generator_note", i.generator_note())
        .String("latency_histogram", absl::Base64Escape(i.latency_histogram()));
    if (i.error_ids_size() > 0) {
      w.BeginObject("error_ids");
      const std::map<std::string, int64_t> ids(i.error_ids().begin(),
                                               i.error_ids().end());
      for (const auto& [id, n] : ids) w.Int(id, n);
      w.End();
    }
    if (i.by_request_size() > 0) {
      // One line each: an hour of 20 request names is 72,000 of them.
      w.BeginArray("by_request");
      for (const v1::RequestInterval& q : i.by_request()) {
        w.Raw("",
              absl::StrCat("{\"scenario\": ", q.scenario(), ", \"request\": ",
                           q.request(), ", \"requests\": ", q.requests(),
                           ", \"errors\": ", q.errors(),
                           ", \"latency_histogram\": \"",
                           absl::Base64Escape(q.latency_histogram()), "\"}"));
      }
      w.End();
    }
    w.End();
  }
  w.End();
  if (r.has_plan()) {
    // The plan in protobuf's JSON form (durations "30s", rates {per_second}),
    // with the plan's own field names: ReadResult reads it back.
    std::string plan;
    google::protobuf::util::JsonPrintOptions options;
    options.add_whitespace = true;
    options.preserve_proto_field_names = true;
    if (google::protobuf::util::MessageToJsonString(r.plan(), &plan, options)
            .ok()) {
      while (!plan.empty() && plan.back() == '\n') plan.pop_back();
      w.Raw("plan", plan);
    }
  }
  if (r.has_capacity()) {
    // stampede capacity: the steps, the answer (capacity.max_rate, per
    // second) and the projection, with every field, in the proto's names.
    std::string capacity;
    google::protobuf::util::JsonPrintOptions options;
    options.add_whitespace = true;
    options.preserve_proto_field_names = true;
    options.always_print_primitive_fields = true;
    if (google::protobuf::util::MessageToJsonString(r.capacity(), &capacity,
                                                    options)
            .ok()) {
      while (!capacity.empty() && capacity.back() == '\n') capacity.pop_back();
      w.Raw("capacity", capacity);
    }
  }
  w.End();
  return w.Take();
}

}  // namespace stampede::controller
