#include "agent/worker.h"

#include <algorithm>
#include <cmath>

#include "absl/time/time.h"
#include "agent/curl_transport.h"

namespace stampede::agent {

Worker::Worker(const RunSpec& spec, int index, int workers, WindowSink* sink)
    : spec_(spec), index_(index), workers_(workers), sink_(sink) {}

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
  for (const ScenarioSpec& scenario : spec_.scenarios) {
    // The agent's connection cap is split across its workers, at least one
    // each.
    size_t cap = std::max<size_t>(
        1,
        scenario.max_connections / workers_ +
            (static_cast<size_t>(index_) < scenario.max_connections % workers_
                 ? 1
                 : 0));
    auto transport = CurlTransport::Create(loop_.get(), this, cap);
    if (!transport.ok()) return transport.status();
    for (const PreparedRequest& request : scenario.requests)
      (*transport)->Prepare(request);
    transports_.push_back(std::move(*transport));
  }
  pacers_.resize(spec_.scenarios.size());
  wait_line_.resize(kWaitLineCapacity);
  window_ = std::make_unique<Window>();
  window_->Shape(spec_.RequestsPerScenario());
  interval_ns_ = absl::ToInt64Nanoseconds(spec_.interval);
  return absl::OkStatus();
}

void Worker::Start(int64_t start_mono_ns) {
  start_ns_ = start_mono_ns;
  for (size_t s = 0; s < pacers_.size(); ++s) Advance(s);
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
  uint64_t j = common::SliceArrival(spec_.share_index, spec_.share_count,
                                    index_, workers_, pacer.m);
  std::optional<double> t = spec_.scenarios[s].schedule->TimeOf(j);
  pacer.next_ns =
      t ? start_ns_ + static_cast<int64_t>(std::llround(*t * 1e9)) : INT64_MAX;
}

bool Worker::Finished() const {
  if (waiting_ > 0) return false;
  for (const Pacer& p : pacers_) {
    if (p.next_ns != INT64_MAX) return false;
  }
  for (const auto& t : transports_) {
    if (t->InFlight() > 0) return false;
  }
  return true;
}

void Worker::Run() {
  int64_t next_boundary = start_ns_ + interval_ns_;
  while (true) {
    int64_t now = EventLoop::MonoNowNs();
    const int64_t stop_at = stop_deadline_ns_.load(std::memory_order_relaxed);
    if (stop_at != 0) {
      // Stopping: no new sends; what waits in line is skipped; in-flight may
      // finish.
      for (Pacer& p : pacers_) p.next_ns = INT64_MAX;
      window_->sends_skipped += waiting_;
      waiting_ = 0;
      if (now >= stop_at) break;
    }
    while (now >= next_boundary) {
      CloseWindow(false);
      next_boundary += interval_ns_;
    }
    for (size_t s = 0; s < pacers_.size(); ++s) {
      while (pacers_[s].next_ns <= now) {
        Arrive(s, now);
        ++pacers_[s].m;
        Advance(s);
      }
    }
    int64_t deadline = next_boundary;
    for (auto& t : transports_) {
      int64_t due = t->DeadlineNs();
      if (due != 0 && due <= now) {
        t->OnDeadline();
        due = t->DeadlineNs();
      }
      if (due != 0) deadline = std::min(deadline, due);
    }
    if (Finished()) break;
    for (const Pacer& p : pacers_) deadline = std::min(deadline, p.next_ns);
    if (stop_at != 0) deadline = std::min(deadline, stop_at);
    loop_->SetDeadline(deadline);
    loop_->RunOnce();
  }
  CloseWindow(true);
}

void Worker::Arrive(size_t s, int64_t now_ns) {
  const PreparedRequest& request = spec_.scenarios[s].RequestFor(
      common::SliceArrival(spec_.share_index, spec_.share_count, index_,
                           workers_, pacers_[s].m));
  if (waiting_ == 0 && transports_[s]->HasCapacity()) {
    SendNow(request, pacers_[s].next_ns, now_ns);
    return;
  }
  if (waiting_ == wait_line_.size()) {
    ++window_->sends_skipped;
    return;
  }
  wait_line_[(wait_head_ + waiting_) % wait_line_.size()] = {pacers_[s].next_ns,
                                                             &request};
  ++waiting_;
}

void Worker::SendNow(const PreparedRequest& request, int64_t intended_ns,
                     int64_t now_ns) {
  window_->schedule_lag.Record((now_ns - intended_ns) / 1000);
  transports_[request.scenario]->Send(Sent{&request, intended_ns, now_ns});
}

void Worker::OnDone(const Sent& sent, const Outcome& outcome, int64_t done_ns) {
  RequestMetrics& m =
      window_->requests[sent.request->scenario][sent.request->request];
  m.transport_errors[static_cast<size_t>(outcome.error)] += 1;
  if (!common::IsLocalError(outcome.error)) {
    // Local failures are the generator's, not the target's: counted above,
    // nowhere else.
    ++m.requests;
    m.latency.Record((done_ns - sent.intended_ns) / 1000);
    m.service_time.Record((done_ns - sent.sent_ns) / 1000);
    if (outcome.status > 0 &&
        outcome.status < static_cast<int>(m.statuses.size())) {
      ++m.statuses[outcome.status];
    }
    if (outcome.error != common::ErrorId::kNone || outcome.status >= 400)
      ++m.errors;
    m.bytes_in += outcome.bytes_in;
    m.bytes_out += outcome.bytes_out;
  }
  // A connection came free: the head of the line goes first (its wait counts).
  // The line holds all scenarios; only a head whose scenario has room can go.
  while (waiting_ > 0) {
    Waiting& head = wait_line_[wait_head_];
    Transport& t = *transports_[head.request->scenario];
    if (!t.HasCapacity()) break;
    Waiting w = head;
    wait_head_ = (wait_head_ + 1) % wait_line_.size();
    --waiting_;
    SendNow(*w.request, w.intended_ns, done_ns);
  }
}

void Worker::CloseWindow(bool last) {
  window_->index = window_index_++;
  window_->queued = static_cast<int64_t>(waiting_);
  for (const auto& t : transports_)
    window_->in_flight += static_cast<int64_t>(t->InFlight());
  sink_->Deliver(index_, std::move(window_), last);
  if (last) return;
  window_ = std::make_unique<Window>();
  window_->Shape(spec_.RequestsPerScenario());
}

}  // namespace stampede::agent
