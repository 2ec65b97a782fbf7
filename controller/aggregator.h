// Merges what agents report into exact cluster-wide numbers: per interval index
// k (not by arrival time) for the live view, and cumulatively per (scenario,
// request) for the result. Merging is bucket-wise addition, so the merged
// histogram is exactly the sum of the agents'. Not thread-safe: used from the
// run's thread only.
#ifndef STAMPEDE_CONTROLLER_AGGREGATOR_H_
#define STAMPEDE_CONTROLLER_AGGREGATOR_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "common/histogram.h"
#include "stampede/v1/agent.pb.h"
#include "stampede/v1/plan.pb.h"

namespace stampede::controller {

// Merged numbers for one (scenario, request), or any union of them.
struct Cell {
  common::Histogram latency;
  common::Histogram latency_failed;  // of latency, the requests that failed
  common::Histogram service_time;
  common::Histogram dns, connect, tls, ttfb;   // phases, see RequestStats
  common::Histogram ttlb, ws_rtt, ws_session;  // streaming and WebSocket
  int64_t events = 0;
  int64_t messages_out = 0;
  int64_t messages_in = 0;
  std::map<int, int64_t> close_codes;
  int64_t requests = 0;
  int64_t errors = 0;
  int64_t bytes_in = 0;
  int64_t bytes_out = 0;
  std::map<int, int64_t> statuses;
  std::map<std::string, int64_t> error_ids;
  // Flow steps' checks: judged, failed, and failed by "STEP: check".
  int64_t checks_passed = 0;
  int64_t checks_failed = 0;
  std::map<std::string, int64_t> checks_failed_by;

  void Merge(const Cell& other);
};

// One request name's share of an interval.
struct RequestSlice {
  int64_t requests = 0;
  int64_t errors = 0;
  common::Histogram latency;
};

// One interval index across all agents.
struct IntervalView {
  uint64_t index = 0;
  int64_t requests = 0;
  int64_t errors = 0;
  int64_t sends_skipped = 0;
  int64_t vus = 0;
  common::Histogram latency;  // all requests of the interval (by TakeNext)
  // The generators' reports on themselves.
  common::Histogram schedule_lag;
  int64_t in_flight = 0;
  int64_t local_errors = 0;
  int64_t open_fds = 0;
  double max_worker_busy = 0;
  int64_t max_loop_stall_us = 0;
  std::set<size_t> agents;  // who reported it
  // [scenario][request], shaped like the plan once any request reported.
  std::vector<std::vector<RequestSlice>> by_request;
  std::map<std::string, int64_t> error_ids;  // every request's
  // Every agent's per-request stats of the interval, when the aggregator
  // keeps them (for thresholds judged on a window).
  std::vector<v1::RequestStats> stats;
};

// Adds `from` (a later interval) into `into`, which keeps its index: counts
// and histograms add up; in flight and open fds are `from`'s (read at its
// end), VUs the higher of the two (a drain has none).
void MergeInto(IntervalView* into, IntervalView&& from);

struct AgentTotals {
  // This agent's latency buckets (index -> count), sparse: a run touches a
  // few hundred of the histogram's ~23k buckets, and there may be thousands
  // of agents.
  absl::flat_hash_map<uint32_t, int64_t> latency_buckets;
  int64_t requests = 0;
  int64_t errors = 0;
  int64_t sends_skipped = 0;
  uint64_t intervals = 0;
};

class Aggregator {
 public:
  // `keep_stats`: each IntervalView also carries the raw per-request stats.
  Aggregator(const v1::TestPlan& plan, size_t agents, bool keep_stats = false);

  // Merges one agent's interval. Rejects (and ignores) undecodable or
  // out-of-plan data.
  absl::Status Add(size_t agent, const v1::Interval& interval);

  // Removes and returns the lowest pending interval if every agent in
  // `expected` reported it, or if `force`. Intervals that arrive after their
  // index was taken still count in the totals, and in late_intervals().
  std::optional<IntervalView> TakeNext(const std::set<size_t>& expected,
                                       bool force);
  bool HasPending() const { return !pending_.empty(); }
  // The lowest pending interval's index (HasPending() must be true).
  uint64_t PendingIndex() const { return pending_.begin()->first; }
  // How many agents reported the lowest pending interval (0 if none): a cheap
  // test before TakeNext, which needs at least the expected agents' reports.
  size_t NextReporters() const {
    return pending_.empty() ? 0 : pending_.begin()->second.agents.size();
  }
  uint64_t next_index() const { return next_index_; }

  const std::vector<std::vector<Cell>>& cells() const {
    return cells_;
  }  // [scenario][request]
  const std::vector<AgentTotals>& agents() const { return agents_; }
  int64_t late_intervals() const { return late_; }
  // Per scenario: its flow instances so far (all zero for requests-only
  // scenarios).
  const std::vector<v1::FlowStats>& flows() const { return flows_; }
  // Per data set (in name order): rows taken, and first uses of unique rows.
  const std::vector<v1::DataUse>& data() const { return data_; }

 private:
  std::vector<std::vector<Cell>> cells_;
  // [scenario][request]: "STEP: check" for each check of a flow step.
  std::vector<std::vector<std::vector<std::string>>> check_names_;
  std::vector<v1::FlowStats> flows_;
  std::vector<v1::DataUse> data_;
  std::vector<AgentTotals> agents_;
  std::map<uint64_t, IntervalView> pending_;
  uint64_t next_index_ = 0;
  int64_t late_ = 0;
  bool keep_stats_ = false;
  // Add's scratch: each histogram of an interval, decoded (reused buffers).
  std::vector<common::Histogram::Buckets> decoded_;
};

}  // namespace stampede::controller

#endif  // STAMPEDE_CONTROLLER_AGGREGATOR_H_
