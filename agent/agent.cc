#include "agent/agent.h"

#include <unistd.h>

#include <deque>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "agent/guard.h"
#include "agent/load/engine.h"
#include "agent/load/run_spec.h"
#include "agent/load/setup.h"
#include "agent/load/worker.h"
#include "agent/net/event_loop.h"
#include "agent/reporter.h"
#include "agent/session.h"
#include "common/control_tls.h"
#include "common/cpus.h"
#include "common/histogram.h"
#include "common/version.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/grpcpp.h"
#include "spdlog/spdlog.h"

namespace stampede::agent {
namespace {

using google::protobuf::util::TimeUtil;

constexpr absl::Duration kStopDrain = absl::Seconds(2);
// The whole of the plan's setup steps, on the agent that runs them.
constexpr absl::Duration kSetupLimit = absl::Seconds(60);
// During a run the agent says it is alive every second; each reply renews
// its lease.
constexpr absl::Duration kHeartbeatEvery = absl::Seconds(1);
constexpr absl::Duration kDefaultLease = absl::Seconds(10);

std::string HostName() {
  char buf[256] = {};
  gethostname(buf, sizeof(buf) - 1);
  return buf;
}

v1::AgentMessage MakeHello(const AgentOptions& options, int cores,
                           int workers) {
  v1::AgentMessage msg;
  v1::Hello* hello = msg.mutable_hello();
  hello->set_agent_id(options.agent_id.empty()
                          ? absl::StrCat(HostName(), "-", getpid())
                          : options.agent_id);
  hello->set_host(HostName());
  hello->set_cores(cores);
  hello->set_workers(workers);
  hello->set_build(std::string(common::kVersion));
  hello->set_protocol_version(v1::PROTOCOL_VERSION_CURRENT);
  v1::HistogramConfig* h = hello->mutable_histogram();
  h->set_lowest_us(common::Histogram::kLowestUs);
  h->set_highest_us(common::Histogram::kHighestUs);
  h->set_significant_digits(common::Histogram::kSignificantDigits);
  return msg;
}

// One run's workers and reporter, alive from Prepare to the end of the session.
class Run {
 public:
  Run(Session* session, std::unique_ptr<RunSpec> spec, int workers)
      : session_(session), spec_(std::move(spec)) {
    reporter_ = std::make_unique<Reporter>(
        workers, spec_->RequestsPerScenario(),
        [this](v1::Interval interval, const Window& merged) {
          Emit(std::move(interval));
        },
        [this] { Finish(); });
    for (int w = 0; w < workers; ++w) {
      workers_.push_back(
          std::make_unique<Worker>(*spec_, w, workers, reporter_.get()));
    }
  }

  ~Run() {
    if (setup_thread_.joinable()) setup_thread_.join();
    for (auto& w : workers_) w->Stop(0);
    for (auto& w : workers_) w->Join();
    workers_.clear();
    reporter_.reset();
  }

  absl::Status Init() {
    if (absl::Status s = ChooseEngines(spec_.get()); !s.ok()) return s;
    // Side by side: each waits up to 5 s for its names' first answers, and
    // one after another that could outlast the controller's readiness wait.
    std::vector<absl::Status> results(workers_.size());
    std::vector<std::thread> threads;
    for (size_t i = 0; i < workers_.size(); ++i)
      threads.emplace_back(
          [this, i, &results] { results[i] = workers_[i]->Init(); });
    for (std::thread& t : threads) t.join();
    for (const absl::Status& s : results) {
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }

  // Which engine serves each scenario, and why (chosen by Init).
  void ReportEngines(v1::Ready* ready) const {
    for (const ScenarioSpec& scenario : spec_->scenarios) {
      v1::ScenarioEngine* e = ready->add_engines();
      e->set_scenario(scenario.name);
      e->set_engine(std::string(EngineName(scenario.engine)));
      e->set_why(scenario.engine_why);
      spdlog::info("scenario {}: engine {} ({})", scenario.name,
                   EngineName(scenario.engine), scenario.engine_why);
    }
  }

  // Runs the plan's setup steps on a thread of its own (the session's loop
  // goes on: heartbeats, Stop) and says SetupDone when they end.
  void RunSetup() {
    if (setup_thread_.joinable()) return;
    setup_thread_ = std::thread([this] {
      spdlog::info("running the plan's setup steps");
      SetupOutcome out = RunSetupSteps(*spec_, kSetupLimit);
      v1::AgentMessage msg;
      v1::SetupDone* done = msg.mutable_setup_done();
      done->set_run_id(spec_->run_id);
      done->set_ok(out.ok);
      for (auto& [name, value] : out.values)
        (*done->mutable_values())[name] = value;
      done->set_failed_step(out.failed_step);
      done->set_error(out.error);
      if (!out.ok) {
        spdlog::error("setup step {} failed: {}", out.failed_step, out.error);
      }
      session_->Send(std::move(msg));
    });
  }

  void Start(int64_t start_mono_ns,
             const google::protobuf::Map<std::string, std::string>& setup) {
    if (setup_thread_.joinable()) setup_thread_.join();
    // {{setup.NAME}}: written before any worker runs, read-only after.
    for (size_t i = 0; i < spec_->setup_names.size(); ++i) {
      auto it = setup.find(spec_->setup_names[i]);
      if (it != setup.end()) spec_->setup_values[i] = it->second;
    }
    for (auto& w : workers_) w->Start(start_mono_ns);
    started_ = true;
  }

  void Stop(absl::Duration drain, std::string reason) {
    stop_reason_ = std::move(reason);
    if (!started_) {
      // Never started: the workers' windows will not come, so say Final now.
      Finish();
      return;
    }
    for (auto& w : workers_) w->Stop(absl::ToInt64Nanoseconds(drain));
  }

  bool finished() const { return finished_.load(); }
  bool started() const { return started_; }

 private:
  void Emit(v1::Interval interval) {
    interval.set_run_id(spec_->run_id);
    interval.set_seq(++seq_);
    for (const v1::RequestStats& s : interval.stats()) {
      requests_ += s.requests();
      errors_ += s.errors();
    }
    v1::AgentMessage msg;
    *msg.mutable_interval() = std::move(interval);
    session_->Send(std::move(msg));
  }

  void Finish() {
    if (finished_.exchange(true)) return;
    v1::AgentMessage msg;
    v1::Final* final = msg.mutable_final();
    final->set_run_id(spec_->run_id);
    final->set_intervals(seq_);
    final->set_requests(requests_);
    final->set_errors(errors_);
    final->set_stop_reason(stop_reason_);
    int64_t late_ns = -1;
    for (const auto& w : workers_) {
      const int64_t l = w->first_send_late_ns();
      if (l >= 0 && (late_ns < 0 || l < late_ns)) late_ns = l;
    }
    final->set_first_send_late_us(late_ns < 0 ? -1 : late_ns / 1000);
    session_->Send(std::move(msg));
  }

  Session* session_;
  std::unique_ptr<RunSpec> spec_;
  std::thread setup_thread_;  // the plan's setup steps, when asked
  std::unique_ptr<Reporter> reporter_;
  std::vector<std::unique_ptr<Worker>> workers_;
  bool started_ = false;
  std::string stop_reason_;
  // Written on the reporter's thread only (Emit, then Finish).
  uint64_t seq_ = 0;
  int64_t requests_ = 0;
  int64_t errors_ = 0;
  std::atomic<bool> finished_{false};
};

// Estimates controller clock - agent clock from a few heartbeat round trips,
// keeping the one with the lowest RTT (the least queueing either way). Other
// messages that arrive meanwhile are kept in `held`, in order.
struct ClockEstimate {
  int64_t offset_ns = 0;
  int64_t rtt_ns = -1;  // -1: no reply came
};

ClockEstimate ProbeClock(Session* session, absl::Duration skew,
                         std::deque<Session::Event>* held) {
  constexpr int kSamples = 8;
  ClockEstimate best;
  for (int i = 0; i < kSamples; ++i) {
    v1::AgentMessage msg;
    const int64_t sent = absl::ToUnixNanos(absl::Now() + skew);
    *msg.mutable_heartbeat()->mutable_sent_at() =
        TimeUtil::NanosecondsToTimestamp(sent);
    session->Send(std::move(msg));
    const absl::Time give_up = absl::Now() + absl::Seconds(1);
    while (absl::Now() < give_up) {
      std::optional<Session::Event> event =
          session->NextEvent(give_up - absl::Now());
      if (!event) break;
      if (!event->message || !event->message->has_heartbeat_reply()) {
        held->push_back(std::move(*event));
        if (!held->back().message) return best;  // the session ended
        continue;
      }
      const v1::HeartbeatReply& reply = event->message->heartbeat_reply();
      if (TimeUtil::TimestampToNanoseconds(reply.echoed_sent_at()) != sent)
        continue;  // a late reply to an earlier probe
      const int64_t received = absl::ToUnixNanos(absl::Now() + skew);
      const int64_t rtt = received - sent;
      if (best.rtt_ns < 0 || rtt < best.rtt_ns) {
        best.rtt_ns = rtt;
        best.offset_ns =
            TimeUtil::TimestampToNanoseconds(reply.controller_time()) -
            (sent + rtt / 2);
      }
      break;
    }
  }
  return best;
}

}  // namespace

int RunAgent(const AgentOptions& options) {
  // The CPUs this process may use, not the machine's: in a pod limited to 2
  // CPUs on a 64-core node, 64 workers would only be throttled by the quota.
  const common::CpuCount cpus = common::CountUsableCpus();
  spdlog::info("usable CPUs: {}", cpus.source);
  const int workers = options.workers > 0 ? options.workers : cpus.cpus;
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10'000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5'000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetMaxReceiveMessageSize(64 << 20);
  std::shared_ptr<grpc::ChannelCredentials> credentials =
      grpc::InsecureChannelCredentials();
  if (options.tls.enabled()) {
    auto mtls = common::ChannelCredentialsFor(options.tls);
    if (!mtls.ok()) {
      spdlog::error("control-plane TLS: {}",
                    std::string(mtls.status().message()));
      return 1;
    }
    credentials = *std::move(mtls);
    common::ApplyChannelArgs(options.tls, &args);
  }
  auto channel =
      grpc::CreateCustomChannel(options.controller, credentials, args);
  if (!channel->WaitForConnected(
          absl::ToChronoTime(absl::Now() + options.connect_timeout))) {
    spdlog::error("cannot reach the controller at {} within {}",
                  options.controller,
                  absl::FormatDuration(options.connect_timeout));
    return 1;
  }
  auto stub = v1::Controller::NewStub(channel);
  auto session = std::make_unique<Session>(stub.get());
  session->Begin(MakeHello(options, cpus.cpus, workers));
  spdlog::info("connected to controller {} with {} workers", options.controller,
               workers);

  std::unique_ptr<Run> run;
  int exit_code = 0;
  bool stopping = false;
  std::deque<Session::Event> held;  // arrived while probing the clock
  DataInbox data_inbox;             // data rows, until their Prepare
  ClockEstimate clock;
  // Lease: from Prepare on, the controller's heartbeat replies keep it
  // running; an agent that hears nothing for a lease stops its load by itself
  // (a partition, a hung or dead controller), so no other agent's takeover
  // can ever double the load.
  absl::Duration lease = kDefaultLease;
  absl::Time lease_until = absl::InfiniteFuture();
  absl::Time next_heartbeat = absl::InfinitePast();
  bool fenced = false;
  // A capacity search's steps are runs of one session: after Final the agent
  // waits for the next Prepare, or for the controller to end the stream.
  bool more_runs = false;
  while (true) {
    if (run != nullptr && run->finished() && (!more_runs || stopping || fenced))
      break;
    const absl::Time now = absl::Now();
    if (run != nullptr && now >= next_heartbeat) {
      v1::AgentMessage beat;
      *beat.mutable_heartbeat()->mutable_sent_at() =
          TimeUtil::NanosecondsToTimestamp(
              absl::ToUnixNanos(now + options.simulate_clock_skew));
      session->Send(std::move(beat));
      next_heartbeat = now + kHeartbeatEvery;
    }
    if (run != nullptr && !fenced && now > lease_until) {
      fenced = true;
      exit_code = 1;
      spdlog::error(
          "no word from the controller for {} (the lease ran out): stopping "
          "all load now",
          absl::FormatDuration(lease));
      run->Stop(absl::ZeroDuration(), "lease expired");
    }
    if (!stopping && options.stop_requested != nullptr &&
        options.stop_requested->load()) {
      stopping = true;
      spdlog::info("signal received: stopping load and draining");
      if (run != nullptr) {
        run->Stop(kStopDrain, "agent signalled");
      } else {
        break;
      }
    }
    std::optional<Session::Event> event;
    if (!held.empty()) {
      event = std::move(held.front());
      held.pop_front();
    } else {
      event = session->NextEvent(absl::Milliseconds(100));
    }
    if (!event) continue;
    if (!event->message) {
      if (run != nullptr && run->finished())
        break;  // after our Final: the normal end
      spdlog::error("the controller ended the session: {}",
                    event->status.error_message());
      exit_code = 1;
      break;
    }
    const v1::ControllerMessage& msg = *event->message;
    switch (msg.msg_case()) {
      case v1::ControllerMessage::kPrepare: {
        more_runs = msg.prepare().more_runs();
        if (run != nullptr && run->started() && !run->finished()) {
          spdlog::warn("a Prepare came while a run still ran: ignored");
          break;
        }
        // The previous step's: finished, or prepared but never started (an
        // agent refused that step).
        run.reset();
        v1::AgentMessage reply;
        reply.mutable_ready()->set_run_id(msg.prepare().run_id());
        auto spec = RunSpec::FromPrepare(msg.prepare());
        // The data sets' rows came before Prepare, in chunks.
        if (spec.ok()) {
          if (absl::Status s =
                  data_inbox.Deliver(msg.prepare().run_id(), &(*spec)->data);
              !s.ok())
            spec = std::move(s);
        }
        // Guard rails (agent/guard.h): the owner's allow-list and caps refuse
        // a plan before anything is built, and go with the run to every
        // transport.
        if (spec.ok()) {
          const AgentGuard& guard =
              options.guard != nullptr ? *options.guard : AgentGuard::Default();
          if (absl::Status s = guard.CheckPlan(
                  **spec, options.agent_id.empty()
                              ? absl::StrCat(HostName(), "-", getpid())
                              : options.agent_id);
              !s.ok()) {
            spec = std::move(s);
          } else {
            (*spec)->allow_list = &guard.allow_list();
          }
        }
        // End of guard rails.
        if (msg.prepare().has_lease()) {
          const int64_t ns =
              TimeUtil::DurationToNanoseconds(msg.prepare().lease());
          if (ns > 0) lease = absl::Nanoseconds(ns);
        }
        lease_until = absl::Now() + lease;
        if (spec.ok()) {
          run = std::make_unique<Run>(session.get(), std::move(*spec), workers);
          if (absl::Status s = run->Init(); !s.ok()) {
            reply.mutable_ready()->set_error(std::string(s.message()));
            run.reset();
          } else {
            run->ReportEngines(reply.mutable_ready());
          }
        } else {
          reply.mutable_ready()->set_error(
              std::string(spec.status().message()));
        }
        if (run != nullptr) {
          clock = ProbeClock(session.get(), options.simulate_clock_skew, &held);
          reply.mutable_ready()->set_clock_offset_us(clock.offset_ns / 1000);
          reply.mutable_ready()->set_clock_rtt_us(
              clock.rtt_ns < 0 ? -1 : clock.rtt_ns / 1000);
        }
        session->Send(std::move(reply));
        break;
      }
      case v1::ControllerMessage::kDataChunk:
        // An error is kept and reported in Ready, at Prepare.
        data_inbox.Add(event->message->mutable_data_chunk()).IgnoreError();
        break;
      case v1::ControllerMessage::kStart: {
        if (run == nullptr) break;
        // The start time is on the controller's clock: on ours it is earlier
        // by the offset.
        absl::Time start_at = absl::FromUnixNanos(
            TimeUtil::TimestampToNanoseconds(msg.start().start_at()) -
            clock.offset_ns);
        int64_t start_mono =
            EventLoop::MonoNowNs() +
            absl::ToInt64Nanoseconds(
                start_at - (absl::Now() + options.simulate_clock_skew));
        run->Start(start_mono, msg.start().setup());
        spdlog::info("run {} starts at {}", msg.start().run_id(),
                     absl::FormatTime(start_at));
        break;
      }
      case v1::ControllerMessage::kRunSetup:
        if (run != nullptr) run->RunSetup();
        break;
      case v1::ControllerMessage::kStop:
        spdlog::info("controller says stop: {}", msg.stop().reason());
        if (run != nullptr) {
          run->Stop(kStopDrain, msg.stop().reason());
        } else {
          stopping = true;
        }
        break;
      case v1::ControllerMessage::kHeartbeatReply:
        lease_until = absl::Now() + lease;
        break;
      case v1::ControllerMessage::kRefuse:
        spdlog::error("the controller refused this agent: {}",
                      msg.refuse().reason());
        exit_code = 1;
        break;
      default:
        break;
    }
    if (exit_code != 0 || (stopping && run == nullptr)) break;
  }
  run.reset();  // stops and joins whatever still runs
  session->Close();
  std::optional<grpc::Status> done = session->AwaitDone(absl::Seconds(10));
  if (!done) {
    spdlog::warn("the controller did not close the session in time");
    return exit_code != 0 ? exit_code : 1;
  }
  // E.g. UNAUTHENTICATED from the controller's certificate or token check:
  // the stream's end above only said that it ended.
  if (!done->ok()) {
    spdlog::error("the session ended {}: {}",
                  absl::StatusCodeToString(
                      static_cast<absl::StatusCode>(done->error_code())),
                  done->error_message());
  }
  return exit_code;
}

}  // namespace stampede::agent
