#include "controller/thresholds.h"

#include <algorithm>
#include <cstdlib>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/schedule.h"
#include "common/units.h"

namespace stampede::controller {
namespace {

struct Comparison {
  const char* op;
  const std::string* value;
};

Comparison ComparisonOf(const v1::Threshold& t) {
  if (!t.lt().empty()) return {"<", &t.lt()};
  if (!t.lte().empty()) return {"<=", &t.lte()};
  if (!t.gt().empty()) return {">", &t.gt()};
  return {">=", &t.gte()};
}

bool IsLatency(const v1::Threshold& t) {
  return t.metric() == "latency" || t.metric() == "service_time" ||
         t.metric() == "ttfb" || t.metric() == "connect" ||
         t.metric() == "ws_rtt" || t.metric() == "ttlb";
}

// The threshold's bound in the unit `actual` is reported in: ms, fraction, or
// per second.
double Bound(const v1::Threshold& t, const std::string& text) {
  if (IsLatency(t)) {
    auto d = common::ParseDuration(text);
    return d.ok() ? absl::ToDoubleMilliseconds(*d) : 0;
  }
  if (t.metric() == "error_rate" || t.metric() == "status_rate" ||
      t.metric() == "checks") {
    auto f = common::ParseFraction(text);
    return f.ok() ? *f : 0;
  }
  auto r = common::ParseRate(text);
  if (r.ok()) return *r;
  double plain = 0;
  return absl::SimpleAtod(text, &plain) ? plain : 0;
}

bool Compare(double actual, const char* op, double bound) {
  std::string_view o = op;
  if (o == "<") return actual < bound;
  if (o == "<=") return actual <= bound;
  if (o == ">") return actual > bound;
  return actual >= bound;
}

}  // namespace

std::string ThresholdMetric(const v1::Threshold& t) {
  std::string out;
  if (IsLatency(t)) {
    out = t.stat().empty() ? absl::StrCat("p(", t.p(), ") ")
                           : absl::StrCat(t.stat(), " ");
  }
  absl::StrAppend(&out, t.metric());
  std::string filter;
  auto add = [&filter](const char* name, const std::string& value) {
    if (value.empty()) return;
    absl::StrAppend(&filter, filter.empty() ? "" : ",", name, "=", value);
  };
  add("status", t.status());
  add("error", t.error());
  if (t.metric() == "latency" && t.responses() == "all")
    add("responses", t.responses());
  add("scenario", t.scenario());
  if (t.stage() > 0) add("stage", absl::StrCat(t.stage()));
  add("request", t.request());
  if (!filter.empty()) absl::StrAppend(&out, "{", filter, "}");
  return out;
}

std::string ThresholdTarget(const v1::Threshold& t) {
  Comparison c = ComparisonOf(t);
  std::string out = absl::StrCat(c.op, " ", *c.value);
  // How it is judged, so that an abort rule and a plain one on the same
  // metric read apart.
  auto duration = [](const google::protobuf::Duration& d) {
    return common::FormatDuration(absl::Seconds(d.seconds()) +
                                  absl::Nanoseconds(d.nanos()));
  };
  if (t.has_for_()) absl::StrAppend(&out, " for ", duration(t.for_()));
  if (t.has_grace()) absl::StrAppend(&out, " grace ", duration(t.grace()));
  if (t.abort()) absl::StrAppend(&out, " abort");
  if (t.severity() == "warn") absl::StrAppend(&out, " warn");
  if (t.origin() == "default") absl::StrAppend(&out, " (default)");
  return out;
}

std::string ThresholdExpression(const v1::Threshold& t) {
  return absl::StrCat(ThresholdMetric(t), " ", ThresholdTarget(t));
}

bool IsWarning(const v1::Threshold& t) { return t.severity() == "warn"; }

bool JudgesSuccessOnly(const v1::Threshold& t) {
  return t.metric() == "latency" && t.responses() != "all";
}

bool StatusCounted(const v1::Threshold& t, int status) {
  const std::string& want = t.status();
  if (want.size() != 3) return false;
  if (want[1] == 'x') return status / 100 == want[0] - '0';
  return status == std::atoi(want.c_str());
}

void SetCountedShare(const v1::Threshold& t, int64_t n, Cell* cell) {
  if (t.metric() == "checks") {
    cell->checks_passed = cell->requests - n;
    cell->checks_failed = n;
  } else if (t.metric() == "status_rate") {
    const std::string& want = t.status();
    const int code =
        want[1] == 'x' ? (want[0] - '0') * 100 : std::atoi(want.c_str());
    cell->statuses.clear();
    cell->statuses[code] = n;
  } else if (t.metric() == "error_rate" && !t.error().empty()) {
    cell->error_ids.clear();
    cell->error_ids[t.error()] = n;
  } else {
    cell->errors = n;
  }
}

bool Matches(const v1::TestPlan& plan, const v1::Threshold& t, size_t s,
             size_t r) {
  const v1::Scenario& scenario = plan.scenarios(static_cast<int>(s));
  return (t.scenario().empty() || scenario.name() == t.scenario()) &&
         (t.request().empty() ||
          scenario.requests(static_cast<int>(r)).name() == t.request());
}

const common::Histogram* MetricHistogram(const v1::Threshold& t,
                                         const Cell& cell) {
  if (t.metric() == "latency") return &cell.latency;
  if (t.metric() == "service_time") return &cell.service_time;
  if (t.metric() == "ttfb") return &cell.ttfb;
  if (t.metric() == "connect") return &cell.connect;
  if (t.metric() == "ws_rtt") return &cell.ws_rtt;
  if (t.metric() == "ttlb") return &cell.ttlb;
  return nullptr;
}

common::Histogram* MetricHistogram(const v1::Threshold& t, Cell* cell) {
  return const_cast<common::Histogram*>(
      MetricHistogram(t, static_cast<const Cell&>(*cell)));
}

v1::ThresholdResult Judge(const v1::Threshold& t, const Cell& merged,
                          double duration_s, bool* has_data) {
  double actual = 0;
  std::string actual_text;
  // No data cannot show a latency bound was kept, nor an error-rate one.
  bool data = merged.requests > 0;
  common::Histogram ok;  // latency of the successful responses
  if (const common::Histogram* h = MetricHistogram(t, merged)) {
    if (JudgesSuccessOnly(t) && merged.latency_failed.Count() > 0) {
      ok = *h;
      ok.Subtract(merged.latency_failed);
      h = &ok;
    }
    double us = t.stat() == "mean" ? h->Mean()
                : t.stat() == "max"
                    ? static_cast<double>(h->Max())
                    : static_cast<double>(h->ValueAtPercentile(t.p()));
    actual = us / 1000.0;
    actual_text = absl::StrCat(common::FormatMillis(actual), "ms");
    data = h->Count() > 0;
  } else if (t.metric() == "checks") {
    // The pass rate of the flow steps' checks; none judged cannot pass.
    const int64_t judged = merged.checks_passed + merged.checks_failed;
    actual = judged > 0 ? static_cast<double>(merged.checks_passed) /
                              static_cast<double>(judged)
                        : 0;
    actual_text = absl::StrFormat("%.3f%%", actual * 100);
    data = judged > 0;
  } else if (t.metric() == "error_rate" || t.metric() == "status_rate") {
    actual = merged.requests > 0
                 ? static_cast<double>(CountedShare(t, merged)) /
                       static_cast<double>(merged.requests)
                 : 0;
    actual_text = absl::StrFormat("%.3f%%", actual * 100);
  } else {
    actual =
        duration_s > 0 ? static_cast<double>(merged.requests) / duration_s : 0;
    actual_text = absl::StrFormat("%.1f/s", actual);
  }
  Comparison c = ComparisonOf(t);
  v1::ThresholdResult out;
  out.set_expression(ThresholdExpression(t));
  out.set_metric(ThresholdMetric(t));
  out.set_target(ThresholdTarget(t));
  out.set_actual(actual);
  out.set_actual_text(actual_text);
  out.set_passed(data && Compare(actual, c.op, Bound(t, *c.value)));
  out.set_severity(IsWarning(t) ? "warn" : "fail");
  if (has_data != nullptr) *has_data = data;
  return out;
}

namespace {

// [start, end) of scenario `s`'s schedule, in seconds since the run's start.
std::pair<double, double> Span(const v1::TestPlan& plan, size_t s) {
  const v1::Scenario& scenario = plan.scenarios(static_cast<int>(s));
  const double start = absl::ToDoubleSeconds(common::ScenarioStart(scenario));
  const double length = absl::ToDoubleSeconds(
      common::ArrivalSchedule::ForLoad(scenario.load()).Length());
  return {start, start + length};
}

double Covered(std::vector<std::pair<double, double>> spans, double from_s,
               double to_s) {
  std::sort(spans.begin(), spans.end());
  double covered = 0, reached = from_s;
  for (auto [start, end] : spans) {
    start = std::max(start, reached);
    end = std::min(end, to_s);
    if (end > start) {
      covered += end - start;
      reached = end;
    }
  }
  return covered;
}

}  // namespace

double ScenarioActiveSeconds(const v1::TestPlan& plan, size_t s, double from_s,
                             double to_s) {
  return Covered({Span(plan, s)}, from_s, to_s);
}

double ActiveSeconds(const v1::TestPlan& plan, const v1::Threshold& t,
                     double from_s, double to_s) {
  std::vector<std::pair<double, double>> spans;
  // (A WebSocket scenario's endpoint is its one request: NormalizePlan.)
  for (size_t s = 0; s < static_cast<size_t>(plan.scenarios_size()); ++s) {
    const size_t requests = plan.scenarios(static_cast<int>(s)).requests_size();
    for (size_t r = 0; r < requests; ++r) {
      if (Matches(plan, t, s, r)) {
        spans.push_back(Span(plan, s));
        break;
      }
    }
  }
  return Covered(std::move(spans), from_s, to_s);
}

std::optional<std::pair<double, double>> StageSpan(const v1::TestPlan& plan,
                                                   const v1::Threshold& t) {
  if (t.stage() == 0) return std::nullopt;
  for (const v1::Scenario& scenario : plan.scenarios()) {
    if (scenario.name() != t.scenario()) continue;
    std::vector<double> lengths;
    auto length = [](const google::protobuf::Duration& over,
                     const google::protobuf::Duration& hold) {
      return static_cast<double>(over.seconds() + hold.seconds()) +
             (over.nanos() + hold.nanos()) * 1e-9;
    };
    if (scenario.load().has_vus()) {
      for (const v1::VuStage& st : scenario.load().vus().stages())
        lengths.push_back(length(st.over(), st.hold()));
    } else {
      for (const v1::RateStage& st : scenario.load().arrival_rate().stages())
        lengths.push_back(length(st.over(), st.hold()));
    }
    if (t.stage() > lengths.size()) return std::nullopt;
    double start = absl::ToDoubleSeconds(common::ScenarioStart(scenario));
    for (size_t i = 0; i + 1 < t.stage(); ++i) start += lengths[i];
    return std::make_pair(start, start + lengths[t.stage() - 1]);
  }
  return std::nullopt;
}

std::vector<v1::ThresholdResult> EvaluateThresholds(
    const v1::TestPlan& plan, const std::vector<std::vector<Cell>>& cells,
    double duration_s) {
  std::vector<v1::ThresholdResult> results;
  for (const v1::Threshold& t : plan.thresholds()) {
    Cell merged;
    for (size_t s = 0; s < cells.size(); ++s) {
      for (size_t r = 0; r < cells[s].size(); ++r) {
        if (Matches(plan, t, s, r)) merged.Merge(cells[s][r]);
      }
    }
    results.push_back(Judge(t, merged, ActiveSeconds(plan, t, 0, duration_s)));
  }
  return results;
}

}  // namespace stampede::controller
