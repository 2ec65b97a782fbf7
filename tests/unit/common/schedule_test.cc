// The open model's schedule: arrival counts follow the stages, and the slices
// that agents and workers take add up to exactly the plan.
#include "common/schedule.h"

#include <cmath>
#include <random>
#include <set>

#include "gtest/gtest.h"

namespace stampede::common {
namespace {

v1::RateStage Ramp(double to, double over_s) {
  v1::RateStage s;
  s.mutable_to()->set_per_second(to);
  s.mutable_over()->set_seconds(static_cast<int64_t>(over_s));
  s.mutable_over()->set_nanos(
      static_cast<int32_t>((over_s - std::floor(over_s)) * 1e9));
  return s;
}

v1::RateStage Hold(double s_) {
  v1::RateStage s;
  s.mutable_hold()->set_seconds(static_cast<int64_t>(s_));
  return s;
}

google::protobuf::RepeatedPtrField<v1::RateStage> Stages(
    std::vector<v1::RateStage> list) {
  google::protobuf::RepeatedPtrField<v1::RateStage> out;
  for (auto& s : list) *out.Add() = s;
  return out;
}

TEST(ArrivalSchedule, RampThenHoldHasTheAreaUnderTheRate) {
  ArrivalSchedule s(Stages({Ramp(200, 10), Hold(20)}));
  EXPECT_EQ(s.Length(), absl::Seconds(30));
  EXPECT_EQ(s.TotalArrivals(), 1000u + 4000u);
  EXPECT_DOUBLE_EQ(s.RateAt(5), 100);
  EXPECT_DOUBLE_EQ(s.RateAt(15), 200);
  EXPECT_DOUBLE_EQ(s.RateAt(30), 0);
  EXPECT_DOUBLE_EQ(s.CumulativeAt(10), 1000);
}

TEST(ArrivalSchedule, AStepOfZeroLengthSetsTheRateAtOnce) {
  ArrivalSchedule s(Stages({Ramp(50, 0), Hold(2)}));
  EXPECT_EQ(s.TotalArrivals(), 100u);
  EXPECT_NEAR(*s.TimeOf(0), 0.01, 1e-9);  // half an interval in
  EXPECT_NEAR(*s.TimeOf(99), 1.99, 1e-9);
  EXPECT_FALSE(s.TimeOf(100).has_value());
}

TEST(ArrivalSchedule, RampDownEndsAtZero) {
  ArrivalSchedule s(Stages({Ramp(100, 0), Hold(1), Ramp(0, 2)}));
  EXPECT_EQ(s.TotalArrivals(), 200u);
  EXPECT_LT(*s.TimeOf(199), 3.0);
}

// Arrival times rise with j, and the number due by any instant matches the
// plan's area.
TEST(ArrivalSchedule, TimesFollowTheCumulativeCountForRandomPlans) {
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<v1::RateStage> stages;
    int n = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < n; ++i) {
      if (rng() % 3 == 0) {
        stages.push_back(Hold(1 + static_cast<double>(rng() % 3)));
      } else {
        stages.push_back(Ramp(static_cast<double>(rng() % 300),
                              static_cast<double>(rng() % 4)));
      }
    }
    ArrivalSchedule s(Stages(stages));
    double prev = -1;
    for (uint64_t j = 0; j < s.TotalArrivals(); ++j) {
      double t = *s.TimeOf(j);
      ASSERT_GE(t, prev) << "trial " << trial << " j " << j;
      ASSERT_LE(t, absl::ToDoubleSeconds(s.Length()) + 1e-9);
      // Arrival j is due where the cumulative count passes j + 0.5.
      ASSERT_NEAR(s.CumulativeAt(t), static_cast<double>(j) + 0.5, 1e-6);
      prev = t;
    }
  }
}

// Random layouts: 1-9 agents with weights 1-4 (or all equal), 1-5 workers each.
struct Layout {
  std::vector<uint32_t> weights;
  std::vector<uint32_t> workers;
};

Layout RandomLayout(std::mt19937_64& rng, bool equal) {
  Layout l;
  const uint32_t agents = 1 + static_cast<uint32_t>(rng() % 9);
  for (uint32_t a = 0; a < agents; ++a) {
    l.weights.push_back(equal ? 1 : 1 + static_cast<uint32_t>(rng() % 4));
    l.workers.push_back(1 + static_cast<uint32_t>(rng() % 5));
  }
  return l;
}

// Every layout, weighted or not, covers every arrival exactly once: shares add
// up to the plan.
TEST(Slice, SlicesPartitionThePlanForAnyLayoutAndWeights) {
  std::mt19937_64 rng(11);
  for (int trial = 0; trial < 300; ++trial) {
    const Layout l = RandomLayout(rng, trial % 3 == 0);
    const uint64_t total = rng() % 5000;
    std::multiset<uint64_t> seen;
    for (uint32_t a = 0; a < l.weights.size(); ++a) {
      for (uint32_t w = 0; w < l.workers[a]; ++w) {
        Slice slice(l.weights, a, w, l.workers[a]);
        uint64_t m = 0;
        for (;; ++m) {
          uint64_t j = slice.At(m);
          if (j >= total) break;
          seen.insert(j);
        }
        ASSERT_EQ(slice.CountBelow(total), m) << "trial " << trial;
      }
    }
    ASSERT_EQ(seen.size(), total) << "trial " << trial;
    uint64_t expect = 0;
    for (uint64_t j : seen) ASSERT_EQ(j, expect++) << "trial " << trial;
  }
}

// Weighted shares are exact over every period and never drift by more than
// one item within it.
TEST(Slice, WeightsGiveEachAgentItsShareAtEveryInstant) {
  const std::vector<uint32_t> weights = {1, 3, 2};  // 1/6, 3/6, 2/6
  for (uint64_t n = 0; n <= 600; ++n) {
    uint64_t sum = 0;
    for (uint32_t a = 0; a < weights.size(); ++a) {
      const uint64_t got = Slice(weights, a, 0, 1).CountBelow(n);
      const double want = static_cast<double>(n) * weights[a] / 6.0;
      EXPECT_LE(std::abs(static_cast<double>(got) - want), 1.0)
          << "agent " << a << " n " << n;
      if (n % 6 == 0) {
        EXPECT_EQ(got, n / 6 * weights[a]);
      }
      sum += got;
    }
    ASSERT_EQ(sum, n);
  }
  EXPECT_DOUBLE_EQ(Slice(weights, 1, 0, 2).Fraction(), 0.25);
}

// Equal weights keep the old layout: agent a takes j % agents == a.
TEST(Slice, EqualWeightsTakeEveryAgentsResidue) {
  const std::vector<uint32_t> equal(4, 1);
  for (uint32_t a = 0; a < 4; ++a) {
    Slice slice(equal, a, 1, 3);
    for (uint64_t m = 0; m < 50; ++m)
      EXPECT_EQ(slice.At(m), a + 4 * (1 + 3 * m));
  }
}

// The closed model's VUs: over every layout the active VUs add up to
// ceil(level), and within a slice the active ones are its first VUs.
TEST(Slice, ActiveVusAddUpToTheLevelForAnyLayoutAndWeights) {
  std::mt19937_64 rng(13);
  for (int trial = 0; trial < 500; ++trial) {
    const Layout l = RandomLayout(rng, trial % 2 == 0);
    double level = static_cast<double>(rng() % 100000) / 100.0;  // 0 .. 999.99
    if (trial % 5 == 0) level = std::floor(level);  // whole levels too
    uint64_t sum = 0;
    for (uint32_t a = 0; a < l.weights.size(); ++a) {
      for (uint32_t w = 0; w < l.workers[a]; ++w) {
        Slice slice(l.weights, a, w, l.workers[a]);
        uint64_t active = slice.ActiveAt(level);
        sum += active;
        if (active > 0) {  // the last active VU of the slice is below the level
          EXPECT_LT(static_cast<double>(slice.At(active - 1)), level);
        }
        // and the next one is not
        EXPECT_GE(static_cast<double>(slice.At(active)), level);
      }
    }
    ASSERT_EQ(sum, static_cast<uint64_t>(std::ceil(level)))
        << "level " << level;
  }
}

}  // namespace
}  // namespace stampede::common
