#include <gtest/gtest.h>

#include <functional>
#include <vector>

#include "controller/capacity/search.h"

namespace stampede::controller::capacity {
namespace {

struct Probed {
  double rate;
  std::string phase;
  Verdict verdict;
};

// Runs the search against `service` (rate -> verdict) to its end.
std::vector<Probed> RunSearch(Search* search,
                              const std::function<Verdict(double)>& service) {
  std::vector<Probed> probes;
  while (auto p = search->Next()) {
    const Verdict v = service(p->rate);
    probes.push_back({p->rate, p->phase, v});
    search->Record(v);
    if (probes.size() > 100) break;
  }
  return probes;
}

TEST(CapacitySearch, FindsAMeasuredRateWithinTheWidthBelowTheCapacity) {
  for (double capacity : {37.0, 500.0, 777.0, 1234.0, 4999.0}) {
    Search search({/*from=*/50, /*max=*/5000, /*growth=*/2, /*width=*/0.05});
    std::vector<Probed> probes = RunSearch(&search, [&](double r) {
      return r <= capacity ? Verdict::kPass : Verdict::kFail;
    });
    ASSERT_TRUE(search.confirmed()) << capacity;
    const double answer = search.answer();
    EXPECT_LE(answer, capacity);
    EXPECT_GE(answer, capacity * 0.95 - 1e-9) << capacity;
    // Never an untested midpoint: the answer was measured before the final
    // trial, and the final trial was at it.
    bool measured = false;
    for (const Probed& p : probes)
      measured |=
          p.rate == answer && p.phase != "final" && p.verdict == Verdict::kPass;
    EXPECT_TRUE(measured) << capacity;
    EXPECT_EQ(probes.back().phase, "final");
    EXPECT_EQ(probes.back().rate, answer);
    // Growth doubles until the first failure.
    EXPECT_EQ(probes[0].rate, 50);
    if (capacity >= 100) {
      EXPECT_EQ(probes[1].rate, 100);
    }
  }
}

TEST(CapacitySearch, ReachingMaxStopsThere) {
  Search search({100, 1000, 2, 0.05});
  std::vector<Probed> probes =
      RunSearch(&search, [](double) { return Verdict::kPass; });
  EXPECT_EQ(search.answer(), 1000);
  EXPECT_EQ(search.upper(), 0);
  std::vector<double> rates;
  for (const Probed& p : probes) rates.push_back(p.rate);
  EXPECT_EQ(rates, (std::vector<double>{100, 200, 400, 800, 1000, 1000}));
}

TEST(CapacitySearch, AGeneratorLimitIsInconclusiveNeverAFailure) {
  // The service takes 2000/s; the generator cannot send more than 300/s.
  Search search({50, 5000, 2, 0.05});
  RunSearch(&search, [](double r) {
    return r > 300 ? Verdict::kInconclusive : Verdict::kPass;
  });
  ASSERT_TRUE(search.confirmed());
  EXPECT_LE(search.answer(), 300);
  EXPECT_GE(search.answer(), 300 * 0.95);
  EXPECT_TRUE(search.upper_inconclusive());
  EXPECT_NE(search.Summary().find("generator"), std::string::npos);
}

TEST(CapacitySearch, AFirstStepThatFailsDescends) {
  Search search({1000, 5000, 2, 0.05});
  std::vector<Probed> probes = RunSearch(&search, [](double r) {
    return r <= 180 ? Verdict::kPass : Verdict::kFail;
  });
  EXPECT_EQ(probes[1].rate, 500);
  EXPECT_EQ(probes[2].rate, 250);
  EXPECT_EQ(probes[3].rate, 125);
  EXPECT_LE(search.answer(), 180);
  EXPECT_GE(search.answer(), 180 * 0.95);
}

TEST(CapacitySearch, NothingPassesNoAnswer) {
  Search search({100, 5000, 2, 0.05});
  RunSearch(&search, [](double) { return Verdict::kFail; });
  EXPECT_FALSE(search.confirmed());
  EXPECT_EQ(search.answer(), 0);
  EXPECT_NE(search.Summary().find("no step passed"), std::string::npos);
}

TEST(CapacitySearch, AFailedFinalTrialConfirmsTheNextLowerPass) {
  // 480 passes while searching, then fails its longer final trial.
  Search search({60, 5000, 2, 0.05});
  int finals_at_480 = 0;
  RunSearch(&search, [&](double r) {
    return r <= 500 ? Verdict::kPass : Verdict::kFail;
  });
  const double first = search.answer();
  ASSERT_GT(first, 0);
  Search again({60, 5000, 2, 0.05});
  std::vector<Probed> probes = RunSearch(&again, [&](double r) {
    if (r == first && finals_at_480++ > 0) return Verdict::kFail;
    return r <= 500 ? Verdict::kPass : Verdict::kFail;
  });
  EXPECT_TRUE(again.confirmed());
  EXPECT_LT(again.answer(), first);
  EXPECT_EQ(probes.back().phase, "final");
  EXPECT_EQ(probes[probes.size() - 2].phase, "final");
}

TEST(CapacityDecide, ExceedRatioAndUndecidedTrials) {
  auto seconds = [](int good, int bad, int limited) {
    std::vector<Second> s;
    for (int i = 0; i < good; ++i) s.push_back({false, false});
    for (int i = 0; i < bad; ++i) s.push_back({true, false});
    for (int i = 0; i < limited; ++i) s.push_back({false, true});
    return s;
  };
  // 20 seconds, 10 %: 2 bad seconds are allowed.
  EXPECT_EQ(Decide(seconds(20, 0, 0), 0.1, false), Decision::kPass);
  EXPECT_EQ(Decide(seconds(19, 1, 0), 0.1, false), Decision::kPass);
  // One noisy second too many is not yet a failure: measured again.
  EXPECT_EQ(Decide(seconds(18, 2, 0), 0.1, false), Decision::kUndecided);
  EXPECT_EQ(Decide(seconds(16, 4, 0), 0.1, false), Decision::kUndecided);
  EXPECT_EQ(Decide(seconds(15, 5, 0), 0.1, false), Decision::kFail);
  // Pooled (40 seconds: 4 allowed), the plain rule decides.
  EXPECT_EQ(Decide(seconds(36, 4, 0), 0.1, true), Decision::kPass);
  EXPECT_EQ(Decide(seconds(35, 5, 0), 0.1, true), Decision::kFail);
  // Zero tolerance: any bad second fails at once.
  EXPECT_EQ(Decide(seconds(19, 1, 0), 0, false), Decision::kFail);
  EXPECT_EQ(Decide(seconds(20, 0, 0), 0, false), Decision::kPass);
  // The generator was the limit in more seconds than the ratio allows.
  EXPECT_EQ(Decide(seconds(17, 0, 3), 0.1, false), Decision::kInconclusive);
  EXPECT_EQ(Decide(seconds(0, 0, 0), 0.1, false), Decision::kInconclusive);
  // Limited seconds are not judged: of 18 judged 1.8 may be bad, so one
  // trial passes with none (at most 0.9) and 1 bad is measured again.
  EXPECT_EQ(Decide(seconds(18, 0, 2), 0.1, false), Decision::kPass);
  EXPECT_EQ(Decide(seconds(17, 1, 2), 0.1, false), Decision::kUndecided);
}

TEST(CapacityKnee, WhereLatencyStartsToRiseFasterThanThroughput) {
  // Flat at 2 ms up to 400/s, then a wall.
  EXPECT_EQ(KneeIndex({100, 200, 400, 480, 500}, {2, 2, 2.2, 9, 400}), 3);
  EXPECT_EQ(KneeIndex({100, 200}, {1, 2}), -1);
}

TEST(CapacityProjection, TheTeamsWorkedExample) {
  // 300 RPS at 50 per instance: 6 instances, + 20 % buffer = 2, so 8.
  const Instances n = InstancesFor(300, 50, 0.2);
  EXPECT_EQ(n.base, 6);
  EXPECT_EQ(n.buffer, 2);
  EXPECT_EQ(n.total, 8);
  EXPECT_EQ(InstancesFor(250, 50, 0.2).total, 5 + 1);
  EXPECT_EQ(InstancesFor(251, 50, 0.2).total, 6 + 2);
  EXPECT_EQ(InstancesFor(300, 50, 0).total, 6);
}

TEST(CapacityProjection, GrowthTables) {
  ProjectionAsk ask;
  ask.instances = 2;  // the search ran against two instances: 50/s each
  ask.growth = {0.2, 0.5, 1.0};
  ask.years = 3;
  ask.from_rps = 100;
  ask.target_rps = 300;
  const v1::CapacityProjection p = Project(100, ask);
  EXPECT_DOUBLE_EQ(p.per_instance_rps(), 50);
  ASSERT_EQ(p.rows_size(), 1 + 3 * 4);
  EXPECT_EQ(p.rows(0).scenario(), "target");
  EXPECT_EQ(p.rows(0).instances(), 8);
  // 20 %/year from 100/s: 100, 120, 144, 172.8.
  std::vector<long long> twenty, hundred;
  for (const auto& row : p.rows()) {
    if (row.scenario() == "20%/year") twenty.push_back(row.instances());
    if (row.scenario() == "100%/year") hundred.push_back(row.instances());
  }
  EXPECT_EQ(twenty, (std::vector<long long>{2 + 1, 3 + 1, 3 + 1, 4 + 1}));
  // 100 %/year: 100, 200, 400, 800.
  EXPECT_EQ(hundred, (std::vector<long long>{2 + 1, 4 + 1, 8 + 2, 16 + 4}));
  EXPECT_NEAR(p.rows(4).rps(), 172.8, 1e-9);
}

}  // namespace
}  // namespace stampede::controller::capacity
