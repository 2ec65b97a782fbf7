// What a result records about the plan it ran: each scenario's targets and
// peak load, and a fingerprint that says whether two results ran the same
// load. Pure functions; thread-safe.
#ifndef STAMPEDE_CONTROLLER_PLAN_FACTS_H_
#define STAMPEDE_CONTROLLER_PLAN_FACTS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "stampede/v1/plan.pb.h"

namespace stampede::controller {

// "scheme://host[:port]" of a full URL (user info left out); "" when `url`
// is not a full URL or its host is a template.
std::string OriginOf(const std::string& url);

// Scenario `s`'s base_url origin, then its requests', flow steps' and
// WebSocket's full URLs' origins, each once, in first-use order. `plan` is
// normalized (base_url filled in from defaults).
std::vector<std::string> ScenarioOrigins(const v1::TestPlan& plan, int s);

struct ScenarioPeak {
  int64_t vus = 0;        // closed model: the plan's highest VU level
  double target_rps = 0;  // open model: its highest arrival rate
};
ScenarioPeak ScenarioPeakOf(const v1::TestPlan& plan, int s);

// "sha256:<hex>" over `as_run` (the redacted plan) without what does not
// change the load (name, type, thresholds and the verdict and loss rules),
// and the targets' origins, which redaction may have hidden.
std::string PlanFingerprint(const v1::TestPlan& as_run,
                            const std::vector<std::string>& origins);

}  // namespace stampede::controller

#endif  // STAMPEDE_CONTROLLER_PLAN_FACTS_H_
