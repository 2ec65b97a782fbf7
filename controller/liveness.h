// When a running agent counts as lost (silent for kAgentSilence, or its
// stream ended), and what the plan says to do then. A lost agent's share is
// never handed to another agent: it fences itself when its lease runs out.
// Pure functions; thread-safe.
#ifndef STAMPEDE_CONTROLLER_LIVENESS_H_
#define STAMPEDE_CONTROLLER_LIVENESS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "stampede/v1/plan.pb.h"

namespace stampede::controller {

// Agents send a heartbeat every second during a run (and the controller
// answers each, renewing the agent's lease): one unheard of this long is lost.
inline constexpr absl::Duration kAgentSilence = absl::Seconds(4);
// How long each heartbeat reply lets an agent go on without another.
inline constexpr absl::Duration kAgentLease = absl::Seconds(10);

struct LossPolicy {
  bool abort_on_loss = false;    // on_agent_loss: abort
  double max_lost_share = 0.25;  // beyond it, continue aborts too
};
LossPolicy LossPolicyOf(const v1::TestPlan& plan);

// The part of the plan (by weight) that the lost agents were given, 0..1.
double LostShare(const std::vector<uint32_t>& weights,
                 const std::vector<bool>& lost);

// Why the run must stop after a loss ("" if it goes on).
std::string LossAbortReason(const LossPolicy& policy, double lost_share,
                            const std::string& agent_id);

// The requests agent `agent`'s share asks for: its open-model arrivals plus
// its shared iterations; -1 when a scenario fixes no count (closed model
// without shared_iterations).
int64_t PlannedRequests(const v1::TestPlan& plan,
                        const std::vector<uint32_t>& weights, size_t agent);

}  // namespace stampede::controller

#endif  // STAMPEDE_CONTROLLER_LIVENESS_H_
