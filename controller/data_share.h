// The controller's half of a plan's `data:`: each agent's slice of every data
// set, as Prepare.data says it and as DataChunk messages carry its rows (sent
// before Prepare, each chunk about common::kDataChunkBytes, so no message
// nears gRPC's 64 MiB limit however large the file). Pure; thread-safe.
#ifndef STAMPEDE_CONTROLLER_DATA_SHARE_H_
#define STAMPEDE_CONTROLLER_DATA_SHARE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/data_file.h"
#include "stampede/v1/agent.pb.h"

namespace stampede::controller {

// Fills prepare->data for agent `agent` of `weights` (one per agent, > 0)
// and calls `send` with its chunks in order. `tables` holds every set of
// `plan` by name (as LoadAndValidatePlan read them).
void ShareData(const v1::TestPlan& plan,
               const std::map<std::string, common::DataTable>& tables,
               const std::string& run_id, const std::vector<uint32_t>& weights,
               uint32_t agent, v1::Prepare* prepare,
               const std::function<void(v1::ControllerMessage)>& send);

}  // namespace stampede::controller

#endif  // STAMPEDE_CONTROLLER_DATA_SHARE_H_
