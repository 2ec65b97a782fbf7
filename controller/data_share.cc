#include "controller/data_share.h"

#include "common/data_split.h"

namespace stampede::controller {

void ShareData(const v1::TestPlan& plan,
               const std::map<std::string, common::DataTable>& tables,
               const std::string& run_id, const std::vector<uint32_t>& weights,
               uint32_t agent, v1::Prepare* prepare,
               const std::function<void(v1::ControllerMessage)>& send) {
  const std::vector<std::string> names = common::DataSetNames(plan);
  for (uint32_t i = 0; i < names.size(); ++i) {
    common::DataMode mode = common::DataMode::kCircular;
    common::ParseDataMode(plan.data().at(names[i]).mode(), &mode);
    auto it = tables.find(names[i]);
    static const common::DataTable kNone;
    const common::DataTable& table = it == tables.end() ? kNone : it->second;
    v1::DataSlice* slice = prepare->add_data();
    slice->set_name(names[i]);
    slice->mutable_columns()->Add(table.columns.begin(), table.columns.end());
    slice->set_total_rows(table.rows.size());
    const uint64_t rows =
        common::AgentRowCount(mode, weights, agent, table.rows.size());
    slice->set_rows(rows);
    v1::ControllerMessage msg;
    size_t bytes = 0;
    for (uint64_t k = 0; k < rows; ++k) {
      const std::vector<std::string>& row =
          table.rows[common::AgentRowAt(mode, weights, agent, k)];
      if (!msg.has_data_chunk()) {
        msg.mutable_data_chunk()->set_run_id(run_id);
        msg.mutable_data_chunk()->set_set(i);
      }
      v1::DataRow* out = msg.mutable_data_chunk()->add_rows();
      for (const std::string& cell : row) {
        out->add_cells(cell);
        bytes += cell.size() + 2;  // with its tag and length
      }
      if (bytes >= common::kDataChunkBytes) {
        send(std::move(msg));
        msg = v1::ControllerMessage();
        bytes = 0;
      }
    }
    if (msg.has_data_chunk()) send(std::move(msg));
  }
}

}  // namespace stampede::controller
