#include "common/data_split.h"

#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "gtest/gtest.h"

namespace stampede::common {
namespace {

struct Layout {
  std::vector<uint32_t> weights;  // empty: equal shares
  std::vector<uint32_t> workers;
};

Layout RandomLayout(std::mt19937_64& rng) {
  Layout l;
  const uint32_t agents = 1 + static_cast<uint32_t>(rng() % 9);
  const bool equal = rng() % 3 == 0;
  for (uint32_t a = 0; a < agents; ++a) {
    if (!equal) l.weights.push_back(1 + static_cast<uint32_t>(rng() % 4));
    l.workers.push_back(1 + static_cast<uint32_t>(rng() % 5));
  }
  if (equal) l.weights.assign(agents, 1);
  return l;
}

// The plan-wide row a worker's pick stands for: the agent's rows are sent in
// AgentRowAt order.
uint64_t RowOf(const Layout& l, DataMode mode, uint32_t agent, uint64_t index) {
  return AgentRowAt(mode, l.weights, agent, index);
}

// unique: over any layout the agents' slices partition the file, and every
// row goes to exactly one worker, once, before any worker runs out.
TEST(DataSplit, UniqueRowsAreUsedOnceInTheWholeClusterForAnyLayout) {
  std::mt19937_64 rng(21);
  for (int trial = 0; trial < 300; ++trial) {
    const Layout l = RandomLayout(rng);
    const uint64_t total = rng() % 3000;
    std::multiset<uint64_t> sent;
    std::multiset<uint64_t> used;
    for (uint32_t a = 0; a < l.weights.size(); ++a) {
      const uint64_t rows =
          AgentRowCount(DataMode::kUnique, l.weights, a, total);
      for (uint64_t k = 0; k < rows; ++k) {
        const uint64_t j = RowOf(l, DataMode::kUnique, a, k);
        ASSERT_LT(j, total);
        if (k > 0) {
          ASSERT_GT(j, RowOf(l, DataMode::kUnique, a, k - 1));
        }
        sent.insert(j);
      }
      uint64_t handed = 0;
      for (uint32_t w = 0; w < l.workers[a]; ++w) {
        DataPicker picker(DataMode::kUnique, false, total, 0, l.weights, a, w,
                          l.workers[a]);
        uint64_t m = 0;
        uint64_t index;
        for (; picker.Pick(m, &index); ++m) {
          ASSERT_LT(index, rows) << "trial " << trial;
          used.insert(RowOf(l, DataMode::kUnique, a, index));
        }
        ASSERT_EQ(m, picker.WorkerRows()) << "trial " << trial;
        // Past its rows, stop stays stopped.
        ASSERT_FALSE(picker.Pick(m + 7, &index));
        handed += m;
      }
      ASSERT_EQ(handed, rows) << "trial " << trial;
    }
    ASSERT_EQ(sent.size(), total) << "trial " << trial;
    ASSERT_EQ(std::set<uint64_t>(sent.begin(), sent.end()).size(), total);
    ASSERT_EQ(used, sent) << "trial " << trial;
  }
}

// per: vu in unique mode: VU j of the plan (the worker's m-th VU, j =
// Slice::At(m)) takes row j, so the VU split and the row split agree.
TEST(DataSplit, UniqueVuJTakesRowJ) {
  std::mt19937_64 rng(22);
  for (int trial = 0; trial < 200; ++trial) {
    const Layout l = RandomLayout(rng);
    const uint64_t total = 1 + rng() % 2000;
    for (uint32_t a = 0; a < l.weights.size(); ++a) {
      for (uint32_t w = 0; w < l.workers[a]; ++w) {
        Slice vus(l.weights, a, w, l.workers[a]);
        DataPicker picker(DataMode::kUnique, false, total, 0, l.weights, a, w,
                          l.workers[a]);
        for (uint64_t m = 0;; ++m) {
          uint64_t index;
          const bool got = picker.Pick(m, &index);
          ASSERT_EQ(got, vus.At(m) < total) << "trial " << trial;
          if (!got) break;
          ASSERT_EQ(RowOf(l, DataMode::kUnique, a, index), vus.At(m));
        }
      }
    }
  }
}

// wrap starts over within the worker's own rows: still no row is shared
// between workers or agents.
TEST(DataSplit, UniqueWrapStaysWithinTheWorkersRows) {
  std::mt19937_64 rng(23);
  for (int trial = 0; trial < 100; ++trial) {
    const Layout l = RandomLayout(rng);
    const uint64_t total = rng() % 200;
    std::map<uint64_t, std::pair<uint32_t, uint32_t>> owner;  // row -> a, w
    for (uint32_t a = 0; a < l.weights.size(); ++a) {
      for (uint32_t w = 0; w < l.workers[a]; ++w) {
        DataPicker picker(DataMode::kUnique, true, total, 0, l.weights, a, w,
                          l.workers[a]);
        const uint64_t rows = picker.WorkerRows();
        uint64_t index;
        for (uint64_t m = 0; m < 3 * rows + 5; ++m) {
          ASSERT_EQ(picker.Pick(m, &index), rows > 0);
          if (rows == 0) break;
          const uint64_t j = RowOf(l, DataMode::kUnique, a, index);
          auto [it, inserted] = owner.emplace(j, std::make_pair(a, w));
          ASSERT_EQ(it->second, std::make_pair(a, w)) << "row " << j;
          // Turn m and turn m + rows take the same row.
          uint64_t again;
          ASSERT_TRUE(picker.Pick(m + rows, &again));
          ASSERT_EQ(again, index);
        }
      }
    }
    ASSERT_EQ(owner.size(), total) << "trial " << trial;
  }
}

// circular: every agent has every row, and item j of the plan takes row
// j % total wherever it runs; random: the same j draws the same row whatever
// the layout, and another run id draws others.
TEST(DataSplit, CircularAndRandomDependOnlyOnThePlanWideNumber) {
  std::mt19937_64 rng(24);
  const uint64_t total = 37;
  const uint64_t seed = DataSeed("0123abcd4567ef89");
  std::map<uint64_t, uint64_t> random_row;  // j -> row, from the first layout
  uint64_t differ = 0;
  for (int trial = 0; trial < 50; ++trial) {
    const Layout l = RandomLayout(rng);
    for (uint32_t a = 0; a < l.weights.size(); ++a) {
      EXPECT_EQ(AgentRowCount(DataMode::kCircular, l.weights, a, total), total);
      EXPECT_EQ(AgentRowCount(DataMode::kRandom, l.weights, a, total), total);
      for (uint32_t w = 0; w < l.workers[a]; ++w) {
        Slice items(l.weights, a, w, l.workers[a]);
        DataPicker circular(DataMode::kCircular, false, total, seed, l.weights,
                            a, w, l.workers[a]);
        DataPicker random(DataMode::kRandom, false, total, seed, l.weights, a,
                          w, l.workers[a]);
        DataPicker other(DataMode::kRandom, false, total,
                         DataSeed("another run"), l.weights, a, w,
                         l.workers[a]);
        for (uint64_t m = 0; m < 40; ++m) {
          const uint64_t j = items.At(m);
          uint64_t index, r, o;
          ASSERT_TRUE(circular.Pick(m, &index));
          EXPECT_EQ(index, j % total);
          ASSERT_TRUE(random.Pick(m, &r));
          ASSERT_LT(r, total);
          auto [it, inserted] = random_row.emplace(j, r);
          EXPECT_EQ(it->second, r) << "j " << j;
          ASSERT_TRUE(other.Pick(m, &o));
          differ += o != r;
        }
      }
    }
  }
  EXPECT_GT(differ, 1000u);
  // Random rows spread over the file.
  std::set<uint64_t> rows;
  for (const auto& [j, r] : random_row) rows.insert(r);
  EXPECT_EQ(rows.size(), total);
}

TEST(DataSplit, ParsesModesAndPer) {
  DataMode mode;
  DataPer per;
  EXPECT_TRUE(ParseDataMode("", &mode));
  EXPECT_EQ(mode, DataMode::kCircular);
  EXPECT_TRUE(ParseDataMode("unique", &mode));
  EXPECT_EQ(mode, DataMode::kUnique);
  EXPECT_TRUE(ParseDataMode("random", &mode));
  EXPECT_EQ(mode, DataMode::kRandom);
  EXPECT_FALSE(ParseDataMode("queue", &mode));
  EXPECT_TRUE(ParseDataPer("", &per));
  EXPECT_EQ(per, DataPer::kVu);
  EXPECT_TRUE(ParseDataPer("iteration", &per));
  EXPECT_EQ(per, DataPer::kIteration);
  EXPECT_FALSE(ParseDataPer("request", &per));
  // A picker over no rows hands out nothing.
  DataPicker empty(DataMode::kCircular, false, 0, 0, {}, 0, 0, 1);
  uint64_t index;
  EXPECT_FALSE(empty.Pick(0, &index));
}

}  // namespace
}  // namespace stampede::common
