#include "controller/run.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/histogram.h"
#include "common/plan_loader.h"
#include "common/schedule.h"
#include "controller/aggregator.h"
#include "controller/format.h"
#include "controller/hub.h"
#include "controller/live_thresholds.h"
#include "controller/liveness.h"
#include "controller/local_agents.h"
#include "controller/metrics.h"
#include "controller/report.h"
#include "controller/result.h"
#include "controller/thresholds.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/grpcpp.h"
#include "spdlog/spdlog.h"
#include "stampede/v1/agent.pb.h"

namespace stampede::controller {
namespace {

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
};

void Print(const std::string& text) {
  std::fputs(text.c_str(), stdout);
  std::fflush(stdout);
}

bool IsLoopbackListen(const std::string& listen) {
  return absl::StartsWith(listen, "127.") ||
         absl::StartsWith(listen, "localhost:") ||
         absl::StartsWith(listen, "[::1]:");
}

std::string NewRunId() {
  std::random_device rd;
  return absl::StrFormat("%08x%08x", rd(), rd());
}

std::string CheckHello(const v1::Hello& hello) {
  if (hello.protocol_version() != v1::PROTOCOL_VERSION_CURRENT) {
    return absl::StrCat("agent speaks protocol version ",
                        hello.protocol_version(), "; this controller speaks ",
                        static_cast<int>(v1::PROTOCOL_VERSION_CURRENT));
  }
  const v1::HistogramConfig& h = hello.histogram();
  if (h.lowest_us() != common::Histogram::kLowestUs ||
      h.highest_us() != common::Histogram::kHighestUs ||
      h.significant_digits() != common::Histogram::kSignificantDigits) {
    return absl::StrCat(
        "agent histograms are ", h.lowest_us(), "us..", h.highest_us(),
        "us at ", h.significant_digits(),
        " digits; this controller merges only 1us..1h at 3 digits");
  }
  return "";
}

bool WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  out.close();
  return out.good();
}

// The run's state machine, on the caller's thread. Members are what phases
// share.
class Controller {
 public:
  Controller(const RunOptions& options, const v1::TestPlan& plan)
      : options_(options), plan_(plan) {}
  // A run that ended early (agents refused, clocks off) still has remote
  // agents' streams open: end them, or the server's shutdown waits forever.
  ~Controller() {
    if (server_ == nullptr) return;
    hub_.FinishAll();
    server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
  }

  int Execute();

 private:
  int Serve();
  int Register(int expected, bool local);
  int Prepare();
  // Refuses to start (exit 5) when an agent's clock is off by more than
  // --max-clock-skew; warns above 50 ms.
  int CheckClocks();
  void Drive();
  bool Interrupted() const {
    return options_.signals != nullptr && options_.signals->load() > 0;
  }
  bool Killed() const {
    return options_.signals != nullptr && options_.signals->load() > 1;
  }
  void StopAll(const std::string& reason);
  // A running agent is gone: its stream ended, or it went silent. Ends its
  // stream and applies the plan's loss policy.
  void Lose(Agent& agent, const std::string& why,
            AgentState state = AgentState::kLost);
  void EmitIntervals(bool force_all);
  int Finish();
  Agent* BySession(uint64_t session);
  size_t IndexOf(uint64_t session) const;
  // Renders the merged state for /metrics, when it is served.
  void PublishMetrics();
  // Keeps /metrics up for --metrics-hold after the run (a signal cuts it).
  void HoldMetrics();

  const RunOptions& options_;
  const v1::TestPlan& plan_;
  Hub hub_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
  LocalAgents local_;
  std::vector<Agent> agents_;
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
  bool aborted_for_loss_ = false;
  bool stopping_ = false;
  absl::Time stop_deadline_;
  std::unique_ptr<MetricsServer> metrics_;
  std::string phase_ = "registering";
};

const char* StateName(AgentState state) {
  switch (state) {
    case AgentState::kRegistered:
      return "registered";
    case AgentState::kReady:
      return "ready";
    case AgentState::kRunning:
      return "running";
    case AgentState::kFinished:
      return "finished";
    case AgentState::kLost:
      return "lost";
    case AgentState::kStopped:
      return "stopped";
  }
  return "lost";
}

void Controller::PublishMetrics() {
  if (metrics_ == nullptr) return;
  MetricsInput in;
  in.plan = &plan_;
  in.run_id = run_id_;
  in.phase = phase_;
  if (start_at_ != absl::Time() && absl::Now() > start_at_) {
    in.elapsed_s = absl::ToDoubleSeconds(
        (end_at_ != absl::Time() ? end_at_ : absl::Now()) - start_at_);
  }
  if (aggregator_ != nullptr) in.cells = &aggregator_->cells();
  if (!intervals_.empty()) in.last_interval = &intervals_.back();
  for (AgentState state :
       {AgentState::kRegistered, AgentState::kReady, AgentState::kRunning,
        AgentState::kFinished, AgentState::kLost, AgentState::kStopped}) {
    in.agents.emplace_back(
        StateName(state),
        std::count_if(agents_.begin(), agents_.end(),
                      [&](const Agent& a) { return a.state == state; }));
  }
  std::vector<LiveThresholds::Current> current;
  if (live_ != nullptr) current = live_->current();
  for (int i = 0; i < plan_.thresholds_size(); ++i) {
    MetricsThreshold t;
    t.expression = ThresholdExpression(plan_.thresholds(i));
    if (static_cast<size_t>(i) < current.size()) {
      t.judged = current[i].judged;
      t.failing = current[i].failing;
      t.actual = current[i].actual;
    }
    in.thresholds.push_back(std::move(t));
  }
  metrics_->Publish(RenderMetrics(in));
}

void Controller::HoldMetrics() {
  if (metrics_ == nullptr || options_.metrics_hold <= absl::ZeroDuration())
    return;
  Print(absl::StrCat("serving http://", metrics_->address(), "/metrics for ",
                     absl::FormatDuration(options_.metrics_hold),
                     " more (--metrics-hold)\n"));
  const absl::Time until = absl::Now() + options_.metrics_hold;
  const int signals_before =
      options_.signals != nullptr ? options_.signals->load() : 0;
  while (absl::Now() < until) {
    if (options_.signals != nullptr &&
        options_.signals->load() > signals_before)
      return;
    absl::SleepFor(std::min(absl::Milliseconds(100), until - absl::Now()));
  }
}

Agent* Controller::BySession(uint64_t session) {
  size_t i = IndexOf(session);
  return i < agents_.size() ? &agents_[i] : nullptr;
}

size_t Controller::IndexOf(uint64_t session) const {
  auto it = index_of_.find(session);
  return it == index_of_.end() ? agents_.size() : it->second;
}

int Controller::Serve() {
  std::string listen =
      options_.listen.empty() ? "127.0.0.1:0" : options_.listen;
  const bool tls = options_.tls.enabled();
  if (!IsLoopbackListen(listen) && !tls && !options_.insecure) {
    std::fprintf(
        stderr,
        "--listen %s: the control plane would leave loopback without mTLS; "
        "give --tls-ca, --tls-cert and --tls-key, or pass --insecure to "
        "accept that (it is written in the result)\n",
        listen.c_str());
    return kExitInvalid;
  }
  std::shared_ptr<grpc::ServerCredentials> credentials =
      grpc::InsecureServerCredentials();
  if (tls) {
    auto mtls = common::ServerCredentialsFor(options_.tls);
    if (!mtls.ok()) {
      std::fprintf(stderr, "control-plane TLS: %s\n",
                   std::string(mtls.status().message()).c_str());
      return kExitInvalid;
    }
    credentials = *std::move(mtls);
  }
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, credentials, &port);
  builder.RegisterService(&hub_);
  builder.SetMaxReceiveMessageSize(64 << 20);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 10'000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5'000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(
      GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 5'000);
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port == 0) {
    std::fprintf(stderr, "--listen %s: cannot listen there\n", listen.c_str());
    return kExitInternal;
  }
  address_ = absl::StrCat(listen.substr(0, listen.rfind(':')), ":", port);
  return kExitPassed;
}

int Controller::Register(int expected, bool local) {
  absl::Time deadline = absl::Now() + (local ? kLocalRegistration
                                             : options_.registration_timeout);
  while (static_cast<int>(agents_.size()) < expected) {
    if (Interrupted()) {
      std::fprintf(stderr, "interrupted while waiting for agents\n");
      return kExitAborted;
    }
    if (absl::Now() > deadline) {
      std::fprintf(stderr, "only %zu of %d agents registered within %s\n",
                   agents_.size(), expected,
                   absl::FormatDuration(local ? kLocalRegistration
                                              : options_.registration_timeout)
                       .c_str());
      return kExitNotEnoughAgents;
    }
    if (local && local_.Exited() > 0) {
      std::fprintf(
          stderr,
          "a local agent exited before registering (see its log above)\n");
      return kExitNotEnoughAgents;
    }
    std::optional<Hub::Event> event = hub_.NextEvent(absl::Milliseconds(100));
    if (!event) continue;
    if (!event->message) {  // gone before the run began: forget it
      std::erase_if(
          agents_, [&](const Agent& a) { return a.session == event->session; });
      continue;
    }
    if (!event->message->has_hello()) continue;
    const v1::Hello& hello = event->message->hello();
    std::string refusal = CheckHello(hello);
    for (const Agent& a : agents_) {
      if (a.id == hello.agent_id())
        refusal = absl::StrCat("agent id ", a.id, " is taken");
    }
    if (!refusal.empty()) {
      spdlog::warn("refusing agent {} ({}): {}", hello.agent_id(), event->peer,
                   refusal);
      v1::ControllerMessage msg;
      msg.mutable_refuse()->set_reason(refusal);
      hub_.Send(event->session, std::move(msg));
      hub_.Finish(event->session);
      continue;
    }
    Agent agent{event->session, hello.agent_id(), hello.host()};
    agent.workers = std::max<uint32_t>(1, hello.workers());
    agent.cores = std::max<uint32_t>(1, hello.cores());
    agents_.push_back(std::move(agent));
    spdlog::info("agent {} registered from {} ({} workers)", hello.agent_id(),
                 event->peer, hello.workers());
    PublishMetrics();
  }
  return kExitPassed;
}

int Controller::Prepare() {
  phase_ = "preparing";
  PublishMetrics();
  // Shares follow the agents' ids, so reports list agents in a stable order.
  std::sort(agents_.begin(), agents_.end(),
            [](const Agent& a, const Agent& b) { return a.id < b.id; });
  const bool weighted = options_.split != "equal";
  for (Agent& a : agents_) {
    a.weight = options_.split == "workers" ? a.workers
               : options_.split == "cores" ? a.cores
                                           : 1;
  }
  for (size_t i = 0; i < agents_.size(); ++i) index_of_[agents_[i].session] = i;
  for (size_t i = 0; i < agents_.size(); ++i) {
    v1::ControllerMessage msg;
    v1::Prepare* prepare = msg.mutable_prepare();
    if (weighted) {
      for (const Agent& a : agents_)
        prepare->mutable_share()->add_weights(a.weight);
    }
    prepare->set_run_id(run_id_);
    *prepare->mutable_plan() = plan_;
    prepare->mutable_share()->set_index(i);
    prepare->mutable_share()->set_count(agents_.size());
    *prepare->mutable_interval() = TimeUtil::NanosecondsToDuration(
        absl::ToInt64Nanoseconds(options_.interval));
    *prepare->mutable_lease() =
        TimeUtil::NanosecondsToDuration(absl::ToInt64Nanoseconds(kAgentLease));
    hub_.Send(agents_[i].session, std::move(msg));
  }
  absl::Time deadline = absl::Now() + kReadyTimeout;
  size_t ready = 0;
  while (ready < agents_.size()) {
    if (Interrupted()) return kExitAborted;
    if (absl::Now() > deadline) {
      std::fprintf(stderr, "only %zu of %zu agents were ready within %s\n",
                   ready, agents_.size(),
                   absl::FormatDuration(kReadyTimeout).c_str());
      return kExitNotEnoughAgents;
    }
    std::optional<Hub::Event> event = hub_.NextEvent(absl::Milliseconds(100));
    if (!event) continue;
    Agent* agent = BySession(event->session);
    if (agent == nullptr) continue;
    if (!event->message) {
      std::fprintf(stderr, "agent %s left before the start\n",
                   agent->id.c_str());
      return kExitNotEnoughAgents;
    }
    if (!event->message->has_ready() ||
        event->message->ready().run_id() != run_id_)
      continue;
    if (!event->message->ready().error().empty()) {
      std::fprintf(stderr, "agent %s cannot run its share: %s\n",
                   agent->id.c_str(), event->message->ready().error().c_str());
      return kExitInternal;
    }
    if (agent->state == AgentState::kRegistered) {
      agent->state = AgentState::kReady;
      agent->clock_offset_us = event->message->ready().clock_offset_us();
      agent->clock_rtt_us = event->message->ready().clock_rtt_us();
      ++ready;
      PublishMetrics();
    }
  }
  return CheckClocks();
}

int Controller::CheckClocks() {
  for (const Agent& a : agents_) {
    const absl::Duration offset =
        absl::AbsDuration(absl::Microseconds(a.clock_offset_us));
    if (a.clock_rtt_us < 0) {
      spdlog::warn("agent {}: no heartbeat reply; its clock is not checked",
                   a.id);
    } else if (offset > options_.max_clock_skew) {
      std::fprintf(stderr,
                   "agent %s: its clock is %s off the controller's, above "
                   "--max-clock-skew %s; synchronise clocks (NTP) first\n",
                   a.id.c_str(), absl::FormatDuration(offset).c_str(),
                   absl::FormatDuration(options_.max_clock_skew).c_str());
      return kExitNotEnoughAgents;
    } else if (offset > kClockSkewWarning) {
      Print(absl::StrCat("WARNING: agent ", a.id, "'s clock is ",
                         absl::FormatDuration(offset),
                         " off the controller's; corrected for the start\n"));
    }
  }
  return kExitPassed;
}

void Controller::StopAll(const std::string& reason) {
  for (const Agent& a : agents_) {
    if (a.state != AgentState::kRunning) continue;
    v1::ControllerMessage msg;
    msg.mutable_stop()->set_run_id(run_id_);
    msg.mutable_stop()->set_reason(reason);
    hub_.Send(a.session, std::move(msg));
  }
  stopping_ = true;
  stop_deadline_ = absl::Now() + kDrain;
  phase_ = "draining";
}

void Controller::Lose(Agent& agent, const std::string& why, AgentState state) {
  agent.state = state;
  hub_.Finish(agent.session);  // no more lease renewals: it fences itself
  std::vector<uint32_t> weights;
  std::vector<bool> lost;
  for (const Agent& a : agents_) {
    weights.push_back(a.weight);
    lost.push_back(a.state == AgentState::kLost ||
                   a.state == AgentState::kStopped);
  }
  const double share = LostShare(weights, lost);
  Print(absl::StrFormat(
      "agent %s lost (%s): %.1f%% of the plan is not being delivered\n",
      agent.id, why, share * 100));
  const std::string reason =
      LossAbortReason(LossPolicyOf(plan_), share, agent.id);
  if (!reason.empty() && !aborted_) {
    aborted_ = true;
    aborted_for_loss_ = true;
    abort_reason_ = reason;
    Print(absl::StrCat("aborting: ", reason, "\n"));
    StopAll(reason);
  }
}

void Controller::EmitIntervals(bool force_all) {
  // Called after every agent message: the set of expected agents is built
  // only once the next interval may be complete.
  size_t running = 0;
  for (const Agent& a : agents_) running += a.state == AgentState::kRunning;
  std::optional<std::set<size_t>> expected;
  const size_t shown = intervals_.size();
  while (aggregator_->HasPending()) {
    uint64_t k = aggregator_->next_index();
    absl::Time k_end =
        start_at_ + options_.interval * static_cast<double>(k + 1);
    bool force = force_all || absl::Now() > k_end + kIntervalPatience;
    if (!force && aggregator_->NextReporters() < running) break;
    if (!expected) {
      expected.emplace();
      for (size_t i = 0; i < agents_.size(); ++i) {
        if (agents_[i].state == AgentState::kRunning) expected->insert(i);
      }
    }
    std::optional<IntervalView> view = aggregator_->TakeNext(*expected, force);
    if (!view) break;
    v1::IntervalResult r = IntervalResultOf(plan_, *view, options_.interval);
    JudgeGenerator(&r);
    Print(FormatLiveLine(
        r, static_cast<double>(view->latency.ValueAtPercentile(95)) / 1000.0,
        agents_.size()));
    intervals_.push_back(std::move(r));
    for (const LiveThresholds::Change& c :
         live_->OnInterval(*view, aggregator_->cells())) {
      Print(absl::StrCat(
          "  threshold ", c.failing ? "FAILING" : "passing again", " at ",
          absl::StrFormat("%g", c.t_s), "s: ", c.result.expression(),
          " (actual ", c.result.actual_text(), ")\n"));
    }
    if (live_->aborted_by() && !aborted_ && !force_all) {
      aborted_ = true;
      abort_reason_ = live_->AbortReason();
      Print(absl::StrCat("\n", abort_reason_, ": stopping agents\n"));
      StopAll(abort_reason_);
    }
  }
  if (intervals_.size() != shown) PublishMetrics();
}

void Controller::Drive() {
  const absl::Duration longest = common::PlanLength(plan_);
  absl::Duration timeout = absl::ZeroDuration();
  for (const v1::Scenario& s : plan_.scenarios()) {
    timeout = std::max(timeout, absl::Seconds(s.timeout().seconds()) +
                                    absl::Nanoseconds(s.timeout().nanos()));
  }
  const absl::Time hard_deadline =
      start_at_ + longest + timeout + absl::Seconds(15);
  while (true) {
    if (Killed()) return;
    if (Interrupted() && !aborted_) {
      aborted_ = true;
      abort_reason_ = "interrupted by signal";
      Print(
          "\ninterrupted: stopping agents and draining (signal again to exit "
          "at once)\n");
      StopAll(abort_reason_);
    }
    if (!stopping_ && absl::Now() > hard_deadline) {
      spdlog::warn(
          "agents have not finished by the run's deadline; stopping them");
      StopAll("the run exceeded its deadline");
    }
    if (stopping_ && absl::Now() > stop_deadline_) {
      for (Agent& a : agents_) {
        if (a.state == AgentState::kRunning) {
          spdlog::warn(
              "agent {} did not finish within the drain deadline: lost", a.id);
          a.state = AgentState::kLost;
        }
      }
    }
    bool running = false;
    for (const Agent& a : agents_)
      running = running || a.state == AgentState::kRunning;
    if (!running) break;

    std::optional<Hub::Event> event = hub_.NextEvent(absl::Milliseconds(50));
    if (event) {
      size_t index = IndexOf(event->session);
      if (index < agents_.size()) {
        Agent& agent = agents_[index];
        if (!event->message) {
          if (agent.state == AgentState::kRunning) {
            Lose(agent, "its stream ended before Final");
            PublishMetrics();
          }
        } else if (event->message->has_interval()) {
          const v1::Interval& interval = event->message->interval();
          if (interval.run_id() == run_id_) {
            if (absl::Status s = aggregator_->Add(index, interval); !s.ok()) {
              spdlog::warn("agent {}: interval rejected: {}", agent.id,
                           std::string(s.message()));
            }
          }
        } else if (event->message->has_final() &&
                   event->message->final().run_id() == run_id_) {
          const v1::Final& final = event->message->final();
          agent.first_send_late_us = final.first_send_late_us();
          if (agent.state == AgentState::kRunning && !stopping_ &&
              !final.stop_reason().empty()) {
            // Stopped before the run's end by its own side (a signal, its
            // lease): its share was not all delivered.
            Lose(agent, absl::StrCat("it stopped early: ", final.stop_reason()),
                 AgentState::kStopped);
          } else if (agent.state == AgentState::kRunning) {
            agent.state = AgentState::kFinished;
          }
        }
      }
    }
    const absl::Time now = absl::Now();
    for (Agent& a : agents_) {
      if (a.state == AgentState::kRunning &&
          now - hub_.LastHeard(a.session) > kAgentSilence) {
        Lose(a,
             absl::StrCat("silent for ", absl::FormatDuration(kAgentSilence)));
        PublishMetrics();
      }
    }
    EmitIntervals(false);
  }
  EmitIntervals(true);
}

int Controller::Finish() {
  end_at_ = absl::Now();
  hub_.FinishAll();
  hub_.AllDone(absl::Seconds(5));
  server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
  local_.Reap(absl::Seconds(5));

  const absl::Duration longest = common::PlanLength(plan_);
  RunFacts facts;
  facts.plan = &plan_;
  facts.aggregator = aggregator_.get();
  facts.run_id = run_id_;
  facts.started_at = start_at_;
  // rps is over the scheduled length, or until the stop when the run was cut
  // short.
  absl::Duration elapsed = std::max(absl::ZeroDuration(), end_at_ - start_at_);
  facts.duration_s =
      absl::ToDoubleSeconds(aborted_ ? std::min(elapsed, longest) : longest);
  uint64_t weight_sum = 0;
  std::vector<uint32_t> weights;
  std::vector<bool> lost;
  for (const Agent& a : agents_) {
    weight_sum += a.weight;
    weights.push_back(a.weight);
    lost.push_back(a.state != AgentState::kFinished);
  }
  facts.lost_share = LostShare(weights, lost);
  facts.aborted_for_loss = aborted_for_loss_;
  for (const Agent& a : agents_) {
    facts.agents.push_back(
        {a.id, a.host,
         a.state == AgentState::kFinished  ? "finished"
         : a.state == AgentState::kStopped ? "stopped"
                                           : "lost",
         static_cast<double>(a.clock_offset_us) / 1000.0,
         a.clock_rtt_us < 0 ? -1 : static_cast<double>(a.clock_rtt_us) / 1000.0,
         a.first_send_late_us < 0
             ? -1
             : static_cast<double>(a.first_send_late_us) / 1000.0,
         static_cast<double>(a.weight) / static_cast<double>(weight_sum),
         PlannedRequests(plan_, weights, facts.agents.size())});
  }
  facts.intervals = intervals_;
  facts.insecure =
      !options_.tls.enabled() &&
      !IsLoopbackListen(options_.listen.empty() ? std::string("127.0.0.1:0")
                                                : options_.listen);
  facts.strict = options_.strict;
  facts.aborted = aborted_;
  facts.abort_reason = abort_reason_;
  facts.live = live_.get();
  v1::RunResult result = BuildResult(facts);
  phase_ = "done";
  PublishMetrics();
  if (aggregator_->late_intervals() > 0) {
    spdlog::warn(
        "{} intervals arrived after they were shown; they are in the totals",
        aggregator_->late_intervals());
  }
  Print(FormatSummary(result));
  int code = result.exit_code();
  for (const auto& [format, file] : options_.outputs) {
    if (!WriteFile(file, Render(format, result))) {
      std::fprintf(stderr, "--out %s=%s: cannot write the file\n",
                   format.c_str(), file.c_str());
      code = kExitInternal;
    }
  }
  HoldMetrics();
  return code;
}

int Controller::Execute() {
  if (int code = Serve(); code != kExitPassed) return code;
  if (!options_.metrics_listen.empty()) {
    auto server = MetricsServer::Start(options_.metrics_listen);
    if (!server.ok()) {
      std::fprintf(stderr, "%s\n",
                   std::string(server.status().message()).c_str());
      return absl::IsInvalidArgument(server.status()) ? kExitInvalid
                                                      : kExitInternal;
    }
    metrics_ = *std::move(server);
    Print(absl::StrCat("metrics: http://", metrics_->address(), "/metrics\n"));
    PublishMetrics();
  }
  const bool local = options_.expect_agents <= 0;
  const int cores = std::max(1u, std::thread::hardware_concurrency());
  const int expected =
      local ? (options_.local_agents > 0 ? options_.local_agents : cores)
            : options_.expect_agents;
  if (local) {
    auto binary = LocalAgents::FindBinary(options_.agent_binary);
    if (!binary.ok()) {
      std::fprintf(stderr, "%s\n",
                   std::string(binary.status().message()).c_str());
      return kExitInternal;
    }
    absl::Status s =
        local_.Spawn(*binary, address_, expected, std::max(1, cores / expected),
                     options_.agent_log_level, options_.agent_args);
    if (!s.ok()) {
      std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
      return kExitInternal;
    }
  } else {
    Print(
        absl::StrCat("waiting for ", expected, " agents on ", address_, "\n"));
  }
  if (int code = Register(expected, local); code != kExitPassed) return code;
  if (int code = Prepare(); code != kExitPassed) return code;

  start_at_ = absl::Now() + kStartLead;
  for (Agent& a : agents_) {
    v1::ControllerMessage msg;
    msg.mutable_start()->set_run_id(run_id_);
    *msg.mutable_start()->mutable_start_at() =
        TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(start_at_));
    hub_.Send(a.session, std::move(msg));
    a.state = AgentState::kRunning;
  }
  aggregator_ = std::make_unique<Aggregator>(plan_, agents_.size(),
                                             NeedsIntervalStats(plan_));
  live_ = std::make_unique<LiveThresholds>(plan_, options_.interval);
  phase_ = "running";
  PublishMetrics();
  Print(absl::StrCat("run ", run_id_, ": plan ",
                     plan_.name().empty() ? "(unnamed)" : plan_.name(), ", ",
                     agents_.size(), " agents, starting in ",
                     absl::FormatDuration(kStartLead), "\n"));
  Drive();
  if (Killed()) {
    std::fprintf(stderr, "second signal: exiting at once, without a report\n");
    return kExitAborted;
  }
  return Finish();
}

}  // namespace

int Run(const RunOptions& options) {
  std::vector<common::PlanIssue> issues;
  absl::StatusOr<common::LoadedPlan> loaded =
      common::LoadAndValidatePlan(options.plan_file, &issues);
  if (!loaded.ok()) {
    for (const common::PlanIssue& issue : issues) {
      std::fprintf(stderr, "%s\n", issue.ToString().c_str());
    }
    return kExitInvalid;
  }
  Controller controller(options, loaded->plan);
  return controller.Execute();
}

int Validate(const std::string& plan_file) {
  std::vector<common::PlanIssue> issues;
  absl::StatusOr<common::LoadedPlan> loaded =
      common::LoadAndValidatePlan(plan_file, &issues);
  if (!loaded.ok()) {
    for (const common::PlanIssue& issue : issues) {
      std::fprintf(stderr, "%s\n", issue.ToString().c_str());
    }
    std::fprintf(stderr, "%s: %zu problem%s\n", plan_file.c_str(),
                 issues.size(), issues.size() == 1 ? "" : "s");
    return kExitInvalid;
  }
  std::printf("%s: valid (%d scenario%s, %d threshold%s)\n", plan_file.c_str(),
              loaded->plan.scenarios_size(),
              loaded->plan.scenarios_size() == 1 ? "" : "s",
              loaded->plan.thresholds_size(),
              loaded->plan.thresholds_size() == 1 ? "" : "s");
  return kExitPassed;
}

}  // namespace stampede::controller
