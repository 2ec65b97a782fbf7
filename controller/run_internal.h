// The controller's run, shared by run.cc (registration, start, the run's
// loop) and run_finish.cc (the result, the outputs, /metrics). Internal to
// stampede run; see run.h.
#ifndef STAMPEDE_CONTROLLER_RUN_INTERNAL_H_
#define STAMPEDE_CONTROLLER_RUN_INTERNAL_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "common/data_file.h"
#include "controller/aggregator.h"
#include "controller/hub.h"
#include "controller/live_thresholds.h"
#include "controller/local_agents.h"
#include "controller/metrics.h"
#include "controller/run.h"
#include "controller/web/dashboard.h"
#include "controller/web/metrics_server.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/grpcpp.h"
#include "stampede/v1/plan.pb.h"
#include "stampede/v1/result.pb.h"

namespace stampede::controller::run_internal {

using google::protobuf::util::TimeUtil;

constexpr absl::Duration kLocalRegistration = absl::Seconds(30);
constexpr absl::Duration kReadyTimeout = absl::Seconds(30);
constexpr absl::Duration kStartLead = absl::Seconds(1);
// An agent clock further off than this gets a warning (and is corrected).
constexpr absl::Duration kClockSkewWarning = absl::Milliseconds(50);
constexpr absl::Duration kDrain = absl::Seconds(10);
// An interval is shown without a slow agent's part this long after it ended.
constexpr absl::Duration kIntervalPatience = absl::Seconds(3);

// kStopped: it ended early on its own (its owner stopped it), with Final.
enum class AgentState {
  kRegistered,
  kReady,
  kRunning,
  kFinished,
  kLost,
  kStopped
};

struct Agent {
  uint64_t session = 0;
  std::string id;
  std::string host;
  AgentState state = AgentState::kRegistered;
  uint32_t workers = 1;  // as its Hello said
  uint32_t cores = 1;
  uint32_t weight = 1;  // its share of the plan, against the others'
  int64_t clock_offset_us = 0;
  int64_t clock_rtt_us = -1;
  int64_t first_send_late_us = -1;
  std::vector<v1::ScenarioEngine> engines;  // as its Ready said
};

void Print(const std::string& text);
bool IsLoopbackListen(const std::string& listen);
std::string NewRunId();
bool WriteFile(const std::string& path, const std::string& content);
// "running", "lost", ... as results and /metrics name them.
const char* StateName(AgentState state);

class Controller {
 public:
  // `data`: the plan's data sets' tables by name (null: none); both outlive
  // the controller.
  Controller(const RunOptions& options, const v1::TestPlan& plan,
             const std::map<std::string, common::DataTable>* data = nullptr)
      : options_(options), plan_(plan), data_(data) {}
  // A run that ended early (agents refused, clocks off) still has remote
  // agents' streams open: end them, or the server's shutdown waits forever.
  ~Controller() {
    if (server_ == nullptr) return;
    hub_.FinishAll();
    server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
  }

  // The plan as the result records it (redacted); outlives the controller.
  void SetPlanAsRun(const v1::TestPlan* plan) { plan_as_run_ = plan; }

  int Execute();

  // A capacity search (controller/capacity_run.cc) gathers the agents once,
  // then runs each step as a run of its own on the same sessions.
  //
  // Serves the control plane, spawns local agents and registers them.
  int Gather();
  // Runs `plan` on the gathered agents (Prepare, Start, Drive), quietly: no
  // live lines. kExitPassed once it ended; else why it could not run (an
  // agent that refused it: ready_error()).
  int RunStep(const v1::TestPlan& plan);
  // Called with every merged interval of a step, its stats kept.
  using IntervalHook =
      std::function<void(const IntervalView&, const v1::IntervalResult&)>;
  void SetIntervalHook(IntervalHook hook) { interval_hook_ = std::move(hook); }
  // Applied to the result before it is printed and written (Finish).
  void SetResultAmend(std::function<void(v1::RunResult*)> amend) {
    amend_result_ = std::move(amend);
  }
  // The last run's end: the result (amended), the outputs, the exit code.
  int Finish();
  const std::string& ready_error() const { return ready_error_; }
  bool aborted() const { return aborted_; }
  bool aborted_for_loss() const { return aborted_for_loss_; }
  const std::string& abort_reason() const { return abort_reason_; }
  bool Interrupted() const {
    return options_.signals != nullptr && options_.signals->load() > 0;
  }
  bool Killed() const {
    return options_.signals != nullptr && options_.signals->load() > 1;
  }
  // Whether every agent is still usable for another step.
  bool AllAgentsUsable() const;
  size_t agent_count() const { return agents_.size(); }

 private:
  // Prepare, the setup, Start: the run goes.
  int Launch();
  int Serve();
  int Register(int expected, bool local);
  int Prepare();
  // Fills prepare->data for agent `agent` and sends it its rows first.
  void SendData(const std::vector<uint32_t>& weights, size_t agent,
                v1::Prepare* prepare);
  // Refuses to start (exit 5) when an agent's clock is off by more than
  // --max-clock-skew; warns above 50 ms.
  int CheckClocks();
  // The index of the interval the plan's end falls in.
  uint64_t LastPlanInterval() const;
  // Per scenario, from the agents' Ready: engines_, then printed under the
  // start line.
  void SettleEngines();
  // The plan's setup steps, on agents_[0], before the start: setup_result_
  // and setup_values_. kExitPassed, or why the run cannot go on (a failed
  // setup has written its report: exit 8).
  int RunSetup();
  void Drive();
  void StopAll(const std::string& reason);
  // A running agent is gone: its stream ended, or it went silent. Ends its
  // stream and applies the plan's loss policy.
  void Lose(Agent& agent, const std::string& why,
            AgentState state = AgentState::kLost);
  void EmitIntervals(bool force_all);
  Agent* BySession(uint64_t session);
  size_t IndexOf(uint64_t session) const;
  // Renders the merged state for /metrics, when it is served.
  void PublishMetrics();
  // Keeps /metrics up for --metrics-hold after the run (a signal cuts it).
  void HoldMetrics();

  const RunOptions& options_;
  v1::TestPlan plan_;  // a capacity search's: the step's
  const v1::TestPlan* plan_as_run_ = nullptr;
  const std::map<std::string, common::DataTable>* data_;
  Hub hub_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
  LocalAgents local_;
  std::vector<Agent> agents_;
  std::vector<EngineFacts> engines_;  // per scenario (SettleEngines)
  // Session -> index into agents_, built in Prepare once agents_ is sorted.
  absl::flat_hash_map<uint64_t, size_t> index_of_;
  std::string run_id_ = NewRunId();
  absl::Time start_at_;
  absl::Time end_at_;
  std::unique_ptr<Aggregator> aggregator_;
  std::unique_ptr<LiveThresholds> live_;
  std::vector<v1::IntervalResult> intervals_;
  bool aborted_ = false;
  std::string abort_reason_;
  v1::SetupResult setup_result_;
  std::map<std::string, std::string> setup_values_;  // for Start
  bool aborted_for_loss_ = false;
  bool stopping_ = false;
  absl::Time stop_deadline_;
  std::unique_ptr<MetricsServer> metrics_;
  std::unique_ptr<DashboardServer> dashboard_;
  std::string phase_ = "registering";
  // A capacity search: agents keep their sessions between steps, which run
  // quietly and keep their intervals' stats for the step's judge.
  bool steps_ = false;
  bool engines_shown_ = false;
  std::string ready_error_;
  IntervalHook interval_hook_;
  std::function<void(v1::RunResult*)> amend_result_;
};

}  // namespace stampede::controller::run_internal

#endif  // STAMPEDE_CONTROLLER_RUN_INTERNAL_H_
