// Judges the plan's thresholds on merged, cluster-wide data. Pure functions;
// thread-safe.
#ifndef STAMPEDE_CONTROLLER_THRESHOLDS_H_
#define STAMPEDE_CONTROLLER_THRESHOLDS_H_

#include <string>
#include <vector>

#include "controller/aggregator.h"
#include "stampede/v1/plan.pb.h"
#include "stampede/v1/result.pb.h"

namespace stampede::controller {

// "p(95) latency{scenario=browse} < 500ms", as reports show it.
std::string ThresholdExpression(const v1::Threshold& threshold);

// `cells` is [scenario][request] of merged data; `duration_s` the run's length
// (for rps). The plan must be valid (ValidatePlan), so every value parses.
std::vector<v1::ThresholdResult> EvaluateThresholds(
    const v1::TestPlan& plan, const std::vector<std::vector<Cell>>& cells,
    double duration_s);

}  // namespace stampede::controller

#endif  // STAMPEDE_CONTROLLER_THRESHOLDS_H_
