// A user mix: a plan-level `load:` shared by the scenarios that have a
// `weight:` (and no load of their own), split exactly by weight at every
// level. The plan-wide sequence of VUs (closed model) or arrivals (open model)
// is dealt out by smooth weighted round robin, so of every sum(weights)
// consecutive items each scenario gets its weight, spread evenly: 60/30/8/2
// of 1,000 VUs is 600/300/80/20, of 50 it is 30/15/4/1. Immutable;
// thread-safe.
#ifndef STAMPEDE_COMMON_LOAD_MIX_H_
#define STAMPEDE_COMMON_LOAD_MIX_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "stampede/v1/plan.pb.h"

namespace stampede::common {

// The sum of a mix's weights may not exceed this (one period of the deal).
inline constexpr uint64_t kMaxMixWeight = 10'000;

class LoadMix {
 public:
  // One weight (> 0) per member, in plan order; their sum <= kMaxMixWeight.
  explicit LoadMix(const std::vector<uint32_t>& weights);

  size_t members() const { return positions_.size(); }
  // How many of the plan-wide items 0..n-1 go to `member`.
  uint64_t Count(size_t member, uint64_t n) const;
  // The plan-wide item that is `member`'s k-th (0-based).
  uint64_t ItemOf(size_t member, uint64_t k) const;
  // `member`'s share of the items, 0..1.
  double Share(size_t member) const;

 private:
  uint64_t period_ = 0;
  // Per member: its positions within one period, ascending.
  std::vector<std::vector<uint32_t>> positions_;
};

// Scenario `s` of a normalized plan: the mix it is in and its member index,
// or nullopt when it has a load of its own.
struct MixMembership {
  LoadMix mix;
  size_t member = 0;
};
std::optional<MixMembership> MixOf(const v1::TestPlan& plan, size_t s);

// Scenario `s`'s own VU level when the shared load's level is `level` (the
// level itself for a scenario outside any mix), rounded up as VUs run.
double ScenarioVuLevel(const std::optional<MixMembership>& mix, double level);

}  // namespace stampede::common

#endif  // STAMPEDE_COMMON_LOAD_MIX_H_
