// Builds the one RunResult of a run from the merged data and what happened to
// the agents, and decides its status and exit code. Pure functions;
// thread-safe.
#ifndef STAMPEDE_CONTROLLER_RESULT_H_
#define STAMPEDE_CONTROLLER_RESULT_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/exit_codes.h"
#include "controller/aggregator.h"
#include "controller/live_thresholds.h"
#include "stampede/v1/plan.pb.h"
#include "stampede/v1/result.pb.h"

namespace stampede::controller {

struct AgentFacts {
  std::string id;
  std::string host;
  std::string state;  // finished | lost | stopped (early, on its own)
  double clock_offset_ms = 0;
  double clock_rtt_ms = 0;
  double first_send_late_ms = -1;  // unknown
  double share = 0;                // of the plan, 0..1
  int64_t planned_requests = -1;   // -1: the plan fixes no count
  uint32_t cores = 0;              // as its Hello said
  uint32_t workers = 0;
};

// What served a scenario: the first agent's engine and why, and any agent
// that chose otherwise named in the why ("" and "" when none said).
struct EngineFacts {
  std::string engine;  // http1 | h2 | websocket | curl
  std::string why;
};

struct RunFacts {
  const v1::TestPlan* plan = nullptr;
  // The plan as the result records it (RedactPlan); null: `plan`.
  const v1::TestPlan* plan_as_run = nullptr;
  std::string command_line;
  const Aggregator* aggregator = nullptr;
  std::string run_id;
  absl::Time started_at;
  double duration_s = 0;
  std::vector<AgentFacts> agents;    // indexed like the aggregator's agents
  std::vector<EngineFacts> engines;  // per scenario, as the agents' Ready said
  // Rows in each data set's file, in name order.
  std::vector<int64_t> data_rows;
  std::vector<v1::IntervalResult> intervals;
  bool insecure = false;  // --insecure with a non-loopback listen
  bool strict = false;    // --strict: a generator-limited run fails with exit 7
  bool aborted = false;
  // The plan's setup steps (ran: the plan has some); not passed: no load.
  const v1::SetupResult* setup = nullptr;
  std::string abort_reason;
  bool aborted_for_loss = false;  // by the loss policy: exit 6, not 4
  double lost_share = 0;
  const LiveThresholds* live = nullptr;  // the verdicts judged during the run
};

// A worker thread busier than this (CPU share of an interval) was the limit
// itself.
inline constexpr double kSaturatedWorkerBusy = 0.9;
// A worker loop that went this long (ms) without looking at its sockets and
// timers made the interval's latencies partly the generator's own.
inline constexpr double kLoopStallMs = 100;

// Marks the interval generator_limited, with a note saying why, when the
// generator rather than the target set the pace: sends it skipped, sends it
// failed on its own limits, or a worker thread that was saturated.
void JudgeGenerator(v1::IntervalResult* interval);

// One merged interval as the result shows it (not yet judged: JudgeGenerator).
v1::IntervalResult IntervalResultOf(const v1::TestPlan& plan,
                                    const IntervalView& view,
                                    absl::Duration interval);

v1::Summary SummaryOf(const Cell& cell, double duration_s);
v1::RunResult BuildResult(const RunFacts& facts);

}  // namespace stampede::controller

#endif  // STAMPEDE_CONTROLLER_RESULT_H_
