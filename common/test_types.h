// Test types from one plan: a known `type:` gives its standard stages to the
// scenarios that have none of their own, and command-line overrides (--type,
// --vus, --rate, --duration) reshape whatever stages a plan has. Pure
// functions over v1::TestPlan; thread-safe.
//
// The types (VU stages are the closed model, rate stages the open model; a
// ramp starts from 0):
//
//   type        model   stages                                        length
//   smoke       closed  to 5 over 1m, hold 4m                         5m
//   load        closed  to 100 over 5m, hold 20m, to 0 over 5m        30m
//   stress      closed  to 500 over 10m, hold 10m, to 0 over 5m       25m
//   spike       closed  to 10 over 1m, hold 2m, to 200 over 10s,      6m20s
//                       hold 1m, to 10 over 10s, hold 2m
//   soak        closed  to 50 over 5m, hold 3h50m, to 0 over 5m       4h
//   breakpoint  open    to 1000/s over 10m                            10m
//
// A breakpoint test is meant to be cut short: give it thresholds with
// `abort: true`, so the run stops where the service breaks.
#ifndef STAMPEDE_COMMON_TEST_TYPES_H_
#define STAMPEDE_COMMON_TEST_TYPES_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "stampede/v1/plan.pb.h"

namespace stampede::common {

// The load a known type gives (e.g. "smoke"; names are lowercase), or nullopt
// for any other text (a type that is only a label).
std::optional<v1::Load> TestTypeLoad(std::string_view type);

// Something ExpandTestType could not do, at a field path of the plan (e.g.
// "scenarios[1].load.arrival_rate").
struct TestTypeIssue {
  std::string path;
  std::string message;
};

// Gives the plan's type's stages to every scenario without load stages of its
// own: one with no load (and no weight) gets the type's load; one whose load
// names no model, or a model without stages, gets the type's stages there
// (keeping what else it set, e.g. think_time). A plan-level user-mix load
// without stages (or missing, while scenarios have a weight) gets them too.
// A scenario with stages keeps them. Does nothing for an unknown type. A model
// written without stages that the type cannot fill (vus for breakpoint,
// arrival_rate for the closed types) is an issue.
std::vector<TestTypeIssue> ExpandTestType(v1::TestPlan* plan);

// The command line's overrides for one run, each as written; empty: not
// given.
struct LoadOverrides {
  std::string type;      // --type: replaces the plan's type before expansion
  std::string vus;       // --vus N: each closed-model load's peak VU count
  std::string rate;      // --rate R (e.g. 200/s): each open-model load's peak
  std::string duration;  // --duration D (e.g. 90s, 2m): each load's length

  bool empty() const {
    return type.empty() && vus.empty() && rate.empty() && duration.empty();
  }
};

// Applies `overrides` to `plan`: replaces its type, expands it
// (ExpandTestType), then scales every load's stages, the scenarios' own and
// the plan-level one. --vus scales the VU counts of closed-model loads so
// their peak is N (proportionally; rounded, a stage above 0 stays at least 1
// VU); --rate scales the rates of open-model loads so their peak is R;
// --duration scales every stage's length so each load's stages last D in total
// (to the millisecond, the last stage taking the rounding). A bad value (--vus
// 0,
// --rate abc, --duration -1s), an override that finds nothing to scale (--vus
// on a plan without a closed-model load) and an expansion issue are
// InvalidArgument errors naming the flag; `plan` may then be half changed.
absl::Status ApplyOverrides(const LoadOverrides& overrides, v1::TestPlan* plan);

}  // namespace stampede::common

#endif  // STAMPEDE_COMMON_TEST_TYPES_H_
