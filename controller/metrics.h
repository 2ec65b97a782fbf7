// Live, cluster-wide metrics in the Prometheus text exposition format (0.0.4),
// rendered from the controller's merged state and served read-only on GET
// /metrics (`stampede run --metrics-listen`). The run's thread renders a
// snapshot after every merged interval and publishes it to a MetricsServer
// (metrics_server.h).
#ifndef STAMPEDE_CONTROLLER_METRICS_H_
#define STAMPEDE_CONTROLLER_METRICS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "controller/aggregator.h"
#include "stampede/v1/plan.pb.h"
#include "stampede/v1/result.pb.h"

namespace stampede::controller {

// Upper bounds (seconds) of stampede_request_duration_seconds' buckets.
inline constexpr double kMetricsBucketsS[] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25,   0.5,   1,      2.5,   5,    10,    30,   60};
// Quantiles of stampede_latency_seconds, from the merged HDR histogram.
inline constexpr double kMetricsQuantiles[] = {0.5, 0.9, 0.95, 0.99, 0.999};

struct MetricsThreshold {
  std::string expression;
  bool judged = false;
  bool failing = false;
  double actual = 0;  // in the threshold's unit (ms, ratio or per second)
};

// What a snapshot is made of; pointers may be null before the run starts.
struct MetricsInput {
  const v1::TestPlan* plan = nullptr;
  std::string run_id;
  std::string phase;  // registering | preparing | running | draining | done
  double elapsed_s = 0;
  const std::vector<std::vector<Cell>>* cells = nullptr;  // [scenario][request]
  const v1::IntervalResult* last_interval = nullptr;
  // (state, count) for every state, zeros included.
  std::vector<std::pair<std::string, int64_t>> agents;
  std::vector<MetricsThreshold> thresholds;
};

// The exposition text for `in`. Histogram buckets count the HDR buckets up
// to and including the one holding the bound, so a bucket may hold values up
// to 0.1% above its `le`.
std::string RenderMetrics(const MetricsInput& in);

}  // namespace stampede::controller

#endif  // STAMPEDE_CONTROLLER_METRICS_H_
