#include "controller/live_thresholds.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/units.h"
#include "controller/thresholds.h"

namespace stampede::controller {
namespace {

double Seconds(const google::protobuf::Duration& d) {
  return static_cast<double>(d.seconds()) + d.nanos() * 1e-9;
}

}  // namespace

bool NeedsIntervalStats(const v1::TestPlan& plan) {
  return std::any_of(
      plan.thresholds().begin(), plan.thresholds().end(),
      [](const v1::Threshold& t) { return t.has_for_() || t.stage() > 0; });
}

LiveThresholds::LiveThresholds(const v1::TestPlan& plan,
                               absl::Duration interval)
    : plan_(plan),
      interval_s_(absl::ToDoubleSeconds(interval)),
      states_(plan.thresholds_size()) {
  for (int i = 0; i < plan.thresholds_size(); ++i)
    states_[i].stage = StageSpan(plan, plan.thresholds(i));
}

LiveThresholds::Slice LiveThresholds::SliceOf(const v1::Threshold& t,
                                              const IntervalView& view) const {
  Slice slice;
  Cell scratch;  // only its metric histogram is used
  common::Histogram* h = MetricHistogram(t, &scratch);
  common::Histogram failed;  // success-only latency: what to take out
  for (const v1::RequestStats& s : view.stats) {
    if (!Matches(plan_, t, s.scenario(), s.request())) continue;
    if (t.metric() == "checks") {
      // A window of checks: judged ones as "requests", failed as counted.
      slice.requests += s.checks_passed() + s.checks_failed();
      slice.counted += s.checks_failed();
      continue;
    }
    slice.requests += s.requests();
    slice.counted +=
        CountedShare(t, s.errors(), s.status_counts(), s.error_counts());
    if (h == nullptr) continue;
    const std::string& bytes = t.metric() == "latency"        ? s.latency()
                               : t.metric() == "service_time" ? s.service_time()
                               : t.metric() == "ttfb"         ? s.ttfb()
                               : t.metric() == "ws_rtt"       ? s.ws_rtt()
                               : t.metric() == "ttlb"         ? s.ttlb()
                                                              : s.connect();
    if (!bytes.empty()) h->MergeEncoded(bytes).IgnoreError();  // checked
    if (JudgesSuccessOnly(t) && !s.latency_failed().empty())
      failed.MergeEncoded(s.latency_failed()).IgnoreError();
  }
  if (h != nullptr && failed.Count() > 0) h->Subtract(failed);
  if (h != nullptr && h->Count() > 0) slice.histogram = h->Encode();
  return slice;
}

Cell LiveThresholds::WindowCell(const v1::Threshold& t,
                                const State& state) const {
  Cell cell;
  common::Histogram* h = MetricHistogram(t, &cell);
  int64_t counted = 0;
  for (const Slice& slice : state.window) {
    cell.requests += slice.requests;
    counted += slice.counted;
    if (h != nullptr && !slice.histogram.empty())
      h->MergeEncoded(slice.histogram).IgnoreError();
  }
  SetCountedShare(t, counted, &cell);
  return cell;
}

v1::ThresholdResult LiveThresholds::JudgeInterval(size_t i,
                                                  const IntervalView& view,
                                                  bool* has_data) const {
  const v1::Threshold& t = plan_.thresholds(static_cast<int>(i));
  State state;
  state.window.push_back(SliceOf(t, view));
  return Judge(t, WindowCell(t, state), interval_s_, has_data);
}

std::vector<LiveThresholds::Change> LiveThresholds::OnInterval(
    const IntervalView& view, const std::vector<std::vector<Cell>>& cells) {
  std::vector<Change> changes;
  const double t_s = interval_s_ * static_cast<double>(view.index + 1);
  for (int i = 0; i < plan_.thresholds_size(); ++i) {
    const v1::Threshold& t = plan_.thresholds(i);
    State& state = states_[i];
    Cell& merged = scratch_;
    // What rps divides by (the other metrics do not read it).
    const bool rps = t.metric() == "rps";
    double duration_s = rps ? ActiveSeconds(plan_, t, 0, t_s) : 0;
    if (state.stage) {
      // Judged on the intervals at least half inside its stage, the stage so
      // far while it runs; the verdict is the whole stage's.
      const double t0 = t_s - interval_s_;
      const double inside =
          std::min(t_s, state.stage->second) - std::max(t0, state.stage->first);
      if (inside < interval_s_ / 2 - 1e-9) continue;
      state.window.push_back(SliceOf(t, view));
      if (state.window.size() == 1) state.stage_from_s = t0;
      merged = WindowCell(t, state);
      if (rps) duration_s = ActiveSeconds(plan_, t, state.stage_from_s, t_s);
    } else if (t.has_for_()) {
      const size_t slices = std::max<size_t>(
          1,
          static_cast<size_t>(std::llround(Seconds(t.for_()) / interval_s_)));
      state.window.push_back(SliceOf(t, view));
      while (state.window.size() > slices) state.window.pop_front();
      if (state.window.size() < slices) continue;  // not a full window yet
      merged = WindowCell(t, state);
      if (rps) {
        duration_s = ActiveSeconds(
            plan_, t, t_s - interval_s_ * static_cast<double>(slices), t_s);
      }
    } else {
      // Only what Judge reads: the counts and the metric's histogram, into a
      // reused cell (a fresh one is six dense histograms to allocate).
      common::Histogram* h = MetricHistogram(t, &merged);
      merged.requests = 0;
      merged.errors = 0;
      merged.checks_passed = 0;
      merged.checks_failed = 0;
      merged.statuses.clear();
      merged.error_ids.clear();
      merged.latency_failed.Reset();
      const bool ok_only = JudgesSuccessOnly(t);
      const bool shares = t.metric() == "status_rate" || !t.error().empty();
      if (h != nullptr) h->Reset();
      for (size_t s = 0; s < cells.size(); ++s) {
        for (size_t r = 0; r < cells[s].size(); ++r) {
          if (!Matches(plan_, t, s, r)) continue;
          const Cell& c = cells[s][r];
          merged.requests += c.requests;
          merged.errors += c.errors;
          merged.checks_passed += c.checks_passed;
          merged.checks_failed += c.checks_failed;
          if (shares) {
            for (const auto& [status, n] : c.statuses)
              merged.statuses[status] += n;
            for (const auto& [id, n] : c.error_ids) merged.error_ids[id] += n;
          }
          if (h != nullptr) h->Merge(*MetricHistogram(t, c));
          if (ok_only) merged.latency_failed.Merge(c.latency_failed);
        }
      }
    }
    if (t_s < Seconds(t.grace())) continue;
    bool has_data = false;
    v1::ThresholdResult result = Judge(t, merged, duration_s, &has_data);
    state.judged = true;
    state.actual = result.actual();
    if (state.stage) {
      state.stage_result = result;
      state.stage_has_data = has_data;
    }
    if (t.has_for_() && has_data) {
      const bool higher_is_worse = !t.lt().empty() || !t.lte().empty();
      if (!state.has_worst ||
          (higher_is_worse ? result.actual() > state.worst.actual()
                           : result.actual() < state.worst.actual())) {
        state.has_worst = true;
        state.worst_at_s = t_s;
        state.worst = result;
      }
    }
    // Live, no data yet is not a failure: nothing has crossed the bound.
    const bool failing = has_data && !result.passed();
    if (failing == state.failing) continue;
    state.failing = failing;
    if (failing && state.first_failed_s == 0) {
      state.first_failed_s = t_s;
      state.first_failure = result;
      if (t.abort() && !aborted_by_) aborted_by_ = static_cast<size_t>(i);
    }
    changes.push_back({static_cast<size_t>(i), failing, t_s, result});
  }
  return changes;
}

std::vector<LiveThresholds::Current> LiveThresholds::current() const {
  std::vector<Current> out;
  out.reserve(states_.size());
  for (const State& s : states_) out.push_back({s.judged, s.failing, s.actual});
  return out;
}

std::string LiveThresholds::AbortReason() const {
  if (!aborted_by_) return "";
  const State& state = states_[*aborted_by_];
  return absl::StrCat("threshold ", state.first_failure.expression(),
                      " failed at ", common::FormatMillis(state.first_failed_s),
                      "s (actual ", state.first_failure.actual_text(),
                      "): aborted");
}

void LiveThresholds::Finish(
    std::vector<v1::ThresholdResult>* final_results) const {
  for (size_t i = 0; i < final_results->size() && i < states_.size(); ++i) {
    const State& state = states_[i];
    v1::ThresholdResult& out = (*final_results)[i];
    const bool windowed = plan_.thresholds(static_cast<int>(i)).has_for_();
    // Judged on full windows: passed only if no window failed.
    if (windowed && state.judged && state.first_failed_s == 0)
      out.set_passed(true);
    if (state.first_failed_s > 0) {
      out.set_failed_at_s(state.first_failed_s);
      // A sustained condition: once a full window failed, the run failed.
      if (windowed) out.set_passed(false);
    }
    if (windowed && state.has_worst) {
      // Judged on windows: the numbers shown are its worst window's, not
      // the whole run's.
      out.set_actual(state.worst.actual());
      out.set_actual_text(state.worst.actual_text());
      out.set_worst_window_end_s(state.worst_at_s);
    }
    if (state.stage) {
      // Its stage's verdict, not the whole run's; a stage the run never
      // reached has nothing to judge, and fails.
      if (state.judged) {
        out.set_passed(state.stage_result.passed() && state.stage_has_data);
        out.set_actual(state.stage_result.actual());
        out.set_actual_text(state.stage_result.actual_text());
      } else {
        out.set_passed(false);
        out.set_actual(0);
        out.set_actual_text("no data (the run ended before the stage)");
      }
    }
    if (aborted_by_ == i) {
      out.set_aborted(true);
      out.set_passed(false);
    }
  }
}

}  // namespace stampede::controller
