// A data set's way from the controller to the agents: ShareData cuts each
// agent's slice into chunks under the size limit, and the agent's DataInbox
// and DataSetsFromPrepare put back exactly the rows its share owns.
#include "agent/load/data.h"

#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/load/run_spec.h"
#include "common/data_split.h"
#include "common/plan_loader.h"
#include "controller/data_share.h"
#include "gtest/gtest.h"

namespace stampede::agent {
namespace {

v1::TestPlan PlanWith(const std::string& mode) {
  v1::TestPlan plan;
  v1::DataSet& users = (*plan.mutable_data())["users"];
  users.set_file("users.csv");
  users.set_mode(mode);
  (*plan.mutable_data())["accounts"].set_file("accounts.jsonl");
  return plan;
}

std::map<std::string, common::DataTable> Tables(size_t rows,
                                                size_t cell_bytes) {
  std::map<std::string, common::DataTable> tables;
  common::DataTable& users = tables["users"];
  users.columns = {"user", "blob"};
  for (size_t r = 0; r < rows; ++r)
    users.rows.push_back(
        {absl::StrCat("user", r), std::string(cell_bytes, 'x')});
  common::DataTable& accounts = tables["accounts"];
  accounts.columns = {"id"};
  accounts.rows = {{"a1"}, {"a2"}, {"a3"}};
  return tables;
}

struct Received {
  v1::Prepare prepare;
  std::vector<v1::ControllerMessage> chunks;
};

Received Share(const v1::TestPlan& plan,
               const std::map<std::string, common::DataTable>& tables,
               const std::vector<uint32_t>& weights, uint32_t agent) {
  Received out;
  out.prepare.set_run_id("run1");
  *out.prepare.mutable_plan() = plan;
  out.prepare.mutable_share()->set_index(agent);
  out.prepare.mutable_share()->set_count(weights.size());
  for (uint32_t w : weights) out.prepare.mutable_share()->add_weights(w);
  controller::ShareData(
      plan, tables, "run1", weights, agent, &out.prepare,
      [&](v1::ControllerMessage m) { out.chunks.push_back(std::move(m)); });
  return out;
}

TEST(DataShare, EveryAgentGetsExactlyItsUniqueRowsInChunksUnderTheLimit) {
  const v1::TestPlan plan = PlanWith("unique");
  // 3000 rows of ~10 KiB: 30 MiB in all, more than one chunk per agent.
  const auto tables = Tables(3000, 10 << 10);
  const std::vector<uint32_t> weights = {1, 3, 2};
  std::multiset<std::string> seen;
  for (uint32_t a = 0; a < weights.size(); ++a) {
    Received got = Share(plan, tables, weights, a);
    EXPECT_GT(got.chunks.size(), 1u);
    DataInbox inbox;
    for (v1::ControllerMessage& m : got.chunks) {
      ASSERT_TRUE(m.has_data_chunk());
      // Well below gRPC's 64 MiB receive limit.
      EXPECT_LT(m.ByteSizeLong(), common::kDataChunkBytes + (1 << 20));
      ASSERT_TRUE(inbox.Add(m.mutable_data_chunk()).ok());
    }
    auto sets = DataSetsFromPrepare(got.prepare, weights);
    ASSERT_TRUE(sets.ok()) << sets.status();
    ASSERT_TRUE(inbox.Deliver("run1", &*sets).ok());
    ASSERT_EQ(sets->size(), 2u);
    const DataSetSpec& users = (*sets)[1];  // "accounts" < "users"
    EXPECT_EQ(users.name, "users");
    EXPECT_EQ(users.total_rows, 3000u);
    ASSERT_EQ(
        users.rows.size(),
        common::AgentRowCount(common::DataMode::kUnique, weights, a, 3000));
    for (size_t k = 0; k < users.rows.size(); ++k) {
      EXPECT_EQ(
          users.rows[k][0],
          absl::StrCat("user", common::AgentRowAt(common::DataMode::kUnique,
                                                  weights, a, k)));
      seen.insert(users.rows[k][0]);
    }
    // circular (the default) sends every row to every agent.
    EXPECT_EQ((*sets)[0].rows.size(), 3u);
  }
  EXPECT_EQ(seen.size(), 3000u);
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), 3000u);
}

TEST(DataShare, TheAgentRefusesRowsThatAreNotItsShare) {
  const v1::TestPlan plan = PlanWith("unique");
  const auto tables = Tables(10, 4);
  const std::vector<uint32_t> weights = {1, 1};
  Received got = Share(plan, tables, weights, 0);
  // A chunk lost on the way: fewer rows than Prepare announced.
  DataInbox inbox;
  for (size_t i = 1; i < got.chunks.size(); ++i)
    ASSERT_TRUE(inbox.Add(got.chunks[i].mutable_data_chunk()).ok());
  auto sets = DataSetsFromPrepare(got.prepare, weights);
  ASSERT_TRUE(sets.ok());
  EXPECT_FALSE(inbox.Deliver("run1", &*sets).ok());
  // A Prepare that gives this agent another agent's count of rows.
  got.prepare.mutable_data(1)->set_rows(7);
  EXPECT_FALSE(DataSetsFromPrepare(got.prepare, weights).ok());
  // Chunks of an earlier run are not this run's rows.
  Received again = Share(plan, tables, weights, 0);
  DataInbox stale;
  for (v1::ControllerMessage& m : again.chunks)
    ASSERT_TRUE(stale.Add(m.mutable_data_chunk()).ok());
  auto fresh = DataSetsFromPrepare(again.prepare, weights);
  ASSERT_TRUE(fresh.ok());
  EXPECT_FALSE(stale.Deliver("run2", &*fresh).ok());
}

// The agent compiles {{SET.COLUMN}} against the sets Prepare describes, and
// a flow instance renders the row it was given.
TEST(DataShare, AFlowRendersTheRowItsInstanceHolds) {
  absl::StatusOr<common::LoadedPlan> loaded = common::LoadAndValidatePlan(
      STAMPEDE_SOURCE_DIR "/tests/testdata/plans/good/data-flow.yaml", nullptr);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  Received got = Share(loaded->plan, loaded->data, {1, 1}, 1);
  DataInbox inbox;
  for (v1::ControllerMessage& m : got.chunks)
    ASSERT_TRUE(inbox.Add(m.mutable_data_chunk()).ok());
  absl::StatusOr<std::unique_ptr<RunSpec>> spec =
      RunSpec::FromPrepare(got.prepare);
  ASSERT_TRUE(spec.ok()) << spec.status();
  ASSERT_TRUE(inbox.Deliver("run1", &(*spec)->data).ok());
  const RunSpec& run = **spec;
  // "pick" (random: both rows) is set 0, "users" (unique: agent 1 of two
  // equal shares owns row 1 only) set 1.
  ASSERT_EQ(run.data.size(), 2u);
  EXPECT_EQ(run.data[0].rows.size(), 2u);
  ASSERT_EQ(run.data[1].rows.size(), 1u);
  EXPECT_EQ(run.data[1].rows[0][0], "bob");
  const FlowSpec& flow = *run.scenarios[0].flow;
  EXPECT_EQ(flow.data_sets, (std::vector<uint32_t>{0, 1}));
  FlowInstance instance(&flow);
  instance.SetRow(1, &run.data[1].rows[0]);
  instance.SetRow(0, &run.data[0].rows[0]);
  instance.Begin(2, 0);
  std::mt19937_64 rng(1);
  FlowInstance::Action a = instance.Next(&rng);
  ASSERT_EQ(a.kind, FlowInstance::Action::Kind::kSend);
  instance.Render(*a.step, 1, 0, &rng);
  EXPECT_EQ(instance.send()->body, R"({"user":"bob","password":"pw-bob"})");
}

}  // namespace
}  // namespace stampede::agent
