#include "controller/metrics.h"

#include <array>
#include <iterator>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "common/histogram.h"
#include "common/version.h"

namespace stampede::controller {
namespace {

// A label value with \, " and newline escaped, as the text format wants.
std::string Escape(absl::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string Number(double v) { return absl::StrFormat("%.9g", v); }

class Writer {
 public:
  void Family(absl::string_view name, absl::string_view type,
              absl::string_view help) {
    absl::StrAppend(&out_, "# HELP ", name, " ", help, "\n# TYPE ", name, " ",
                    type, "\n");
  }
  // `labels`: already rendered, `a="x",b="y"` (may be empty).
  void Sample(absl::string_view name, absl::string_view labels, double value) {
    absl::StrAppend(&out_, name, labels.empty() ? "" : "{", labels,
                    labels.empty() ? "" : "}", " ", Number(value), "\n");
  }
  void Sample(absl::string_view name, absl::string_view labels, int64_t value) {
    absl::StrAppend(&out_, name, labels.empty() ? "" : "{", labels,
                    labels.empty() ? "" : "}", " ", value, "\n");
  }
  // A family of one unlabelled sample.
  template <typename T>
  void Gauge(absl::string_view name, absl::string_view help, T value) {
    Family(name, "gauge", help);
    Sample(name, "", value);
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

std::string Join(absl::string_view a, absl::string_view b) {
  if (a.empty()) return std::string(b);
  if (b.empty()) return std::string(a);
  return absl::StrCat(a, ",", b);
}

// Calls fn(labels, cell) for every (scenario, request) of the plan.
template <typename Fn>
void ForEachCell(const MetricsInput& in, Fn&& fn) {
  if (in.plan == nullptr || in.cells == nullptr) return;
  for (size_t s = 0; s < in.cells->size(); ++s) {
    if (static_cast<int>(s) >= in.plan->scenarios_size()) break;
    const v1::Scenario& scenario = in.plan->scenarios(static_cast<int>(s));
    for (size_t r = 0; r < (*in.cells)[s].size(); ++r) {
      if (static_cast<int>(r) >= scenario.requests_size()) break;
      const std::string labels = absl::StrCat(
          "scenario=\"", Escape(scenario.name()), "\",request=\"",
          Escape(scenario.requests(static_cast<int>(r)).name()), "\"");
      fn(labels, (*in.cells)[s][r]);
    }
  }
}

void RenderLatency(const MetricsInput& in, Writer& w) {
  constexpr char kHistogram[] = "stampede_request_duration_seconds";
  w.Family(kHistogram, "histogram",
           "Request latency (the merged HDR histogram, in fixed buckets).");
  ForEachCell(in, [&](const std::string& labels, const Cell& cell) {
    const common::Histogram& h = cell.latency;
    // Each HDR bucket counts under the first `le` whose last bucket index is
    // not below it; only the non-empty ones are visited (a scrape covers every
    // cell, and a plan may have thousands).
    constexpr size_t kLes = std::size(kMetricsBucketsS);
    std::array<size_t, kLes> last{};
    for (size_t k = 0; k < kLes; ++k) {
      last[k] = common::Histogram::IndexOf(
          static_cast<int64_t>(kMetricsBucketsS[k] * 1e6 + 0.5));
    }
    std::array<int64_t, kLes> in_le{};
    size_t le = 0;
    h.ForEachBucket([&](size_t index, int64_t n) {
      while (le < kLes && last[le] < index) ++le;
      if (le < kLes) in_le[le] += n;
    });
    int64_t cumulative = 0;
    for (size_t k = 0; k < kLes; ++k) {
      cumulative += in_le[k];
      w.Sample(absl::StrCat(kHistogram, "_bucket"),
               Join(labels,
                    absl::StrCat("le=\"", Number(kMetricsBucketsS[k]), "\"")),
               cumulative);
    }
    w.Sample(absl::StrCat(kHistogram, "_bucket"), Join(labels, "le=\"+Inf\""),
             h.Count());
    w.Sample(absl::StrCat(kHistogram, "_sum"), labels,
             h.Mean() * static_cast<double>(h.Count()) / 1e6);
    w.Sample(absl::StrCat(kHistogram, "_count"), labels, h.Count());
  });

  constexpr char kSummary[] = "stampede_latency_seconds";
  w.Family(kSummary, "summary",
           "Request latency quantiles, exact over all agents (merged HDR "
           "histogram, 3 significant digits).");
  ForEachCell(in, [&](const std::string& labels, const Cell& cell) {
    const common::Histogram& h = cell.latency;
    for (double q : kMetricsQuantiles) {
      w.Sample(kSummary,
               Join(labels, absl::StrCat("quantile=\"", Number(q), "\"")),
               static_cast<double>(h.ValueAtPercentile(q * 100)) / 1e6);
    }
    w.Sample(absl::StrCat(kSummary, "_sum"), labels,
             h.Mean() * static_cast<double>(h.Count()) / 1e6);
    w.Sample(absl::StrCat(kSummary, "_count"), labels, h.Count());
  });
}

}  // namespace

std::string RenderMetrics(const MetricsInput& in) {
  Writer w;
  w.Family("stampede_run_info", "gauge",
           "The run: its id, plan name and the controller's version.");
  w.Sample("stampede_run_info",
           absl::StrCat("run_id=\"", Escape(in.run_id), "\",plan=\"",
                        Escape(in.plan ? in.plan->name() : ""), "\",version=\"",
                        Escape(std::string(common::kVersion)), "\""),
           int64_t{1});
  w.Family("stampede_run_phase", "gauge",
           "1 for the phase the run is in: registering, preparing, running, "
           "draining or done.");
  for (const char* phase :
       {"registering", "preparing", "running", "draining", "done"}) {
    w.Sample("stampede_run_phase", absl::StrCat("phase=\"", phase, "\""),
             int64_t{in.phase == phase});
  }
  w.Gauge("stampede_run_elapsed_seconds",
          "Seconds since the agents started together (0 before).",
          in.elapsed_s);

  w.Family("stampede_requests_total", "counter",
           "Requests completed (successes and errors), all agents merged.");
  ForEachCell(in, [&](const std::string& labels, const Cell& cell) {
    w.Sample("stampede_requests_total", labels, cell.requests);
  });
  w.Family("stampede_responses_total", "counter",
           "Responses by HTTP status (101 for a WebSocket upgrade).");
  ForEachCell(in, [&](const std::string& labels, const Cell& cell) {
    for (const auto& [status, count] : cell.statuses) {
      w.Sample("stampede_responses_total",
               Join(labels, absl::StrCat("status=\"", status, "\"")), count);
    }
  });
  w.Family("stampede_errors_total", "counter",
           "Failed requests by error id (http_<status>, timeout, "
           "connect_refused, ...).");
  ForEachCell(in, [&](const std::string& labels, const Cell& cell) {
    for (const auto& [id, count] : cell.error_ids) {
      w.Sample("stampede_errors_total",
               Join(labels, absl::StrCat("error=\"", Escape(id), "\"")), count);
    }
  });
  w.Family("stampede_received_bytes_total", "counter",
           "Bytes received from the target.");
  ForEachCell(in, [&](const std::string& labels, const Cell& cell) {
    w.Sample("stampede_received_bytes_total", labels, cell.bytes_in);
  });
  w.Family("stampede_sent_bytes_total", "counter", "Bytes sent to the target.");
  ForEachCell(in, [&](const std::string& labels, const Cell& cell) {
    w.Sample("stampede_sent_bytes_total", labels, cell.bytes_out);
  });
  RenderLatency(in, w);

  const v1::IntervalResult empty;
  const v1::IntervalResult& last =
      in.last_interval != nullptr ? *in.last_interval : empty;
  w.Gauge("stampede_target_rate_per_second",
          "The plan's arrival rate over the last merged interval, all "
          "agents (0 for closed-model scenarios).",
          last.target_rps());
  w.Gauge("stampede_achieved_rate_per_second",
          "Requests completed per second over the last merged interval.",
          last.rps());
  w.Gauge("stampede_vus",
          "Active virtual users (closed model) at the last interval's end.",
          last.vus());
  w.Gauge("stampede_in_flight",
          "Requests in flight at the last interval's end.", last.in_flight());
  w.Gauge("stampede_generator_limited",
          "1 when the generators, not the target, limited the last interval.",
          int64_t{last.generator_limited()});
  w.Gauge("stampede_schedule_lag_p99_seconds",
          "p99 of actual minus intended send time in the last interval.",
          last.schedule_lag_p99_ms() / 1e3);

  w.Family("stampede_agents", "gauge", "Agents by state.");
  for (const auto& [state, count] : in.agents) {
    w.Sample("stampede_agents", absl::StrCat("state=\"", Escape(state), "\""),
             count);
  }
  w.Family("stampede_threshold_failing", "gauge",
           "1 while a threshold fails, judged live on the merged data (0 "
           "before it is first judged).");
  for (const MetricsThreshold& t : in.thresholds) {
    w.Sample("stampede_threshold_failing",
             absl::StrCat("threshold=\"", Escape(t.expression), "\""),
             int64_t{t.judged && t.failing});
  }
  w.Family("stampede_threshold_actual", "gauge",
           "A threshold's value when last judged, in its own unit (ms, ratio "
           "or per second).");
  for (const MetricsThreshold& t : in.thresholds) {
    if (!t.judged) continue;
    w.Sample("stampede_threshold_actual",
             absl::StrCat("threshold=\"", Escape(t.expression), "\""),
             t.actual);
  }
  return w.Take();
}

}  // namespace stampede::controller
