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

// Every agent/worker layout covers every arrival exactly once: shares add up to
// the plan.
TEST(SliceArrival, SlicesPartitionThePlanForAnyLayout) {
  std::mt19937_64 rng(11);
  for (int trial = 0; trial < 200; ++trial) {
    uint32_t agents = 1 + static_cast<uint32_t>(rng() % 9);
    std::vector<uint32_t> workers(agents);
    for (auto& w : workers) w = 1 + static_cast<uint32_t>(rng() % 5);
    const uint64_t total = rng() % 5000;
    std::multiset<uint64_t> seen;
    for (uint32_t a = 0; a < agents; ++a) {
      for (uint32_t w = 0; w < workers[a]; ++w) {
        for (uint64_t m = 0;; ++m) {
          uint64_t j = SliceArrival(a, agents, w, workers[a], m);
          if (j >= total) break;
          seen.insert(j);
        }
      }
    }
    ASSERT_EQ(seen.size(), total) << "trial " << trial;
    uint64_t expect = 0;
    for (uint64_t j : seen) ASSERT_EQ(j, expect++) << "trial " << trial;
  }
}

// The closed model's VUs: over every layout the active VUs add up to
// ceil(level), and within a slice the active ones are its first VUs.
TEST(ActiveInSlice, SlicesAddUpToTheVuLevelForAnyLayout) {
  std::mt19937_64 rng(13);
  for (int trial = 0; trial < 500; ++trial) {
    uint32_t agents = 1 + static_cast<uint32_t>(rng() % 9);
    std::vector<uint32_t> workers(agents);
    for (auto& w : workers) w = 1 + static_cast<uint32_t>(rng() % 5);
    double level = static_cast<double>(rng() % 100000) / 100.0;  // 0 .. 999.99
    if (trial % 5 == 0) level = std::floor(level);  // whole levels too
    uint64_t sum = 0;
    for (uint32_t a = 0; a < agents; ++a) {
      for (uint32_t w = 0; w < workers[a]; ++w) {
        uint64_t active = ActiveInSlice(a, agents, w, workers[a], level);
        sum += active;
        if (active > 0) {  // the last active VU of the slice is below the level
          EXPECT_LT(static_cast<double>(
                        SliceArrival(a, agents, w, workers[a], active - 1)),
                    level);
        }
        // and the next one is not
        EXPECT_GE(
            static_cast<double>(SliceArrival(a, agents, w, workers[a], active)),
            level);
      }
    }
    ASSERT_EQ(sum, static_cast<uint64_t>(std::ceil(level)))
        << "level " << level;
  }
}

}  // namespace
}  // namespace stampede::common
