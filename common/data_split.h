// How a plan's `data:` sets are shared out: which rows each agent gets at
// Prepare and which of them each worker hands to its VUs, iterations or
// open-model arrivals. The controller and the agents compute the same split
// from the agents' share weights (common::Slice), so `mode: unique` rows are
// used at most once in the whole cluster with no coordination during the run.
// Pure functions and an immutable picker; thread-safe.
#ifndef STAMPEDE_COMMON_DATA_SPLIT_H_
#define STAMPEDE_COMMON_DATA_SPLIT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/schedule.h"
#include "stampede/v1/plan.pb.h"

namespace stampede::common {

enum class DataMode : uint8_t { kCircular, kUnique, kRandom };
enum class DataPer : uint8_t { kVu, kIteration };

// Limits of a plan's data, checked by validate. A row is sent whole in one
// chunk, so it must stay far below gRPC's 64 MiB message limit.
inline constexpr size_t kMaxDataSets = 64;
inline constexpr size_t kMaxDataRowBytes = size_t{1} << 20;  // its cells
// Rows go to an agent in chunks of about this many bytes of cells.
inline constexpr size_t kDataChunkBytes = size_t{4} << 20;

// "" is circular; false for an unknown word.
bool ParseDataMode(std::string_view text, DataMode* mode);
// "" is vu.
bool ParseDataPer(std::string_view text, DataPer* per);
const char* DataModeName(DataMode mode);

// The plan's data set names in ascending order: a set's index here is its
// TemplateName id, its Prepare.data index and its DataUse.set.
std::vector<std::string> DataSetNames(const v1::TestPlan& plan);

// How many rows of a `total`-row set agent `agent` of `weights` (empty: one
// agent) gets, and the plan-wide row number of its k-th. unique: the rows j
// its share owns (Slice over one worker), ascending; otherwise all of them.
uint64_t AgentRowCount(DataMode mode, const std::vector<uint32_t>& weights,
                       uint32_t agent, uint64_t total);
uint64_t AgentRowAt(DataMode mode, const std::vector<uint32_t>& weights,
                    uint32_t agent, uint64_t k);

// A seed for mode: random from the run id, stable across builds and hosts.
uint64_t DataSeed(std::string_view run_id);

// One worker's rule for one data set: its m-th item takes which of the
// agent's rows. An item is what the set is `per`: the worker's m-th VU of
// the scenario (Slice::At(m) is its plan-wide number), or its m-th iteration
// or open-model arrival.
//   unique:   item m takes the worker's m-th row (VU j of the plan takes row
//             j, the worker's rows being the j of its own Slice); past its
//             rows, `wrap` starts over within them, else Pick fails.
//   circular: item m (plan-wide j) takes row j % total.
//   random:   item m (plan-wide j) takes a row hashed from (seed, j).
class DataPicker {
 public:
  DataPicker() = default;
  DataPicker(DataMode mode, bool wrap, uint64_t total_rows, uint64_t seed,
             const std::vector<uint32_t>& weights, uint32_t agent,
             uint32_t worker, uint32_t workers);

  // The index into the agent's rows (as AgentRowAt orders them) for item m;
  // false when there is none (unique without wrap, or a worker with no rows).
  bool Pick(uint64_t m, uint64_t* index) const;
  // unique: this worker's rows, the most it hands out before wrapping or
  // failing; otherwise every row.
  uint64_t WorkerRows() const { return worker_rows_; }

 private:
  DataMode mode_ = DataMode::kCircular;
  bool wrap_ = false;
  uint64_t total_ = 0;
  uint64_t seed_ = 0;
  Slice slice_{{}, 0, 0, 1};
  uint32_t worker_ = 0;
  uint32_t workers_ = 1;
  uint64_t worker_rows_ = 0;
};

}  // namespace stampede::common

#endif  // STAMPEDE_COMMON_DATA_SPLIT_H_
