#include "agent/load/worker.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "agent/curl/transport.h"
#include "agent/h2/transport.h"
#include "agent/http1/transport.h"
#include "agent/ws/transport.h"
#include "common/schedule.h"

namespace stampede::agent {
namespace {

using Model = ScenarioSpec::Model;

// Errors that mean the user never reached the target (or lost its
// connection): its VU backs off before the next try.
bool IsConnectFailure(common::ErrorId e) {
  using common::ErrorId;
  switch (e) {
    case ErrorId::kDnsFailure:
    case ErrorId::kTcpRefused:
    case ErrorId::kTcpReset:
    case ErrorId::kTcpTimeout:
    case ErrorId::kTlsError:
    case ErrorId::kTlsHandshake:
    case ErrorId::kTlsCertificate:
    case ErrorId::kBlockedTarget:
    case ErrorId::kLocalEmfile:
    case ErrorId::kLocalEaddrnotavail:
    case ErrorId::kLocalOther:
      return true;
    default:
      return false;
  }
}

// How often a closed scenario re-reads its VU level while nothing else wakes
// the loop.
constexpr int64_t kVuLevelPollNs = 10'000'000;

// A made transport given the scenario's source addresses, the agent's
// allow-list and (native engines) the worker's resolver.
template <typename T>
absl::StatusOr<std::unique_ptr<Transport>> Configured(
    absl::StatusOr<std::unique_ptr<T>> t, const ScenarioSpec& scenario,
    const common::AllowList* allow, net::Resolver* resolver) {
  if (!t.ok()) return t.status();
  if (absl::Status s = (*t)->SetLocalAddresses(scenario.local_addresses);
      !s.ok())
    return s;
  (*t)->SetAllowList(allow);
  if constexpr (!std::is_same_v<T, CurlTransport>) (*t)->SetResolver(resolver);
  return std::unique_ptr<Transport>(std::move(*t));
}

}  // namespace

Worker::Worker(const RunSpec& spec, int index, int workers, WindowSink* sink)
    : spec_(spec),
      index_(index),
      workers_(workers),
      sink_(sink),
      slice_(spec.ShareWeights(), spec.share_index,
             static_cast<uint32_t>(index), static_cast<uint32_t>(workers)),
      rng_(spec.seed ^ (uint64_t{spec.share_index} << 32) ^
           static_cast<uint64_t>(index)) {}

Worker::~Worker() {
  if (thread_.joinable()) {
    Stop(0);
    Join();
  }
}

absl::Status Worker::Init() {
  auto loop = EventLoop::Create();
  if (!loop.ok()) return loop.status();
  loop_ = std::move(*loop);
  auto resolver = net::Resolver::Create(loop_.get(), spec_.dns);
  if (!resolver.ok()) return resolver.status();
  resolver_ = std::move(*resolver);
  pacers_.resize(spec_.scenarios.size());
  pools_.resize(spec_.scenarios.size());
  flow_slots_.resize(spec_.scenarios.size());
  for (size_t s = 0; s < spec_.scenarios.size(); ++s) {
    const ScenarioSpec& scenario = spec_.scenarios[s];
    size_t cap;
    if (scenario.model == Model::kClosed) {
      // Each VU holds one connection, like one of wrk's.
      VuPool& pool = pools_[s];
      uint64_t vus = slice_.ActiveAt(scenario.max_vus);
      pool.vus.resize(vus);
      pool.thinking.reserve(vus);
      if (scenario.shared_iterations > 0) {
        // This slice's iterations are its j < shared_iterations.
        pool.quota = slice_.CountBelow(scenario.shared_iterations);
      }
      cap = std::max<size_t>(1, vus);
      if (scenario.flow != nullptr) {
        pool.flows.reserve(vus);
        for (uint64_t m = 0; m < vus; ++m)
          pool.flows.emplace_back(scenario.flow.get());
      }
    } else if (scenario.flow != nullptr) {
      // Each flow instance keeps its own connection: max_flows is the
      // agent's connection cap, split like max_connections.
      const size_t total = scenario.flow->max_flows;
      cap = std::max<size_t>(
          1, total / workers_ +
                 (static_cast<size_t>(index_) < total % workers_ ? 1 : 0));
      FlowSlots& slots = flow_slots_[s];
      slots.instances.reserve(cap);
      for (size_t i = 0; i < cap; ++i)
        slots.instances.emplace_back(scenario.flow.get());
      slots.intended_ns.assign(cap, 0);
      slots.free.reserve(cap);
      for (size_t i = cap; i > 0; --i)
        slots.free.push_back(static_cast<uint32_t>(i - 1));
      slots.thinking.reserve(cap);
    } else {
      // The agent's connection cap is split across its workers, at least one
      // each.
      const size_t total = scenario.max_connections;
      cap = std::max<size_t>(
          1, total / workers_ +
                 (static_cast<size_t>(index_) < total % workers_ ? 1 : 0));
    }
    auto transport = MakeTransport(scenario, cap);
    if (!transport.ok()) return transport.status();
    for (const PreparedRequest& request : scenario.requests)
      (*transport)->Prepare(request);
    transports_.push_back(std::move(*transport));
  }
  // Every name's first answer before the run, so the first sends find it; a
  // name still unanswered fails its connections with dns_failure until it is.
  resolver_->WaitForAnswers(kFirstLookupWaitNs);
  wait_line_.resize(kWaitLineCapacity);
  InitData();
  window_ = std::make_unique<Window>();
  window_->Shape(spec_.RequestsPerScenario());
  interval_ns_ = absl::ToInt64Nanoseconds(spec_.interval);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Transport>> Worker::MakeTransport(
    const ScenarioSpec& scenario, size_t max_connections) {
  switch (scenario.engine) {
    case ScenarioSpec::Engine::kWebSocket:
      return Configured(WsTransport::Create(loop_.get(), this, max_connections,
                                            scenario.ws, scenario.tls),
                        scenario, spec_.allow_list, resolver_.get());
    case ScenarioSpec::Engine::kH2: {
      // HTTP/2: max_connections is the number of streams in flight. A flow's
      // user has its own connection (see H2Transport): one stream on each.
      const size_t per_connection =
          scenario.flow != nullptr ? 1
          : scenario.max_streams_per_connection > 0
              ? scenario.max_streams_per_connection
              : H2Transport::kDefaultStreamsPerConnection;
      return Configured(H2Transport::Create(loop_.get(), this, max_connections,
                                            per_connection, scenario.tls),
                        scenario, spec_.allow_list, resolver_.get());
    }
    case ScenarioSpec::Engine::kHttp1:
      return Configured(Http1Transport::Create(loop_.get(), this,
                                               max_connections, scenario.tls),
                        scenario, spec_.allow_list, resolver_.get());
    case ScenarioSpec::Engine::kCurl:
      break;
  }
  return Configured(
      CurlTransport::Create(loop_.get(), this, max_connections, scenario.tls),
      scenario, spec_.allow_list, resolver_.get());
}

void Worker::Start(int64_t start_mono_ns) {
  start_ns_ = start_mono_ns;
  for (size_t s = 0; s < pacers_.size(); ++s) {
    if (spec_.scenarios[s].model == Model::kOpen) Advance(s);
  }
  thread_ = std::thread([this] { Run(); });
}

void Worker::Stop(int64_t drain_ns) {
  int64_t deadline = EventLoop::MonoNowNs() + std::max<int64_t>(drain_ns, 1);
  int64_t expected = 0;
  stop_deadline_ns_.compare_exchange_strong(expected, deadline);
  if (loop_) loop_->Wake();
}

void Worker::Join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::Advance(size_t s) {
  Pacer& pacer = pacers_[s];
  const ScenarioSpec& scenario = spec_.scenarios[s];
  std::optional<double> t;
  if (scenario.poisson) {
    // This slice runs its own Poisson process at its fraction of the plan's
    // rate: in the plan's cumulative count its gaps are exponential with mean
    // 1 / fraction. Independent Poisson processes add up to one at the plan's
    // full rate.
    // In a user mix the scenario's process runs at its share of the rate.
    const double share =
        scenario.mix ? scenario.mix->mix.Share(scenario.mix->member) : 1.0;
    pacer.position += std::exponential_distribution<double>(1.0)(rng_) /
                      (slice_.Fraction() * share);
    t = scenario.schedule->TimeAtCumulative(pacer.position);
  } else {
    // In a user mix the scenario's k-th arrival is the shared load's
    // ItemOf(k): its time is that item's.
    const uint64_t k = slice_.At(pacer.m);
    t = scenario.schedule->TimeOf(
        scenario.mix ? scenario.mix->mix.ItemOf(scenario.mix->member, k) : k);
  }
  pacer.next_ns = t ? start_ns_ + scenario.start_offset_ns +
                          static_cast<int64_t>(std::llround(*t * 1e9))
                    : INT64_MAX;
}

bool Worker::Finished() const {
  if (waiting_ > 0) return false;
  for (const Pacer& p : pacers_) {
    if (p.next_ns != INT64_MAX) return false;
  }
  for (const VuPool& pool : pools_) {
    if (!pool.ended) return false;
  }
  for (const FlowSlots& slots : flow_slots_) {
    if (slots.free.size() != slots.instances.size()) return false;
  }
  for (const auto& t : transports_) {
    if (t->InFlight() > 0) return false;
  }
  return true;
}

void Worker::Run() {
  int64_t next_boundary = start_ns_ + interval_ns_;
  {
    timespec cpu;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
    window_cpu_ns_ =
        static_cast<int64_t>(cpu.tv_sec) * 1'000'000'000 + cpu.tv_nsec;
    window_started_ns_ = std::max(start_ns_, EventLoop::MonoNowNs());
  }
  for (size_t s = 0; s < pools_.size(); ++s) {
    pools_[s].ended = spec_.scenarios[s].model != Model::kClosed;
  }
  loop_->StartStallWatch();  // waiting for the start is no stall
  while (true) {
    int64_t now = EventLoop::MonoNowNs();
    const int64_t stop_at = stop_deadline_ns_.load(std::memory_order_relaxed);
    if (stop_at != 0) {
      // Stopping: no new sends; what waits in line is skipped; in-flight may
      // finish.
      for (Pacer& p : pacers_) p.next_ns = INT64_MAX;
      for (VuPool& pool : pools_) {
        pool.active = 0;
        pool.thinking.clear();
        pool.ended = true;
      }
      for (size_t s = 0; s < flow_slots_.size(); ++s) {
        // Flows in a think time end here; those in flight end when answered.
        FlowSlots& slots = flow_slots_[s];
        for (const auto& [due, i] : slots.thinking) {
          slots.instances[i].Abort();  // cut by the run's end, not failed
          slots.free.push_back(i);
        }
        slots.thinking.clear();
      }
      if (!sessions_ended_) {
        // Long-lived sessions (WebSocket) close cleanly within the drain.
        sessions_ended_ = true;
        for (auto& t : transports_) t->EndAllSessions();
      }
      while (waiting_ > 0) {
        const Waiting& w = wait_line_[wait_head_];
        Skip(*w.request, w.intended_ns, now);
        wait_head_ = (wait_head_ + 1) % wait_line_.size();
        --waiting_;
      }
      if (now >= stop_at) break;
    }
    while (now >= next_boundary) {
      CloseWindow(false);
      next_boundary += interval_ns_;
    }
    int64_t deadline = next_boundary;
    for (size_t s = 0; s < pacers_.size(); ++s) {
      while (pacers_[s].next_ns <= now) {
        Arrive(s, now);
        ++pacers_[s].m;
        Advance(s);
      }
      deadline = std::min(deadline, pacers_[s].next_ns);
      if (!pools_[s].ended) deadline = std::min(deadline, TickVus(s, now));
      if (!flow_slots_[s].thinking.empty())
        deadline = std::min(deadline, TickOpenFlows(s, now));
    }
    if (int64_t due = resolver_->DeadlineNs(); due != 0) {
      if (due <= now) {
        resolver_->OnDeadline();
        due = resolver_->DeadlineNs();
      }
      if (due != 0) deadline = std::min(deadline, due);
    }
    // What arrived while this loop was late is read before anything overdue
    // is judged: a reply that came in time is no time-out, even when this
    // loop (stalled, throttled, stopped) looks at it late.
    if (std::any_of(transports_.begin(), transports_.end(), [&](auto& t) {
          const int64_t due = t->DeadlineNs();
          return due != 0 && due <= now;
        })) {
      loop_->RunOnce(/*wait=*/false);
    }
    for (auto& t : transports_) {
      int64_t due = t->DeadlineNs();
      if (due != 0 && due <= now) {
        t->OnDeadline();
        due = t->DeadlineNs();
      }
      if (due != 0) deadline = std::min(deadline, due);
    }
    if (Finished()) break;
    if (stop_at != 0) deadline = std::min(deadline, stop_at);
    loop_->SetDeadline(deadline);
    loop_->RunOnce();
  }
  CloseWindow(true);
}

void Worker::Arrive(size_t s, int64_t now_ns) {
  if (spec_.scenarios[s].flow != nullptr) {
    FlowSlots& slots = flow_slots_[s];
    if (slots.free.empty()) {
      ++window_->flows[s].dropped;
      return;
    }
    const uint32_t i = slots.free.back();
    if (!TakeRows(s, pacers_[s].m, &slots.instances[i])) return;
    slots.free.pop_back();
    // The arrival's number is unique in the whole run: it is its user.
    slots.instances[i].Begin(
        spec_.scenarios[s].first_user + slice_.At(pacers_[s].m) + 1, 0);
    ++window_->flows[s].started;
    ContinueOpenFlow(s, i, pacers_[s].next_ns, now_ns);
    return;
  }
  const PreparedRequest& request =
      spec_.scenarios[s].RequestFor(slice_.At(pacers_[s].m));
  // A worker that woke late (CPU-starved) still sends what it owes, late: its
  // lateness shows as schedule lag. max_lateness is for arrivals a busy
  // connection pool held up (OnDone's drain of the wait line).
  if (waiting_ == 0 && transports_[s]->HasCapacity()) {
    SendNow(request, pacers_[s].next_ns, now_ns, Sent::kNoVu);
    return;
  }
  if (waiting_ == wait_line_.size()) {
    ++window_->skipped_connection_cap;
    return;
  }
  wait_line_[(wait_head_ + waiting_) % wait_line_.size()] = {pacers_[s].next_ns,
                                                             &request};
  ++waiting_;
}

void Worker::Skip(const PreparedRequest& request, int64_t intended_ns,
                  int64_t now_ns) {
  ++window_->skipped_behind_schedule;
  // The arrival waited this long and was never served: a lower bound of its
  // latency, which the corrected latency must not leave out.
  window_->requests[request.scenario][request.request].latency.Record(
      (now_ns - intended_ns) / 1000);
}

void Worker::SendNow(const PreparedRequest& request, int64_t intended_ns,
                     int64_t now_ns, uint32_t vu) {
  if (first_send_late_ns_ < 0) first_send_late_ns_ = now_ns - intended_ns;
  window_->schedule_lag.Record((now_ns - intended_ns) / 1000);
  Sent sent{&request, intended_ns, now_ns, vu};
  // A closed-model VU is one user: its own connection, as in a browser.
  if (vu != Sent::kNoVu) sent.connection = vu;
  transports_[request.scenario]->Send(sent);
}

int64_t Worker::TickVus(size_t s, int64_t now_ns) {
  const ScenarioSpec& scenario = spec_.scenarios[s];
  VuPool& pool = pools_[s];
  const int64_t scenario_start = start_ns_ + scenario.start_offset_ns;
  if (now_ns < scenario_start) return scenario_start;
  const double t = static_cast<double>(now_ns - scenario_start) * 1e-9;
  const bool over = t >= absl::ToDoubleSeconds(scenario.schedule->Length());
  const uint64_t active =
      over ? 0
           : std::min<uint64_t>(
                 pool.vus.size(),
                 slice_.ActiveAt(common::ScenarioVuLevel(
                     scenario.mix, scenario.schedule->RateAt(t))));
  // VUs ramped up start at once; VUs ramped down finish what is in flight, then
  // stop (a WebSocket session is asked to close).
  for (uint64_t m = pool.active; m < active; ++m) {
    if (!pool.vus[m].busy) StartIteration(s, static_cast<uint32_t>(m), now_ns);
  }
  for (uint64_t m = active; m < pool.active; ++m) {
    if (pool.vus[m].busy) transports_[s]->EndSession(static_cast<uint32_t>(m));
  }
  pool.active = active;
  auto later = std::greater<std::pair<int64_t, uint32_t>>();
  while (!pool.thinking.empty() && pool.thinking.front().first <= now_ns) {
    std::pop_heap(pool.thinking.begin(), pool.thinking.end(), later);
    uint32_t m = pool.thinking.back().second;
    pool.thinking.pop_back();
    pool.vus[m].busy = false;
    if (pool.vus[m].in_flow) {
      if (m < pool.active) {
        pool.vus[m].busy = true;
        ContinueFlow(s, m, now_ns);
        continue;
      }
      // Ramped down in the middle of its flow: the user leaves (neither
      // completed nor failed).
      pool.vus[m].in_flow = false;
      pool.flows[m].Abort();
      continue;
    }
    if (m < pool.active) StartIteration(s, m, now_ns);
  }
  bool busy = transports_[s]->InFlight() > 0 || !pool.thinking.empty();
  bool exhausted = pool.quota == 0;
  if (scenario.iterations_per_vu > 0) {
    exhausted =
        std::all_of(pool.vus.begin(), pool.vus.end(), [&](const Vu& vu) {
          return vu.iterations >= scenario.iterations_per_vu;
        });
  }
  if ((over || exhausted) && !busy) {
    pool.ended = true;
    return INT64_MAX;
  }
  // On a fixed grid, so the loop's deadline (a timerfd) is not re-armed on
  // every wakeup.
  int64_t next = (now_ns / kVuLevelPollNs + 1) * kVuLevelPollNs;
  if (!pool.thinking.empty())
    next = std::min(next, pool.thinking.front().first);
  return next;
}

void Worker::StartIteration(size_t s, uint32_t m, int64_t now_ns) {
  const ScenarioSpec& scenario = spec_.scenarios[s];
  VuPool& pool = pools_[s];
  Vu& vu = pool.vus[m];
  if (pool.quota == 0) return;
  if (scenario.iterations_per_vu > 0 &&
      vu.iterations >= scenario.iterations_per_vu)
    return;
  if (!transports_[s]
           ->HasCapacity()) {  // cannot happen with a connection per VU
    ++window_->skipped_connection_cap;
    return;
  }
  if (scenario.flow != nullptr && !TakeRows(s, m, &pool.flows[m])) return;
  if (pool.quota != UINT64_MAX) --pool.quota;
  ++vu.iterations;
  vu.busy = true;
  if (scenario.flow != nullptr) {
    // The VU's number is unique in the whole run (ScenarioSpec::first_user).
    pool.flows[m].Begin(scenario.first_user + slice_.At(m) + 1,
                        vu.iterations - 1);
    vu.in_flow = true;
    ++window_->flows[s].started;
    ContinueFlow(s, m, now_ns);
    return;
  }
  // In the closed model a request is sent when its VU is ready: intended ==
  // sent.
  SendNow(scenario.RequestFor(pool.iterations++), now_ns, now_ns, m);
}

int64_t Worker::ThinkNs(const ScenarioSpec& spec) {
  switch (spec.think) {
    case ScenarioSpec::Think::kConstant:
      return spec.think_a_ns;
    case ScenarioSpec::Think::kUniform:
      return std::uniform_int_distribution<int64_t>(spec.think_a_ns,
                                                    spec.think_b_ns)(rng_);
    case ScenarioSpec::Think::kExponential:
      return static_cast<int64_t>(std::exponential_distribution<double>(
          1.0 / static_cast<double>(spec.think_a_ns))(rng_));
    case ScenarioSpec::Think::kNone:
      break;
  }
  return 0;
}

void Worker::AfterIteration(size_t s, uint32_t m, int64_t done_ns) {
  VuPool& pool = pools_[s];
  pool.vus[m].busy = false;
  if (m >= pool.active) return;  // ramped down while in flight
  int64_t think = ThinkNs(spec_.scenarios[s]);
  if (const uint32_t failures = pool.vus[m].connect_failures; failures > 0) {
    // A user that could not connect waits before it tries again, longer
    // each time (capped), with a little jitter so that VUs spread out: a
    // closed port is not hammered, nor are requests and rps inflated.
    int64_t backoff = kConnectBackoffFirstNs;
    for (uint32_t i = 1; i < failures && backoff < kConnectBackoffMaxNs; ++i)
      backoff *= 2;
    backoff = std::min(backoff, kConnectBackoffMaxNs);
    backoff += std::uniform_int_distribution<int64_t>(0, backoff / 5)(rng_);
    think = std::max(think, backoff);
  }
  if (think <= 0) {
    StartIteration(s, m, done_ns);
    return;
  }
  pool.vus[m].busy = true;
  pool.thinking.emplace_back(done_ns + think, m);
  std::push_heap(pool.thinking.begin(), pool.thinking.end(),
                 std::greater<std::pair<int64_t, uint32_t>>());
}

void Worker::OnDone(const Sent& sent, const Outcome& outcome, int64_t done_ns) {
  RequestMetrics& m =
      window_->requests[sent.request->scenario][sent.request->request];
  if (sent.vu != Sent::kNoVu && !outcome.session_open) {
    uint32_t& failures =
        pools_[sent.request->scenario].vus[sent.vu].connect_failures;
    failures = IsConnectFailure(outcome.error) ? failures + 1 : 0;
  }
  m.transport_errors[static_cast<size_t>(outcome.error)] += 1;
  if (!common::IsLocalError(outcome.error)) {
    // Local failures are the generator's, not the target's: counted above,
    // nowhere else.
    ++m.requests;
    m.latency.Record((done_ns - sent.intended_ns) / 1000);
    m.service_time.Record((done_ns - sent.sent_ns) / 1000);
    if (outcome.dns_ns >= 0) m.dns.Record(outcome.dns_ns / 1000);
    if (outcome.connect_ns >= 0) m.connect.Record(outcome.connect_ns / 1000);
    if (outcome.tls_ns >= 0) m.tls.Record(outcome.tls_ns / 1000);
    if (outcome.ttfb_ns >= 0) m.ttfb.Record(outcome.ttfb_ns / 1000);
    if (outcome.ttlb_ns >= 0) m.ttlb.Record(outcome.ttlb_ns / 1000);
    m.events += outcome.events;
    bool unexpected = false;
    if (outcome.status > 0 &&
        outcome.status < static_cast<int>(m.statuses.size())) {
      ++m.statuses[outcome.status];
      const ScenarioSpec& scenario = spec_.scenarios[sent.request->scenario];
      unexpected = !scenario.expected_statuses[outcome.status];
      if (unexpected) {
        ++m.unexpected_statuses[outcome.status];
        // A refused WebSocket handshake is named ws_upgrade_<code>.
        m.websocket = m.websocket || scenario.websocket;
      }
    }
    const bool failed = outcome.error != common::ErrorId::kNone || unexpected;
    if (failed) {
      ++m.errors;
      m.latency_failed.Record((done_ns - sent.intended_ns) / 1000);
    }
    m.bytes_in += outcome.bytes_in;
    m.bytes_out += outcome.bytes_out;
    if (sent.flow != nullptr) {
      if (!failed || (outcome.status >= 300 && outcome.status < 400)) {
        if (FollowRedirect(sent, outcome, done_ns)) return;
      }
      JudgeStep(sent, outcome, done_ns, failed, m);
    }
  } else if (sent.flow != nullptr) {
    // The generator's own failure: the user cannot go on either.
    FlowInstance& flow = FlowOf(sent);
    window_->flows[sent.request->scenario].skipped_steps += flow.Abort();
    ++window_->flows[sent.request->scenario].aborted;
  }
  // An open WebSocket keeps its VU (or connection slot) until it ends.
  if (!outcome.session_open) Freed(sent, done_ns);
}

void Worker::OnMessage(const PreparedRequest& request, bool outgoing,
                       int64_t rtt_ns) {
  RequestMetrics& m = window_->requests[request.scenario][request.request];
  ++(outgoing ? m.messages_out : m.messages_in);
  if (rtt_ns >= 0) m.ws_rtt.Record(rtt_ns / 1000);
}

void Worker::OnSessionEnd(const Sent& sent, const SessionEnd& end,
                          int64_t done_ns) {
  RequestMetrics& m =
      window_->requests[sent.request->scenario][sent.request->request];
  m.ws_session.Record(end.lifetime_ns / 1000);
  m.bytes_in += end.bytes_in;
  m.bytes_out += end.bytes_out;
  // A close the server began (or answered) with an error code is that
  // code's error; 1000 and "no code" are clean.
  bool failed = end.error != common::ErrorId::kNone;
  if (end.close_code != 0) {
    const bool close_error = end.close_code != 1000 && end.close_code != 1005;
    m.CountClose(end.close_code, 1, close_error && !failed ? 1 : 0);
    failed = failed || close_error;
  }
  if (end.error != common::ErrorId::kNone)
    m.transport_errors[static_cast<size_t>(end.error)] += 1;
  if (failed) ++m.errors;
  Freed(sent, done_ns);
}

void Worker::Freed(const Sent& sent, int64_t done_ns) {
  const bool stopping = stop_deadline_ns_.load(std::memory_order_relaxed) != 0;
  const size_t s = sent.request->scenario;
  if (sent.flow != nullptr) {
    if (sent.vu != Sent::kNoVu) {
      if (stopping) {
        pools_[s].vus[sent.vu].busy = false;
        return;
      }
      ContinueFlow(s, sent.vu, done_ns);
    } else if (stopping) {
      flow_slots_[s].instances[sent.instance].Abort();  // cut by the end
      flow_slots_[s].free.push_back(sent.instance);
    } else {
      ContinueOpenFlow(s, sent.instance, done_ns, done_ns);
    }
    return;
  }
  if (sent.vu != Sent::kNoVu) {
    if (!stopping) AfterIteration(s, sent.vu, done_ns);
    return;
  }
  // A connection came free: the head of the line goes first (its wait counts).
  // The line holds all open scenarios; only a head whose scenario has room can
  // go. Arrivals later than their scenario's max_lateness are skipped, not
  // sent: after a stall the target gets no burst of catch-up sends.
  while (waiting_ > 0) {
    Waiting& head = wait_line_[wait_head_];
    const size_t s = head.request->scenario;
    const bool late =
        done_ns - head.intended_ns > spec_.scenarios[s].max_lateness_ns;
    if (!late && !transports_[s]->HasCapacity()) break;
    Waiting w = head;
    wait_head_ = (wait_head_ + 1) % wait_line_.size();
    --waiting_;
    if (late) {
      Skip(*w.request, w.intended_ns, done_ns);
    } else {
      SendNow(*w.request, w.intended_ns, done_ns, Sent::kNoVu);
    }
  }
}

void Worker::CloseWindow(bool last) {
  // This thread's CPU (user + system) over the window: near 1 means the worker,
  // not the target, set the pace.
  timespec cpu;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
  const int64_t cpu_ns =
      static_cast<int64_t>(cpu.tv_sec) * 1'000'000'000 + cpu.tv_nsec;
  const int64_t now_ns = EventLoop::MonoNowNs();
  // A sliver of a window (the last one, closed when the run ends) is too
  // short to judge: a millisecond of CPU in a millisecond is not saturation.
  if (window_started_ns_ > 0 &&
      now_ns - window_started_ns_ >= interval_ns_ / 10) {
    window_->worker_busy = static_cast<double>(cpu_ns - window_cpu_ns_) /
                           static_cast<double>(now_ns - window_started_ns_);
  }
  window_cpu_ns_ = cpu_ns;
  window_started_ns_ = now_ns;
  window_->index = window_index_++;
  window_->loop_stall_max_ns = loop_->TakeMaxStallNs();
  window_->queued = static_cast<int64_t>(waiting_);
  for (const auto& t : transports_) {
    window_->in_flight += static_cast<int64_t>(t->InFlight());
  }
  for (const VuPool& pool : pools_)
    window_->vus += static_cast<int64_t>(pool.active);
  sink_->Deliver(index_, std::move(window_), last);
  if (last) return;
  window_ = std::make_unique<Window>();
  window_->Shape(spec_.RequestsPerScenario());
}

}  // namespace stampede::agent
