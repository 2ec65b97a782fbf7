// Judges the plan's thresholds while the run goes, on every merged interval:
// on all data so far, or, for a threshold with `for`, on the last `for` of
// data once the run has that much; none before its `grace`. Says when a
// threshold starts or stops failing, and which `abort: true` threshold failed
// first. Not thread-safe: used from the run's thread only.
#ifndef STAMPEDE_CONTROLLER_LIVE_THRESHOLDS_H_
#define STAMPEDE_CONTROLLER_LIVE_THRESHOLDS_H_

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "controller/aggregator.h"
#include "stampede/v1/plan.pb.h"
#include "stampede/v1/result.pb.h"

namespace stampede::controller {

// Whether any threshold of `plan` is judged on a window (the aggregator must
// then keep each interval's stats).
bool NeedsIntervalStats(const v1::TestPlan& plan);

class LiveThresholds {
 public:
  // `plan` must be valid and outlive this.
  LiveThresholds(const v1::TestPlan& plan, absl::Duration interval);

  struct Change {
    size_t threshold = 0;  // index into plan.thresholds
    bool failing = false;  // it started failing (or passes again)
    double t_s = 0;        // seconds since the start, at the interval's end
    v1::ThresholdResult result;  // as judged then
  };

  // Judges every threshold after the merged interval `view` (its stats kept if
  // NeedsIntervalStats), given all merged `cells` so far. Returns what changed.
  std::vector<Change> OnInterval(const IntervalView& view,
                                 const std::vector<std::vector<Cell>>& cells);

  // Judges threshold `i` on the one interval `view` (its stats kept) alone,
  // as a window of one interval: a capacity step's second. `has_data`:
  // whether there was anything to judge.
  v1::ThresholdResult JudgeInterval(size_t i, const IntervalView& view,
                                    bool* has_data) const;

  // The first `abort: true` threshold that failed, if one did.
  std::optional<size_t> aborted_by() const { return aborted_by_; }
  // "p(95) latency < 500ms failed at 12s (actual 612ms)" for the abort.
  std::string AbortReason() const;

  // Each threshold as last judged live (plan order), for /metrics.
  struct Current {
    bool judged = false;   // judged at least once (with data or not)
    bool failing = false;  // failing now
    double actual = 0;     // when last judged, in the threshold's unit
  };
  std::vector<Current> current() const;

  // Folds the live verdicts into the final ones (judged on the whole run, in
  // plan order): a windowed threshold fails if any full window failed, every
  // threshold that failed live says when, and the abort is marked.
  void Finish(std::vector<v1::ThresholdResult>* final_results) const;

 private:
  // One interval's data for one windowed threshold, filtered and compact.
  struct Slice {
    int64_t requests = 0;  // for checks: the checks judged
    // What the metric counts of them (CountedShare; for checks, the failed).
    int64_t counted = 0;
    std::string histogram;  // the metric's, encoded; empty for counts
  };
  struct State {
    bool failing = false;
    bool judged = false;        // judged live at least once
    double actual = 0;          // as last judged
    double first_failed_s = 0;  // 0: never failed live
    v1::ThresholdResult first_failure;
    // Windowed: the worst full window judged with data (the highest actual
    // for lt/lte, the lowest for gt/gte), and when it ended.
    bool has_worst = false;
    double worst_at_s = 0;
    v1::ThresholdResult worst;
    std::deque<Slice> window;  // windowed thresholds: the last `for` slices
    // A `stage:` threshold: its stage's span, when its first interval began,
    // and its last judgment (over the stage so far; window holds it all).
    std::optional<std::pair<double, double>> stage;
    double stage_from_s = 0;
    v1::ThresholdResult stage_result;
    bool stage_has_data = false;
  };

  Slice SliceOf(const v1::Threshold& t, const IntervalView& view) const;
  Cell WindowCell(const v1::Threshold& t, const State& state) const;

  const v1::TestPlan& plan_;
  const double interval_s_;
  std::vector<State> states_;
  // Where a threshold's data is merged before it is judged; only the fields
  // Judge reads are kept current.
  Cell scratch_;
  std::optional<size_t> aborted_by_;
};

}  // namespace stampede::controller

#endif  // STAMPEDE_CONTROLLER_LIVE_THRESHOLDS_H_
