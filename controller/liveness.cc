#include "controller/liveness.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/load_mix.h"
#include "common/schedule.h"
#include "common/units.h"

namespace stampede::controller {

LossPolicy LossPolicyOf(const v1::TestPlan& plan) {
  LossPolicy policy;
  policy.abort_on_loss = plan.on_agent_loss() == "abort";
  if (!plan.max_lost_share().empty()) {
    // Validated with the plan.
    if (auto share = common::ParseFraction(plan.max_lost_share()); share.ok())
      policy.max_lost_share = *share;
  }
  return policy;
}

double LostShare(const std::vector<uint32_t>& weights,
                 const std::vector<bool>& lost) {
  uint64_t total = 0, gone = 0;
  for (size_t a = 0; a < weights.size(); ++a) {
    total += weights[a];
    if (a < lost.size() && lost[a]) gone += weights[a];
  }
  return total == 0 ? 0
                    : static_cast<double>(gone) / static_cast<double>(total);
}

std::string LossAbortReason(const LossPolicy& policy, double lost_share,
                            const std::string& agent_id) {
  if (policy.abort_on_loss) {
    return absl::StrCat("agent ", agent_id,
                        " was lost and the plan says on_agent_loss: abort");
  }
  if (lost_share > policy.max_lost_share + 1e-12) {
    return absl::StrFormat(
        "agent %s was lost: %.1f%% of the plan is gone, over max_lost_share "
        "%.1f%%",
        agent_id, lost_share * 100, policy.max_lost_share * 100);
  }
  return "";
}

int64_t PlannedRequests(const v1::TestPlan& plan,
                        const std::vector<uint32_t>& weights, size_t agent) {
  const common::Slice slice(weights, static_cast<uint32_t>(agent), 0, 1);
  int64_t planned = 0;
  for (int i = 0; i < plan.scenarios_size(); ++i) {
    const v1::Scenario& s = plan.scenarios(i);
    if (s.load().has_arrival_rate()) {
      const common::ArrivalSchedule schedule(s.load().arrival_rate().stages());
      uint64_t total = schedule.TotalArrivals();
      if (auto mix = common::MixOf(plan, static_cast<size_t>(i)))
        total = mix->mix.Count(mix->member, total);
      planned += static_cast<int64_t>(slice.CountBelow(total));
    } else if (s.load().vus().shared_iterations() > 0) {
      planned += static_cast<int64_t>(
          slice.CountBelow(s.load().vus().shared_iterations()));
    } else {
      return -1;
    }
  }
  return planned;
}

}  // namespace stampede::controller
