#include "controller/run.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <set>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/cpus.h"
#include "common/histogram.h"
#include "common/plan_loader.h"
#include "common/schedule.h"
#include "controller/aggregator.h"
#include "controller/data_share.h"
#include "controller/hub.h"
#include "controller/live_thresholds.h"
#include "controller/liveness.h"
#include "controller/local_agents.h"
#include "controller/report/format.h"
#include "controller/report/report.h"
#include "controller/result.h"
#include "controller/run_internal.h"
#include "controller/thresholds.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/grpcpp.h"
#include "spdlog/spdlog.h"
#include "stampede/v1/agent.pb.h"

namespace stampede::controller {
namespace run_internal {

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
  if (path == "-") {  // standard output, after the console summary
    const bool ok = std::fwrite(content.data(), 1, content.size(), stdout) ==
                        content.size() &&
                    std::fflush(stdout) == 0;
    return ok;
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  out.close();
  return out.good();
}

// The run's state machine, on the caller's thread. Members are what phases
// share.

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
    Agent agent;
    agent.session = event->session;
    agent.id = hello.agent_id();
    agent.host = hello.host();
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
  std::vector<uint32_t> weights;
  for (const Agent& a : agents_) weights.push_back(weighted ? a.weight : 1);
  for (size_t i = 0; i < agents_.size(); ++i) {
    v1::ControllerMessage msg;
    v1::Prepare* prepare = msg.mutable_prepare();
    if (plan_.data_size() > 0) SendData(weights, i, prepare);
    if (weighted) {
      for (const Agent& a : agents_)
        prepare->mutable_share()->add_weights(a.weight);
    }
    prepare->set_run_id(run_id_);
    prepare->set_more_runs(steps_);
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
      ready_error_ = event->message->ready().error();
      // A capacity step an agent refused is judged by the search.
      if (!steps_) {
        std::fprintf(stderr, "agent %s cannot run its share: %s\n",
                     agent->id.c_str(), ready_error_.c_str());
      }
      return kExitInternal;
    }
    if (agent->state == AgentState::kRegistered) {
      agent->state = AgentState::kReady;
      agent->clock_offset_us = event->message->ready().clock_offset_us();
      agent->clock_rtt_us = event->message->ready().clock_rtt_us();
      agent->engines.assign(event->message->ready().engines().begin(),
                            event->message->ready().engines().end());
      ++ready;
      PublishMetrics();
    }
  }
  return CheckClocks();
}

void Controller::SendData(const std::vector<uint32_t>& weights, size_t agent,
                          v1::Prepare* prepare) {
  static const std::map<std::string, common::DataTable> kNone;
  ShareData(plan_, data_ != nullptr ? *data_ : kNone, run_id_, weights,
            static_cast<uint32_t>(agent), prepare,
            [&](v1::ControllerMessage chunk) {
              hub_.Send(agents_[agent].session, std::move(chunk));
            });
}

void Controller::SettleEngines() {
  engines_.assign(plan_.scenarios_size(), EngineFacts{});
  for (int s = 0; s < plan_.scenarios_size(); ++s) {
    EngineFacts& out = engines_[s];
    for (const Agent& a : agents_) {
      if (static_cast<size_t>(s) >= a.engines.size()) continue;
      const v1::ScenarioEngine& e = a.engines[s];
      if (out.engine.empty()) {
        out = {e.engine(), e.why()};
      } else if (e.engine() != out.engine) {
        absl::StrAppend(&out.why, "; agent ", a.id, ": ",
                        EngineTitle(e.engine()), " (", e.why(), ")");
      }
    }
    if (out.engine.empty() || engines_shown_) continue;
    Print(absl::StrCat("  scenario ", plan_.scenarios(s).name(), ": ",
                       EngineTitle(out.engine), " (", out.why, ")\n"));
  }
  engines_shown_ = steps_;  // a capacity search shows them once
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

uint64_t Controller::LastPlanInterval() const {
  const double intervals =
      absl::FDivDuration(common::PlanLength(plan_), options_.interval);
  return intervals <= 1 ? 0 : static_cast<uint64_t>(std::ceil(intervals)) - 1;
}

void Controller::EmitIntervals(bool force_all) {
  // Called after every agent message: the set of expected agents is built
  // only once the next interval may be complete.
  size_t running = 0;
  for (const Agent& a : agents_) running += a.state == AgentState::kRunning;
  std::optional<std::set<size_t>> expected;
  const size_t shown = intervals_.size();
  // The plan's last interval (the one its end falls in) waits for the run to
  // end: what completes after the end (requests in flight at it, drained) is
  // folded into it, so no interval after the run's end reaches a window, the
  // console or an output. A run stopped early keeps its intervals as they
  // came.
  const uint64_t last_index = LastPlanInterval();
  const bool ended = force_all || running == 0;
  while (aggregator_->HasPending()) {
    if (!aborted_ && aggregator_->PendingIndex() >= last_index && !ended) break;
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
    if (!aborted_ && view->index >= last_index) {
      view->index = last_index;
      while (aggregator_->HasPending())
        MergeInto(&*view, *aggregator_->TakeNext(*expected, /*force=*/true));
    }
    v1::IntervalResult r = IntervalResultOf(plan_, *view, options_.interval);
    JudgeGenerator(&r);
    if (interval_hook_) interval_hook_(*view, r);
    if (!steps_) {
      Print(FormatLiveLine(
          r, static_cast<double>(view->latency.ValueAtPercentile(95)) / 1000.0,
          agents_.size()));
    }
    if (dashboard_ != nullptr) dashboard_->PublishInterval(r);
    intervals_.push_back(std::move(r));
    for (const LiveThresholds::Change& c :
         live_->OnInterval(*view, aggregator_->cells())) {
      if (steps_) continue;  // the search judges steps its own way
      Print(absl::StrCat(
          "  threshold ",
          !c.failing                      ? "passing again"
          : c.result.severity() == "warn" ? "WARNING (warn: the run goes on)"
                                          : "FAILING",
          " at ", absl::StrFormat("%g", c.t_s), "s: ", c.result.expression(),
          " (actual ", c.result.actual_text(), ")\n"));
    }
    if (live_->aborted_by() && !aborted_ && !force_all && !steps_) {
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
    if (dashboard_ != nullptr && dashboard_->stop_requested() && !aborted_) {
      aborted_ = true;
      abort_reason_ = "stopped from the dashboard";
      Print("\nstopped from the dashboard: stopping agents and draining\n");
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

int Controller::Gather() {
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
  if (!options_.dashboard_listen.empty()) {
    auto server = DashboardServer::Start(
        options_.dashboard_listen, options_.dashboard_token,
        plan_.name().empty() ? "run" : plan_.name());
    if (!server.ok()) {
      std::fprintf(stderr, "%s\n",
                   std::string(server.status().message()).c_str());
      return absl::IsInvalidArgument(server.status()) ? kExitInvalid
                                                      : kExitInternal;
    }
    dashboard_ = *std::move(server);
    Print(absl::StrCat("dashboard: http://", dashboard_->address(), "/",
                       options_.dashboard_token.empty() ? " (read-only)" : "",
                       "\n"));
  }
  const bool local = options_.expect_agents <= 0;
  // Usable CPUs, not the machine's: under taskset or a container's quota more
  // agents than that would share the same CPUs.
  const int cores = common::UsableCpus();
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
  return Register(expected, local);
}

int Controller::Launch() {
  if (int code = Prepare(); code != kExitPassed) return code;
  if (int code = RunSetup(); code != kExitPassed) return code;

  start_at_ = absl::Now() + kStartLead;
  for (Agent& a : agents_) {
    v1::ControllerMessage msg;
    msg.mutable_start()->set_run_id(run_id_);
    for (const auto& [name, value] : setup_values_)
      (*msg.mutable_start()->mutable_setup())[name] = value;
    *msg.mutable_start()->mutable_start_at() =
        TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(start_at_));
    hub_.Send(a.session, std::move(msg));
    a.state = AgentState::kRunning;
  }
  aggregator_ = std::make_unique<Aggregator>(
      plan_, agents_.size(), steps_ || NeedsIntervalStats(plan_));
  live_ = std::make_unique<LiveThresholds>(plan_, options_.interval);
  phase_ = "running";
  PublishMetrics();
  if (!steps_) {
    Print(absl::StrCat("run ", run_id_, ": plan ",
                       plan_.name().empty() ? "(unnamed)" : plan_.name(), ", ",
                       agents_.size(), " agents, starting in ",
                       absl::FormatDuration(kStartLead), "\n"));
  }
  SettleEngines();
  return kExitPassed;
}

int Controller::Execute() {
  if (int code = Gather(); code != kExitPassed) return code;
  if (int code = Launch(); code != kExitPassed) return code;
  Drive();
  if (Killed()) {
    std::fprintf(stderr, "second signal: exiting at once, without a report\n");
    return kExitAborted;
  }
  return Finish();
}

bool Controller::AllAgentsUsable() const {
  for (const Agent& a : agents_) {
    if (a.state == AgentState::kLost || a.state == AgentState::kStopped)
      return false;
  }
  return true;
}

int Controller::RunStep(const v1::TestPlan& plan) {
  if (!AllAgentsUsable()) return kExitAgentsLost;
  steps_ = true;
  plan_ = plan;
  run_id_ = NewRunId();
  for (Agent& a : agents_) a.state = AgentState::kRegistered;
  intervals_.clear();
  aborted_ = aborted_for_loss_ = stopping_ = false;
  abort_reason_.clear();
  ready_error_.clear();
  setup_result_.Clear();
  setup_values_.clear();
  if (int code = Launch(); code != kExitPassed) return code;
  Drive();
  if (Killed()) return kExitAborted;
  return kExitPassed;
}

}  // namespace run_internal

int Run(const RunOptions& options) {
  std::vector<common::PlanIssue> issues;
  absl::StatusOr<common::LoadedPlan> loaded = common::LoadAndValidatePlan(
      options.plan_file, &issues, options.overrides);
  if (!loaded.ok()) {
    for (const common::PlanIssue& issue : issues) {
      std::fprintf(stderr, "%s\n", issue.ToString().c_str());
    }
    return kExitInvalid;
  }
  v1::TestPlan as_run = loaded->plan;
  common::RedactPlan(loaded->env_values, &as_run);
  run_internal::Controller controller(options, loaded->plan, &loaded->data);
  controller.SetPlanAsRun(&as_run);
  return controller.Execute();
}

int Validate(const std::string& plan_file,
             const common::LoadOverrides& overrides) {
  std::vector<common::PlanIssue> issues;
  absl::StatusOr<common::LoadedPlan> loaded =
      common::LoadAndValidatePlan(plan_file, &issues, overrides);
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
