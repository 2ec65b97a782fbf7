#include "common/schedule.h"

#include <algorithm>
#include <cmath>

#include "google/protobuf/util/time_util.h"

namespace stampede::common {
namespace {

double Seconds(const google::protobuf::Duration& d) {
  return static_cast<double>(d.seconds()) + d.nanos() * 1e-9;
}

}  // namespace

ArrivalSchedule::ArrivalSchedule(
    const google::protobuf::RepeatedPtrField<v1::RateStage>& stages) {
  double t = 0, rate = 0, count = 0;
  for (const v1::RateStage& stage : stages) {
    Segment seg{t, 0, rate, rate, count};
    if (stage.has_hold()) {
      seg.length_s = Seconds(stage.hold());
    } else {
      seg.length_s = Seconds(stage.over());
      seg.to_rate = stage.to().per_second();
      if (seg.length_s == 0) {  // a step: the new rate applies from here on
        rate = seg.to_rate;
        continue;
      }
    }
    segments_.push_back(seg);
    t += seg.length_s;
    count += seg.length_s * (seg.from_rate + seg.to_rate) / 2;
    rate = seg.to_rate;
  }
  length_s_ = t;
  // Arrival j is due when N(t) = j + 0.5, so there are floor(N(end) + 0.5) of
  // them.
  total_ = static_cast<uint64_t>(std::floor(count + 0.5 + 1e-9));
  area_ = count;
}

namespace {

google::protobuf::RepeatedPtrField<v1::RateStage> AsRateStages(
    const google::protobuf::RepeatedPtrField<v1::VuStage>& stages) {
  google::protobuf::RepeatedPtrField<v1::RateStage> out;
  for (const v1::VuStage& vu : stages) {
    v1::RateStage* stage = out.Add();
    if (vu.has_hold()) *stage->mutable_hold() = vu.hold();
    if (vu.has_over()) *stage->mutable_over() = vu.over();
    if (vu.has_to()) stage->mutable_to()->set_per_second(vu.to());
  }
  return out;
}

}  // namespace

ArrivalSchedule::ArrivalSchedule(
    const google::protobuf::RepeatedPtrField<v1::VuStage>& stages)
    : ArrivalSchedule(AsRateStages(stages)) {}

ArrivalSchedule ArrivalSchedule::ForLoad(const v1::Load& load) {
  return load.has_vus() ? ArrivalSchedule(load.vus().stages())
                        : ArrivalSchedule(load.arrival_rate().stages());
}

absl::Duration ScenarioStart(const v1::Scenario& scenario) {
  return absl::Seconds(scenario.start_after().seconds()) +
         absl::Nanoseconds(scenario.start_after().nanos());
}

absl::Duration PlanLength(const v1::TestPlan& plan) {
  absl::Duration longest = absl::ZeroDuration();
  for (const v1::Scenario& s : plan.scenarios()) {
    absl::Duration end =
        ScenarioStart(s) + ArrivalSchedule::ForLoad(s.load()).Length();
    if (s.has_websocket() && s.load().has_arrival_rate()) {
      // The last connections opened are held open that much longer.
      end += absl::Seconds(s.websocket().hold().seconds()) +
             absl::Nanoseconds(s.websocket().hold().nanos());
    }
    longest = std::max(longest, end);
  }
  return longest;
}

Slice::Slice(const std::vector<uint32_t>& weights, uint32_t agent,
             uint32_t worker, uint32_t workers)
    : worker_(worker), workers_(std::max<uint32_t>(1, workers)) {
  if (weights.empty()) {
    residues_ = {0};
    return;
  }
  period_ = 0;
  for (uint32_t w : weights) period_ += w;
  // Smooth weighted round robin: each step every agent gains its weight and
  // the one with the most (the lowest index on a tie) takes the step, paying
  // the period. Each agent's steps come out evenly spread.
  std::vector<int64_t> credit(weights.size(), 0);
  for (uint64_t step = 0; step < period_; ++step) {
    size_t pick = 0;
    for (size_t a = 0; a < weights.size(); ++a) {
      credit[a] += weights[a];
      if (credit[a] > credit[pick]) pick = a;
    }
    credit[pick] -= static_cast<int64_t>(period_);
    if (pick == agent) residues_.push_back(static_cast<uint32_t>(step));
  }
}

uint64_t Slice::At(uint64_t m) const {
  const uint64_t k = worker_ + uint64_t{workers_} * m;  // the agent's k-th
  return period_ * (k / residues_.size()) + residues_[k % residues_.size()];
}

uint64_t Slice::CountBelow(uint64_t n) const {
  // The agent's items below n, then this worker's among them.
  const uint64_t rem = n % period_;
  const uint64_t agent =
      (n / period_) * residues_.size() +
      static_cast<uint64_t>(
          std::lower_bound(residues_.begin(), residues_.end(), rem) -
          residues_.begin());
  return agent <= worker_ ? 0 : (agent - 1 - worker_) / workers_ + 1;
}

uint64_t Slice::ActiveAt(double level) const {
  // Tolerate float noise so a level of exactly N (e.g. 3.0000000001) means N.
  const double total = level <= 0 ? 0 : std::ceil(level - 1e-9);
  return CountBelow(static_cast<uint64_t>(total));
}

double Slice::Fraction() const {
  return static_cast<double>(residues_.size()) / static_cast<double>(period_) /
         workers_;
}

double ArrivalSchedule::RateAt(double t_s) const {
  for (const Segment& seg : segments_) {
    if (t_s >= seg.start_s && t_s < seg.start_s + seg.length_s) {
      double f = (t_s - seg.start_s) / seg.length_s;
      return seg.from_rate + (seg.to_rate - seg.from_rate) * f;
    }
  }
  return 0;
}

double ArrivalSchedule::CumulativeAt(double t_s) const {
  double total = 0;
  for (const Segment& seg : segments_) {
    double tau = std::clamp(t_s - seg.start_s, 0.0, seg.length_s);
    double slope = (seg.to_rate - seg.from_rate) / seg.length_s;
    total = seg.start_count + seg.from_rate * tau + slope * tau * tau / 2;
    if (t_s < seg.start_s + seg.length_s) break;
  }
  return total;
}

std::optional<double> ArrivalSchedule::TimeOf(uint64_t j) const {
  if (j >= total_) return std::nullopt;
  return TimeAtCumulative(static_cast<double>(j) + 0.5);
}

std::optional<double> ArrivalSchedule::TimeAtCumulative(double target) const {
  // The last arrival may sit exactly at the end (area j + 0.5): allow for
  // rounding.
  if (!(target >= 0) || target > area_ + 1e-9) return std::nullopt;
  // The last segment whose start count is below the target holds it.
  auto it = std::upper_bound(
      segments_.begin(), segments_.end(), target,
      [](double v, const Segment& s) { return v < s.start_count; });
  const Segment& seg = *std::prev(it);
  double need = target - seg.start_count;
  double a =
      (seg.to_rate - seg.from_rate) / seg.length_s / 2;  // n(τ) = r0 τ + a τ²
  double tau;
  if (std::abs(a) < 1e-12) {
    tau = need / seg.from_rate;
  } else {
    // Solve a τ² + r0 τ - need = 0 for the smallest non-negative root, in a
    // form that stays accurate when a is tiny.
    double disc = std::max(0.0, seg.from_rate * seg.from_rate + 4 * a * need);
    tau = 2 * need / (seg.from_rate + std::sqrt(disc));
  }
  return seg.start_s + std::clamp(tau, 0.0, seg.length_s);
}

}  // namespace stampede::common
