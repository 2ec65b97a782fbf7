#include "agent/load/data.h"

#include "absl/strings/str_cat.h"
#include "common/data_file.h"

namespace stampede::agent {

absl::StatusOr<std::vector<DataSetSpec>> DataSetsFromPrepare(
    const v1::Prepare& prepare, const std::vector<uint32_t>& share_weights) {
  const std::vector<std::string> names = common::DataSetNames(prepare.plan());
  if (static_cast<size_t>(prepare.data_size()) != names.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the plan has ", names.size(), " data sets; Prepare sent ",
                     prepare.data_size()));
  }
  std::vector<DataSetSpec> sets(names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    const v1::DataSlice& slice = prepare.data(static_cast<int>(i));
    const v1::DataSet& set = prepare.plan().data().at(names[i]);
    DataSetSpec& out = sets[i];
    out.name = names[i];
    if (slice.name() != out.name) {
      return absl::InvalidArgumentError(absl::StrCat(
          "data set ", i, " is ", slice.name(), ", expected ", out.name));
    }
    if (!common::ParseDataMode(set.mode(), &out.mode) ||
        !common::ParseDataPer(set.per(), &out.per)) {
      return absl::InvalidArgumentError(
          absl::StrCat("data set ", out.name, ": bad mode or per"));
    }
    out.wrap = set.on_exhausted() == "wrap";
    out.columns.assign(slice.columns().begin(), slice.columns().end());
    out.total_rows = slice.total_rows();
    out.seed = prepare.plan().seed() != 0 ? prepare.plan().seed()
                                          : common::DataSeed(prepare.run_id());
    if (out.columns.empty() || out.total_rows > common::kMaxRows) {
      return absl::InvalidArgumentError(
          absl::StrCat("data set ", out.name, ": ", out.columns.size(),
                       " columns, ", out.total_rows, " rows"));
    }
    const uint64_t want = common::AgentRowCount(
        out.mode, share_weights, prepare.share().index(), out.total_rows);
    if (slice.rows() != want) {
      return absl::InvalidArgumentError(
          absl::StrCat("data set ", out.name, ": this agent's share is ", want,
                       " rows; the controller sends ", slice.rows()));
    }
    out.agent_rows = want;
  }
  return sets;
}

absl::Status DataInbox::Add(v1::DataChunk* chunk) {
  if (chunk->run_id() != run_id_) {
    run_id_ = chunk->run_id();
    rows_.clear();
    error_ = absl::OkStatus();
  }
  if (chunk->set() >= common::kMaxDataSets) {
    error_ = absl::InvalidArgumentError(
        absl::StrCat("a data chunk for set ", chunk->set()));
    return error_;
  }
  if (rows_.size() <= chunk->set()) rows_.resize(chunk->set() + 1);
  std::vector<std::vector<std::string>>& rows = rows_[chunk->set()];
  if (rows.size() + chunk->rows_size() > common::kMaxRows) {
    error_ = absl::InvalidArgumentError(absl::StrCat(
        "data set ", chunk->set(), ": more than ", common::kMaxRows, " rows"));
    return error_;
  }
  for (v1::DataRow& row : *chunk->mutable_rows()) {
    std::vector<std::string>& cells = rows.emplace_back();
    cells.reserve(row.cells_size());
    for (std::string& cell : *row.mutable_cells())
      cells.push_back(std::move(cell));
  }
  return absl::OkStatus();
}

absl::Status DataInbox::Deliver(const std::string& run_id,
                                std::vector<DataSetSpec>* sets) {
  absl::Status status = error_;
  if (run_id_ != run_id) rows_.clear();
  for (size_t i = 0; status.ok() && i < sets->size(); ++i) {
    DataSetSpec& set = (*sets)[i];
    if (i < rows_.size()) set.rows = std::move(rows_[i]);
    if (set.rows.size() != set.agent_rows) {
      status = absl::InvalidArgumentError(
          absl::StrCat("data set ", set.name, ": ", set.rows.size(),
                       " rows came, Prepare announced ", set.agent_rows));
      break;
    }
    for (const std::vector<std::string>& row : set.rows) {
      if (row.size() != set.columns.size()) {
        status = absl::InvalidArgumentError(
            absl::StrCat("data set ", set.name, ": a row of ", row.size(),
                         " cells, not ", set.columns.size()));
        break;
      }
    }
  }
  if (status.ok() && rows_.size() > sets->size()) {
    status = absl::InvalidArgumentError(
        absl::StrCat("rows came for data set ", rows_.size() - 1,
                     "; the plan has ", sets->size()));
  }
  rows_.clear();
  run_id_.clear();
  error_ = absl::OkStatus();
  return status;
}

}  // namespace stampede::agent
