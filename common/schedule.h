// The open model's arrival schedule for one scenario: the rate follows
// piecewise-linear stages, N(t) is the number of arrivals due by t, and arrival
// j (0-based, plan-wide) is intended at the t where N(t) = j + 0.5. Agents and
// workers take disjoint subsets of j, so together they send exactly the plan.
// Immutable after construction; thread-safe.
#ifndef STAMPEDE_COMMON_SCHEDULE_H_
#define STAMPEDE_COMMON_SCHEDULE_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/time/time.h"
#include "stampede/v1/plan.pb.h"

namespace stampede::common {

class ArrivalSchedule {
 public:
  // `stages` must be valid (see ValidatePlan): each is {to, over} or {hold}.
  explicit ArrivalSchedule(
      const google::protobuf::RepeatedPtrField<v1::RateStage>& stages);
  // The closed model's VU count follows the same piecewise-linear shape: RateAt
  // is then the VU level, and VU v (plan-wide) is active while RateAt(t) > v.
  explicit ArrivalSchedule(
      const google::protobuf::RepeatedPtrField<v1::VuStage>& stages);
  // The schedule of a scenario's load model, whichever it is.
  static ArrivalSchedule ForLoad(const v1::Load& load);

  absl::Duration Length() const { return absl::Seconds(length_s_); }
  // Target rate (per second) at `t` since start; 0 outside [0, Length()).
  double RateAt(double t_s) const;
  // Arrivals due in [0, t].
  double CumulativeAt(double t_s) const;
  // Total arrivals the plan asks for: the number of j with an intended time <
  // Length().
  uint64_t TotalArrivals() const { return total_; }
  // Intended time (seconds since start) of arrival j; nullopt when j >=
  // TotalArrivals().
  std::optional<double> TimeOf(uint64_t j) const;
  // The time at which CumulativeAt reaches `count`; nullopt when the stages
  // never do.
  std::optional<double> TimeAtCumulative(double count) const;

 private:
  struct Segment {
    double start_s, length_s, from_rate, to_rate, start_count;
  };
  std::vector<Segment> segments_;
  double length_s_ = 0;
  uint64_t total_ = 0;
  double area_ = 0;  // CumulativeAt(Length())
};

// When a scenario begins, relative to the run's start (its start_after).
absl::Duration ScenarioStart(const v1::Scenario& scenario);
// When the last of the plan's scenarios ends (the scheduled length of the run).
absl::Duration PlanLength(const v1::TestPlan& plan);

// One worker's part of the plan's arrivals, VUs and iterations (all numbered
// j = 0, 1, ...). Agent a of the run owns weights[a] of every sum(weights)
// consecutive j, interleaved evenly (smooth weighted round robin), and its
// workers take its j in turn. Over all agents and workers every j belongs to
// exactly one slice, whatever the weights and worker counts. Equal weights
// give agent a every j with j % agents == a. Immutable; thread-safe.
class Slice {
 public:
  // `weights`: one per agent, each > 0 (empty: one agent); `agent` indexes
  // it; `worker` < `workers`.
  Slice(const std::vector<uint32_t>& weights, uint32_t agent, uint32_t worker,
        uint32_t workers);

  // The plan-wide j of this slice's m-th item.
  uint64_t At(uint64_t m) const;
  // How many of this slice's items have j < n.
  uint64_t CountBelow(uint64_t n) const;
  // The VUs of this slice active at VU level `level` (VU j runs while
  // j < level): summed over all slices, ceil(level).
  uint64_t ActiveAt(double level) const;
  // This slice's share of the plan, 0..1.
  double Fraction() const;

 private:
  uint64_t period_ = 1;             // sum of the weights
  std::vector<uint32_t> residues_;  // this agent's j % period, ascending
  uint32_t worker_ = 0;
  uint32_t workers_ = 1;
};

}  // namespace stampede::common

#endif  // STAMPEDE_COMMON_SCHEDULE_H_
