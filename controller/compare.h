// `stampede compare`: judges a new result against a baseline. Pure functions
// plus a thin file-reading entry point; thread-safe.
#ifndef STAMPEDE_CONTROLLER_COMPARE_H_
#define STAMPEDE_CONTROLLER_COMPARE_H_

#include <string>
#include <vector>

#include "stampede/v1/result.pb.h"

namespace stampede::controller {

struct Comparison {
  std::string table;  // side by side, with the change of each metric
  std::vector<std::string>
      regressions;  // one line per metric that got worse beyond the limit
};

// Throughput, error rate and latency percentiles of `next` against `baseline`.
// A metric regresses when it is worse by more than `max_regression` (0.2 = 20
// %): rps lower, p50/p95/ p99 latency higher, or the error rate higher by that
// share and by at least 0.1 points.
Comparison Compare(const v1::RunResult& baseline, const v1::RunResult& next,
                   double max_regression);

// `stampede compare BASE NEW [--max-regression P]`: 0, 3 on a regression, 2 for
// bad input.
int CompareCommand(const std::string& baseline, const std::string& next,
                   const std::string& max_regression);

}  // namespace stampede::controller

#endif  // STAMPEDE_CONTROLLER_COMPARE_H_
