// The plan's capacity: block as `stampede capacity` runs it, its defaults
// filled in. The plan must be valid (ValidatePlan checks the block in
// capacity_check.cc). Thread-safe.
#ifndef STAMPEDE_COMMON_CAPACITY_PLAN_H_
#define STAMPEDE_COMMON_CAPACITY_PLAN_H_

#include "absl/time/time.h"
#include "stampede/v1/plan.pb.h"

namespace stampede::common {

// The index of the scenario whose rate is searched: capacity.scenario, or the
// plan's only arrival_rate scenario; -1 when there is none (or, unnamed, more
// than one).
int CapacityScenario(const v1::TestPlan& plan);

struct CapacitySettings {
  int scenario = -1;
  double from = 10;  // per second
  double max = 0;
  double growth = 2;
  double width = 0.05;
  double exceed_ratio = 0.1;
  absl::Duration step = absl::Seconds(20);
  absl::Duration warmup = absl::Seconds(5);
  absl::Duration final = absl::Seconds(60);  // 3 x step unless set
};
CapacitySettings CapacitySettingsOf(const v1::TestPlan& plan);

}  // namespace stampede::common

#endif  // STAMPEDE_COMMON_CAPACITY_PLAN_H_
