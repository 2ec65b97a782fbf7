// What one worker measured in one interval: per (scenario, request) histograms
// and counters, plus the worker's report on itself. Fixed-size arrays, and
// histograms that allocate a page only the first time a value lands in it, so
// that a request name never hit costs no histogram memory. Owned by one worker
// thread while open; handed whole to the reporter at the interval's end.
#ifndef STAMPEDE_AGENT_LOAD_MEASUREMENT_H_
#define STAMPEDE_AGENT_LOAD_MEASUREMENT_H_

#include <array>
#include <cstdint>
#include <vector>

#include "common/errors.h"
#include "common/histogram.h"
#include "stampede/v1/agent.pb.h"

namespace stampede::agent {

struct RequestMetrics {
  common::Histogram latency;         // µs from intended start
  common::Histogram latency_failed;  // of latency, the requests that failed
  common::Histogram service_time;    // µs from actual send
  // Phases, µs; dns/connect/tls only for requests that opened a connection.
  common::Histogram dns;
  common::Histogram connect;
  common::Histogram tls;
  common::Histogram ttfb;  // last byte written -> first byte read
  // Streaming responses: last byte written -> last byte read; SSE events.
  common::Histogram ttlb;
  int64_t events = 0;
  // WebSocket: message round trips and connection lifetimes (µs), data
  // messages each way, and the close codes the server sent.
  common::Histogram ws_rtt;
  common::Histogram ws_session;
  int64_t messages_out = 0;
  int64_t messages_in = 0;
  struct CloseCount {
    uint16_t code = 0;  // 0: a free slot
    int64_t count = 0;
    int64_t errors = 0;  // of them, ws_close_<code> errors
  };
  // A few distinct codes per interval; any beyond are counted as code 1.
  static constexpr size_t kCloseCodes = 15;
  std::array<CloseCount, kCloseCodes + 1> closes{};
  // Its unexpected statuses are refused WebSocket handshakes, named
  // ws_upgrade_<code> rather than http_<code>.
  bool websocket = false;
  int64_t requests = 0;
  int64_t errors = 0;
  // Flow steps: checks judged, and failures per check of the step (its
  // number in common::CheckNames order; the last counts any beyond).
  static constexpr size_t kCountedChecks = 16;
  int64_t checks_passed = 0;
  int64_t checks_failed = 0;
  std::array<int64_t, kCountedChecks> check_failures{};
  int64_t bytes_in = 0;
  int64_t bytes_out = 0;
  std::array<int64_t, 600> statuses{};
  std::array<int64_t, 600> unexpected_statuses{};  // errors, as http_<code>
  std::array<int64_t, static_cast<size_t>(common::ErrorId::kCount)>
      transport_errors{};

  void Merge(const RequestMetrics& other);
  void Reset();
  void CountClose(uint16_t code, int64_t count, int64_t errors);
};

// A flow scenario's flow instances (closed: VU iterations; open: arrivals).
struct FlowCounts {
  int64_t started = 0;
  int64_t completed = 0;      // every step sent and answered
  int64_t aborted = 0;        // ended early: a failed capture or abort_flow
  int64_t dropped = 0;        // open model: no free instance (max_flows)
  int64_t skipped_steps = 0;  // request steps an aborted flow never sent
  // Unique data ran out (on_exhausted: stop): not started.
  int64_t data_exhausted = 0;

  void Merge(const FlowCounts& o) {
    started += o.started;
    completed += o.completed;
    aborted += o.aborted;
    dropped += o.dropped;
    skipped_steps += o.skipped_steps;
    data_exhausted += o.data_exhausted;
  }
  bool empty() const {
    return started == 0 && completed == 0 && aborted == 0 && dropped == 0 &&
           skipped_steps == 0 && data_exhausted == 0;
  }
};

// A data set's rows handed out (to VUs, iterations or arrivals), and for
// unique sets how many of them for the first time.
struct DataCounts {
  int64_t taken = 0;
  int64_t first = 0;
};

struct Window {
  uint64_t index = 0;
  // [scenario][request]
  std::vector<std::vector<RequestMetrics>> requests;
  std::vector<FlowCounts> flows;   // [scenario]
  std::vector<DataCounts> data;    // [data set]; shorter: nothing counted
  common::Histogram schedule_lag;  // µs, actual send - intended send
  int64_t skipped_connection_cap =
      0;  // the wait line for a connection was full
  int64_t skipped_behind_schedule =
      0;  // later than max_lateness, or still waiting at the stop
  double worker_busy =
      0;  // this worker's CPU share of the window; merged: the max
  int64_t loop_stall_max_ns =
      0;                  // the worker loop's longest stall; merged: max
  int64_t open_fds = 0;   // set by the reporter
  int64_t in_flight = 0;  // at the window's close
  int64_t queued = 0;     // at the window's close
  int64_t vus = 0;        // closed model: active VUs at the window's close

  // Shapes `requests` like the plan; allocates, so done once per window, not
  // per request.
  void Shape(const std::vector<size_t>& requests_per_scenario);
  void Merge(const Window& other);
  void Reset();
  // The wire form; unexpected statuses and transport errors become error ids.
  void ToProto(v1::Interval* out) const;
};

}  // namespace stampede::agent

#endif  // STAMPEDE_AGENT_LOAD_MEASUREMENT_H_
