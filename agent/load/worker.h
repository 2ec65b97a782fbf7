// One load worker: a thread with its own event loop, transports, pacing state
// and measurement window. Open model: it sends its slice of every scenario's
// arrivals (arrival j of the plan belongs to it when j = SliceArrival(share,
// worker, m)). Closed model: it runs its slice of the virtual users, each
// looping request -> think time while the VU level of the stages covers it. It
// records each outcome in the open window and hands the window to the
// WindowSink at every interval boundary. Start/Stop/Join are called from the
// agent's control thread; everything else runs on the worker's own thread.
#ifndef STAMPEDE_AGENT_LOAD_WORKER_H_
#define STAMPEDE_AGENT_LOAD_WORKER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "agent/load/measurement.h"
#include "agent/load/run_spec.h"
#include "agent/net/event_loop.h"
#include "agent/net/resolver.h"
#include "agent/transport.h"

namespace stampede::agent {

class WindowSink {
 public:
  virtual ~WindowSink() = default;
  // Thread-safe. `last` marks the worker's final window.
  virtual void Deliver(int worker, std::unique_ptr<Window> window,
                       bool last) = 0;
};

class Worker : private Transport::Listener {
 public:
  // Arrivals that may wait for a connection at once; beyond that they are
  // skipped.
  static constexpr size_t kWaitLineCapacity = 1 << 18;
  // A closed-model VU whose request could not connect waits this long before
  // its next iteration, doubling with each failure in a row up to the cap
  // (plus up to 20% jitter).
  static constexpr int64_t kConnectBackoffFirstNs = 100'000'000;
  static constexpr int64_t kConnectBackoffMaxNs = 5'000'000'000;
  // How long Init waits for the plan's names to resolve.
  static constexpr int64_t kFirstLookupWaitNs = 5'000'000'000;

  // `spec` and `sink` must outlive the worker.
  Worker(const RunSpec& spec, int index, int workers, WindowSink* sink);
  ~Worker() override;

  // Creates the loop and transports; call before Start.
  absl::Status Init();
  // Starts the thread; the run begins at `start_mono_ns` (CLOCK_MONOTONIC).
  void Start(int64_t start_mono_ns);
  // Stops sending; requests in flight get up to `drain` to finish.
  // Thread-safe.
  void Stop(int64_t drain_ns);
  void Join();
  // How late this worker's first send was against its schedule; -1 before
  // it. Read only after the worker's last window was delivered.
  int64_t first_send_late_ns() const { return first_send_late_ns_; }

 private:
  struct Pacer {                  // open model, per scenario
    uint64_t m = 0;               // this worker's next arrival in its own slice
    int64_t next_ns = INT64_MAX;  // when it is due; INT64_MAX once done
    double position = 0;  // Poisson: the plan's cumulative count reached
  };
  struct Waiting {
    int64_t intended_ns;
    const PreparedRequest* request;
  };
  struct Vu {
    uint64_t iterations = 0;
    bool busy = false;     // a request in flight or a think time pending
    bool in_flow = false;  // a flow iteration is under way (its think too)
    // Requests in a row that failed to connect (refused, reset, DNS, TLS,
    // local limits): the VU backs off before its next iteration.
    uint32_t connect_failures = 0;
  };
  struct VuPool {                 // closed model, per scenario
    std::vector<Vu> vus;          // this worker's slice, by m
    uint64_t active = 0;          // VUs m < active may start iterations
    uint64_t quota = UINT64_MAX;  // this worker's part of shared_iterations
    uint64_t iterations = 0;      // started, for the request mix
    // (due_ns, m) min-heap of think times; capacity reserved for every VU.
    std::vector<std::pair<int64_t, uint32_t>> thinking;
    bool ended = false;
    std::vector<FlowInstance> flows;  // flow scenarios: one per VU
  };
  // Open model, flow scenarios: this worker's share of max_flows, each a
  // flow instance with its own connection slot.
  struct FlowSlots {
    std::vector<FlowInstance> instances;
    std::vector<int64_t> intended_ns;  // of each instance's next step
    std::vector<uint32_t> free;        // instances not in a flow
    // (due_ns, instance) min-heap of think times; room for every instance.
    std::vector<std::pair<int64_t, uint32_t>> thinking;
  };

  // Counts an arrival not sent (behind_schedule) and records its wait.
  void Skip(const PreparedRequest& request, int64_t intended_ns,
            int64_t now_ns);
  absl::StatusOr<std::unique_ptr<Transport>> MakeTransport(
      const ScenarioSpec& scenario, size_t max_connections);
  void Run();
  void Advance(size_t scenario);
  void Arrive(size_t scenario, int64_t now_ns);
  void SendNow(const PreparedRequest& request, int64_t intended_ns,
               int64_t now_ns, uint32_t vu);
  void OnDone(const Sent& sent, const Outcome& outcome,
              int64_t done_ns) override;
  void OnMessage(const PreparedRequest& request, bool outgoing,
                 int64_t rtt_ns) override;
  void OnSessionEnd(const Sent& sent, const SessionEnd& end,
                    int64_t done_ns) override;
  // A request (or session) ended: its VU goes on, or a waiting arrival takes
  // its connection.
  void Freed(const Sent& sent, int64_t done_ns);
  // Closed model: follow the VU level, wake VUs whose think time is over.
  // Returns when the scenario next needs attention.
  int64_t TickVus(size_t scenario, int64_t now_ns);
  void StartIteration(size_t scenario, uint32_t m, int64_t now_ns);
  void AfterIteration(size_t scenario, uint32_t m, int64_t done_ns);
  int64_t ThinkNs(const ScenarioSpec& spec);
  // Flows: renders and sends `step` for its user (closed: VU m, on
  // connection m; open: instance i, on connection i).
  void SendStep(size_t scenario, FlowInstance& flow, const FlowStepSpec& step,
                int64_t intended_ns, int64_t now_ns, uint32_t vu,
                uint32_t instance);
  // The flow instance that sent a flow step: its VU's, or its open slot's.
  FlowInstance& FlowOf(const Sent& sent);
  // A flow step's response is a redirect its user follows: the next hop is
  // sent (and the step goes on) instead of judging it.
  bool FollowRedirect(const Sent& sent, const Outcome& outcome,
                      int64_t done_ns);
  // Judges a flow step's response and counts what the user would notice.
  void JudgeStep(const Sent& sent, const Outcome& outcome, int64_t done_ns,
                 bool failed, RequestMetrics& m);
  // Closed model: VU m's flow goes on from where it is (send, think or end).
  void ContinueFlow(size_t scenario, uint32_t m, int64_t now_ns);
  // Open model: instance i's flow goes on; its next step is due at
  // `intended_ns`.
  void ContinueOpenFlow(size_t scenario, uint32_t i, int64_t intended_ns,
                        int64_t now_ns);
  // Open model: wakes flow instances whose think time is over; returns when
  // the next one is due (INT64_MAX: none).
  int64_t TickOpenFlows(size_t scenario, int64_t now_ns);
  void CloseWindow(bool last);
  bool Finished() const;

  // A flow scenario's use of one data set on this worker (worker_data.cc).
  struct DataCursor {
    uint32_t set = 0;
    common::DataPicker picker;
    bool per_iteration = false;
    uint64_t next = 0;       // per iteration: rows handed out so far
    std::vector<bool> seen;  // unique: which of the worker's rows were used
  };
  void InitData();
  // Gives `flow` its row of each data set its scenario uses, for the
  // worker's m-th VU (or arrival), or its next iteration for per: iteration
  // sets. False when unique data ran out (on_exhausted: stop): nothing is
  // taken, and it is counted as data_exhausted.
  bool TakeRows(size_t scenario, uint64_t m, FlowInstance* flow);

  const RunSpec& spec_;
  const int index_;
  const int workers_;
  WindowSink* sink_;
  const common::Slice slice_;  // this worker's part of the plan
  std::unique_ptr<EventLoop> loop_;
  // Names for every native transport of this worker (declared before them:
  // they borrow it).
  std::unique_ptr<net::Resolver> resolver_;
  std::vector<std::unique_ptr<Transport>> transports_;  // per scenario
  std::vector<Pacer> pacers_;
  std::vector<VuPool> pools_;
  std::vector<FlowSlots> flow_slots_;  // per scenario (open-model flows)
  std::vector<std::vector<DataCursor>> data_;  // per scenario
  int64_t first_send_late_ns_ = -1;
  std::vector<Waiting> wait_line_;  // ring buffer, per worker (all scenarios)
  size_t wait_head_ = 0;
  size_t waiting_ = 0;
  std::mt19937_64 rng_;
  std::unique_ptr<Window> window_;
  uint64_t window_index_ = 0;
  int64_t window_started_ns_ =
      0;                       // CLOCK_MONOTONIC, when the open window began
  int64_t window_cpu_ns_ = 0;  // this thread's CPU time then
  int64_t start_ns_ = 0;
  int64_t interval_ns_ = 0;
  std::atomic<int64_t> stop_deadline_ns_{0};  // 0: not stopping
  bool sessions_ended_ = false;  // EndAllSessions was called at the stop
  std::thread thread_;
};

}  // namespace stampede::agent

#endif  // STAMPEDE_AGENT_LOAD_WORKER_H_
