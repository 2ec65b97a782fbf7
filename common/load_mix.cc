#include "common/load_mix.h"

#include <algorithm>
#include <cmath>

namespace stampede::common {

LoadMix::LoadMix(const std::vector<uint32_t>& weights)
    : positions_(weights.size()) {
  for (uint32_t w : weights) period_ += w;
  // Smooth weighted round robin (as nginx spreads upstream weights): each
  // turn every member gains its weight, the one ahead (first on ties) takes
  // the turn and pays back the period.
  std::vector<int64_t> current(weights.size(), 0);
  for (uint64_t p = 0; p < period_; ++p) {
    size_t best = 0;
    for (size_t i = 0; i < weights.size(); ++i) {
      current[i] += weights[i];
      if (current[i] > current[best]) best = i;
    }
    current[best] -= static_cast<int64_t>(period_);
    positions_[best].push_back(static_cast<uint32_t>(p));
  }
}

uint64_t LoadMix::Count(size_t member, uint64_t n) const {
  if (period_ == 0) return 0;
  const std::vector<uint32_t>& pos = positions_[member];
  const uint64_t rest = n % period_;
  return (n / period_) * pos.size() +
         static_cast<uint64_t>(std::lower_bound(pos.begin(), pos.end(), rest) -
                               pos.begin());
}

uint64_t LoadMix::ItemOf(size_t member, uint64_t k) const {
  const std::vector<uint32_t>& pos = positions_[member];
  return (k / pos.size()) * period_ + pos[k % pos.size()];
}

double LoadMix::Share(size_t member) const {
  return period_ == 0 ? 0
                      : static_cast<double>(positions_[member].size()) /
                            static_cast<double>(period_);
}

std::optional<MixMembership> MixOf(const v1::TestPlan& plan, size_t s) {
  if (!plan.has_load() || s >= static_cast<size_t>(plan.scenarios_size()) ||
      plan.scenarios(static_cast<int>(s)).weight() == 0) {
    return std::nullopt;
  }
  std::vector<uint32_t> weights;
  size_t member = 0;
  for (int i = 0; i < plan.scenarios_size(); ++i) {
    if (plan.scenarios(i).weight() == 0) continue;
    if (static_cast<size_t>(i) == s) member = weights.size();
    weights.push_back(plan.scenarios(i).weight());
  }
  return MixMembership{LoadMix(weights), member};
}

double ScenarioVuLevel(const std::optional<MixMembership>& mix, double level) {
  if (!mix) return level;
  const double n = std::ceil(std::max(0.0, level) - 1e-9);
  return static_cast<double>(
      mix->mix.Count(mix->member, static_cast<uint64_t>(n)));
}

}  // namespace stampede::common
