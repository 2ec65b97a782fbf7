// An agent's part of the plan's `data:` sets: what Prepare says about each
// set and the rows the controller sent in DataChunk messages before it. The
// agent never reads a data file. DataInbox is used on the agent's control
// thread only; DataSetSpec is immutable once the run is built and shared by
// the workers (thread-safe to read).
#ifndef STAMPEDE_AGENT_LOAD_DATA_H_
#define STAMPEDE_AGENT_LOAD_DATA_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/data_split.h"
#include "stampede/v1/agent.pb.h"

namespace stampede::agent {

struct DataSetSpec {
  std::string name;
  std::vector<std::string> columns;
  common::DataMode mode = common::DataMode::kCircular;
  common::DataPer per = common::DataPer::kVu;
  bool wrap = false;        // unique: on_exhausted: wrap
  uint64_t total_rows = 0;  // in the file
  uint64_t seed = 0;        // random: from the run id
  uint64_t agent_rows = 0;  // how many rows this agent gets
  // This agent's rows in common::AgentRowAt order (unique: its slice;
  // otherwise all of them).
  std::vector<std::vector<std::string>> rows;
};

// The sets of `prepare` (Prepare.data, in name order, with the plan's
// options), without their rows. Checks that each set's row count is what
// this agent's share must get.
absl::StatusOr<std::vector<DataSetSpec>> DataSetsFromPrepare(
    const v1::Prepare& prepare, const std::vector<uint32_t>& share_weights);

// Collects the DataChunks that come before a Prepare.
class DataInbox {
 public:
  // Keeps the chunk's rows (moved out of it). A chunk of another run than
  // the ones before drops those.
  absl::Status Add(v1::DataChunk* chunk);
  // Moves the rows received for `run_id` into `sets`; an error when a set
  // got more or fewer rows than Prepare announced, or a row the wrong number
  // of cells. Empties the inbox either way.
  absl::Status Deliver(const std::string& run_id,
                       std::vector<DataSetSpec>* sets);

 private:
  std::string run_id_;
  std::vector<std::vector<std::vector<std::string>>> rows_;  // [set]
  absl::Status error_;
};

}  // namespace stampede::agent

#endif  // STAMPEDE_AGENT_LOAD_DATA_H_
