// `stampede capacity PLAN`: the highest rate of one open-model scenario that
// meets the plan's fail-severity thresholds, searched in steps on the same
// agents (one controller session), confirmed by a final trial, and projected
// to instances (controller/capacity/search.h has the rules). Returns the exit
// code: 0 an answer was confirmed, 3 no rate passed, 4 interrupted, 6 agents
// lost, 7 with --strict when the generator limited the search; the report is
// written in every case.
#ifndef STAMPEDE_CONTROLLER_CAPACITY_CAPACITY_RUN_H_
#define STAMPEDE_CONTROLLER_CAPACITY_CAPACITY_RUN_H_

#include <string>
#include <vector>

#include "controller/capacity/search.h"
#include "controller/run.h"

namespace stampede::controller {

struct CapacityOptions {
  RunOptions run;  // agents, control plane, outputs
  // Override the plan's capacity: block when set.
  std::string width;
  std::string exceed_ratio;
  // The projection: shown when per_instance is set or a target or growth is.
  bool per_instance = false;
  capacity::ProjectionAsk projection;
};

int Capacity(const CapacityOptions& options);

}  // namespace stampede::controller

#endif  // STAMPEDE_CONTROLLER_CAPACITY_CAPACITY_RUN_H_
