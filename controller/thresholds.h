// Judges the plan's thresholds on merged, cluster-wide data. Pure functions;
// thread-safe.
#ifndef STAMPEDE_CONTROLLER_THRESHOLDS_H_
#define STAMPEDE_CONTROLLER_THRESHOLDS_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "controller/aggregator.h"
#include "stampede/v1/plan.pb.h"
#include "stampede/v1/result.pb.h"

namespace stampede::controller {

// "p(95) latency{scenario=browse} < 500ms", as reports show it: the metric
// ("p(95) latency{scenario=browse}") and the target ("< 500ms for 30s warn").
std::string ThresholdExpression(const v1::Threshold& threshold);
std::string ThresholdMetric(const v1::Threshold& threshold);
std::string ThresholdTarget(const v1::Threshold& threshold);

// severity: warn (reported, never fails the run).
bool IsWarning(const v1::Threshold& t);

// A latency threshold judges successful responses only unless responses: all
// (Cell::latency minus Cell::latency_failed).
bool JudgesSuccessOnly(const v1::Threshold& t);

// Whether a status_rate threshold counts a response with HTTP `status`.
bool StatusCounted(const v1::Threshold& t, int status);

// What a share metric counts of some requests, given their errors and their
// counts by status and by error id (a Cell's maps, or a RequestStats'):
// error_rate's errors (of the one error id, with `error`), status_rate's
// responses with the status or class; the errors for any other metric.
template <typename Statuses, typename ErrorIds>
int64_t CountedShare(const v1::Threshold& t, int64_t errors,
                     const Statuses& statuses, const ErrorIds& error_ids) {
  if (t.metric() == "status_rate") {
    int64_t n = 0;
    for (const auto& [status, count] : statuses)
      if (StatusCounted(t, status)) n += count;
    return n;
  }
  if (t.metric() == "error_rate" && !t.error().empty()) {
    auto it = error_ids.find(t.error());
    return it == error_ids.end() ? 0 : it->second;
  }
  return errors;
}
inline int64_t CountedShare(const v1::Threshold& t, const Cell& cell) {
  return CountedShare(t, cell.errors, cell.statuses, cell.error_ids);
}
// Makes `cell` (a window's, rebuilt from counts: its requests already set)
// say `n` for what CountedShare counts; for checks, `n` failed of its
// requests judged.
void SetCountedShare(const v1::Threshold& t, int64_t n, Cell* cell);

// Whether the threshold's scenario/request filter takes plan request (s, r).
bool Matches(const v1::TestPlan& plan, const v1::Threshold& t, size_t s,
             size_t r);

// The histogram of `cell` the threshold's metric reads; null for error_rate
// and rps.
const common::Histogram* MetricHistogram(const v1::Threshold& t,
                                         const Cell& cell);
common::Histogram* MetricHistogram(const v1::Threshold& t, Cell* cell);

// Seconds of [from_s, to_s] (since the run's start) during which scenario `s`
// was scheduled to run: from its start_after to the end of its stages.
double ScenarioActiveSeconds(const v1::TestPlan& plan, size_t s, double from_s,
                             double to_s);
// The same for the scenarios a threshold counts (any of their requests
// matches its filter), their schedules merged where they overlap: what an rps
// threshold divides by, so a scenario is judged on its own time, not the run's.
double ActiveSeconds(const v1::TestPlan& plan, const v1::Threshold& t,
                     double from_s, double to_s);

// A `stage:` threshold's stage, [start_s, end_s] since the run's start
// (its scenario's start_after plus the stages before it); nullopt without
// one.
std::optional<std::pair<double, double>> StageSpan(const v1::TestPlan& plan,
                                                   const v1::Threshold& t);

// Judges one threshold on `merged` (its filter already applied), covering
// `duration_s` seconds (for rps). `has_data` tells whether there was anything
// to judge: no data cannot show a bound was kept.
v1::ThresholdResult Judge(const v1::Threshold& t, const Cell& merged,
                          double duration_s, bool* has_data = nullptr);

// `cells` is [scenario][request] of merged data; `duration_s` the run's length
// (rps divides by the part of it the counted scenarios were active,
// ActiveSeconds). The plan must be valid (ValidatePlan), so every value parses.
std::vector<v1::ThresholdResult> EvaluateThresholds(
    const v1::TestPlan& plan, const std::vector<std::vector<Cell>>& cells,
    double duration_s);

}  // namespace stampede::controller

#endif  // STAMPEDE_CONTROLLER_THRESHOLDS_H_
