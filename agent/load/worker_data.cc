// The worker's part of the plan's data sets: which row each of its users or
// iterations takes (common::DataPicker), handed to the flow instance before
// it begins. Kept apart from worker.cc, which calls TakeRows where a flow
// starts.
#include "agent/load/worker.h"

namespace stampede::agent {

void Worker::InitData() {
  data_.assign(spec_.scenarios.size(), {});
  const std::vector<uint32_t> weights = spec_.ShareWeights();
  for (size_t s = 0; s < spec_.scenarios.size(); ++s) {
    const FlowSpec* flow = spec_.scenarios[s].flow.get();
    if (flow == nullptr) continue;
    for (uint32_t set : flow->data_sets) {
      const DataSetSpec& d = spec_.data[set];
      DataCursor& c = data_[s].emplace_back();
      c.set = set;
      c.per_iteration = d.per == common::DataPer::kIteration;
      c.picker = common::DataPicker(
          d.mode, d.wrap, d.total_rows, d.seed, weights, spec_.share_index,
          static_cast<uint32_t>(index_), static_cast<uint32_t>(workers_));
      if (d.mode == common::DataMode::kUnique)
        c.seen.assign(c.picker.WorkerRows(), false);
    }
  }
}

bool Worker::TakeRows(size_t s, uint64_t m, FlowInstance* flow) {
  std::vector<DataCursor>& cursors = data_[s];
  if (cursors.empty()) return true;
  // All or nothing: a row of one set is not spent when another ran out.
  for (const DataCursor& c : cursors) {
    uint64_t index;
    if (!c.picker.Pick(c.per_iteration ? c.next : m, &index)) {
      ++window_->flows[s].data_exhausted;
      return false;
    }
  }
  if (window_->data.size() < spec_.data.size())
    window_->data.resize(spec_.data.size());  // once per window
  for (DataCursor& c : cursors) {
    uint64_t index = 0;
    c.picker.Pick(c.per_iteration ? c.next++ : m, &index);
    const DataSetSpec& d = spec_.data[c.set];
    flow->SetRow(c.set, index < d.rows.size() ? &d.rows[index] : nullptr);
    DataCounts& counts = window_->data[c.set];
    ++counts.taken;
    if (!c.seen.empty()) {
      // The worker's n-th row is the agent's (worker + workers * n)-th.
      const uint64_t n = (index - static_cast<uint64_t>(index_)) /
                         static_cast<uint64_t>(workers_);
      if (n < c.seen.size() && !c.seen[n]) {
        c.seen[n] = true;
        ++counts.first;
      }
    }
  }
  return true;
}

}  // namespace stampede::agent
