// Everything the workers of one run share, resolved once at Prepare from the
// plan and this agent's share: schedules, prepared requests, weights. Immutable
// once built; thread-safe.
#ifndef STAMPEDE_AGENT_LOAD_RUN_SPEC_H_
#define STAMPEDE_AGENT_LOAD_RUN_SPEC_H_

#include <bitset>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/load/data.h"
#include "agent/load/flow.h"
#include "agent/net/resolver.h"
#include "agent/net/tls.h"
#include "agent/transport.h"
#include "common/allow_list.h"
#include "common/load_mix.h"
#include "common/schedule.h"
#include "stampede/v1/agent.pb.h"

namespace stampede::agent {

// What each connection of a WebSocket scenario does once open (plan's
// `websocket`).
struct WsOptions {
  enum class Mode { kSend, kRequestReply, kListen };
  Mode mode = Mode::kSend;
  int64_t send_every_ns = 0;
  // The payload around "{{seq}}": prefix, the message number, suffix; then
  // padded with 'x' (or cut) to `size` when it is above 0.
  std::string prefix;
  std::string suffix;
  bool has_seq = false;
  size_t size = 0;
  bool binary = false;
  std::string subprotocol;
  int64_t hold_ns = 0;  // 0: until ramped down or the stages end
  bool expect_reply = true;
  bool match_id = false;
  std::string id_key;  // "\"id\":", what precedes the number in a reply
  uint64_t messages = 0;
  int64_t reply_timeout_ns = 0;
  uint64_t max_message_size = 1 << 20;
};

struct ScenarioSpec {
  enum class Model { kOpen, kClosed };
  enum class Think { kNone, kConstant, kUniform, kExponential };

  Model model = Model::kOpen;
  // Arrivals (open) or the VU level (closed) over time.
  std::unique_ptr<common::ArrivalSchedule> schedule;
  std::vector<PreparedRequest> requests;
  // For https:// requests, on every transport.
  tls::ClientOptions tls;
  std::vector<uint64_t> cumulative_weight;  // running sum of request weights
  size_t max_connections = 256;             // open model, for this whole agent
  bool poisson = false;         // open model: random (exponential) gaps
  int64_t start_offset_ns = 0;  // start_after
  // Source addresses connections are bound to in turn; empty: the kernel's
  // choice.
  std::vector<std::string> local_addresses;
  // Statuses that are not errors (default 100-399).
  std::bitset<600> expected_statuses;
  // Open model: an arrival later than this is skipped, not sent.
  int64_t max_lateness_ns = 100'000'000;
  std::string name;
  std::string transport;     // "", auto, native or curl
  std::string http_version;  // "", auto, "1.1" or "2"
  // What serves the scenario and why, chosen once per run (ChooseEngines).
  enum class Engine : uint8_t { kHttp1, kH2, kWebSocket, kCurl };
  Engine engine = Engine::kHttp1;
  std::string engine_why;
  size_t max_streams_per_connection = 0;  // HTTP/2; 0: the engine's default
  bool websocket = false;                 // every request is a ws:// endpoint
  WsOptions ws;
  // A flow scenario's program (its requests are its request steps, each
  // with the URL of its origin only: the flow renders the rest); null for a
  // requests-only scenario.
  std::unique_ptr<FlowSpec> flow;

  // {{vu}} of this scenario's user j (plan-wide, from 0) is first_user + j
  // + 1: the scenarios before it in the plan take the numbers below, each as
  // many as it can have users (its highest VU level, or every arrival of its
  // schedule), so a number is unique in the whole run.
  uint64_t first_user = 0;
  // Open model: the highest rate any stage reaches (plan-wide, per second).
  double peak_rate = 0;
  // A user mix: the shared load (`schedule`) and this scenario's share of
  // its VUs or arrivals; nullopt for a scenario with a load of its own.
  std::optional<common::MixMembership> mix;

  // Closed model.
  double max_vus = 0;  // the highest VU level any stage reaches (plan-wide)
  Think think = Think::kNone;
  int64_t think_a_ns = 0;  // constant, uniform min, or exponential mean
  int64_t think_b_ns = 0;  // uniform max
  uint64_t iterations_per_vu = 0;
  uint64_t shared_iterations = 0;  // plan-wide

  // The request plan-wide arrival j uses: weights are honoured exactly over
  // every total-weight consecutive arrivals.
  const PreparedRequest& RequestFor(uint64_t j) const;
};

struct RunSpec {
  std::string run_id;
  // The plan's seed, else one from the run id: what every random choice
  // starts from.
  uint64_t seed = 0;
  uint32_t share_index = 0;
  uint32_t share_count = 1;
  std::vector<uint32_t> share_weights;  // one per agent; empty: equal

  // The agents' weights, equal ones when the controller sent none.
  std::vector<uint32_t> ShareWeights() const;
  absl::Duration interval = absl::Seconds(1);
  std::vector<ScenarioSpec> scenarios;
  // What every new connection is checked against (the agent's
  // --allow-targets); null: the default list. Set by the agent after
  // FromPrepare; it outlives the run.
  const common::AllowList* allow_list = nullptr;
  // The plan's `dns:` and `hosts:`, for every worker's resolver.
  net::DnsOptions dns;
  // The plan's data sets in name order; FromPrepare leaves their rows empty
  // (DataInbox::Deliver fills them from the chunks).
  std::vector<DataSetSpec> data;
  // The plan's setup captures (common::SetupCaptureNames) and their values,
  // set from Start before any worker runs (empty strings until then).
  std::vector<std::string> setup_names;
  std::vector<std::string> setup_values;
  // The plan's setup steps, for the one agent asked to run them.
  v1::TestPlan plan;

  std::vector<size_t> RequestsPerScenario() const;
  static absl::StatusOr<std::unique_ptr<RunSpec>> FromPrepare(
      const v1::Prepare& prepare);
};

}  // namespace stampede::agent

#endif  // STAMPEDE_AGENT_LOAD_RUN_SPEC_H_
