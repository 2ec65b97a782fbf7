// `stampede compare`: judges a new result against a baseline, run-wide, per
// scenario and per request, and tells a regression from run-to-run noise.
// Pure functions plus a thin file-reading entry point; thread-safe.
#ifndef STAMPEDE_CONTROLLER_REPORT_COMPARE_H_
#define STAMPEDE_CONTROLLER_REPORT_COMPARE_H_

#include <string>
#include <vector>

#include "stampede/v1/result.pb.h"

namespace stampede::controller {

struct CompareOptions {
  // Worse than this share is a regression (0.2: 20 %), for every metric.
  double max_regression = 0.2;
  // A latency must also be worse by more than this many milliseconds.
  double latency_floor_ms = 5;
  // An error rate must also rise by more than this (0.001: 0.1 points).
  double error_rate_floor = 0.001;
  // Different plan fingerprints: compare anyway (and warn) instead of
  // refusing.
  bool allow_plan_change = false;
};

// The two-sided Mann-Whitney U test of `a` against `b` (normal approximation
// with tie and continuity corrections): `p` is the chance of a shift at least
// this large between two samples of one distribution; `b_higher` whether b's
// values rank above a's.
struct NoiseTest {
  double u = 0;  // U of `a`
  double z = 0;
  double p = 1;
  bool b_higher = false;
};
NoiseTest MannWhitney(const std::vector<double>& a,
                      const std::vector<double>& b);

// The noise test needs this many steady intervals in each run.
inline constexpr size_t kMinNoiseIntervals = 4;
// A latency change with p at or above this is noise.
inline constexpr double kNoiseP = 0.05;

// A run's steady per-interval values of `percentile` (50, 95 or 99): every
// interval with requests but the first (a ramp's start, cold connections).
std::vector<double> SteadyIntervals(const v1::RunResult& r, int percentile);

struct Comparison {
  bool refused = false;  // the plans differ (exit 2); the rest is empty
  std::string table;     // every row side by side, with its change and verdict
  // One line per row that got worse beyond the limits (and the noise).
  std::vector<std::string> regressions;
  std::vector<std::string> warnings;  // plans, baseline status, untested noise
};

// `next` against `baseline`: rps (lower is worse), error rate and corrected
// p50/p95/p99 latency (higher is worse), for the whole run, each scenario
// and each request (matched by name). A latency regresses when it is worse
// by more than max_regression, by more than latency_floor_ms, and (when both
// runs have kMinNoiseIntervals steady intervals, and recorded that
// percentile in each: a 0 is an older result's) the run's per-interval
// values of that percentile differ beyond noise (MannWhitney p < kNoiseP,
// next higher); a scenario's or request's latency rows are gated by the run's
// test (intervals carry no per-request data). An error rate regresses when
// worse by max_regression and by more than error_rate_floor; rps when lower by
// max_regression.
Comparison Compare(const v1::RunResult& baseline, const v1::RunResult& next,
                   const CompareOptions& options);

// The baseline file for a plan name in a baseline directory:
// DIR/<name>.json, the name kept to [A-Za-z0-9._-] (others become _; empty
// is "run").
std::string BaselinePath(const std::string& dir, const std::string& plan_name);

struct CompareCommandOptions {
  std::string baseline;      // a result file; or
  std::string baseline_dir;  // the plan's baseline in this directory
  std::string next;
  bool update_baseline = false;  // with baseline_dir: keep next when it passed
  CompareOptions compare;
};
// `stampede compare`: 0 (no regression, or no baseline yet), 3 on a
// regression, 2 for bad input or plans that differ.
int CompareCommand(const CompareCommandOptions& options);

}  // namespace stampede::controller

#endif  // STAMPEDE_CONTROLLER_REPORT_COMPARE_H_
